// The grid in the editor: start the bundled node (a separate process), deploy
// the open .pg file with progress and live output, stop deployments, revoke
// tokens, and a Grid view of the node, its peers and deployments. A refused
// deploy shows as a diagnostic on the capability or workload that caused it.
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import type { GridClient, NodeStatus, Peer } from "../grid/api-client.ts";
import { localNode, nodeDataDir, runningNode, stopNode } from "../grid/local.ts";
import { deployFile, DeployFailure, type DeployResult, type SourceLocation } from "../grid/deploy.ts";

export interface GridViewData {
  node: { running: boolean; peerId?: string; api?: string; drivers?: Record<string, { ok: boolean; reason?: string }> };
  peers: Peer[];
  deployments: { id: string; workload: string; state: string; assessment: string | null }[];
}

export interface DeployOutcome {
  info?: DeployResult["info"];
  output: string;
  /** The token's CID (what Revoke takes). */
  token?: string;
  error?: string;
}

type Item = { label: string; description?: string; tooltip?: string; children?: Item[]; contextValue?: string; id?: string };

class GridTree implements vscode.TreeDataProvider<Item> {
  private readonly changed = new vscode.EventEmitter<Item | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  data: GridViewData = { node: { running: false }, peers: [], deployments: [] };

  set(data: GridViewData): void {
    this.data = data;
    this.changed.fire(undefined);
  }

  getTreeItem(item: Item): vscode.TreeItem {
    const t = new vscode.TreeItem(item.label, item.children ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
    t.description = item.description;
    t.tooltip = item.tooltip;
    t.contextValue = item.contextValue;
    if (item.id) t.id = item.id;
    return t;
  }

  getChildren(item?: Item): Item[] {
    if (item) return item.children ?? [];
    const d = this.data;
    const node: Item = d.node.running
      ? { label: "Node", description: `${d.node.peerId?.slice(-8)} ${d.node.api}`, tooltip: d.node.peerId, contextValue: "promisegrid.node.running",
          children: Object.entries(d.node.drivers ?? {}).map(([k, a]) => ({ label: k, description: a.ok ? "available" : `unavailable: ${a.reason}` })) }
      : { label: "Node", description: "not running (PromiseGrid: Start Local Node)", contextValue: "promisegrid.node.stopped" };
    return [
      node,
      { label: "Peers", description: String(d.peers.length), children: d.peers.map((p) => ({ label: p.peerId, description: p.addrs.join(" ") })) },
      {
        label: "Deployments",
        description: String(d.deployments.length),
        children: d.deployments.map((x) => ({ id: `deployment-${x.id}`, label: `${x.workload} ${x.id}`, description: x.assessment ?? x.state, contextValue: `promisegrid.deployment.${x.state}` })),
      },
    ];
  }
}

export function registerGrid(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel("PromiseGrid Grid");
  const diagnostics = vscode.languages.createDiagnosticCollection("promisegrid-grid");
  const tree = new GridTree();
  let child: ChildProcess | undefined;
  context.subscriptions.push(output, diagnostics, vscode.window.registerTreeDataProvider("promisegrid.grid", tree));

  const dataDir = () => {
    const d = vscode.workspace.getConfiguration("promisegrid").get<string>("grid.dataDir");
    return nodeDataDir(d ? d.replace(/^~(?=$|\/)/, os.homedir()) : undefined);
  };

  const refresh = async (): Promise<GridViewData> => {
    const client = await runningNode(dataDir());
    if (!client) {
      tree.set({ node: { running: false }, peers: [], deployments: [] });
      return tree.data;
    }
    try {
      const [status, peers, deployments] = await Promise.all([client.status(), client.peers(), client.deployments()]);
      tree.set({
        node: { running: true, peerId: status.peerId, api: status.api, drivers: status.drivers },
        peers,
        deployments: deployments.map((d) => ({ id: d.id, workload: d.workload, state: d.state, assessment: d.assessment?.message ?? null })),
      });
    } catch {
      tree.set({ node: { running: false }, peers: [], deployments: [] });
    }
    return tree.data;
  };
  const timer = setInterval(() => void refresh(), 3000);
  context.subscriptions.push({ dispose: () => clearInterval(timer) });
  void refresh();

  /** Starts the bundled node as a child process (stopped with the editor), unless one already runs for the data dir. */
  const startNode = async (): Promise<NodeStatus> => {
    const dir = dataDir();
    const script = context.asAbsolutePath(path.join("dist", "grid-node.js"));
    if (!fs.existsSync(script)) throw new Error(`the bundled grid node is missing (${script}); build it with \`npm run build\` or start one with \`promisegrid node start\``);
    const { client, launched } = await localNode(dir, {
      command: [process.execPath, script, "--api", "127.0.0.1:0"],
      env: { ...process.env, ELECTRON_RUN_AS_NODE: "1" },
    });
    if (launched) {
      const proc = launched.child;
      child = proc;
      proc.once("exit", (code) => {
        output.appendLine(`grid node exited (code ${code}); its log: ${path.join(dir, "node.log")}`);
        if (child === proc) child = undefined;
        void refresh();
      });
    }
    const status = await client.status();
    if (launched) output.appendLine(`grid node started: ${status.api} (peer ${status.peerId}, data dir ${dir})`);
    await refresh();
    return status;
  };
  context.subscriptions.push({ dispose: () => child?.kill("SIGTERM") });

  const needClient = async (): Promise<GridClient> => {
    await startNode();
    const client = await runningNode(dataDir());
    if (!client) throw new Error("no grid node is running");
    return client;
  };

  const diagnose = (at: SourceLocation | undefined, message: string) => {
    if (!at) return;
    const range = new vscode.Range(at.start.line, at.start.character, at.end.line, at.end.character);
    const d = new vscode.Diagnostic(range, message, vscode.DiagnosticSeverity.Error);
    d.source = "promisegrid grid";
    diagnostics.set(vscode.Uri.file(at.path), [d]);
  };

  const deploy = async (arg?: vscode.Uri): Promise<DeployOutcome> => {
    const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
    if (!uri || !uri.fsPath.endsWith(".pg")) {
      const error = "Open a .pg file with a workload to deploy it.";
      void vscode.window.showErrorMessage(error);
      return { output: "", error };
    }
    await vscode.workspace.openTextDocument(uri).then((doc) => (doc.isDirty ? doc.save() : true));
    diagnostics.clear();
    let out = "";
    const file = path.basename(uri.fsPath);
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Deploying ${file}`, cancellable: false }, async (progress) => {
      try {
        const r = await deployFile(uri.fsPath, {
          connect: needClient,
          onProgress: (message) => progress.report({ message }),
          onStarted: (s) => {
            output.appendLine(`[${s.id}] ${s.workload}: deployed (manifest ${s.manifest}, token ${s.token})`);
            output.show(true);
            void refresh();
          },
          onOutput: (e) => {
            out += e.data;
            output.append(e.data);
          },
        });
        const { info } = r;
        output.appendLine(`[${info.id}] assessment: ${info.assessment?.message ?? info.result?.message}`);
        await refresh();
        if (!r.kept) diagnose(r.brokenAt, `Deployment ${info.id}: ${info.assessment?.message ?? info.result?.message}`);
        return { info, output: out, token: r.token };
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        if (e instanceof DeployFailure) diagnose(e.detail.at, `Deploy refused: ${error}`);
        else output.appendLine(`deploy failed: ${error}`);
        output.appendLine(`deploy of ${file} failed: ${error}`);
        void vscode.window.showErrorMessage(`PromiseGrid deploy failed: ${error}`);
        return { output: out, error };
      }
    });
  };

  const pickDeployment = async (client: GridClient, id?: string): Promise<string | undefined> => {
    if (typeof id === "string") return id;
    const running = (await client.deployments()).filter((d) => d.state === "running");
    if (running.length === 0) {
      void vscode.window.showInformationMessage("No deployment is running.");
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(running.map((d) => ({ label: `${d.workload} ${d.id}`, id: d.id })), { placeHolder: "Deployment to stop" });
    return pick?.id;
  };

  context.subscriptions.push(
    vscode.commands.registerCommand("promisegrid.grid.startNode", async () => {
      try {
        return await startNode();
      } catch (e) {
        void vscode.window.showErrorMessage(`PromiseGrid: ${e instanceof Error ? e.message : e}`);
        return undefined;
      }
    }),
    vscode.commands.registerCommand("promisegrid.grid.stopNode", async () => {
      const client = await runningNode(dataDir());
      if (client) await stopNode(client).catch((e) => output.appendLine(`stopping the grid node: ${e instanceof Error ? e.message : e}`));
      return refresh();
    }),
    vscode.commands.registerCommand("promisegrid.grid.deploy", deploy),
    vscode.commands.registerCommand("promisegrid.grid.stopDeployment", async (arg?: string | { id?: string }) => {
      const client = await runningNode(dataDir());
      if (!client) return undefined;
      const given = typeof arg === "string" ? arg : arg?.id?.replace(/^deployment-/, "");
      const id = await pickDeployment(client, given);
      if (!id) return undefined;
      const info = await client.stop(id);
      output.appendLine(`[${id}] stopped: ${info.result?.message}`);
      await refresh();
      return info;
    }),
    vscode.commands.registerCommand("promisegrid.grid.revoke", async (token?: string) => {
      const client = await runningNode(dataDir());
      if (!client) {
        void vscode.window.showErrorMessage("PromiseGrid: no grid node is running.");
        return undefined;
      }
      const cid = token ?? (await vscode.window.showInputBox({ prompt: "CID of the capability token to revoke (as the deploy output shows it)" }));
      if (!cid) return undefined;
      try {
        const revocation = await client.revoke(cid);
        output.appendLine(`revoked ${cid} (revocation ${revocation})`);
        return revocation;
      } catch (e) {
        void vscode.window.showErrorMessage(`PromiseGrid revoke failed: ${e instanceof Error ? e.message : e}`);
        return undefined;
      }
    }),
    vscode.commands.registerCommand("promisegrid.grid.refresh", refresh),
    /** The Grid view's data, as shown (for tests and scripts). */
    vscode.commands.registerCommand("promisegrid.grid.viewData", async () => {
      await refresh();
      return tree.data;
    }),
  );
}
