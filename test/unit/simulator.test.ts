// The simulator, driven through parse() of real .pg text: every event and
// expectation kind, the food-trucks revocation window, partitions, currencies,
// delegation, determinism and bad input.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { loadProgram } from "../../language/index.ts";
import { check } from "../../language/index.ts";
import { prepareRun, prepareScenarios, runScenarios, traceJson, type ScenarioResult, type Trace } from "../../language/simulator/index.ts";
import { main } from "../../cli/main.ts";
import { FOOD_TRUCKS, foodTrucksWith, memoryHost } from "./helpers.ts";

function run(text: string, scenario?: string): ScenarioResult[] {
  const program = loadProgram(["/virtual/test.pg"], memoryHost({ "test.pg": text }));
  assert.deepEqual(program.files.get("/virtual/test.pg")!.errors, [], "test input must parse");
  return runScenarios(program, { scenario });
}

/** The engine alone, without the checker's gate: how it judges chains the checker refuses. */
function unchecked(text: string): Trace {
  const program = loadProgram(["/virtual/test.pg"], memoryHost({ "test.pg": text }));
  const [s] = prepareScenarios(program).scenarios;
  assert.deepEqual(s.diagnostics, []);
  return s.run!.finish();
}

function one(text: string): Trace {
  const [r] = run(text);
  assert.ok(r, "a scenario");
  assert.deepEqual(r.diagnostics, []);
  return r.trace!;
}

/** `agent` declarations, one a line. */
const agents = (...names: string[]) => names.map((n) => `agent ${n}`).join("\n");

/** The outcomes of all events, in order, as "step:text=outcome". */
function outcomes(t: Trace): string[] {
  return t.timeline.flatMap((s) => s.events.map((e) => `${s.step}:${e.text}=${e.outcome}`));
}

/** 1-based line of the first line containing `needle`. */
function lineOf(text: string, needle: string): number {
  return text.split("\n").findIndex((l) => l.includes(needle)) + 1;
}

function heardStep(t: Trace, agent: string, pred: (n: Trace["notices"][number]) => boolean): number | undefined {
  for (const s of t.timeline) for (const id of s.learned[agent] ?? []) if (pred(t.notices[id])) return s.step;
  return undefined;
}

/** The food-trucks declarations with a different scenario body. */
function trucks(body: string): string {
  return foodTrucksWith(`scenario "variant" {\n${body}\n}\n`);
}

describe("simulator: the food trucks (LANGUAGE.md)", () => {
  it("passes exactly as written", () => {
    const t = one(FOOD_TRUCKS);
    assert.equal(t.passed, true, JSON.stringify(t.expectations.filter((x) => !x.passed)));
    assert.deepEqual(outcomes(t), [
      "1:alice invokes lunch_pass at truck1=kept",
      "2:truck1 revokes lunch_pass=kept",
      "2:alice invokes lunch_pass at truck5=kept",
      "4:alice invokes lunch_pass at truck5=refused",
    ]);
    assert.equal(t.expectations.length, 5);
  });

  it("makes the revocation window visible: truck5 serves until the notice reaches it at the end of step 2", () => {
    const t = one(FOOD_TRUCKS);
    const revoked = (n: Trace["notices"][number]) => n.kind === "revoked" && n.capability === "lunch_pass";
    assert.equal(heardStep(t, "truck1", revoked), 2, "truck1 knows at once");
    assert.equal(heardStep(t, "truck5", revoked), 2, "truck5 hears it in step 2's gossip");
    assert.equal(heardStep(t, "alice", revoked), undefined, "alice is linked to nobody");
    const step2 = t.timeline[1];
    assert.deepEqual(step2.gossip.find((g) => g.from === "truck1")!.notices.map((id) => t.notices[id].kind), ["revoked"]);
    assert.match(t.timeline[3].events[0].reason, /truck5 knows lunch_pass was revoked \(at step 2\)/);
    assert.equal(t.timeline[3].views.alice?.balances, undefined, "a refused invocation is not paid");
  });

  it("an invocation in step 3 is already refused; with gossip every 3 steps it is still served", () => {
    const body = (every: number) => `link truck1 <-> truck5\n gossip every ${every} steps\n balance alice 10 taco
      step 2: truck1 revokes lunch_pass
      step 3: alice invokes lunch_pass at truck5`;
    assert.deepEqual(outcomes(one(trucks(body(1)))).at(-1), "3:alice invokes lunch_pass at truck5=refused");
    assert.deepEqual(outcomes(one(trucks(body(3)))).at(-1), "3:alice invokes lunch_pass at truck5=kept");
  });

  it("without a link truck5 never hears, and its knows-expectation fails naming agent, step and what it saw", () => {
    const [r] = run(trucks(`balance alice 10 taco
      step 2: truck1 revokes lunch_pass
      step 4: alice invokes lunch_pass at truck5 expect refused
      expect truck5 knows revoked(lunch_pass) by step 3`));
    assert.equal(r.passed, false);
    assert.equal(r.failures.length, 2);
    const [knows, outcome] = r.failures; // in the order they were checked
    assert.equal(outcome.step, 4);
    assert.equal(outcome.agent, "alice");
    assert.match(outcome.saw, /^kept: truck5 serve\(lunch\) for alice/);
    assert.equal(knows.step, 3);
    assert.equal(knows.agent, "truck5");
    assert.match(knows.saw, /truck5 had not heard that lunch_pass was revoked by step 3 \(it was revoked at step 2\)/);
    assert.equal(knows.line, lineOf(trucks(""), 'scenario "variant"') + 4);
  });
});

describe("simulator: events", () => {
  it("invoke: kept, refused (no token, nothing promised, expired) and broken", () => {
    const t = one(trucks(`balance alice 10 taco
      step 1: alice invokes lunch_pass at truck1 expect kept
      step 2: truck5 invokes lunch_pass at truck1 expect refused
      step 3: alice invokes lunch_pass at alice expect refused
      step 4: truck1 breaks truck1_lunch
      step 5: alice invokes lunch_pass at truck1 expect broken
      step 11: alice invokes lunch_pass at truck5 expect refused
      expect balance alice 7 taco`));
    assert.equal(t.passed, true, JSON.stringify(t.expectations));
    const ev = t.timeline.flatMap((s) => s.events);
    assert.match(ev[1].reason, /requester bears no token of lunch_pass/);
    assert.match(ev[2].reason, /alice promises alice nothing that lunch_pass grants/);
    assert.match(ev[4].reason, /truck1 broke truck1_lunch at step 4/);
    assert.match(ev[5].reason, /lunch_pass expired after step 10/);
  });

  it("revoke: only the issuer may; twice is refused", () => {
    const t = one(trucks(`
      step 1: alice revokes lunch_pass expect refused
      step 2: truck1 revokes lunch_pass expect kept
      step 3: truck1 revokes lunch_pass expect refused`));
    assert.equal(t.passed, true, JSON.stringify(t.expectations));
    assert.match(t.timeline[0].events[0].reason, /only truck1, who issued lunch_pass, can revoke it/);
  });

  it("break: the promiser sees its promise broken at once, others by gossip", () => {
    const t = one(trucks(`link truck1 <-> truck5
      step 1: truck1 breaks truck1_lunch expect kept
      step 1: truck1 breaks truck1_lunch expect refused
      expect truck1_lunch broken
      expect truck1_lunch broken for truck5
      step 2: alice invokes lunch_pass at truck1 expect broken`));
    assert.equal(t.passed, true, JSON.stringify(t.expectations));
    // Two expectations written after step 1 are checked at its end, after gossip.
    assert.equal(t.expectations.filter((x) => x.step === 1).length, 4);
  });

  it("pay: moves money; cannot overdraw", () => {
    const t = one(trucks(`balance alice 5 taco
      step 1: alice pays 2 taco to truck5 expect kept
      step 2: alice pays 4 taco to truck5 expect refused
      step 3: truck5 pays 2 taco to alice expect kept
      expect balance alice 5 taco
      expect balance truck5 0 taco`));
    assert.equal(t.passed, true, JSON.stringify(t.expectations));
    assert.match(t.timeline[1].events[0].reason, /alice has 3 taco, cannot pay 4 taco/);
  });

  it("leave and join: an absent agent can be reached by nobody and reaches nobody, nor gossips; joining re-syncs", () => {
    const t = one(trucks(`link truck1 <-> truck5
      balance alice 10 taco
      step 1: truck5 leaves expect kept
      step 1: truck5 leaves expect refused
      step 2: truck1 revokes lunch_pass
      step 2: alice invokes lunch_pass at truck5 expect unavailable
      expect truck5 knows revoked(lunch_pass) by step 4
      step 5: truck5 joins expect kept
      step 5: truck5 joins expect refused
      step 6: alice leaves
      step 6: alice invokes lunch_pass at truck1 expect unavailable`));
    const failed = t.expectations.filter((x) => !x.passed);
    assert.deepEqual(failed.map((x) => x.text), ["expect truck5 knows revoked(lunch_pass) by step 4"]);
    assert.equal(heardStep(t, "truck5", (n) => n.kind === "revoked"), 5);
    assert.deepEqual(t.timeline[0].views.truck5, { present: false });
    assert.deepEqual(t.timeline[4].views.truck5?.present, true);
    assert.match(t.timeline[5].events[1].reason, /alice is not present/);
  });

  it("partition delays gossip until heal; one hop per gossip round", () => {
    const text = `
      ${agents("a", "b", "c", "d")}
      promise a -> * +serve(x) if holds(pass)
      capability pass from a to d { grants serve(x) }
      scenario "partition" {
        link a <-> b <-> c
        step 1: partition a, b | c
        step 1: a revokes pass
        expect b knows revoked(pass) by step 1
        expect c knows revoked(pass) by step 4
        step 5: heal
        expect c knows revoked(pass) by step 5
        expect d knows revoked(pass) by step 6
      }`;
    const t = one(text);
    assert.deepEqual(t.expectations.map((x) => x.passed), [true, false, true, false]);
    assert.equal(heardStep(t, "c", (n) => n.kind === "revoked"), 5);
    // Without the partition c hears one hop after b.
    const healed = one(text.replace("step 1: partition a, b | c", "step 1: heal"));
    assert.equal(heardStep(healed, "c", (n) => n.kind === "revoked"), 2);
  });

  it("delegate at run time: the delegate may use the pass; not-delegable passes are refused", () => {
    const text = `
      ${agents("shop", "ann", "ben", "cy")}
      promise shop -> * +serve(x) if holds(card)
      capability card from shop to ann { grants serve(x) delegable depth 1 }
      capability plain from shop to ann { grants serve(x) }
      scenario "delegation" {
        link ann <-> shop
        step 1: ben invokes card at shop expect refused
        step 2: ann delegates card to ben expect kept
        step 3: ben invokes card at shop expect kept
        step 4: ben delegates card to cy expect refused
        step 5: ann delegates plain to cy expect refused
        step 6: ben revokes card expect refused
        step 6: ann revokes card expect kept
        step 6: ben invokes card at shop expect kept
        step 7: ben invokes card at shop expect refused
      }`;
    const t = one(text);
    assert.equal(t.passed, true, JSON.stringify(t.expectations.filter((x) => !x.passed)));
    assert.match(t.timeline[3].events[0].reason, /depth used up/);
    assert.match(t.timeline[4].events[0].reason, /plain is not delegable/);
  });
});

describe("simulator: delegation chains", () => {
  // `wider` and `child` widen their parents: the checker refuses them (PG401, PG402), the engine voids them at run time.
  const base = `
    ${agents("vault", "ann", "ben", "cy")}
    promise vault -> * +read(files) if holds(account)
    promise vault -> * +write(files) if holds(account)
    capability account from vault to ann { grants read(files), write(files) delegable depth 2 expires after 20 steps }
    delegate assistant of account by ann to ben { grants read(files) delegable expires after 10 steps }
    delegate intern of assistant by ben to cy { grants read(files) expires after 5 steps }
    delegate wider of assistant by ben to cy { grants write(files) }
  `;
  it("an attenuated pass cannot do more than its parent; expiry counts steps per hop", () => {
    const t = unchecked(base + `scenario "s" {
      step 1: cy invokes intern at vault expect kept
      step 1: cy invokes wider at vault expect refused
      step 5: cy invokes intern at vault expect kept
      step 6: cy invokes intern at vault expect refused
      step 6: ben invokes assistant at vault expect kept
      step 11: ben invokes assistant at vault expect refused
      step 11: ann invokes account at vault expect kept
    }`);
    assert.equal(t.passed, true, JSON.stringify(t.expectations.filter((x) => !x.passed)));
    assert.match(t.timeline[0].events[1].reason, /wider grants write\(files\), which assistant does not: delegation may only narrow/);
    assert.match(t.timeline[5].events[0].reason, /intern expired after step 5/);
  });

  it("a token's verdict is judged again when a hop expires or its viewer hears a revocation", () => {
    // The engine keeps each token's verdict while it stands: these invocations repeat, so a kept verdict is what decides them.
    const t = unchecked(`
      ${agents("s", "a", "b")}
      promise s -> * +go(x) if holds(root)
      promise s -> * +go(y) if holds(other)
      capability root from s to a { grants go(x) expires after 2 steps }
      capability other from b to a { grants go(y) }
      scenario "s" {
        link s <-> b
        step 1: a invokes root at s expect kept
        step 2: a invokes root at s expect kept
        step 3: a invokes root at s expect refused
        step 3: a invokes other at s expect kept
        step 4: b revokes other
        step 4: a invokes other at s expect kept
        step 5: a invokes other at s expect refused
      }`);
    assert.deepEqual(outcomes(t).filter((o) => o.includes("invokes")), [
      "1:a invokes root at s=kept", "2:a invokes root at s=kept", "3:a invokes root at s=refused", "3:a invokes other at s=kept",
      "4:a invokes other at s=kept", "5:a invokes other at s=refused",
    ]);
    assert.match(t.timeline[2].events[0].reason, /root expired after step 2/);
    assert.match(t.timeline[4].events[0].reason, /s knows other was revoked \(at step 4\)/);
  });

  it("revoking a parent cuts its children, and knowing a parent's revocation is knowing the child's", () => {
    const t = unchecked(base + `scenario "s" {
      link vault <-> ann
      step 1: cy invokes intern at vault expect kept
      step 2: vault revokes account
      step 2: cy invokes intern at vault expect refused
      step 2: ben invokes assistant at vault expect refused
      step 2: ann invokes account at vault expect refused
      expect ann knows revoked(intern) by step 2
      expect cy knows revoked(intern) by step 2
    }`);
    assert.deepEqual(t.expectations.filter((x) => !x.passed).map((x) => x.agent), ["cy"]);
    assert.match(t.timeline[1].events[1].reason, /vault knows account was revoked/);
  });

  it("a chain whose depth is used up is void", () => {
    const t = unchecked(`
      ${agents("s", "a", "b")}
      promise s -> * +go(x) if holds(root)
      capability root from s to a { grants go(x) }
      delegate child of root by a to b { grants go(x) }
      scenario "s" { step 1: b invokes child at s expect refused }`);
    assert.equal(t.passed, true);
    assert.match(t.timeline[0].events[0].reason, /root is not delegable, so child is void/);
  });
});

describe("simulator: currencies", () => {
  const bank = (body: string, supply = "{ supply 10 }") => `
    ${agents("bank", "ann", "ben")}
    currency coin issued by bank ${supply}
    promise bank -> * +serve(tea) if holds(card) { price 4 coin }
    capability card from bank to ann { grants serve(tea) }
    scenario "money" {\n${body}\n}`;

  it("the issuer starts with the supply; setup balances are transferred from it", () => {
    const t = one(bank(`balance ann 6 coin\n balance ben 3 coin\n balance ben 1 coin`));
    assert.deepEqual(t.initial.bank.balances, { coin: 3 });
    assert.deepEqual(t.initial.ann.balances, { coin: 6 });
    assert.deepEqual(t.initial.ben.balances, { coin: 1 });
    assert.deepEqual(t.currencies, [{ name: "coin", issuer: "bank", issued: 10 }]);
  });

  it("never goes negative: an unpayable invocation is refused and nothing moves; supply is conserved", () => {
    const t = one(bank(`balance ann 6 coin
      step 1: ann invokes card at bank expect kept
      step 2: ann invokes card at bank expect refused
      step 3: ann pays 2 coin to ben
      step 4: ann pays 1 coin to ben expect refused
      expect balance ann 0 coin
      expect balance ben 2 coin
      expect balance bank 8 coin`));
    assert.equal(t.passed, true, JSON.stringify(t.expectations.filter((x) => !x.passed)));
    assert.match(t.timeline[1].events[0].reason, /ann has 2 coin, the price is 4 coin/);
    // Replay the trace's balance changes: the sum never leaves the supply and nobody dips below 0.
    const held = new Map(Object.entries(t.initial).map(([a, v]) => [a, v.balances.coin ?? 0]));
    for (const s of t.timeline) {
      for (const [a, v] of Object.entries(s.views)) if (v.balances?.coin !== undefined) held.set(a, v.balances.coin);
      assert.equal([...held.values()].reduce((x, y) => x + y, 0), 10);
      for (const v of held.values()) assert.ok(v >= 0);
    }
  });

  it("setup beyond the supply, or on the issuer, is a diagnostic; without a supply setup mints", () => {
    const [over] = run(bank(`balance ann 6 coin\n balance ben 5 coin`));
    assert.equal(over.trace, undefined);
    assert.equal(over.diagnostics[0].code, "PG912");
    assert.match(over.diagnostics[0].message, /bank has only 4 coin left of its supply of 10; cannot give ben 5/);
    const [issuer] = run(bank(`balance bank 3 coin`));
    assert.match(issuer.diagnostics[0].message, /bank issues coin and starts with its whole supply/);
    const minted = one(bank(`balance ann 7 coin\n balance bank 2 coin`, ""));
    assert.deepEqual(minted.currencies[0].issued, 9);
  });
});

describe("simulator: expectations", () => {
  it("every kind passes and fails, naming step, agent and what it saw", () => {
    const t = one(trucks(`link truck1 <-> truck5
      balance alice 10 taco
      step 1: alice invokes lunch_pass at truck1 expect refused
      expect balance alice 7 taco
      expect balance alice 8 taco
      expect truck1_lunch kept
      expect truck1_lunch kept for truck5
      expect truck1_lunch broken for alice
      step 2: truck1 revokes lunch_pass
      expect truck5 knows revoked(lunch_pass)
      expect alice knows revoked(lunch_pass)`));
    const got = t.expectations.map((x) => [x.passed, x.agent, x.step, x.saw]);
    assert.deepEqual(got, [
      [false, "alice", 1, "kept: truck1 serve(lunch) for alice, paid 3 taco"],
      [true, "alice", 1, "alice has 7 taco"],
      [false, "alice", 1, "alice has 7 taco"],
      [true, "truck1", 1, "truck1 sees truck1_lunch kept"],
      [true, "truck5", 1, "truck5 sees truck1_lunch kept"],
      [false, "alice", 1, "alice sees truck1_lunch kept"],
      [true, "truck5", 2, "truck5 heard that lunch_pass was revoked at step 2 (revoked at step 2)"],
      [false, "alice", 2, "alice had not heard that lunch_pass was revoked by step 2 (it was revoked at step 2)"],
    ]);
  });
});

describe("simulator: determinism and bad input", () => {
  it("same file, same trace bytes", () => {
    const a = traceJson(one(FOOD_TRUCKS));
    const b = traceJson(one(FOOD_TRUCKS));
    assert.equal(a, b);
    assert.ok(a.length > 1000);
  });

  it("same file, same trace bytes across separate processes", () => {
    const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
    const once = () => execFileSync(process.execPath, ["--import", "tsx", "cli/main.ts", "simulate", "examples/delegation.pg", "--json"], { cwd: root });
    const a = once(), b = once();
    assert.ok(a.length > 1000);
    assert.equal(Buffer.compare(a, b), 0);
  });

  it("unknown names are diagnostics with suggestions, not crashes", () => {
    const [r] = run(trucks(`balance alcie 10 taco
      step 1: alice invokes lunch_pas at truck9
      step 2: bob pays 2 tacos to alice
      step 3: truck1 breaks nothing
      expect truck1_lunch kept for nobody`));
    assert.equal(r.trace, undefined);
    assert.equal(r.passed, false);
    // The checker's codes: the simulator repeats none of them.
    assert.deepEqual(r.diagnostics.map((d) => d.code), ["PG200", "PG200", "PG200", "PG200", "PG500", "PG200", "PG200"]);
    assert.match(r.diagnostics[0].message, /undefined agent 'alcie'; did you mean 'alice'\?/);
    assert.match(r.diagnostics[1].message, /undefined capability 'lunch_pas'; did you mean 'lunch_pass'\?/);
    assert.match(r.diagnostics[5].message, /undefined promise 'nothing' \(a scenario uses named promises\)/);
    for (const d of r.diagnostics) assert.ok(d.span.end > d.span.start);
  });

  it("a scenario using a declaration that names an unknown agent says why", () => {
    const [r] = run(`
      agent a
      capability pass from a to ghost { grants go(x) }
      promise p: nobody -> a +go(x)
      scenario "s" {
        step 1: a invokes pass at a
        step 2: a pays 1 coin to a
        expect p kept
      }`);
    assert.equal(r.trace, undefined);
    assert.deepEqual(r.diagnostics.filter((d) => d.code !== "PG400").map((d) => [d.code, d.message]), [
      ["PG200", "undefined agent 'ghost'"],
      ["PG200", "undefined agent 'nobody'"],
      ["PG500", "unknown currency 'coin'"],
    ]);
  });

  it("a million-step scenario is refused with the limit, not run", () => {
    const [r] = run(trucks(`step 1000000: truck1 revokes lunch_pass\n expect truck5 knows revoked(lunch_pass) by step 2000000`));
    assert.equal(r.trace, undefined);
    assert.deepEqual(r.diagnostics.map((d) => d.code), ["PG702", "PG702"]);
    assert.match(r.diagnostics[0].message, /step 1000000 is past the limit of 100000 steps a scenario may run/);
  });

  it("prepareRun: a program with checker errors runs no scenario, each carries the checker's errors", () => {
    const text = `
      ${agents("v", "ann", "ben")}
      promise v -> * +read(files) if holds(acct)
      promise ann -> v -read(files)
      promise ben -> v -read(files)
      capability acct from v to ann { grants read(files) delegable }
      delegate helper of acct by ann to ben { grants read(files) }
      scenario "one" { step 1: ben invokes helper at v expect kept }
      scenario "two" { step 1: ann invokes acct at v expect kept }`;
    const good = loadProgram(["/virtual/test.pg"], memoryHost({ "test.pg": text }));
    const ran = prepareRun(good);
    assert.deepEqual(ran.errors, []);
    assert.deepEqual(ran.scenarios.map((s) => s.run!.finish().passed), [true, true]);
    const widened = loadProgram(["/virtual/test.pg"], memoryHost({ "test.pg": text.replace("helper of acct by ann to ben { grants read(files) }", "helper of acct by ann to ben { grants read(files), write(files) }") }));
    const refused = prepareRun(widened);
    assert.deepEqual(refused.errors.map((d) => d.code), ["PG401"]);
    assert.deepEqual(refused.scenarios.map((s) => [s.title, s.run, s.diagnostics.map((d) => d.code)]), [["one", undefined, ["PG401"]], ["two", undefined, ["PG401"]]]);
    assert.deepEqual(prepareRun(widened, { diagnostics: check(widened), only: (t) => t === "two" }).scenarios.map((s) => [s.title, s.run]), [["two", undefined]]);
    // Without the gate the engine runs it, and voids nothing here: the invocation uses read(files), which acct grants.
    assert.equal(prepareScenarios(widened).scenarios[1].run!.finish().passed, true);
  });

  it("the engine alone does not plan what the checker refuses; its diagnostics are the checker's", () => {
    const program = loadProgram(["/virtual/test.pg"], memoryHost({ "test.pg": trucks(`link alice <-> alice
 step 1: alice invokes lunch_pass at truck1`) }));
    const [s] = prepareScenarios(program).scenarios;
    assert.equal(s.run, undefined);
    assert.deepEqual(s.diagnostics.map((d) => [d.code, d.message]), [["PG907", "an agent cannot link to itself ('alice')"]]);
  });

  it("an event left incomplete by a syntax error is not planned, and says so with the parser's code", () => {
    const program = loadProgram(["/virtual/test.pg"], memoryHost({ "test.pg": trucks(`step 1: alice pays * taco to truck1`) }));
    const [s] = prepareScenarios(program).scenarios;
    assert.equal(s.run, undefined);
    assert.deepEqual(s.diagnostics.map((d) => d.code), ["PG101"]);
  });

  it("breaking another agent's promise is a diagnostic; steps must be written in order", () => {
    const [r] = run(trucks(`step 2: truck5 breaks truck1_lunch\n step 1: truck1 revokes lunch_pass`));
    assert.deepEqual(r.diagnostics.map((d) => d.code), ["PG913", "PG701"]);
  });
});

describe("simulator: CLI", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-sim-"));
  const write = (name: string, text: string) => { fs.writeFileSync(path.join(dir, name), text); return name; };
  async function cli(...argv: string[]) {
    let out = "", err = "";
    const code = await main(argv, { out: (t) => { out += t; }, err: (t) => { err += t; }, cwd: dir });
    return { code, out, err };
  }

  it("test: reports each failure with step, agent and what it saw; last line is the count; exit 1", async () => {
    write("good.pg", FOOD_TRUCKS);
    write("bad.pg", FOOD_TRUCKS.replace("expect balance alice 4 taco", "expect balance alice 5 taco"));
    const r = await cli("test", "good.pg", "bad.pg");
    assert.equal(r.code, 1);
    const lines = r.out.trimEnd().split("\n");
    assert.equal(lines.at(-1), "1 passed, 1 failed");
    assert.ok(lines.includes(`  bad.pg:${lineOf(FOOD_TRUCKS, "expect balance alice")}: scenario "revocation reaches truck5 by gossip": step 4, alice: expect balance alice 5 taco; saw: alice has 4 taco`), r.out);
    const ok = await cli("test", "good.pg");
    assert.equal(ok.code, 0);
    assert.equal(ok.out.trimEnd().split("\n").at(-1), "1 passed, 0 failed");
    const json = await cli("test", "bad.pg", "--json");
    const doc = JSON.parse(json.out);
    assert.equal(doc.failed, 1);
    assert.equal(doc.scenarios[0].failures[0].line, lineOf(FOOD_TRUCKS, "expect balance alice"));
  });

  it("test: unknown names fail the scenario with path:line:col diagnostics", async () => {
    write("names.pg", trucks(`step 1: alice invokes lunch_pass at truck9`));
    const r = await cli("test", "names.pg");
    assert.equal(r.code, 1);
    assert.match(r.out, /names\.pg:\d+:\d+: error PG200 undefined agent 'truck9'; did you mean 'truck1'\?/);
    assert.equal(r.out.trimEnd().split("\n").at(-1), "0 passed, 1 failed");
  });

  it("graph: an ELK-laid SVG, edges by polarity, coloured by state at the chosen step", async () => {
    write("trucks.pg", FOOD_TRUCKS);
    const edge = (svg: string, id: string) => svg.split("\n").find((l) => l.includes(`data-id="${id}"`)) ?? "";
    const at = async (step: string) => {
      const r = await cli("graph", "trucks.pg", "--step", step);
      assert.equal(r.code, 0, r.err);
      return r.out;
    };
    const s1 = await at("1"), s4 = await at("4");
    assert.match(s1, /^<svg /);
    for (const a of ["truck1", "truck5", "alice"]) assert.ok(s1.includes(`>${a}</text>`), a);
    // promise 0 is truck1_lunch (+, solid), promise 1 alice's -serve(lunch) (dashed).
    assert.match(edge(s1, "promise:0:0"), /stroke="#1a7f37"/);
    assert.doesNotMatch(edge(s1, "promise:0:0"), /stroke-dasharray/);
    assert.match(edge(s1, "promise:1:0"), /stroke-dasharray="7 4"/);
    assert.match(edge(s1, "cap:0"), /stroke="#8250df"/, "lunch_pass standing at step 1");
    assert.match(edge(s4, "cap:0"), /stroke="#cf222e"/, "revoked by step 4");
    assert.match(edge(s4, "promise:2:0"), /stroke="#bc4c00"/, "truck5 refused at step 4");
    // Laid out, not stacked: the three agent boxes have distinct positions.
    const boxes = [...s4.matchAll(/<rect x="([\d.]+)" y="([\d.]+)"/g)].map((m) => `${m[1]},${m[2]}`);
    assert.equal(new Set(boxes).size, boxes.length);
    assert.equal(s4, await at("4"), "deterministic");
    const past = await cli("graph", "trucks.pg", "--step", "9");
    assert.equal(past.code, 1);
    assert.match(past.err, /runs to step 4; step 9 is past its end/);
    const file = await cli("graph", "trucks.pg", "-o", "out.svg");
    assert.equal(file.code, 0);
    assert.match(fs.readFileSync(path.join(dir, "out.svg"), "utf8"), /capability lunch_pass/);
  });

  it("graph: delegations below a revoked parent are drawn cut", async () => {
    write("delegation.pg", fs.readFileSync(new URL("../../examples/delegation.pg", import.meta.url), "utf8"));
    const before = await cli("graph", "delegation.pg", "--step", "1");
    const after = await cli("graph", "delegation.pg", "--step", "2");
    assert.doesNotMatch(before.out, /\[cut:/);
    assert.match(after.out, /delegate intern \[cut: account revoked\]/);
    assert.match(after.out, /capability account \[revoked\]/);
  });

  it("simulate: a readable table and --json the trace; unknown titles are named", async () => {
    write("trucks.pg", FOOD_TRUCKS);
    const table = await cli("simulate", "trucks.pg");
    assert.equal(table.code, 0);
    assert.match(table.out, /2 +truck1 revokes lunch_pass +kept/);
    assert.match(table.out, /gossip truck1 -> truck5 +revoked\(lunch_pass\)/);
    const json = await cli("simulate", "trucks.pg", "--json", "--scenario", "revocation reaches truck5 by gossip");
    assert.equal(JSON.parse(json.out).format, "promisegrid-trace/1");
    assert.equal(json.out, (await cli("simulate", "trucks.pg", "--json")).out);
    const missing = await cli("simulate", "trucks.pg", "--scenario", "nope");
    assert.equal(missing.code, 1);
    assert.match(missing.err, /has no scenario titled "nope"; it has "revocation reaches truck5 by gossip"/);
  });
});
