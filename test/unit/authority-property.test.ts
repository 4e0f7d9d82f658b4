// Seeded property test of the one authority rule: for random delegation chains
// and requests, the checker's static judgement (a .pg text with capability and
// delegate declarations), the simulator's (a scenario that revokes and invokes)
// and the grid verifier's (real Ed25519-signed tokens through verifyDeploy, with
// revocations in a real GridState) agree wherever all three apply.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { check, loadProgram } from "../../language/index.ts";
import { prepareScenarios } from "../../language/simulator/index.ts";
import { delegateToken, issueToken, Refusal, verifyDeploy, type Token } from "../../grid/capabilities.ts";
import { recordCid, signRecord, type Body } from "../../grid/records.ts";
import { GridState, StateError } from "../../grid/state.ts";
import type { PrivateKey } from "../../grid/keys.ts";
import { memoryHost, rng, VIRTUAL_DIR } from "./helpers.ts";

type Rng = ReturnType<typeof rng>;

/** Grants as written in .pg and as the grid carries them. Amounts differ in size, currency and spelling (5 and 5.0; 10 and 9). */
const GRANTS: readonly { pg: string; wire: Body }[] = [
  { pg: "run(*)", wire: { type: "run", args: ["*"] } },
  { pg: "run(hello)", wire: { type: "run", args: ["hello"] } },
  { pg: 'run("hello")', wire: { type: "run", args: ["hello"] } },
  { pg: "run(other)", wire: { type: "run", args: ["other"] } },
  { pg: "run(hello, x)", wire: { type: "run", args: ["hello", "x"] } },
  { pg: "run(*, *)", wire: { type: "run", args: ["*", "*"] } },
  { pg: "pay(*)", wire: { type: "pay", args: ["*"] } },
  { pg: "pay(5 taco)", wire: { type: "pay", args: [{ amount: 5, unit: "taco" }] } },
  { pg: "pay(5.0 taco)", wire: { type: "pay", args: [{ amount: 5, unit: "taco" }] } },
  { pg: "pay(3 taco)", wire: { type: "pay", args: [{ amount: 3, unit: "taco" }] } },
  { pg: "pay(10 taco)", wire: { type: "pay", args: [{ amount: 10, unit: "taco" }] } },
  { pg: "pay(9 taco)", wire: { type: "pay", args: [{ amount: 9, unit: "taco" }] } },
  { pg: "pay(3 coin)", wire: { type: "pay", args: [{ amount: 3, unit: "coin" }] } },
  { pg: "pay(3)", wire: { type: "pay", args: [3] } },
];
const WORKLOADS = ["hello", "other"] as const;
const KEYS = ["k1", "k2", "k3", "k4", "k5", "out"] as const;
/** Holders k1..k4 are declared; k5 receives delegations made at run time (`A delegates CAP to k5`). */
const RUNTIME_HOLDER = "k5";

/** `delegable` as written, and the depth it declares (computed here, independently of the code under test). */
function depthSyntax(r: Rng, parentDepth: number | undefined): { pg: string; depth: number } {
  const k = r.int(0, 9);
  if (k < 2) return { pg: "", depth: 0 };
  if (k < 5) return { pg: " delegable", depth: parentDepth === undefined ? 1 : Math.max(0, parentDepth - 1) };
  // Around what the parent leaves, so that one more than allowed comes up often.
  const n = Math.max(0, parentDepth === undefined ? r.int(1, 3) : parentDepth - 1 + r.int(-1, 1));
  return { pg: ` delegable depth ${n}`, depth: n };
}

interface GenHop { name: string; issuer: string; holder: string; grants: number[]; depth: number; exp: number | null; pg: string }
interface GenChain {
  index: number;
  node: string;
  hops: GenHop[];
  workload: string;
  invoker: string;
  /** A delegation at run time by the leaf's holder to k5, at this step. */
  runtime?: number;
  now: number;
  revocations: { hop: number; by: string; step: number }[];
}

function generateChain(r: Rng, index: number): GenChain {
  const node = `node${index}`;
  const hops: GenHop[] = [];
  const n = r.pick([1, 2, 2, 3, 3, 4]);
  for (let h = 0; h < n; h++) {
    const parent = hops[h - 1];
    const holder = KEYS[h];
    let issuer = h === 0 ? node : parent.holder;
    if (h > 0 && r.chance(0.08)) issuer = r.pick([node, ...KEYS.filter((k) => k !== parent.holder && k !== holder)]);
    // Mostly narrow the parent's grants (a grant it has, or one it may cover), sometimes anything.
    const grants = Array.from({ length: r.int(1, 2) }, (_, k) =>
      parent && r.chance(0.75) ? r.pick(parent.grants) : k === 0 && r.chance(0.6) ? r.int(0, 3) : r.int(0, GRANTS.length - 1));
    // A root mostly allows the chain it heads.
    const rootDepth = n - 1 + r.int(0, 1);
    const d = h === 0 && r.chance(0.8) ? { pg: ` delegable depth ${rootDepth}`, depth: rootDepth }
      : h > 0 && h < n - 1 && r.chance(0.8) ? { pg: " delegable", depth: Math.max(0, parent.depth - 1) }
      : depthSyntax(r, parent?.depth);
    const depth = d.depth;
    let exp: number | null, expPg = "";
    if (r.chance(h === 0 ? 0.5 : 0.4)) {
      const steps = parent?.exp && r.chance(0.7) ? Math.max(1, parent.exp - 1 - r.int(0, 1)) : r.int(1, 8);
      exp = steps + 1;
      expPg = ` expires after ${steps} steps`;
    } else exp = h === 0 ? null : parent.exp;
    const name = `c${index}_h${h}`;
    const body = `{ grants ${[...new Set(grants)].map((g) => GRANTS[g].pg).join(", ")}${d.pg}${expPg} }`;
    const pg = h === 0 ? `capability ${name} from ${node} to ${holder} ${body}` : `delegate ${name} of ${parent.name} by ${issuer} to ${holder} ${body}`;
    hops.push({ name, issuer, holder, grants: [...new Set(grants)], depth, exp, pg });
  }
  const leaf = hops[n - 1];
  // `now` lands on an expiry often, to test the boundary.
  const expiries = hops.map((h) => h.exp).filter((e): e is number => e !== null);
  const now = expiries.length && r.chance(0.35) ? r.pick(expiries) + r.int(-1, 0) : r.int(1, 4);
  const revocations: GenChain["revocations"] = [];
  if (now >= 2) {
    for (let k = r.int(0, 2); k > 0; k--) {
      // Revokers: any issuer in the chain, a holder, or an outsider; only issuers at or above the hop count.
      const hop = r.int(0, n - 1);
      const by = r.pick([node, ...hops.map((x) => x.issuer), ...hops.map((x) => x.holder), "out"]);
      revocations.push({ hop, by, step: r.int(1, now - 1) });
    }
    revocations.sort((a, b) => a.step - b.step);
  }
  const runtime = now >= 2 && r.chance(leaf.depth >= 1 ? 0.6 : 0.15) ? r.int(1, now - 1) : undefined;
  const presenter = runtime === undefined ? leaf.holder : RUNTIME_HOLDER;
  const invoker = r.chance(0.9) ? presenter : r.pick(KEYS.filter((k) => k !== presenter));
  return { index, node, hops, workload: r.pick(WORKLOADS), invoker, now: Math.max(1, now), revocations, runtime };
}

function chainText(c: GenChain): string {
  const links = KEYS.map((k) => `  link ${c.node} <-> ${k}`);
  const invoke = (step: number, who: string) => `  step ${step}: ${who} invokes ${c.hops.at(-1)!.name} at ${c.node}`;
  return [
    `agent ${c.node}`,
    `promise ${c.node} -> * +run(${c.workload}) if holds(${c.hops[0].name})`,
    ...c.hops.map((h) => h.pg),
    // Static: the holder invokes at step 1, before anything expires or is revoked.
    `scenario "static ${c.index}" {`, ...links, invoke(1, c.hops.at(-1)!.holder), "}",
    `scenario "dynamic ${c.index}" {`, ...links,
    ...[
      ...c.revocations.map((v) => ({ step: v.step, line: `  step ${v.step}: ${v.by} revokes ${c.hops[v.hop].name}` })),
      ...(c.runtime === undefined ? [] : [{ step: c.runtime, line: `  step ${c.runtime}: ${c.hops.at(-1)!.holder} delegates ${c.hops.at(-1)!.name} to ${RUNTIME_HOLDER}` }]),
    ].sort((a, b) => a.step - b.step).map((e) => e.line),
    invoke(c.now, c.invoker), "}",
  ].join("\n") + "\n";
}

const STATIC_CODES = new Set(["PG401", "PG402", "PG403"]);

interface Verdicts { checkerWidened: boolean; simStatic: boolean; simDynamic: boolean; gridStatic: string; gridDynamic: string }

async function keys(): Promise<Map<string, PrivateKey>> {
  const m = new Map<string, PrivateKey>();
  for (const name of ["node", ...KEYS]) m.set(name, await generateKeyPair("Ed25519"));
  return m;
}

const MANIFEST = CID.createV1(0x55, await sha256.digest(new Uint8Array([1])));

async function signChain(c: GenChain, key: (agent: string) => PrivateKey): Promise<Token[]> {
  const chain: Token[] = [];
  for (const [h, hop] of c.hops.entries()) {
    const opts = { name: hop.name, audience: key(hop.holder).publicKey.raw, grants: hop.grants.map((g) => GRANTS[g].wire), depth: hop.depth, expires: hop.exp };
    chain.push(h === 0 ? await issueToken(key(hop.issuer), opts) : await delegateToken(key(hop.issuer), chain[h - 1], opts));
  }
  return chain;
}

/** What `A delegates CAP to k5` makes: the same grants and expiry, one delegation less. */
async function runtimeToken(c: GenChain, chain: Token[], key: (agent: string) => PrivateKey): Promise<Token> {
  const leaf = c.hops.at(-1)!;
  return delegateToken(key(leaf.holder), chain.at(-1)!, {
    audience: key(RUNTIME_HOLDER).publicKey.raw, grants: leaf.grants.map((g) => GRANTS[g].wire), depth: Math.max(0, leaf.depth - 1), expires: leaf.exp,
  });
}

async function gridVerdict(c: GenChain, chain: Token[], key: (agent: string) => PrivateKey, nodeKey: PrivateKey, o: { now: number; invoker: string; revocations: GenChain["revocations"] }): Promise<string> {
  const state = new GridState();
  for (const v of o.revocations) {
    // A revocation by a key below the hop proves nothing: the state refuses to keep it.
    await state.add(await signRecord(key(v.by), { type: "promisegrid/revocation", v: 0, token: await recordCid(chain[v.hop]), by: key(v.by).publicKey.raw, chain: chain.slice(0, v.hop + 1), at: v.step }))
      .catch((e) => { if (!(e instanceof StateError)) throw e; });
  }
  const holder = key(o.invoker);
  const request = await signRecord(holder, {
    type: "promisegrid/deploy", v: 0, manifest: MANIFEST, workload: c.workload, holder: holder.publicKey.raw, chain, at: o.now, nonce: new Uint8Array(8),
  });
  try {
    await verifyDeploy(request, { nodeKey: nodeKey.publicKey.raw, now: o.now, isRevoked: (cid, issuers) => state.isRevoked(cid, issuers) });
    return "accepted";
  } catch (e) {
    if (!(e instanceof Refusal)) throw e;
    return e.code + (e.code === "broken-chain" && /does not hold capability/.test(e.message) ? ":issuer" : "");
  }
}

/** All three judgements of a batch of chains, one .pg file for the batch. */
async function judge(chains: GenChain[], keyOf: Map<string, PrivateKey>): Promise<Verdicts[]> {
  const texts = chains.map(chainText);
  const header = [...KEYS.map((k) => `agent ${k}\n`), "currency taco issued by k5\n", "currency coin issued by k5\n"].join("");
  const text = header + texts.join("\n");
  const file = `${VIRTUAL_DIR}/main.pg`;
  const program = loadProgram([file], memoryHost({ "main.pg": text }));
  assert.deepEqual(program.files.get(file)!.errors, [], text);
  // Each chain's text range, to attribute the checker's diagnostics.
  const ranges: [number, number][] = [];
  let at = header.length;
  for (const t of texts) { ranges.push([at, at + t.length]); at += t.length + 1; }
  const widened = new Set<number>();
  for (const d of check(program)) {
    if (d.severity !== "error") continue;
    if (d.code === "PG400") continue; // the root grants what its issuer does not promise: not about the chain
    assert.ok(STATIC_CODES.has(d.code), `unexpected ${d.code} ${d.message}`);
    widened.add(ranges.findIndex(([s, e]) => d.span.start >= s && d.span.start < e));
  }
  const { scenarios } = prepareScenarios(program);
  const outcome = new Map<string, string>();
  for (const s of scenarios) {
    assert.deepEqual(s.diagnostics, [], s.title);
    const trace = s.run!.finish();
    outcome.set(s.title, trace.timeline.flatMap((t) => t.events).find((e) => e.kind === "invoke")!.outcome);
  }
  const key = (agent: string) => keyOf.get(agent.startsWith("node") ? "node" : agent)!;
  const out: Verdicts[] = [];
  for (const [i, c] of chains.entries()) {
    const tokens = await signChain(c, key);
    out.push({
      checkerWidened: widened.has(i),
      simStatic: outcome.get(`static ${c.index}`) === "kept",
      simDynamic: outcome.get(`dynamic ${c.index}`) === "kept",
      gridStatic: await gridVerdict(c, tokens, key, keyOf.get("node")!, { now: 1, invoker: c.hops.at(-1)!.holder, revocations: [] }),
      // The invoker presents the chain it holds: the leaf's holder its own, anyone else the one delegated at run time.
      gridDynamic: await gridVerdict(c, c.runtime === undefined || c.invoker === c.hops.at(-1)!.holder ? tokens : [...tokens, await runtimeToken(c, tokens, key)], key, keyOf.get("node")!, { now: c.now, invoker: c.invoker, revocations: c.revocations }),
    });
  }
  return out;
}

describe("authority: the checker, the simulator and the grid verifier agree", () => {
  it("2,000 seeded chains and requests", async () => {
    const keyOf = await keys();
    const r = rng(9);
    const seen = new Map<string, number>();
    const count = (k: string) => seen.set(k, (seen.get(k) ?? 0) + 1);
    // Small batches keep each world small: a trace shows every agent's view of every promise.
    for (let batch = 0; batch < 200; batch++) {
      const chains = Array.from({ length: 10 }, (_, i) => generateChain(r, batch * 10 + i));
      const verdicts = await judge(chains, keyOf);
      for (const [i, v] of verdicts.entries()) {
        const c = chains[i];
        const about = `chain ${c.index}:\n${chainText(c)}\n${JSON.stringify(v)}`;
        // Static: the checker finds the chain widened exactly when the grid refuses it as widened.
        const gridWidened = v.gridStatic === "widened" || v.gridStatic === "broken-chain:issuer";
        assert.equal(v.checkerWidened, gridWidened, `checker and grid disagree on the chain's shape: ${about}`);
        assert.equal(v.simStatic, v.gridStatic === "accepted", `simulator and grid disagree (static): ${about}`);
        if (v.checkerWidened) assert.equal(v.simStatic, false, `the simulator runs a chain the checker refuses: ${about}`);
        // Dynamic: expiry at exactly now, revocations by whom, the presenter.
        assert.equal(v.simDynamic, v.gridDynamic === "accepted", `simulator and grid disagree (at step ${c.now}): ${about}`);
        count(v.gridStatic); count("dynamic " + v.gridDynamic);
        if (c.runtime !== undefined) count("run-time delegation " + v.gridDynamic);
      }
    }
    // The generator reaches every verdict, so agreement is not vacuous.
    for (const k of ["accepted", "widened", "broken-chain:issuer", "not-granted", "dynamic accepted", "dynamic expired", "dynamic revoked", "dynamic broken-chain", "run-time delegation accepted", "run-time delegation widened"]) {
      assert.ok((seen.get(k) ?? 0) >= 20, `only ${seen.get(k) ?? 0} chains gave ${k}: ${JSON.stringify([...seen])}`);
    }
  });
});
