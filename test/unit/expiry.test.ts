// Wall-clock expiry (`expires after 30m`, the grid's) beside steps (the
// simulator's): parsed, checked, compiled into the manifest, and never reached
// within a scenario.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import { parse } from "../../grammar/index.ts";
import { compile, loadProgram } from "../../language/index.ts";
import { runScenarios } from "../../language/simulator/index.ts";
import { checkText, codes, memoryHost } from "./helpers.ts";

const PASS = (expiry: string, child = "") => `agent a
agent b
agent c
promise a -> * +run(x) if holds(p)
promise b -> a -run(x)
promise c -> a -run(x)
capability p from a to b { grants run(x) delegable ${expiry} }
${child}`;

test("expires after 30m parses as a duration; steps stay steps; another word is PG101", () => {
  const cap = (src: string) => parse(src).declarations[0] as { expiresAfter?: { steps: number; ms?: number } };
  assert.deepEqual({ ...cap("capability p from a to b { grants run(x) expires after 30m }").expiresAfter, span: undefined }, { steps: Infinity, ms: 1_800_000, span: undefined });
  assert.equal(cap("capability p from a to b { grants run(x) expires after 2h }").expiresAfter?.ms, 7_200_000);
  assert.deepEqual({ ...cap("capability p from a to b { grants run(x) expires after 10 steps }").expiresAfter, span: undefined }, { steps: 10, span: undefined });
  const bad = parse("capability p from a to b { grants run(x) expires after 3 weeks }");
  assert.equal(bad.errors[0]?.code, "PG101");
  assert.match(bad.errors[0].message, /expected 'steps' but found 'weeks' \(or write a duration, e\.g\. 30m: ms, s, m, h, d\)/);
});

test("a delegation may not outlast its parent's duration (PG401); 0m is PG501", () => {
  assert.deepEqual(codes(checkText(PASS("expires after 30m", "delegate q of p by b to c { grants run(x) expires after 10m }"))), []);
  const wide = checkText(PASS("expires after 30m", "delegate q of p by b to c { grants run(x) expires after 1h }"));
  assert.deepEqual(codes(wide), ["PG401"]);
  assert.match(wide[0].message, /30m is the longest a delegation of 'p' may last/);
  assert.deepEqual(codes(checkText(PASS("expires after 0m"))), ["PG501"]);
});

test("the manifest carries expiresAfterMs for a duration, expiresAfterSteps for steps", async () => {
  for (const [expiry, want] of [["expires after 30m", { expiresAfterMs: 1_800_000 }], ["expires after 4 steps", { expiresAfterSteps: 4 }]] as const) {
    const program = loadProgram(["/virtual/t.pg"], memoryHost({ "t.pg": PASS(expiry) }));
    const m = await compile(program, { readFile: () => new Uint8Array() });
    const root = dagCbor.decode(m.blocks[0].bytes) as { capabilities: Record<string, unknown>[] };
    const { expiresAfterMs, expiresAfterSteps } = root.capabilities[0];
    assert.deepEqual(JSON.parse(JSON.stringify({ expiresAfterMs, expiresAfterSteps })), want);
  }
});

test("within a scenario a duration never expires; steps do", () => {
  const scenario = (expiry: string) => `${PASS(expiry)}
scenario "late" {
  step 1: b invokes p at a expect kept
  step 500: b invokes p at a expect ${expiry.includes("steps") ? "refused" : "kept"}
}`;
  for (const expiry of ["expires after 30m", "expires after 5 steps"]) {
    const program = loadProgram(["/virtual/s.pg"], memoryHost({ "s.pg": scenario(expiry) }));
    const [r] = runScenarios(program);
    assert.deepEqual(r.diagnostics, [], expiry);
    assert.equal(r.passed, true, `${expiry}: ${JSON.stringify(r.failures ?? r)}`);
  }
});
