// The control API: HTTP on 127.0.0.1 only, a bearer token from the data dir,
// Host and Origin checked, request bodies capped while they stream in; header
// and idle timeouts and a connection cap, so idle sockets cannot starve it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { timingSafeEqual } from "node:crypto";
import type { Socket } from "node:net";
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { CarImportError, readCar } from "./store.ts";
import { MAX_FOLLOWER_BACKLOG, slowFollowerNotice } from "./output-cap.ts";
import { DeployError, type GridNode } from "./node.ts";
import { asSigned, wireGrantProblem, MAX_ARGS, MAX_CHAIN, MAX_GRANTS, MAX_TEXT, type DeployPayload, type RevocationPayload, type Signed, type TokenPayload } from "./records.ts";
import type { Body } from "./records.ts";
import { decodeChain, heldState, MAX_CHAINS, MAX_HOPS } from "./held.ts";
import { keyId } from "./keys.ts";
import { offerJson } from "./offers.ts";

export const DEFAULT_MAX_BODY = 64 * 1024 * 1024;
const MAX_JSON_BODY = 1024 * 1024;
/** A client on this host sends its headers at once; a socket that does not is closed. */
export const HEADERS_TIMEOUT_MS = 5000;
/** Idle keep-alive sockets are closed after this long. */
const KEEP_ALIVE_TIMEOUT_MS = 5000;
/** Open sockets at most; past it the oldest one with no request in progress is closed. */
export const MAX_CONNECTIONS = 256;
/** Delegation depth a token may allow at most. */
export const MAX_DEPTH = 32;
const MAX_STRING = MAX_TEXT;
/** The latest expiry a Date can hold (ms since the epoch). */
const MAX_TIME = 8.64e15;

export interface ApiOptions {
  host?: string;
  port?: number;
  token: string;
  maxBodyBytes?: number;
  /** Called after answering POST /v0/shutdown. */
  onShutdown?: () => void;
  headersTimeoutMs?: number;
  maxConnections?: number;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly code = "bad-request") {
    super(message);
  }
}

export function isLoopbackHost(host: string): boolean {
  return host === "127.0.0.1" || host === "localhost" || host === "::1";
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + "\n";
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Reads the body, refusing (without buffering it) anything over `limit`. */
function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(new HttpError(413, `request body of ${declared} bytes is over the ${limit}-byte limit`, "too-large"));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.pause();
        reject(new HttpError(413, `request body is over the ${limit}-byte limit`, "too-large"));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(new Uint8Array(Buffer.concat(chunks))));
    req.on("error", reject);
  });
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const bytes = await readBody(req, MAX_JSON_BODY);
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes));
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("not an object");
    return v;
  } catch (e) {
    throw new HttpError(400, `request body is not a JSON object: ${e instanceof Error ? e.message : e}`);
  }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

function parseCid(s: unknown, what: string): CID {
  try {
    return CID.parse(String(s));
  } catch {
    throw new HttpError(400, `${what} '${String(s)}' is not a CID`);
  }
}

function onlyKeys(body: Record<string, unknown>, allowed: string[]): void {
  const extra = Object.keys(body).filter((k) => !allowed.includes(k));
  if (extra.length) throw new HttpError(400, `unknown field${extra.length > 1 ? "s" : ""} ${extra.map((k) => `'${k}'`).join(", ")}: this request takes ${allowed.join(", ")}`);
}

export interface IssueRequest {
  name: string;
  audience: Uint8Array;
  grants: Body[];
  depth: number;
  expires: number | null;
}

/** Checks every field of a POST /v0/capabilities body; throws a 400 naming the first bad one. */
export function parseIssueRequest(body: Record<string, unknown>): IssueRequest {
  onlyKeys(body, ["holder", "grants", "name", "depth", "expires"]);
  const holder = typeof body.holder === "string" && /^[0-9a-f]{64}$/.test(body.holder) ? Buffer.from(body.holder, "hex") : null;
  if (!holder) throw new HttpError(400, "'holder' must be the holder's ed25519 public key, 64 hex digits");
  const grants = body.grants;
  if (!Array.isArray(grants) || grants.length === 0 || grants.length > MAX_GRANTS) throw new HttpError(400, `'grants' must be a list of 1 to ${MAX_GRANTS} {type, args}`);
  grants.forEach((g, i) => {
    const ok = !!g && typeof g === "object" && !Array.isArray(g) && Object.keys(g).every((k) => k === "type" || k === "args") &&
      typeof g.type === "string" && g.type.length > 0 && g.type.length <= MAX_STRING && Array.isArray(g.args) && g.args.length <= MAX_ARGS;
    if (!ok) throw new HttpError(400, `grant ${i} must be {type, args}: a type name and a list of at most ${MAX_ARGS} arguments`);
    const problem = wireGrantProblem(g);
    if (problem) throw new HttpError(400, `grant ${i}: ${problem}`);
  });
  if (body.name !== undefined && (typeof body.name !== "string" || body.name.length === 0 || body.name.length > MAX_STRING)) {
    throw new HttpError(400, `'name' must be a non-empty string of at most ${MAX_STRING} characters`);
  }
  const depth = body.depth ?? 0;
  if (typeof depth !== "number" || !Number.isInteger(depth) || depth < 0 || depth > MAX_DEPTH) {
    throw new HttpError(400, `'depth' must be a whole number from 0 to ${MAX_DEPTH}, not ${JSON.stringify(body.depth)}`);
  }
  const expires = body.expires ?? null;
  if (expires !== null && (typeof expires !== "number" || !Number.isInteger(expires) || expires < 0 || expires > MAX_TIME)) {
    throw new HttpError(400, `'expires' must be a time (whole milliseconds since the epoch) or null, not ${JSON.stringify(body.expires)}`);
  }
  return { name: (body.name as string | undefined) ?? "capability", audience: new Uint8Array(holder), grants: grants as Body[], depth, expires };
}

/** The Host values this API answers to: a loopback name with its exact port. */
export function allowedHosts(port: number): Set<string> {
  const hosts = ["127.0.0.1", "localhost", "[::1]"];
  return new Set([...hosts.map((h) => `${h}:${port}`), ...(port === 80 ? hosts : [])]);
}

/** The Origin values a browser page on this API itself would send. */
export function allowedOrigins(port: number): Set<string> {
  return new Set([...allowedHosts(port)].map((h) => `http://${h}`));
}

/** Whether `header` is exactly `Bearer TOKEN` (compared in constant time). */
export function bearerMatches(header: string, token: string): boolean {
  const given = Buffer.from(header);
  const want = Buffer.from(`Bearer ${token}`);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** A chain of capability tokens, root first, each base64 DAG-CBOR as POST /v0/capabilities returns it. */
export function parseChain(value: unknown): Signed<TokenPayload>[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_CHAIN) throw new HttpError(400, `'chain' must be a list of 1 to ${MAX_CHAIN} tokens (base64), root first`);
  return value.map((t, i) => {
    let decoded: unknown;
    try {
      decoded = typeof t === "string" ? dagCbor.decode(Buffer.from(t, "base64")) : undefined;
    } catch {
      decoded = undefined;
    }
    const token = asSigned(decoded, "promisegrid/capability");
    if (!token) throw new HttpError(400, `'chain' item ${i} is not a capability token (base64 DAG-CBOR)`);
    return token as Signed<TokenPayload>;
  });
}

export class ApiServer {
  private server!: Server;
  private readonly token: string;
  private readonly maxBody: number;
  private readonly sockets = new Set<Socket>();
  private readonly busy = new Set<Socket>();
  port = 0;

  constructor(private readonly node: GridNode, private readonly o: ApiOptions) {
    this.token = o.token;
    this.maxBody = o.maxBodyBytes ?? DEFAULT_MAX_BODY;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    const host = this.o.host ?? "127.0.0.1";
    if (!isLoopbackHost(host)) throw new Error(`the control API listens on loopback only; '${host}' is not a loopback address`);
    // Node checks header timeouts on this interval (default 30 s).
    this.server = createServer({ connectionsCheckingInterval: 500, headersTimeout: this.o.headersTimeoutMs ?? HEADERS_TIMEOUT_MS, requestTimeout: 0, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, (req, res) => {
      this.busy.add(req.socket);
      res.on("close", () => this.busy.delete(req.socket));
      this.handle(req, res).catch((e) => {
        const status = e instanceof HttpError || e instanceof DeployError ? e.status : 500;
        const code = e instanceof HttpError || e instanceof DeployError ? e.code : "internal";
        if (!res.headersSent) {
          // A refused request's body is not read: close the connection once the answer is out.
          const unread = !req.complete;
          if (unread) res.setHeader("connection", "close");
          send(res, status, { error: e instanceof Error ? e.message : String(e), code });
          if (unread) res.on("finish", () => req.socket.destroy());
        } else res.destroy();
      });
    });
    this.server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      if (this.sockets.size <= (this.o.maxConnections ?? MAX_CONNECTIONS)) return;
      // Over the cap: drop the oldest socket that is not serving a request (a slow or idle one).
      for (const s of this.sockets) {
        if (!this.busy.has(s)) {
          s.destroy();
          return;
        }
      }
      socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.o.port ?? 0, host === "localhost" ? "127.0.0.1" : host, () => resolve());
    });
    const addr = this.server.address();
    this.port = typeof addr === "object" && addr ? addr.port : 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private checkRequest(req: IncomingMessage): void {
    const host = req.headers.host ?? "";
    if (!allowedHosts(this.port).has(host.toLowerCase())) {
      throw new HttpError(421, `refused: Host '${host}' is not this node's loopback address (127.0.0.1:${this.port})`, "bad-host");
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins(this.port).has(origin.toLowerCase())) {
      throw new HttpError(403, `refused: Origin '${origin}' is not allowed (browsers on other sites may not use this API)`, "bad-origin");
    }
    const auth = req.headers.authorization;
    if (auth === undefined) throw new HttpError(401, "refused: missing bearer token (send 'Authorization: Bearer TOKEN' with the token from the node's data dir, file api-token)", "no-token");
    if (!bearerMatches(auth, this.token)) throw new HttpError(401, "refused: wrong bearer token (expected exactly 'Bearer TOKEN')", "bad-token");
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.checkRequest(req);
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const parts = url.pathname.split("/").filter(Boolean);
    const method = req.method ?? "GET";
    for (const [k, v] of url.searchParams) {
      if ((k !== "wait" && k !== "follow") || (v !== "0" && v !== "1")) throw new HttpError(400, `bad query parameter '${k}=${v}': this API takes only wait=0|1 and follow=0|1`);
    }
    const node = this.node;
    if (parts[0] !== "v0") throw new HttpError(404, `no such endpoint ${url.pathname}`, "not-found");
    const route = `${method} /${parts.slice(1).map((p, i) => (i === 1 ? ":id" : p)).join("/")}`;
    switch (route) {
      case "GET /status":
        return send(res, 200, {
          peerId: node.peerId,
          publicKey: hex(node.publicKey),
          key: keyId(node.publicKey),
          agent: node.policy.agent,
          addrs: node.addrs(),
          api: this.url,
          pid: process.pid,
          drivers: await node.drivers.report(),
          peers: node.peers().length,
          deployments: node.deployments.size,
          state: { revocations: node.state.revocations.size, assessments: node.state.assessments.size },
        });
      case "GET /peers":
        return send(res, 200, { peers: node.peers(), dht: { routingTable: node.discovery.routingTableSize(), provided: node.discovery.provideDone, providing: node.discovery.providing }, gossip: node.gossip(), banned: node.discovery.bans.list() });
      case "GET /offers":
        return send(res, 200, { offers: node.offers.set.all().map((o) => offerJson(o)) });
      case "GET /blocks/:id": {
        const cid = parseCid(parts[2], "block");
        let bytes: Uint8Array;
        try {
          bytes = await node.getBlock(cid);
        } catch (e) {
          throw new HttpError(404, e instanceof Error ? e.message : String(e), "not-found");
        }
        const from = node.blocks.sources.get(cid.toString());
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": bytes.length, "x-promisegrid-from": from?.peer ?? "local", "x-promisegrid-via": from?.via ?? "store" });
        res.end(bytes);
        return;
      }
      case "POST /peers": {
        const body = await readJson(req);
        onlyKeys(body, ["addr"]);
        if (typeof body.addr !== "string" || !body.addr) throw new HttpError(400, "'addr' must be a peer's multiaddr, e.g. /ip4/127.0.0.1/tcp/4001/p2p/12D3…");
        try {
          const peerId = await node.dial(body.addr);
          return send(res, 200, { peerId });
        } catch (e) {
          throw new HttpError(502, `cannot dial ${String(body.addr)}: ${e instanceof Error ? e.message : e}`, "dial-failed");
        }
      }
      case "GET /state":
        return send(res, 200, {
          summary: node.state.summary(),
          revocations: [...node.state.revocations.entries()].map(([cid, r]) => ({ cid, token: r.payload.token.toString(), by: hex(r.payload.by), learnt: node.state.learnt.get(cid) ?? null })),
          assessments: [...node.state.assessments.entries()].map(([cid, a]) => ({ cid, node: hex(a.payload.node), deployment: a.payload.deployment, kept: a.payload.kept, reason: a.payload.reason, learnt: node.state.learnt.get(cid) ?? null })),
        });
      case "POST /capabilities": {
        const token = await node.issue(parseIssueRequest(await readJson(req)));
        return send(res, 200, { token: Buffer.from(dagCbor.encode(token)).toString("base64") });
      }
      case "POST /revocations": {
        const body = await readJson(req);
        onlyKeys(body, ["token", "chain"]);
        if (typeof body.token !== "string") throw new HttpError(400, "'token' must be the capability token's CID");
        const cid = await node.revoke(parseCid(body.token, "token"), body.chain === undefined ? undefined : parseChain(body.chain));
        return send(res, 200, { revocation: cid.toString(), token: String(body.token) });
      }
      case "POST /state": {
        // A revocation signed by another key (a person who issued a hop): added, gossiped; the state decides what it counts for.
        const body = await readJson(req);
        onlyKeys(body, ["record"]);
        let record: Signed | undefined;
        try {
          record = typeof body.record === "string" ? asSigned(dagCbor.decode(Buffer.from(body.record, "base64")), "promisegrid/revocation") : undefined;
        } catch {
          record = undefined;
        }
        if (!record) throw new HttpError(400, "'record' must be a signed promisegrid/revocation, base64 DAG-CBOR");
        try {
          const cid = await node.publishRevocation(record as Signed<RevocationPayload>);
          return send(res, 200, { revocation: cid.toString(), token: (record.payload as RevocationPayload).token.toString() });
        } catch (e) {
          throw new HttpError(400, `revocation refused: ${e instanceof Error ? e.message : e}`, "bad-record");
        }
      }
      case "POST /deployments":
        return this.deploy(req, res, url);
      case "POST /peers/:id/deployments":
        return this.deployRemote(req, res, decodeURIComponent(parts[2]));
      case "POST /held-tokens": {
        // The state of chains a client holds, as this node sees them (for the editor's Grid view).
        const body = await readJson(req);
        if (!Array.isArray(body.chains) || body.chains.length > MAX_CHAINS) throw new HttpError(400, `'chains' must be a list of at most ${MAX_CHAINS} token chains`);
        const chains = body.chains.map((c, i) => {
          const chain = decodeChain(c);
          if (!chain) throw new HttpError(400, `chains[${i}] is not a list of base64 DAG-CBOR capability tokens (root first, at most ${MAX_HOPS})`);
          return chain;
        });
        const now = Date.now();
        return send(res, 200, { tokens: await Promise.all(chains.map((c) => heldState(c, node.state, now))) });
      }
      case "POST /gate": {
        const body = await readJson(req);
        const list = (v: unknown, what: string): string[] | undefined => {
          if (v === undefined) return undefined;
          if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new HttpError(400, `'${what}' must be a list of peer ids`);
          return v as string[];
        };
        try {
          return send(res, 200, { denied: await node.gate({ deny: list(body.deny, "deny"), allow: list(body.allow, "allow") }) });
        } catch (e) {
          if (e instanceof HttpError) throw e;
          throw new HttpError(400, e instanceof Error ? e.message : String(e));
        }
      }
      case "GET /deployments":
        return send(res, 200, { deployments: [...node.deployments.values()].map((d) => d.info) });
      case "GET /deployments/:id": {
        const d = node.deployment(parts[2]);
        if (!d) throw new HttpError(404, `no deployment ${parts[2]}`, "not-found");
        return send(res, 200, d.info);
      }
      case "POST /deployments/:id/stop": {
        if (!node.stopDeployment(parts[2])) throw new HttpError(404, `no deployment ${parts[2]}`, "not-found");
        await node.deployment(parts[2])!.done;
        return send(res, 200, node.deployment(parts[2])!.info);
      }
      case "GET /deployments/:id/logs":
        return this.logs(parts[2], url.searchParams.get("follow") !== "0", res);
      case "POST /shutdown":
        send(res, 200, { stopping: true });
        setImmediate(() => this.o.onShutdown?.());
        return;
      default:
        throw new HttpError(404, `no such endpoint ${method} ${url.pathname}`, "not-found");
    }
  }

  /** POST /v0/deployments: a CAR whose root is a signed deploy request; other blocks are the manifest's. */
  private async deploy(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const { request, blocks } = await this.readDeployCar(req);
    const info = await this.node.deploy(request, blocks);
    if (url.searchParams.get("wait") === "1") await this.node.deployment(info.id)!.done;
    send(res, 201, info);
  }

  /**
   * POST /v0/peers/PEER/deployments: the same CAR, sent on to PEER over libp2p. Answers like a
   * refused local deploy when PEER refuses it; once it runs, NDJSON: {started}, log entries,
   * then {end} with PEER's signed assessment (base64 DAG-CBOR) or why the peer is gone.
   */
  private async deployRemote(req: IncomingMessage, res: ServerResponse, to: string): Promise<void> {
    const { request, blocks } = await this.readDeployCar(req);
    const outcome = await this.node.deployTo(to, request, blocks, {
      onStarted: (id, peer, placement) => {
        res.writeHead(200, { "content-type": "application/x-ndjson" });
        res.write(JSON.stringify({ started: { id, peer, ...(placement ? { placement } : {}) } }) + "\n");
      },
      onOutput: (e) => res.write(JSON.stringify(e) + "\n"),
    });
    const end = outcome.end.kind === "assessed"
      ? { peer: outcome.peer, id: outcome.id, assessment: Buffer.from(dagCbor.encode(outcome.end.assessment)).toString("base64"), gone: null }
      : { peer: outcome.peer, id: outcome.id, assessment: null, gone: outcome.end.message };
    res.end(JSON.stringify({ end }) + "\n");
  }

  private async readDeployCar(req: IncomingMessage): Promise<{ request: Signed<DeployPayload>; blocks: { cid: CID; bytes: Uint8Array }[] }> {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > this.maxBody) throw new HttpError(413, `request body of ${declared} bytes is over the ${this.maxBody}-byte limit`, "too-large");
    // Streamed and bounded (bytes and blocks); every block verified before any is stored.
    let car: Awaited<ReturnType<typeof readCar>>;
    try {
      car = await readCar(req, { maxBytes: this.maxBody });
    } catch (e) {
      if (e instanceof CarImportError) throw new HttpError(e.code === "too-large" || e.code === "too-many-blocks" ? 413 : 400, e.message, e.code);
      throw e;
    }
    const { roots, blocks } = car;
    if (roots.length !== 1) throw new HttpError(400, `the CAR must have exactly one root (the deploy request), it has ${roots.length}`, "bad-car");
    const rootBlock = blocks.find((b) => b.cid.equals(roots[0]));
    if (!rootBlock) throw new HttpError(400, `the CAR's root ${roots[0]} is not among its blocks`, "bad-car");
    let request: Signed | undefined;
    try {
      request = asSigned(dagCbor.decode(rootBlock.bytes), "promisegrid/deploy");
    } catch {
      request = undefined;
    }
    if (!request) throw new HttpError(400, "the CAR's root is not a signed promisegrid/deploy request", "bad-request");
    return { request: request as Signed<DeployPayload>, blocks: blocks.filter((b) => !b.cid.equals(roots[0])) };
  }

  private logs(id: string, follow: boolean, res: ServerResponse): void {
    const d = this.node.deployment(id);
    if (!d) throw new HttpError(404, `no deployment ${id}`, "not-found");
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    for (const e of d.logs) res.write(JSON.stringify(e) + "\n");
    if (!follow || d.info.result !== null) {
      res.end(JSON.stringify({ end: d.info }) + "\n");
      return;
    }
    const listener = (e: unknown) => {
      if (e === null) {
        res.end(JSON.stringify({ end: d.info }) + "\n");
      } else if (res.writableLength > MAX_FOLLOWER_BACKLOG) {
        // A follower that does not read is not buffered for without bound.
        d.listeners.delete(listener);
        res.end(JSON.stringify(slowFollowerNotice()) + "\n");
        setTimeout(() => res.destroy(), 10_000).unref();
      } else res.write(JSON.stringify(e) + "\n");
    };
    d.listeners.add(listener);
    res.on("close", () => d.listeners.delete(listener));
  }
}
