import { parseArgs } from "node:util";
import { format, parse } from "../../grammar/index.ts";
import { UsageError, type Command } from "../command.ts";
import { FileError, readSource, writeAtomic } from "../files.ts";

export const fmt: Command = {
  name: "fmt",
  summary: "format a .pg file",
  help: `usage: promisegrid fmt FILE [--check|--write]

Prints FILE formatted. --check exits 1 if FILE is not formatted (and prints nothing
else); --write rewrites FILE in place (atomically). A file with syntax errors is
left unchanged and its errors are printed.`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv, options: { check: { type: "boolean" }, write: { type: "boolean" } }, allowPositionals: true, strict: true,
    });
    if (positionals.length !== 1) throw new UsageError("expected exactly one FILE");
    if (values.check && values.write) throw new UsageError("--check and --write cannot be used together");
    const file = positionals[0];
    let text: string;
    try {
      text = readSource(file);
    } catch (e) {
      if (e instanceof FileError) { io.err(`promisegrid fmt: ${e.message}\n`); return 1; }
      throw e;
    }
    const formatted = format(text);
    if (formatted === undefined) {
      const first = parse(text).errors[0];
      const before = text.slice(0, first.span.start).split("\n");
      io.err(`${file}:${before.length}:${before.at(-1)!.length + 1}: error ${first.code} ${first.message}\npromisegrid fmt: ${file} has syntax errors; nothing was changed\n`);
      return 1;
    }
    if (values.check) {
      if (formatted === text) return 0;
      io.err(`${file}: not formatted (run: promisegrid fmt ${file} --write)\n`);
      return 1;
    }
    if (values.write) {
      if (formatted !== text) writeAtomic(file, formatted);
      return 0;
    }
    io.out(formatted);
    return 0;
  },
};
