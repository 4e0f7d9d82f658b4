// The language server's entry point. vscode-languageserver picks the transport from the command line:
// `--stdio` (neovim, tests), `--node-ipc` (the VS Code client), or `--socket=PORT`. The same file, started as a
// worker thread, is the server's checker thread. Run it with `node --max-semi-space-size=2` as the VS Code client
// does: parsing makes much short-lived garbage, and a small young generation keeps memory down at no cost in speed.
import { isMainThread, workerData } from "node:worker_threads";
import { createConnection, ProposedFeatures } from "vscode-languageserver/node.js";
import { serveChecks } from "./checker-thread.ts";
import { startServer } from "./server.ts";

if (!isMainThread && (workerData as { role?: string } | undefined)?.role === "checker") serveChecks();
else startServer(createConnection(ProposedFeatures.all), process.argv[1]);
