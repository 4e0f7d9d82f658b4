/// <reference types="mocha" />
// The grid in the real editor: start the bundled node, deploy hello-wasm.pg,
// see the deployment in the Grid view's data and its output; a broken
// deployment shows as a diagnostic on its workload.
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import type { PromiseGridApi } from "../../../client/extension.ts";
import type { DeployOutcome, GridViewData } from "../../../client/grid.ts";
import { GridClient, type NodeStatus } from "../../../grid/api-client.ts";

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
    // A workload that never ends, from the grid tests' fixture.
    execFileSync("wat2wasm", [path.join(ext.extensionPath, "test/grid/fixtures/loop.wat"), "-o", ws("loop.wasm").fsPath]);
    const loop = fs.readFileSync(path.join(examples, "hello-wasm.pg"), "utf8").replace('module "hello.wasm"', 'module "loop.wasm"').replace("time 2s", "time 60s");
    await vscode.workspace.fs.writeFile(ws("loop.pg"), new TextEncoder().encode(loop));
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
    assert.match(outcome.token ?? "", /^bafy/, "the token's CID, for Revoke");
    const view = await vscode.commands.executeCommand<GridViewData>("promisegrid.grid.viewData");
    const d = view.deployments.find((x) => x.id === outcome.info!.id);
    assert.ok(d, JSON.stringify(view.deployments));
    assert.equal(d.state, "exited");
    assert.match(d.assessment ?? "", /^kept: hello exited with code 0/);
  });

  // The container and VM examples, from the extension's own examples/ (their images come from scripts/setup-sandboxes.sh).
  for (const [file, workload, output] of [
    ["hello-container.pg", "hello_container", /^hello from a container on /],
    ["hello-vm.pg", "hello_vm", /hello/],
  ] as const) {
    it(`Deploy runs ${file} in its sandbox and assesses it kept`, async () => {
      const ext = vscode.extensions.getExtension<PromiseGridApi>(EXT_ID)!;
      const uri = vscode.Uri.file(path.join(ext.extensionPath, "examples", file));
      const outcome = await vscode.commands.executeCommand<DeployOutcome>("promisegrid.grid.deploy", uri);
      assert.equal(outcome.error, undefined, outcome.error);
      assert.equal(outcome.info?.assessment?.kept, true, JSON.stringify(outcome.info?.assessment));
      assert.match(outcome.output, output);
      const view = await vscode.commands.executeCommand<GridViewData>("promisegrid.grid.viewData");
      assert.match(view.deployments.find((d) => d.id === outcome.info!.id)?.assessment ?? "", new RegExp(`^kept: ${workload} exited with code 0`));
    });
  }

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

  it("Stop Deployment stops a running deployment; Revoke records a revocation", async () => {
    const uri = ws("loop.pg");
    const deploying = vscode.commands.executeCommand<DeployOutcome>("promisegrid.grid.deploy", uri);
    let running: GridViewData["deployments"][number] | undefined;
    for (let i = 0; i < 100 && !running; i++) {
      await new Promise((r) => setTimeout(r, 100));
      running = (await vscode.commands.executeCommand<GridViewData>("promisegrid.grid.viewData")).deployments.find((d) => d.state === "running");
    }
    assert.ok(running, "the loop deployment shows as running in the Grid view");
    await vscode.commands.executeCommand("promisegrid.grid.stopDeployment", running.id);
    const outcome = await deploying;
    assert.equal(outcome.info?.result?.reason, "stopped");
    const view = await vscode.commands.executeCommand<GridViewData>("promisegrid.grid.viewData");
    assert.equal(view.deployments.find((d) => d.id === running!.id)?.state, "stopped");

    // The token the deploy presented: a node revokes only a token it knows.
    const token = outcome.token!;
    assert.match(token, /^bafy/);
    const revocation = await vscode.commands.executeCommand<string>("promisegrid.grid.revoke", token);
    assert.match(revocation ?? "", /^bafy/);
    const info = JSON.parse(fs.readFileSync(path.join(dataDir, "node.json"), "utf8"));
    const client = new GridClient(info.api, fs.readFileSync(path.join(dataDir, "api-token"), "utf8").trim());
    const state = await client.state();
    assert.ok(state.revocations.some((r) => r.token === token && r.cid === revocation));
  });
});
