// The scenario requests (server/scenarios.ts) over stdio against the bundled
// server: what Test Explorer and the debugger in the editor ask for, and the
// pictures (the debugger's Timeline tab, the walkthrough's lesson deck), each
// the same picture the CLI draws.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { LspClient, uri } from "./client.ts";
import {
  GRAPH_REQUEST, LESSON_REQUEST, RUN_SCENARIO_REQUEST, SCENARIOS_REQUEST, TIMELINE_REQUEST, TRACE_REQUEST,
  type GraphAnswer, type LessonAnswer, type ScenarioListing, type ScenarioTestResult, type TimelineAnswer, type TraceAnswer,
} from "../../server/scenario-protocol.ts";

const TEXT = fs.readFileSync(new URL("../../examples/food-trucks.pg", import.meta.url), "utf8");
const TITLE = "revocation reaches truck5 by gossip";
const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;

let c: LspClient;
let food: string;

before(async () => {
  c = await LspClient.inCopy((dir) => fs.writeFileSync(path.join(dir, "trucks.pg"), TEXT));
  food = uri(c.path("trucks.pg"));
});
after(() => c.close());

describe("scenario requests", () => {
  it("lists a document's scenarios and step lines; an open document wins over the disk", async () => {
    const listed = await c.request<ScenarioListing>(SCENARIOS_REQUEST, { uri: food });
    assert.deepEqual(listed.scenarios.map((s) => s.title), [TITLE]);
    assert.equal(listed.scenarios[0].range.start.line, lineOf(TEXT, "scenario \"") - 1);
    assert.deepEqual(listed.stepLines, [lineOf(TEXT, "step 1:"), lineOf(TEXT, "step 2: truck1"), lineOf(TEXT, "step 2: alice"), lineOf(TEXT, "step 4:")]);
    const u = await c.open("trucks.pg", TEXT.replace(TITLE, "edited, not saved"));
    assert.deepEqual((await c.request<ScenarioListing>(SCENARIOS_REQUEST, { uri: u })).scenarios.map((s) => s.title), ["edited, not saved"]);
    await c.change(u, [{ text: TEXT }]);
  });

  it("runs a scenario as a test: passed, or failed at the expectation's line", async () => {
    const [good] = await c.request<ScenarioTestResult[]>(RUN_SCENARIO_REQUEST, { uri: food, title: TITLE });
    assert.deepEqual([good.title, good.passed, good.messages], [TITLE, true, []]);
    const bad = TEXT.replace("expect balance alice 4 taco", "expect balance alice 5 taco");
    const u = await c.open("failing.pg", bad);
    const [r] = await c.request<ScenarioTestResult[]>(RUN_SCENARIO_REQUEST, { uri: u });
    assert.equal(r.passed, false);
    assert.deepEqual(r.messages.map((m) => m.line), [lineOf(bad, "expect balance alice 5 taco")]);
    assert.match(r.messages[0].message, /step 4, alice: expect balance alice 5 taco; saw: alice has 4 taco/);
    const [missing] = await c.request<ScenarioTestResult[]>(RUN_SCENARIO_REQUEST, { uri: food, title: "nope" });
    assert.match(missing.messages[0].message, /no scenario titled "nope"/);
  });

  it("a program the checker refuses runs no scenario, as in the CLI: the test and every picture say why", async () => {
    const widened = TEXT.replace('scenario "', 'delegate lunch_and_dinner of lunch_pass by alice to truck5 { grants serve(lunch), serve(dinner) }\n\nscenario "');
    const line = lineOf(widened, "delegate lunch_and_dinner");
    const u = await c.open("widened.pg", widened);
    const [r] = await c.request<ScenarioTestResult[]>(RUN_SCENARIO_REQUEST, { uri: u });
    assert.equal(r.passed, false);
    assert.deepEqual(r.messages.map((m) => [m.line, m.message.split(" ")[0]]), [[line, "PG402"], [line, "PG401"]]);
    assert.match(r.messages[1].message, /delegation widens authority: 'lunch_pass' does not grant serve\(dinner\)/);
    const requests: [string, object][] = [[TRACE_REQUEST, {}], [GRAPH_REQUEST, { step: 1 }], [TIMELINE_REQUEST, {}], [LESSON_REQUEST, {}]];
    for (const [method, params] of requests) {
      const a = await c.request<{ error?: { code: number; message: string } }>(method, { uri: u, ...params });
      assert.equal(a.error?.code, 4, `${method}: ${JSON.stringify(a).slice(0, 200)}`);
      assert.match(a.error.message, new RegExp(`^widened\\.pg has errors, no scenario runs:\nwidened\\.pg:${line}: PG402 .*\nwidened\\.pg:${line}: PG401 delegation widens authority`));
    }
    // An error in an imported file keeps the importer's scenarios from running too, shown at the scenario with its place.
    const importer = `import "widened.pg"\nscenario "elsewhere" {\n  step 1: alice invokes lunch_pass at truck1 expect kept\n}\n`;
    const [i] = await c.request<ScenarioTestResult[]>(RUN_SCENARIO_REQUEST, { uri: await c.open("importer.pg", importer) });
    assert.equal(i.passed, false);
    assert.deepEqual(i.messages.map((m) => m.line), [2, 2]);
    assert.match(i.messages[0].message, new RegExp(`^widened\\.pg:${line}: PG402 `));
  });

  it("gives the debugger every step, with each agent's view", async () => {
    const answer = await c.request<TraceAnswer>(TRACE_REQUEST, { uri: food });
    assert.ok("trace" in answer, JSON.stringify(answer));
    const t = answer.trace;
    assert.equal(t.title, TITLE);
    assert.equal(t.steps.length, t.lastStep + 1);
    assert.deepEqual(t.stepLines[2], [lineOf(TEXT, "step 2: truck1"), lineOf(TEXT, "step 2: alice")]);
    const view = (step: number, agent: string) => t.steps[step].agents.find((a) => a.name === agent)!.view;
    assert.equal(view(1, "alice").balances.taco, 7);
    assert.equal(view(3, "alice").balances.taco, 4);
    assert.equal(view(1, "truck5").promises.truck1_lunch, "kept");
    assert.deepEqual(view(1, "truck5").heard.map((h) => h.id), [0]);
    assert.match(view(3, "truck5").heard.find((h) => h.id === 1)!.text, /revoked\(lunch_pass\) \(step 2, heard at step 2\)/);
    assert.deepEqual(t.steps[2].events.map((e) => e.outcome), ["kept", "kept"]);
    const none = await c.request<TraceAnswer>(TRACE_REQUEST, { uri: food, title: "nope" });
    assert.ok("error" in none && none.error.code === 3 && /no scenario titled "nope"/.test(none.error.message));
  });

  it("draws the graph at a step, as the simulator or as one agent", async () => {
    const at = async (step: number, as?: string) => {
      const a = await c.request<GraphAnswer>(GRAPH_REQUEST, { uri: food, title: TITLE, step, as });
      assert.ok("svg" in a, JSON.stringify(a));
      return a.svg;
    };
    assert.doesNotMatch(await at(1), /lunch_pass \[revoked\]/);
    assert.match(await at(3), /capability lunch_pass \[revoked\]/);
    assert.match(await at(3, "alice"), /<svg /);
    const unknown = await c.request<GraphAnswer>(GRAPH_REQUEST, { uri: food, step: 0, as: "bob" });
    assert.ok("error" in unknown && /no agent 'bob'/.test(unknown.error.message));
  });
});

describe("picture requests", () => {
  it("the timeline up to a step: its rows, and one arrow per gossip delivery so far", async () => {
    const at2 = await c.request<TimelineAnswer>(TIMELINE_REQUEST, { uri: food, title: TITLE, step: 2 });
    assert.ok("svg" in at2, JSON.stringify(at2));
    assert.match(at2.svg, /<svg [^>]*class="spacetime"/);
    assert.match(at2.svg, /trucks\.pg: &quot;revocation reaches truck5 by gossip&quot;, steps 1 to 2/);
    assert.deepEqual([...at2.svg.matchAll(/class="step" data-step="(\d+)"/g)].map((m) => m[1]), ["1", "2"]);
    const trace = await c.request<TraceAnswer>(TRACE_REQUEST, { uri: food, title: TITLE });
    assert.ok("trace" in trace);
    const deliveries = trace.trace.steps.slice(1, 3).flatMap((s) => s.gossip.map((g) => `${g.from}>${g.to}`));
    assert.ok(deliveries.length >= 2, "the food trucks gossip in steps 1 and 2");
    assert.deepEqual([...at2.svg.matchAll(/class="gossip" data-from="(\w+)" data-to="(\w+)"/g)].map((m) => `${m[1]}>${m[2]}`), deliveries);
    const whole = await c.request<TimelineAnswer>(TIMELINE_REQUEST, { uri: food });
    assert.ok("svg" in whole);
    assert.deepEqual([...whole.svg.matchAll(/class="step" data-step="(\d+)"/g)].map((m) => m[1]), ["1", "2", "3", "4"]);
    const missing = await c.request<TimelineAnswer>(TIMELINE_REQUEST, { uri: food, title: "nope" });
    assert.deepEqual(missing, { error: { code: 3, message: 'no scenario titled "nope" in trucks.pg' } });
  });

  it("the lesson deck: one self-contained page, a slide per step, from the open document", async () => {
    const answer = await c.request<LessonAnswer>(LESSON_REQUEST, { uri: food, title: TITLE });
    assert.ok("html" in answer, JSON.stringify(answer));
    assert.match(answer.html, /^<!DOCTYPE html>/i);
    assert.match(answer.html, /truck5 still serves alice/);
    assert.doesNotMatch(answer.html, /(src|href)="https?:/, "nothing from the network");
    // An edit not yet saved is what the deck shows.
    const u = await c.open("trucks.pg", TEXT.replace(TITLE, "edited, not saved"));
    const edited = await c.request<LessonAnswer>(LESSON_REQUEST, { uri: u });
    assert.ok("html" in edited);
    assert.match(edited.html, /edited, not saved/);
  });
});
