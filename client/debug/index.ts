// The scenario debugger in VS Code: the inline DAP session (session.ts), the
// "Step through" code lens command, and a webview beside the editor that shows
// the graph of agents and promises at the step the session is stopped at, as
// the simulator sees it or as one agent knows it (the picker in the panel, or
// the command with an agent from the Variables view), or the space-time diagram
// up to that step (the panel's Timeline tab). The language server runs the
// scenario and draws both.
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import * as vscode from "vscode";
import type { PromiseGridApi } from "../extension.ts";
import {
  GRAPH_REQUEST, SCENARIOS_REQUEST, TIMELINE_REQUEST, TRACE_REQUEST,
  type DebugTrace, type GraphAnswer, type GraphParams, type ScenarioListing, type ScenarioParams, type TimelineAnswer, type TimelineParams, type TraceAnswer,
} from "../../server/scenario-protocol.ts";
import { registerLesson } from "./lesson.ts";
import { ScenarioDebugSession } from "./session.ts";

export const DEBUG_TYPE = "promisegrid";

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function registerDebugger(context: vscode.ExtensionContext, api: PromiseGridApi): void {
  let panel: vscode.WebviewPanel | undefined;
  let latest = 0;
  /** Where the session stopped last, and whose view the graph shows (undefined: the simulator's). */
  let shown: { trace: DebugTrace; step: number } | undefined;
  let as: string | undefined;
  /** Which picture the panel shows: the promise graph, or the timeline of steps 1..step. */
  let view: "graph" | "timeline" = "graph";

  const request = async <R>(method: string, params: ScenarioParams | GraphParams | TimelineParams): Promise<R> => {
    await api.ready();
    return api.client().sendRequest<R>(method, params);
  };
  const uriOf = (file: string) => vscode.Uri.file(file).toString();

  const showGraph = async () => {
    if (!shown) return;
    const { trace, step } = shown;
    const ticket = ++latest;
    const answer = view === "timeline"
      ? await request<TimelineAnswer>(TIMELINE_REQUEST, { uri: uriOf(trace.path), title: trace.title, step })
      : await request<GraphAnswer>(GRAPH_REQUEST, { uri: uriOf(trace.path), title: trace.title, step, as });
    if (ticket !== latest) return; // a later stop already drew
    const body = "svg" in answer ? answer.svg : `<p>${escapeHtml(answer.error.message)}</p>`;
    if (!panel) {
      panel = vscode.window.createWebviewPanel("promisegrid.graph", "PromiseGrid graph", { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
        { enableScripts: true });
      panel.onDidDispose(() => { panel = undefined; });
      panel.webview.onDidReceiveMessage((m: { as?: string; view?: "graph" | "timeline" }) => {
        if (m.view) view = m.view;
        else as = m.as || undefined;
        void showGraph().catch(() => undefined);
      });
    }
    const nonce = randomBytes(16).toString("base64");
    const agents = trace.steps[0]?.agents.map((a) => a.name) ?? [];
    const options = [`<option value="">the simulator (everything)</option>`,
      ...agents.map((a) => `<option value="${escapeHtml(a)}"${a === as ? " selected" : ""}>${escapeHtml(a)}</option>`)].join("");
    panel.title = view === "timeline" ? `Timeline: steps 1 to ${step}` : `Graph: step ${step}${as ? ` (${as})` : ""}`;
    const tab = (v: typeof view, label: string) => `<button data-view="${v}"${v === view ? ' aria-pressed="true"' : ""}>${label}</button>`;
    panel.webview.html = `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${nonce}';">
<style>body{background:#fff;color:#000;margin:0;padding:8px;overflow:auto}svg{display:block}label,button{font:12px sans-serif}
button{border:1px solid #d0d7de;background:#f6f8fa;padding:2px 8px}button[aria-pressed]{background:#fff;font-weight:bold}</style></head>
<body data-step="${step}" data-as="${escapeHtml(as ?? "")}" data-view="${view}">
<nav>${tab("graph", "Graph")}${tab("timeline", "Timeline")}
${view === "graph" ? `<label>As seen by <select id="as">${options}</select></label>` : ""}</nav>
${body}
<script nonce="${nonce}">const vscode = acquireVsCodeApi();
document.getElementById("as")?.addEventListener("change", (e) => vscode.postMessage({ as: e.target.value }));
for (const b of document.querySelectorAll("button[data-view]")) b.addEventListener("click", () => vscode.postMessage({ view: b.dataset.view }));</script>
</body></html>`;
  };

  context.subscriptions.push(
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, {
      createDebugAdapterDescriptor: () => new vscode.DebugAdapterInlineImplementation(new ScenarioDebugSession({
        scenarios: (file) => request<ScenarioListing>(SCENARIOS_REQUEST, { uri: uriOf(file) }),
        trace: (file, title) => request<TraceAnswer>(TRACE_REQUEST, { uri: uriOf(file), title }),
        onStop: (trace, step) => {
          // A new session keeps the chosen agent only if it has one of that name.
          if (shown?.trace !== trace && as && !trace.steps[0]?.agents.some((a) => a.name === as)) as = undefined;
          shown = { trace, step };
          void showGraph().catch(() => undefined);
        },
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
    /** The panel's Timeline tab: the space-time diagram up to the step stopped at (false: back to the graph). */
    vscode.commands.registerCommand("promisegrid.graph.timeline", async (on: boolean = true) => {
      if (!shown) return undefined;
      view = on === false ? "graph" : "timeline";
      await showGraph();
      return panel?.webview.html;
    }),
    /**
     * The graph as one agent knows it: an agent's name, a Variables view item (its context
     * menu passes { variable: { name } }), or, with neither, a pick; "" is the simulator's view.
     */
    vscode.commands.registerCommand("promisegrid.graph.showAs", async (arg?: string | { variable?: { name?: string } }) => {
      if (!shown) return undefined;
      let agent = typeof arg === "string" ? arg : arg?.variable?.name;
      const names = shown.trace.steps[0]?.agents.map((a) => a.name) ?? [];
      if (agent === undefined) {
        const pick = await vscode.window.showQuickPick([{ label: "the simulator (everything)", agent: "" }, ...names.map((n) => ({ label: n, agent: n }))],
          { placeHolder: "Show the graph as this agent knows it" });
        if (!pick) return undefined;
        agent = pick.agent;
      }
      if (agent && !names.includes(agent)) return undefined;
      as = agent || undefined;
      await showGraph();
      return panel?.webview.html;
    }),
  );
  registerLesson(context, request);
}
