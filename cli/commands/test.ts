import { parseArgs } from "node:util";
import type { Command } from "../command.ts";
import { FileError, requireFiles } from "../files.ts";
import { loadScenarios, scenarioProblems, type LoadedScenarios } from "./simulate.ts";

interface JsonScenario {
  title: string;
  path: string;
  line: number;
  passed: boolean;
  problems: string[];
  failures: { line: number; step: number; agent: string | null; expectation: string; saw: string }[];
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
With --json, prints {"scenarios":[{title,path,line,passed,problems,failures}],
"passed":N,"failed":N} and still ends with the summary line on stderr.`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({ args: argv, options: { json: { type: "boolean" } }, allowPositionals: true, strict: true });
    requireFiles(positionals, "FILES");
    let passed = 0, failed = 0;
    const json: JsonScenario[] = [];
    const say = (line: string) => { if (!values.json) io.out(line + "\n"); };
    for (const file of positionals) {
      let loaded: LoadedScenarios;
      try {
        loaded = loadScenarios(file, io.cwd);
      } catch (e) {
        if (!(e instanceof FileError)) throw e;
        failed++;
        say(`FAIL ${file}: ${e.message}`);
        json.push({ title: "", path: file, line: 0, passed: false, problems: [e.message], failures: [] });
        continue;
      }
      if (loaded.errors.length) {
        failed++;
        say(`FAIL ${loaded.display}: the file has errors, no scenario ran`);
        for (const l of loaded.errors) say(`  ${l}`);
        json.push({ title: "", path: loaded.display, line: 0, passed: false, problems: loaded.errors, failures: [] });
        continue;
      }
      if (loaded.missing) io.err(`note: ${loaded.missing}\n`);
      for (const r of loaded.results) {
        const problems = r.trace ? [] : scenarioProblems(loaded, r);
        const failures = r.failures.map((f) => ({ line: f.line, step: f.step, agent: f.agent, expectation: f.text, saw: f.saw }));
        json.push({ title: r.title, path: r.path, line: r.line, passed: r.passed, problems, failures });
        if (r.passed) { passed++; say(`ok   "${r.title}" (${r.path}:${r.line})`); continue; }
        failed++;
        say(`FAIL "${r.title}" (${r.path}:${r.line})`);
        for (const p of problems) say(`  ${p}`);
        if (problems.length) say(`  the scenario cannot run until these are fixed`);
        for (const f of failures) {
          say(`  ${r.path}:${f.line}: scenario "${r.title}": step ${f.step}${f.agent ? `, ${f.agent}` : ""}: ${f.expectation}; saw: ${f.saw}`);
        }
      }
    }
    const summary = `${passed} passed, ${failed} failed`;
    if (values.json) {
      io.out(JSON.stringify({ scenarios: json, passed, failed }, null, 2) + "\n");
      io.err(summary + "\n");
    } else {
      io.out(summary + "\n");
    }
    return failed ? 1 : 0;
  },
};
