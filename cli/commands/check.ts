import { parseArgs } from "node:util";
import type { Command } from "../command.ts";
import { DiagnosticPrinter, type JsonDiagnostic } from "../diagnostics.ts";
import { FileError, requireFiles } from "../files.ts";
import { loadChecked } from "../load.ts";

export const check: Command = {
  name: "check",
  summary: "check .pg files and print their diagnostics",
  help: `usage: promisegrid check FILES... [--json]

Checks each file (with the files it imports) and prints one line per diagnostic:
  path:line:col: severity CODE message
With --json, prints {"files":[{"path","diagnostics":[{severity,code,message,range}]}]}
with 0-based LSP ranges. Exits 1 if any file has an error, 0 otherwise.`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({ args: argv, options: { json: { type: "boolean" } }, allowPositionals: true, strict: true });
    requireFiles(positionals, "FILES");
    const printer = new DiagnosticPrinter(io.cwd);
    const files: { path: string; diagnostics: JsonDiagnostic[] }[] = [];
    const seen = new Set<string>();
    let errors = 0, warnings = 0;
    for (const file of positionals) {
      let loaded;
      try {
        loaded = loadChecked(file);
      } catch (e) {
        if (!(e instanceof FileError)) throw e;
        errors++;
        if (values.json) files.push({ path: file, diagnostics: [{ severity: "error", code: "PG000", message: e.message, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } }] });
        else io.err(`promisegrid check: ${e.message}\n`);
        continue;
      }
      const { program, diagnostics } = loaded;
      for (const source of program.files.keys()) {
        if (seen.has(source)) continue;
        seen.add(source);
        const own = diagnostics.filter((d) => d.path === source);
        errors += own.filter((d) => d.severity === "error").length;
        warnings += own.filter((d) => d.severity === "warning").length;
        if (values.json) files.push({ path: printer.display(source), diagnostics: own.map((d) => printer.json(program, d)) });
        else for (const d of own) io.out(printer.human(program, d) + "\n");
      }
    }
    if (values.json) io.out(JSON.stringify({ files }, null, 2) + "\n");
    else io.err(`${seen.size} file${seen.size === 1 ? "" : "s"} checked: ${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}\n`);
    return errors ? 1 : 0;
  },
};

