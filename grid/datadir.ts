// The data dir holds the node's key, its API token and its blocks: only its
// owner may read it. Modes looser than that (a copied dir, a umask of 022) are
// fixed at start and reported; a dir owned by another user is refused.
import { chmod, lstat } from "node:fs/promises";
import { join } from "node:path";

const MODES: [string, number][] = [["", 0o700], ["blocks", 0o700], ["key", 0o600], ["api-token", 0o600]];

/** Tightens the modes of the data dir and its secrets; returns what it changed. Throws when a part is not ours or is a symlink. */
export async function secureDataDir(dir: string): Promise<string[]> {
  const fixed: string[] = [];
  for (const [name, mode] of MODES) {
    const path = name ? join(dir, name) : dir;
    let st;
    try {
      st = await lstat(path);
    } catch {
      continue; // created later with the right mode
    }
    if (st.isSymbolicLink()) throw new Error(`${path} is a symlink; the node's data dir and its secrets must be plain files and folders`);
    if (typeof process.getuid === "function" && st.uid !== process.getuid()) throw new Error(`${path} belongs to user ${st.uid}, not to this user (${process.getuid()}); refusing to use it`);
    if ((st.mode & 0o777) !== mode) {
      await chmod(path, mode);
      fixed.push(`${path}: mode ${(st.mode & 0o777).toString(8).padStart(4, "0")} -> ${mode.toString(8).padStart(4, "0")}`);
    }
  }
  return fixed;
}
