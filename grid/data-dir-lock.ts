// One node per data dir: `<dataDir>/lock` holds the owning process's pid and
// start time. A second node on the same dir is refused while that process lives;
// a lock whose process is gone (a node that was killed) is taken over.
import { mkdir, open, readFile, unlink } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { join } from "node:path";

interface LockInfo {
  pid: number;
  /** The process's start time (clock ticks since boot, /proc/PID/stat), so a reused pid is not taken for the owner. */
  start: string | null;
}

export class DataDirLockedError extends Error {}

/** A process's start time from /proc, or null where there is no /proc or no such process. */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22, counted after the command name (which may hold spaces) in parentheses.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

function alive(info: LockInfo): boolean {
  try {
    process.kill(info.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const start = processStart(info.pid);
  return info.start === null || start === null || start === info.start;
}

export interface DataDirLock {
  readonly path: string;
  release(): Promise<void>;
}

/** Takes the data dir's lock, or throws DataDirLockedError naming the node that holds it. */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, "lock");
  const mine: LockInfo = { pid: process.pid, start: processStart(process.pid) };
  const text = JSON.stringify(mine) + "\n";
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fh = await open(path, "wx", 0o644);
      try {
        await fh.writeFile(text);
      } finally {
        await fh.close();
      }
      return {
        path,
        release: async () => {
          if ((await readFile(path, "utf8").catch(() => "")) === text) await unlink(path).catch(() => {});
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const held = await readFile(path, "utf8").catch(() => "");
    let info: LockInfo | undefined;
    try {
      info = JSON.parse(held) as LockInfo;
    } catch {
      // Cut short by a crash between open and write: stale.
    }
    if (info && typeof info.pid === "number" && alive(info)) {
      throw new DataDirLockedError(
        `the data dir ${dataDir} is in use by another node (pid ${info.pid}${info.pid === process.pid ? ", this process" : ""}): stop it first, or give this node another --data-dir`,
      );
    }
    // Stale: its node is gone. Remove it only if it is still the stale one, then try again.
    if ((await readFile(path, "utf8").catch(() => "")) === held) await unlink(path).catch(() => {});
  }
  throw new DataDirLockedError(`cannot take the lock ${path}: other nodes keep taking it`);
}
