// The language server's entry point. vscode-languageserver picks the transport from the command line:
// `--stdio` (neovim, tests), `--node-ipc` (the VS Code client), or `--socket=PORT`; over stdio, frames are read by
// a reader that skips a bad frame instead of stalling (server/stdio.ts). The checker thread runs
// dist/server-checker.cjs, or this same file started as a worker thread when that is missing. Run it with
// `node --max-semi-space-size=2` as the VS Code client does: parsing makes much short-lived garbage, and a small
// young generation keeps memory down at no cost in speed.
import "./early-start.ts";
import { isMainThread, workerData } from "node:worker_threads";
import { checkerScript as checker } from "./early-checker.ts";
import { createConnection, ProposedFeatures, StreamMessageWriter } from "vscode-languageserver/node.js";
import { serveChecks } from "./checker-thread.ts";
import { startServer } from "./server.ts";
import { ResyncingReader } from "./stdio.ts";

if (!isMainThread && (workerData as { role?: string } | undefined)?.role === "checker") serveChecks();
else if (process.argv.includes("--stdio")) {
  const connection = createConnection(ProposedFeatures.all, new ResyncingReader(process.stdin, (m) => connection.console.error(m)), new StreamMessageWriter(process.stdout));
  startServer(connection, checker);
} else startServer(createConnection(ProposedFeatures.all), checker);
