// Scenarios in VS Code's Test Explorer (vscode.tests): every `scenario` of every
// .pg file in the workspace is a test; running it runs the simulator in the
// extension host, and each failed expectation is a message at its line.
import * as fs from "node:fs";
import * as vscode from "vscode";
import { LineIndex, parse } from "../grammar/index.ts";
import { loadProgram, type Program, type SourceHost } from "../language/program.ts";
import { runScenarios } from "../language/simulator/index.ts";

export interface ScenarioRunResult {
  id: string;
  title: string;
  file: string;
  passed: boolean;
  /** One per failed expectation or diagnostic: 1-based line and text. */
  messages: { line: number; message: string }[];
}

/** Reads open (possibly unsaved) documents first, then the disk. */
export const editorHost: SourceHost = {
  readText(path) {
    const open = vscode.workspace.textDocuments.find((d) => d.uri.scheme === "file" && d.uri.fsPath === path);
    if (open) return open.getText();
    try {
      return fs.readFileSync(path, "utf8");
    } catch {
      return undefined;
    }
  },
  exists(path) {
    return vscode.workspace.textDocuments.some((d) => d.uri.fsPath === path) || fs.existsSync(path);
  },
};

export function loadEditorProgram(file: string): Program {
  return loadProgram([file], editorHost);
}

export function registerTesting(context: vscode.ExtensionContext): void {
  const controller = vscode.tests.createTestController("promisegrid.scenarios", "PromiseGrid scenarios");
  context.subscriptions.push(controller);
  let lastResults: ScenarioRunResult[] = [];

  /** (Re)reads one file's scenarios into the tree. */
  const refresh = (uri: vscode.Uri, text?: string): vscode.TestItem | undefined => {
    if (uri.scheme !== "file" || !uri.fsPath.endsWith(".pg")) return undefined;
    text ??= editorHost.readText(uri.fsPath);
    if (text === undefined) { controller.items.delete(uri.toString()); return undefined; }
    const source = parse(text);
    const scenarios = source.declarations.filter((d) => d.kind === "scenario");
    if (!scenarios.length) { controller.items.delete(uri.toString()); return undefined; }
    let fileItem = controller.items.get(uri.toString());
    if (!fileItem) {
      fileItem = controller.createTestItem(uri.toString(), vscode.workspace.asRelativePath(uri), uri);
      controller.items.add(fileItem);
    }
    const lines = new LineIndex(text);
    const children: vscode.TestItem[] = [];
    for (const s of scenarios) {
      if (s.kind !== "scenario") continue;
      const item = controller.createTestItem(`${uri.toString()}#${s.title}`, s.title, uri);
      const r = lines.range(s.titleSpan);
      item.range = new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
      children.push(item);
    }
    fileItem.children.replace(children);
    return fileItem;
  };

  const discoverAll = async () => {
    for (const uri of await vscode.workspace.findFiles("**/*.pg", "**/node_modules/**")) refresh(uri);
  };
  controller.resolveHandler = async (item) => { if (!item) await discoverAll(); };
  controller.refreshHandler = async () => { await discoverAll(); };

  const watcher = vscode.workspace.createFileSystemWatcher("**/*.pg");
  context.subscriptions.push(
    watcher,
    watcher.onDidCreate((u) => refresh(u)),
    watcher.onDidChange((u) => refresh(u)),
    watcher.onDidDelete((u) => controller.items.delete(u.toString())),
    vscode.workspace.onDidChangeTextDocument((e) => refresh(e.document.uri, e.document.getText())),
    vscode.workspace.onDidOpenTextDocument((d) => refresh(d.uri, d.getText())),
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

  const runHandler = async (request: vscode.TestRunRequest, token?: vscode.CancellationToken): Promise<ScenarioRunResult[]> => {
    if (!request.include) await discoverAll();
    const run = controller.createTestRun(request, "PromiseGrid scenarios", false);
    const results: ScenarioRunResult[] = [];
    try {
      for (const item of scenarioItems(request)) {
        if (token?.isCancellationRequested) { run.skipped(item); continue; }
        run.started(item);
        const started = Date.now();
        const result = runOne(item);
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
      const fileItem = refresh(u);
      if (!fileItem) return [];
      const items: vscode.TestItem[] = [];
      fileItem.children.forEach((c) => { if (title === undefined || c.label === title) items.push(c); });
      return runHandler(new vscode.TestRunRequest(items));
    }),
    vscode.commands.registerCommand("promisegrid.testing.lastResults", () => lastResults),
  );
  void discoverAll();
}

function runOne(item: vscode.TestItem): ScenarioRunResult {
  const file = item.uri!.fsPath;
  const title = item.label;
  const base = { id: item.id, title, file };
  const program = loadEditorProgram(file);
  const source = program.files.get(file);
  if (source?.errors.length) {
    const lines = new LineIndex(source.text);
    return { ...base, passed: false, messages: source.errors.map((e) => ({ line: lines.position(e.span.start).line + 1, message: `syntax: ${e.message}` })) };
  }
  const [result] = runScenarios(program, { scenario: title, paths: [file] });
  if (!result) return { ...base, passed: false, messages: [{ line: 1, message: `no scenario titled "${title}"` }] };
  if (!result.trace) {
    const lines = new LineIndex(source?.text ?? "");
    return {
      ...base, passed: false,
      messages: result.diagnostics.map((d) => ({ line: lines.position(d.span.start).line + 1, message: `${d.code} ${d.message}` })),
    };
  }
  return {
    ...base, passed: result.passed,
    messages: result.failures.map((f) => ({ line: f.line, message: `step ${f.step}${f.agent ? `, ${f.agent}` : ""}: ${f.text}; saw: ${f.saw}` })),
  };
}
