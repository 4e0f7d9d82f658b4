// The grid node: identity, block store, libp2p host (TCP, noise, yamux,
// identify, ping, gossipsub), block exchange, shared state, deployments.
import "./polyfill.ts";
import { createLibp2p, type Libp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify } from "@libp2p/identify";
import { ping } from "@libp2p/ping";
import { gossipsub, TopicValidatorResult, type GossipSub, type Message } from "@libp2p/gossipsub";
import { lpStream } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import type { PeerId, Stream } from "@libp2p/interface";
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import * as raw from "multiformats/codecs/raw";
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { BlockStore } from "./store.ts";
import { secureDataDir } from "./datadir.ts";
import { BlockAccess } from "./access.ts";
import { loadOrCreateKey, keyId, type PrivateKey } from "./keys.ts";
import { GridState, ReplayGuard, TokenBook } from "./state.ts";
import { decodeEnvelope, encodeEnvelope } from "./envelope.ts";
import { asSigned, recordCid, signRecord, verifyRecord, type AssessmentPayload, type DeployPayload, type Signed } from "./records.ts";
import { issueToken, Refusal, verifyDeploy, type IssueOptions, type Token } from "./capabilities.ts";
import { DriverRegistry } from "./sandboxes/index.ts";
import type { Job, JobFile, RunResult, SandboxKind } from "./sandboxes/driver.ts";

export const BLOCKS_PROTOCOL = "/promisegrid/blocks/0";
export const STATE_PROTOCOL = "/promisegrid/state/0";
export const REVOCATIONS_TOPIC = "/promisegrid/revocations/0";
export const ASSESSMENTS_TOPIC = "/promisegrid/assessments/0";
/** Largest message on the block and state protocols (a 1 MiB chunk plus framing fits easily). */
const MAX_MESSAGE = 8 * 1024 * 1024;
/** How far a deploy request's signing time may be from the node's clock; each request is used once. */
const REPLAY_WINDOW_MS = 5 * 60 * 1000;
/** Records per state-sync message (each at most MAX_RECORD_BYTES, so a page stays far below MAX_MESSAGE). */
const STATE_PAGE = 64;
/** CIDs per block request (chunks are 1 MiB, so about this many MiB in flight). */
const WANT_BATCH = 64;
/** Deployment records kept in memory for the API. */
const MAX_DEPLOYMENTS = 1000;
/** Keep at most this much of a deployment's output in memory for the logs API. */
const MAX_LOG_BYTES = 1024 * 1024;

export interface NodeOptions {
  dataDir: string;
  /** libp2p listen addresses; default one TCP port on 127.0.0.1. */
  listen?: string[];
  /** Peers to dial at start. */
  peers?: string[];
  drivers?: DriverRegistry;
}

export interface LogEntry {
  stream: "stdout" | "stderr";
  data: string;
}

/** exited: ran to its end (any exit code); failed: killed at a limit or errored; stopped: on request. */
export type DeploymentState = "running" | "exited" | "failed" | "stopped";

export interface DeploymentInfo {
  id: string;
  manifest: string;
  workload: string;
  workloadCid: string | null;
  sandbox: SandboxKind | null;
  holder: string;
  state: DeploymentState;
  createdAt: number;
  result: RunResult | null;
  assessment: { cid: string; kept: boolean; message: string; output: string | null } | null;
}

interface Deployment {
  info: DeploymentInfo;
  logs: LogEntry[];
  logBytes: number;
  listeners: Set<(e: LogEntry | null) => void>;
  abort: AbortController;
  done: Promise<void>;
}

/** A deploy refused before it ran; `status` is the HTTP status the API answers with. */
export class DeployError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

type Services = { pubsub: GossipSub; identify: unknown; ping: unknown };

function isRecord(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === "object" && !Array.isArray(v);
}

export class GridNode {
  readonly deployments = new Map<string, Deployment>();
  private stopped = false;
  /** Chains this node can prove, to revoke any hop under its key. */
  tokens!: TokenBook;
  /** Deploy requests already used (survives restarts). */
  private replays!: ReplayGuard;
  /** Who may fetch which block. */
  private access!: BlockAccess;

  private constructor(
    readonly dataDir: string,
    readonly key: PrivateKey,
    readonly store: BlockStore,
    readonly state: GridState,
    readonly libp2p: Libp2p<Services>,
    readonly drivers: DriverRegistry,
  ) {}

  static async start(o: NodeOptions): Promise<GridNode> {
    await mkdir(o.dataDir, { recursive: true, mode: 0o700 });
    const key = await loadOrCreateKey(join(o.dataDir, "key"));
    const store = new BlockStore(join(o.dataDir, "blocks"));
    await store.open();
    for (const f of await secureDataDir(o.dataDir)) process.stderr.write(`promisegrid node: fixed ${f} (only the owner may read the data dir)\n`);
    const state = new GridState(key.publicKey.raw);
    await loadState(o.dataDir, store, state);
    const tokens = new TokenBook(store, join(o.dataDir, "token-index"));
    await tokens.load();
    const replays = new ReplayGuard(join(o.dataDir, "seen-requests"), REPLAY_WINDOW_MS);
    await replays.load(Date.now());
    const access = new BlockAccess(store, join(o.dataDir, "manifest-holders"));
    await access.load();
    const libp2p = await createLibp2p({
      privateKey: key,
      addresses: { listen: o.listen ?? ["/ip4/127.0.0.1/tcp/0"] },
      // Many peers on one host (loopback grids, tests) dial in from the same IP at once:
      // libp2p's default of 5 inbound connections per second per host would reset them.
      connectionManager: { inboundConnectionThreshold: 100, maxIncomingPendingConnections: 50 },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux({ streamOptions: { initialStreamWindowSize: 4 * 1024 * 1024, maxStreamWindowSize: 32 * 1024 * 1024 } })],
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, floodPublish: true, emitSelf: false, D: 8, Dlo: 6, Dhi: 16, heartbeatInterval: 500 }),
      },
    });
    const node = new GridNode(o.dataDir, key, store, state, libp2p as unknown as Libp2p<Services>, o.drivers ?? new DriverRegistry());
    node.tokens = tokens;
    node.replays = replays;
    node.access = access;
    await node.wire();
    for (const p of o.peers ?? []) {
      try {
        await node.dial(p);
      } catch (e) {
        await node.stop();
        throw new Error(`cannot reach peer ${p}: ${e instanceof Error ? e.message : e}`);
      }
    }
    const wasm = node.drivers.get("wasm") as { warm?: () => void } | undefined;
    wasm?.warm?.();
    return node;
  }

  get publicKey(): Uint8Array {
    return this.key.publicKey.raw;
  }

  get peerId(): string {
    return this.libp2p.peerId.toString();
  }

  addrs(): string[] {
    return this.libp2p.getMultiaddrs().map((a) => a.toString());
  }

  async dial(addr: string): Promise<string> {
    let ma;
    try {
      ma = multiaddr(addr);
    } catch (e) {
      throw new Error(`bad peer address '${addr}': ${e instanceof Error ? e.message : e}`);
    }
    const conn = await this.libp2p.dial(ma, { signal: AbortSignal.timeout(10_000) });
    return conn.remotePeer.toString();
  }

  peers(): { peerId: string; addrs: string[] }[] {
    return this.libp2p.getConnections().reduce<{ peerId: string; addrs: string[] }[]>((out, c) => {
      const id = c.remotePeer.toString();
      const existing = out.find((p) => p.peerId === id);
      if (existing) existing.addrs.push(c.remoteAddr.toString());
      else out.push({ peerId: id, addrs: [c.remoteAddr.toString()] });
      return out;
    }, []);
  }

  private async wire(): Promise<void> {
    await this.libp2p.handle(BLOCKS_PROTOCOL, (stream, conn) => this.serveBlocks(stream, conn.remotePeer.publicKey?.raw).catch(() => stream.abort(new Error("bad request"))));
    await this.libp2p.handle(STATE_PROTOCOL, (stream) => this.serveState(stream).catch(() => stream.abort(new Error("bad request"))));
    const pubsub = this.libp2p.services.pubsub;
    // Only well-formed, correctly signed records are accepted and forwarded by gossipsub.
    const validate = async (_peer: PeerId, msg: Message) => {
      try {
        const payload = decodeEnvelope(msg.data);
        const rec = payload[0] === "record" ? asSigned(payload[1], "promisegrid/revocation") ?? asSigned(payload[1], "promisegrid/assessment") : undefined;
        return rec && (await verifyRecord(rec)) ? TopicValidatorResult.Accept : TopicValidatorResult.Reject;
      } catch {
        return TopicValidatorResult.Reject;
      }
    };
    for (const topic of [REVOCATIONS_TOPIC, ASSESSMENTS_TOPIC]) {
      pubsub.topicValidators.set(topic, validate);
      pubsub.subscribe(topic);
    }
    pubsub.addEventListener("message", (evt) => {
      const { topic, data } = evt.detail;
      if (topic !== REVOCATIONS_TOPIC && topic !== ASSESSMENTS_TOPIC) return;
      void this.receiveRecord(data).catch(() => {});
    });
    // A peer that joins late catches up on the whole state (anti-entropy).
    this.libp2p.addEventListener("peer:connect", (evt) => {
      void this.syncState(evt.detail).catch((e) => { if (process.env.PROMISEGRID_DEBUG) console.error("state sync failed:", e); });
    });
  }

  private async receiveRecord(bytes: Uint8Array): Promise<void> {
    const payload = decodeEnvelope(bytes);
    if (payload[0] !== "record") throw new Error("expected a record message");
    await this.addRecord(payload[1]);
  }

  /** Adds a verified record to the state and persists it; returns its CID when new. */
  async addRecord(value: unknown): Promise<CID | undefined> {
    const cid = await this.state.add(value);
    if (cid) await this.persist(cid, dagCbor.encode(value), true);
    return cid;
  }

  // Writes go through one queue, in order; callers that need not wait (assessments) do not.
  private writes: Promise<void> = Promise.resolve();

  private persist(cid: CID, bytes: Uint8Array, indexed: boolean): Promise<void> {
    const write = this.writes.then(async () => {
      await this.store.put(cid, bytes);
      if (indexed) await appendFile(join(this.dataDir, "state-index"), cid.toString() + "\n");
    });
    this.writes = write.catch(() => {});
    return write;
  }

  private async publishRecord(topic: string, record: Signed): Promise<void> {
    try {
      await this.libp2p.services.pubsub.publish(topic, encodeEnvelope(["record", record]));
    } catch {
      // no peers: the state sync on the next connection carries it
    }
  }

  // ---- state sync ----

  private async serveState(stream: Stream): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE });
    const req = decodeEnvelope((await lp.read()).subarray());
    if (req[0] !== "state?") throw new Error("expected state?");
    // Page by page, each when the requester asks for the next: any size fits, at the reader's pace; "end" says nothing was cut off.
    const records = this.state.records();
    for (let i = 0; i < records.length; i += STATE_PAGE) {
      await lp.write(encodeEnvelope(["state", records.slice(i, i + STATE_PAGE)]));
      const next = decodeEnvelope((await lp.read({ signal: AbortSignal.timeout(30_000) })).subarray());
      if (next[0] !== "next") throw new Error("expected next");
    }
    await lp.write(encodeEnvelope(["end"]));
    await stream.close();
  }

  private async syncState(peer: PeerId): Promise<void> {
    const stream = await this.libp2p.dialProtocol(peer, STATE_PROTOCOL, { signal: AbortSignal.timeout(10_000) });
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE });
    await lp.write(encodeEnvelope(["state?"]));
    try {
      for (;;) {
        const res = decodeEnvelope((await lp.read({ signal: AbortSignal.timeout(30_000) })).subarray());
        if (res[0] === "end") break;
        if (res[0] !== "state" || !Array.isArray(res[1]) || res[1].length > STATE_PAGE) throw new Error("bad state reply");
        for (const r of res[1]) await this.addRecord(r).catch(() => {});
        await lp.write(encodeEnvelope(["next"]));
      }
    } finally {
      await stream.close().catch(() => stream.abort(new Error("closing")));
    }
  }

  // ---- block exchange ----

  private async serveBlocks(stream: Stream, peerKey: Uint8Array | undefined): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE });
    const req = decodeEnvelope((await lp.read()).subarray());
    if (req[0] !== "want" || !Array.isArray(req[1]) || req[1].length > 100_000) throw new Error("expected want [CID...] DEPLOY");
    const cids = req[1].map((c) => CID.asCID(c));
    if (cids.some((c) => !c)) throw new Error("want list holds a non-CID");
    // Only blocks of the manifest the peer's deploy request names; the rest look missing.
    const allowed = await this.access.allowed(peerKey, req[2], cids as CID[]);
    // Read (and re-verify) a few blocks ahead while earlier ones are being sent.
    const ahead: Promise<Uint8Array | undefined>[] = [];
    let next = 0;
    for (const cid of cids as CID[]) {
      while (ahead.length < 4 && next < cids.length) {
        const c = cids[next++]!;
        ahead.push(allowed.has(c.toString()) ? this.store.get(c).catch(() => undefined) : Promise.resolve(undefined));
      }
      const bytes = await ahead.shift()!;
      await lp.write(encodeEnvelope(bytes ? ["block", cid, bytes] : ["missing", cid]));
    }
    await stream.close();
  }

  /** Asks one peer for `cids`; stores (after verifying) the blocks it sends and returns how many. */
  private async fetchFrom(peer: PeerId, cids: CID[], request: Signed<DeployPayload> | undefined): Promise<number> {
    const stream = await this.libp2p.dialProtocol(peer, BLOCKS_PROTOCOL, { signal: AbortSignal.timeout(10_000) });
    // The peer sends the whole batch at once; leave room while blocks are written to disk.
    stream.maxReadBufferLength = (WANT_BATCH + 2) * MAX_MESSAGE;
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE, maxBufferSize: (WANT_BATCH + 2) * MAX_MESSAGE });
    await lp.write(encodeEnvelope(["want", cids, request ?? null]));
    const wanted = new Set(cids.map(String));
    let got = 0;
    // Several blocks are verified and written at once, so fsyncs overlap with the network.
    const writing = new Set<Promise<void>>();
    let failed: unknown;
    try {
      for (let i = 0; i < cids.length; i++) {
        const msg = decodeEnvelope((await lp.read({ signal: AbortSignal.timeout(30_000) })).subarray());
        const cid = CID.asCID(msg[1]);
        if (!cid || !wanted.has(cid.toString())) throw new Error("peer sent a block that was not asked for");
        if (msg[0] === "block" && msg[2] instanceof Uint8Array) {
          // put() verifies the bytes against the CID before storing them.
          const w: Promise<void> = this.store.put(cid, msg[2]).then(() => void got++, (e) => void (failed ??= e)).finally(() => writing.delete(w));
          writing.add(w);
          if (writing.size >= 8) await Promise.race(writing);
          if (failed) throw failed;
        } else if (msg[0] !== "missing") throw new Error("bad block reply");
      }
    } finally {
      await Promise.all(writing);
      await stream.close().catch(() => stream.abort(new Error("closing")));
    }
    if (failed) throw failed;
    return got;
  }

  /** Makes sure every CID is in the store, fetching missing blocks from connected peers. */
  async ensureBlocks(cids: CID[], request?: Signed<DeployPayload>): Promise<void> {
    let missing: CID[] = [];
    for (const c of cids) if (!(await this.store.has(c))) missing.push(c);
    if (missing.length === 0) return;
    const peers = [...new Set(this.libp2p.getConnections().map((c) => c.remotePeer.toString()))];
    for (const id of peers) {
      const peer = this.libp2p.getConnections().find((c) => c.remotePeer.toString() === id)!.remotePeer;
      try {
        for (let i = 0; i < missing.length; i += WANT_BATCH) await this.fetchFrom(peer, missing.slice(i, i + WANT_BATCH), request);
      } catch (e) {
        if (process.env.PROMISEGRID_DEBUG) console.error(`fetch from ${id} failed:`, e);
      }
      const still: CID[] = [];
      for (const c of missing) if (!(await this.store.has(c))) still.push(c);
      missing = still;
      if (missing.length === 0) return;
    }
    throw new Error(`block ${missing[0]} is not on this node or on any of its ${peers.length} peer(s)${missing.length > 1 ? ` (${missing.length} blocks missing)` : ""}`);
  }

  async getBlock(cid: CID, request: Signed<DeployPayload>): Promise<Uint8Array> {
    await this.ensureBlocks([cid], request);
    const bytes = await this.store.get(cid);
    if (!bytes) throw new Error(`block ${cid} vanished from the store`);
    return bytes;
  }

  // ---- capabilities ----

  async issue(o: IssueOptions): Promise<Token> {
    const token = await issueToken(this.key, o);
    await this.tokens.remember([token]);
    return token;
  }

  /** Revokes a token (by its CID; `proof`: its chain, root first, when this node has not seen it) with this node's key and gossips the revocation. */
  async revoke(token: CID, proof?: Token[]): Promise<CID> {
    // The revocation carries the chain down to the token: proof that this key is above it.
    if (proof) await this.tokens.remember(proof);
    const chain = await this.tokens.chainTo(token);
    if (!chain) throw new DeployError(404, "unknown-token", `this node neither issued capability ${token} nor accepted a deploy with it, so it cannot revoke it`);
    const record = await signRecord(this.key, { type: "promisegrid/revocation", v: 0, token, by: this.publicKey, chain, at: Date.now() });
    const cid = (await recordCid(record));
    await this.addRecord(record);
    await this.publishRecord(REVOCATIONS_TOPIC, record);
    return cid;
  }

  // ---- deployments ----

  /**
   * Checks a signed deploy request, stores the blocks sent with it (only once
   * the request is accepted, so a refused deploy changes nothing), fetches what
   * is still missing from peers, and starts the run.
   */
  async deploy(request: Signed<DeployPayload>, blocks: { cid: CID; bytes: Uint8Array }[] = []): Promise<DeploymentInfo> {
    const now = Date.now();
    try {
      await verifyDeploy(request, {
        nodeKey: this.publicKey,
        now,
        isRevoked: (cid, issuers) => this.state.isRevoked(cid, issuers),
      });
    } catch (e) {
      if (e instanceof Refusal) throw new DeployError(403, e.code, `deploy refused: ${e.message}`);
      throw e;
    }
    const p = request.payload;
    // A signed request is good once, within REPLAY_WINDOW_MS of when it was signed.
    if (typeof p.at !== "number" || Math.abs(now - p.at) > REPLAY_WINDOW_MS) {
      throw new DeployError(403, "stale", `deploy refused: the request was signed at ${new Date(Number(p.at)).toISOString()}, more than ${REPLAY_WINDOW_MS / 1000} s from this node's clock`);
    }
    if (!(await this.replays.use(request.sig, p.at, now))) throw new DeployError(403, "replayed", "deploy refused: this signed request was already used; sign a new one");
    await this.tokens.remember(p.chain);
    for (const b of blocks) await this.store.put(b.cid, b.bytes);
    const manifestCid = CID.asCID(p.manifest);
    if (!manifestCid) throw new DeployError(400, "malformed", "the deploy request's manifest is not a CID");
    await this.access.deployed(manifestCid, p.holder);
    const job = { ...(await this.cachedJob(manifestCid, p.workload, request)), id: randomBytes(6).toString("hex") };
    const availability = await this.drivers.check(job.sandbox);
    if (!availability.ok) throw new DeployError(503, "driver-unavailable", `the ${job.sandbox} sandbox is not available on this node: ${availability.reason}`);
    const driver = this.drivers.get(job.sandbox)!;
    const info: DeploymentInfo = {
      id: job.id,
      manifest: manifestCid.toString(),
      workload: p.workload,
      workloadCid: job.workloadCid,
      sandbox: job.sandbox,
      holder: keyId(p.holder),
      state: "running",
      createdAt: Date.now(),
      result: null,
      assessment: null,
    };
    const d: Deployment = { info, logs: [], logBytes: 0, listeners: new Set(), abort: new AbortController(), done: Promise.resolve() };
    this.deployments.set(info.id, d);
    // Forget the oldest finished deployments beyond MAX_DEPLOYMENTS (their assessments stay in the state).
    if (this.deployments.size > MAX_DEPLOYMENTS) {
      for (const [id, old] of this.deployments) {
        if (this.deployments.size <= MAX_DEPLOYMENTS) break;
        if (old.info.result) this.deployments.delete(id);
      }
    }
    const dec = { stdout: new TextDecoder(), stderr: new TextDecoder() };
    const output: Uint8Array[] = [];
    const push = (stream: "stdout" | "stderr", chunk: Uint8Array) => {
      if (d.logBytes < MAX_LOG_BYTES) output.push(chunk);
      const entry = { stream, data: dec[stream].decode(chunk, { stream: true }) };
      d.logBytes += chunk.length;
      if (d.logBytes <= MAX_LOG_BYTES) d.logs.push(entry);
      for (const l of d.listeners) l(entry);
    };
    d.done = (async () => {
      const started = performance.now();
      // Drivers do not throw for workload faults; a driver bug still ends the deployment.
      const result = await driver.run(job, { stdout: (c) => push("stdout", c), stderr: (c) => push("stderr", c) }, d.abort.signal).catch(
        (e): RunResult => ({ exitCode: null, reason: "error", message: `the ${job.sandbox} driver failed: ${e instanceof Error ? e.message : e}`, durationMs: performance.now() - started }),
      );
      info.assessment = await this.assess(info, manifestCid, output, result).catch(() => null);
      info.result = result;
      info.state = result.reason === "exit" ? "exited" : result.reason === "stopped" ? "stopped" : "failed";
      for (const l of d.listeners) l(null);
      d.listeners.clear();
    })();
    return info;
  }

  private async assess(info: DeploymentInfo, manifest: CID, output: Uint8Array[], result: RunResult): Promise<DeploymentInfo["assessment"]> {
    const bytes = Buffer.concat(output);
    let outputCid: CID | null = null;
    if (bytes.length) {
      outputCid = CID.createV1(raw.code, await sha256.digest(bytes));
      void this.persist(outputCid, bytes, false).catch(() => {});
    }
    const kept = result.reason === "exit" && result.exitCode === 0;
    const payload: AssessmentPayload = {
      type: "promisegrid/assessment",
      v: 0,
      node: this.publicKey,
      deployment: info.id,
      manifest,
      workload: info.workload,
      kept,
      exitCode: result.exitCode,
      reason: result.reason,
      message: result.message,
      // The output's CID stays on this node (its deployer reads it through the API): gossip goes to everyone.
      output: null,
      at: Date.now(),
    };
    const record = await signRecord(this.key, payload);
    const cid = await this.state.add(record);
    if (!cid) throw new Error("assessment already recorded");
    // Persisted in the background: the deployment's end need not wait for the disk.
    void this.persist(cid, dagCbor.encode(record), true).catch(() => {});
    void this.publishRecord(ASSESSMENTS_TOPIC, record);
    const verdict = kept ? `kept: ${info.workload} ${result.message}` : `broken: ${info.workload} ${result.message}`;
    return { cid: cid.toString(), kept, message: verdict, output: outputCid?.toString() ?? null };
  }

  // Manifests are immutable (content-addressed), so a resolved job (its files assembled
  // and verified) can be reused. Least recently used jobs go first past the byte budget.
  private readonly jobs = new Map<string, { job: Promise<Job>; bytes: number }>();
  private static readonly JOB_CACHE_BYTES = 256 * 1024 * 1024;

  private cachedJob(manifestCid: CID, workload: string, request: Signed<DeployPayload>): Promise<Job> {
    const key = `${manifestCid}/${workload}`;
    const hit = this.jobs.get(key);
    if (hit) {
      this.jobs.delete(key);
      this.jobs.set(key, hit);
      return hit.job;
    }
    const entry = { job: this.resolveJob(manifestCid, workload, request), bytes: 0 };
    this.jobs.set(key, entry);
    entry.job.then((j) => {
      entry.bytes = Object.values(j.files).reduce((n, f) => n + f.bytes.length, 0);
      let total = [...this.jobs.values()].reduce((n, e) => n + e.bytes, 0);
      for (const [k, e] of this.jobs) {
        if (total <= GridNode.JOB_CACHE_BYTES || k === key) break;
        this.jobs.delete(k);
        total -= e.bytes;
      }
      if (entry.bytes > GridNode.JOB_CACHE_BYTES) this.jobs.delete(key);
    }, () => this.jobs.delete(key));
    return entry.job;
  }

  private async resolveJob(manifestCid: CID, workload: string, request: Signed<DeployPayload>): Promise<Job> {
    const fail = (m: string) => new DeployError(422, "bad-manifest", `manifest ${manifestCid}: ${m}`);
    let root: unknown;
    try {
      root = dagCbor.decode(await this.getBlock(manifestCid, request));
    } catch (e) {
      throw new DeployError(422, "missing-blocks", `cannot get the manifest: ${e instanceof Error ? e.message : e}`);
    }
    if (!isRecord(root) || root.type !== "promisegrid/manifest") throw fail("the root block is not a promisegrid/manifest");
    const wcid = isRecord(root.workloads) ? CID.asCID(root.workloads[workload]) : null;
    if (!wcid) throw fail(`it has no workload named '${workload}'`);
    let w: unknown;
    try {
      w = dagCbor.decode(await this.getBlock(wcid, request));
    } catch (e) {
      throw new DeployError(422, "missing-blocks", `cannot get workload '${workload}': ${e instanceof Error ? e.message : e}`);
    }
    if (!isRecord(w) || w.type !== "promisegrid/workload") throw fail(`workload '${workload}' is not a promisegrid/workload block`);
    const sandbox = w.sandbox;
    if (sandbox !== "wasm" && sandbox !== "container" && sandbox !== "vm") throw fail(`workload '${workload}' has an unknown sandbox`);
    const limits = w.limits as Record<string, unknown> | undefined;
    if (!isRecord(limits) || typeof limits.memoryBytes !== "number" || typeof limits.timeMs !== "number") throw fail(`workload '${workload}' has no memory and time limits`);
    const files: Record<string, JobFile> = {};
    for (const [role, f] of Object.entries(isRecord(w.files) ? w.files : {})) {
      if (!isRecord(f) || !Array.isArray(f.chunks) || typeof f.name !== "string") throw fail(`workload '${workload}' file '${role}' is malformed`);
      const chunks = f.chunks.map((c) => CID.asCID(c));
      if (chunks.some((c) => !c)) throw fail(`workload '${workload}' file '${role}' links to a non-CID`);
      try {
        await this.ensureBlocks(chunks as CID[], request);
      } catch (e) {
        throw new DeployError(422, "missing-blocks", `cannot get ${f.name}: ${e instanceof Error ? e.message : e}`);
      }
      const parts: Uint8Array[] = [];
      for (const c of chunks as CID[]) parts.push((await this.store.get(c))!);
      const bytes = new Uint8Array(Buffer.concat(parts));
      if (typeof f.size === "number" && f.size !== bytes.length) throw fail(`${f.name} is ${bytes.length} bytes, the manifest says ${f.size}`);
      files[role] = { name: f.name, cid: chunks.length === 1 ? String(chunks[0]) : `${wcid}/files/${role}`, bytes };
    }
    const strs = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
    const env: Record<string, string> = {};
    if (isRecord(w.env)) for (const [k, v] of Object.entries(w.env)) env[k] = String(v);
    return {
      id: randomBytes(6).toString("hex"),
      workloadCid: wcid.toString(),
      name: typeof w.name === "string" ? w.name : workload,
      sandbox,
      files,
      args: strs(w.args),
      env,
      command: Array.isArray(w.command) ? strs(w.command) : undefined,
      append: typeof w.append === "string" ? w.append : undefined,
      network: typeof w.network === "string" ? w.network : "none",
      limits: {
        memoryBytes: limits.memoryBytes,
        timeMs: limits.timeMs,
        pids: typeof limits.pids === "number" ? limits.pids : undefined,
        cpu: typeof limits.cpu === "number" ? limits.cpu : undefined,
      },
    };
  }

  deployment(id: string): Deployment | undefined {
    return this.deployments.get(id);
  }

  stopDeployment(id: string): boolean {
    const d = this.deployments.get(id);
    if (!d) return false;
    d.abort.abort();
    return true;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const d of this.deployments.values()) d.abort.abort();
    await Promise.all([...this.deployments.values()].map((d) => d.done.catch(() => {})));
    await this.writes;
    await this.libp2p.stop();
    await this.drivers.close();
  }
}

async function loadState(dataDir: string, store: BlockStore, state: GridState): Promise<void> {
  let text = "";
  try {
    text = await readFile(join(dataDir, "state-index"), "utf8");
  } catch {
    return;
  }
  for (const line of text.split("\n")) {
    let cid: CID;
    try {
      cid = CID.parse(line.trim());
    } catch {
      continue; // a line cut short by a crash
    }
    const bytes = await store.get(cid).catch(() => undefined);
    if (bytes) await state.add(dagCbor.decode(bytes)).catch(() => {});
  }
}
