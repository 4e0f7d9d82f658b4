// The local node from its data dir: node.json (its API address), api-token,
// node.log, and the one launcher that spawns a node and waits until it answers.
// No libp2p here, so the CLI and the editor can use it cheaply.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, statSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { GridClient } from "./api-client.ts";
import { writeFileAtomic } from "./files.ts";

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

export interface LaunchOptions {
  /** A command that runs a node in the foreground and prints its ready line, e.g. [node, dist/grid-node.js]; `--data-dir` is added. */
  command: string[];
  env?: NodeJS.ProcessEnv;
  /** Outlive this process (the CLI) rather than be owned by it (the editor stops its node). */
  detached?: boolean;
  timeoutMs?: number;
}

export interface LaunchedNode {
  api: string;
  peerId: string;
  pid: number;
  child: ChildProcess;
}

/** The text a process appended to `path` after `from`: its last few lines, for an error message. */
async function tail(path: string, from: number): Promise<string> {
  let fh;
  try {
    fh = await open(path, "r");
    const { size } = await fh.stat();
    const length = Math.min(size - from, 64 * 1024);
    if (length <= 0) return "";
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, size - length);
    return buf.toString("utf8").trim().split("\n").slice(-5).join("\n");
  } catch {
    return "";
  } finally {
    await fh?.close();
  }
}

/** Spawns a node for `dataDir` (its stderr appended to dataDir/node.log) and waits for its ready line. */
export async function launchNode(dataDir: string, o: LaunchOptions): Promise<LaunchedNode> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const logPath = join(dataDir, "node.log");
  const log = openSync(logPath, "a");
  const logStart = statSync(logPath).size;
  const [program, ...args] = o.command;
  const child = spawn(program, [...args, "--data-dir", dataDir], { detached: o.detached ?? false, env: o.env ?? process.env, stdio: ["ignore", "pipe", log] });
  closeSync(log);
  const timeoutMs = o.timeoutMs ?? 20_000;
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let buf = "";
      const timer = setTimeout(() => {
        child.kill("SIGTERM");
        reject(new Error(`the node did not start within ${timeoutMs / 1000} s; see ${logPath}`));
      }, timeoutMs);
      child.stdout!.on("data", (c: Buffer) => {
        buf += c.toString();
        const nl = buf.indexOf("\n");
        if (nl >= 0) {
          clearTimeout(timer);
          resolve(buf.slice(0, nl));
        }
      });
      child.once("error", (e) => {
        clearTimeout(timer);
        reject(new Error(`cannot start the node (${program}): ${e.message}`));
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        // The node said why on its stderr, which went to node.log.
        void tail(logPath, logStart).then((why) =>
          reject(new Error(`the node exited ${code === null ? `on ${signal}` : `with code ${code}`} while starting${why ? `: ${why}` : ""} (log: ${logPath})`)));
      });
    });
    const info = JSON.parse(line) as { api: string; peerId: string; pid: number };
    return { api: info.api, peerId: info.peerId, pid: info.pid, child };
  } finally {
    child.stdout!.destroy();
    child.removeAllListeners("exit");
    child.removeAllListeners("error");
    if (o.detached) child.unref();
  }
}

/** The running node of `dataDir`, else one launched with `o`; `launched` says which. */
export async function localNode(dataDir: string, o: LaunchOptions): Promise<{ client: GridClient; launched?: LaunchedNode }> {
  const running = await runningNode(dataDir);
  if (running) return { client: running };
  const launched = await launchNode(dataDir, o);
  const client = await runningNode(dataDir);
  if (!client) throw new Error(`the node started (pid ${launched.pid}) but its API at ${launched.api} does not answer`);
  return { client, launched };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // An exited process that its parent has not reaped yet (a zombie) is gone for us.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

/** Asks the node to shut down and waits until its process is gone; returns its pid. */
export async function stopNode(client: GridClient, timeoutMs = 10_000): Promise<number> {
  const { pid } = await client.status();
  await client.shutdown();
  const deadline = Date.now() + timeoutMs;
  while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (pidAlive(pid)) throw new Error(`the node (pid ${pid}) did not stop within ${timeoutMs / 1000} s`);
  return pid;
}
