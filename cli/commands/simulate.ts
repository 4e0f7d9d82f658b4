import { parseArgs } from "node:util";
import * as path from "node:path";
import { UsageError, type Command } from "../command.ts";
import { FileError, requireFiles } from "../files.ts";
import { LineIndex } from "../../grammar/index.ts";
import { loadProgram, type Program } from "../../language/index.ts";
import { DiagnosticPrinter, fileDiagnostic, type JsonDiagnostic, type JsonFailure } from "../diagnostics.ts";
import {
  prepareScenarios, renderTrace, runProgram, runScenarios, type AgentView, type ScenarioResult, type Trace, type TraceStep,
} from "../../language/simulator/index.ts";
import type { Io } from "../command.ts";
import { cliHost } from "../load.ts";
import { readSource } from "../files.ts";

export const simulate: Command = {
  name: "simulate",
  summary: "run a file's scenarios step by step and print the trace",
  help: `usage: promisegrid simulate FILE [--scenario TITLE] [--step N [--agent A]] [--json]

Runs each scenario in FILE (or only the one titled TITLE) and prints, step by
step, every event and its outcome, the gossip, and how each agent's view changed.
  --step N      only step N: its events, gossip and expectations, and each
                agent's whole view after it
  --agent A     with --step, only agent A's view
With --json, prints the trace (docs/trace.md, docs/schemas/trace.schema.json), or
the step (docs/schemas/step.schema.json); a JSON array when FILE has several
scenarios and no --scenario is given. When the file cannot run, --json prints
{"error","diagnostics"} (docs/schemas/failure.schema.json).
Exits 0 when the scenarios ran (whether or not their expectations held; use
\`promisegrid test\` for that), 1 when a scenario cannot run (unknown names,
step limit, errors the checker reports).`,
  async run(argv, io) {
    const values = stepArgs(argv, "simulate", "FILE");
    const report = simulateReport(values.target, io.cwd, values);
    if ("error" in report) {
      if (values.json) io.out(JSON.stringify({ error: report.error, diagnostics: report.diagnostics }, null, 2) + "\n");
      else io.err(report.lines.join("\n") + "\n");
      return 1;
    }
    if (values.json) {
      const docs = report.steps ?? report.traces;
      io.out(docs.length === 1 ? JSON.stringify(docs[0], null, 2) + "\n" : JSON.stringify(docs, null, 2) + "\n");
    } else if (report.steps) {
      io.out(report.steps.map(renderStep).join("\n"));
    } else {
      io.out(report.traces.map(renderTrace).join("\n"));
    }
    return 0;
  },
};

/** The arguments simulate and explain take: one FILE (`what` names it in errors), [--scenario TITLE] [--step N [--agent A]] [--json]. */
export function stepArgs(argv: string[], command: string, what: string): { target: string; json?: boolean; scenario?: string; step?: number; agent?: string } {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: { json: { type: "boolean" }, scenario: { type: "string" }, step: { type: "string" }, agent: { type: "string" } },
  });
  requireFiles(positionals, what);
  if (positionals.length > 1) throw new UsageError(`${command} takes one ${what}`);
  if (values.step !== undefined && !/^\d+$/.test(values.step)) throw new UsageError(`--step must be a whole number of steps, got '${values.step}'`);
  const step = values.step === undefined ? undefined : Number(values.step);
  if (values.agent !== undefined && step === undefined) throw new UsageError("--agent needs --step N");
  return { target: positionals[0], json: values.json, scenario: values.scenario, step, agent: values.agent };
}

/** One step of a scenario, as one agent (or every agent) saw it after the step (docs/schemas/step.schema.json). */
export interface StepDocument {
  format: "promisegrid-step/1";
  scenario: string;
  path: string;
  step: number;
  lastStep: number;
  events: TraceStep["events"];
  gossip: TraceStep["gossip"];
  learned: TraceStep["learned"];
  expectations: TraceStep["expectations"];
  /** Each agent's whole view after the step (only the chosen agent's with --agent). */
  views: Record<string, AgentView>;
  notices: Trace["notices"];
}

/** What `simulate --json` prints when the file cannot run (docs/schemas/failure.schema.json), with human lines. */
export type SimulateFailure = JsonFailure & { lines: string[] };
export type SimulateReport = SimulateFailure | { traces: Trace[]; steps?: StepDocument[] };

/** Runs a file's scenarios; with `step`, only that step is reported, and with `agent` only that agent's view. */
export function simulateReport(file: string, cwd: string, options: { scenario?: string; step?: number; agent?: string } = {}): SimulateReport {
  let loaded: LoadedScenarios;
  try {
    loaded = loadScenarios(file, cwd, options.scenario);
  } catch (e) {
    if (!(e instanceof FileError)) throw e;
    return { error: e.message, diagnostics: [fileDiagnostic(file, e.message)], lines: [`promisegrid simulate: ${e.message}`] };
  }
  const failure = runFailure(loaded);
  if (failure) return failure;
  const traces = loaded.results.map((r) => r.trace!);
  if (options.step === undefined) return { traces };
  const fail = (error: string): SimulateFailure => ({ error, diagnostics: [], lines: [`promisegrid simulate: ${error}`] });
  const steps: StepDocument[] = [];
  const { world, scenarios } = prepareScenarios(loaded.program, (t, p) => p === loaded.file && loaded.results.some((r) => r.title === t));
  for (const s of scenarios) {
    const run = s.run!;
    if (options.step > run.plan.lastStep) return fail(`scenario "${s.title}" runs to step ${run.plan.lastStep}; step ${options.step} is past its end`);
    let record: TraceStep | undefined;
    while (run.step < options.step) record = run.next();
    const agents = options.agent === undefined ? world.agents : world.agents.filter((a) => a.name === options.agent);
    if (!agents.length) return fail(`no agent is named '${options.agent}'; the agents are ${world.agents.map((a) => a.name).join(", ")}`);
    const keep = <T>(m: Record<string, T>) => Object.fromEntries(Object.entries(m).filter(([a]) => agents.some((x) => x.name === a)));
    const trace = run.trace();
    steps.push({
      format: "promisegrid-step/1", scenario: s.title, path: loaded.display, step: options.step, lastStep: run.plan.lastStep,
      events: record?.events ?? [], gossip: record?.gossip ?? [], learned: keep(record?.learned ?? {}),
      expectations: record?.expectations ?? trace.expectations.filter((x) => x.step === 0),
      views: Object.fromEntries(agents.map((a) => [a.name, run.view(a.index)])),
      notices: trace.notices,
    });
  }
  return { traces, steps };
}

/** A readable rendering of one step document. */
function renderStep(d: StepDocument): string {
  const out = [`scenario "${d.scenario}" (${d.path}), step ${d.step} of ${d.lastStep}`];
  for (const e of d.events) out.push(`  ${e.text}: ${e.outcome}: ${e.reason}${e.expected === undefined ? "" : e.passed ? " (expected: ok)" : ` (FAIL: expected ${e.expected})`}`);
  for (const g of d.gossip) out.push(`  gossip ${g.from} -> ${g.to}: notices ${g.notices.join(", ")}`);
  for (const x of d.expectations.filter((x) => !d.events.some((e) => e.expected !== undefined && e.line === x.line))) out.push(`  ${x.text}: ${x.passed ? "ok" : "FAIL"}: ${x.saw}`);
  for (const [agent, v] of Object.entries(d.views)) {
    const promises = Object.entries(v.promises).map(([p, a]) => `${p}: ${a}`).join("; ") || "no promises";
    const balances = Object.entries(v.balances).map(([c, n]) => `${n} ${c}`).join(", ") || "no balances";
    out.push(`  ${agent} (${v.present ? "present" : "absent"}) sees ${promises}; holds ${balances}; heard notices [${v.heard.join(", ")}]`);
  }
  return out.join("\n") + "\n";
}

// Shared with test and graph: loading a file's scenarios: the checker's errors and
// scenario problems are reported with path:line:col, and nothing runs.

export interface LoadedScenarios {
  file: string;
  cwd: string;
  display: string;
  program: Program;
  /** `path:line:col: error CODE message` lines that stop the file from running. */
  errors: string[];
  /** The same errors as JSON diagnostics. */
  diagnostics: JsonDiagnostic[];
  results: ScenarioResult[];
  /** Set when --scenario named no scenario, or the file has none. */
  missing?: string;
}

export function displayPath(file: string, cwd: string): string {
  const rel = path.relative(cwd, file);
  return rel.startsWith("..") ? file : rel;
}

export function loadScenarios(file: string, cwd: string, scenario?: string): LoadedScenarios {
  const abs = path.resolve(cwd, file);
  readSource(abs);
  const program = loadProgram([abs], cliHost);
  const display = displayPath(abs, cwd);
  // The checker's errors (syntax, unknown names, ...) stop a file from running, as they stop compile (prepareRun decides).
  const run = runProgram(program, { scenario, paths: [abs] });
  const printer = new DiagnosticPrinter(cwd);
  const errors = run.errors.map((d) => printer.human(program, d));
  const diagnostics = run.errors.map((d) => printer.json(program, d));
  const loaded: LoadedScenarios = { file: abs, cwd, display, program, errors, diagnostics, results: [] };
  if (errors.length) return loaded;
  const results = run.results;
  for (const r of results) {
    r.path = displayPath(r.path, cwd);
    if (r.trace) r.trace.path = r.path;
  }
  loaded.results = results;
  if (!results.length) {
    const titles = runScenarios(program, { paths: [abs] }).map((r) => `"${r.title}"`);
    loaded.missing = scenario === undefined
      ? `${display} has no scenarios`
      : `${display} has no scenario titled "${scenario}"` + (titles.length ? `; it has ${titles.join(", ")}` : "");
  }
  return loaded;
}

/** The diagnostics of scenarios that could not run, as path:line:col lines. */
export function scenarioProblems(loaded: LoadedScenarios, r: ScenarioResult): string[] {
  return r.diagnostics.map((d) => {
    const source = loaded.program.files.get(d.path);
    const at = new LineIndex(source?.text ?? "").position(d.span.start);
    return `${displayPath(d.path, loaded.cwd)}:${at.line + 1}:${at.character + 1}: ${d.severity} ${d.code} ${d.message}`;
  });
}

/** The diagnostics of a scenario that could not run, as JSON diagnostics. */
export function scenarioDiagnostics(loaded: LoadedScenarios, r: ScenarioResult): JsonDiagnostic[] {
  const printer = new DiagnosticPrinter(loaded.cwd);
  return r.diagnostics.map((d) => printer.json(loaded.program, d));
}

/** What keeps the file from running, as a failure document, or undefined when every scenario can run. */
export function runFailure(loaded: LoadedScenarios): SimulateFailure | undefined {
  if (loaded.errors.length) {
    const error = `${loaded.display}: fix the errors above before simulating`;
    return { error: `${loaded.display} has errors; no scenario ran`, diagnostics: loaded.diagnostics, lines: [...loaded.errors, error] };
  }
  if (loaded.missing) return { error: loaded.missing, diagnostics: [], lines: [loaded.missing] };
  const stuck = loaded.results.filter((r) => !r.trace);
  if (!stuck.length) return undefined;
  return {
    error: stuck.map((r) => `scenario "${r.title}" cannot run`).join("; "),
    diagnostics: stuck.flatMap((r) => scenarioDiagnostics(loaded, r)),
    lines: stuck.flatMap((r) => [...scenarioProblems(loaded, r), `scenario "${r.title}" cannot run`]),
  };
}

/** Prints what keeps the file from running; returns true if anything did. */
export function printProblems(loaded: LoadedScenarios, io: Io): boolean {
  const failure = runFailure(loaded);
  if (failure) io.err(failure.lines.join("\n") + "\n");
  return !!failure;
}
