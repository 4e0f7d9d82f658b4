// State shared by peers: revocations and assessments, each a signed record.
// It is a grow-only set keyed by record CID, so merging is a set union:
// commutative, associative and idempotent (any merge order gives one state).
import { equals } from "multiformats/bytes";
import type { CID } from "multiformats/cid";
import { asSigned, recordCid, verifyRecord, type AssessmentPayload, type RevocationPayload, type Signed } from "./records.ts";

export type Revocation = Signed<RevocationPayload>;
export type Assessment = Signed<AssessmentPayload>;
export type StateRecord = Revocation | Assessment;

export class GridState {
  readonly revocations = new Map<string, Revocation>();
  readonly assessments = new Map<string, Assessment>();
  /** Revoked token CID -> keys that revoked it. */
  private readonly revokedBy = new Map<string, Uint8Array[]>();

  /** Adds a record after checking its shape and signature; returns its CID when it was new. */
  async add(value: unknown): Promise<CID | undefined> {
    const rec = asSigned(value, "promisegrid/revocation") ?? asSigned(value, "promisegrid/assessment");
    if (!rec) throw new Error("not a signed revocation or assessment");
    if (!(await verifyRecord(rec))) throw new Error(`the ${rec.payload.type} record's signature does not match its author`);
    const cid = await recordCid(rec);
    const key = cid.toString();
    if (rec.payload.type === "promisegrid/revocation") {
      const r = rec as Revocation;
      if (this.revocations.has(key)) return undefined;
      this.revocations.set(key, r);
      const t = r.payload.token.toString();
      this.revokedBy.set(t, [...(this.revokedBy.get(t) ?? []), r.payload.by]);
    } else {
      if (this.assessments.has(key)) return undefined;
      this.assessments.set(key, rec as Assessment);
    }
    return cid;
  }

  /** Merges another state into this one. */
  async merge(other: GridState): Promise<void> {
    for (const r of [...other.revocations.values(), ...other.assessments.values()]) await this.add(r);
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
