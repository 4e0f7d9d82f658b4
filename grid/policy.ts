// A node's policy is its agent's promises: `node start --policy FILE.pg --as
// AGENT` makes the node that agent, and it honours a deploy of workload W
// exactly when one of the agent's `+run(W)` (or `+run(*)`) promises to the
// deployer (or to `*`) has a condition that holds in the node's own view.
// `holds(CAP)` holds when the deploy's chain is rooted at a token CAP's issuer
// signed (with the key the file gives that agent) within what CAP declares,
// and the chain passes the authority rule (language/authority.ts). What the
// node cannot observe (`kept(P)`) is unknown, and unknown does not honour.
import { resolve } from "node:path";
import { equals } from "multiformats/bytes";
import type { CID } from "multiformats/cid";
import type { CapabilityDecl, Condition, DelegateDecl, PromiseDecl } from "../grammar/index.ts";
import { check, covers, declaredDepth, grantOf, grantText, loadProgram, type Grant, type Program } from "../language/index.ts";
import { diskHost } from "../language/host.ts";
import { publicKeyOf } from "../language/did.ts";
import { checkRequest, chainRefusal, Refusal, verifyDeploy, type CheckedRequest } from "./capabilities.ts";
import { keyId } from "./keys.ts";
import type { DeployPayload, Signed } from "./records.ts";
import { defaultPromises, type OfferCondition, type OfferedPromise } from "./offers.ts";

/** What the node knows when it judges: its clock and its revocations. */
export interface PolicyView {
  now: number;
  isRevoked(token: CID, issuers: Uint8Array[]): boolean;
}

export type Judgement = { ok: true; cids: CID[]; because: string } | { ok: false; refusal: Refusal };

export interface Policy {
  /** The agent the node is, or null for the default (no policy file). */
  agent: string | null;
  /** The agent's name for a key, when the policy file binds one to it. */
  agentOf(key: Uint8Array): string | undefined;
  /** An agent's key as the policy file binds it (the node's own agent: the node's key). */
  keyOf(agent: string): Uint8Array | undefined;
  judge(request: Signed<DeployPayload>, view: PolicyView): Promise<Judgement>;
  /** The agent's +run promises as its offer states them (grid/offers.ts): what placement reads. */
  promises(): OfferedPromise[];
}

/** A policy file that cannot make this node its agent; the message says why. */
export class PolicyError extends Error {}

function refusalOf(e: unknown): Judgement {
  if (e instanceof Refusal) return { ok: false, refusal: e };
  throw e;
}

/** The node without a policy: its own key is the only root it honours (and the API's token holder gets root tokens). */
export function ownKeyPolicy(nodeKey: Uint8Array): Policy {
  return {
    agent: null,
    agentOf: (k) => (equals(k, nodeKey) ? "this node" : undefined),
    keyOf: () => undefined,
    promises: () => defaultPromises(nodeKey),
    async judge(request, view) {
      try {
        const cids = await verifyDeploy(request, { nodeKey, ...view });
        return { ok: true, cids, because: "a chain rooted at this node's key" };
      } catch (e) {
        return refusalOf(e);
      }
    },
  };
}

type Truth = { value: boolean | undefined; why: string };

/**
 * Loads FILE.pg (it must check without errors) and makes the node AGENT: an
 * agent of kind node whose key, if the file gives one, is `nodeKey`.
 */
export function loadPolicy(file: string, agent: string, nodeKey: Uint8Array): Policy {
  const program = loadProgram([resolve(file)], diskHost);
  const errors = check(program).filter((d) => d.severity === "error");
  if (errors.length) {
    const first = errors[0];
    throw new PolicyError(`the policy file ${file} has ${errors.length} error${errors.length === 1 ? "" : "s"} (first: ${first.code} ${first.message}); run \`promisegrid check ${file}\``);
  }
  return programPolicy(program, agent, nodeKey, file);
}

/** The agents' keys a checked program binds (`key "did:key:…"`). */
export function agentKeys(program: Program): Map<string, Uint8Array> {
  const keys = new Map<string, Uint8Array>();
  for (const { decl } of program.declarations("agent")) {
    const f = decl.fields.find((x) => x.key.text === "key");
    if (f?.value?.kind === "string") keys.set(decl.name.text, publicKeyOf(f.value.value));
  }
  return keys;
}

export function programPolicy(program: Program, agent: string, nodeKey: Uint8Array, file = "the policy file"): Policy {
  const sym = program.lookup("agent", agent);
  if (!sym || sym.decl.kind !== "agent") {
    const names = program.declarations("agent").map(({ decl }) => decl.name.text);
    throw new PolicyError(`${file} has no agent '${agent}' (its agents: ${names.join(", ") || "none"})`);
  }
  const kind = sym.decl.fields.find((f) => f.key.text === "kind")?.value;
  if (!(kind?.kind === "ident" && kind.name.text === "node")) throw new PolicyError(`agent '${agent}' of ${file} is not a node: give it 'kind node' to run a node as it`);
  const keys = agentKeys(program);
  const own = keys.get(agent);
  if (own && !equals(own, nodeKey)) {
    throw new PolicyError(`agent '${agent}' of ${file} has key ${keyId(own)}, but this node's key is ${keyId(nodeKey)}: a node can only be the agent whose key it holds`);
  }
  keys.set(agent, nodeKey);
  const agentOf = (k: Uint8Array) => [...keys].find(([, v]) => equals(v, k))?.[0];

  // The agent's +run promises, and the capabilities conditions name.
  const runs = program.declarations("promise").map(({ decl }) => decl)
    .filter((p) => p.promiser?.text === agent && p.polarity === "+" && p.body?.type.text === "run");
  const capability = (name: string): CapabilityDecl | undefined => {
    let d = (program.lookup("capability", name) ?? program.lookup("delegate", name))?.decl as CapabilityDecl | DelegateDecl | undefined;
    for (let n = 0; d && d.kind === "delegate" && n < 64; n++) d = (program.lookup("capability", d.parent?.text ?? "") ?? program.lookup("delegate", d.parent?.text ?? ""))?.decl as CapabilityDecl | DelegateDecl | undefined;
    return d?.kind === "capability" ? d : undefined;
  };

  /** holds(CAP): the chain is rooted at CAP's issuer's key, within CAP's grants and depth, and passes the authority rule. */
  const holds = (name: string, r: CheckedRequest, view: PolicyView): Truth & { refusal?: Refusal } => {
    const cap = capability(name);
    if (!cap) return { value: false, why: `${name} has no root capability in the policy` };
    const issuer = cap.issuer?.text ?? "";
    const issuerKey = keys.get(issuer);
    if (!issuerKey) return { value: false, why: `${name}'s issuer ${issuer} has no key in the policy, so no token of it can be recognised`, refusal: new Refusal("foreign-root", `${name}'s issuer ${issuer} has no key in the policy`) };
    const root = r.hops[0];
    if (!root) return { value: false, why: `the deploy carries no token of ${name}`, refusal: new Refusal("no-capability", `the deploy carries no capability, and ${agent} honours run(${r.payload.workload}) only if holds(${name})`) };
    if (!equals(root.issuer, issuerKey)) {
      const who = agentOf(root.issuer);
      return { value: false, why: `the chain's root is issued by ${who ?? keyId(root.issuer)}, not by ${issuer} (${keyId(issuerKey)})`,
        refusal: new Refusal("foreign-root", `capability 0 ('${r.payload.chain[0].payload.name}') was issued by ${who ?? keyId(root.issuer)}, not by ${issuer} (${keyId(issuerKey)}), whose ${name} ${agent} honours`) };
    }
    const declared = cap.grants.map(grantOf);
    const beyond = root.grants.find((g) => !declared.some((d) => covers(d, g)));
    if (beyond) return { value: false, why: `its root grants ${grantText(beyond)}, which ${name} does not declare`, refusal: new Refusal("widened", `capability 0 grants ${grantText(beyond)}, which ${name} in ${agent}'s policy does not`) };
    const depth = declaredDepth(cap.delegable, undefined);
    if (root.depth > depth) return { value: false, why: `its root allows ${root.depth} delegations, ${name} declares ${depth}`, refusal: new Refusal("widened", `capability 0 allows ${root.depth} further delegations, ${name} in ${agent}'s policy allows ${depth}`) };
    const refusal = chainRefusal(r, view);
    if (refusal) return { value: false, why: refusal.message, refusal };
    return { value: true, why: `holds(${name})` };
  };

  const evaluate = (c: Condition | undefined, r: CheckedRequest, view: PolicyView, refusals: Refusal[]): Truth => {
    if (!c) return { value: true, why: "unconditionally" };
    switch (c.kind) {
      case "holds": {
        const t = holds(c.capability.text, r, view);
        if (t.refusal) refusals.push(t.refusal);
        return t;
      }
      case "kept":
      case "ref":
        return { value: undefined, why: `a node cannot observe whether ${c.promise.text} is kept` };
      case "not": {
        const t = evaluate(c.operand, r, view, []);
        return { value: t.value === undefined ? undefined : !t.value, why: `not (${t.why})` };
      }
      case "and": {
        const a = evaluate(c.left, r, view, refusals), b = evaluate(c.right, r, view, refusals);
        if (a.value === false) return a;
        if (b.value === false) return b;
        return { value: a.value && b.value ? true : undefined, why: a.value ? b.why : a.why };
      }
      case "or": {
        const a = evaluate(c.left, r, view, refusals), b = evaluate(c.right, r, view, refusals);
        if (a.value === true) return a;
        if (b.value === true) return b;
        return { value: a.value === undefined || b.value === undefined ? undefined : false, why: `${a.why}; and ${b.why}` };
      }
    }
  };

  // The offer's form of the promises: holds(CAP) names CAP's issuer key. What an offer cannot
  // say is false there (an issuer without a key, kept(P): unknown to the node, which never honours
  // on unknown), so a reader may see a promise the node then refuses, never the other way round.
  const never: OfferCondition = { or: [] };
  const offered = (c: Condition): OfferCondition => {
    switch (c.kind) {
      case "holds": {
        const iss = keys.get(capability(c.capability.text)?.issuer?.text ?? "");
        return iss ? { holds: { iss } } : never;
      }
      case "kept":
      case "ref": return never;
      case "not": return { not: offered(c.operand) };
      case "and":
      case "or": {
        const flat = (x: OfferCondition): OfferCondition[] => (c.kind in x ? (x as Record<string, OfferCondition[]>)[c.kind] : [x]);
        const xs = [...flat(offered(c.left)), ...flat(offered(c.right))];
        return c.kind === "and" ? { and: xs } : { or: xs };
      }
    }
  };
  // Past what an offer may hold (8 deep, 16 a list), the promise is offered unconditionally: the node still judges.
  const fits = (x: OfferCondition, depth = 0): boolean => {
    if (depth > 8) return false;
    if ("holds" in x) return true;
    if ("not" in x) return fits(x.not, depth + 1);
    const xs = "and" in x ? x.and : x.or;
    return xs.length <= 16 && xs.every((y) => fits(y, depth + 1));
  };
  const offeredPromises: OfferedPromise[] = runs.flatMap((p) => {
    const to = p.promisees.some((n) => n.text === "*") ? "*" as const : p.promisees.map((n) => keys.get(n.text)).filter((k): k is Uint8Array => !!k).slice(0, 64);
    if (to !== "*" && to.length === 0) return [];
    const cond = p.condition ? offered(p.condition) : null;
    return [{ body: grantOf(p.body!), to, if: cond && fits(cond) ? cond : null }];
  }).slice(0, 64);

  return {
    agent,
    agentOf,
    keyOf: (a) => keys.get(a),
    promises: () => offeredPromises,
    async judge(request, view) {
      let r: CheckedRequest;
      try {
        r = await checkRequest(request);
      } catch (e) {
        return refusalOf(e);
      }
      const want: Grant = { type: "run", args: [r.payload.workload] };
      const deployer = agentOf(r.payload.holder);
      const who = deployer ?? keyId(r.payload.holder);
      const applicable = runs.filter((p) => covers(grantOf(p.body!), want) && p.promisees.some((n) => n.text === "*" || n.text === deployer));
      if (applicable.length === 0) {
        return { ok: false, refusal: new Refusal("not-promised", `${agent}'s policy promises run(${r.payload.workload}) to nobody that ${who} is`) };
      }
      const refusals: Refusal[] = [];
      const whys: string[] = [];
      for (const p of applicable) {
        const t = evaluate(p.condition, r, view, refusals);
        if (t.value === true) return { ok: true, cids: r.cids, because: `${promiseText(p)}: ${t.why}` };
        whys.push(t.why);
      }
      // The most telling refusal: a chain that reached its capability's issuer but failed the rule, else the first.
      const best = refusals.find((x) => x.code !== "foreign-root" && x.code !== "no-capability") ?? refusals[0];
      const because = `${agent} honours run(${r.payload.workload}) for ${who} only ${applicable.map((p) => p.condition ? "if " + conditionText(p.condition) : "").join(" or ")}`;
      if (best) return { ok: false, refusal: new Refusal(best.code, `${best.message} (${because})`) };
      return { ok: false, refusal: new Refusal("not-promised", `${because}: ${whys.join("; ")}`) };
    },
  };
}

function promiseText(p: PromiseDecl): string {
  return `${p.promiser?.text} -> ${p.promisees.map((n) => n.text).join(", ")} +${p.body ? grantText(grantOf(p.body)) : "?"}`;
}

function conditionText(c: Condition): string {
  switch (c.kind) {
    case "holds": return `holds(${c.capability.text})`;
    case "kept": return `kept(${c.promise.text})`;
    case "ref": return c.promise.text;
    case "not": return `not ${conditionText(c.operand)}`;
    case "and": return `(${conditionText(c.left)} and ${conditionText(c.right)})`;
    case "or": return `(${conditionText(c.left)} or ${conditionText(c.right)})`;
  }
}
