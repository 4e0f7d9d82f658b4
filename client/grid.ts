// The grid in the editor: start the bundled node (a separate process), deploy
// the open .pg file (here, or to a connected peer) with progress and live
// output, stop deployments, revoke tokens, and a Grid view of the node, its
// peers, the tokens you hold (valid, expired, revoked as your node sees them)
// and deployments. A refused deploy shows as a diagnostic on the capability or
// workload that caused it.
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import * as dagCbor from "@ipld/dag-cbor";
import type { GridClient, HeldToken, NodeStatus, Peer } from "../grid/api-client.ts";
import { localNode, nodeDataDir, runningNode, stopNode } from "../grid/local.ts";
import { deployFile, DeployFailure, type DeployResult, type SourceLocation } from "../grid/deploy.ts";
import { readChain, type Chain } from "../grid/tokens.ts";

export interface GridViewData {
  node: { running: boolean; peerId?: string; api?: string; drivers?: Record<string, { ok: boolean; reason?: string }> };
  peers: Peer[];
  /** The token chains you deployed with, as your node judges them now. */
  tokens: HeldToken[];
  deployments: { id: string; workload: string; state: string; assessment: string | null }[];
}

export interface DeployOutcome {
  info?: DeployResult["info"];
  output: string;
  /** The token's CID (what Revoke takes). */
  token?: string;
  /** For Deploy to…: the peer, and whether its signed assessment verified against its key. */
  remote?: { peer: string; verified: boolean; gone?: string };
  error?: string;
  /** The refusal code, when the node (or the peer) refused the deploy. */
  code?: string;
}

/** What Deploy to… may be given instead of asking (tests and scripts). */
export interface DeployToOptions {
  peer?: string;
  /** The token file (a chain, as `capability issue` and `delegate` write it). */
  token?: string;
}

type Item = { label: string; description?: string; tooltip?: string; children?: Item[]; contextValue?: string; id?: string };

class GridTree implements vscode.TreeDataProvider<Item> {
  private readonly changed = new vscode.EventEmitter<Item | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  data: GridViewData = { node: { running: false }, peers: [], tokens: [], deployments: [] };

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
        label: "Tokens",
        description: String(d.tokens.length),
        children: d.tokens.map((t) => ({
          id: `token-${t.cid}`, label: t.name, description: t.state, contextValue: `promisegrid.token.${t.state}`,
          tooltip: `${t.cid}\nissued by ${t.issuer}\nheld by ${t.holder}${t.exp ? `\nexpires ${new Date(t.exp).toISOString()}` : ""}${t.reason ? `\n${t.reason}` : ""}`,
        })),
      },
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

  // The chains you deployed with (base64 tokens, root first), by the held token's CID; kept across sessions.
  const HELD = "promisegrid.grid.heldTokens";
  const held = new Map<string, string[]>(Object.entries(context.globalState.get<Record<string, string[]>>(HELD) ?? {}));
  const hold = async (r: DeployResult) => {
    if (held.has(r.token)) return;
    held.set(r.token, r.chain.map((t) => Buffer.from(dagCbor.encode(t)).toString("base64")));
    await context.globalState.update(HELD, Object.fromEntries(held));
  };

  const refresh = async (): Promise<GridViewData> => {
    const client = await runningNode(dataDir());
    if (!client) {
      tree.set({ node: { running: false }, peers: [], tokens: [], deployments: [] });
      return tree.data;
    }
    try {
      const [status, peers, deployments, tokens] = await Promise.all([client.status(), client.peers(), client.deployments(), held.size ? client.tokenStatus([...held.values()]) : []]);
      tree.set({
        node: { running: true, peerId: status.peerId, api: status.api, drivers: status.drivers },
        peers,
        tokens,
        deployments: deployments.map((d) => ({ id: d.id, workload: d.workload, state: d.state, assessment: d.assessment?.message ?? null })),
      });
    } catch {
      tree.set({ node: { running: false }, peers: [], tokens: [], deployments: [] });
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

  const openPg = (arg?: vscode.Uri): vscode.Uri | undefined => {
    const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
    if (!uri || !uri.fsPath.endsWith(".pg")) {
      void vscode.window.showErrorMessage("Open a .pg file with a workload to deploy it.");
      return undefined;
    }
    return uri;
  };

  /** Deploy to…: a connected peer (picked), with the token files that peer honours (picked), through the local node. */
  const deployTo = async (arg?: vscode.Uri, o: DeployToOptions = {}): Promise<DeployOutcome> => {
    const uri = openPg(arg);
    if (!uri) return { output: "", error: "Open a .pg file with a workload to deploy it." };
    let peer = o.peer;
    if (!peer) {
      const client = await needClient();
      const peers = await client.peers();
      if (peers.length === 0) {
        const error = "Your node is connected to no peer; start it with --peer MULTIADDR or dial one.";
        void vscode.window.showErrorMessage(`PromiseGrid: ${error}`);
        return { output: "", error };
      }
      peer = (await vscode.window.showQuickPick(peers.map((p) => ({ label: p.peerId, description: p.addrs.join(" ") })), { placeHolder: "Peer to deploy to" }))?.label;
      if (!peer) return { output: "", error: "no peer picked" };
    }
    let file = o.token;
    if (!file) {
      const picked = await vscode.window.showOpenDialog({ canSelectMany: false, openLabel: "Use this token", title: `A token ${peer.slice(-8)} honours (issued or delegated to you)` });
      if (!picked?.length) return { output: "", error: "no token picked" };
      file = picked[0].fsPath;
    }
    let chain: Chain;
    try {
      chain = readChain(file);
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      void vscode.window.showErrorMessage(`PromiseGrid: ${error}`);
      return { output: "", error };
    }
    return deploy(uri, { to: peer, chain });
  };

  const deploy = async (arg?: vscode.Uri, remote?: { to: string; chain: Chain }): Promise<DeployOutcome> => {
    const uri = openPg(arg);
    if (!uri) return { output: "", error: "Open a .pg file with a workload to deploy it." };
    await vscode.workspace.openTextDocument(uri).then((doc) => (doc.isDirty ? doc.save() : true));
    diagnostics.clear();
    let out = "";
    const file = path.basename(uri.fsPath);
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Deploying ${file}${remote ? ` to ${remote.to.slice(-8)}` : ""}`, cancellable: false }, async (progress) => {
      try {
        const r = await deployFile(uri.fsPath, {
          to: remote?.to,
          chain: remote?.chain,
          connect: needClient,
          onProgress: (message) => progress.report({ message }),
          onStarted: (s) => {
            output.appendLine(`[${s.id}] ${s.workload}: deployed${s.peer ? ` on peer ${s.peer}` : ""} (manifest ${s.manifest}, token ${s.token})`);
            output.show(true);
            void refresh();
          },
          onOutput: (e) => {
            out += e.data;
            output.append(e.data);
          },
        });
        const { info } = r;
        const signed = r.remote?.assessment ? ` (signed by peer ${r.remote.peer}: verified)` : "";
        output.appendLine(`[${info.id}] assessment: ${info.assessment?.message ?? (r.remote?.gone ? `broken: ${r.remote.gone}` : info.result?.message)}${signed}`);
        await hold(r);
        await refresh();
        if (!r.kept) diagnose(r.brokenAt, `Deployment ${info.id}: ${info.assessment?.message ?? r.remote?.gone ?? info.result?.message}`);
        const remoteOut = r.remote && { peer: r.remote.peer, verified: !!r.remote.assessment, gone: r.remote.gone };
        return { info, output: out, token: r.token, remote: remoteOut };
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        const code = e instanceof DeployFailure ? e.detail.code : undefined;
        if (e instanceof DeployFailure) diagnose(e.detail.at, `Deploy refused: ${error}`);
        else output.appendLine(`deploy failed: ${error}`);
        output.appendLine(`deploy of ${file} failed: ${error}`);
        void vscode.window.showErrorMessage(`PromiseGrid deploy failed: ${error}`);
        return { output: out, error, code };
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
    vscode.commands.registerCommand("promisegrid.grid.deploy", (arg?: vscode.Uri) => deploy(arg)),
    vscode.commands.registerCommand("promisegrid.grid.deployTo", deployTo),
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
