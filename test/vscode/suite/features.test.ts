/// <reference types="mocha" />
// The language features as VS Code sees them: diagnostics in vscode.languages.getDiagnostics, and completion,
// hover, rename, formatting and code actions through the editor's own provider commands.
import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import type { PromiseGridApi } from "../../../client/extension.ts";

const EXT_ID = "promisegrid.promisegrid";

function ws(file: string): vscode.Uri {
  return vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, file);
}

async function open(file: string): Promise<vscode.TextDocument> {
  const doc = await vscode.workspace.openTextDocument(ws(file));
  await vscode.window.showTextDocument(doc);
  return doc;
}

/** Waits until the file's diagnostics satisfy `ok`. */
async function diagnosticsOf(uri: vscode.Uri, ok: (d: vscode.Diagnostic[]) => boolean = (d) => d.length > 0): Promise<vscode.Diagnostic[]> {
  for (let i = 0; i < 300; i++) {
    const d = vscode.languages.getDiagnostics(uri);
    if (ok(d)) return d;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`diagnostics of ${uri} never matched; last: ${JSON.stringify(vscode.languages.getDiagnostics(uri))}`);
}

function positionOf(doc: vscode.TextDocument, needle: string, delta = 1): vscode.Position {
  const at = doc.getText().indexOf(needle);
  assert.ok(at >= 0, needle);
  return doc.positionAt(at + delta);
}

describe("language features in VS Code", () => {
  let api: PromiseGridApi;
  before(async () => {
    api = await vscode.extensions.getExtension<PromiseGridApi>(EXT_ID)!.activate();
    await api.ready();
  });

  it("shows the server's diagnostics for a broken file", async () => {
    const doc = await open("broken.pg");
    const diags = await diagnosticsOf(doc.uri, (d) => d.length === 2);
    const summary = diags.map((d) => [d.code, d.severity, d.message, doc.getText(d.range).split("\n")[0]]);
    assert.deepEqual(summary, [
      ["PG301", vscode.DiagnosticSeverity.Warning, "unbound promise: nobody accepts (-) what truck9 offers (+serve(dinner))", "promise truck9 -> alice +serve(dinner)"],
      ["PG200", vscode.DiagnosticSeverity.Error, "undefined agent 'truck9'; did you mean 'truck1'?", "truck9"],
    ]);
  });

  it("completes agents after an arrow", async () => {
    const doc = await open("food.pg");
    const editor = vscode.window.activeTextEditor!;
    const end = new vscode.Position(doc.lineCount - 1, 0);
    await editor.edit((e) => e.insert(end, "\npromise alice -> "));
    const pos = doc.positionAt(doc.getText().length);
    const list = await vscode.commands.executeCommand<vscode.CompletionList>("vscode.executeCompletionItemProvider", doc.uri, pos);
    const agents = list.items.filter((i) => i.kind === vscode.CompletionItemKind.Class).map((i) => (typeof i.label === "string" ? i.label : i.label.label));
    assert.deepEqual(agents, ["truck1", "truck5", "alice"]);
    await vscode.commands.executeCommand("workbench.action.files.revert");
  });

  it("hovers a capability with its doc comment and effective grants", async () => {
    const doc = await open("food.pg");
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>("vscode.executeHoverProvider", doc.uri, positionOf(doc, "lunch_pass at truck1"));
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === "string" ? c : (c as vscode.MarkdownString).value))).join("\n");
    assert.equal(text, "```promisegrid\ncapability lunch_pass from truck1 to alice { grants serve(lunch)  expires after 10 steps }\n```"
      + "\n\n---\n\nLets alice eat at either truck.\n\n---\n\n**Effective grants:** `serve(lunch)`  \n**Expires:** after 10 steps");
  });

  it("renames a name everywhere it is used", async () => {
    const doc = await open("food.pg");
    const edit = await vscode.commands.executeCommand<vscode.WorkspaceEdit>("vscode.executeDocumentRenameProvider", doc.uri, positionOf(doc, "alice"), "bob");
    const edits = edit.get(doc.uri);
    const count = doc.getText().match(/\balice\b/g)!.length - 1; // one 'alice' is inside a description string
    assert.equal(edits.length, count);
    assert.ok(edits.every((e) => e.newText === "bob" && doc.getText(e.range) === "alice"));
    await assert.rejects(
      Promise.resolve(vscode.commands.executeCommand("vscode.executeDocumentRenameProvider", doc.uri, positionOf(doc, "alice"), "not valid")),
      /'not valid' is not a valid name/);
  });

  it("formats a document", async () => {
    const doc = await open("messy.pg");
    const edits = await vscode.commands.executeCommand<vscode.TextEdit[]>("vscode.executeFormatDocumentProvider", doc.uri, { tabSize: 2, insertSpaces: true });
    const we = new vscode.WorkspaceEdit();
    we.set(doc.uri, edits);
    assert.ok(await vscode.workspace.applyEdit(we));
    assert.equal(doc.getText(), "agent a\nagent b \"B\"\npromise a -> b +serve(x)\npromise b -> a -serve(x)\n");
    await vscode.commands.executeCommand("workbench.action.files.revert");
  });

  it("offers and applies a quick fix", async () => {
    const doc = await open("broken.pg");
    const diags = await diagnosticsOf(doc.uri, (d) => d.some((x) => x.code === "PG200"));
    const target = diags.find((d) => d.code === "PG200")!;
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>("vscode.executeCodeActionProvider", doc.uri, target.range);
    const fix = actions.find((a) => a.title === "Change to 'truck1'");
    assert.ok(fix, `quick fixes: ${actions.map((a) => a.title).join(", ")}`);
    assert.ok(await vscode.workspace.applyEdit(fix.edit!));
    assert.equal(doc.lineAt(target.range.start.line).text, "promise truck1 -> alice +serve(dinner)");
    const after = await diagnosticsOf(doc.uri, (d) => !d.some((x) => x.code === "PG200"));
    assert.deepEqual(after.map((d) => d.code), ["PG301"]);
    await vscode.commands.executeCommand("workbench.action.files.revert");
  });

  it("shows code lenses, and hides them when the setting says so", async () => {
    const doc = await open("food.pg");
    // The compile lens is resolved lazily (resolveCodeLens): ask for every lens resolved.
    const titles = async () => (await vscode.commands.executeCommand<vscode.CodeLens[]>("vscode.executeCodeLensProvider", doc.uri, 100))
      .map((l) => l.command?.title ?? "");
    const shown = await titles();
    // Resolved lenses may come back in any order.
    assert.deepEqual(shown.filter((t) => !t.startsWith("Compile: ")), ["▶ Run", "Step through"]);
    assert.match(shown.find((t) => t.startsWith("Compile: ")) ?? "", /^Compile: b[a-z2-7]{58}$/);
    const config = vscode.workspace.getConfiguration("promisegrid");
    await config.update("codeLens.enable", false, vscode.ConfigurationTarget.Workspace);
    try {
      let now = shown;
      for (let i = 0; i < 100 && now.length; i++) {
        await new Promise((r) => setTimeout(r, 100));
        now = await titles();
      }
      assert.deepEqual(now, []);
    } finally {
      await config.update("codeLens.enable", undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  it("restarts the language server when it crashes", async () => {
    const client = api.client();
    const { pid } = await client.sendRequest<{ pid: number }>("promisegrid/serverInfo");
    process.kill(pid, "SIGKILL");
    let next = pid;
    for (let i = 0; i < 200 && next === pid; i++) {
      await new Promise((r) => setTimeout(r, 100));
      next = await client.sendRequest<{ pid: number }>("promisegrid/serverInfo").then((r) => r.pid, () => pid);
    }
    assert.notEqual(next, pid, "a new server process answers");
    // and it serves again: diagnostics come back after an edit
    const doc = await open("broken.pg");
    await vscode.window.activeTextEditor!.edit((e) => e.insert(new vscode.Position(0, 0), "agent truck9\n"));
    const diags = await diagnosticsOf(doc.uri, (d) => d.length === 1);
    assert.equal(diags[0].code, "PG301");
    await vscode.commands.executeCommand("workbench.action.files.revert");
  });
});
