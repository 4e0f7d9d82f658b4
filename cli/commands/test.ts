import { parseArgs } from "node:util";
import type { Command } from "../command.ts";
import { fileDiagnostic, type JsonDiagnostic } from "../diagnostics.ts";
import { FileError, requireFiles } from "../files.ts";
import { LineIndex, type Range } from "../../grammar/index.ts";
import { loadScenarios, scenarioDiagnostics, scenarioProblems, type LoadedScenarios } from "./simulate.ts";

/** A failed expectation, every part a field. */
export interface JsonFailure {
  path: string;
  line: number;
  range: Range;
  step: number;
  agent: string | null;
  expectation: string;
  expected: string;
  seen: string;
  saw: string;
}
export interface JsonScenario {
  title: string;
  path: string;
  line: number;
  passed: boolean;
  /** Why the scenario could not run (unknown names, step limit); empty when it ran. */
  diagnostics: JsonDiagnostic[];
  failures: JsonFailure[];
}
/** The document `test --json` prints (docs/schemas/test.schema.json). */
export interface TestReport {
  /** Each file given: whether its scenarios ran, and the errors that kept them from running. */
  files: { path: string; ran: boolean; diagnostics: JsonDiagnostic[] }[];
  scenarios: JsonScenario[];
  passed: number;
  failed: number;
}

/** Runs every scenario of the files; a file that cannot run counts as one failure. Human lines go to `say`. */
export function testReport(files: string[], cwd: string, say: (line: string) => void = () => {}, note: (line: string) => void = () => {}): TestReport {
  const report: TestReport = { files: [], scenarios: [], passed: 0, failed: 0 };
  for (const file of files) {
    let loaded: LoadedScenarios;
    try {
      loaded = loadScenarios(file, cwd);
    } catch (e) {
      if (!(e instanceof FileError)) throw e;
      report.failed++;
      say(`FAIL ${file}: ${e.message}`);
      report.files.push({ path: file, ran: false, diagnostics: [fileDiagnostic(file, e.message)] });
      continue;
    }
    if (loaded.errors.length) {
      report.failed++;
      say(`FAIL ${loaded.display}: the file has errors, no scenario ran`);
      for (const l of loaded.errors) say(`  ${l}`);
      report.files.push({ path: loaded.display, ran: false, diagnostics: loaded.diagnostics });
      continue;
    }
    report.files.push({ path: loaded.display, ran: true, diagnostics: [] });
    if (loaded.missing) note(`note: ${loaded.missing}`);
    const text = loaded.program.files.get(loaded.file)?.text ?? "";
    const lines = new LineIndex(text);
    const rangeOfLine = (line: number): Range => {
      const start = { line: line - 1, character: 0 };
      const end = lines.position(lines.offset({ line, character: 0 }) - 1);
      return { start, end: end.line === line - 1 ? end : start };
    };
    for (const r of loaded.results) {
      const problems = r.trace ? [] : scenarioProblems(loaded, r);
      const failures: JsonFailure[] = r.failures.map((f) => ({
        path: r.path, line: f.line, range: rangeOfLine(f.line), step: f.step, agent: f.agent,
        expectation: f.text, expected: f.expected, seen: f.seen, saw: f.saw,
      }));
      report.scenarios.push({ title: r.title, path: r.path, line: r.line, passed: r.passed, diagnostics: r.trace ? [] : scenarioDiagnostics(loaded, r), failures });
      if (r.passed) { report.passed++; say(`ok   "${r.title}" (${r.path}:${r.line})`); continue; }
      report.failed++;
      say(`FAIL "${r.title}" (${r.path}:${r.line})`);
      for (const p of problems) say(`  ${p}`);
      if (problems.length) say(`  the scenario cannot run until these are fixed`);
      for (const f of failures) {
        say(`  ${r.path}:${f.line}: scenario "${r.title}": step ${f.step}${f.agent ? `, ${f.agent}` : ""}: ${f.expectation}; saw: ${f.saw}`);
      }
    }
  }
  return report;
}

export const test: Command = {
  name: "test",
  summary: "run every scenario as a test; last line \"N passed, N failed\"",
  help: `usage: promisegrid test FILES... [--json]

Runs every scenario written in the given files. Prints each failed expectation
as  path:line: scenario "TITLE": step N, AGENT: EXPECTATION; saw: WHAT IT SAW
and, as its last line, "N passed, N failed" (scenarios). A scenario that cannot
run (unknown names, over the step limit) fails with its diagnostics; a file with
errors (as promisegrid check reports them) counts as one failure. Exits 1 on any failure.
With --json, prints {"files":[{path,ran,diagnostics}],"scenarios":[{title,path,line,
passed,diagnostics,failures}],"passed":N,"failed":N} (docs/schemas/test.schema.json):
diagnostics as check --json gives them; each failure with its path, line, range,
step, agent, expected and seen; the summary line still goes to stderr.`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({ args: argv, options: { json: { type: "boolean" } }, allowPositionals: true, strict: true });
    requireFiles(positionals, "FILES");
    const say = (line: string) => { if (!values.json) io.out(line + "\n"); };
    const report = testReport(positionals, io.cwd, say, (line) => io.err(line + "\n"));
    const summary = `${report.passed} passed, ${report.failed} failed`;
    if (values.json) {
      io.out(JSON.stringify(report, null, 2) + "\n");
      io.err(summary + "\n");
    } else {
      io.out(summary + "\n");
    }
    return report.failed ? 1 : 0;
  },
};
