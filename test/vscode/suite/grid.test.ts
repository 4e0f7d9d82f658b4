/// <reference types="mocha" />
// The grid in the real editor: start the bundled node, deploy hello-wasm.pg,
// see the deployment in the Grid view's data and its output; a broken
// deployment shows as a diagnostic on its workload. Deploy to… a second node
// (its own process, a peer of the editor's node): its signed assessment; the
// token held marked revoked once the second node revokes it, and the refusal
// then a diagnostic on the capability.
import * as assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import type { PromiseGridApi } from "../../../client/extension.ts";
import type { DeployOutcome, GridViewData } from "../../../client/grid.ts";
import { GridClient, type NodeStatus } from "../../../grid/api-client.ts";
import { decodeToken, tokenCid, userKey } from "../../../grid/deploy.ts";
import { writeChain } from "../../../grid/tokens.ts";

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

  describe("Deploy to… a second node", () => {
    let second: ChildProcess | undefined;
    let secondDir: string;
    let peer: { client: GridClient; peerId: string; publicKey: string };
    let tokenFile: string;
    let cid: string;
    before(async () => {
      const ext = vscode.extensions.getExtension<PromiseGridApi>(EXT_ID)!;
      const local = await vscode.commands.executeCommand<NodeStatus>("promisegrid.grid.startNode");
      secondDir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-vscode-peer-"));
      const child = spawn(process.execPath, [path.join(ext.extensionPath, "dist/grid-node.js"), "--data-dir", secondDir, "--api", "127.0.0.1:0", "--peer", local.addrs[0]], {
        env: { ...process.env, ELECTRON_RUN_AS_NODE: "1" }, stdio: ["ignore", "pipe", "inherit"],
      });
      second = child;
      const ready = await new Promise<{ api: string; peerId: string }>((resolve, reject) => {
        let buf = "";
        child.stdout!.on("data", (c) => {
          buf += c;
          if (buf.includes("\n")) resolve(JSON.parse(buf.slice(0, buf.indexOf("\n"))));
        });
        child.once("exit", (code) => reject(new Error(`the second node exited with ${code}`)));
      });
      const client = new GridClient(ready.api, fs.readFileSync(path.join(secondDir, "api-token"), "utf8").trim());
      peer = { client, peerId: ready.peerId, publicKey: (await client.status()).publicKey };
      // The second node's operator issues a pass to the editor's user key.
      const key = await userKey();
      const pass = await client.issue({ holder: Buffer.from(key.publicKey.raw).toString("hex"), grants: [{ type: "run", args: ["hello"] }], name: "deploy_pass" });
      cid = (await tokenCid(decodeToken(pass))).toString();
      tokenFile = path.join(secondDir, "pass.token");
      await writeChain(tokenFile, [decodeToken(pass)]);
    });
    after(() => {
      second?.kill("SIGTERM");
      fs.rmSync(secondDir, { recursive: true, force: true });
    });

    it("runs hello on the second node: its output and its assessment, verified against its key", async () => {
      const outcome = await vscode.commands.executeCommand<DeployOutcome>("promisegrid.grid.deployTo", hello, { peer: peer.peerId, token: tokenFile });
      assert.equal(outcome.error, undefined, outcome.error);
      assert.equal(outcome.output, "hello, grid\n");
      assert.deepEqual(outcome.remote, { peer: peer.peerId, verified: true, gone: undefined });
      assert.match(outcome.info?.assessment?.message ?? "", /^kept: hello exited with code 0/);
      assert.ok((await peer.client.deployments()).some((d) => d.id === outcome.info!.id), "the second node ran it");
      const view = await vscode.commands.executeCommand<GridViewData>("promisegrid.grid.viewData");
      assert.equal(view.tokens.find((t) => t.cid === cid)?.state, "valid", JSON.stringify(view.tokens));
    });

    it("once the second node revokes the pass: the Grid view marks it revoked, and Deploy to… is refused on the capability", async () => {
      await peer.client.revoke(cid);
      let state: string | undefined;
      for (let i = 0; i < 100 && state !== "revoked"; i++) {
        await new Promise((r) => setTimeout(r, 50));
        state = (await vscode.commands.executeCommand<GridViewData>("promisegrid.grid.viewData")).tokens.find((t) => t.cid === cid)?.state;
      }
      assert.equal(state, "revoked", "the editor's node learnt of the revocation");
      const outcome = await vscode.commands.executeCommand<DeployOutcome>("promisegrid.grid.deployTo", hello, { peer: peer.peerId, token: tokenFile });
      assert.equal(outcome.code, "revoked", outcome.error);
      const diags = vscode.languages.getDiagnostics(hello).filter((x) => x.source === "promisegrid grid");
      assert.equal(diags.length, 1);
      const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(hello));
      assert.equal(diags[0].range.start.line, text.split("\n").findIndex((l) => l.startsWith("capability deploy_pass")));
      assert.match(diags[0].message, new RegExp(`Deploy refused: peer ${peer.peerId}: deploy refused: .* has been revoked`));
    });
  });
});
