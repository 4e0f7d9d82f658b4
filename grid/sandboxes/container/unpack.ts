// Unpacking untrusted tars as root without touching anything outside the target.
// Each tar is extracted by GNU tar into a fresh, empty directory that only root
// can enter (tar strips leading "/", refuses ".." members and keeps dangerous
// symlinks as placeholders until the end); the result is then checked entry by
// entry with lstat: device nodes, fifos and sockets are dropped, setuid/setgid
// bits cleared, hard links to anything outside the tree refused. Image layers
// are merged into the rootfs by this module, resolving every path inside the
// root (a symlink is followed as if the root were "/"), so no layer can write or
// delete through a symlink an earlier layer left.
import { execFile } from "node:child_process";
import type { Stats } from "node:fs";
import { chmod, lstat, mkdir, readdir, readlink, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export class UnpackError extends Error {}

/** Extracts `archive` (tar, gzip, xz or zstd) into `into`, which must be a new empty directory, and sanitises it. */
export async function extractTar(archive: string, into: string): Promise<void> {
  try {
    await run("tar", ["-xf", archive, "-C", into, "--no-same-owner", "--no-same-permissions", "--no-overwrite-dir"], { maxBuffer: 16 << 20 });
  } catch (e) {
    const err = String((e as { stderr?: string }).stderr ?? (e instanceof Error ? e.message : e)).trim().split("\n").slice(0, 3).join("; ");
    throw new UnpackError(`tar refused the archive: ${err}`);
  }
  await sanitise(into);
}

/**
 * Walks `root` without following links: drops special files, clears setuid and
 * setgid bits, and refuses a hard link whose other names are not all inside `root`.
 */
export async function sanitise(root: string): Promise<void> {
  const links = new Map<string, { st: Stats; seen: number; name: string }>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const path = join(dir, name);
      const st = await lstat(path);
      const r = rel ? `${rel}/${name}` : name;
      if (st.isDirectory()) {
        if (st.mode & 0o6000) await chmod(path, st.mode & 0o1777);
        await walk(path, r);
      } else if (st.isFile()) {
        if (st.mode & 0o6000) await chmod(path, st.mode & 0o1777);
        if (st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          const e = links.get(key) ?? { st, seen: 0, name: r };
          e.seen++;
          links.set(key, e);
        }
      } else if (!st.isSymbolicLink()) {
        // Devices, fifos, sockets: the container gets its own /dev.
        await rm(path, { force: true });
      }
    }
  };
  await walk(root, "");
  for (const { st, seen, name } of links.values()) {
    if (seen < st.nlink) throw new UnpackError(`entry ${name} is a hard link to a file outside the image`);
  }
}

/**
 * Resolves `rel` inside `root` as the kernel would if `root` were "/": symlinks
 * are followed, absolute targets start again at `root`, ".." stops at `root`.
 * The result has no symlink in it (its last components may not exist yet).
 */
export async function resolveIn(root: string, rel: string): Promise<string> {
  const todo = rel.split("/");
  const done: string[] = [];
  let hops = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      done.pop();
      continue;
    }
    const path = join(root, ...done, part);
    const st = await lstat(path).catch(() => undefined);
    if (st?.isSymbolicLink()) {
      if (++hops > 40) throw new UnpackError(`too many symlinks resolving ${rel}`);
      const target = await readlink(path);
      if (target.startsWith("/")) done.length = 0;
      todo.unshift(...target.split("/"));
      continue;
    }
    done.push(part);
  }
  return join(root, ...done);
}

/**
 * Applies one extracted (and sanitised) layer directory to `rootfs`, OCI style:
 * in each directory the opaque marker and `.wh.NAME` whiteouts remove what lower
 * layers left, then entries replace or merge into what is there. Consumes `layer`.
 */
export async function applyLayerDir(layer: string, rootfs: string): Promise<void> {
  await mergeDir(layer, rootfs, rootfs);
}

async function mergeDir(src: string, dst: string, rootfs: string): Promise<void> {
  const names = await readdir(src);
  if (names.includes(".wh..wh..opq")) {
    for (const e of await readdir(dst)) await rm(join(dst, e), { recursive: true, force: true });
  }
  for (const name of names) {
    if (name.startsWith(".wh.") && name !== ".wh..wh..opq") {
      // rm does not follow a symlink it removes; `dst` has no symlink in it.
      await rm(join(dst, name.slice(4)), { recursive: true, force: true });
    }
  }
  for (const name of names) {
    if (name.startsWith(".wh.")) continue;
    const from = join(src, name);
    const to = join(dst, name);
    const st = await lstat(from);
    const there = await lstat(to).catch(() => undefined);
    if (st.isDirectory()) {
      let into = to;
      if (there?.isSymbolicLink()) {
        // A directory through a lower layer's symlink: follow it, inside the root only.
        into = await resolveIn(rootfs, to.slice(rootfs.length + 1));
        const target = await lstat(into).catch(() => undefined);
        if (!target?.isDirectory()) {
          await rm(to, { force: true });
          into = to;
        }
      } else if (there && !there.isDirectory()) {
        await rm(to, { force: true });
      }
      if (!(await lstat(into).catch(() => undefined))) await mkdir(into, { mode: st.mode & 0o1777 });
      else await chmod(into, st.mode & 0o1777);
      await mergeDir(from, into, rootfs);
    } else {
      if (there) await rm(to, { recursive: true, force: true });
      await rename(from, to);
    }
  }
}
