// The language server's entry point. vscode-languageserver picks the transport from the command line:
// `--stdio` (neovim, tests), `--node-ipc` (the VS Code client), or `--socket=PORT`.
import { createConnection, ProposedFeatures } from "vscode-languageserver/node.js";
import { startServer } from "./server.ts";

startServer(createConnection(ProposedFeatures.all));
