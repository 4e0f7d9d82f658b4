/// <reference types="mocha" />
// The grid in the real editor: start the bundled node, deploy hello-wasm.pg,
// see the deployment in the Grid view's data and its output; a broken
// deployment shows as a diagnostic on its workload.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import type { PromiseGridApi } from "../../../client/extension.ts";
import type { DeployOutcome, GridViewData } from "../../../client/grid.ts";
import type { NodeStatus } from "../../../grid/api-client.ts";

const EXT_ID = "promisegrid.promisegrid";

function ws(file: string): vscode.Uri {
  return vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, file);
}

describe("grid in VS Code: local node, deploy, Grid view", () => {
  let dataDir: string;
  let hello: vscode.Uri;
  before(async () => {
    const ext = vscode.extensions.getExtension<PromiseGridApi>(EXT_ID)!;
    await ext.activate();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-vscode-grid-"));
    await vscode.workspace.getConfiguration("promisegrid").update("grid.dataDir", dataDir, vscode.ConfigurationTarget.Global);
    const examples = path.join(ext.extensionPath, "examples");
    hello = ws("hello-wasm.pg");
    await vscode.workspace.fs.writeFile(hello, fs.readFileSync(path.join(examples, "hello-wasm.pg")));
    await vscode.workspace.fs.writeFile(ws("hello.wasm"), fs.readFileSync(path.join(examples, "hello.wasm")));
    // The same workload with a memory limit below what the module needs: its promise is broken.
    const small = fs.readFileSync(path.join(examples, "hello-wasm.pg"), "utf8").replace("memory 64MiB", "memory 32KiB");
    await vscode.workspace.fs.writeFile(ws("hello-small.pg"), new TextEncoder().encode(small));
  });
  after(async () => {
    await vscode.commands.executeCommand("promisegrid.grid.stopNode");
    await vscode.workspace.getConfiguration("promisegrid").update("grid.dataDir", undefined, vscode.ConfigurationTarget.Global);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("Start Local Node starts the bundled node and reports its drivers", async () => {
    const status = await vscode.commands.executeCommand<NodeStatus>("promisegrid.grid.startNode");
    assert.ok(status, "the node started");
    assert.match(status.api, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(status.drivers.wasm.ok, true);
    assert.ok(fs.existsSync(path.join(dataDir, "api-token")));
    const view = await vscode.commands.executeCommand<GridViewData>("promisegrid.grid.viewData");
    assert.equal(view.node.running, true);
    assert.equal(view.node.peerId, status.peerId);
  });

  it("Deploy runs hello-wasm.pg: its output and the deployment in the Grid view", async () => {
    await vscode.window.showTextDocument(hello);
    const outcome = await vscode.commands.executeCommand<DeployOutcome>("promisegrid.grid.deploy", hello);
    assert.equal(outcome.error, undefined, outcome.error);
    assert.equal(outcome.output, "hello, grid\n");
    assert.equal(outcome.info?.assessment?.kept, true);
    const view = await vscode.commands.executeCommand<GridViewData>("promisegrid.grid.viewData");
    const d = view.deployments.find((x) => x.id === outcome.info!.id);
    assert.ok(d, JSON.stringify(view.deployments));
    assert.equal(d.state, "exited");
    assert.match(d.assessment ?? "", /^kept: hello exited with code 0/);
  });

  it("a broken deployment shows as a diagnostic on its workload", async () => {
    const uri = ws("hello-small.pg");
    const outcome = await vscode.commands.executeCommand<DeployOutcome>("promisegrid.grid.deploy", uri);
    assert.equal(outcome.info?.assessment?.kept, false);
    assert.equal(outcome.info?.result?.reason, "memory");
    const diags = vscode.languages.getDiagnostics(uri).filter((x) => x.source === "promisegrid grid");
    assert.equal(diags.length, 1);
    const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
    const line = text.split("\n").findIndex((l) => l.startsWith("workload hello"));
    assert.equal(diags[0].range.start.line, line);
    assert.match(diags[0].message, /broken: hello .*memory/);
  });
});
