// A small typed client for the node's control API, used by the CLI and the editor.
import type { DeploymentInfo, LogEntry } from "./deployments.ts";
import type { Availability } from "./sandboxes/driver.ts";
import type { HeldToken } from "./held.ts";
import type { PlacementReport } from "./placement.ts";

export type { HeldToken };

export interface NodeStatus {
  peerId: string;
  publicKey: string;
  /** The node's key as a did:key. */
  key: string;
  /** The policy agent the node is (`node start --as`), or null. */
  agent: string | null;
  addrs: string[];
  api: string;
  pid: number;
  drivers: Record<string, Availability>;
  peers: number;
  deployments: number;
  state: { revocations: number; assessments: number };
}

export interface Peer {
  peerId: string;
  addrs: string[];
}

export interface PeersReport {
  peers: Peer[];
  dht: { routingTable: number; provided: number; providing: number };
  /** Per gossip topic: peers known to subscribe, and this node's mesh. */
  gossip: Record<string, { subscribers: number; mesh: number }>;
  banned: { peerId: string; until: number }[];
}

export type LearntJson = import("./state.ts").Learnt & { at: number };
export type OfferInfo = ReturnType<typeof import("./offers.ts").offerJson>;

export interface GrantBody {
  type: string;
  args: unknown[];
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export type { DeploymentInfo, LogEntry };

/** `deploy --to any`: the local node chooses the peer (grid/placement.ts). */
export const ANY_PEER = "any";

export interface RemoteStarted {
  id: string;
  peer: string;
  /** For `--to any`: where the node placed it and why (grid/placement.ts). */
  placement?: PlacementReport;
}

/** The last line of a remote deploy: the peer's signed assessment (base64 DAG-CBOR), or why the peer is gone. */
export interface RemoteEndLine {
  peer: string;
  id: string;
  assessment: string | null;
  gone: string | null;
}

async function readNdjson(res: Response, onLine: (msg: unknown) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buf = "";
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) onLine(JSON.parse(line));
      }
    }
  } catch (e) {
    throw new ApiError(0, "stream", `the node's answer broke off: ${e instanceof Error ? e.message : e}`);
  }
}

export class GridClient {
  constructor(readonly url: string, private readonly token: string) {}

  private async request(method: string, path: string, body?: Uint8Array | object, contentType?: string): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    let payload: BodyInit | undefined;
    if (body instanceof Uint8Array) {
      payload = body as unknown as BodyInit;
      headers["content-type"] = contentType ?? "application/vnd.ipld.car";
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers["content-type"] = "application/json";
    }
    let res: Response;
    try {
      res = await fetch(this.url + path, { method, headers, body: payload }).catch((e) => {
        // A kept-alive socket the node closed just as it was reused (a close, or a reset when the
        // node's kernel answers the late request with RST): the request never reached the node,
        // so it is sent once more (a deploy sent twice would be refused as a replay).
        const code = (e as { cause?: { code?: string } }).cause?.code;
        if (code !== "UND_ERR_SOCKET" && code !== "ECONNRESET") throw e;
        return fetch(this.url + path, { method, headers, body: payload });
      });
    } catch (e) {
      throw new ApiError(0, "unreachable", `cannot reach the node at ${this.url}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
    }
    if (!res.ok) {
      let err: { error?: string; code?: string } = {};
      try {
        err = (await res.json()) as typeof err;
      } catch {
        // not JSON
      }
      throw new ApiError(res.status, err.code ?? "http", err.error ?? `${method} ${path}: HTTP ${res.status}`);
    }
    return res;
  }

  private async json<T>(method: string, path: string, body?: Uint8Array | object): Promise<T> {
    return (await (await this.request(method, path, body)).json()) as T;
  }

  status(): Promise<NodeStatus> {
    return this.json("GET", "/v0/status");
  }

  async peers(): Promise<Peer[]> {
    return (await this.json<{ peers: Peer[] }>("GET", "/v0/peers")).peers;
  }

  peersReport(): Promise<PeersReport> {
    return this.json("GET", "/v0/peers");
  }

  async offers(): Promise<OfferInfo[]> {
    return (await this.json<{ offers: OfferInfo[] }>("GET", "/v0/offers")).offers;
  }

  /** A block fetched through the grid (by the node, verified there); `from`: the peer it came from, or "local". */
  async block(cid: string): Promise<{ bytes: Uint8Array; from: string; via: string }> {
    const res = await this.request("GET", `/v0/blocks/${encodeURIComponent(cid)}`);
    return { bytes: new Uint8Array(await res.arrayBuffer()), from: res.headers.get("x-promisegrid-from") ?? "local", via: res.headers.get("x-promisegrid-via") ?? "store" };
  }

  async dial(addr: string): Promise<string> {
    return (await this.json<{ peerId: string }>("POST", "/v0/peers", { addr })).peerId;
  }

  /** Issues a token from the node's key to `holder` (hex ed25519 public key); returns it as base64 DAG-CBOR. */
  async issue(o: { holder: string; grants: GrantBody[]; name?: string; depth?: number; expires?: number | null }): Promise<string> {
    return (await this.json<{ token: string }>("POST", "/v0/capabilities", o)).token;
  }

  /** Posts a deploy CAR; with `wait` the answer comes when the run has ended. */
  deploy(car: Uint8Array, o: { wait?: boolean } = {}): Promise<DeploymentInfo> {
    return this.json("POST", `/v0/deployments${o.wait ? "?wait=1" : ""}`, car);
  }

  /**
   * Posts a deploy CAR for the node to send on to `peer` (a peer id or multiaddr) over libp2p;
   * streams the output to `onEntry` and returns how it ended (the assessment unverified: the caller checks it).
   */
  async deployTo(peer: string, car: Uint8Array, ev: { onStarted?(s: RemoteStarted): void; onEntry?(e: LogEntry): void } = {}): Promise<RemoteEndLine> {
    const res = await this.request("POST", `/v0/peers/${encodeURIComponent(peer)}/deployments`, car);
    let end: RemoteEndLine | undefined;
    await readNdjson(res, (msg) => {
      const m = msg as { started?: RemoteStarted; end?: RemoteEndLine } & LogEntry;
      if (m.started) ev.onStarted?.(m.started);
      else if (m.end) end = m.end;
      else if ((m.stream === "stdout" || m.stream === "stderr") && typeof m.data === "string") ev.onEntry?.({ stream: m.stream, data: m.data });
    });
    if (!end) throw new ApiError(0, "stream", `the node's answer for the deploy to ${peer} ended early`);
    return end;
  }

  /** The state (valid, expired, revoked) of token chains (each a list of base64 tokens, root first) as the node sees them. */
  async tokenStatus(chains: string[][]): Promise<HeldToken[]> {
    return (await this.json<{ tokens: HeldToken[] }>("POST", "/v0/held-tokens", { chains })).tokens;
  }

  /** Makes the node's connection gater refuse (and hang up on) `deny` peers and accept `allow` ones again. */
  async gate(o: { deny?: string[]; allow?: string[] }): Promise<string[]> {
    return (await this.json<{ denied: string[] }>("POST", "/v0/gate", o)).denied;
  }

  async deployments(): Promise<DeploymentInfo[]> {
    return (await this.json<{ deployments: DeploymentInfo[] }>("GET", "/v0/deployments")).deployments;
  }

  deployment(id: string): Promise<DeploymentInfo> {
    return this.json("GET", `/v0/deployments/${encodeURIComponent(id)}`);
  }

  stop(id: string): Promise<DeploymentInfo> {
    return this.json("POST", `/v0/deployments/${encodeURIComponent(id)}/stop`);
  }

  /** Streams a deployment's output to `onEntry` until it ends; returns the final record. */
  async logs(id: string, onEntry: (e: LogEntry) => void, o: { follow?: boolean } = {}): Promise<DeploymentInfo> {
    const res = await this.request("GET", `/v0/deployments/${encodeURIComponent(id)}/logs${o.follow === false ? "?follow=0" : ""}`);
    let end: DeploymentInfo | undefined;
    await readNdjson(res, (line) => {
      const msg = line as LogEntry | { end: DeploymentInfo };
      if ("end" in msg) end = msg.end;
      else onEntry(msg);
    });
    if (!end) throw new ApiError(0, "stream", `the log stream of ${id} ended early`);
    return end;
  }

  /** The node revokes `token` (a CID) with its key; `chain` (base64 tokens, root first) when the node did not issue it. */
  async revoke(token: string, chain?: string[]): Promise<string> {
    return (await this.json<{ revocation: string }>("POST", "/v0/revocations", chain ? { token, chain } : { token })).revocation;
  }

  /** Hands the node a revocation signed by another key (base64 DAG-CBOR) to add and gossip. */
  async publishRevocation(record: string): Promise<string> {
    return (await this.json<{ revocation: string }>("POST", "/v0/state", { record })).revocation;
  }

  /** `learnt`: when (ms since the epoch) and how the node learnt the record (here, gossip, a state sync or its disk at start; from which peer). */
  state(): Promise<{ summary: string[]; revocations: { cid: string; token: string; by: string; learnt: LearntJson | null }[]; assessments: { cid: string; node: string; deployment: string; kept: boolean; reason: string; learnt: LearntJson | null }[] }> {
    return this.json("GET", "/v0/state");
  }

  async shutdown(): Promise<void> {
    await this.json("POST", "/v0/shutdown");
  }
}
