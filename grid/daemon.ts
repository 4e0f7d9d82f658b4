// A node with its control API, as `promisegrid node start` runs it: the bearer
// token and the node's address (node.json) live in the data dir.
import { randomBytes } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { ApiServer } from "./api.ts";
import { GridNode, writeFileAtomic, type NodeOptions } from "./node.ts";

export interface DaemonOptions extends NodeOptions {
  apiHost?: string;
  /** 0 picks a free port. */
  apiPort?: number;
  maxBodyBytes?: number;
}

export interface NodeInfoFile {
  pid: number;
  api: string;
  peerId: string;
  addrs: string[];
}

export interface Daemon {
  node: GridNode;
  api: ApiServer;
  url: string;
  token: string;
  close(): Promise<void>;
}

/** The API token from `dataDir/api-token`, created (mode 0600) when absent. */
export async function apiToken(dataDir: string): Promise<string> {
  const path = join(dataDir, "api-token");
  try {
    const t = (await readFile(path, "utf8")).trim();
    if (t) return t;
  } catch {
    // created below
  }
  const token = randomBytes(32).toString("hex");
  await writeFileAtomic(path, token + "\n", 0o600);
  return token;
}

export async function readNodeInfo(dataDir: string): Promise<NodeInfoFile | undefined> {
  try {
    return JSON.parse(await readFile(join(dataDir, "node.json"), "utf8"));
  } catch {
    return undefined;
  }
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const node = await GridNode.start(o);
  const token = await apiToken(o.dataDir);
  const api = new ApiServer(node, { host: o.apiHost, port: o.apiPort ?? 0, token, maxBodyBytes: o.maxBodyBytes });
  try {
    await api.listen();
  } catch (e) {
    await node.stop();
    throw e;
  }
  const info: NodeInfoFile = { pid: process.pid, api: api.url, peerId: node.peerId, addrs: node.addrs() };
  await writeFileAtomic(join(o.dataDir, "node.json"), JSON.stringify(info, null, 2) + "\n", 0o600);
  let closed = false;
  return {
    node,
    api,
    url: api.url,
    token,
    async close() {
      if (closed) return;
      closed = true;
      await api.close();
      await node.stop();
      await rm(join(o.dataDir, "node.json"), { force: true });
    },
  };
}
