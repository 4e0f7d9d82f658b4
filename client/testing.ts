// Scenarios in VS Code's Test Explorer (vscode.tests): every `scenario` of every
// .pg file in the workspace is a test. The language server lists and runs them
// (server/scenarios.ts); each failed expectation is a message at its line.
import * as vscode from "vscode";
import type { PromiseGridApi } from "./extension.ts";
import {
  RUN_SCENARIO_REQUEST, SCENARIOS_REQUEST, type ScenarioListing, type ScenarioParams, type ScenarioTestResult,
} from "../server/scenario-protocol.ts";

export interface ScenarioRunResult extends ScenarioTestResult {
  id: string;
}

export function registerTesting(context: vscode.ExtensionContext, api: PromiseGridApi): void {
  const controller = vscode.tests.createTestController("promisegrid.scenarios", "PromiseGrid scenarios");
  context.subscriptions.push(controller);
  let lastResults: ScenarioRunResult[] = [];

  const request = async <R>(method: string, params: ScenarioParams): Promise<R> => {
    await api.ready();
    return api.client().sendRequest<R>(method, params);
  };

  // Answers may come back out of order: only the latest request per file fills the tree.
  const latest = new Map<string, number>();
  let ticket = 0;

  /** (Re)reads one file's scenarios into the tree. */
  const refresh = async (uri: vscode.Uri): Promise<vscode.TestItem | undefined> => {
    if (uri.scheme !== "file" || !uri.fsPath.endsWith(".pg")) return undefined;
    const mine = ++ticket;
    latest.set(uri.toString(), mine);
    let listing: ScenarioListing;
    try {
      listing = await request<ScenarioListing>(SCENARIOS_REQUEST, { uri: uri.toString() });
    } catch {
      return controller.items.get(uri.toString());
    }
    if (latest.get(uri.toString()) !== mine) return controller.items.get(uri.toString());
    if (!listing.scenarios.length) { controller.items.delete(uri.toString()); return undefined; }
    let fileItem = controller.items.get(uri.toString());
    if (!fileItem) {
      fileItem = controller.createTestItem(uri.toString(), vscode.workspace.asRelativePath(uri), uri);
      controller.items.add(fileItem);
    }
    fileItem.children.replace(listing.scenarios.map((s) => {
      const item = controller.createTestItem(`${uri.toString()}#${s.title}`, s.title, uri);
      item.range = new vscode.Range(s.range.start.line, s.range.start.character, s.range.end.line, s.range.end.character);
      return item;
    }));
    return fileItem;
  };

  const discoverAll = async () => {
    await Promise.all((await vscode.workspace.findFiles("**/*.pg", "**/node_modules/**")).map((uri) => refresh(uri)));
  };
  controller.resolveHandler = async (item) => { if (!item) await discoverAll(); };
  controller.refreshHandler = async () => { await discoverAll(); };

  // While typing, the tree follows after a pause rather than at every keystroke.
  const pauses = new Map<string, NodeJS.Timeout>();
  const typing = (uri: vscode.Uri) => {
    clearTimeout(pauses.get(uri.toString()));
    pauses.set(uri.toString(), setTimeout(() => { pauses.delete(uri.toString()); void refresh(uri); }, 150));
  };
  context.subscriptions.push({ dispose: () => pauses.forEach((t) => clearTimeout(t)) });

  const watcher = vscode.workspace.createFileSystemWatcher("**/*.pg");
  context.subscriptions.push(
    watcher,
    watcher.onDidCreate((u) => void refresh(u)),
    watcher.onDidChange((u) => void refresh(u)),
    watcher.onDidDelete((u) => controller.items.delete(u.toString())),
    vscode.workspace.onDidChangeTextDocument((e) => typing(e.document.uri)),
    vscode.workspace.onDidOpenTextDocument((d) => void refresh(d.uri)),
  );

  const scenarioItems = (request: vscode.TestRunRequest): vscode.TestItem[] => {
    const out: vscode.TestItem[] = [];
    const add = (item: vscode.TestItem) => {
      if (request.exclude?.includes(item)) return;
      if (item.children.size) item.children.forEach(add);
      else if (item.id.includes("#")) out.push(item);
    };
    if (request.include) request.include.forEach(add);
    else controller.items.forEach(add);
    return out;
  };

  const runOne = async (item: vscode.TestItem): Promise<ScenarioRunResult> => {
    const [r] = await request<ScenarioTestResult[]>(RUN_SCENARIO_REQUEST, { uri: item.uri!.toString(), title: item.label });
    return { id: item.id, ...(r ?? { title: item.label, file: item.uri!.fsPath, passed: false, messages: [{ line: 1, message: `no scenario titled "${item.label}"` }] }) };
  };

  const runHandler = async (request: vscode.TestRunRequest, token?: vscode.CancellationToken): Promise<ScenarioRunResult[]> => {
    if (!request.include) await discoverAll();
    const run = controller.createTestRun(request, "PromiseGrid scenarios", false);
    const results: ScenarioRunResult[] = [];
    try {
      for (const item of scenarioItems(request)) {
        if (token?.isCancellationRequested) { run.skipped(item); continue; }
        run.started(item);
        const started = Date.now();
        let result: ScenarioRunResult;
        try {
          result = await runOne(item);
        } catch (e) {
          run.errored(item, new vscode.TestMessage(`the language server could not run it: ${e instanceof Error ? e.message : e}`));
          continue;
        }
        results.push(result);
        const messages = result.messages.map((m) => {
          const message = new vscode.TestMessage(m.message);
          message.location = new vscode.Location(item.uri!, new vscode.Position(m.line - 1, 0));
          return message;
        });
        if (result.passed) run.passed(item, Date.now() - started);
        else run.failed(item, messages, Date.now() - started);
      }
    } finally {
      run.end();
    }
    lastResults = results;
    return results;
  };

  controller.createRunProfile("Run scenario", vscode.TestRunProfileKind.Run, (request, token) => runHandler(request, token).then(() => undefined), true);

  context.subscriptions.push(
    // The "▶ Run" code lens above each scenario; returns the results (the in-editor tests read them).
    vscode.commands.registerCommand("promisegrid.runScenario", async (uri: string | vscode.Uri, title?: string) => {
      const u = typeof uri === "string" ? vscode.Uri.parse(uri) : uri;
      const fileItem = await refresh(u);
      if (!fileItem) return [];
      const items: vscode.TestItem[] = [];
      fileItem.children.forEach((c) => { if (title === undefined || c.label === title) items.push(c); });
      return runHandler(new vscode.TestRunRequest(items));
    }),
    vscode.commands.registerCommand("promisegrid.testing.lastResults", () => lastResults),
  );
  void discoverAll();
}
