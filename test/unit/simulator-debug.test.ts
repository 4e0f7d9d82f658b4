// The scenario debug adapter over the Debug Adapter Protocol, driven message by
// message in Node: breakpoints on step lines, Step Over = next step, variables
// with each agent's view. (The same adapter runs inline in VS Code.)
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import type { DebugProtocol } from "@vscode/debugprotocol";
import { ScenarioDebugSession } from "../../client/debug/session.ts";
import { loadProgram } from "../../language/program.ts";
import { cliHost } from "../../cli/load.ts";
import { listScenarios, scenarioTrace } from "../../server/scenarios.ts";

// The language server's scenario requests, answered in-process (the in-editor suite goes through the real server).
const hooks = {
  scenarios: async (f: string) => listScenarios(loadProgram([f], cliHost), f),
  trace: async (f: string, title?: string) => scenarioTrace(loadProgram([f], cliHost), f, title),
};

const TEXT = fs.readFileSync(new URL("../../examples/food-trucks.pg", import.meta.url), "utf8");
const lineOf = (needle: string) => TEXT.split("\n").findIndex((l) => l.includes(needle)) + 1;

class Client {
  seq = 1;
  messages: DebugProtocol.ProtocolMessage[] = [];
  private waiters: { pred: (m: DebugProtocol.ProtocolMessage) => boolean; resolve: (m: DebugProtocol.ProtocolMessage) => void }[] = [];
  private seen = 0;
  constructor(readonly session: ScenarioDebugSession) {
    session.onDidSendMessage((m) => {
      const msg = m as DebugProtocol.ProtocolMessage;
      this.messages.push(msg);
      this.waiters = this.waiters.filter((w) => (w.pred(msg) ? (w.resolve(msg), false) : true));
    });
  }
  request<T extends DebugProtocol.Response>(command: string, args?: unknown): Promise<T> {
    const seq = this.seq++;
    const p = this.wait((m) => m.type === "response" && (m as DebugProtocol.Response).request_seq === seq) as Promise<T>;
    this.session.handleMessage({ seq, type: "request", command, arguments: args } as DebugProtocol.Request);
    return p;
  }
  /** The next event of this kind not consumed yet. */
  event(name: string): Promise<DebugProtocol.Event> {
    const pred = (m: DebugProtocol.ProtocolMessage) => m.type === "event" && (m as DebugProtocol.Event).event === name;
    const idx = this.messages.findIndex((m, i) => i >= this.seen && pred(m));
    if (idx >= 0) { this.seen = idx + 1; return Promise.resolve(this.messages[idx] as DebugProtocol.Event); }
    return this.wait(pred).then((m) => { this.seen = this.messages.indexOf(m) + 1; return m as DebugProtocol.Event; });
  }
  private wait(pred: (m: DebugProtocol.ProtocolMessage) => boolean): Promise<DebugProtocol.ProtocolMessage> {
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }
}

async function variables(c: Client, ref: number): Promise<DebugProtocol.Variable[]> {
  return (await c.request<DebugProtocol.VariablesResponse>("variables", { variablesReference: ref })).body.variables;
}

async function agent(c: Client, name: string): Promise<Record<string, string>> {
  const scopes = (await c.request<DebugProtocol.ScopesResponse>("scopes", { frameId: 1 })).body.scopes;
  const agents = await variables(c, scopes[0].variablesReference);
  const a = agents.find((v) => v.name === name)!;
  const out: Record<string, string> = { summary: a.value };
  for (const v of await variables(c, a.variablesReference)) {
    out[v.name] = v.value;
    if (v.variablesReference) for (const w of await variables(c, v.variablesReference)) out[`${v.name}.${w.name}`] = w.value;
  }
  return out;
}

describe("simulator: debug adapter (DAP)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-dap-"));
  const file = path.join(dir, "trucks.pg");
  fs.writeFileSync(file, TEXT);

  async function start(lines: number[], stopOnEntry = false) {
    const c = new Client(new ScenarioDebugSession(hooks));
    await c.request("initialize", { adapterID: "promisegrid", linesStartAt1: true, columnsStartAt1: true, pathFormat: "path" });
    const launched = c.request("launch", { program: file, stopOnEntry });
    await c.event("initialized");
    const bps = await c.request<DebugProtocol.SetBreakpointsResponse>("setBreakpoints", { source: { path: file }, breakpoints: lines.map((line) => ({ line })) });
    await c.request("configurationDone");
    const launch = await launched;
    return { c, bps: bps.body.breakpoints, launch };
  }

  it("stops at a breakpoint on a step line, steps, and shows each agent's view", async () => {
    const step2 = lineOf("step 2: alice invokes");
    const { c, bps } = await start([step2, 1]);
    assert.deepEqual(bps.map((b) => b.verified), [true, false], "only step lines take breakpoints");
    const stopped = await c.event("stopped");
    assert.equal(stopped.body.reason, "breakpoint");
    const frame = (await c.request<DebugProtocol.StackTraceResponse>("stackTrace", { threadId: 1 })).body.stackFrames[0];
    // Step 2's first line is the revocation; the frame sits on the step's first event line.
    assert.equal(frame.line, lineOf("step 2: truck1 revokes"));
    assert.equal(frame.name, "before step 2");
    let truck5 = await agent(c, "truck5");
    assert.equal(truck5["promises.truck1_lunch"], "kept");
    assert.equal(truck5.heard, "1");
    let alice = await agent(c, "alice");
    assert.equal(alice["balances.taco"], "7");

    await c.request("next", { threadId: 1 });
    assert.equal((await c.event("stopped")).body.reason, "step");
    const after = (await c.request<DebugProtocol.StackTraceResponse>("stackTrace", { threadId: 1 })).body.stackFrames[0];
    assert.equal(after.name, "before step 4", "steps without events are run through");
    assert.equal(after.line, lineOf("step 4:"));
    truck5 = await agent(c, "truck5");
    assert.match(truck5["heard.#1"], /revoked\(lunch_pass\) \(step 2, heard at step 2\)/);
    alice = await agent(c, "alice");
    assert.equal(alice["balances.taco"], "4");
    const scopes = (await c.request<DebugProtocol.ScopesResponse>("scopes", { frameId: 1 })).body.scopes;
    assert.equal(scopes[1].name, "Step 3");

    await c.request("continue", { threadId: 1 });
    const end = await c.event("stopped");
    assert.equal(end.body.reason, "end");
    const endFrame = (await c.request<DebugProtocol.StackTraceResponse>("stackTrace", { threadId: 1 })).body.stackFrames[0];
    assert.equal(endFrame.name, "end (after step 4)");
    await c.request("continue", { threadId: 1 });
    await c.event("terminated");
  });

  it("stops on entry; a bad scenario is an error response, not a crash", async () => {
    const { c } = await start([], true);
    assert.equal((await c.event("stopped")).body.reason, "entry");
    const frame = (await c.request<DebugProtocol.StackTraceResponse>("stackTrace", { threadId: 1 })).body.stackFrames[0];
    assert.equal(frame.line, lineOf("step 1:"));

    const bad = path.join(dir, "bad.pg");
    fs.writeFileSync(bad, TEXT.replace("step 4: alice invokes lunch_pass at truck5", "step 4: alice invokes lunch_pass at truck9"));
    const d = new Client(new ScenarioDebugSession(hooks));
    await d.request("initialize", { adapterID: "promisegrid" });
    const launched = d.request<DebugProtocol.Response>("launch", { program: bad });
    await d.request("configurationDone");
    const r = await launched;
    assert.equal(r.success, false);
    assert.match(r.message ?? JSON.stringify(r.body), /PG200 undefined agent 'truck9'/);
  });
});
