// `promisegrid graph` as a user runs it (a real CLI process, dist/cli.js): one agent's view
// against the truth, the narrow layout's width, the legend, and the timeline.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { ensureBuiltCli } from "./built-cli.ts";
import { foodTrucksWith } from "./helpers.ts";

const root = path.resolve(new URL("../..", import.meta.url).pathname);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-views-"));
// The CLI as shipped (the package's bin), bundled from this tree: it starts in a fraction of tsx's time, and these tests
// draw many pictures. Built under the lock every test of the built CLI shares.
const cliJs = ensureBuiltCli();

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [cliJs, ...args], { cwd: dir, encoding: "utf8", env: { ...process.env, PROMISEGRID_DEBUG: "" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// The food trucks with the trucks cut apart until step 4: truck5 hears of the revocation (step 2) only then.
const PARTITIONED = foodTrucksWith(`scenario "a partition holds the news back" {
  link truck1 <-> truck5
  balance alice 10 taco
  step 1: partition truck1 | truck5
  step 2: truck1 revokes lunch_pass
  step 3: alice invokes lunch_pass at truck5 expect kept
  step 4: heal
  step 5: alice invokes lunch_pass at truck5 expect refused
}
`);
fs.writeFileSync(path.join(dir, "trucks.pg"), PARTITIONED);
fs.copyFileSync(path.join(root, "examples/delegation.pg"), path.join(dir, "delegation.pg"));

// The same picture is asked for by several tests: draw each once.
const drawn = new Map<string, string>();
function svgOf(...args: string[]): string {
  const key = args.join(" ");
  if (!drawn.has(key)) {
    const r = cli("graph", ...args);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^<svg /);
    drawn.set(key, r.out);
  }
  return drawn.get(key)!;
}
/** The lunch_pass edge (cap:0) and its full label (the path's <title>). */
const capEdge = (svg: string) => svg.split("\n").find((l) => l.includes(`data-id="cap:0"`)) ?? "";
const width = (svg: string) => Number(/^<svg [^>]*\bwidth="(\d+)"/.exec(svg)![1]);

describe("graph --as: one agent's view", () => {
  it("truck5 sees lunch_pass standing until gossip reaches it; the truth shows it revoked from step 2", () => {
    const truth2 = svgOf("trucks.pg", "--step", "2");
    const as2 = svgOf("trucks.pg", "--step", "2", "--as", "truck5");
    const as3 = svgOf("trucks.pg", "--step", "3", "--as", "truck5");
    const as4 = svgOf("trucks.pg", "--step", "4", "--as", "truck5");
    assert.match(capEdge(truth2), /<title>capability lunch_pass \[revoked\]<\/title>/);
    assert.match(capEdge(truth2), /stroke="#cf222e"/);
    for (const svg of [as2, as3]) {
      assert.match(capEdge(svg), /<title>capability lunch_pass<\/title>/);
      assert.match(capEdge(svg), /stroke="#8250df"/, "standing in truck5's view");
    }
    assert.match(capEdge(as4), /<title>capability lunch_pass \[revoked\]<\/title>/, "heard after the heal");
    // truck1 knew at once.
    assert.match(capEdge(svgOf("trucks.pg", "--step", "2", "--as", "truck1")), /\[revoked\]/);
  });

  it("labels whose view it is, and shows an agent only its own balances and assessments", () => {
    const truth = svgOf("trucks.pg", "--step", "3");
    const as5 = svgOf("trucks.pg", "--step", "3", "--as", "truck5");
    assert.match(truth, /data-view="truth"/);
    assert.match(truth, /<title>trucks\.pg: &quot;a partition holds the news back&quot; at step 3: the truth: every outcome, whoever knows it<\/title>/);
    assert.match(as5, /data-view="truck5"/);
    assert.match(as5, /<title>[^<]*: as truck5 sees it: only what it has heard<\/title>/);
    // alice holds 7 taco after paying truck5; the truth shows it, truck5's view does not.
    assert.match(truth, />7 taco</);
    assert.doesNotMatch(as5, />7 taco</);
    assert.match(as5, />3 taco</, "truck5's own balance");
    // truck1_lunch was never invoked: pending for truck5; truck5's own promise kept at step 3.
    assert.match(as5, /<title>truck1_lunch: \+serve\(lunch\) \[pending\]<\/title>/);
    assert.match(as5, /<title>\+serve\(lunch\) \[kept\]<\/title>/);
  });

  it("a delegation is cut in the view of an agent that heard of its parent's revocation, not in one that did not", () => {
    // vault revokes account at step 2; gossip reaches ann and ben, never cy (no link).
    const cy = svgOf("delegation.pg", "--step", "2", "--as", "cy");
    const ben = svgOf("delegation.pg", "--step", "2", "--as", "ben");
    assert.match(ben, /<title>delegate intern \[cut: account revoked\]<\/title>/);
    assert.match(cy, /<title>delegate intern<\/title>/);
  });

  it("an unknown agent is a usage error that names the agents and writes nothing", () => {
    const r = cli("graph", "trucks.pg", "--step", "2", "--as", "truck9", "-o", "nope.svg");
    assert.equal(r.code, 2);
    assert.match(r.err, /--as names no agent of trucks\.pg: 'truck9'; the agents are truck1, truck5, alice/);
    assert.equal(fs.existsSync(path.join(dir, "nope.svg")), false);
  });
});

describe("graph layout and legend", () => {
  it("three agents fit a narrow panel top to bottom; --layout wide lays them left to right", () => {
    const narrow = svgOf("trucks.pg", "--step", "3");
    const wide = svgOf("trucks.pg", "--step", "3", "--layout", "wide");
    assert.ok(width(narrow) <= 520, `narrow layout is ${width(narrow)} px wide`);
    assert.ok(width(wide) > width(narrow));
    // Top to bottom: the agent boxes sit at more than one height.
    const ys = new Set([...narrow.matchAll(/<g class="node" data-id="agent:\d+"><rect x="[\d.]+" y="([\d.]+)"/g)].map((m) => m[1]));
    assert.ok(ys.size >= 2, "agents in one row");
    // Long labels are wrapped onto lines of their own.
    assert.match(narrow, /<tspan [^>]*>truck1_lunch:<\/tspan>/);
  });

  it("the legend names every kind of line and box drawn", () => {
    const svg = svgOf("trucks.pg", "--step", "3", "--as", "truck5");
    const legend = svg.slice(svg.indexOf(`<g class="legend">`));
    for (const entry of ["+ promise (gives)", "- promise (uses)", "capability, delegation", "kept", "broken", "refused", "pending",
      "revoked, as this agent has heard", "gossip link", "gossip link cut", "absent agent", "the agent whose view this is"]) {
      assert.ok(legend.includes(`>${entry}</text>`), `legend lacks '${entry}'`);
    }
  });
});

describe("graph --timeline", () => {
  it("draws one arrow per gossip delivery of the trace, one mark per event, every step's row", () => {
    const trace = JSON.parse(cli("simulate", "trucks.pg", "--json").out);
    const deliveries = trace.timeline.flatMap((s: { gossip: { from: string; to: string }[] }) => s.gossip);
    assert.ok(deliveries.length >= 3);
    const svg = svgOf("trucks.pg", "--timeline");
    const arrows = [...svg.matchAll(/<path class="gossip" data-from="(\w+)" data-to="(\w+)"/g)].map((m) => ({ from: m[1], to: m[2] }));
    assert.deepEqual(arrows, deliveries.map((d: { from: string; to: string }) => ({ from: d.from, to: d.to })));
    const events = trace.timeline.flatMap((s: { events: unknown[] }) => s.events).length;
    assert.equal([...svg.matchAll(/class="event( network)?"/g)].length, events);
    for (const a of ["truck1", "truck5", "alice"]) assert.match(svg, new RegExp(`<text class="agent"[^>]*>${a}</text>`));
    // Who learned what: truck5 first hears the revocation in the row of step 4.
    assert.match(svg, /truck5 now knows revoked\(lunch_pass\)/);
    const row = (step: number) => Number(new RegExp(`data-step="${step}" x="\\d+" y="([\\d.]+)"`).exec(svg)![1]);
    const heard = Number(/<rect class="heard" data-agent="truck5" x="[\d.]+" y="([\d.]+)"/.exec(svg)![1]);
    assert.ok(heard > row(4) && heard < row(5), "truck5 hears at step 4");
    // --step cuts the diagram: no deliveries after step 2 (there are none before the heal).
    const upTo2 = svgOf("trucks.pg", "--timeline", "--step", "2");
    assert.doesNotMatch(upTo2, /class="gossip"/);
    assert.doesNotMatch(upTo2, /data-step="3"/);
  });
});
