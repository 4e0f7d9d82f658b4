// State shared by peers: revocations and assessments, each a signed record.
// Merging is a set union keyed by record CID (commutative, associative,
// idempotent), within bounds any key could otherwise exhaust: every record's
// shape and size is checked; a revocation must prove that its author issued the
// revoked hop or one above it; each author has a quota; assessments beyond an
// author's quota drop the oldest (the same ones on every node).
import { readIndexLines } from "./files.ts";
import { appendFile, open, writeFile, type FileHandle } from "node:fs/promises";
import { equals } from "multiformats/bytes";
import { CID as CIDClass, type CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import * as dagCbor from "@ipld/dag-cbor";
import type { BlockStore } from "./store.ts";
import { asSigned, recordCid, verifyRecord, type AssessmentPayload, type RevocationPayload, type Signed, type TokenPayload } from "./records.ts";

export type Revocation = Signed<RevocationPayload>;
export type Assessment = Signed<AssessmentPayload>;
export type StateRecord = Revocation | Assessment;

/** Revocations one key may have in the state. */
export const MAX_REVOCATIONS_PER_AUTHOR = 1024;
/** Assessments kept per node key (the newest). */
export const MAX_ASSESSMENTS_PER_AUTHOR = 1024;
/** Bytes of revocations whose chain is not rooted at this node's key (others' business, kept while room lasts). */
export const MAX_FOREIGN_BYTES = 32 * 1024 * 1024;

export class StateError extends Error {
  /** `bound`: a well-formed, signed record this state has no room for (its author's quota, others' revocations): no fault of whoever passed it on. */
  constructor(message: string, readonly bound = false) {
    super(message);
  }
}

/** How this node learnt a record: made or handed to it here, pushed by gossip, pulled by a state sync (`from`: the peer that sent it), or read back from its data dir at start. */
export interface Learnt {
  via: "here" | "gossip" | "sync" | "disk";
  from?: string;
}

function hexKey(k: Uint8Array): string {
  return Buffer.from(k).toString("hex");
}

export class GridState {
  readonly revocations = new Map<string, Revocation>();
  readonly assessments = new Map<string, Assessment>();
  /** Revoked token CID -> keys that revoked it. */
  private readonly revokedBy = new Map<string, Uint8Array[]>();
  private readonly revocationsBy = new Map<string, number>();
  /** Author -> its assessments' CIDs, oldest first. */
  private readonly assessmentsBy = new Map<string, { cid: string; at: number }[]>();
  private foreignBytes = 0;
  /** Record CID -> when (ms since the epoch, sub-millisecond) and how this node learnt it; local, never merged. */
  readonly learnt = new Map<string, Learnt & { at: number }>();

  /** `nodeKey`: revocations of chains rooted here always fit (within their author's quota). */
  constructor(private readonly nodeKey?: Uint8Array) {}

  /** Adds a record after checking its shape, size, signature and bounds; returns its CID when it was new. Throws StateError saying why not. */
  async add(value: unknown, how: Learnt = { via: "here" }): Promise<CID | undefined> {
    const rec = asSigned(value, "promisegrid/revocation") ?? asSigned(value, "promisegrid/assessment");
    if (!rec) throw new StateError("not a well-formed signed revocation or assessment (every field checked, size bounded)");
    if (!(await verifyRecord(rec))) throw new StateError(`the ${rec.payload.type} record's signature or proof does not hold`);
    const cid = await recordCid(rec);
    const key = cid.toString();
    if (rec.payload.type === "promisegrid/revocation") {
      const r = rec as Revocation;
      if (this.revocations.has(key)) return undefined;
      const by = hexKey(r.payload.by);
      const count = this.revocationsBy.get(by) ?? 0;
      if (count >= MAX_REVOCATIONS_PER_AUTHOR) throw new StateError(`key ${by.slice(0, 16)}… already has ${count} revocations, the most one key may have`, true);
      const foreign = !this.nodeKey || !equals(r.payload.chain[0].payload.iss, this.nodeKey);
      const size = dagCbor.encode(r).length;
      if (foreign && this.foreignBytes + size > MAX_FOREIGN_BYTES) throw new StateError("no room for more revocations of other nodes' capabilities", true);
      if (foreign) this.foreignBytes += size;
      this.revocationsBy.set(by, count + 1);
      this.revocations.set(key, r);
      const t = r.payload.token.toString();
      this.revokedBy.set(t, [...(this.revokedBy.get(t) ?? []), r.payload.by]);
    } else {
      const a = rec as Assessment;
      if (this.assessments.has(key)) return undefined;
      const by = hexKey(a.payload.node);
      const mine = this.assessmentsBy.get(by) ?? [];
      const older = (x: { cid: string; at: number }, y: { cid: string; at: number }) => x.at < y.at || (x.at === y.at && x.cid < y.cid);
      const entry = { cid: key, at: a.payload.at };
      // Full: the oldest goes, unless this one is older still (then it is the one not kept).
      if (mine.length >= MAX_ASSESSMENTS_PER_AUTHOR && older(entry, mine[0])) return undefined;
      let i = mine.length;
      while (i > 0 && older(entry, mine[i - 1])) i--;
      mine.splice(i, 0, entry);
      this.assessmentsBy.set(by, mine);
      this.assessments.set(key, a);
      while (mine.length > MAX_ASSESSMENTS_PER_AUTHOR) {
        const gone = mine.shift()!.cid;
        this.assessments.delete(gone);
        this.learnt.delete(gone);
      }
    }
    this.learnt.set(key, { at: performance.timeOrigin + performance.now(), ...how });
    return cid;
  }

  /** Merges another state into this one. */
  async merge(other: GridState): Promise<void> {
    for (const r of other.records()) await this.add(r).catch(() => {});
  }

  /** Whether `token` is revoked by one of `issuers` (the token's issuer or one above it in the chain). */
  isRevoked(token: CID, issuers: Uint8Array[]): boolean {
    const by = this.revokedBy.get(token.toString());
    return !!by && by.some((k) => issuers.some((i) => equals(i, k)));
  }

  records(): StateRecord[] {
    return [...this.revocations.values(), ...this.assessments.values()];
  }

  /** A canonical summary: the sorted record CIDs. Equal states give equal summaries. */
  summary(): string[] {
    return [...this.revocations.keys(), ...this.assessments.keys()].sort();
  }
}

/**
 * The capability chains this node can prove: the tokens it issued and the
 * chains of deploys it accepted, so it can revoke any hop under its key. Each
 * chain prefix is a block in the store; `token-index` maps a token to its chain.
 */
export class TokenBook {
  private readonly chains = new Map<string, CID>();
  constructor(private readonly store: BlockStore, private readonly indexPath: string) {}

  async load(): Promise<void> {
    for (const line of await readIndexLines(this.indexPath)) {
      const [token, chain] = line.trim().split(" ");
      try {
        this.chains.set(CIDClass.parse(token).toString(), CIDClass.parse(chain));
      } catch {
        // a line cut short by a crash
      }
    }
  }

  /** Records every hop of `chain` (root first), each with the hops above it. */
  async remember(chain: Signed<TokenPayload>[]): Promise<void> {
    for (let i = 0; i < chain.length; i++) {
      const token = (await recordCid(chain[i])).toString();
      if (this.chains.has(token)) continue;
      const bytes = dagCbor.encode(chain.slice(0, i + 1));
      const cid = CIDClass.createV1(dagCbor.code, await sha256.digest(bytes));
      await this.store.put(cid, bytes);
      await appendFile(this.indexPath, `${token} ${cid}\n`, { mode: 0o600 });
      this.chains.set(token, cid);
    }
  }

  /** The chain from the root down to `token`, when this node knows it. */
  async chainTo(token: CID): Promise<Signed<TokenPayload>[] | undefined> {
    const cid = this.chains.get(token.toString());
    const bytes = cid && (await this.store.get(cid).catch(() => undefined));
    return bytes ? (dagCbor.decode(bytes) as Signed<TokenPayload>[]) : undefined;
  }
}

/**
 * Deploy requests already used, by signature, within the window in which a
 * request is valid at all; kept in `seen-requests` so a restart does not forget.
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();
  /** Kept open: a deploy pays for one write and one fsync, not an open and a close too. */
  private file?: Promise<FileHandle>;
  constructor(private readonly path: string, readonly windowMs: number) {}

  /** Loads what is still inside the window and rewrites the file with only that. */
  async load(now: number): Promise<void> {
    for (const line of await readIndexLines(this.path)) {
      const [sig, at] = line.split(" ");
      if (sig && Number.isSafeInteger(Number(at)) && Math.abs(now - Number(at)) <= this.windowMs) this.seen.set(sig, Number(at));
    }
    await writeFile(this.path, [...this.seen].map(([s, at]) => `${s} ${at}\n`).join(""), { mode: 0o600 });
  }

  /** Marks a request used (durably, before it runs); false when it was used already. */
  async use(sig: Uint8Array, at: number, now: number): Promise<boolean> {
    const key = Buffer.from(sig).toString("base64");
    if (this.seen.has(key)) return false;
    for (const [k, t] of this.seen) if (Math.abs(now - t) > this.windowMs) this.seen.delete(k);
    this.seen.set(key, at);
    const file = (this.file ??= open(this.path, "a", 0o600));
    let fh: FileHandle;
    try {
      fh = await file;
    } catch (e) {
      if (this.file === file) this.file = undefined; // a failed open is tried again by the next use
      throw e;
    }
    await fh.write(`${key} ${at}\n`);
    await fh.sync();
    return true;
  }

  /** Closes the file the marks are appended to. */
  async close(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    await (await file?.catch(() => undefined))?.close();
  }
}
