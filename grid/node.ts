// The grid node: identity, block store, libp2p host (TCP, noise, yamux,
// identify, ping, gossipsub), shared state and its sync, start and stop. Block
// exchange (blocks.ts) and deployments (deployments.ts) are parts it wires up.
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
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { BlockStore } from "./store.ts";
import { loadOrCreateKey, type PrivateKey } from "./keys.ts";
import { GridState, ReplayGuard, StateError, TokenBook, type Learnt } from "./state.ts";
import { secureDataDir } from "./datadir.ts";
import { BlockAccess } from "./access.ts";
import { decodeEnvelope, encodeEnvelope } from "./envelope.ts";
import { recordCid, signRecord, verifyRecord, type DeployPayload, type RevocationPayload, type Signed } from "./records.ts";
import { equals } from "multiformats/bytes";
import { issueToken, type IssueOptions, type Token } from "./capabilities.ts";
import { DriverRegistry, nodeDriverContext } from "./sandboxes/index.ts";
import { BLOCKS_PROTOCOL, BlockExchange, MAX_MESSAGE } from "./blocks.ts";
import { DeployError, Deployments, REPLAY_WINDOW_MS, type Deployment, type DeploymentInfo } from "./deployments.ts";
import { DEPLOY_PROTOCOL, DeployProtocol, type RemoteEvents, type RemoteOutcome } from "./remote.ts";
import { peerIdFromString } from "@libp2p/peer-id";
import { loadPolicy, ownKeyPolicy, type Policy } from "./policy.ts";
import { Discovery, dhtService, PeerBans } from "./discovery.ts";
import { Offers, OFFERS_TOPIC } from "./offers.ts";
import { dialableAddrs, plan, type PlacementReport } from "./placement.ts";
import { ANY_PEER } from "./api-client.ts";
import { decodeManifest, decodeWorkload, ManifestError } from "./manifest.ts";

export { BLOCKS_PROTOCOL } from "./blocks.ts";
export { DEPLOY_PROTOCOL, type RemoteOutcome } from "./remote.ts";
export { DeployError, type Deployment, type DeploymentInfo, type DeploymentState, type LogEntry } from "./deployments.ts";

export const STATE_PROTOCOL = "/promisegrid/state/0";
export const REVOCATIONS_TOPIC = "/promisegrid/revocations/0";
export const ASSESSMENTS_TOPIC = "/promisegrid/assessments/0";
/** Records per state-sync message (each at most MAX_RECORD_BYTES, so a page stays far below MAX_MESSAGE). */
const STATE_PAGE = 64;

export interface NodeOptions {
  dataDir: string;
  /** libp2p listen addresses; default one TCP port on 127.0.0.1. */
  listen?: string[];
  /** Peers to dial at start. */
  peers?: string[];
  drivers?: DriverRegistry;
  /** Be this agent of this .pg file, honouring deploys by its promises (grid/policy.ts); default: the node's own key is the only root. */
  policy?: { file: string; agent: string };
  /** Peer ids whose connections the connection gater refuses (either way). */
  denyPeers?: string[];
}

type Services = { pubsub: GossipSub; identify: unknown; ping: unknown; dht: unknown };

export class GridNode {
  readonly blocks: BlockExchange;
  readonly runs: Deployments;
  readonly discovery: Discovery;
  readonly offers: Offers;
  readonly remote: DeployProtocol;
  private stopped = false;

  private constructor(
    readonly dataDir: string,
    readonly key: PrivateKey,
    readonly store: BlockStore,
    readonly state: GridState,
    readonly libp2p: Libp2p<Services>,
    readonly drivers: DriverRegistry,
    /** Chains this node can prove, to revoke any hop under its key. */
    readonly tokens: TokenBook,
    private readonly replays: ReplayGuard,
    private readonly access: BlockAccess,
    readonly policy: Policy,
    bans: PeerBans,
    /** Peers the connection gater refuses; gate() changes it. */
    private readonly denied: Set<string>,
  ) {
    this.discovery = new Discovery(libp2p as unknown as Libp2p, store, dataDir, bans);
    this.blocks = new BlockExchange(libp2p as unknown as Libp2p, store, access, this.discovery);
    this.runs = new Deployments({
      key,
      state,
      store,
      blocks: this.blocks,
      drivers,
      replays,
      tokens,
      access,
      policy,
      persist: (cid, bytes, indexed) => this.persist(cid, bytes, indexed),
      publishAssessment: (record) => this.publishRecord(ASSESSMENTS_TOPIC, record),
    });
    this.offers = new Offers({ libp2p: libp2p as unknown as Libp2p, key, drivers, running: () => [...this.runs.all.values()].filter((d) => d.info.state === "running").length, promises: () => policy.promises() });
    this.remote = new DeployProtocol(libp2p as unknown as Libp2p, {
      deploy: (request) => this.deploy(request),
      deployment: (id) => this.deployment(id),
      assessment: (cid) => this.state.assessments.get(cid),
    });
  }

  static async start(o: NodeOptions): Promise<GridNode> {
    await mkdir(o.dataDir, { recursive: true, mode: 0o700 });
    const key = await loadOrCreateKey(join(o.dataDir, "key"));
    // A policy that cannot make this node its agent stops the start, before anything listens.
    const policy = o.policy ? loadPolicy(o.policy.file, o.policy.agent, key.publicKey.raw) : ownKeyPolicy(key.publicKey.raw);
    // Loose modes on what was there are fixed and reported; then blocks/, if just made, is tightened too.
    for (const f of await secureDataDir(o.dataDir)) process.stderr.write(`promisegrid node: fixed ${f} (only the owner may read the data dir)\n`);
    const store = new BlockStore(join(o.dataDir, "blocks"));
    await store.open();
    await secureDataDir(o.dataDir);
    const state = new GridState(key.publicKey.raw);
    await loadState(o.dataDir, store, state);
    const tokens = new TokenBook(store, join(o.dataDir, "token-index"));
    await tokens.load();
    const replays = new ReplayGuard(join(o.dataDir, "seen-requests"), REPLAY_WINDOW_MS);
    await replays.load(Date.now());
    const access = new BlockAccess(store, join(o.dataDir, "manifest-holders"), join(o.dataDir, "public-blocks"), join(o.dataDir, "outputs"));
    await access.load();
    const bans = new PeerBans();
    const denied = new Set(o.denyPeers ?? []);
    // One connection gater: peers the operator cut off (gate()) and peers dropped for sending wrong blocks.
    const refused = async (peer: PeerId) => denied.has(peer.toString()) || bans.isBanned(peer);
    const libp2p = await createLibp2p({
      privateKey: key,
      // Real refusals (dials and both directions of the handshake), so peers can be cut apart.
      connectionGater: { denyDialPeer: refused, denyInboundEncryptedConnection: refused, denyOutboundEncryptedConnection: refused },
      addresses: { listen: o.listen ?? ["/ip4/127.0.0.1/tcp/0"] },
      // Many peers on one host (loopback grids, tests) dial in from the same IP at once:
      // libp2p's default of 5 inbound connections per second per host would reset them.
      connectionManager: { inboundConnectionThreshold: 100, maxIncomingPendingConnections: 50 },
      // The monitor pings every connection and closes it when a ping takes over its timeout (5 s
      // at least by default). A busy host (many nodes on a few cores) answers that slowly while
      // alive, and the closed connections took gossip meshes down with them. A dead peer's
      // connection closes by itself; a deploy has its own silence bound (remote.ts).
      connectionMonitor: { pingTimeout: { minTimeout: 30_000, maxTimeout: 60_000 } },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux({ streamOptions: { initialStreamWindowSize: 4 * 1024 * 1024, maxStreamWindowSize: 32 * 1024 * 1024 } })],
      services: {
        identify: identify(),
        ping: ping(),
        dht: dhtService(),
        pubsub: gossipsub({
          allowPublishToZeroTopicPeers: true, floodPublish: true, emitSelf: false, D: 8, Dlo: 6, Dhi: 16, heartbeatInterval: 500,
          // A message comes once from each mesh peer. The copies after the first are known by their
          // publisher and sequence number before the publisher's signature is checked again (a forged
          // copy fails that check and is never remembered as seen).
          fastMsgIdFn: (m) => (m.from && m.seqno ? `${bytesHex(m.from)}/${bytesHex(m.seqno)}` : "unsigned"),
          // IDONTWANT spares the bandwidth of large messages; ours are records of at most 16 KiB, for
          // which telling every mesh peer not to send one costs as many writes as forwarding it, and
          // gossipsub writes them before it validates and forwards the message.
          idontwantMinDataSize: Infinity,
          // Every inbound connection on one host comes from 127.0.0.1 (the kernel's source for any
          // 127.0.0.x): gossipsub's IP colocation penalty grows with each such peer past 10 and
          // graylists them from 15, so a node with more would stop hearing or sending revocations. Loopback peers are this
          // machine's own; the penalty stays for every other address.
          scoreParams: { IPColocationFactorWhitelist: new Set(["127.0.0.1", "::1"]) },
        }),
      },
    });
    const node = new GridNode(o.dataDir, key, store, state, libp2p as unknown as Libp2p<Services>, o.drivers ?? new DriverRegistry(undefined, nodeDriverContext(o.dataDir)), tokens, replays, access, policy, bans, denied);
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

  /** Per gossip topic: the peers known to subscribe, and those in this node's mesh. */
  gossip(): Record<string, { subscribers: number; mesh: number }> {
    const pubsub = this.libp2p.services.pubsub;
    return Object.fromEntries([REVOCATIONS_TOPIC, ASSESSMENTS_TOPIC, OFFERS_TOPIC].map((t) => [t, { subscribers: pubsub.getSubscribers(t).length, mesh: this.meshPeers(t).length }]));
  }

  /** The peers in this node's mesh for `topic`. */
  private meshPeers(topic: string): string[] {
    // The router has getMeshPeers; its published interface does not say so.
    return (this.libp2p.services.pubsub as unknown as { getMeshPeers?(t: string): string[] }).getMeshPeers?.(topic) ?? [];
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

  /** Refuses (and hangs up on) the `deny` peers, accepts the `allow` ones again; returns the refused set. */
  async gate(o: { deny?: string[]; allow?: string[] }): Promise<string[]> {
    const ids = [...(o.deny ?? []), ...(o.allow ?? [])].map((p) => {
      try {
        return peerIdFromString(p);
      } catch {
        throw new Error(`'${p}' is not a peer id`);
      }
    });
    for (const p of o.allow ?? []) this.denied.delete(p);
    for (const p of o.deny ?? []) this.denied.add(p);
    for (const id of ids) if (this.denied.has(id.toString())) await this.libp2p.hangUp(id).catch(() => {});
    return [...this.denied];
  }

  private async wire(): Promise<void> {
    await this.libp2p.handle(DEPLOY_PROTOCOL, (stream, conn) => this.remote.serve(stream, conn.remotePeer).catch(() => stream.abort(new Error("bad request"))));
    await this.libp2p.handle(BLOCKS_PROTOCOL, (stream, conn) => this.blocks.serve(stream, conn.remotePeer.publicKey?.raw).catch(() => stream.abort(new Error("bad request"))));
    await this.libp2p.handle(STATE_PROTOCOL, (stream) => this.serveState(stream).catch(() => stream.abort(new Error("bad request"))));
    const pubsub = this.libp2p.services.pubsub;
    // A gossiped record is checked (shape, size, signature, proof) and added to the state while
    // gossipsub validates it: it counts here, in one check, the moment it is forwarded. Only
    // then is it written to disk, off the forwarding path (a record lost to a kill comes back
    // by the state sync on the next connection).
    const validate = async (peer: PeerId, msg: Message) => {
      try {
        const payload = decodeEnvelope(msg.data);
        if (payload[0] !== "record") return TopicValidatorResult.Reject;
        const value = payload[1];
        const cid = await this.state.add(value, { via: "gossip", from: peer.toString() });
        if (cid) void this.persist(cid, dagCbor.encode(value), true).catch(() => {});
        return TopicValidatorResult.Accept;
      } catch (e) {
        // Beyond a bound here is not the sender's fault (nor forwarded); anything else is a bad record.
        return e instanceof StateError && e.bound ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject;
      }
    };
    for (const topic of [REVOCATIONS_TOPIC, ASSESSMENTS_TOPIC]) {
      pubsub.topicValidators.set(topic, validate);
      pubsub.subscribe(topic);
    }
    await this.offers.start();
    await this.discovery.start();
    // A peer that joins late catches up on the whole state (anti-entropy).
    // One sync with a peer at a time, and at most one more after it: a peer that subscribes over and over gets no
    // more syncs at once.
    const syncing = new Map<string, { again: boolean }>();
    const sync = (peer: PeerId) => {
      const running = syncing.get(peer.toString());
      if (running) return void (running.again = true);
      const entry = { again: false };
      syncing.set(peer.toString(), entry);
      void (async () => {
        do {
          entry.again = false;
          await this.syncState(peer).catch((e) => { if (process.env.PROMISEGRID_DEBUG) console.error("state sync failed:", e); });
        } while (entry.again);
        syncing.delete(peer.toString());
      })();
    };
    this.libp2p.addEventListener("peer:connect", (evt) => sync(evt.detail));
    // And again once gossip with it works: a record published between the connection and the
    // moment either side learnt the other's subscription was sent to neither (gossipsub replays nothing).
    pubsub.addEventListener("subscription-change", (evt) => {
      if (evt.detail.subscriptions.some((x) => x.topic === REVOCATIONS_TOPIC && x.subscribe)) sync(evt.detail.peerId);
    });
    // And once more when either side adds the other to its mesh: a record that came between the subscription and the
    // graft was forwarded to the mesh without this peer and, the peer being in the mesh by the next heartbeat, never
    // offered to it by gossip either. Only for a link formed: a GRAFT this node refused raises the event too.
    pubsub.addEventListener("gossipsub:graft", (evt) => {
      const { topic, peerId } = evt.detail;
      if (topic === REVOCATIONS_TOPIC && this.meshPeers(topic).includes(peerId)) sync(peerIdFromString(peerId));
    });
  }

  /** Adds a verified record to the state and persists it; returns its CID when new. */
  async addRecord(value: unknown, how?: Learnt): Promise<CID | undefined> {
    const cid = await this.state.add(value, how);
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
        for (const r of res[1]) await this.addRecord(r, { via: "sync", from: peer.toString() }).catch(() => {});
        await lp.write(encodeEnvelope(["next"]));
      }
    } finally {
      await stream.close().catch(() => stream.abort(new Error("closing")));
    }
  }

  // ---- blocks ----

  /** Makes sure every CID is in the store, fetching missing blocks from connected peers. */
  ensureBlocks(cids: CID[]): Promise<void> {
    return this.blocks.ensure(cids);
  }

  getBlock(cid: CID): Promise<Uint8Array> {
    return this.blocks.get(cid);
  }

  // ---- capabilities ----

  async issue(o: IssueOptions): Promise<Token> {
    const token = await issueToken(this.key, o);
    await this.tokens.remember([token]);
    return token;
  }

  /**
   * Revokes a token with this node's key and gossips the revocation. `proof` is
   * the token's chain, root first, when this node has not seen it; the node must
   * have issued the token or a hop above it. Revoking twice is one revocation.
   */
  async revoke(token: CID, proof?: Token[]): Promise<CID> {
    if (proof?.length) {
      if (!(await recordCid(proof[proof.length - 1])).equals(token)) throw new DeployError(400, "bad-chain", `the chain given does not end at ${token}`);
      await this.tokens.remember(proof);
    }
    // The revocation carries the chain down to the token: proof that this key is above it.
    const chain = await this.tokens.chainTo(token);
    if (!chain) throw new DeployError(404, "unknown-token", `this node neither issued capability ${token} nor accepted a deploy with it (and no chain down to it was given), so it cannot revoke it`);
    if (!chain.some((t) => equals(t.payload.iss, this.publicKey))) throw new DeployError(403, "not-issuer", `this node issued no hop of the chain down to ${token}, so its revocation would count nowhere`);
    for (const [cid, r] of this.state.revocations) if (r.payload.token.equals(token) && equals(r.payload.by, this.publicKey)) return CID.parse(cid);
    const record = await signRecord(this.key, { type: "promisegrid/revocation", v: 0, token, by: this.publicKey, chain, at: Date.now() });
    return this.publishRevocation(record);
  }

  /** Adds a signed revocation (by anyone: the state decides what it counts for) and gossips it; returns its CID. */
  async publishRevocation(record: Signed<RevocationPayload>): Promise<CID> {
    const cid = await recordCid(record);
    const added = await this.state.add(record);
    // Gossiped at once, written to disk meanwhile: the caller hears back once both are done.
    await Promise.all([this.publishRecord(REVOCATIONS_TOPIC, record), added && this.persist(added, dagCbor.encode(record), true)]);
    return cid;
  }

  // ---- deployments ----

  get deployments(): Map<string, Deployment> {
    return this.runs.all;
  }

  async deploy(request: Signed<DeployPayload>, blocks: { cid: CID; bytes: Uint8Array }[] = []): Promise<DeploymentInfo> {
    const info = await this.runs.deploy(request, blocks);
    // Accepted and its job assembled: provide what others may fetch of it; the load changed.
    void this.discovery.provideManifest(CID.parse(info.manifest), info.workload, (chunks) => this.access.makePublic(chunks)).catch(() => {});
    this.offers.changed();
    void this.runs.get(info.id)?.done.then(() => this.offers.changed());
    return info;
  }

  /**
   * Sends a signed deploy to another node over /promisegrid/deploy/0. `to` is a peer id
   * (connected or known), a multiaddr to dial, or "any": this node places it (placement.ts).
   * The manifest's blocks are kept here so the remote can fetch them.
   */
  async deployTo(to: string, request: Signed<DeployPayload>, blocks: { cid: CID; bytes: Uint8Array }[], ev: RemoteEvents = {}): Promise<RemoteOutcome> {
    if (!(await verifyRecord(request))) throw new DeployError(403, "forged", "deploy refused: the deploy request's signature does not match its holder key");
    const manifest = CID.asCID(request.payload.manifest);
    if (!manifest || !(request.payload.holder instanceof Uint8Array)) throw new DeployError(400, "malformed", "the deploy request's manifest is not a CID");
    if (to === ANY_PEER) return this.place(request, manifest, blocks, ev);
    let peer: PeerId;
    if (to.startsWith("/")) {
      let ma;
      try {
        ma = multiaddr(to);
      } catch (e) {
        throw new DeployError(400, "bad-peer", `'${to}' is not a multiaddr: ${e instanceof Error ? e.message : e}`);
      }
      try {
        peer = (await this.libp2p.dial(ma, { signal: AbortSignal.timeout(10_000) })).remotePeer;
      } catch (e) {
        throw new DeployError(502, "unreachable", `cannot reach ${to}: ${e instanceof Error ? e.message : e}`);
      }
    } else {
      try {
        peer = peerIdFromString(to);
      } catch {
        throw new DeployError(400, "bad-peer", `'${to}' is neither a peer id nor a multiaddr`);
      }
    }
    if (peer.equals(this.libp2p.peerId)) throw new DeployError(400, "bad-peer", `${to} is this node; deploy to it without --to`);
    await this.keepFor(request, manifest, blocks);
    return this.sendTo(peer, request, ev);
  }

  /** Stores the manifest's blocks: the peer the deploy is addressed to may fetch them (access.ts). */
  private async keepFor(request: Signed<DeployPayload>, manifest: CID, blocks: { cid: CID; bytes: Uint8Array }[]): Promise<void> {
    for (const b of blocks) await this.store.put(b.cid, b.bytes);
    await this.access.deployed(manifest, request.payload.holder);
  }

  private sendTo(peer: PeerId, request: Signed<DeployPayload>, ev: RemoteEvents): Promise<RemoteOutcome> {
    if (peer.publicKey) this.access.sentTo(request.sig, peer.publicKey.raw);
    return this.remote.send(peer, request, ev);
  }

  /**
   * `--to any`: the peers whose offers run the workload's sandbox and promise to honour the
   * capability presented, least loaded first; each refusal moves on to the next. The same
   * signed request goes to each (every node keeps its own replay guard).
   */
  private async place(request: Signed<DeployPayload>, manifest: CID, blocks: { cid: CID; bytes: Uint8Array }[], ev: RemoteEvents): Promise<RemoteOutcome> {
    await this.keepFor(request, manifest, blocks);
    const workload = await this.localWorkload(manifest, request.payload.workload);
    const p = request.payload;
    const { candidates, skipped } = plan(this.offers.set.all(), {
      workload: p.workload, sandbox: workload.sandbox, memoryBytes: workload.limits.memoryBytes, timeMs: workload.limits.timeMs,
      holder: p.holder, root: p.chain[0]?.payload?.iss instanceof Uint8Array ? p.chain[0].payload.iss : undefined,
    }, { self: this.publicKey, now: Date.now() });
    const considered: PlacementReport["considered"] = skipped.map((s) => ({ peer: s.peer, outcome: "skipped", why: s.why }));
    const tried: PlacementReport["considered"] = [];
    for (const [i, c] of candidates.entries()) {
      const peer = peerIdFromString(c.peer);
      // The offer says where the node listens: it may be no neighbour of this one. Only addresses
      // of networks this node is on itself (placement.ts): an offer is anyone's to write.
      await this.libp2p.peerStore.merge(peer, { multiaddrs: dialableAddrs(c.offer.payload.addrs, this.addrs(), c.peer) }).catch(() => {});
      const report = (): PlacementReport => ({
        peer: c.peer,
        because: c.why,
        considered: [...tried, { peer: c.peer, outcome: "chosen", why: c.why }, ...candidates.slice(i + 1).map((n) => ({ peer: n.peer, outcome: "not tried" as const, why: n.why })), ...considered],
      });
      try {
        const out = await this.sendTo(peer, request, { ...ev, onStarted: (id, who) => ev.onStarted?.(id, who, report()) });
        return { ...out, placement: report() };
      } catch (e) {
        if (!(e instanceof DeployError)) throw e;
        tried.push({ peer: c.peer, outcome: "refused", why: `${e.code}: ${e.message}` });
      }
    }
    const all = [...tried, ...considered];
    const known = all.length ? `; ${all.map((x) => `${x.peer} ${x.outcome === "refused" ? "refused it" : "was skipped"} (${x.why})`).join("; ")}` : ": this node knows no peer's offer yet";
    throw new DeployError(503, "no-placement", `no peer could take ${p.workload} (${workload.sandbox})${known}`);
  }

  /** A workload of a manifest this node holds (placement reads its sandbox and limits). */
  private async localWorkload(manifest: CID, name: string) {
    const missing = (what: string) => new DeployError(422, "missing-blocks", `to place it this node needs the manifest's ${what}; send the manifest's blocks with the deploy`);
    try {
      const root = await this.store.get(manifest);
      if (!root) throw missing("root");
      const m = decodeManifest(root);
      const wcid = Object.hasOwn(m.workloads, name) ? m.workloads[name] : undefined;
      if (!wcid) throw new DeployError(422, "bad-manifest", `manifest ${manifest}: it has no workload named '${name}'`);
      const w = await this.store.get(wcid);
      if (!w) throw missing(`workload block of '${name}'`);
      return decodeWorkload(w, name);
    } catch (e) {
      if (e instanceof ManifestError) throw new DeployError(422, "bad-manifest", `manifest ${manifest}: ${e.message}`);
      throw e;
    }
  }

  deployment(id: string): Deployment | undefined {
    return this.runs.get(id);
  }

  stopDeployment(id: string): boolean {
    return this.runs.stop(id);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.discovery.stop();
    this.offers.stop();
    await this.runs.stopAll();
    await this.writes;
    await this.replays.close();
    await this.libp2p.stop();
    await this.drivers.close();
  }
}

function bytesHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
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
    if (bytes) await state.add(dagCbor.decode(bytes), { via: "disk" }).catch(() => {});
  }
}
