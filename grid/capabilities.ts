// Capability tokens: issued by a node's key, delegable with attenuation (fewer
// grants, no later expiry, less depth), expiring, revocable. A deploy carries
// the chain from the node's own token down to the key that signs the deploy.
import { randomBytes } from "node:crypto";
import { equals } from "multiformats/bytes";
import type { CID } from "multiformats/cid";
import type { PrivateKey } from "./keys.ts";
import { recordCid, signRecord, verifyRecord, type Body, type DeployPayload, type Signed, type TokenPayload } from "./records.ts";

export type Token = Signed<TokenPayload>;

export interface IssueOptions {
  name: string;
  audience: Uint8Array;
  grants: Body[];
  depth?: number;
  /** Milliseconds since the epoch, or null for no expiry. */
  expires?: number | null;
}

export async function issueToken(key: PrivateKey, o: IssueOptions): Promise<Token> {
  return signRecord(key, {
    type: "promisegrid/capability",
    v: 0,
    name: o.name,
    iss: key.publicKey.raw,
    aud: o.audience,
    grants: o.grants,
    depth: o.depth ?? 0,
    exp: o.expires ?? null,
    nonce: new Uint8Array(randomBytes(8)),
  });
}

/** Delegates `parent` (held by `key`) onward. Does not check attenuation: the verifier does. */
export async function delegateToken(key: PrivateKey, parent: Token, o: Omit<IssueOptions, "name"> & { name?: string }): Promise<Token> {
  return issueToken(key, { name: o.name ?? parent.payload.name, ...o });
}

function argCovers(parent: unknown, child: unknown): boolean {
  if (parent === "*") return true;
  if (typeof parent === "string" || typeof parent === "number") return parent === child;
  if (parent && typeof parent === "object" && child && typeof child === "object") {
    const p = parent as { amount?: unknown; unit?: unknown };
    const c = child as { amount?: unknown; unit?: unknown };
    return typeof p.amount === "number" && typeof c.amount === "number" && p.unit === c.unit && c.amount <= p.amount;
  }
  return false;
}

/** Whether the grant `parent` allows everything `child` asks. */
export function covers(parent: Body, child: Body): boolean {
  if (parent.type !== child.type && parent.type !== "*") return false;
  if (!Array.isArray(parent.args) || !Array.isArray(child.args) || parent.args.length !== child.args.length) return false;
  return parent.args.every((a, i) => argCovers(a, child.args[i]));
}

export type RefusalCode = "malformed" | "forged" | "foreign-root" | "broken-chain" | "expired" | "widened" | "revoked" | "not-granted";

export class Refusal extends Error {
  constructor(readonly code: RefusalCode, message: string) {
    super(message);
  }
}

function isTokenPayload(p: unknown): p is TokenPayload {
  const t = p as TokenPayload;
  return !!t && t.type === "promisegrid/capability" && t.iss instanceof Uint8Array && t.aud instanceof Uint8Array &&
    Array.isArray(t.grants) && t.grants.every((g) => g && typeof g.type === "string" && Array.isArray(g.args)) &&
    Number.isInteger(t.depth) && t.depth >= 0 && (t.exp === null || typeof t.exp === "number") && typeof t.name === "string";
}

export interface ChainContext {
  nodeKey: Uint8Array;
  now: number;
  /** Whether `token` was revoked by `by` (a key that issued this token or one above it). */
  isRevoked(token: CID, issuers: Uint8Array[]): boolean;
}

/**
 * Checks a signed deploy request: the holder's signature, then every hop of the
 * chain from the node's own key down to the holder. Throws a Refusal saying
 * which token and why; returns the token CIDs, root first.
 */
export async function verifyDeploy(request: Signed<DeployPayload>, ctx: ChainContext): Promise<CID[]> {
  const p = request.payload;
  if (!p || p.type !== "promisegrid/deploy" || !(p.holder instanceof Uint8Array) || !Array.isArray(p.chain) || typeof p.workload !== "string") {
    throw new Refusal("malformed", "the deploy request is malformed (expected a signed promisegrid/deploy record)");
  }
  if (!(await verifyRecord(request))) throw new Refusal("forged", "the deploy request's signature does not match its holder key");
  if (p.chain.length === 0) throw new Refusal("malformed", "the deploy request carries no capability");
  const cids: CID[] = [];
  const issuers: Uint8Array[] = [];
  for (let i = 0; i < p.chain.length; i++) {
    const t = p.chain[i];
    const where = `capability ${i} ('${t?.payload?.name ?? "?"}')`;
    if (!t || !isTokenPayload(t.payload) || !(t.sig instanceof Uint8Array)) throw new Refusal("malformed", `${where} is not a capability token`);
    if (!(await verifyRecord(t))) throw new Refusal("forged", `${where} is forged: its signature does not match its issuer key`);
    const cid = await recordCid(t);
    cids.push(cid);
    if (i === 0) {
      if (!equals(t.payload.iss, ctx.nodeKey)) throw new Refusal("foreign-root", `${where} was not issued by this node's key, so it grants nothing here`);
    } else {
      const parent = p.chain[i - 1].payload;
      if (!equals(t.payload.iss, parent.aud)) throw new Refusal("broken-chain", `${where} is issued by a key that does not hold capability ${i - 1}`);
      if (parent.depth < 1) throw new Refusal("widened", `${where} delegates capability ${i - 1}, which is not delegable`);
      if (t.payload.depth > parent.depth - 1) throw new Refusal("widened", `${where} allows ${t.payload.depth} further delegations, more than its parent leaves (${parent.depth - 1})`);
      if (parent.exp !== null && (t.payload.exp === null || t.payload.exp > parent.exp)) throw new Refusal("widened", `${where} expires later than its parent`);
      for (const g of t.payload.grants) {
        if (!parent.grants.some((pg) => covers(pg, g))) throw new Refusal("widened", `${where} grants ${g.type}(${g.args.map(String).join(", ")}), which its parent does not`);
      }
    }
    if (t.payload.exp !== null && t.payload.exp <= ctx.now) {
      throw new Refusal("expired", `${where} expired at ${new Date(t.payload.exp).toISOString()}`);
    }
    issuers.push(t.payload.iss);
    if (ctx.isRevoked(cid, issuers)) throw new Refusal("revoked", `${where} (${cid}) has been revoked`);
  }
  const last = p.chain[p.chain.length - 1].payload;
  if (!equals(last.aud, p.holder)) throw new Refusal("broken-chain", "the last capability is held by another key than the one that signed the deploy");
  const want: Body = { type: "run", args: [p.workload] };
  if (!last.grants.some((g) => covers(g, want))) throw new Refusal("not-granted", `the capability does not grant run(${p.workload})`);
  return cids;
}
