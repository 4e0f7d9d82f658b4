import { parseArgs } from "node:util";
import * as path from "node:path";
import { UsageError, type Command } from "../command.ts";
import { FileError, requireFiles } from "../files.ts";
import { LineIndex } from "../../grammar/index.ts";
import { loadProgram, type Program } from "../../language/index.ts";
import { DiagnosticPrinter } from "../diagnostics.ts";
import { renderTrace, runProgram, runScenarios, traceJson, type ScenarioResult } from "../../language/simulator/index.ts";
import type { Io } from "../command.ts";
import { cliHost } from "../load.ts";
import { readSource } from "../files.ts";

export const simulate: Command = {
  name: "simulate",
  summary: "run a file's scenarios step by step and print the trace",
  help: `usage: promisegrid simulate FILE [--scenario TITLE] [--json]

Runs each scenario in FILE (or only the one titled TITLE) and prints, step by
step, every event and its outcome, the gossip, and how each agent's view changed.
With --json, prints the trace (schema: docs/trace.md); a JSON array of traces
when FILE has several scenarios and no --scenario is given.
Exits 0 when the scenarios ran (whether or not their expectations held; use
\`promisegrid test\` for that), 1 when a scenario cannot run (unknown names,
step limit, errors the checker reports).`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv, options: { json: { type: "boolean" }, scenario: { type: "string" } }, allowPositionals: true, strict: true,
    });
    requireFiles(positionals, "FILE");
    if (positionals.length > 1) throw new UsageError("simulate takes one FILE");
    let loaded;
    try {
      loaded = loadScenarios(positionals[0], io.cwd, values.scenario);
    } catch (e) {
      if (e instanceof FileError) { io.err(`promisegrid simulate: ${e.message}\n`); return 1; }
      throw e;
    }
    if (printProblems(loaded, io)) return 1;
    const traces = loaded.results.map((r) => r.trace!);
    if (values.json) {
      io.out(traces.length === 1 ? traceJson(traces[0]) : JSON.stringify(traces, null, 2) + "\n");
    } else {
      io.out(traces.map(renderTrace).join("\n"));
    }
    return 0;
  },
};
// Shared with test and graph: loading a file's scenarios: the checker's errors and
// scenario problems are reported with path:line:col, and nothing runs.

export interface LoadedScenarios {
  file: string;
  cwd: string;
  display: string;
  program: Program;
  /** `path:line:col: error CODE message` lines that stop the file from running. */
  errors: string[];
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
  const loaded: LoadedScenarios = { file: abs, cwd, display, program, errors, results: [] };
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

/** Prints what keeps the file from running; returns true if anything did. */
export function printProblems(loaded: LoadedScenarios, io: Io): boolean {
  if (loaded.errors.length) {
    io.err(loaded.errors.join("\n") + `\n${loaded.display}: fix the errors above before simulating\n`);
    return true;
  }
  if (loaded.missing) { io.err(`${loaded.missing}\n`); return true; }
  let bad = false;
  for (const r of loaded.results) {
    if (r.trace) continue;
    bad = true;
    io.err(scenarioProblems(loaded, r).join("\n") + `\nscenario "${r.title}" cannot run\n`);
  }
  return bad;
}

