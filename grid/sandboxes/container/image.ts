// Container images: a rootfs tar or an OCI image layout (in a tar), unpacked
// once per CID into `<dir>/<cid>/rootfs`, with the image's defaults beside it.
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chown, mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { applyLayerDir, extractTar, UnpackError } from "./unpack.ts";

const run = promisify(execFile);


/** What the image says about how to run it (OCI config), empty for a plain rootfs. */
export interface ImageDefaults {
  args: string[];
  env: string[];
  cwd: string;
}

export interface UnpackedImage {
  rootfs: string;
  defaults: ImageDefaults;
}

const inflight = new Map<string, Promise<UnpackedImage>>();

/** The host uid (and gid) the container's root maps to: the owner of unpacked images. */
export const CONTAINER_ROOT_ID = 100000;

/** Unpacks `bytes` (stored under `cid`) into `cacheDir`, once, for a container whose root is host uid `owner`; concurrent callers share the work. */
export function unpackImage(cacheDir: string, cid: string, bytes: Uint8Array, owner = CONTAINER_ROOT_ID): Promise<UnpackedImage> {
  cid = cacheKey(cid);
  const key = join(cacheDir, cid);
  let p = inflight.get(key);
  if (!p) {
    p = unpackOnce(cacheDir, cid, bytes, owner).finally(() => inflight.delete(key));
    inflight.set(key, p);
  }
  return p;
}

/** A file name for a content address: the CID itself, or a hash of a CID path ("<cid>/files/image"). */
export function cacheKey(cid: string): string {
  return /^[A-Za-z0-9]+$/.test(cid) ? cid : "h" + createHash("sha256").update(cid).digest("hex");
}

async function unpackOnce(cacheDir: string, cid: string, bytes: Uint8Array, owner: number): Promise<UnpackedImage> {
  const final = join(cacheDir, cid);
  if (existsSync(join(final, "defaults.json"))) return loaded(final);
  await mkdir(cacheDir, { recursive: true, mode: 0o711 });
  // Only root enters the work dir while tar runs; the finished image is handed to the container's root uid.
  const work = join(cacheDir, `.${cid}.${randomBytes(4).toString("hex")}`);
  try {
    await mkdir(work, { mode: 0o700 });
    await mkdir(join(work, "rootfs"), { mode: 0o755 });
    await writeFile(join(work, "image.tar"), bytes, { mode: 0o600 });
    const names = (await tar(["-tf", join(work, "image.tar")])).split("\n").map((n) => n.replace(/^\.\//, ""));
    let defaults: ImageDefaults = { args: [], env: [], cwd: "/" };
    if (names.includes("oci-layout")) {
      await mkdir(join(work, "layout"), { mode: 0o700 });
      await extractTar(join(work, "image.tar"), join(work, "layout"));
      await plainFilesOnly(join(work, "layout"));
      defaults = await applyLayout(join(work, "layout"), join(work, "rootfs"), work);
      await rm(join(work, "layout"), { recursive: true, force: true });
    } else {
      await extractTar(join(work, "image.tar"), join(work, "rootfs"));
    }
    await rm(join(work, "image.tar"));
    await writeFile(join(work, "defaults.json"), JSON.stringify(defaults), { mode: 0o644 });
    // Mode 0700, owned by the uid the container's root maps to: no other host user can reach the files.
    await chown(work, owner, owner);
    try {
      await rename(work, final);
    } catch (e) {
      // Another process unpacked the same CID first: use theirs.
      if (!existsSync(join(final, "defaults.json"))) throw e;
      await rm(work, { recursive: true, force: true });
    }
    return loaded(final);
  } catch (e) {
    await rm(work, { recursive: true, force: true });
    throw new Error(`cannot unpack the container image ${cid}: ${e instanceof Error ? e.message : e}`);
  }
}

/** An OCI layout is JSON and blobs: anything but plain files and directories is refused. */
async function plainFilesOnly(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) await plainFilesOnly(join(dir, e.name));
    else if (!e.isFile()) throw new UnpackError(`the OCI layout's ${e.name} is not a plain file`);
  }
}

async function loaded(dir: string): Promise<UnpackedImage> {
  const defaults = JSON.parse(await readFile(join(dir, "defaults.json"), "utf8")) as ImageDefaults;
  return { rootfs: join(dir, "rootfs"), defaults };
}

async function tar(args: string[]): Promise<string> {
  const { stdout } = await run("tar", args, { maxBuffer: 64 << 20 });
  return stdout;
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  platform?: { os?: string; architecture?: string };
}

function blobPath(layout: string, d: Descriptor): string {
  const m = /^([a-z0-9]+):([a-f0-9]+)$/.exec(d.digest);
  if (!m) throw new Error(`bad digest ${JSON.stringify(d.digest)}`);
  return join(layout, "blobs", m[1]!, m[2]!);
}

async function readJson(path: string): Promise<any> {
  return JSON.parse(await readFile(path, "utf8"));
}

/** Follows index.json to an amd64 linux manifest and applies its layers in order. */
async function applyLayout(layout: string, rootfs: string, work: string): Promise<ImageDefaults> {
  let index = await readJson(join(layout, "index.json"));
  for (let depth = 0; depth < 4; depth++) {
    const list: Descriptor[] = index.manifests ?? [];
    if (list.length === 0) throw new Error("the OCI index lists no manifest");
    const pick =
      list.find((d) => !d.platform || (d.platform.os === "linux" && d.platform.architecture === "amd64")) ?? list[0]!;
    const doc = await readJson(blobPath(layout, pick));
    if (Array.isArray(doc.manifests)) {
      index = doc;
      continue;
    }
    const layers: Descriptor[] = doc.layers ?? [];
    for (const [i, layer] of layers.entries()) {
      // Each layer is extracted on its own, then merged with paths resolved inside the rootfs.
      const dir = join(work, `layer${i}`);
      await mkdir(dir, { mode: 0o700 });
      await extractTar(blobPath(layout, layer), dir);
      await applyLayerDir(dir, rootfs);
      await rm(dir, { recursive: true, force: true });
    }
    const config = doc.config ? (await readJson(blobPath(layout, doc.config))).config ?? {} : {};
    return {
      args: [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])],
      env: config.Env ?? [],
      cwd: config.WorkingDir || "/",
    };
  }
  throw new Error("the OCI index nests too deep");
}
