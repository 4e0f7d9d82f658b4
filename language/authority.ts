// The authority rule, once: what a grant covers, how a delegated hop must
// narrow its parent, when a hop has expired, and which revocations count.
// The checker, the simulator and the grid's chain verifier all decide with
// these functions. Pure: no I/O, no crypto (the grid checks signatures first).
import type { Body, BodyArg, CapabilityDecl, DelegateDecl } from "../grammar/index.ts";

/** An amount in a currency: `3 taco`. */
export interface Amount { amount: number; unit: string }
/** One argument of a grant: a word or string, a plain number, an amount, or `*` (any one value). */
export type GrantArg = string | number | Amount;
/** A grant as it travels on the wire (in manifests and capability tokens): `run(hello)`, `pay(5 taco)`. */
export interface Grant { type: string; args: GrantArg[] }

/** As an argument, `*` stands for exactly one argument of any value. It is never a type. */
export const ANY = "*";

function isAmount(a: unknown): a is Amount {
  return typeof a === "object" && a !== null && typeof (a as Amount).amount === "number" && typeof (a as Amount).unit === "string";
}

/** Why an untrusted value is not a grant, or undefined when it is one. */
export function grantProblem(value: unknown): string | undefined {
  if (!value || typeof value !== "object") return "a grant must be an object {type, args}";
  const g = value as { type?: unknown; args?: unknown };
  if (typeof g.type !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(g.type)) return `a grant's type must be a name (not '*'), got ${JSON.stringify(g.type)}`;
  if (!Array.isArray(g.args)) return `grant ${g.type}: 'args' must be a list`;
  for (const [i, a] of g.args.entries()) {
    if (typeof a === "string") continue;
    if (typeof a === "number") { if (Number.isFinite(a)) continue; return `grant ${g.type}: argument ${i}: a number must be finite`; }
    if (isAmount(a) && Object.keys(a).length === 2) {
      if (!Number.isFinite(a.amount) || a.amount < 0) return `grant ${g.type}: argument ${i}: an amount must be a finite number, not below 0`;
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(a.unit)) return `grant ${g.type}: argument ${i}: an amount's unit must be a currency name`;
      continue;
    }
    return `grant ${g.type}: argument ${i} must be a string, a number or an {amount, unit}, got ${JSON.stringify(a) ?? String(a)}`;
  }
  return undefined;
}

/** The grant a .pg body denotes, as the wire carries it. A list or block argument is not a grant value: it covers nothing. */
export function grantOf(body: Body): Grant {
  return { type: body.type.text, args: body.args.map(grantArgOf) };
}

function grantArgOf(a: BodyArg): GrantArg {
  switch (a.kind) {
    case "any": return ANY;
    case "ident": return a.name.text;
    case "string": return a.value;
    case "number": return a.unit ? { amount: a.value, unit: a.unit.text } : a.value;
    // NaN equals nothing, itself included: only `*` covers it.
    default: return NaN;
  }
}

export function grantArgText(a: GrantArg): string {
  if (isAmount(a)) return `${a.amount} ${a.unit}`;
  return typeof a === "number" ? (Number.isNaN(a) ? "…" : String(a)) : a;
}

export function grantText(g: Grant): string {
  return `${g.type}(${g.args.map(grantArgText).join(", ")})`;
}

/** One argument: `*` covers any value; an amount covers the same or a smaller amount of the same currency; anything else covers itself. */
function argCovers(grant: GrantArg, request: GrantArg): boolean {
  if (grant === ANY) return true;
  if (isAmount(grant)) return isAmount(request) && grant.unit === request.unit && request.amount <= grant.amount;
  return grant === request;
}

/** Whether `grant` allows everything `request` asks: the same type, the same number of arguments, each covered. */
export function covers(grant: Grant, request: Grant): boolean {
  if (grant.type !== request.type || grant.args.length !== request.args.length) return false;
  for (let i = 0; i < grant.args.length; i++) if (!argCovers(grant.args[i], request.args[i])) return false;
  return true;
}

/** Whether some request is covered by both: how an offer meets an acceptance, or a grant meets a promise. */
export function meets(a: Grant, b: Grant): boolean {
  if (a.type !== b.type || a.args.length !== b.args.length) return false;
  for (let i = 0; i < a.args.length; i++) {
    const x = a.args[i], y = b.args[i];
    if (x !== ANY && y !== ANY && !argCovers(x, y) && !argCovers(y, x)) return false;
  }
  return true;
}

// ---- hops and chains ----

/** One token of a chain, root first. `K` is how the caller names keys (raw key bytes, agent indexes). */
export interface Hop<K> {
  issuer: K;
  holder: K;
  grants: readonly Grant[];
  /** How many further delegations are allowed below this hop (0: not delegable). */
  depth: number;
  /** When the hop expires, on the caller's clock; null: never. */
  exp: number | null;
}

/** A hop is expired when its expiry has been reached: at exactly `exp` it is no longer valid. */
export function expired(exp: number | null, now: number): boolean {
  return exp !== null && exp <= now;
}

/**
 * The hop a `.pg` capability or delegation declares, given its parent's hop.
 * Keys are agent names; the clock counts steps: `expires after N steps` is valid
 * through step N, so it expires at N + 1. A delegation without `expires after`
 * expires with its parent.
 */
export function declaredHop(decl: CapabilityDecl | DelegateDecl, parent?: Hop<string>): Hop<string> {
  const issuer = decl.kind === "capability" ? decl.issuer?.text : decl.by?.text ?? parent?.holder;
  const holder = decl.kind === "capability" ? decl.holder?.text : decl.to?.text;
  return {
    issuer: issuer ?? "", holder: holder ?? "",
    grants: decl.grants.map(grantOf),
    depth: declaredDepth(decl.delegable, decl.kind === "capability" ? undefined : parent?.depth ?? 0),
    exp: decl.expiresAfter ? decl.expiresAfter.steps + 1 : decl.kind === "capability" ? null : parent?.exp ?? null,
  };
}

/** The depth a `.pg` delegation declares: none without `delegable`; `delegable` alone takes what its parent leaves. */
export function declaredDepth(delegable: { depth?: number } | undefined, parentDepth: number | undefined): number {
  if (!delegable) return 0;
  if (delegable.depth !== undefined) return delegable.depth;
  return parentDepth === undefined ? 1 : Math.max(0, parentDepth - 1);
}

export type Widening =
  | { kind: "issuer" }
  | { kind: "not-delegable" }
  | { kind: "depth"; left: number }
  | { kind: "expiry" }
  | { kind: "grant"; grant: Grant };

/**
 * Every way `child` fails to narrow `parent`: it must be issued by the parent's
 * holder, the parent must have depth left, the child may allow at most one
 * delegation less, expire no later, and grant only what the parent covers.
 */
export function widenings<K>(parent: Hop<K>, child: Hop<K>, same: (a: K, b: K) => boolean = Object.is): Widening[] {
  const out: Widening[] = [];
  if (!same(child.issuer, parent.holder)) out.push({ kind: "issuer" });
  if (parent.depth < 1) out.push({ kind: "not-delegable" });
  else if (child.depth > parent.depth - 1) out.push({ kind: "depth", left: parent.depth - 1 });
  if (parent.exp !== null && (child.exp === null || child.exp > parent.exp)) out.push({ kind: "expiry" });
  for (const g of child.grants) if (!parent.grants.some((pg) => covers(pg, g))) out.push({ kind: "grant", grant: g });
  return out;
}

/**
 * Answers whether token `id` was revoked by one of `by` in the caller's view
 * (its store of signed revocations, or an agent's heard notices).
 */
export type RevokedBy<K, Id> = (id: Id, by: readonly K[]) => boolean;

export type ChainProblem =
  | { kind: "empty" }
  | { kind: "widened"; hop: number; widening: Widening }
  | { kind: "expired"; hop: number }
  | { kind: "revoked"; hop: number }
  | { kind: "not-holder" }
  | { kind: "not-granted" };

/**
 * Judges a chain, root first, at time `now`: each hop narrows its parent, has not
 * expired, and is not revoked. A hop's revocation counts only when made by its own
 * issuer or an issuer above it in the chain. With `request`, the last hop must be
 * held by `request.by` and grant `request.want`. Returns the first problem found.
 */
export function chainProblem<K, Id>(
  chain: readonly (Hop<K> & { id: Id })[],
  view: { now: number; revokedBy: RevokedBy<K, Id>; same?: (a: K, b: K) => boolean },
  request?: { by: K; want: Grant },
): ChainProblem | undefined {
  if (chain.length === 0) return { kind: "empty" };
  const same = view.same ?? Object.is;
  const issuers: K[] = [];
  for (let i = 0; i < chain.length; i++) {
    const hop = chain[i];
    if (i > 0) {
      const w = widenings(chain[i - 1], hop, same)[0];
      if (w) return { kind: "widened", hop: i, widening: w };
    }
    if (expired(hop.exp, view.now)) return { kind: "expired", hop: i };
    issuers.push(hop.issuer);
    if (view.revokedBy(hop.id, issuers)) return { kind: "revoked", hop: i };
  }
  if (request) {
    const last = chain[chain.length - 1];
    if (!same(last.holder, request.by)) return { kind: "not-holder" };
    if (!last.grants.some((g) => covers(g, request.want))) return { kind: "not-granted" };
  }
  return undefined;
}

/**
 * Until when chainProblem's verdict on `chain` at `now` stands, the view unchanged:
 * time enters it only through each hop's expiry, so it holds until the next hop not
 * yet expired at `now` expires (Infinity when none will). Lets a caller that judges
 * the same chain often keep the verdict.
 */
export function verdictStandsUntil(chain: readonly Hop<unknown>[], now: number): number {
  let until = Infinity;
  for (const hop of chain) if (hop.exp !== null && !expired(hop.exp, now) && hop.exp < until) until = hop.exp;
  return until;
}

/** Whether `by` may revoke the hop at `index`: it issued that hop or one above it. */
export function mayRevoke<K>(chain: readonly { issuer: K }[], index: number, by: K, same: (a: K, b: K) => boolean = Object.is): boolean {
  for (let i = 0; i <= index && i < chain.length; i++) if (same(chain[i].issuer, by)) return true;
  return false;
}
