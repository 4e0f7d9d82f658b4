// Scenarios for the editor, as custom LSP requests, so the client runs no
// simulator itself: the scenarios of a document, a scenario run as a test, the
// whole trace for the debugger (every step, each agent's view), the graph at
// a step, optionally as one agent sees it, the space-time diagram up to a step,
// and the lesson deck. The functions below take a Program;
// registerScenarios wires them to the workspace's open documents (else the disk).
import * as path from "node:path";
import type { CancellationToken, Connection } from "vscode-languageserver/node.js";
import { LineIndex, type SourceFile } from "../grammar/index.ts";
import type { Diagnostic, Program } from "../language/index.ts";
import { prepareRun, UNIT, type PreparedScenario, type ScenarioRun, type World } from "../language/simulator/index.ts";
import { renderGraphSvg } from "../language/simulator/graph.ts";
import { renderLesson } from "../language/simulator/lesson.ts";
import { renderTimelineSvg } from "../language/simulator/spacetime.ts";
import { uriToPath, type Workspace } from "./workspace.ts";
import {
  GRAPH_REQUEST, LESSON_REQUEST, RUN_SCENARIO_REQUEST, SCENARIOS_REQUEST, TIMELINE_REQUEST, TRACE_REQUEST,
  type DebugStep, type GraphAnswer, type GraphParams, type LessonAnswer, type ScenarioListing, type ScenarioParams, type ScenarioTestResult,
  type TimelineAnswer, type TimelineParams, type TraceAnswer, type TraceError,
} from "./scenario-protocol.ts";

export * from "./scenario-protocol.ts";


function scenarioDecls(program: Program, file: string) {
  const source = program.files.get(file);
  return { source, decls: (source?.declarations ?? []).flatMap((d) => (d.kind === "scenario" ? [d] : [])) };
}

export function listScenarios(program: Program, file: string): ScenarioListing {
  const { source, decls } = scenarioDecls(program, file);
  if (!source) return { scenarios: [], stepLines: [] };
  const lines = linesOf(source);
  return {
    scenarios: decls.map((d) => ({ title: d.title, range: lines.range(d.titleSpan) })),
    stepLines: decls.flatMap((d) => d.items.filter((i) => i.kind === "step").map((i) => lines.position(i.span.start).line + 1)),
  };
}

/** Each parsed file's line index, made once (a file's diagnostics are located many times, once per scenario). */
const lineIndexes = new WeakMap<SourceFile, LineIndex>();
function linesOf(source: SourceFile | undefined): LineIndex {
  if (!source) return new LineIndex("");
  let lines = lineIndexes.get(source);
  if (!lines) lineIndexes.set(source, (lines = new LineIndex(source.text)));
  return lines;
}

/** Where a diagnostic is, as the CLI prints it: `file.pg:line` (1-based). */
function located(program: Program, d: Diagnostic): { line: number; text: string } {
  const line = linesOf(program.files.get(d.path)).position(d.span.start).line + 1;
  return { line, text: `${path.basename(d.path)}:${line}: ${d.code} ${d.message}` };
}

/**
 * Runs the file's scenarios (or the one titled `title`) to the end, as tests, through prepareRun's gate:
 * a program the checker refuses runs no scenario, as in the CLI. `diagnostics`: the checker's, when known.
 */
export function runScenarioTests(program: Program, file: string, title?: string, diagnostics?: readonly Diagnostic[]): ScenarioTestResult[] {
  const { source, decls } = scenarioDecls(program, file);
  if (!source) return [];
  const titles = decls.map((d) => d.title).filter((t) => title === undefined || t === title);
  if (title !== undefined && !titles.length) return [{ title, file, passed: false, messages: [{ line: 1, message: `no scenario titled "${title}"` }] }];
  const lines = linesOf(source);
  const lineOf = (offset: number) => lines.position(offset).line + 1;
  if (source.errors.length) {
    const messages = source.errors.map((e) => ({ line: lineOf(e.span.start), message: `syntax: ${e.message}` }));
    return titles.map((t) => ({ title: t, file, passed: false, messages }));
  }
  const { scenarios } = prepareRun(program, { diagnostics, only: (t, p) => p === file && titles.includes(t) });
  return scenarios.map((s) => {
    // A diagnostic in an imported file is shown at the scenario, naming where it is.
    const message = (d: Diagnostic) => (d.path === file ? { line: lineOf(d.span.start), message: `${d.code} ${d.message}` } : { line: lineOf(s.decl.span.start), message: located(program, d).text });
    if (!s.run) return { title: s.title, file, passed: false, messages: s.diagnostics.map(message) };
    const trace = s.run.finish();
    return {
      title: s.title, file, passed: trace.passed,
      messages: trace.expectations.filter((f) => !f.passed).map((f) => ({ line: f.line, message: `step ${f.step}${f.agent ? `, ${f.agent}` : ""}: ${f.text}; saw: ${f.saw}` })),
    };
  });
}

/** The scenario ready to run, or why it cannot (prepareRun decides, as for the CLI). */
function prepare(program: Program, file: string, title?: string, diagnostics?: readonly Diagnostic[]): { world: World; chosen: PreparedScenario & { run: ScenarioRun } } | TraceError {
  const name = path.basename(file);
  const source = program.files.get(file);
  if (!source) return { code: 2, message: `cannot read ${file}` };
  if (source.errors.length) return { code: 2, message: `${name} has syntax errors: ${source.errors[0].message}` };
  const { world, errors, scenarios } = prepareRun(program, { diagnostics, only: (t, p) => p === file && (title === undefined || t === title) });
  const chosen = scenarios[0];
  if (!chosen) return { code: 3, message: title === undefined ? `${name} has no scenarios` : `no scenario titled "${title}" in ${name}` };
  if (!chosen.run) {
    const text = chosen.diagnostics.map((d) => located(program, d).text).join("\n");
    return { code: 4, message: `${errors.length ? `${name} has errors, no scenario runs` : `scenario "${chosen.title}" cannot run`}:\n${text}` };
  }
  return { world, chosen: chosen as PreparedScenario & { run: ScenarioRun } };
}

function snapshot(run: ScenarioRun, world: World, results: number): Omit<DebugStep, "events" | "gossip" | "failed"> {
  const agents = world.agents.map((a) => {
    const v = run.view(a.index);
    const heard = v.heard.map((id) => {
      const n = run.engine.notices[id];
      const what = n.kind === "revoked" ? `revoked(${run.engine.caps[n.cap!].name})` : `${world.promises[n.promise!].label} ${n.kind}`;
      return { id, text: `${what} (step ${n.step}, heard at step ${run.engine.heardAt(a.index, id)})` };
    });
    return { name: a.name, view: { present: v.present, balances: v.balances, promises: v.promises, heard } };
  });
  return {
    step: run.step,
    agents,
    results: run.results.slice(0, results).map((r) => ({ line: r.line, text: r.text, passed: r.passed, saw: r.saw })),
    issued: world.currencies.map((c) => `${c.name} ${run.engine.issued[c.index] / UNIT}`).join(", "),
  };
}

/** Runs the scenario (the file's first, or the one titled `title`) and records every step for the debugger. */
export function scenarioTrace(program: Program, file: string, title?: string, diagnostics?: readonly Diagnostic[]): TraceAnswer {
  const p = prepare(program, file, title, diagnostics);
  if ("code" in p) return { error: p };
  const { world, chosen } = p;
  const run = chosen.run;
  const lines = linesOf(program.files.get(file));
  const stepLines: Record<number, number[]> = {};
  for (const e of run.plan.events) if (e.path === file) (stepLines[e.step] ??= []).push(e.line);
  const steps: DebugStep[] = [{ ...snapshot(run, world, run.results.length), events: [], gossip: [], failed: [] }];
  while (!run.done) {
    const record = run.next();
    steps.push({
      ...snapshot(run, world, run.results.length),
      events: record.events.map((e) => ({ text: e.text, outcome: e.outcome, reason: e.reason })),
      gossip: record.gossip,
      failed: record.expectations.filter((x) => !x.passed).map((x) => ({ line: x.line, text: x.text, saw: x.saw })),
    });
  }
  return {
    trace: {
      title: chosen.title, path: file, scenarioLine: lines.position(chosen.decl.span.start).line + 1,
      lastStep: run.plan.lastStep, stepLines, steps,
    },
  };
}

/** The graph of agents and promises after `step` steps; with `as`, the states as that agent knows them. */
export async function scenarioGraph(program: Program, file: string, o: Omit<GraphParams, "uri">, diagnostics?: readonly Diagnostic[]): Promise<GraphAnswer> {
  const p = prepare(program, file, o.title, diagnostics);
  if ("code" in p) return { error: p };
  const { world, chosen } = p;
  if (o.as !== undefined && !world.agents.some((a) => a.name === o.as)) return { error: { code: 3, message: `no agent '${o.as}' in ${path.basename(file)}` } };
  const run = chosen.run;
  while (!run.done && run.step < o.step) run.next();
  const title = `${path.basename(file)}: "${chosen.title}" after step ${run.step}`;
  // The renderer draws the named agent's view and says whose it is.
  return { svg: await renderGraphSvg({ world, engine: run.engine, title, as: o.as }) };
}

/** The space-time diagram of steps 1..`step` (every step when left out). */
export function scenarioTimeline(program: Program, file: string, o: Omit<TimelineParams, "uri">, diagnostics?: readonly Diagnostic[]): TimelineAnswer {
  const p = prepare(program, file, o.title, diagnostics);
  if ("code" in p) return { error: p };
  const { world, chosen } = p;
  const run = chosen.run;
  const upTo = Math.min(o.step ?? run.plan.lastStep, run.plan.lastStep);
  while (!run.done && run.step < upTo) run.next();
  const title = `${path.basename(file)}: "${chosen.title}", steps 1 to ${run.step}`;
  return { svg: renderTimelineSvg({ world, plan: run.plan, trace: run.trace(), title }) };
}

/** The lesson deck of the scenario: the same page as `promisegrid lesson`. */
export async function scenarioLesson(program: Program, file: string, title?: string, diagnostics?: readonly Diagnostic[]): Promise<LessonAnswer> {
  const p = prepare(program, file, title, diagnostics);
  if ("code" in p) return { error: p };
  try {
    return { html: await renderLesson({ world: p.world, run: p.chosen.run, source: path.basename(file) }) };
  } catch (e) {
    // Too many slides: a deck is for people to page through.
    if (e instanceof RangeError) return { error: { code: 4, message: e.message } };
    throw e;
  }
}

/** The requests, answered from the workspace's open documents (else the disk). */
export function registerScenarios(connection: Connection, ws: Workspace, guard: <P, R>(name: string, fn: (p: P, token: CancellationToken) => R | Promise<R>) => (p: P, token: CancellationToken) => Promise<R>): void {
  // Listing needs only the parse; a run needs the checker's diagnostics too, for prepareRun's gate (the analysis
  // has them, from the checker thread when it has checked this version).
  const analysisOf = (uri: string) => ws.analyze(uriToPath(uri));
  connection.onRequest(SCENARIOS_REQUEST, guard("scenarios", (p: ScenarioParams) => {
    const file = uriToPath(p.uri);
    return listScenarios(ws.program([file]), file);
  }));
  connection.onRequest(RUN_SCENARIO_REQUEST, guard("run scenario", (p: ScenarioParams) => {
    const a = analysisOf(p.uri);
    return runScenarioTests(a.program, a.path, p.title, a.diagnostics);
  }));
  connection.onRequest(TRACE_REQUEST, guard("scenario trace", (p: ScenarioParams) => {
    const a = analysisOf(p.uri);
    return scenarioTrace(a.program, a.path, p.title, a.diagnostics);
  }));
  connection.onRequest(GRAPH_REQUEST, guard("scenario graph", (p: GraphParams) => {
    const a = analysisOf(p.uri);
    return scenarioGraph(a.program, a.path, { title: p.title, step: p.step, as: p.as }, a.diagnostics);
  }));
  connection.onRequest(TIMELINE_REQUEST, guard("scenario timeline", (p: TimelineParams) => {
    const a = analysisOf(p.uri);
    return scenarioTimeline(a.program, a.path, { title: p.title, step: p.step }, a.diagnostics);
  }));
  connection.onRequest(LESSON_REQUEST, guard("lesson deck", (p: ScenarioParams) => {
    const a = analysisOf(p.uri);
    return scenarioLesson(a.program, a.path, p.title, a.diagnostics);
  }));
}
