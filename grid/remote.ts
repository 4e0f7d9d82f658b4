// Deploys over libp2p: the /promisegrid/deploy/0 protocol (docs/protocol/deploy.md).
// The receiver judges a signed deploy by its own rules, runs it, streams the
// output (bounded) and ends with its signed assessment; the sender bounds
// every wait, so a receiver that dies or goes silent is "peer gone", never a hang.
import type { Libp2p } from "libp2p";
import { lpStream } from "@libp2p/utils";
import type { PeerId, Stream } from "@libp2p/interface";
import { equals } from "multiformats/bytes";
import { DEPLOY_PROTOCOL_CID, decodeEnvelope, encodeEnvelope } from "./envelope.ts";
import { asSigned, verifyRecord, type AssessmentPayload, type DeployPayload, type Signed } from "./records.ts";
import type { PlacementReport } from "./placement.ts";
import { DeployError, type Deployment, type DeploymentInfo, type LogEntry } from "./deployments.ts";

export const DEPLOY_PROTOCOL = "/promisegrid/deploy/0";
/** Largest message either side accepts. */
const MAX_MESSAGE = 1024 * 1024;
/** Largest text of one "out" message. */
const OUT_PIECE = 64 * 1024;
/** Output the sender forwards at most (the receiver sends 1 MiB and a notice). */
const MAX_OUTPUT = 1024 * 1024 + OUT_PIECE;
const REQUEST_TIMEOUT_MS = 10_000;
const WRITE_TIMEOUT_MS = 30_000;
const ALIVE_MS = 2_000;
/** Silence after which the sender takes the receiver for gone. */
export const SILENCE_MS = 10_000;
const START_TIMEOUT_MS = 120_000;
const RUN_TIMEOUT_MS = 60 * 60 * 1000;
const MAX_PER_PEER = 4;
const MAX_RUNNING = 32;
const MAX_TEXT = 2_000;

/** What the protocol needs from the node it runs on. */
export interface RemoteHost {
  /** Judges and starts a deploy exactly as the node's own API does (throws DeployError when refused). */
  deploy(request: Signed<DeployPayload>): Promise<DeploymentInfo>;
  deployment(id: string): Deployment | undefined;
  /** The signed assessment record of CID `cid`. */
  assessment(cid: string): Signed<AssessmentPayload> | undefined;
}

export interface RemoteEvents {
  /** `placement`: for a deploy the sending node placed (`--to any`), where and why. */
  onStarted?(id: string, peer: string, placement?: PlacementReport): void;
  onOutput?(e: LogEntry): void;
}

/** How a remote deploy ended after it started: the receiver's verified assessment, or the peer gone. */
export type RemoteEnd =
  | { kind: "assessed"; assessment: Signed<AssessmentPayload> }
  | { kind: "gone"; message: string };

export interface RemoteOutcome {
  peer: string;
  id: string;
  end: RemoteEnd;
  placement?: PlacementReport;
}

const text = (v: unknown, max = MAX_TEXT): string => String(v).slice(0, max);

export class DeployProtocol {
  private readonly running = new Map<string, number>();
  private total = 0;

  constructor(private readonly libp2p: Libp2p, private readonly host: RemoteHost) {}

  // ---- receiver ----

  async serve(stream: Stream, peer: PeerId): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE });
    // A sender that stops reading holds its slot no longer than WRITE_TIMEOUT_MS per message.
    const send = (msg: unknown[]) => lp.write(encodeEnvelope(msg, DEPLOY_PROTOCOL_CID), { signal: AbortSignal.timeout(WRITE_TIMEOUT_MS) });
    const msg = decodeEnvelope((await lp.read({ signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).subarray(), DEPLOY_PROTOCOL_CID);
    const request = msg[0] === "deploy" && msg.length === 2 ? (asSigned(msg[1], "promisegrid/deploy") as Signed<DeployPayload> | undefined) : undefined;
    if (!request) {
      await send(["refused", "malformed", "expected [\"deploy\", a signed promisegrid/deploy record]"]);
      return void (await stream.close());
    }
    const id = peer.toString();
    const mine = this.running.get(id) ?? 0;
    if (mine >= MAX_PER_PEER || this.total >= MAX_RUNNING) {
      await send(["refused", "busy", `this node runs ${mine >= MAX_PER_PEER ? `${MAX_PER_PEER} deploys of yours` : `${MAX_RUNNING} remote deploys`} already; try again later`]);
      return void (await stream.close());
    }
    this.running.set(id, mine + 1);
    this.total++;
    try {
      await this.run(request, send);
      await stream.close();
    } finally {
      this.total--;
      const left = (this.running.get(id) ?? 1) - 1;
      if (left) this.running.set(id, left);
      else this.running.delete(id);
    }
  }

  private async run(request: Signed<DeployPayload>, send: (msg: unknown[]) => Promise<void>): Promise<void> {
    let info: DeploymentInfo;
    try {
      info = await this.host.deploy(request);
    } catch (e) {
      if (e instanceof DeployError) return send(["refused", e.code, e.message]);
      return send(["refused", "internal", `this node failed to start the deploy: ${e instanceof Error ? e.message : e}`]);
    }
    const d = this.host.deployment(info.id)!;
    await send(["started", info.id]);
    // The node keeps the first 1 MiB of output (and a notice past it) in d.logs: send from there,
    // as fast as the sender reads; the run never waits for this stream.
    let sent = 0;
    let finished = false;
    let wake = () => {};
    const listener = () => wake();
    d.listeners.add(listener);
    void d.done.then(() => {
      finished = true;
      wake();
    });
    try {
      for (;;) {
        const ended = finished;
        while (sent < d.logs.length) {
          const e = d.logs[sent++];
          for (let i = 0; i < e.data.length || i === 0; i += OUT_PIECE) await send(["out", e.stream, e.data.slice(i, i + OUT_PIECE)]);
        }
        if (ended) break;
        const before = sent;
        await new Promise<void>((r) => {
          const t = setTimeout(r, ALIVE_MS);
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
        if (!finished && sent === before && d.logs.length === before) await send(["alive"]);
      }
    } finally {
      d.listeners.delete(listener);
    }
    const record = info.assessment ? this.host.assessment(info.assessment.cid) : undefined;
    if (!record) return send(["refused", "internal", `deployment ${info.id} ended without an assessment`]);
    await send(["end", record]);
  }

  // ---- sender ----

  /**
   * Sends a signed deploy to `peer` and follows it to its end. Throws DeployError when the
   * peer refuses it or cannot be reached before it starts; once started, a dead or silent
   * peer ends it as "gone".
   */
  async send(peer: PeerId, request: Signed<DeployPayload>, ev: RemoteEvents = {}): Promise<RemoteOutcome> {
    const who = peer.toString();
    let stream: Stream;
    try {
      stream = await this.libp2p.dialProtocol(peer, DEPLOY_PROTOCOL, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (e) {
      throw new DeployError(502, "unreachable", `cannot open a deploy stream to peer ${who}: ${e instanceof Error ? e.message : e}`);
    }
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE });
    const deadline = Date.now() + RUN_TIMEOUT_MS;
    let id: string | undefined;
    const gone = (why: string): never => {
      throw new DeployError(502, "peer-gone", `peer ${who} gone ${id ? `during deployment ${id}` : "before the deploy started"}: ${why}`);
    };
    const read = async (ms: number): Promise<unknown[]> => {
      let bytes;
      try {
        bytes = await lp.read({ signal: AbortSignal.timeout(Math.max(1, Math.min(ms, deadline - Date.now()))) });
      } catch (e) {
        const timedOut = e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError");
        return gone(timedOut ? `no word from it for ${Math.round(ms / 1000)} s` : `the stream broke (${e instanceof Error ? e.message : e})`);
      }
      try {
        return decodeEnvelope(bytes.subarray(), DEPLOY_PROTOCOL_CID);
      } catch (e) {
        return gone(`it sent a malformed message (${e instanceof Error ? e.message : e})`);
      }
    };
    try {
      try {
        await lp.write(encodeEnvelope(["deploy", request], DEPLOY_PROTOCOL_CID), { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      } catch (e) {
        gone(`cannot send the request (${e instanceof Error ? e.message : e})`);
      }
      const first = await read(START_TIMEOUT_MS);
      if (first[0] === "refused" && first.length === 3) {
        const code = typeof first[1] === "string" && /^[a-z][a-z-]{0,39}$/.test(first[1]) ? first[1] : "refused";
        throw new DeployError(403, code, `peer ${who}: ${text(first[2])}`);
      }
      if (first[0] !== "started" || first.length !== 2 || typeof first[1] !== "string" || !/^[0-9a-zA-Z_-]{1,64}$/.test(first[1])) gone("it answered neither started nor refused");
      id = first[1] as string;
      ev.onStarted?.(id, who);
      let forwarded = 0;
      for (;;) {
        const m = await read(SILENCE_MS);
        if (m[0] === "alive" && m.length === 1) continue;
        if (m[0] === "out" && m.length === 3 && (m[1] === "stdout" || m[1] === "stderr") && typeof m[2] === "string" && m[2].length <= OUT_PIECE) {
          // More than the protocol allows is not passed on.
          if (forwarded + m[2].length <= MAX_OUTPUT) ev.onOutput?.({ stream: m[1], data: m[2] });
          forwarded += m[2].length;
          continue;
        }
        if (m[0] === "end" && m.length === 2) {
          const a = asSigned(m[1], "promisegrid/assessment") as Signed<AssessmentPayload> | undefined;
          const key = peer.publicKey?.raw;
          if (!a || !key || !(a.payload.node instanceof Uint8Array) || !equals(a.payload.node, key) || a.payload.deployment !== id || !(await verifyRecord(a))) {
            gone("its assessment is not signed by its own key for this deployment");
          }
          return { peer: who, id, end: { kind: "assessed", assessment: a! } };
        }
        if (m[0] === "refused" && m.length === 3) gone(`it gave up: ${text(m[2])}`);
        gone(`it sent an unexpected ${text(m[0], 40)} message`);
      }
    } catch (e) {
      stream.abort(new Error("deploy ended"));
      if (e instanceof DeployError && e.code === "peer-gone" && id) return { peer: who, id, end: { kind: "gone", message: e.message } };
      throw e;
    } finally {
      await stream.close().catch(() => {});
    }
  }
}
