// The picture requests of server/scenarios.ts over stdio against the bundled
// server: the space-time diagram up to a step (the debugger's Timeline tab) and
// the lesson deck (the walkthrough's command), each the same picture the CLI draws.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { LspClient, uri, workspaceCopy } from "./client.ts";
import { LESSON_REQUEST, TIMELINE_REQUEST, TRACE_REQUEST, type LessonAnswer, type TimelineAnswer, type TraceAnswer } from "../../server/scenario-protocol.ts";

const TEXT = fs.readFileSync(new URL("../../examples/food-trucks.pg", import.meta.url), "utf8");
const TITLE = "revocation reaches truck5 by gossip";

let c: LspClient;
let root: string;
let food: string;

before(async () => {
  root = workspaceCopy();
  fs.writeFileSync(path.join(root, "trucks.pg"), TEXT);
  food = uri(path.join(root, "trucks.pg"));
  c = await LspClient.start(root, { debounceMs: 0 });
});
after(async () => {
  await c.stop();
  fs.rmSync(root, { recursive: true, force: true });
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
