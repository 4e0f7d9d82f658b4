// Who may fetch which block over /promisegrid/blocks. Public: the chunks of
// the workload files of deploys this node accepted (code and images, which it
// announces on the DHT anyway): any peer gets them. Everything else only for
// a peer that shows a deploy request, addressed to itself (the chain's root is
// its key), signed by a holder who deployed that same manifest on this node,
// and only blocks of that manifest (its root, workloads, file chunks): a
// workload block holds args and env. Outputs no one, even when a manifest lists
// one as a file chunk (any deployer can write such a manifest): this node
// records the outputs it wrote. Anything else is "missing".
import { readIndexLines } from "./files.ts";
import { appendFile } from "node:fs/promises";
import * as dagCbor from "@ipld/dag-cbor";
import * as raw from "multiformats/codecs/raw";
import { equals } from "multiformats/bytes";
import { CID } from "multiformats/cid";
import { asSigned, verifyRecord, type DeployPayload, type Signed } from "./records.ts";
import type { BlockStore } from "./store.ts";

/** Blocks walked in one manifest at most. */
const MAX_DAG = 100_000;

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

/** The CIDs a decoded DAG-CBOR value links to. */
function links(value: unknown, out: CID[], depth = 0): void {
  if (depth > 64) return;
  const cid = CID.asCID(value);
  if (cid) out.push(cid);
  else if (Array.isArray(value)) for (const v of value) links(v, out, depth + 1);
  else if (value && typeof value === "object" && !(value instanceof Uint8Array)) for (const v of Object.values(value)) links(v, out, depth + 1);
}

export class BlockAccess {
  /** Manifest CID -> holders (hex keys) whose deploys of it this node accepted. */
  private readonly holders = new Map<string, Set<string>>();
  /** Public blocks: workload file chunks (CID strings), listed in `publicPath`. */
  private readonly open = new Set<string>();
  /** Outputs of this node's deployments (CID strings), listed in `outputsPath`: given to no peer. */
  private readonly outputs = new Set<string>();
  constructor(private readonly store: BlockStore, private readonly indexPath: string, private readonly publicPath: string, private readonly outputsPath: string) {}

  async load(): Promise<void> {
    for (const line of await readIndexLines(this.indexPath)) {
      const [manifest, holder] = line.split(" ");
      if (manifest && /^[0-9a-f]{64}$/.test(holder ?? "")) this.add(manifest, holder);
    }
    for (const [path, set] of [[this.publicPath, this.open], [this.outputsPath, this.outputs]] as const) {
      for (const line of await readIndexLines(path)) {
        try {
          set.add(CID.parse(line.trim()).toString());
        } catch {
          // a line cut short by a crash
        }
      }
    }
    for (const c of this.outputs) this.open.delete(c);
  }

  /** Records a deployment's output, before anyone learns its CID, so that no manifest can make it fetchable. */
  async markOutput(cid: CID): Promise<void> {
    const c = cid.toString();
    // Bytes already public (a workload may print a public chunk) are no secret, and must not become one: an output
    // never hides a chunk other deployments serve.
    if (this.outputs.has(c) || this.open.has(c)) return;
    this.outputs.add(c);
    this.open.delete(c);
    await appendFile(this.outputsPath, c + "\n", { mode: 0o600 });
  }

  /** Makes workload file chunks public (the node provides them on the DHT): raw blocks only, never an output. */
  async makePublic(chunks: CID[]): Promise<void> {
    const fresh = chunks.filter((c) => c.code === raw.code).map(String).filter((c) => !this.open.has(c) && !this.outputs.has(c));
    if (fresh.length === 0) return;
    for (const c of fresh) this.open.add(c);
    await appendFile(this.publicPath, fresh.map((c) => c + "\n").join(""), { mode: 0o600 });
  }

  private add(manifest: string, holder: string): boolean {
    const set = this.holders.get(manifest) ?? new Set<string>();
    this.holders.set(manifest, set);
    if (set.has(holder)) return false;
    set.add(holder);
    return true;
  }

  /** Records that `holder` deployed `manifest` here (after the deploy was accepted). */
  async deployed(manifest: CID, holder: Uint8Array): Promise<void> {
    if (this.add(manifest.toString(), hex(holder))) await appendFile(this.indexPath, `${manifest} ${hex(holder)}\n`, { mode: 0o600 });
  }

  /** Every block of the manifest's DAG that is in the store. */
  private async dag(root: CID): Promise<Set<string>> {
    const seen = new Set<string>();
    const queue = [root];
    while (queue.length && seen.size < MAX_DAG) {
      const cid = queue.shift()!;
      if (seen.has(cid.toString())) continue;
      seen.add(cid.toString());
      if (cid.code !== dagCbor.code) continue;
      const bytes = await this.store.get(cid).catch(() => undefined);
      if (!bytes) continue;
      try {
        links(dagCbor.decode(bytes), queue);
      } catch {
        // not DAG-CBOR after all: a leaf
      }
    }
    return seen;
  }

  /** Deploy requests (signature, peer key) this node sent to a peer over /promisegrid/deploy (in memory: a request is good for minutes). */
  private readonly sent = new Set<string>();

  /** Records that this node sent the signed request with signature `sig` to the peer whose key is `peerKey`. */
  sentTo(sig: Uint8Array, peerKey: Uint8Array): void {
    if (this.sent.size > 10_000) this.sent.clear();
    this.sent.add(`${hex(sig)} ${hex(peerKey)}`);
  }

  /** Which of `cids` the peer whose key is `peerKey` may fetch, given the deploy request it shows (or none). */
  async allowed(peerKey: Uint8Array | undefined, request: unknown, cids: CID[]): Promise<Set<string>> {
    const open = new Set(cids.map(String).filter((c) => this.open.has(c)));
    const r = asSigned(request, "promisegrid/deploy") as Signed<DeployPayload> | undefined;
    if (!peerKey || !r || r.payload.chain.length === 0 || !(await verifyRecord(r))) return open;
    // Addressed to the peer: its key is the chain's root, or this node sent it this very request (remote.ts).
    if (!equals(r.payload.chain[0].payload.iss, peerKey) && !this.sent.has(`${hex(r.sig)} ${hex(peerKey)}`)) return open;
    if (!this.holders.get(r.payload.manifest.toString())?.has(hex(r.payload.holder))) return open;
    const dag = await this.dag(r.payload.manifest);
    return new Set(cids.map(String).filter((c) => open.has(c) || (dag.has(c) && !this.outputs.has(c))));
  }
}
