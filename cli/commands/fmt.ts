import { parseArgs } from "node:util";
import { format, LineIndex, parse } from "../../grammar/index.ts";
import { UsageError, type Command } from "../command.ts";
import { fileDiagnostic, type JsonDiagnostic, type JsonFailure } from "../diagnostics.ts";
import { FileError, readSource, writeAtomic } from "../files.ts";

/** What `fmt --json` prints (docs/schemas/fmt.schema.json). */
export interface FormatReport { path: string; formatted: string; changed: boolean }

/** Formats `text`; a text with syntax errors is not formatted and its errors are returned. */
export function formatReport(file: string, text: string): FormatReport | JsonFailure {
  const formatted = format(text);
  if (formatted !== undefined) return { path: file, formatted, changed: formatted !== text };
  const lines = new LineIndex(text);
  const diagnostics: JsonDiagnostic[] = parse(text).errors.map((e) => ({
    path: file, severity: "error", code: e.code, message: e.message, range: lines.range(e.span), related: [], fixes: [],
  }));
  return { error: `${file} has syntax errors; nothing was changed`, diagnostics };
}

export const fmt: Command = {
  name: "fmt",
  summary: "format a .pg file",
  help: `usage: promisegrid fmt FILE [--check|--write] [--json]

Prints FILE formatted. --check exits 1 if FILE is not formatted (and prints nothing
else); --write rewrites FILE in place (atomically). A file with syntax errors is
left unchanged and its errors are printed. --json prints {"path","formatted","changed"},
or {"error","diagnostics"} (docs/schemas/fmt.schema.json).`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv, options: { check: { type: "boolean" }, write: { type: "boolean" }, json: { type: "boolean" } }, allowPositionals: true, strict: true,
    });
    if (positionals.length !== 1) throw new UsageError("expected exactly one FILE");
    if (values.check && values.write) throw new UsageError("--check and --write cannot be used together");
    const file = positionals[0];
    const json = (doc: unknown) => io.out(JSON.stringify(doc, null, 2) + "\n");
    let text: string;
    try {
      text = readSource(file);
    } catch (e) {
      if (!(e instanceof FileError)) throw e;
      if (values.json) json({ error: e.message, diagnostics: [fileDiagnostic(file, e.message)] });
      else io.err(`promisegrid fmt: ${e.message}\n`);
      return 1;
    }
    const report = formatReport(file, text);
    if ("error" in report) {
      if (values.json) { json(report); return 1; }
      const first = report.diagnostics[0];
      io.err(`${file}:${first.range.start.line + 1}:${first.range.start.character + 1}: error ${first.code} ${first.message}\npromisegrid fmt: ${report.error}\n`);
      return 1;
    }
    if (values.check) {
      if (values.json) json(report);
      if (!report.changed) return 0;
      io.err(`${file}: not formatted (run: promisegrid fmt ${file} --write)\n`);
      return 1;
    }
    if (values.write && report.changed) writeAtomic(file, report.formatted);
    if (values.json) json(report);
    else if (!values.write) io.out(report.formatted);
    return 0;
  },
};
