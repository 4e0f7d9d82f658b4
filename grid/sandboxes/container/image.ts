// Container images: a rootfs tar or an OCI image layout (in a tar), unpacked
// once per CID into `<dir>/<cid>/rootfs`, with the image's defaults beside it.
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rename, rm, writeFile, chmod } from "node:fs/promises";
import { join, dirname, basename } from "node:path";
import { promisify } from "node:util";

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

/** Unpacks `bytes` (stored under `cid`) into `cacheDir`, once; concurrent callers share the work. */
export function unpackImage(cacheDir: string, cid: string, bytes: Uint8Array): Promise<UnpackedImage> {
  cid = cacheKey(cid);
  const key = join(cacheDir, cid);
  let p = inflight.get(key);
  if (!p) {
    p = unpackOnce(cacheDir, cid, bytes).finally(() => inflight.delete(key));
    inflight.set(key, p);
  }
  return p;
}

/** A file name for a content address: the CID itself, or a hash of a CID path ("<cid>/files/image"). */
export function cacheKey(cid: string): string {
  return /^[A-Za-z0-9]+$/.test(cid) ? cid : "h" + createHash("sha256").update(cid).digest("hex");
}

async function unpackOnce(cacheDir: string, cid: string, bytes: Uint8Array): Promise<UnpackedImage> {
  const final = join(cacheDir, cid);
  if (existsSync(join(final, "defaults.json"))) return loaded(final);
  await mkdir(cacheDir, { recursive: true, mode: 0o755 });
  const work = join(cacheDir, `.${cid}.${randomBytes(4).toString("hex")}`);
  try {
    await mkdir(join(work, "rootfs"), { recursive: true, mode: 0o755 });
    // The container's root user maps to an unprivileged host uid: it must be able to reach the rootfs.
    await chmod(work, 0o755);
    await writeFile(join(work, "image.tar"), bytes);
    const names = (await tar(["-tf", join(work, "image.tar")])).split("\n").map((n) => n.replace(/^\.\//, ""));
    let defaults: ImageDefaults = { args: [], env: [], cwd: "/" };
    if (names.includes("oci-layout")) {
      await mkdir(join(work, "layout"));
      await tar(["-xf", join(work, "image.tar"), "-C", join(work, "layout"), "--no-same-owner"]);
      defaults = await applyLayout(join(work, "layout"), join(work, "rootfs"));
      await rm(join(work, "layout"), { recursive: true, force: true });
    } else {
      await tar(["-xf", join(work, "image.tar"), "-C", join(work, "rootfs"), "--same-owner", "--numeric-owner"]);
    }
    await rm(join(work, "image.tar"));
    await writeFile(join(work, "defaults.json"), JSON.stringify(defaults));
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
async function applyLayout(layout: string, rootfs: string): Promise<ImageDefaults> {
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
    for (const layer of layers) await applyLayer(blobPath(layout, layer), rootfs);
    const config = doc.config ? (await readJson(blobPath(layout, doc.config))).config ?? {} : {};
    return {
      args: [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])],
      env: config.Env ?? [],
      cwd: config.WorkingDir || "/",
    };
  }
  throw new Error("the OCI index nests too deep");
}

/** Applies one layer (tar, gzip or zstd; tar detects which), honouring whiteouts. */
async function applyLayer(blob: string, rootfs: string): Promise<void> {
  const names = (await tar(["-tf", blob])).split("\n").filter(Boolean);
  for (const raw of names) {
    const name = raw.replace(/^\.?\/+/, "");
    const base = basename(name);
    if (!base.startsWith(".wh.") || name.split("/").includes("..")) continue;
    const dir = join(rootfs, dirname(name));
    if (base === ".wh..wh..opq") {
      for (const e of existsSync(dir) ? await readdir(dir) : []) await rm(join(dir, e), { recursive: true, force: true });
    } else {
      await rm(join(dir, base.slice(4)), { recursive: true, force: true });
    }
  }
  await tar(["-xf", blob, "-C", rootfs, "--same-owner", "--numeric-owner", "--wildcards", "--exclude=*.wh.*", "--exclude=.wh.*"]);
}
