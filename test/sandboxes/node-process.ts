// A grid node as its own process (grid/main.ts), for tests that kill it.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { GridClient } from "../../grid/api-client.ts";
import { decodeToken, deployCar } from "../../grid/deploy.ts";
import type { PrivateKey } from "../../grid/keys.ts";
import type { Compiled } from "../grid/helpers.ts";
import { ROOT } from "../grid/helpers.ts";

export interface NodeProcess {
  child: ChildProcess;
  client: GridClient;
  pid: number;
  api: string;
  token: string;
  stderr: () => string;
}

/** Starts a node on `dataDir` (with `args`, e.g. --peer); resolves when it is ready, rejects (with its stderr) if it exits first. */
export function startNodeProcess(dataDir: string, args: string[] = []): Promise<NodeProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "grid/main.ts"), "--data-dir", dataDir, "--api", "127.0.0.1:0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr!.on("data", (c) => (err += c));
  return new Promise((resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (c) => {
      buf += c;
      if (buf.includes("\n")) {
        const info = JSON.parse(buf.slice(0, buf.indexOf("\n")));
        const token = readFileSync(join(dataDir, "api-token"), "utf8").trim();
        resolve({ child, pid: info.pid, api: info.api, token, client: new GridClient(info.api, token), stderr: () => err });
      }
    });
    child.on("exit", (code) => reject(Object.assign(new Error(`node exited with ${code}: ${err}`), { code, stderr: err })));
  });
}

export async function killNode(n: NodeProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  if (n.child.exitCode !== null || n.child.signalCode !== null) return;
  const exited = new Promise((r) => n.child.once("exit", r));
  n.child.kill(signal);
  await exited;
}

/** Deploys `workload` of `compiled` without waiting for the run to end. */
export async function deployNoWait(n: NodeProcess, key: PrivateKey, compiled: Compiled, workload: string, o: { sendBlocks?: boolean } = {}) {
  const token = decodeToken(await n.client.issue({ holder: Buffer.from(key.publicKey.raw).toString("hex"), grants: [{ type: "run", args: [workload] }] }));
  return n.client.deploy(await deployCar({ key, manifest: compiled.root, workload, chain: [token], blocks: o.sendBlocks === false ? [] : compiled.blocks }));
}

/** Pids of processes whose command line contains `needle`. */
export function pidsWith(needle: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, "utf8").includes(needle)) out.push(Number(p));
    } catch {}
  }
  return out;
}
