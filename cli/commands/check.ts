import * as path from "node:path";
import { parseArgs } from "node:util";
import type { Diagnostic, Program } from "../../language/index.ts";
import type { Command } from "../command.ts";
import { DiagnosticPrinter, fileDiagnostic, type JsonDiagnostic } from "../diagnostics.ts";
import { FileError, requireFiles } from "../files.ts";
import { loadChecked, loadCheckedText, type Loaded } from "../load.ts";

/** The document `check --json` prints (docs/schemas/check.schema.json). */
export interface CheckReport {
  files: { path: string; diagnostics: JsonDiagnostic[] }[];
  errors: number;
  warnings: number;
}

/** One checked source: a file that could not be read, or a file's own diagnostics. */
type Checked = { file: string; unreadable: string } | { file: string; program: Program; diagnostics: Diagnostic[] };

/** Checks entry files (with what they import), each file once; `buffers` holds unsaved text by absolute path. */
function checkFiles(entries: string[], cwd: string, buffers: Map<string, string>): Checked[] {
  const out: Checked[] = [];
  const seen = new Set<string>();
  for (const file of entries) {
    const abs = path.resolve(cwd, file);
    let loaded: Loaded;
    try {
      loaded = buffers.has(abs) ? loadCheckedText(abs, buffers.get(abs)!) : loadChecked(abs);
    } catch (e) {
      if (!(e instanceof FileError)) throw e;
      out.push({ file, unreadable: e.message });
      continue;
    }
    for (const source of loaded.program.files.keys()) {
      if (seen.has(source)) continue;
      seen.add(source);
      out.push({ file: source, program: loaded.program, diagnostics: loaded.diagnostics.filter((d) => d.path === source) });
    }
  }
  return out;
}

export function checkReport(entries: string[], cwd: string, buffers: Map<string, string> = new Map()): CheckReport {
  const printer = new DiagnosticPrinter(cwd);
  const report: CheckReport = { files: [], errors: 0, warnings: 0 };
  for (const c of checkFiles(entries, cwd, buffers)) {
    if ("unreadable" in c) {
      report.errors++;
      report.files.push({ path: c.file, diagnostics: [fileDiagnostic(c.file, c.unreadable)] });
      continue;
    }
    report.errors += c.diagnostics.filter((d) => d.severity === "error").length;
    report.warnings += c.diagnostics.filter((d) => d.severity === "warning").length;
    report.files.push({ path: printer.display(c.file), diagnostics: c.diagnostics.map((d) => printer.json(c.program, d)) });
  }
  return report;
}

export const check: Command = {
  name: "check",
  summary: "check .pg files and print their diagnostics",
  help: `usage: promisegrid check FILES... [--json]

Checks each file (with the files it imports) and prints one line per diagnostic:
  path:line:col: severity CODE message
With --json, prints {"files":[{"path","diagnostics":[...]}],"errors":N,"warnings":N};
each diagnostic has its path, severity, code, message, 0-based LSP range, related
locations and quick fixes as LSP TextEdits (docs/schemas/check.schema.json).
Exits 1 if any file has an error, 0 otherwise.`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({ args: argv, options: { json: { type: "boolean" } }, allowPositionals: true, strict: true });
    requireFiles(positionals, "FILES");
    if (values.json) {
      const report = checkReport(positionals, io.cwd);
      io.out(JSON.stringify(report, null, 2) + "\n");
      return report.errors ? 1 : 0;
    }
    const printer = new DiagnosticPrinter(io.cwd);
    let errors = 0, warnings = 0, files = 0;
    for (const c of checkFiles(positionals, io.cwd, new Map())) {
      if ("unreadable" in c) { errors++; io.err(`promisegrid check: ${c.unreadable}\n`); continue; }
      files++;
      errors += c.diagnostics.filter((d) => d.severity === "error").length;
      warnings += c.diagnostics.filter((d) => d.severity === "warning").length;
      for (const d of c.diagnostics) io.out(printer.human(c.program, d) + "\n");
    }
    io.err(`${files} file${files === 1 ? "" : "s"} checked: ${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}\n`);
    return errors ? 1 : 0;
  },
};
