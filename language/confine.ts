// Workload files stay inside the project: a manifest is sent to other people's
// nodes, so a path that reaches elsewhere (absolute, `..`, a symlink out, /proc,
// a device) would ship this machine's files with it. The project is the folder
// of each entry file and its workspace (the enclosing git checkout), plus any
// roots the caller adds (an editor's workspace folders).
import * as fs from "node:fs";
import * as path from "node:path";
import type { Program } from "./program.ts";

/** The nearest folder at or above `dir` holding `.git`: the workspace the file belongs to. */
function workspaceRoot(dir: string): string | undefined {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, ".git"))) return d;
    if (path.dirname(d) === d) return undefined;
  }
}

/**
 * The project: the folder of each entry file (a file no other file imports)
 * and its workspace root, plus `extra` and the folders in
 * $PROMISEGRID_WORKLOAD_ROOTS (e.g. a build cache shared between checkouts).
 * A `.git` file is not followed: what it names is written by whoever wrote the
 * project, so it cannot widen the project (a linked worktree is its own).
 */
export function projectRoots(program: Program, extra: string[] = []): string[] {
  const imported = new Set(program.imports.map((i) => i.path));
  const files = [...program.files.keys()];
  const entries = files.filter((f) => !imported.has(f));
  const dirs = (entries.length ? entries : files.slice(0, 1)).map((f) => path.dirname(f));
  const fromEnv = (process.env.PROMISEGRID_WORKLOAD_ROOTS ?? "").split(path.delimiter).filter(Boolean);
  const workspaces = dirs.map(workspaceRoot);
  const roots = [...dirs, ...workspaces, ...extra, ...fromEnv].filter((r): r is string => !!r).map((r) => path.resolve(r));
  return [...new Set(roots)];
}

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

function real(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

const SPECIAL = ["/proc", "/sys", "/dev"];

/**
 * Why the workload file `rel`, named in `declaringFile`, may not go into a
 * manifest; undefined when it may (or does not exist: that is PG600's to say).
 */
export function workloadFileProblem(roots: string[], declaringFile: string, rel: string): string | undefined {
  const where = roots.length === 1 ? roots[0] : roots.join(" or ");
  if (path.isAbsolute(rel)) return `workload file '${rel}' is an absolute path: workload files must be inside the project (${where}), named relative to the .pg file`;
  const target = path.resolve(path.dirname(declaringFile), rel);
  if (!roots.some((r) => inside(r, target))) return `workload file '${rel}' is outside the project (${where}): '..' may not climb out of it`;
  try {
    fs.lstatSync(target);
  } catch {
    return undefined;
  }
  const resolved = real(target);
  if (SPECIAL.some((s) => inside(s, resolved))) return `workload file '${rel}' resolves to ${resolved}, a system file, not part of the project`;
  if (!roots.some((r) => inside(real(r), resolved))) return `workload file '${rel}' is a symlink to ${resolved}, outside the project (${where})`;
  let kind: fs.Stats;
  try {
    kind = fs.statSync(resolved);
  } catch {
    return undefined;
  }
  if (!kind.isFile()) return `workload file '${rel}' is not a regular file (${kind.isDirectory() ? "a directory" : "a device, pipe or socket"})`;
  return undefined;
}

/** The file's real path when it may go into a manifest; throws with the reason otherwise. */
export function confinedWorkloadFile(roots: string[], declaringFile: string, rel: string): string {
  const problem = workloadFileProblem(roots, declaringFile, rel);
  if (problem) throw new Error(problem);
  return real(path.resolve(path.dirname(declaringFile), rel));
}

/** Workload files larger than this are refused: a manifest is built in memory whole. */
export const MAX_WORKLOAD_FILE_BYTES = 1024 * 1024 * 1024;

/**
 * The bytes of a confined workload file (the real path confinedWorkloadFile gave). It is opened without
 * following a symlink put in its place since the check, without blocking on a pipe, and read only when
 * the opened file is a regular file within the limit.
 */
export function readWorkloadFile(file: string): Uint8Array {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new Error("not a regular file");
    if (stat.size > MAX_WORKLOAD_FILE_BYTES) throw new Error(`${stat.size} bytes; workload files are limited to ${MAX_WORKLOAD_FILE_BYTES / 1024 / 1024} MiB`);
    // Exactly the size checked: a file that grows meanwhile is not read past the limit.
    const bytes = new Uint8Array(stat.size);
    let read = 0;
    while (read < bytes.length) {
      const n = fs.readSync(fd, bytes, read, bytes.length - read, read);
      if (n === 0) break; // shrunk meanwhile
      read += n;
    }
    return bytes.subarray(0, read);
  } finally {
    fs.closeSync(fd);
  }
}
