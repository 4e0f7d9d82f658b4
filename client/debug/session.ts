// A Debug Adapter Protocol session that steps through a scenario: breakpoints on
// `step N:` lines, Step Over = the next step, and the Variables view showing
// every agent's view (presence, balances, assessments, notices heard).
// The whole trace comes from the language server (server/scenarios.ts) at launch;
// the session walks it. It uses only @vscode/debugadapter, so it runs inline in
// the extension host and in plain Node (the unit tests drive it there).
import {
  DebugSession, Handles, InitializedEvent, OutputEvent, Scope, Source, StackFrame, StoppedEvent, TerminatedEvent, Thread,
} from "@vscode/debugadapter";
import type { DebugProtocol } from "@vscode/debugprotocol";
import * as path from "node:path";
import type { DebugStep, DebugTrace, ScenarioListing, TraceAnswer } from "../../server/scenario-protocol.ts";

export interface ScenarioLaunchArguments extends DebugProtocol.LaunchRequestArguments {
  /** The .pg file. */
  program: string;
  /** The scenario's title; the file's first scenario when left out. */
  scenario?: string;
  stopOnEntry?: boolean;
}

export interface SessionHooks {
  /** The file's scenarios and step lines. */
  scenarios(file: string): Promise<ScenarioListing>;
  /** The scenario's whole trace (the file's first scenario when `title` is left out), or why there is none. */
  trace(file: string, title?: string): Promise<TraceAnswer>;
  /** Called whenever the session stops, with the trace and the steps run so far (the graph view follows it). */
  onStop?(trace: DebugTrace, step: number): void;
}

const THREAD = 1;
type VarsProvider = () => DebugProtocol.Variable[];

export class ScenarioDebugSession extends DebugSession {
  private trace?: DebugTrace;
  /** Steps run so far: the session shows trace.steps[at]. */
  private at = 0;
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
  protected override async setBreakPointsRequest(response: DebugProtocol.SetBreakpointsResponse, args: DebugProtocol.SetBreakpointsArguments): Promise<void> {
    const file = args.source.path ? path.resolve(args.source.path) : "";
    const lines = (args.breakpoints ?? []).map((b) => this.convertClientLineToDebugger(b.line));
    let stepLines = new Set<number>();
    try {
      stepLines = new Set((await this.hooks.scenarios(file)).stepLines);
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
    let answer: TraceAnswer;
    try {
      answer = await this.hooks.trace(this.file, args.scenario);
    } catch (e) {
      this.sendErrorResponse(response, 1, `cannot run ${this.file}: ${(e as Error).message}`);
      return;
    }
    if ("error" in answer) {
      this.sendErrorResponse(response, answer.error.code, answer.error.message);
      return;
    }
    const trace = answer.trace;
    this.trace = trace;
    this.title = trace.title;
    this.scenarioLine = trace.scenarioLine;
    for (const [step, lines] of Object.entries(trace.stepLines)) this.stepLines.set(Number(step), lines);
    this.sendResponse(response);
    this.sendEvent(new OutputEvent(`scenario "${this.title}": ${trace.lastStep} steps\n`, "console"));
    if (args.stopOnEntry) this.halt("entry");
    else this.continueRun(true);
  }

  private get current(): DebugStep | undefined { return this.trace?.steps[this.at]; }
  private get done(): boolean { return !this.trace || this.at >= this.trace.lastStep; }

  /** The step that runs next. */
  private get nextStep(): number { return this.at + 1; }

  private hasBreakpoint(step: number): boolean {
    const bps = this.breakpoints.get(this.file);
    return !!bps && (this.stepLines.get(step) ?? []).some((l) => bps.has(l));
  }

  private halt(reason: string, description?: string): void {
    this.vars.reset();
    if (this.trace) this.hooks.onStop?.(this.trace, this.at);
    const e = new StoppedEvent(reason, THREAD) as DebugProtocol.StoppedEvent;
    if (description) e.body.description = description;
    this.sendEvent(e);
  }

  /** Runs steps until a breakpoint's step is next, or the end. */
  private continueRun(checkFirst: boolean): void {
    let first = !checkFirst;
    while (!this.done) {
      if (!first && this.hasBreakpoint(this.nextStep)) { this.halt("breakpoint"); return; }
      first = false;
      this.runStep();
    }
    this.end();
  }

  private runStep(): void {
    this.at++;
    const record = this.current!;
    for (const e of record.events) {
      this.sendEvent(new OutputEvent(`step ${record.step}: ${e.text} -> ${e.outcome}: ${e.reason}\n`, "console"));
    }
    for (const x of record.failed) this.sendEvent(new OutputEvent(`line ${x.line}: ${x.text} failed; saw: ${x.saw}\n`, "stderr"));
  }

  /** At the end the session stops once more to show the final views, then ends on the next resume. */
  private end(): void {
    if (!this.finished) {
      this.finished = true;
      const results = this.current?.results ?? [];
      const failed = results.filter((r) => !r.passed).length;
      this.sendEvent(new OutputEvent(`scenario "${this.title}" finished: ${results.length - failed} of ${results.length} expectations hold\n`, "console"));
      this.halt("end", "scenario finished");
      return;
    }
    this.sendEvent(new TerminatedEvent());
  }

  protected override continueRequest(response: DebugProtocol.ContinueResponse): void {
    response.body = { allThreadsContinued: true };
    this.sendResponse(response);
    if (this.finished || !this.trace) { this.end(); return; }
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
    if (!this.trace || this.finished) { this.end(); return; }
    this.runStep();
    while (!this.done && !this.stepLines.has(this.nextStep)) this.runStep();
    if (this.done) this.end();
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
    const name = this.finished ? `end (after step ${this.at})` : `before step ${step}`;
    response.body = { stackFrames: [new StackFrame(1, name, source, this.convertDebuggerLineToClient(line), 1)], totalFrames: 1 };
    this.sendResponse(response);
  }

  protected override scopesRequest(response: DebugProtocol.ScopesResponse): void {
    const scopes = [new Scope("Agents", this.vars.create(() => this.agentVars()), false)];
    scopes.push(new Scope(this.at > 0 ? `Step ${this.at}` : "Setup", this.vars.create(() => this.stepVars()), false));
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
    const now = this.current;
    if (!now) return [];
    return now.agents.map(({ name, view: v }) => {
      const money = Object.entries(v.balances).map(([c, n]) => `${n} ${c}`).join(", ");
      const summary = `${v.present ? "present" : "absent"}${money ? `, ${money}` : ""}, heard ${v.heard.length} notice${v.heard.length === 1 ? "" : "s"}`;
      return this.group(name, summary, () => [
        this.leaf("present", String(v.present)),
        this.group("balances", money || "none", () => Object.entries(v.balances).map(([c, n]) => this.leaf(c, String(n)))),
        this.group("promises", `${Object.keys(v.promises).length} assessed`, () => Object.entries(v.promises).map(([p, s]) => this.leaf(p, s))),
        this.group("heard", `${v.heard.length}`, () => v.heard.map((h) => this.leaf(`#${h.id}`, h.text))),
      ]);
    });
  }

  private stepVars(): DebugProtocol.Variable[] {
    const now = this.current;
    if (!now || !this.trace) return [];
    const out: DebugProtocol.Variable[] = [this.leaf("step", String(now.step)), this.leaf("last step", String(this.trace.lastStep))];
    if (now.step > 0) {
      out.push(this.group("events", `${now.events.length}`, () => now.events.map((e, i) => this.leaf(`${i + 1}. ${e.text}`, `${e.outcome}: ${e.reason}`))));
      out.push(this.group("gossip", `${now.gossip.length} deliveries`, () => now.gossip.map((g, i) => this.leaf(`${i + 1}. ${g.from} -> ${g.to}`, g.notices.map((n) => `#${n}`).join(", ")))));
    }
    const results = now.results;
    out.push(this.group("expectations", `${results.filter((r) => r.passed).length} of ${results.length} hold so far`, () =>
      results.map((r) => this.leaf(`line ${r.line}: ${r.text}`, `${r.passed ? "holds" : "FAILS"}: ${r.saw}`))));
    if (now.issued) out.push(this.leaf("issued", now.issued));
    return out;
  }
}
