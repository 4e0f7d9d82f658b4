// The simulator: scenarios as step-by-step simulations and as tests.
// Pure: takes parsed files, returns traces and results; the CLI and editor do I/O.
import { LineIndex } from "../../grammar/index.ts";
import type { ScenarioDecl } from "../../grammar/ast.ts";
import { buildWorld, planScenario, type SimDiagnostic, type SourceSet, type World } from "./model.ts";
import { ScenarioRun, type Trace, type TraceExpectation } from "./run.ts";

export { STEP_LIMIT, UNIT, buildWorld, planScenario, type SimDiagnostic, type SourceSet, type World, type ScenarioPlan, type SimEvent } from "./model.ts";
export { Engine, type Assessment, type Notice } from "./engine.ts";
export { ScenarioRun, TRACE_FORMAT, type Trace, type TraceStep, type TraceEvent, type TraceExpectation, type AgentView } from "./run.ts";
export { renderTrace } from "./render.ts";

export interface ScenarioResult {
  title: string;
  path: string;
  /** 1-based line of the `scenario` keyword. */
  line: number;
  span: { start: number; end: number };
  /** Problems that kept the scenario from running (unknown names, step limit...). */
  diagnostics: SimDiagnostic[];
  trace?: Trace;
  passed: boolean;
  failures: TraceExpectation[];
}

export interface PreparedScenario {
  title: string;
  path: string;
  decl: ScenarioDecl;
  diagnostics: SimDiagnostic[];
  /** Present when the scenario can run; drive it with next() or finish(). */
  run?: ScenarioRun;
}

/** Every scenario of the given files, ready to run (in path order, then written order). */
export function prepareScenarios(sources: SourceSet, only?: (title: string, path: string) => boolean): { world: World; scenarios: PreparedScenario[] } {
  const { world, scenarios } = buildWorld(sources);
  const out: PreparedScenario[] = [];
  const indexes = new Map<string, LineIndex>();
  for (const { path, decl } of scenarios) {
    if (only && !only(decl.title, path)) continue;
    const text = sources.files.get(path)!.text;
    let lines = indexes.get(path);
    if (!lines) indexes.set(path, (lines = new LineIndex(text)));
    const li = lines;
    const { plan, diagnostics } = planScenario(world, path, decl, text);
    out.push({
      title: decl.title, path, decl, diagnostics,
      run: plan ? new ScenarioRun(world, plan, (offset) => li.position(offset).line + 1) : undefined,
    });
  }
  return { world, scenarios: out };
}

/** Runs scenarios to the end. `scenario` picks one by title; `paths` keeps those written in these files. */
export function runScenarios(sources: SourceSet, options: { scenario?: string; paths?: string[] } = {}): ScenarioResult[] {
  const { scenarios } = prepareScenarios(sources, (t, p) =>
    (options.scenario === undefined || t === options.scenario) && (!options.paths || options.paths.includes(p)));
  return scenarios.map((s) => {
    const text = sources.files.get(s.path)!.text;
    const line = new LineIndex(text).position(s.decl.span.start).line + 1;
    const base = { title: s.title, path: s.path, line, span: s.decl.span, diagnostics: s.diagnostics };
    if (!s.run) return { ...base, passed: false, failures: [] };
    const trace = s.run.finish();
    return { ...base, trace, passed: trace.passed, failures: trace.expectations.filter((e) => !e.passed) };
  });
}

/** The trace as JSON text: the same input always gives the same bytes. */
export function traceJson(trace: Trace): string {
  return JSON.stringify(trace, null, 2) + "\n";
}
