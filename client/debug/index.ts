// The scenario debugger in VS Code: the inline DAP session (session.ts), the
// "Step through" code lens command, and a webview beside the editor that shows
// the graph of agents and promises at the step the session is stopped at.
import * as path from "node:path";
import * as vscode from "vscode";
import { renderGraphSvg } from "../../language/simulator/graph.ts";
import type { ScenarioRun, World } from "../../language/simulator/index.ts";
import { loadEditorProgram } from "../testing.ts";
import { registerLesson } from "./lesson.ts";
import { ScenarioDebugSession } from "./session.ts";

export const DEBUG_TYPE = "promisegrid";

export function registerDebugger(context: vscode.ExtensionContext): void {
  let panel: vscode.WebviewPanel | undefined;
  let latest = 0;

  const showGraph = async (run: ScenarioRun, world: World, file: string) => {
    const ticket = ++latest;
    const svg = await renderGraphSvg({ world, engine: run.engine, title: `${path.basename(file)}: "${run.plan.title}" after step ${run.step}` });
    if (ticket !== latest) return; // a later stop already drew
    if (!panel) {
      panel = vscode.window.createWebviewPanel("promisegrid.graph", "PromiseGrid graph", { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
        { enableScripts: false });
      panel.onDidDispose(() => { panel = undefined; });
    }
    panel.title = `Graph: step ${run.step}`;
    panel.webview.html = `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline';">
<style>body{background:#fff;margin:0;padding:8px;overflow:auto}svg{display:block}</style></head>
<body data-step="${run.step}">${svg}</body></html>`;
  };

  context.subscriptions.push(
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, {
      createDebugAdapterDescriptor: () => new vscode.DebugAdapterInlineImplementation(new ScenarioDebugSession({
        load: loadEditorProgram,
        onStop: (run, world, file) => { void showGraph(run, world, file).catch(() => undefined); },
      })),
    }),
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, {
      // F5 on a .pg file with no launch.json: step through its first scenario from the start.
      resolveDebugConfiguration(_folder, config) {
        if (!config.type && !config.request && !config.name) {
          const editor = vscode.window.activeTextEditor;
          if (editor?.document.languageId !== "promisegrid") return config;
          return { type: DEBUG_TYPE, request: "launch", name: "Step through scenario", program: editor.document.uri.fsPath, stopOnEntry: true };
        }
        if (!config.program) config.program = vscode.window.activeTextEditor?.document.uri.fsPath;
        return config;
      },
    }),
    // The "Step through" code lens above each scenario.
    vscode.commands.registerCommand("promisegrid.stepScenario", (uri: string | vscode.Uri, title?: string) => {
      const u = typeof uri === "string" ? vscode.Uri.parse(uri) : uri;
      return vscode.debug.startDebugging(vscode.workspace.getWorkspaceFolder(u), {
        type: DEBUG_TYPE, request: "launch", name: title ? `Step through "${title}"` : "Step through scenario",
        program: u.fsPath, scenario: title, stopOnEntry: true,
      });
    }),
    vscode.commands.registerCommand("promisegrid.graph.current", () => panel?.webview.html ?? ""),
  );
  registerLesson(context);
}
