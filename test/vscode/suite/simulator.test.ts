/// <reference types="mocha" />
// Scenarios in the real editor: the Test Explorer runs them with the right
// pass/fail and failure locations, and a debug session stops at a breakpoint on
// a step line, steps, and reads each agent's view through the DAP.
import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import type { PromiseGridApi } from "../../../client/extension.ts";
import type { ScenarioRunResult } from "../../../client/testing.ts";

const EXT_ID = "promisegrid.promisegrid";

function ws(file: string): vscode.Uri {
  return vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, file);
}

async function until<T>(what: string, get: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function lineOf(uri: vscode.Uri, needle: string): Promise<number> {
  const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
  const i = text.split("\n").findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, needle);
  return i + 1;
}

describe("scenarios in VS Code: Test Explorer and debugger", () => {
  let food: vscode.Uri, failing: vscode.Uri;
  before(async () => {
    const api = await vscode.extensions.getExtension<PromiseGridApi>(EXT_ID)!.activate();
    await api.ready();
    // The lesson command writes the food-trucks example into the workspace: the suite depends on no other file.
    food = vscode.Uri.parse(await vscode.commands.executeCommand<string>("promisegrid.lesson.open"));
    assert.equal(food.fsPath, ws("food-trucks.pg").fsPath);
    failing = ws("sim-failing.pg");
    const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(food))
      .replace('scenario "revocation reaches truck5 by gossip"', 'scenario "alice is charged too little"')
      .replace("expect balance alice 4 taco", "expect balance alice 5 taco");
    await vscode.workspace.fs.writeFile(failing, new TextEncoder().encode(text));
  });

  it("Test Explorer: Run All reports each scenario's pass or fail, failures at the expectation's line", async () => {
    await vscode.commands.executeCommand("testing.runAll");
    const results = await until("a test run with both scenarios", async () => {
      const r = await vscode.commands.executeCommand<ScenarioRunResult[]>("promisegrid.testing.lastResults");
      return r && r.some((x) => x.file === failing.fsPath) && r.some((x) => x.file === food.fsPath) ? r : undefined;
    });
    const good = results.find((r) => r.file === food.fsPath)!;
    assert.ok(results.every((r) => r.passed === (r.file !== failing.fsPath)), JSON.stringify(results));
    const bad = results.find((r) => r.file === failing.fsPath)!;
    assert.equal(good.title, "revocation reaches truck5 by gossip");
    assert.equal(good.passed, true, JSON.stringify(good.messages));
    assert.equal(bad.passed, false);
    assert.deepEqual(bad.messages.map((m) => m.line), [await lineOf(failing, "expect balance alice 5 taco")]);
    assert.match(bad.messages[0].message, /step 4, alice: expect balance alice 5 taco; saw: alice has 4 taco/);
  });

  it("the Run code lens command runs one scenario", async () => {
    const r = await vscode.commands.executeCommand<ScenarioRunResult[]>("promisegrid.runScenario", food.toString(), "revocation reaches truck5 by gossip");
    assert.deepEqual(r.map((x) => [x.title, x.passed]), [["revocation reaches truck5 by gossip", true]]);
  });

  it("the food-trucks walkthrough is contributed, its pages exist, and its lesson runs", async () => {
    const ext = vscode.extensions.getExtension(EXT_ID)!;
    const walk = ext.packageJSON.contributes.walkthroughs.find((w: { id: string }) => w.id === "foodTrucks");
    assert.ok(walk, "walkthrough contributed");
    for (const step of walk.steps as { media: { markdown: string } }[]) {
      await vscode.workspace.fs.stat(vscode.Uri.joinPath(ext.extensionUri, step.media.markdown));
    }
    const r = await vscode.commands.executeCommand<ScenarioRunResult[]>("promisegrid.lesson.run");
    assert.deepEqual(r.map((x) => [x.title, x.passed]), [["revocation reaches truck5 by gossip", true]]);
    // The lesson file is in the workspace and open.
    assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, food.fsPath);
  });

  it("the walkthrough's lesson deck: the language server renders it, the command writes it beside the lesson", async () => {
    const ext = vscode.extensions.getExtension(EXT_ID)!;
    const walk = ext.packageJSON.contributes.walkthroughs.find((w: { id: string }) => w.id === "foodTrucks");
    assert.ok((walk.steps as { description: string }[]).some((s) => s.description.includes("command:promisegrid.lesson.deck")), "the walkthrough offers the deck");
    const written = await vscode.commands.executeCommand<string>("promisegrid.lesson.deck");
    assert.equal(vscode.Uri.parse(written).fsPath, ws("food-trucks.lesson.html").fsPath);
    const html = new TextDecoder().decode(await vscode.workspace.fs.readFile(ws("food-trucks.lesson.html")));
    assert.match(html, /^<!DOCTYPE html>/i);
    assert.match(html, /revocation reaches truck5 by gossip/);
    assert.match(html, /truck5 still serves alice/);
    assert.match(html, /class="spacetime"/, "the slides carry the timeline");
  });

  it("debugger: stops at a breakpoint on a step line, steps over to the next step, reads variables", async () => {
    const events: { event: string; body: { reason?: string } }[] = [];
    const tracker = vscode.debug.registerDebugAdapterTrackerFactory("promisegrid", {
      createDebugAdapterTracker: () => ({
        onDidSendMessage: (m: { type: string; event: string; body: { reason?: string } }) => { if (m.type === "event") events.push(m); },
      }),
    });
    const line = await lineOf(food, "step 2: alice invokes");
    const bp = new vscode.SourceBreakpoint(new vscode.Location(food, new vscode.Position(line - 1, 0)));
    vscode.debug.addBreakpoints([bp]);
    try {
      const started = await vscode.debug.startDebugging(vscode.workspace.workspaceFolders![0], {
        type: "promisegrid", request: "launch", name: "step through food trucks", program: food.fsPath, stopOnEntry: false,
      });
      assert.equal(started, true);
      const session = await until("the debug session", () => vscode.debug.activeDebugSession);
      const stops = () => events.filter((e) => e.event === "stopped");
      await until("a stop at the breakpoint", () => (stops().length >= 1 ? true : undefined));
      assert.equal(stops()[0].body.reason, "breakpoint");
      const frame = (await session.customRequest("stackTrace", { threadId: 1 })).stackFrames[0];
      assert.equal(frame.name, "before step 2");
      assert.equal(frame.line, await lineOf(food, "step 2: truck1 revokes"));

      const agentView = async (name: string) => {
        const scopes = (await session.customRequest("scopes", { frameId: frame.id })).scopes;
        const agents = (await session.customRequest("variables", { variablesReference: scopes[0].variablesReference })).variables;
        const a = agents.find((v: { name: string }) => v.name === name);
        const parts = (await session.customRequest("variables", { variablesReference: a.variablesReference })).variables;
        const out: Record<string, string> = { summary: a.value };
        for (const p of parts) {
          if (!p.variablesReference) continue;
          for (const v of (await session.customRequest("variables", { variablesReference: p.variablesReference })).variables) out[`${p.name}.${v.name}`] = v.value;
        }
        return out;
      };
      const before = await agentView("alice");
      assert.equal(before["balances.taco"], "7");
      assert.equal((await agentView("truck5"))["promises.truck1_lunch"], "kept");

      await session.customRequest("next", { threadId: 1 });
      await until("a stop after stepping", () => (stops().length >= 2 ? true : undefined));
      assert.equal(stops()[1].body.reason, "step");
      const next = (await session.customRequest("stackTrace", { threadId: 1 })).stackFrames[0];
      assert.equal(next.name, "before step 4");
      const after = await agentView("alice");
      assert.equal(after["balances.taco"], "4");
      assert.match((await agentView("truck5"))["heard.#1"], /revoked\(lunch_pass\)/);

      // The graph beside the editor follows the session.
      const html = await until("the graph webview", async () => {
        const h = await vscode.commands.executeCommand<string>("promisegrid.graph.current");
        return h && h.includes('data-step="3"') ? h : undefined;
      });
      assert.match(html, /<svg [^>]*>/);
      assert.match(html, /capability lunch_pass \[revoked\]/);
      // The graph as one agent knows it: by name (the panel's picker), or as a Variables view item passes it.
      const asTruck5 = await vscode.commands.executeCommand<string>("promisegrid.graph.showAs", "truck5");
      assert.match(asTruck5, /data-as="truck5"/);
      assert.match(asTruck5, /after step 3: as truck5 sees it/);
      const asAlice = await vscode.commands.executeCommand<string>("promisegrid.graph.showAs", { variable: { name: "alice" } });
      assert.match(asAlice, /data-as="alice"/);
      await vscode.commands.executeCommand("promisegrid.graph.showAs", "");
      // The Timeline tab: the space-time diagram up to the step stopped at, then back to the graph.
      const timeline = await vscode.commands.executeCommand<string>("promisegrid.graph.timeline");
      assert.match(timeline, /data-view="timeline"/);
      assert.match(timeline, /<svg [^>]*class="spacetime"/);
      assert.match(timeline, /steps 1 to 3/);
      assert.match(timeline, /class="gossip" data-from="truck1" data-to="truck5"/);
      assert.doesNotMatch(timeline, /data-step="4"/, "no row past the step stopped at");
      const back = await vscode.commands.executeCommand<string>("promisegrid.graph.timeline", false);
      assert.match(back, /data-view="graph"/);
      assert.match(back, /capability lunch_pass \[revoked\]/);
      await vscode.debug.stopDebugging(session);
    } finally {
      vscode.debug.removeBreakpoints([bp]);
      tracker.dispose();
    }
  });
});
