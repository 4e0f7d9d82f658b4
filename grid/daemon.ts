// A node with its control API, as `promisegrid node start` runs it: the bearer
// token and the node's address (node.json) live in the data dir.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { ApiServer } from "./api.ts";
import { GridNode, type NodeOptions } from "./node.ts";
import { apiToken, type NodeInfoFile } from "./local.ts";
import { writeFileAtomic } from "./files.ts";
import { lockDataDir } from "./data-dir-lock.ts";
import { reapOrphans } from "./sandboxes/reaper.ts";
import { runsDir } from "./sandboxes/index.ts";

export { apiToken, readNodeInfo, type NodeInfoFile } from "./local.ts";

export interface DaemonOptions extends NodeOptions {
  apiHost?: string;
  /** 0 picks a free port. */
  apiPort?: number;
  maxBodyBytes?: number;
}

export interface Daemon {
  node: GridNode;
  api: ApiServer;
  url: string;
  token: string;
  close(): Promise<void>;
  /** Resolves once the daemon has stopped (by close() or POST /v0/shutdown). */
  closed: Promise<void>;
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  // One node per data dir; what a killed predecessor left running is ended first.
  const lock = await lockDataDir(o.dataDir);
  let node: GridNode;
  try {
    await reapOrphans(runsDir(o.dataDir));
    node = await GridNode.start(o);
  } catch (e) {
    await lock.release();
    throw e;
  }
  const token = await apiToken(o.dataDir);
  let close: () => Promise<void> = async () => {};
  const api = new ApiServer(node, { host: o.apiHost, port: o.apiPort ?? 0, token, maxBodyBytes: o.maxBodyBytes, onShutdown: () => void close() });
  try {
    await api.listen();
  } catch (e) {
    await node.stop();
    await lock.release();
    throw e;
  }
  const info: NodeInfoFile = { pid: process.pid, api: api.url, peerId: node.peerId, addrs: node.addrs() };
  await writeFileAtomic(join(o.dataDir, "node.json"), JSON.stringify(info, null, 2) + "\n", 0o600);
  let closing: Promise<void> | undefined;
  let resolve!: () => void;
  const closed = new Promise<void>((r) => (resolve = r));
  close = () => {
    closing ??= (async () => {
      await api.close();
      await node.stop();
      await rm(join(o.dataDir, "node.json"), { force: true });
      await lock.release();
      resolve();
    })();
    return closing;
  };
  return { node, api, url: api.url, token, close, closed };
}
