// Finding the local node from its data dir: node.json (its API address) and
// api-token. No libp2p here, so the CLI and the editor can use it cheaply.
import { randomBytes } from "node:crypto";
import { open, readFile, rename } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { GridClient } from "./api-client.ts";

export const DEFAULT_HOME = join(homedir(), ".promisegrid");
export const DEFAULT_DATA_DIR = join(DEFAULT_HOME, "node");

/** The node's data dir: the --data-dir flag, else $PROMISEGRID_NODE_DIR, else the default. */
export function nodeDataDir(flag?: string): string {
  return flag ?? process.env.PROMISEGRID_NODE_DIR ?? DEFAULT_DATA_DIR;
}

export interface NodeInfoFile {
  pid: number;
  api: string;
  peerId: string;
  addrs: string[];
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  const fh = await open(tmp, "wx", mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
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

/** A client for the node whose data dir is `dataDir` (its node.json and api-token). */
export async function clientForDataDir(dataDir: string): Promise<GridClient | undefined> {
  const info = await readNodeInfo(dataDir);
  if (!info) return undefined;
  return new GridClient(info.api, await apiToken(dataDir));
}

/** A client for the node of `dataDir` when one is running and answers. */
export async function runningNode(dataDir: string): Promise<GridClient | undefined> {
  const client = await clientForDataDir(dataDir);
  if (!client) return undefined;
  try {
    await client.status();
    return client;
  } catch {
    return undefined;
  }
}
