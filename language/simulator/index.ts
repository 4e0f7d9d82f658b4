// The simulator: scenarios as step-by-step simulations and as tests.
// Pure: takes a Program, returns traces and results; the CLI and editor do I/O.
import { LineIndex } from "../../grammar/index.ts";
import type { ScenarioDecl } from "../../grammar/ast.ts";
import { check, type Diagnostic } from "../checker.ts";
import type { Program } from "../program.ts";
import { buildWorld, planScenario, type World } from "./model.ts";
import { ScenarioRun, type Trace, type TraceExpectation } from "./run.ts";

export { STEP_LIMIT, UNIT, buildWorld, planScenario, type World, type ScenarioPlan, type SimEvent } from "./model.ts";
export { Engine, type Assessment, type Notice } from "./engine.ts";
export { ScenarioRun, TRACE_FORMAT, type Trace, type TraceStep, type TraceEvent, type TraceExpectation, type AgentView } from "./run.ts";
export { renderTrace } from "./render.ts";

export interface ScenarioResult {
  title: string;
  path: string;
  /** 1-based line of the `scenario` keyword. */
  line: number;
  span: { start: number; end: number };
  /** The checker's errors that kept the scenario from running (unknown names, step limit...). */
  diagnostics: Diagnostic[];
  trace?: Trace;
  passed: boolean;
  failures: TraceExpectation[];
}

export interface PreparedScenario {
  title: string;
  path: string;
  decl: ScenarioDecl;
  diagnostics: Diagnostic[];
  /** Present when the scenario can run; drive it with next() or finish(). */
  run?: ScenarioRun;
}

export interface PreparedRun {
  /** The checker's errors; when there are any, no scenario runs. */
  errors: Diagnostic[];
  world: World;
  scenarios: PreparedScenario[];
}

type Only = (title: string, path: string) => boolean;

/**
 * Whether the program's scenarios may run, decided once for every caller (CLI,
 * Test Explorer, debugger, inlay hints): a program with checker errors runs no
 * scenario, and each scenario carries those errors. `diagnostics` spares a
 * second check when the caller has the checker's diagnostics already.
 */
export function prepareRun(program: Program, options: { only?: Only; diagnostics?: readonly Diagnostic[] } = {}): PreparedRun {
  const errors = (options.diagnostics ?? check(program)).filter((d) => d.severity === "error");
  if (!errors.length) return { errors, ...prepareScenarios(program, options.only) };
  const { world, scenarios } = buildWorld(program);
  return {
    errors, world,
    scenarios: scenarios.filter(({ path, decl }) => !options.only || options.only(decl.title, path))
      .map(({ path, decl }) => ({ title: decl.title, path, decl, diagnostics: errors })),
  };
}

/**
 * Every scenario of the program, ready to run (in path order, then written order),
 * without the checker's gate: for tests and benchmarks of the engine itself.
 * A scenario the simulator cannot plan carries the checker's errors.
 */
export function prepareScenarios(program: Program, only?: Only): { world: World; scenarios: PreparedScenario[] } {
  const built = buildWorld(program);
  const out: PreparedScenario[] = [];
  const indexes = new Map<string, LineIndex>();
  for (const { path, decl } of built.scenarios) {
    if (only && !only(decl.title, path)) continue;
    let lines = indexes.get(path);
    if (!lines) indexes.set(path, (lines = new LineIndex(program.files.get(path)!.text)));
    const li = lines;
    const { plan, diagnostics } = planScenario(program, built, path, decl);
    out.push({
      title: decl.title, path, decl, diagnostics,
      run: plan ? new ScenarioRun(built.world, plan, (offset) => li.position(offset).line + 1) : undefined,
    });
  }
  return { world: built.world, scenarios: out };
}

function finish(program: Program, s: PreparedScenario): ScenarioResult {
  const text = program.files.get(s.path)!.text;
  const line = new LineIndex(text).position(s.decl.span.start).line + 1;
  const base = { title: s.title, path: s.path, line, span: s.decl.span, diagnostics: s.diagnostics };
  if (!s.run) return { ...base, passed: false, failures: [] };
  const trace = s.run.finish();
  return { ...base, trace, passed: trace.passed, failures: trace.expectations.filter((e) => !e.passed) };
}

export interface RunOptions {
  /** Only the scenario with this title. */
  scenario?: string;
  /** Only scenarios written in these files. */
  paths?: string[];
  diagnostics?: readonly Diagnostic[];
}

/** Runs the chosen scenarios to the end, through prepareRun's gate; `errors` are the checker's. */
export function runProgram(program: Program, options: RunOptions = {}): { errors: Diagnostic[]; results: ScenarioResult[] } {
  const { errors, scenarios } = prepareRun(program, {
    diagnostics: options.diagnostics,
    only: (t, p) => (options.scenario === undefined || t === options.scenario) && (!options.paths || options.paths.includes(p)),
  });
  return { errors, results: scenarios.map((s) => finish(program, s)) };
}

/** runProgram's results alone. */
export function runScenarios(program: Program, options: RunOptions = {}): ScenarioResult[] {
  return runProgram(program, options).results;
}

/** The trace as JSON text: the same input always gives the same bytes. */
export function traceJson(trace: Trace): string {
  return JSON.stringify(trace, null, 2) + "\n";
}
