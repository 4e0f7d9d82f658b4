// `unavailable`: an invocation, payment or delegation that cannot reach the
// agent it needs (absent after `leaves`, or across a partition) does not
// happen. Nothing moves, no notice is made, and after `heal` or `joins` the
// same event is evaluated as usual. Real .pg text through the parser, the
// checker and the simulator.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { check, loadProgram } from "../../language/index.ts";
import { prepareRun, runScenarios, traceJson, type Trace } from "../../language/simulator/index.ts";
import { renderTimelineSvg } from "../../language/simulator/spacetime.ts";
import { explainStep } from "../../language/simulator/explain.ts";
import { memoryHost } from "./helpers.ts";
import { assertSchema } from "./schemas.ts";

const WORLD = `
agent truck1
agent truck5
agent alice
agent bob
currency taco issued by truck1 { supply 100 }
promise truck1 -> * +serve(lunch) if holds(lunch_pass) { price 3 taco }
promise truck5 -> * +serve(lunch) if holds(lunch_pass) { price 3 taco }
promise alice -> truck1, truck5 -serve(lunch)
capability lunch_pass from truck1 to alice { grants serve(lunch) delegable expires after 20 steps }
`;

function program(body: string) {
  return loadProgram(["/virtual/u.pg"], memoryHost({ "u.pg": `${WORLD}scenario "s" {\n${body}\n}\n` }));
}

function trace(body: string): Trace {
  const p = program(body);
  assert.deepEqual(p.files.get("/virtual/u.pg")!.errors, [], "parses");
  const [r] = runScenarios(p);
  assert.deepEqual(r.diagnostics, []);
  return r.trace!;
}

/** Every event as "step:text=outcome". */
function outcomes(t: Trace): string[] {
  return t.timeline.flatMap((s) => s.events.map((e) => `${s.step}:${e.text}=${e.outcome}`));
}

function failed(t: Trace): string[] {
  return t.expectations.filter((x) => !x.passed).map((x) => `${x.text}: ${x.saw}`);
}

describe("unavailable: what a partition or an absence cuts", () => {
  it("an invocation across a partition is unavailable: no notice, no price, no view changes; the same side is kept", () => {
    const t = trace(`  link truck1 <-> truck5
  balance alice 10 taco
  step 1: partition alice, truck1 | truck5
  step 2: alice invokes lunch_pass at truck5 expect unavailable
  step 2: alice invokes lunch_pass at truck1 expect kept
  expect balance alice 7 taco`);
    assert.deepEqual(failed(t), []);
    const [across, near] = t.timeline[1].events;
    assert.equal(across.outcome, "unavailable");
    assert.match(across.reason, /a partition cuts alice off from truck5/);
    assert.deepEqual(across.notices, [], "nobody is told");
    assert.equal(across.transfer, undefined, "no price moves");
    assert.equal(across.promise, undefined, "no promise was exercised");
    // truck5's view did not change at step 2: it was never asked.
    assert.equal(t.timeline[1].views.truck5, undefined);
    assert.equal(near.outcome, "kept");
    assert.equal(near.transfer?.amount, 3);
    // The trace with the new outcome still matches its schema.
    assertSchema("trace.schema.json", JSON.parse(traceJson(t)));
  });

  it("an invocation at an absent agent, or by one, is unavailable; after joining it is kept", () => {
    const t = trace(`  balance alice 10 taco
  step 1: truck5 leaves
  step 2: alice invokes lunch_pass at truck5 expect unavailable
  step 3: truck5 joins
  step 4: alice invokes lunch_pass at truck5 expect kept
  step 5: alice leaves
  step 6: alice invokes lunch_pass at truck1 expect unavailable
  expect balance alice 7 taco`);
    assert.deepEqual(failed(t), []);
    assert.match(t.timeline[1].events[0].reason, /truck5 is not present/);
    assert.match(t.timeline[5].events[0].reason, /alice is not present/);
    // The promise truck5 made was never seen broken: unavailable is not a notice.
    assert.ok(t.notices.every((n) => n.kind !== "broken"));
  });

  it("after heal the same invocation is kept again", () => {
    const t = trace(`  balance alice 10 taco
  step 1: partition alice | truck5
  step 2: alice invokes lunch_pass at truck5
  step 3: heal
  step 4: alice invokes lunch_pass at truck5 expect kept
  expect balance alice 7 taco
  expect balance truck5 3 taco`);
    assert.deepEqual(failed(t), []);
    assert.deepEqual(outcomes(t), [
      "1:partition alice | truck5=kept",
      "2:alice invokes lunch_pass at truck5=unavailable",
      "3:heal=kept",
      "4:alice invokes lunch_pass at truck5=kept",
    ]);
  });

  it("a payment across a partition is unavailable and nothing moves; a delegation across it makes no token", () => {
    const t = trace(`  balance alice 10 taco
  step 1: partition alice | bob, truck5
  step 2: alice pays 4 taco to bob expect unavailable
  step 2: alice delegates lunch_pass to bob expect unavailable
  step 3: heal
  step 4: bob invokes lunch_pass at truck5 expect refused
  expect balance alice 10 taco
  expect balance bob 0 taco
  step 5: alice pays 4 taco to bob expect kept
  expect balance bob 4 taco`);
    assert.deepEqual(failed(t), []);
    const pay = t.timeline[1].events[0];
    assert.equal(pay.transfer, undefined);
    assert.deepEqual(t.timeline[1].views, {}, "no balance changed at step 2");
    assert.match(t.timeline[3].events[0].reason, /bears no token of lunch_pass/);
  });

  it("the timeline draws an unavailable invocation as an arrow that stops halfway, a kept one in full", () => {
    const { world, scenarios } = prepareRun(program(`  balance alice 10 taco
  step 1: partition alice | truck5
  step 2: alice invokes lunch_pass at truck5
  step 3: heal
  step 4: alice invokes lunch_pass at truck5`));
    const run = scenarios[0].run!;
    const svg = renderTimelineSvg({ world, plan: run.plan, trace: run.finish(), title: "t" });
    const arrows = [...svg.matchAll(/<path class="event-arrow" data-outcome="(\w+)" d="M([\d.]+),[\d.]+L([\d.]+),[\d.]+"[^>]*>/g)];
    assert.deepEqual(arrows.map((a) => a[1]), ["unavailable", "kept"]);
    const [cut, kept] = arrows.map((a) => Math.abs(Number(a[3]) - Number(a[2])));
    assert.ok(cut < kept * 0.6, `the unavailable arrow (${cut}) stops well short of the kept one (${kept})`);
    assert.match(arrows[0][0], /stroke-dasharray/);
    assert.match(svg, /unavailable: cannot reach/, "the legend says what the dashed arrow is");
  });

  it("explain shows an unavailable invocation as such, with no one's view behind it", () => {
    const p = program(`  step 1: partition alice | truck5
  step 2: alice invokes lunch_pass at truck5`);
    const x = explainStep(p, "/virtual/u.pg", undefined, 2);
    const [e] = x.events;
    assert.equal(e.outcome, "unavailable");
    assert.equal(e.viewer, null);
    assert.equal(e.condition, null);
    assert.deepEqual(e.fixes, []);
  });
});

describe("unavailable in the language", () => {
  const codes = (body: string) => {
    const p = program(body);
    assert.deepEqual(p.files.get("/virtual/u.pg")!.errors, [], "parses");
    return check(p).map((d) => `${d.code} ${d.message}`);
  };

  it("only an invocation, a payment or a delegation may expect unavailable (PG704)", () => {
    assert.deepEqual(codes(`  step 1: truck5 leaves expect unavailable`), [
      "PG704 only an invocation, a payment or a delegation can be unavailable: a 'leave' event reaches nobody",
    ]);
    assert.deepEqual(codes(`  step 1: alice pays 1 taco to bob expect unavailable`), []);
  });

  it("is not a keyword: an agent may still be named unavailable", () => {
    const p = loadProgram(["/virtual/n.pg"], memoryHost({ "n.pg": `agent a
agent unavailable
promise a -> * +serve(x) if holds(pass)
capability pass from a to unavailable { grants serve(x) }
scenario "s" {
  link a <-> unavailable
  step 1: a revokes pass
  expect unavailable knows revoked(pass) by step 1
  step 2: unavailable invokes pass at a expect refused
}
` }));
    assert.deepEqual(p.files.get("/virtual/n.pg")!.errors, []);
    const [r] = runScenarios(p);
    assert.deepEqual(r.diagnostics, []);
    assert.equal(r.trace!.passed, true, JSON.stringify(r.trace!.expectations));
  });
});
