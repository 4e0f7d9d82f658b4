import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { carBytes, compile as compileProgram, CompileError, HASHES } from "../../language/index.ts";
import { UsageError, type Command } from "../command.ts";
import { DiagnosticPrinter } from "../diagnostics.ts";
import { FileError, writeAtomic } from "../files.ts";
import { loadChecked } from "../load.ts";

export const compile: Command = {
  name: "compile",
  summary: "compile a .pg file to a content-addressed manifest",
  help: `usage: promisegrid compile FILE [-o OUT.car] [--hash NAME] [--json]

Checks FILE, then compiles it to a DAG of blocks and prints the root CID.
  -o OUT.car    also write the manifest as a CAR file (atomically)
  --hash NAME   hash function, overriding grid { hash … }: ${Object.keys(HASHES).join(", ")}
  --json        print {"root","hash","blocks","bytes","car"}
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
    const file = positionals[0];
    let loaded;
    try {
      loaded = loadChecked(file);
    } catch (e) {
      if (e instanceof FileError) { io.err(`promisegrid compile: ${e.message}\n`); return 1; }
      throw e;
    }
    const errors = loaded.diagnostics.filter((d) => d.severity === "error");
    if (errors.length) {
      const printer = new DiagnosticPrinter(io.cwd);
      for (const d of errors) io.err(printer.human(loaded.program, d) + "\n");
      io.err(`promisegrid compile: ${file} has ${errors.length} error${errors.length === 1 ? "" : "s"}; nothing was written\n`);
      return 1;
    }
    let compiled;
    try {
      compiled = await compileProgram(loaded.program, { hash: values.hash, readFile: (p) => fs.readFileSync(p) });
    } catch (e) {
      if (e instanceof CompileError) { io.err(`promisegrid compile: ${e.message}\n`); return 1; }
      throw e;
    }
    let car: Uint8Array | undefined;
    if (values.out) {
      car = await carBytes(compiled);
      try {
        writeAtomic(values.out, car);
      } catch (e) {
        if (e instanceof FileError) { io.err(`promisegrid compile: ${e.message}\n`); return 1; }
        throw e;
      }
    }
    const root = compiled.root.toString();
    if (values.json) {
      const bytes = compiled.blocks.reduce((n, b) => n + b.bytes.length, 0);
      io.out(JSON.stringify({ root, hash: compiled.hash, blocks: compiled.blocks.length, bytes, car: values.out ?? null }) + "\n");
    } else io.out(root + "\n");
    return 0;
  },
};
