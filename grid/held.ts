// The state of a token chain someone holds, as a node sees it: revoked (by the
// issuer of a hop or of one above it, in this node's state), expired (by this
// node's clock), or valid. Valid here means only "not revoked, not expired":
// whether a node honours it is that node's judgement at deploy time.
import * as dagCbor from "@ipld/dag-cbor";
import { asSigned, recordCid, verifyRecord, type Signed, type TokenPayload } from "./records.ts";
import type { GridState } from "./state.ts";
import { keyId } from "./keys.ts";

export type HeldState = "valid" | "expired" | "revoked" | "invalid";

export interface HeldToken {
  /** The CID of the chain's last token (the one held). */
  cid: string;
  name: string;
  issuer: string;
  holder: string;
  exp: number | null;
  state: HeldState;
  /** Which hop (0: the root) is expired or revoked, and why, when not valid. */
  reason?: string;
}

/** Chains a client may ask about at once, and hops per chain. */
export const MAX_CHAINS = 256;
export const MAX_HOPS = 16;

/** Decodes a chain of base64 DAG-CBOR tokens (root first); undefined when it is not one. */
export function decodeChain(value: unknown): Signed<TokenPayload>[] | undefined {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_HOPS) return undefined;
  const out: Signed<TokenPayload>[] = [];
  for (const v of value) {
    if (typeof v !== "string" || v.length > 64 * 1024) return undefined;
    let t;
    try {
      t = asSigned(dagCbor.decode(Buffer.from(v, "base64")), "promisegrid/capability");
    } catch {
      return undefined;
    }
    const p = t?.payload as TokenPayload | undefined;
    if (!t || !p || !(p.iss instanceof Uint8Array) || p.iss.length !== 32 || !(p.aud instanceof Uint8Array) || p.aud.length !== 32 || typeof p.name !== "string") return undefined;
    out.push(t as Signed<TokenPayload>);
  }
  return out;
}

export async function heldState(chain: Signed<TokenPayload>[], state: GridState, now: number): Promise<HeldToken> {
  const last = chain[chain.length - 1].payload;
  const base = { cid: (await recordCid(chain[chain.length - 1])).toString(), name: last.name, issuer: keyId(last.iss), holder: keyId(last.aud), exp: last.exp };
  for (let i = 0; i < chain.length; i++) {
    const t = chain[i];
    if (!(await verifyRecord(t))) return { ...base, state: "invalid", reason: `hop ${i} is forged` };
    const issuers = chain.slice(0, i + 1).map((x) => x.payload.iss);
    if (state.isRevoked(await recordCid(t), issuers)) return { ...base, state: "revoked", reason: `hop ${i} ('${t.payload.name}') was revoked` };
    if (t.payload.exp !== null && t.payload.exp <= now) return { ...base, state: "expired", reason: `hop ${i} ('${t.payload.name}') expired at ${new Date(t.payload.exp).toISOString()}` };
  }
  return { ...base, state: "valid" };
}
