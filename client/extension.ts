// The VS Code extension: starts the bundled language server (dist/server.cjs) over IPC and gives it an output
// channel, a status bar item, settings and a restart command. Other features (grid, tests, debugger) each add
// one registration call in `activate` below.
import * as path from "node:path";
import * as vscode from "vscode";
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  State,
  TransportKind,
  type ErrorHandler,
  type LanguageClientOptions,
  type ServerOptions,
} from "vscode-languageclient/node.js";

import { registerDebugger } from "./debug/index.ts";
import { registerTesting } from "./testing.ts";
import { registerGrid } from "./grid.ts";

export const LANGUAGE_ID = "promisegrid";

/** What the extension hands to its feature registrations and returns from `activate` (tests use it too). */
export interface PromiseGridApi {
  readonly context: vscode.ExtensionContext;
  readonly output: vscode.OutputChannel;
  /** The running language client; replaced when the server is restarted by command. */
  client(): LanguageClient;
  /** Resolves once the current language client is running. */
  ready(): Promise<void>;
  restartServer(): Promise<void>;
}

let current: LanguageClient | undefined;
let starting: Promise<void> = Promise.resolve();

export async function activate(context: vscode.ExtensionContext): Promise<PromiseGridApi> {
  const output = vscode.window.createOutputChannel("PromiseGrid");
  context.subscriptions.push(output);

  const status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 10);
  status.name = "PromiseGrid language server";
  status.command = "promisegrid.showOutput";
  context.subscriptions.push(status);
  const showStatus = (state: "starting" | "running" | "stopped") => {
    status.text = { starting: "$(sync~spin) PromiseGrid", running: "$(check) PromiseGrid", stopped: "$(error) PromiseGrid" }[state];
    status.tooltip = `PromiseGrid language server: ${state} (click for its output)`;
    status.show();
  };

  const start = async () => {
    showStatus("starting");
    const client = createClient(context, output);
    client.onDidChangeState((e) => {
      if (client !== current) return;
      showStatus(e.newState === State.Running ? "running" : e.newState === State.Starting ? "starting" : "stopped");
    });
    current = client;
    await client.start();
    showStatus("running");
  };

  const api: PromiseGridApi = {
    context,
    output,
    client: () => {
      if (!current) throw new Error("the PromiseGrid language server is not started");
      return current;
    },
    ready: () => starting,
    restartServer: async () => {
      const old = current;
      current = undefined;
      if (old) await old.stop().catch((e) => output.appendLine(`stopping the server: ${e}`));
      starting = start();
      await starting;
    },
  };

  context.subscriptions.push(
    vscode.commands.registerCommand("promisegrid.showOutput", () => output.show(true)),
    vscode.commands.registerCommand("promisegrid.restartServer", () => api.restartServer()),
    vscode.commands.registerCommand("promisegrid.copyCid", async (cid: string) => {
      await vscode.env.clipboard.writeText(cid);
      vscode.window.setStatusBarMessage(`Copied ${cid}`, 3000);
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("promisegrid.server")) void api.restartServer();
    }),
    { dispose: () => void current?.stop() },
  );

  starting = start();
  starting.catch((e) => {
    output.appendLine(`The PromiseGrid language server failed to start: ${e}`);
    showStatus("stopped");
  });

  // Feature registrations: one call each, (context, api), e.g. `registerGrid(context, api);` from ./grid.ts.
  registerTesting(context, api);
  registerDebugger(context, api);
  registerGrid(context);

  return api;
}

export async function deactivate(): Promise<void> {
  const c = current;
  current = undefined;
  if (c) await c.stop();
}

function createClient(context: vscode.ExtensionContext, output: vscode.OutputChannel): LanguageClient {
  const module = context.asAbsolutePath(path.join("dist", "server.cjs"));
  const config = vscode.workspace.getConfiguration("promisegrid");
  // A small young generation: parsing makes much short-lived garbage (bench/lsp.bench.ts: 187 -> 126 MB RSS at 10,000 lines).
  const execArgv = ["--max-semi-space-size=2"];
  if (config.get<number>("server.maxMemoryMB")) execArgv.push(`--max-old-space-size=${config.get<number>("server.maxMemoryMB")}`);
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc, options: { execArgv } },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: [...execArgv, "--nolazy", "--inspect=6019"] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ language: LANGUAGE_ID }],
    outputChannel: output,
    // The extension contributes the declaration snippets itself; the server's copies are for other editors.
    initializationOptions: { declarationSnippets: false },
    synchronize: { configurationSection: "promisegrid", fileEvents: vscode.workspace.createFileSystemWatcher("**/*.pg") },
    errorHandler: restartingErrorHandler(output),
  };
  return new LanguageClient("promisegrid", "PromiseGrid", serverOptions, clientOptions);
}

/** Restarts a crashed server, unless it crashes 5 times within 3 minutes (then it says so and stays down). */
function restartingErrorHandler(output: vscode.OutputChannel): ErrorHandler {
  const crashes: number[] = [];
  return {
    error: () => ({ action: ErrorAction.Continue }),
    closed: () => {
      const now = Date.now();
      crashes.push(now);
      while (crashes.length && now - crashes[0] > 180_000) crashes.shift();
      if (crashes.length >= 5) {
        output.appendLine("The PromiseGrid language server crashed 5 times in 3 minutes; not restarting it. Run 'PromiseGrid: Restart Language Server' to try again.");
        return { action: CloseAction.DoNotRestart, handled: true };
      }
      output.appendLine("The PromiseGrid language server stopped unexpectedly; restarting it.");
      return { action: CloseAction.Restart, handled: true };
    },
  };
}
