// `promisegrid mcp`: serves the CLI's tools to AI agents over MCP (stdio).
import { parseArgs } from "node:util";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { UsageError, type Command } from "../command.ts";
import { createServer } from "../mcp/server.ts";
import { TOOLS } from "../mcp/tools.ts";

import pkg from "../../package.json" with { type: "json" };

export const mcp: Command = {
  name: "mcp",
  summary: "serve the tools (check, fix, test, explain...) to AI agents over MCP (stdio)",
  help: `usage: promisegrid mcp [--allow-deploy]

Runs a Model Context Protocol server on stdin/stdout for an AI agent's client;
logs go to stderr. Tools: ${TOOLS.filter((t) => !t.deploys).map((t) => t.name).join(", ")}; with
--allow-deploy also ${TOOLS.filter((t) => t.deploys).map((t) => t.name).join(", ")}, which run code on the local node.
Resources: the language reference and the diagnostics catalogue
(promisegrid://docs/language.md, promisegrid://docs/diagnostics.md) and the JSON
Schemas of every result (promisegrid://schemas/NAME). Paths are relative to the
directory the server was started in. See docs/ai-agents.md.`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({ args: argv, options: { "allow-deploy": { type: "boolean" } }, allowPositionals: true, strict: true });
    if (positionals.length) throw new UsageError(`mcp takes no arguments, got '${positionals[0]}'`);
    const log = (line: string) => io.err(`promisegrid mcp: ${line}\n`);
    const server = createServer({ allowDeploy: !!values["allow-deploy"], cwd: io.cwd, version: pkg.version, log });
    const transport = new StdioServerTransport();
    const closed = new Promise<void>((resolve) => { server.onclose = resolve; });
    await server.connect(transport);
    // The transport does not notice the end of stdin by itself.
    process.stdin.once("end", () => { void server.close(); });
    log(`serving ${values["allow-deploy"] ? "with" : "without"} deploy over stdio in ${io.cwd}`);
    await closed;
    return 0;
  },
};
