// Capability tokens: issued by a key, delegable with attenuation (fewer
// grants, no later expiry, less depth), expiring, revocable. A deploy carries
// the chain from a root token down to the key that signs the deploy; which
// roots a node honours is its policy's (grid/policy.ts; without one, its own key).
import { randomBytes } from "node:crypto";
import { equals } from "multiformats/bytes";
import type { CID } from "multiformats/cid";
import { keyId, type PrivateKey } from "./keys.ts";
import { chainProblem, covers, grantProblem, grantText, type Hop, type Widening } from "../language/authority.ts";
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

/** Whether the grant `parent` allows everything `child` asks (the language's rule, language/authority.ts). */
export { covers };

export type RefusalCode = "malformed" | "forged" | "foreign-root" | "broken-chain" | "expired" | "widened" | "revoked" | "not-granted" | "not-promised" | "no-capability";

export class Refusal extends Error {
  constructor(readonly code: RefusalCode, message: string) {
    super(message);
  }
}

function isTokenPayload(p: unknown): p is TokenPayload {
  const t = p as TokenPayload;
  return !!t && t.type === "promisegrid/capability" && t.iss instanceof Uint8Array && t.aud instanceof Uint8Array &&
    Array.isArray(t.grants) && t.grants.every((g) => grantProblem(g) === undefined) &&
    Number.isInteger(t.depth) && t.depth >= 0 && (t.exp === null || Number.isFinite(t.exp)) && typeof t.name === "string";
}

export interface ChainContext {
  nodeKey: Uint8Array;
  now: number;
  /** Whether `token` was revoked by `by` (a key that issued this token or one above it). */
  isRevoked(token: CID, issuers: Uint8Array[]): boolean;
}

/** A deploy request whose own signature and every hop's signature have been checked: what a policy judges. */
export interface CheckedRequest {
  payload: DeployPayload;
  /** The token CIDs, root first. */
  cids: CID[];
  /** The chain as the authority rule sees it, root first. */
  hops: (Hop<Uint8Array> & { id: CID })[];
}

/**
 * The shapes and signatures of a signed deploy request: its holder's signature,
 * then each hop's issuer signature. Throws a Refusal (malformed, forged). The
 * chain may be empty: whether a capability is needed is the policy's question.
 */
export async function checkRequest(request: Signed<DeployPayload>): Promise<CheckedRequest> {
  const p = request?.payload;
  if (!p || p.type !== "promisegrid/deploy" || !(p.holder instanceof Uint8Array) || !Array.isArray(p.chain) || typeof p.workload !== "string") {
    throw new Refusal("malformed", "the deploy request is malformed (expected a signed promisegrid/deploy record)");
  }
  if (!(await verifyRecord(request))) throw new Refusal("forged", "the deploy request's signature does not match its holder key");
  const cids: CID[] = [];
  for (let i = 0; i < p.chain.length; i++) {
    const t = p.chain[i];
    const where = `capability ${i} ('${t?.payload?.name ?? "?"}')`;
    if (!t || !isTokenPayload(t.payload) || !(t.sig instanceof Uint8Array)) throw new Refusal("malformed", `${where} is not a capability token`);
    if (!(await verifyRecord(t))) throw new Refusal("forged", `${where} is forged: its signature does not match its issuer key (${keyId(t.payload.iss)})`);
    cids.push(await recordCid(t));
  }
  const hops = p.chain.map((t, i) => ({
    id: cids[i], issuer: t.payload.iss, holder: t.payload.aud, grants: t.payload.grants, depth: t.payload.depth, exp: t.payload.exp,
  }));
  return { payload: p, cids, hops };
}

/** The authority rule (language/authority.ts) on a checked chain: the last hop held by the deploy's signer and granting run(workload). */
export function chainRefusal(r: CheckedRequest, view: { now: number; isRevoked(token: CID, issuers: Uint8Array[]): boolean }): Refusal | undefined {
  const p = r.payload;
  const want: Body = { type: "run", args: [p.workload] };
  const problem = chainProblem(r.hops, { now: view.now, revokedBy: (id, by) => view.isRevoked(id, [...by]), same: equals }, { by: p.holder, want });
  if (!problem) return undefined;
  const where = (i: number) => `capability ${i} ('${p.chain[i].payload.name}')`;
  switch (problem.kind) {
    case "empty": return new Refusal("malformed", "the deploy request carries no capability");
    case "widened": return widened(where(problem.hop), problem.hop, problem.widening, p.chain[problem.hop].payload.depth);
    case "expired": return new Refusal("expired", `${where(problem.hop)} expired at ${new Date(p.chain[problem.hop].payload.exp!).toISOString()}`);
    case "revoked": return new Refusal("revoked", `${where(problem.hop)} (${r.cids[problem.hop]}) has been revoked`);
    case "not-holder": return new Refusal("broken-chain", `the last capability is held by ${keyId(r.hops.at(-1)!.holder)}, not by ${keyId(p.holder)}, the key that signed the deploy`);
    case "not-granted": return new Refusal("not-granted", `the capability does not grant run(${p.workload})`);
  }
}

/**
 * The node without a policy: its own key is the only root. Checks a signed
 * deploy request (signatures, then the chain from the node's own token down to
 * the holder). Throws a Refusal saying which token and why; returns the token CIDs, root first.
 */
export async function verifyDeploy(request: Signed<DeployPayload>, ctx: ChainContext): Promise<CID[]> {
  const r = await checkRequest(request);
  if (r.hops.length === 0) throw new Refusal("malformed", "the deploy request carries no capability");
  if (!equals(r.hops[0].issuer, ctx.nodeKey)) {
    throw new Refusal("foreign-root", `capability 0 ('${r.payload.chain[0].payload.name}') was not issued by this node's key (${keyId(ctx.nodeKey)}) but by ${keyId(r.hops[0].issuer)}, so it grants nothing here`);
  }
  const refusal = chainRefusal(r, ctx);
  if (refusal) throw refusal;
  return r.cids;
}

function widened(where: string, i: number, w: Widening, depth: number): Refusal {
  switch (w.kind) {
    case "issuer": return new Refusal("broken-chain", `${where} is issued by a key that does not hold capability ${i - 1}`);
    case "not-delegable": return new Refusal("widened", `${where} delegates capability ${i - 1}, which is not delegable`);
    case "depth": return new Refusal("widened", `${where} allows ${depth} further delegations, more than its parent leaves (${w.left})`);
    case "expiry": return new Refusal("widened", `${where} expires later than its parent`);
    case "grant": return new Refusal("widened", `${where} grants ${grantText(w.grant)}, which its parent does not`);
  }
}
