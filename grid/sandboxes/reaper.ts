// What a node's sandboxes started, recorded in `<dataDir>/sandbox-runs/` before
// anything starts and removed after the run is cleaned up, so a node that starts
// after its predecessor was killed can end and delete what was left running.
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

export type RunRecord =
  | { kind: "container"; id: string; runtime: string; root: string; bundle: string }
  | { kind: "vm"; id: string };

export class RunJournal {
  constructor(readonly dir: string) {}

  /** Records a run before it starts; the returned function forgets it once it is cleaned up. */
  async add(rec: RunRecord): Promise<() => Promise<void>> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, `${rec.id}.json`);
    await writeFile(`${path}.tmp`, JSON.stringify(rec), { mode: 0o600 });
    await rename(`${path}.tmp`, path);
    return () => rm(path, { force: true });
  }
}

/** Pids of processes whose command line holds `needle` (a run's unique id), this process excluded. */
export function processesWith(needle: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").some((arg) => arg.includes(needle))) out.push(Number(p));
    } catch {
      // gone already
    }
  }
  return out;
}

/**
 * Ends and deletes every run recorded in `dir`: processes that name the run's id
 * (qemu's -name, `runc run`, the container's watchdog) are killed, a container is
 * killed and deleted through its runtime. Call it only while holding the data
 * dir's lock (no live node owns these runs). Returns the ids it reaped.
 */
export async function reapOrphans(dir: string): Promise<string[]> {
  const reaped: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, name);
    if (!name.endsWith(".json")) {
      await rm(path, { force: true });
      continue;
    }
    let rec: RunRecord;
    try {
      rec = JSON.parse(await readFile(path, "utf8")) as RunRecord;
      if (typeof rec.id !== "string" || !/^pg-[A-Za-z0-9_.-]*-[0-9a-f]{8}$/.test(rec.id)) throw new Error("bad id");
      if (rec.kind === "container" && !rec.bundle.endsWith(`/runs/${rec.id}`)) throw new Error("bad bundle");
    } catch {
      await rm(path, { force: true });
      continue;
    }
    for (const pid of processesWith(rec.id)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    if (rec.kind === "container") {
      await exec(rec.runtime, ["--root", rec.root, "kill", rec.id, "KILL"]).catch(() => {});
      await exec(rec.runtime, ["--root", rec.root, "delete", "--force", rec.id]).catch(() => {});
      await rm(rec.bundle, { recursive: true, force: true });
    }
    await rm(path, { force: true });
    reaped.push(rec.id);
  }
  return reaped;
}
