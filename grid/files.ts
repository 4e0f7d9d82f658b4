// Writing a file so that no reader ever sees it half-written: a temp file in the
// same folder, fsynced, then renamed over the target. The CLI, the node's data
// dir (api-token, node.json), keys and the block store all write through here.
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

function tempPath(path: string, dir?: string): string {
  return join(dir ?? dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
}

/** `tmpDir`: where the temp file goes (same file system as `path`); default beside it. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600, tmpDir?: string): Promise<void> {
  const tmp = tempPath(path, tmpDir);
  try {
    const fh = await open(tmp, "wx", mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** The same, blocking (the CLI's commands are synchronous). An existing file keeps its mode unless `mode` is given. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, mode?: number): void {
  if (mode === undefined) {
    try {
      mode = statSync(path).mode & 0o7777;
    } catch {
      mode = 0o644;
    }
  }
  const tmp = tempPath(path);
  try {
    const fd = openSync(tmp, "wx", mode);
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** The lines of a data-dir index file (one record a line), or none when it does not exist yet. */
export async function readIndexLines(path: string): Promise<string[]> {
  try {
    return (await readFile(path, "utf8")).split("\n");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
}
