// Block exchange: the /promisegrid/blocks/0 protocol. A peer sends a want list
// of CIDs, the other answers each with the block or "missing"; every block
// received is verified against its CID before it is stored.
import type { Libp2p } from "libp2p";
import { lpStream } from "@libp2p/utils";
import type { PeerId, Stream } from "@libp2p/interface";
import { CID } from "multiformats/cid";
import type { BlockStore } from "./store.ts";
import type { BlockAccess } from "./access.ts";
import type { DeployPayload, Signed } from "./records.ts";
import { decodeEnvelope, encodeEnvelope } from "./envelope.ts";
import { verifyBlock } from "./hashes.ts";
import type { BlockRouting } from "./discovery.ts";

export const BLOCKS_PROTOCOL = "/promisegrid/blocks/0";
/** Largest message on the block and state protocols (a 1 MiB chunk plus framing fits easily). */
export const MAX_MESSAGE = 8 * 1024 * 1024;
/** CIDs per block request (chunks are 1 MiB, so about this many MiB in flight). */
const WANT_BATCH = 64;
/** Blocks whose providers are looked up in the DHT per fetch (a provider of one usually has the rest). */
const PROVIDER_LOOKUPS = 8;

/** A peer answered with bytes that do not match the CID, or with a block not asked for. */
export class BadBlockError extends Error {}

export type BlockSource = { peer: string; via: "peer" | "provider" };

export class BlockExchange {
  /** Where recently fetched blocks came from, by CID. */
  readonly sources = new Map<string, BlockSource>();
  /** Peers that served blocks lately, newest first: a manifest's blocks are where its root was. */
  private recent: PeerId[] = [];

  constructor(private readonly libp2p: Libp2p, private readonly store: BlockStore, private readonly access: BlockAccess, private readonly routing?: BlockRouting) {}

  /** Answers a want list from the peer whose key is `peerKey` ([want, CIDs, DEPLOY]: see access.ts for who gets what). */
  async serve(stream: Stream, peerKey: Uint8Array | undefined): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE });
    const req = decodeEnvelope((await lp.read()).subarray());
    if (req[0] !== "want" || !Array.isArray(req[1]) || req[1].length > 100_000) throw new Error("expected want [CID...]");
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
  private async fetchFrom(peer: PeerId, cids: CID[], request: Signed<DeployPayload> | undefined, via: BlockSource["via"] = "peer"): Promise<number> {
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
        if (!cid || !wanted.has(cid.toString())) throw new BadBlockError("peer sent a block that was not asked for");
        if (msg[0] === "block" && msg[2] instanceof Uint8Array) {
          // put() verifies the bytes against the CID before storing them.
          const bytes = msg[2];
          const stored = () => {
            got++;
            this.sources.set(cid.toString(), { peer: peer.toString(), via });
            if (this.sources.size > 10_000) this.sources.delete(this.sources.keys().next().value!);
          };
          const refused = async (e: unknown) => {
            const bad = await verifyBlock(cid, bytes).then(() => false, () => true);
            failed ??= bad ? new BadBlockError(`peer sent wrong bytes for block ${cid}`) : e;
          };
          const w: Promise<void> = this.store.put(cid, bytes).then(stored, refused).finally(() => writing.delete(w));
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

  /**
   * Makes sure every CID is in the store. Missing blocks are asked of the peers
   * that served blocks lately, then of their providers found through the DHT,
   * then of every other connected peer (who give them only for `request`'s
   * manifest). A peer that sends a wrong block is dropped (see discovery.ts)
   * and the blocks are fetched elsewhere.
   */
  async ensure(cids: CID[], request?: Signed<DeployPayload>): Promise<void> {
    let missing: CID[] = [];
    for (const c of cids) if (!(await this.store.has(c))) missing.push(c);
    if (missing.length === 0) return;
    const tried = new Set<string>();
    const attempt = async (peer: PeerId, via: BlockSource["via"]): Promise<boolean> => {
      const id = peer.toString();
      if (tried.has(id) || this.routing?.isBanned(peer)) return false;
      tried.add(id);
      try {
        let got = 0;
        for (let i = 0; i < missing.length; i += WANT_BATCH) got += await this.fetchFrom(peer, missing.slice(i, i + WANT_BATCH), request, via);
        if (got > 0) this.recent = [peer, ...this.recent.filter((p) => !p.equals(peer))].slice(0, 4);
      } catch (e) {
        if (e instanceof BadBlockError) {
          this.routing?.badPeer(peer, e.message);
          this.recent = this.recent.filter((p) => !p.equals(peer));
        }
        if (process.env.PROMISEGRID_DEBUG) console.error(`fetch from ${id} failed:`, e);
      }
      const still: CID[] = [];
      for (const c of missing) if (!(await this.store.has(c))) still.push(c);
      missing = still;
      return missing.length === 0;
    };
    for (const p of [...this.recent]) if (await attempt(p, "peer")) return;
    if (this.routing) {
      const looked = new Set<string>();
      while (looked.size < PROVIDER_LOOKUPS) {
        const target = missing.find((c) => !looked.has(c.toString()));
        if (!target) break;
        looked.add(target.toString());
        const search = new AbortController();
        try {
          for await (const p of this.routing.providers(target, search.signal)) {
            if (await attempt(p, "provider")) return;
            if (!missing.some((c) => c.equals(target))) break;
          }
        } finally {
          search.abort();
        }
      }
    }
    for (const c of this.libp2p.getConnections()) if (await attempt(c.remotePeer, "peer")) return;
    // Peers answer "missing" for what they hold but may not give, so say what can be had without a deploy.
    const why = request ? "" : "; without a deploy of its manifest only public blocks (workload file chunks) are given, never manifests, workload blocks or outputs";
    throw new Error(`block ${missing[0]} is not on this node or on any of its ${tried.size} peer(s)${missing.length > 1 ? ` (${missing.length} blocks missing)` : ""}${why}`);
  }

  /** One block, from the store or fetched from a peer. */
  async get(cid: CID, request?: Signed<DeployPayload>): Promise<Uint8Array> {
    await this.ensure([cid], request);
    const bytes = await this.store.get(cid);
    if (!bytes) throw new Error(`block ${cid} vanished from the store`);
    return bytes;
  }
}
