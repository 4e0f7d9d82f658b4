// A Debug Adapter Protocol session that steps through a scenario: breakpoints on
// `step N:` lines, Step Over = the next step, and the Variables view showing
// every agent's view (presence, balances, assessments, notices heard).
// It uses only @vscode/debugadapter and the simulator, so it runs inline in the
// extension host and in plain Node (the unit tests drive it there).
import {
  DebugSession, Handles, InitializedEvent, OutputEvent, Scope, Source, StackFrame, StoppedEvent, TerminatedEvent, Thread,
} from "@vscode/debugadapter";
import type { DebugProtocol } from "@vscode/debugprotocol";
import * as path from "node:path";
import { LineIndex } from "../../grammar/index.ts";
import type { Program } from "../../language/program.ts";
import { prepareScenarios, type ScenarioRun, type World, UNIT } from "../../language/simulator/index.ts";

export interface ScenarioLaunchArguments extends DebugProtocol.LaunchRequestArguments {
  /** The .pg file. */
  program: string;
  /** The scenario's title; the file's first scenario when left out. */
  scenario?: string;
  stopOnEntry?: boolean;
}

export interface SessionHooks {
  load(file: string): Program;
  /** Called whenever the session stops, with the run at that point (the graph view follows it). */
  onStop?(run: ScenarioRun, world: World, file: string): void;
}

const THREAD = 1;
type VarsProvider = () => DebugProtocol.Variable[];

export class ScenarioDebugSession extends DebugSession {
  private run?: ScenarioRun;
  private world?: World;
  private file = "";
  private title = "";
  private scenarioLine = 1;
  /** Step number -> 1-based lines of its events. */
  private stepLines = new Map<number, number[]>();
  private breakpoints = new Map<string, Set<number>>();
  private vars = new Handles<VarsProvider>();
  private configured!: () => void;
  private readonly configurationDone = new Promise<void>((r) => { this.configured = r; });
  private finished = false;

  constructor(private readonly hooks: SessionHooks) {
    super();
    this.setDebuggerLinesStartAt1(true);
    this.setDebuggerColumnsStartAt1(true);
  }

  protected override initializeRequest(response: DebugProtocol.InitializeResponse): void {
    response.body = {
      ...response.body,
      supportsConfigurationDoneRequest: true,
      supportsTerminateRequest: true,
      supportsStepBack: false,
    };
    this.sendResponse(response);
    this.sendEvent(new InitializedEvent());
  }

  protected override configurationDoneRequest(response: DebugProtocol.ConfigurationDoneResponse): void {
    this.sendResponse(response);
    this.configured();
  }

  /** Breakpoints are verified only on lines that hold a `step N:` event of some scenario. */
  protected override setBreakPointsRequest(response: DebugProtocol.SetBreakpointsResponse, args: DebugProtocol.SetBreakpointsArguments): void {
    const file = args.source.path ? path.resolve(args.source.path) : "";
    const lines = (args.breakpoints ?? []).map((b) => this.convertClientLineToDebugger(b.line));
    const stepLines = new Set<number>();
    try {
      const program = this.hooks.load(file);
      const source = program.files.get(file);
      if (source) {
        const index = new LineIndex(source.text);
        for (const d of source.declarations) {
          if (d.kind !== "scenario") continue;
          for (const item of d.items) if (item.kind === "step") stepLines.add(index.position(item.span.start).line + 1);
        }
      }
    } catch {
      // An unreadable file has no step lines: every breakpoint stays unverified.
    }
    const verified = lines.filter((l) => stepLines.has(l));
    this.breakpoints.set(file, new Set(verified));
    response.body = {
      breakpoints: lines.map((line) => ({
        verified: stepLines.has(line),
        line: this.convertDebuggerLineToClient(line),
        ...(stepLines.has(line) ? {} : { message: "breakpoints go on `step N:` lines" }),
      })),
    };
    this.sendResponse(response);
  }

  protected override async launchRequest(response: DebugProtocol.LaunchResponse, args: ScenarioLaunchArguments): Promise<void> {
    await this.configurationDone;
    this.file = path.resolve(args.program ?? "");
    let program: Program;
    try {
      program = this.hooks.load(this.file);
    } catch (e) {
      this.sendErrorResponse(response, 1, `cannot read ${this.file}: ${(e as Error).message}`);
      return;
    }
    const source = program.files.get(this.file);
    if (!source || source.errors.length) {
      const first = source?.errors[0];
      this.sendErrorResponse(response, 2, first ? `${path.basename(this.file)} has syntax errors: ${first.message}` : `cannot read ${this.file}`);
      return;
    }
    const { world, scenarios } = prepareScenarios(program, (t, p) => p === this.file && (args.scenario === undefined || t === args.scenario));
    const chosen = scenarios[0];
    if (!chosen) {
      this.sendErrorResponse(response, 3, args.scenario === undefined ? `${path.basename(this.file)} has no scenarios` : `no scenario titled "${args.scenario}" in ${path.basename(this.file)}`);
      return;
    }
    if (!chosen.run) {
      const lines = new LineIndex(source.text);
      const text = chosen.diagnostics.map((d) => `${path.basename(this.file)}:${lines.position(d.span.start).line + 1}: ${d.code} ${d.message}`).join("\n");
      this.sendErrorResponse(response, 4, `scenario "${chosen.title}" cannot run:\n${text}`);
      return;
    }
    this.world = world;
    this.run = chosen.run;
    this.title = chosen.title;
    const lines = new LineIndex(source.text);
    this.scenarioLine = lines.position(chosen.decl.span.start).line + 1;
    for (const e of chosen.run.plan.events) {
      if (e.path !== this.file) continue;
      const list = this.stepLines.get(e.step) ?? [];
      list.push(e.line);
      this.stepLines.set(e.step, list);
    }
    this.sendResponse(response);
    this.sendEvent(new OutputEvent(`scenario "${this.title}": ${chosen.run.plan.lastStep} steps\n`, "console"));
    if (args.stopOnEntry) this.halt("entry");
    else this.continueRun(true);
  }

  /** The step that runs next. */
  private get nextStep(): number { return (this.run?.step ?? 0) + 1; }

  private hasBreakpoint(step: number): boolean {
    const bps = this.breakpoints.get(this.file);
    return !!bps && (this.stepLines.get(step) ?? []).some((l) => bps.has(l));
  }

  private halt(reason: string, description?: string): void {
    this.vars.reset();
    if (this.run && this.world) this.hooks.onStop?.(this.run, this.world, this.file);
    const e = new StoppedEvent(reason, THREAD) as DebugProtocol.StoppedEvent;
    if (description) e.body.description = description;
    this.sendEvent(e);
  }

  /** Runs steps until a breakpoint's step is next, or the end. */
  private continueRun(checkFirst: boolean): void {
    const run = this.run!;
    let first = !checkFirst;
    while (!run.done) {
      if (!first && this.hasBreakpoint(this.nextStep)) { this.halt("breakpoint"); return; }
      first = false;
      this.runStep();
    }
    this.end();
  }

  private runStep(): void {
    const record = this.run!.next();
    for (const e of record.events) {
      this.sendEvent(new OutputEvent(`step ${record.step}: ${e.text} -> ${e.outcome}: ${e.reason}\n`, "console"));
    }
    for (const x of record.expectations) {
      if (!x.passed) this.sendEvent(new OutputEvent(`line ${x.line}: ${x.text} failed; saw: ${x.saw}\n`, "stderr"));
    }
  }

  /** At the end the session stops once more to show the final views, then ends on the next resume. */
  private end(): void {
    if (!this.finished) {
      this.finished = true;
      const failed = this.run!.results.filter((r) => !r.passed).length;
      this.sendEvent(new OutputEvent(`scenario "${this.title}" finished: ${this.run!.results.length - failed} of ${this.run!.results.length} expectations hold\n`, "console"));
      this.halt("end", "scenario finished");
      return;
    }
    this.sendEvent(new TerminatedEvent());
  }

  protected override continueRequest(response: DebugProtocol.ContinueResponse): void {
    response.body = { allThreadsContinued: true };
    this.sendResponse(response);
    if (this.finished || !this.run) { this.end(); return; }
    this.continueRun(false);
  }

  /** Step Over: run the next step (and any steps without events after it), then stop before the next one. */
  protected override nextRequest(response: DebugProtocol.NextResponse): void {
    this.sendResponse(response);
    this.stepOnce();
  }

  protected override stepInRequest(response: DebugProtocol.StepInResponse): void {
    this.sendResponse(response);
    this.stepOnce();
  }

  protected override stepOutRequest(response: DebugProtocol.StepOutResponse): void {
    this.sendResponse(response);
    this.stepOnce();
  }

  private stepOnce(): void {
    const run = this.run;
    if (!run || this.finished) { this.end(); return; }
    this.runStep();
    while (!run.done && !this.stepLines.has(this.nextStep)) this.runStep();
    if (run.done) this.end();
    else this.halt("step");
  }

  protected override pauseRequest(response: DebugProtocol.PauseResponse): void {
    this.sendResponse(response);
  }

  protected override threadsRequest(response: DebugProtocol.ThreadsResponse): void {
    response.body = { threads: [new Thread(THREAD, `scenario "${this.title}"`)] };
    this.sendResponse(response);
  }

  protected override stackTraceRequest(response: DebugProtocol.StackTraceResponse): void {
    const source = new Source(path.basename(this.file), this.convertDebuggerPathToClient(this.file));
    const step = this.nextStep;
    const line = this.finished ? this.scenarioLine : this.stepLines.get(step)?.[0] ?? this.scenarioLine;
    const name = this.finished ? `end (after step ${this.run?.step ?? 0})` : `before step ${step}`;
    response.body = { stackFrames: [new StackFrame(1, name, source, this.convertDebuggerLineToClient(line), 1)], totalFrames: 1 };
    this.sendResponse(response);
  }

  protected override scopesRequest(response: DebugProtocol.ScopesResponse): void {
    const scopes = [new Scope("Agents", this.vars.create(() => this.agentVars()), false)];
    scopes.push(new Scope(this.run && this.run.step > 0 ? `Step ${this.run.step}` : "Setup", this.vars.create(() => this.stepVars()), false));
    response.body = { scopes };
    this.sendResponse(response);
  }

  protected override variablesRequest(response: DebugProtocol.VariablesResponse, args: DebugProtocol.VariablesArguments): void {
    const provider = this.vars.get(args.variablesReference);
    response.body = { variables: provider ? provider() : [] };
    this.sendResponse(response);
  }

  protected override disconnectRequest(response: DebugProtocol.DisconnectResponse): void {
    this.sendResponse(response);
  }

  protected override terminateRequest(response: DebugProtocol.TerminateResponse): void {
    this.sendResponse(response);
    this.sendEvent(new TerminatedEvent());
  }

  private group(name: string, value: string, children: () => DebugProtocol.Variable[]): DebugProtocol.Variable {
    return { name, value, variablesReference: this.vars.create(children) };
  }

  private leaf(name: string, value: string): DebugProtocol.Variable {
    return { name, value, variablesReference: 0 };
  }

  private agentVars(): DebugProtocol.Variable[] {
    const run = this.run, world = this.world;
    if (!run || !world) return [];
    return world.agents.map((a) => {
      const v = run.view(a.index);
      const money = Object.entries(v.balances).map(([c, n]) => `${n} ${c}`).join(", ");
      const summary = `${v.present ? "present" : "absent"}${money ? `, ${money}` : ""}, heard ${v.heard.length} notice${v.heard.length === 1 ? "" : "s"}`;
      return this.group(a.name, summary, () => [
        this.leaf("present", String(v.present)),
        this.group("balances", money || "none", () => Object.entries(v.balances).map(([c, n]) => this.leaf(c, String(n)))),
        this.group("promises", `${Object.keys(v.promises).length} assessed`, () => Object.entries(v.promises).map(([p, s]) => this.leaf(p, s))),
        this.group("heard", `${v.heard.length}`, () => v.heard.map((id) => {
          const n = run.engine.notices[id];
          const what = n.kind === "revoked" ? `revoked(${run.engine.caps[n.cap!].name})` : `${world.promises[n.promise!].label} ${n.kind}`;
          return this.leaf(`#${id}`, `${what} (step ${n.step}, heard at step ${run.engine.heardAt(a.index, id)})`);
        })),
      ]);
    });
  }

  private stepVars(): DebugProtocol.Variable[] {
    const run = this.run;
    if (!run) return [];
    const out: DebugProtocol.Variable[] = [this.leaf("step", String(run.step)), this.leaf("last step", String(run.plan.lastStep))];
    const record = run.timeline.at(-1);
    if (record) {
      out.push(this.group("events", `${record.events.length}`, () => record.events.map((e, i) => this.leaf(`${i + 1}. ${e.text}`, `${e.outcome}: ${e.reason}`))));
      out.push(this.group("gossip", `${record.gossip.length} deliveries`, () => record.gossip.map((g, i) => this.leaf(`${i + 1}. ${g.from} -> ${g.to}`, g.notices.map((n) => `#${n}`).join(", ")))));
    }
    const results = run.results;
    out.push(this.group("expectations", `${results.filter((r) => r.passed).length} of ${results.length} hold so far`, () =>
      results.map((r) => this.leaf(`line ${r.line}: ${r.text}`, `${r.passed ? "holds" : "FAILS"}: ${r.saw}`))));
    const money = this.world!.currencies.map((c) => `${c.name} ${run.engine.issued[c.index] / UNIT}`).join(", ");
    if (money) out.push(this.leaf("issued", money));
    return out;
  }
}
