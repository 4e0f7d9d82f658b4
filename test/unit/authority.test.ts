// The authority rule (language/authority.ts) case by case, and the grid's chain
// verifier on real Ed25519-signed tokens at the same boundaries.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { chainProblem, covers, declaredHop, expired, grantArgText, grantOf, grantProblem, grantText, meets, mayRevoke, verdictStandsUntil, widenings, type Grant, type Hop } from "../../language/authority.ts";
import { parse, type CapabilityDecl, type DelegateDecl } from "../../grammar/index.ts";
import { delegateToken, issueToken, Refusal, verifyDeploy, type Token } from "../../grid/capabilities.ts";
import { recordCid, signRecord } from "../../grid/records.ts";
import { GridState, StateError } from "../../grid/state.ts";
import type { PrivateKey } from "../../grid/keys.ts";
import { rng } from "./helpers.ts";

const g = (type: string, ...args: Grant["args"]): Grant => ({ type, args });
const taco = (amount: number) => ({ amount, unit: "taco" });

describe("covers", () => {
  it("an amount covers the same or a smaller amount of the same currency, compared as numbers", () => {
    assert.equal(covers(g("pay", taco(5)), g("pay", taco(3))), true);
    assert.equal(covers(g("pay", taco(5)), g("pay", taco(5))), true);
    assert.equal(covers(g("pay", taco(5)), g("pay", taco(6))), false, "a larger amount");
    assert.equal(covers(g("pay", taco(10)), g("pay", taco(9))), true, "10 > 9 as numbers, not as text");
    assert.equal(covers(g("pay", taco(9)), g("pay", taco(10))), false);
    assert.equal(covers(g("pay", taco(5)), g("pay", { amount: 3, unit: "coin" })), false, "another currency");
    assert.equal(covers(g("pay", taco(5)), g("pay", 3)), false, "a plain number is not an amount");
    assert.equal(covers(g("pay", 5), g("pay", 3)), false, "plain numbers cover only themselves");
  });

  it("* covers exactly one argument of any value; arity must match", () => {
    assert.equal(covers(g("run", "*"), g("run", "hello")), true);
    assert.equal(covers(g("run", "*"), g("run", taco(99))), true);
    assert.equal(covers(g("run", "*"), g("run", "a", "b")), false, "a lone * is one argument");
    assert.equal(covers(g("run", "*"), g("run")), false);
    assert.equal(covers(g("run", "hello"), g("run", "*")), false, "a specific grant does not cover a wildcard");
    assert.equal(covers(g("run", "*", "x"), g("run", "a", "x")), true);
    assert.equal(covers(g("run", "hello"), g("read", "hello")), false, "the type must be the same");
  });

  it("two bodies meet when one request is covered by both", () => {
    assert.equal(meets(g("serve", "*", "x"), g("serve", "y", "*")), true);
    assert.equal(meets(g("pay", taco(5)), g("pay", taco(3))), true);
    assert.equal(meets(g("pay", taco(5)), g("pay", { amount: 3, unit: "coin" })), false);
    assert.equal(meets(g("serve", "x"), g("serve", "x", "y")), false);
  });
});

describe("grantProblem: a grant from the wire", () => {
  it("accepts names, strings, numbers and amounts", () => {
    assert.equal(grantProblem(g("pay", "*", "x", 3, taco(2.5))), undefined);
    assert.equal(grantProblem(g("pay", taco(0))), undefined, "an amount of 0 is an amount");
  });
  it("refuses * as a type, objects that are not amounts, negative or endless amounts", () => {
    assert.match(grantProblem(g("*", "x"))!, /type must be a name/);
    assert.match(grantProblem({ type: "run", args: [{ amount: 1, unit: "taco", extra: 1 }] })!, /string, a number or an \{amount, unit\}/);
    assert.match(grantProblem({ type: "run", args: [{ nested: true }] })!, /string, a number or an \{amount, unit\}/);
    assert.match(grantProblem(g("pay", taco(-1)))!, /not below 0/);
    assert.match(grantProblem(g("pay", taco(Infinity)))!, /finite/);
    assert.match(grantProblem(g("pay", NaN))!, /finite/);
    assert.match(grantProblem({ type: "run" })!, /'args' must be a list/);
    assert.match(grantProblem(null)!, /object/);
    assert.equal(grantProblem({ type: "run", args: [{ nested: true }] }), `grant run: argument 0 must be a string, a number or an {amount, unit}, got {"nested":true}`);
    assert.equal(grantProblem({ type: "pay", args: ["x", { amount: 1, unit: "2x" }] }), "grant pay: argument 1: an amount's unit must be a currency name");
  });
});

describe("grants as text and from .pg", () => {
  it("writes each argument as the language does", () => {
    assert.equal(grantText(g("pay", taco(5), "x", 3, "*")), "pay(5 taco, x, 3, *)");
    assert.equal(grantText(g("run")), "run()");
    assert.equal(grantArgText(NaN), "…", "a list or block argument (NaN) has no value to show");
    assert.equal(grantText(g("run", NaN)), "run(…)");
  });

  it("a list or block argument is no value: only * covers it, and it covers nothing", () => {
    const [cap] = parse("capability p from a to b { grants run([x], 2 taco, \"s\", w, *) }").declarations as CapabilityDecl[];
    const grant = grantOf(cap.grants[0]);
    assert.equal(grant.type, "run");
    assert.deepEqual(grant.args.slice(1), [taco(2), "s", "w", "*"]);
    assert.ok(Number.isNaN(grant.args[0]));
    assert.equal(covers(g("run", "*", "*", "*", "*", "*"), grant), true);
    assert.equal(covers(grant, grant), false);
  });
});

const hop = (o: Partial<Hop<string>> & { issuer: string; holder: string }): Hop<string> & { id: string } =>
  ({ grants: [g("run", "*")], depth: 0, exp: null, id: `${o.issuer}->${o.holder}`, ...o });

describe("attenuation", () => {
  const root = hop({ issuer: "node", holder: "ann", depth: 2, exp: 10 });
  it("a narrower child is fine", () => {
    assert.deepEqual(widenings(root, hop({ issuer: "ann", holder: "ben", depth: 1, exp: 10, grants: [g("run", "hello")] })), []);
  });
  it("a child keeps at most one delegation less than its parent", () => {
    assert.deepEqual(widenings(root, hop({ issuer: "ann", holder: "ben", depth: 2, exp: 10 })), [{ kind: "depth", left: 1 }]);
    assert.deepEqual(widenings(hop({ issuer: "node", holder: "ann", depth: 0 }), hop({ issuer: "ann", holder: "ben" })), [{ kind: "not-delegable" }]);
  });
  it("a child must be issued by the parent's holder", () => {
    assert.deepEqual(widenings(root, hop({ issuer: "cy", holder: "ben", depth: 1, exp: 10 })), [{ kind: "issuer" }]);
  });
  it("a child expires no later than its parent, and never-expiring is later", () => {
    assert.deepEqual(widenings(root, hop({ issuer: "ann", holder: "ben", exp: 11 })), [{ kind: "expiry" }]);
    assert.deepEqual(widenings(root, hop({ issuer: "ann", holder: "ben", exp: null })), [{ kind: "expiry" }]);
  });
  it("a child grants only what its parent covers", () => {
    const parent = hop({ issuer: "node", holder: "ann", depth: 1, grants: [g("pay", taco(5))] });
    const wider = g("pay", taco(6));
    assert.deepEqual(widenings(parent, hop({ issuer: "ann", holder: "ben", grants: [g("pay", taco(5)), wider] })), [{ kind: "grant", grant: wider }]);
  });
});

describe("declared hops", () => {
  const decls = (src: string) => parse(src).declarations as (CapabilityDecl | DelegateDecl)[];
  it("a capability's hop: its issuer, holder, grants, depth and expiry (one step after its last)", () => {
    const [p, q, r] = decls(`capability p from a to b { grants run(x) delegable depth 2 expires after 5 steps }
delegate q of p by b to c { grants run(x) delegable }
delegate r of q by c to d { grants run(x) }`);
    const ph = declaredHop(p);
    assert.deepEqual(ph, { issuer: "a", holder: "b", grants: [g("run", "x")], depth: 2, exp: 6 });
    const qh = declaredHop(q, ph);
    assert.deepEqual(qh, { issuer: "b", holder: "c", grants: [g("run", "x")], depth: 1, exp: 6 }, "delegable alone takes what its parent leaves, and the parent's expiry");
    assert.deepEqual(declaredHop(r, qh), { issuer: "c", holder: "d", grants: [g("run", "x")], depth: 0, exp: 6 });
    const [plain] = decls("capability p from a to b { grants run(x) }");
    assert.deepEqual(declaredHop(plain), { issuer: "a", holder: "b", grants: [g("run", "x")], depth: 0, exp: null });
  });

  it("a declaration half written (as the editor sees it while typing) still gives a hop", () => {
    for (const src of ["capability p to b { grants run(x) }", "capability p from a { grants run(x) }", "delegate q of p to c { grants run(x) }", "delegate q of p by b { grants run(x) }", "delegate q by b to c { grants run(x) delegable }"]) {
      const [d] = decls(src);
      const h = declaredHop(d);
      assert.equal(typeof h.issuer, "string", src);
      assert.equal(typeof h.holder, "string", src);
      assert.equal(h.exp, null, src);
    }
    const [noBy] = decls("delegate q of p to c { grants run(x) }");
    assert.equal(declaredHop(noBy, { issuer: "a", holder: "b", grants: [], depth: 1, exp: 3 }).issuer, "b", "without 'by', its parent's holder delegates");
    assert.deepEqual(declaredHop(decls("capability p to b { grants run(x) }")[0]), { issuer: "", holder: "", grants: [], depth: 0, exp: null });
    assert.equal(declaredHop(decls("delegate q by b to c { grants run(x) delegable }")[0]).depth, 0, "no parent: nothing left to delegate");
  });
});

describe("expiry and revocation", () => {
  it("a hop expired at exactly its expiry", () => {
    assert.equal(expired(10, 9), false);
    assert.equal(expired(10, 10), true);
    assert.equal(expired(null, 1e15), false);
    const chain = [hop({ issuer: "node", holder: "ann", exp: 10 })];
    const view = (now: number) => ({ now, revokedBy: () => false });
    assert.equal(chainProblem(chain, view(9)), undefined);
    assert.deepEqual(chainProblem(chain, view(10)), { kind: "expired", hop: 0 });
  });

  it("a revocation counts only by the hop's issuer or an issuer above it", () => {
    const chain = [hop({ issuer: "node", holder: "ann", depth: 2 }), hop({ issuer: "ann", holder: "ben", depth: 1 }), hop({ issuer: "ben", holder: "cy" })];
    const revokedBy = (token: string, revoker: string) => ({ now: 0, revokedBy: (id: string, by: readonly string[]) => id === token && by.includes(revoker) });
    const middle = chain[1].id;
    assert.deepEqual(chainProblem(chain, revokedBy(middle, "ann")), { kind: "revoked", hop: 1 }, "its own issuer");
    assert.deepEqual(chainProblem(chain, revokedBy(middle, "node")), { kind: "revoked", hop: 1 }, "an issuer above");
    assert.equal(chainProblem(chain, revokedBy(middle, "ben")), undefined, "the issuer below it");
    assert.equal(chainProblem(chain, revokedBy(middle, "cy")), undefined, "a holder");
    assert.equal(chainProblem(chain, revokedBy(middle, "mallory")), undefined, "an outsider");
    assert.equal(mayRevoke(chain, 1, "node"), true);
    assert.equal(mayRevoke(chain, 1, "ben"), false);
    assert.equal(mayRevoke(chain, 0, "ann"), false, "the hop's holder does not issue it");
    assert.equal(mayRevoke(chain, 7, "mallory"), false, "an index past the end asks only the hops there are");
    assert.equal(mayRevoke(chain, 7, "ben"), true);
  });

  it("a verdict stands, the view unchanged, until verdictStandsUntil and may change there", () => {
    // Seeded chains of well-formed hops (so expiry alone decides), with and without a revocation.
    const r = rng(3);
    let changed = 0;
    for (let n = 0; n < 300; n++) {
      const people = ["node", "ann", "ben", "cy", "dan"];
      const chain: (Hop<string> & { id: string })[] = [];
      for (let h = 0, len = r.int(1, 4); h < len; h++) {
        const parentExp = chain[h - 1]?.exp ?? null;
        const exp = r.chance(0.3) ? parentExp : Math.min(parentExp ?? Infinity, r.int(1, 10));
        chain.push(hop({ issuer: people[h], holder: people[h + 1], depth: len - 1 - h, exp: exp === Infinity ? null : exp }));
      }
      const revoked = r.chance(0.3) ? r.pick(chain).id : undefined;
      const view = (now: number) => ({ now, revokedBy: (id: string) => id === revoked });
      for (let now = 0; now <= 11; now++) {
        const until = verdictStandsUntil(chain, now);
        assert.ok(until > now, "it stands at least through now");
        const verdict = chainProblem(chain, view(now));
        for (let t = now + 1; t < Math.min(until, 12); t++) assert.deepEqual(chainProblem(chain, view(t)), verdict, `chain ${n}, from ${now} to ${t} (until ${until})`);
        if (until <= 11 && !isDeepStrictEqual(chainProblem(chain, view(until)), verdict)) changed++;
      }
    }
    assert.ok(changed > 100, `the verdict changed at its end ${changed} times: too few to test anything`);
  });

  it("the request: held by the presenter and granted by the last hop", () => {
    const chain = [hop({ issuer: "node", holder: "ann", grants: [g("run", "hello")] })];
    const view = { now: 0, revokedBy: () => false };
    assert.equal(chainProblem(chain, view, { by: "ann", want: g("run", "hello") }), undefined);
    assert.deepEqual(chainProblem(chain, view, { by: "ben", want: g("run", "hello") }), { kind: "not-holder" });
    assert.deepEqual(chainProblem(chain, view, { by: "ann", want: g("run", "other") }), { kind: "not-granted" });
    assert.deepEqual(chainProblem([], view), { kind: "empty" });
  });
});

describe("verifyDeploy on signed tokens", async () => {
  const keys = new Map<string, PrivateKey>();
  for (const name of ["node", "ann", "ben", "mallory"]) keys.set(name, await generateKeyPair("Ed25519"));
  const key = (name: string) => keys.get(name)!;
  const manifest = CID.createV1(0x55, await sha256.digest(new Uint8Array([1])));
  const run = [{ type: "run", args: ["hello"] }];

  async function deploy(chain: Token[], o: { holder?: string; now?: number; revocations?: { token: Token; by: string }[] } = {}): Promise<string> {
    const state = new GridState();
    for (const r of o.revocations ?? []) {
      // A revocation by a key that issued no hop above it proves nothing: the state refuses to keep it.
      await state.add(await signRecord(key(r.by), { type: "promisegrid/revocation", v: 0, token: await recordCid(r.token), by: key(r.by).publicKey.raw, chain: chain.slice(0, chain.indexOf(r.token) + 1), at: 0 }))
        .catch((e) => { if (!(e instanceof StateError)) throw e; });
    }
    const holder = key(o.holder ?? "ben");
    const request = await signRecord(holder, { type: "promisegrid/deploy", v: 0, manifest, workload: "hello", holder: holder.publicKey.raw, chain, at: 0, nonce: new Uint8Array(8) });
    try {
      await verifyDeploy(request, { nodeKey: key("node").publicKey.raw, now: o.now ?? 1000, isRevoked: (cid, issuers) => state.isRevoked(cid, issuers) });
      return "accepted";
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      return `${e.code}: ${e.message}`;
    }
  }
  const root = (o: { depth?: number; expires?: number | null; grants?: typeof run } = {}) =>
    issueToken(key("node"), { name: "pass", audience: key("ann").publicKey.raw, grants: o.grants ?? run, depth: o.depth ?? 1, expires: o.expires ?? null });
  const hop = (parent: Token, o: { by?: string; depth?: number; expires?: number | null; grants?: typeof run } = {}) =>
    delegateToken(key(o.by ?? "ann"), parent, { audience: key("ben").publicKey.raw, grants: o.grants ?? run, depth: o.depth ?? 0, expires: o.expires ?? null });

  it("accepts an attenuated chain", async () => {
    const r = await root();
    assert.equal(await deploy([r, await hop(r)]), "accepted");
  });
  it("refuses a hop that keeps its parent's depth", async () => {
    const r = await root({ depth: 2 });
    assert.match(await deploy([r, await hop(r, { depth: 2 })]), /^widened: .*allows 2 further delegations, more than its parent leaves \(1\)/);
    assert.equal(await deploy([r, await hop(r, { depth: 1 })]), "accepted");
  });
  it("refuses a hop signed by a key that does not hold its parent", async () => {
    const r = await root();
    assert.match(await deploy([r, await hop(r, { by: "mallory" })]), /^broken-chain: .*issued by a key that does not hold capability 0/);
  });
  it("refuses a grant of a larger amount", async () => {
    const r = await root({ grants: [...run, { type: "pay", args: [{ amount: 5, unit: "taco" }] }] as typeof run });
    const more = await hop(r, { grants: [...run, { type: "pay", args: [{ amount: 6, unit: "taco" }] }] as typeof run });
    assert.match(await deploy([r, more]), /^widened: .*grants pay\(6 taco\), which its parent does not/);
    const less = await hop(r, { grants: [...run, { type: "pay", args: [{ amount: 4, unit: "taco" }] }] as typeof run });
    assert.equal(await deploy([r, less]), "accepted");
  });
  it("refuses a token at exactly its expiry, not a millisecond before", async () => {
    const r = await root({ expires: 5000 });
    assert.equal(await deploy([r, await hop(r, { expires: 5000 })], { now: 4999 }), "accepted");
    assert.match(await deploy([r, await hop(r, { expires: 5000 })], { now: 5000 }), /^expired: capability 0/);
  });
  it("counts a revocation only by the hop's issuer or one above it", async () => {
    const r = await root();
    const h = await hop(r);
    assert.match(await deploy([r, h], { revocations: [{ token: h, by: "ann" }] }), /^revoked: capability 1/);
    assert.match(await deploy([r, h], { revocations: [{ token: h, by: "node" }] }), /^revoked: capability 1/);
    assert.equal(await deploy([r, h], { revocations: [{ token: h, by: "ben" }, { token: r, by: "ann" }, { token: h, by: "mallory" }] }), "accepted");
  });
  it("refuses a token whose grant is not a wire grant", async () => {
    const r = await issueToken(key("node"), { name: "pass", audience: key("ben").publicKey.raw, grants: [{ type: "*", args: ["hello"] }], depth: 0 });
    assert.match(await deploy([r]), /^malformed: capability 0/);
  });
});
