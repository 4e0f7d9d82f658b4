import * as path from "node:path";
import { parseArgs } from "node:util";
import { carBytes, compile as compileProgram, CompileError, HASHES } from "../../language/index.ts";
import { UsageError, type Command } from "../command.ts";
import { DiagnosticPrinter, fileDiagnostic, type JsonDiagnostic, type JsonFailure } from "../diagnostics.ts";
import { FileError, writeAtomic } from "../files.ts";
import { loadChecked, loadCheckedText } from "../load.ts";

export const compile: Command = {
  name: "compile",
  summary: "compile a .pg file to a content-addressed manifest",
  help: `usage: promisegrid compile FILE [-o OUT.car] [--hash NAME] [--json]

Checks FILE, then compiles it to a DAG of blocks and prints the root CID.
  -o OUT.car    also write the manifest as a CAR file (atomically)
  --hash NAME   hash function, overriding grid { hash … }: ${Object.keys(HASHES).join(", ")}
  --json        print {"root","hash","blocks","bytes","car"}, or on failure
                {"error","diagnostics"} (docs/schemas/compile.schema.json)
Nothing is written if the file has errors (exit 1).`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { out: { type: "string", short: "o" }, hash: { type: "string" }, json: { type: "boolean" } },
      allowPositionals: true, strict: true,
    });
    if (positionals.length !== 1) throw new UsageError("expected exactly one FILE");
    if (values.hash !== undefined && !(values.hash in HASHES)) {
      throw new UsageError(`unknown hash '${values.hash}': use one of ${Object.keys(HASHES).join(", ")}`);
    }
    const report = await compileReport(positionals[0], io.cwd, { hash: values.hash, out: values.out });
    if ("error" in report) {
      if (values.json) io.out(JSON.stringify({ error: report.error, diagnostics: report.diagnostics }, null, 2) + "\n");
      else io.err(report.lines.map((l) => l + "\n").join(""));
      return 1;
    }
    io.out(values.json ? JSON.stringify(report) + "\n" : report.root + "\n");
    return 0;
  },
};

/** What `compile --json` prints (docs/schemas/compile.schema.json). */
export interface CompileReport { root: string; hash: string; blocks: number; bytes: number; car: string | null }

/** Checks and compiles FILE, writing the CAR to `out` if given; nothing is written on errors. */
export async function compileReport(file: string, cwd: string, options: { hash?: string; out?: string; text?: string } = {}): Promise<CompileReport | (JsonFailure & { lines: string[] })> {
  const fail = (message: string, diagnostics: JsonDiagnostic[] = [fileDiagnostic(file, message)], lines: string[] = []) =>
    ({ error: message, diagnostics, lines: [...lines, `promisegrid compile: ${message}`] });
  const abs = path.resolve(cwd, file);
  let loaded;
  try {
    loaded = options.text === undefined ? loadChecked(abs) : loadCheckedText(abs, options.text);
  } catch (e) {
    if (e instanceof FileError) return fail(e.message);
    throw e;
  }
  const errors = loaded.diagnostics.filter((d) => d.severity === "error");
  if (errors.length) {
    const printer = new DiagnosticPrinter(cwd);
    return fail(`${file} has ${errors.length} error${errors.length === 1 ? "" : "s"}; nothing was written`,
      errors.map((d) => printer.json(loaded.program, d)), errors.map((d) => printer.human(loaded.program, d)));
  }
  let compiled;
  try {
    compiled = await compileProgram(loaded.program, { hash: options.hash });
  } catch (e) {
    if (e instanceof CompileError) return fail(e.message);
    throw e;
  }
  if (options.out) {
    const car = await carBytes(compiled);
    try {
      writeAtomic(path.resolve(cwd, options.out), car);
    } catch (e) {
      if (e instanceof FileError) return fail(e.message);
      throw e;
    }
  }
  const bytes = compiled.blocks.reduce((n, b) => n + b.bytes.length, 0);
  return { root: compiled.root.toString(), hash: compiled.hash, blocks: compiled.blocks.length, bytes, car: options.out ?? null };
}
