// Discovery and content routing: a Kademlia DHT of the grid's own (its own
// protocol id, every node a server, loopback and LAN addresses kept, no public
// bootstrappers: the --peer addresses seed it). A node provides the CIDs it can
// serve (manifest roots, to deployers; workload file chunks, to anyone), finds providers of
// blocks it misses, and drops peers that sent it wrong blocks.
import { kadDHT, passthroughMapper } from "@libp2p/kad-dht";
import type { Libp2p } from "libp2p";
import type { PeerId } from "@libp2p/interface";
import { CID } from "multiformats/cid";
import { readIndexLines } from "./files.ts";
import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import type { BlockStore } from "./store.ts";
import { decodeManifest, decodeWorkload } from "./manifest.ts";

export const DHT_PROTOCOL = "/promisegrid/kad/1.0.0";
/** How long a peer that sent a wrong block is refused (no dial, no inbound connection, not asked). */
export const BAN_MS = 10 * 60 * 1000;
/** How long a search for providers of one block may take. */
const FIND_PROVIDERS_MS = 15_000;
/** Provider records are valid this long; the DHT re-provides ours before they lapse. */
const PROVIDE_VALIDITY_MS = 24 * 60 * 60 * 1000;

/** The DHT service for createLibp2p. */
export function dhtService() {
  return kadDHT({
    protocol: DHT_PROTOCOL,
    // Every node answers queries: grid nodes are dialable (loopback, LAN or public).
    clientMode: false,
    // Keep private addresses: the default mapper drops them, which would blind a loopback or LAN grid.
    peerInfoMapper: passthroughMapper,
    logPrefix: "libp2p:promisegrid-dht",
    datastorePrefix: "/promisegrid-dht",
    metricsPrefix: "promisegrid_dht",
    providers: { provideValidity: PROVIDE_VALIDITY_MS / 1000 },
    reprovide: { validity: PROVIDE_VALIDITY_MS, threshold: PROVIDE_VALIDITY_MS / 2, interval: 60 * 60 * 1000 },
  });
}

/** Peers this node refuses for a while; its connection gater reads this. */
export class PeerBans {
  private readonly until = new Map<string, number>();

  ban(peer: PeerId | string, ms = BAN_MS): void {
    this.until.set(peer.toString(), Date.now() + ms);
  }

  isBanned(peer: PeerId | string): boolean {
    const t = this.until.get(peer.toString());
    if (t === undefined) return false;
    if (t > Date.now()) return true;
    this.until.delete(peer.toString());
    return false;
  }

  list(): { peerId: string; until: number }[] {
    return [...this.until].filter(([id]) => this.isBanned(id)).map(([peerId, until]) => ({ peerId, until }));
  }

}

/** What the block exchange asks of discovery. */
export interface BlockRouting {
  /** Peers that may have `cid`, best first, as they are found (banned peers left out). */
  providers(cid: CID, signal: AbortSignal): AsyncIterable<PeerId>;
  /** A peer sent a block that does not match its CID: drop it and refuse it for a while. */
  badPeer(peer: PeerId, why: string): void;
  isBanned(peer: PeerId): boolean;
}

export class Discovery implements BlockRouting {
  /** CIDs this node provides (string form), also listed in the data dir's `provides` file. */
  private readonly provided = new Set<string>();
  /** `manifest/workload` pairs whose root and file chunks were provided. */
  private readonly providedWorkloads = new Set<string>();
  private writes: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Provide operations under way, and finished (each a DHT query and ADD_PROVIDER to the closest peers). */
  providing = 0;
  provideDone = 0;

  constructor(private readonly libp2p: Libp2p, private readonly store: BlockStore, private readonly dataDir: string, readonly bans: PeerBans) {}

  private get indexPath(): string {
    return join(this.dataDir, "provides");
  }

  /** Provides again what this node provided before it stopped (the DHT's records are in memory). */
  async start(): Promise<void> {
    const again: CID[] = [];
    for (const line of await readIndexLines(this.indexPath)) {
      try {
        const cid = CID.parse(line.trim());
        if (!this.provided.has(cid.toString()) && (await this.store.has(cid))) {
          this.provided.add(cid.toString());
          again.push(cid);
        }
      } catch {
        // a line cut short by a crash
      }
    }
    for (const cid of again) this.announce(cid);
  }

  stop(): void {
    this.stopped = true;
  }

  providedCids(): string[] {
    return [...this.provided];
  }

  private announce(cid: CID): void {
    // The DHT waits until its routing table has a peer, so a lone node provides once it meets one.
    this.providing++;
    void this.libp2p.contentRouting.provide(cid, { signal: AbortSignal.timeout(5 * 60_000) }).then(
      () => void this.provideDone++,
      (e) => {
        if (process.env.PROMISEGRID_DEBUG && !this.stopped) console.error(`provide ${cid} failed:`, e);
      },
    ).finally(() => void this.providing--);
  }

  /** Provides each CID (once), recording it for the next start. */
  async provide(cids: CID[]): Promise<void> {
    const fresh = cids.filter((c) => !this.provided.has(c.toString()));
    if (fresh.length === 0) return;
    for (const c of fresh) this.provided.add(c.toString());
    const write = this.writes.then(() => appendFile(this.indexPath, fresh.map((c) => c.toString() + "\n").join("")));
    this.writes = write.catch(() => {});
    for (const c of fresh) this.announce(c);
    await write;
  }

  /**
   * Provides a deployed manifest's root (its blocks go to a node that shows a
   * deploy of it) and the chunks of the workload's files, which `publish`
   * makes public first (access.ts). Not the workload block (it holds the env
   * and args) and never a deployment's output.
   */
  async provideManifest(root: CID, workload: string, publish: (chunks: CID[]) => Promise<void>): Promise<void> {
    // Once per manifest and workload in this process: a workload deployed again reads and decodes nothing.
    const key = `${root}/${workload}`;
    if (this.providedWorkloads.has(key)) return;
    this.providedWorkloads.add(key);
    try {
      const chunks = await this.fileChunks(root, workload);
      if (!chunks) {
        this.providedWorkloads.delete(key);
        return;
      }
      await publish(chunks);
      await this.provide([root, ...chunks]);
    } catch (e) {
      this.providedWorkloads.delete(key);
      throw e;
    }
  }

  /** The chunks of a stored manifest's workload files; undefined when its blocks are not all here. */
  private async fileChunks(root: CID, workload: string): Promise<CID[] | undefined> {
    const rootBytes = await this.store.get(root);
    if (!rootBytes) return undefined;
    const m = decodeManifest(rootBytes);
    const wcid = Object.hasOwn(m.workloads, workload) ? m.workloads[workload] : undefined;
    const wBytes = wcid && (await this.store.get(wcid));
    if (!wBytes) return undefined;
    return Object.values(decodeWorkload(wBytes, workload).files).flatMap((f) => f.chunks);
  }

  async *providers(cid: CID, signal: AbortSignal): AsyncIterable<PeerId> {
    const self = this.libp2p.peerId.toString();
    const seen = new Set<string>();
    const search = AbortSignal.any([signal, AbortSignal.timeout(FIND_PROVIDERS_MS)]);
    try {
      for await (const p of this.libp2p.contentRouting.findProviders(cid, { signal: search })) {
        const id = p.id.toString();
        if (id === self || seen.has(id) || this.bans.isBanned(p.id)) continue;
        seen.add(id);
        // Remember where it listens, so the block exchange can dial it.
        if (p.multiaddrs.length) await this.libp2p.peerStore.merge(p.id, { multiaddrs: p.multiaddrs }).catch(() => {});
        yield p.id;
      }
    } catch (e) {
      if (!search.aborted && process.env.PROMISEGRID_DEBUG) console.error(`finding providers of ${cid} failed:`, e);
    }
  }

  badPeer(peer: PeerId, why: string): void {
    if (process.env.PROMISEGRID_DEBUG) console.error(`dropping peer ${peer}: ${why}`);
    this.bans.ban(peer);
    void this.libp2p.hangUp(peer).catch(() => {});
  }

  isBanned(peer: PeerId): boolean {
    return this.bans.isBanned(peer);
  }

  /** The DHT's routing table size (peers it knows, connected or not). */
  routingTableSize(): number {
    const dht = (this.libp2p.services as { dht?: { routingTable?: { size: number } } }).dht;
    return dht?.routingTable?.size ?? 0;
  }
}
