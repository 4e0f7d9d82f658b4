// The `promisegrid` command: dispatches to one module per subcommand.
import { UsageError, type Command, type Io } from "./command.ts";
import { check } from "./commands/check.ts";
import { fmt } from "./commands/fmt.ts";
import { compile } from "./commands/compile.ts";
import { simulate } from "./commands/simulate.ts";
import { test } from "./commands/test.ts";
import { graph } from "./commands/graph.ts";
import { node } from "./commands/node.ts";
import { deploy } from "./commands/deploy.ts";
import { revoke } from "./commands/revoke.ts";
import { run } from "./commands/run.ts";
import { lesson } from "./commands/lesson.ts";
import { explain } from "./commands/explain.ts";
import { mcp } from "./commands/mcp.ts";
import { key } from "./commands/key.ts";
import { capability } from "./commands/capability.ts";
import { delegateCommand } from "./commands/delegate.ts";

const commands: Command[] = [check, fmt, compile, simulate, test, explain, graph, lesson, run, node, deploy, key, capability, delegateCommand, revoke, mcp];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "usage: promisegrid COMMAND [ARGS...]",
    "",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run `promisegrid COMMAND --help` for a command's options.",
  ].join("\n");
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    io.out(usage() + "\n");
    return name ? 0 : 2;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.err(`promisegrid: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(command.help.trimEnd() + "\n");
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    // node:util parseArgs reports unknown options and missing values with ERR_PARSE_ARGS_* codes.
    const badArgs = String((e as { code?: unknown })?.code ?? "").startsWith("ERR_PARSE_ARGS");
    // With --json, even a failure before any work is one JSON document on stdout.
    if (rest.includes("--json")) io.out(JSON.stringify({ error: (e as Error)?.message ?? String(e), diagnostics: [] }) + "\n");
    if (e instanceof UsageError || badArgs) {
      io.err(`promisegrid ${name}: ${(e as Error).message}\nRun \`promisegrid ${name} --help\` for usage.\n`);
      return 2;
    }
    const message = e instanceof Error ? e.message : String(e);
    io.err(`promisegrid ${name}: internal error: ${message}\n`);
    if (process.env.PROMISEGRID_DEBUG) io.err(String((e as Error)?.stack) + "\n");
    return 70;
  }
}

const isEntry = import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("/dist/cli.js");
if (isEntry) {
  const io: Io = {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    cwd: process.cwd(),
  };
  main(process.argv.slice(2), io).then((code) => {
    process.exitCode = code;
  });
}
