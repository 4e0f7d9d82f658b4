// Hostile image fixtures, built here (no downloads): ustar archives with any
// entry a tar can hold, and OCI image layouts made of such layers.
import { createHash } from "node:crypto";
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";

export interface TarEntry {
  name: string;
  type?: "file" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo";
  data?: string | Uint8Array;
  mode?: number;
  uid?: number;
  linkname?: string;
  major?: number;
  minor?: number;
}

const TYPES = { file: "0", hardlink: "1", symlink: "2", char: "3", block: "4", dir: "5", fifo: "6" } as const;

function header(e: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (off: number, len: number, s: string) => h.write(s, off, Math.min(len, Buffer.byteLength(s)), "utf8");
  const oct = (off: number, len: number, n: number) => put(off, len, n.toString(8).padStart(len - 1, "0") + "\0");
  if (Buffer.byteLength(e.name) > 100) throw new Error(`fixture name too long: ${e.name}`);
  put(0, 100, e.name);
  oct(100, 8, e.mode ?? (e.type === "dir" ? 0o755 : 0o644));
  oct(108, 8, e.uid ?? 0);
  oct(116, 8, e.uid ?? 0);
  oct(124, 12, size);
  oct(136, 12, 0);
  h.fill(" ", 148, 156);
  put(156, 1, TYPES[e.type ?? "file"]);
  put(157, 100, e.linkname ?? "");
  put(257, 6, "ustar\0");
  put(263, 2, "00");
  oct(329, 8, e.major ?? 0);
  oct(337, 8, e.minor ?? 0);
  let sum = 0;
  for (const b of h) sum += b;
  put(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

/** A ustar archive of `entries`, in order, exactly as given (absolute and ".." names included). */
export function tarball(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.type === undefined || e.type === "file" ? Buffer.from(e.data ?? "") : Buffer.alloc(0);
    parts.push(header(e, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** An OCI image layout (as a tar) whose manifest applies `layers` (uncompressed tars) in order. */
export function ociImage(layers: Uint8Array[], cmd: string[]): Buffer {
  const blobs: [string, Uint8Array][] = layers.map((l) => [sha(l), l]);
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", config: { Cmd: cmd }, rootfs: { type: "layers", diff_ids: blobs.map(([d]) => `sha256:${d}`) } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${sha(config)}`, size: config.length },
      layers: blobs.map(([d, l]) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: `sha256:${d}`, size: l.length })),
    }),
  );
  const index = JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: `sha256:${sha(manifest)}`, size: manifest.length }] });
  const all = new Map<string, Uint8Array>([...blobs, [sha(config), config], [sha(manifest), manifest]]);
  return tarball([
    { name: "oci-layout", data: '{"imageLayoutVersion":"1.0.0"}' },
    { name: "index.json", data: index },
    { name: "blobs/", type: "dir" },
    { name: "blobs/sha256/", type: "dir" },
    ...[...all].map(([d, b]) => ({ name: `blobs/sha256/${d}`, data: b })),
  ]);
}

/** Every setuid/setgid file and every device, fifo or socket under `dir` (links not followed). */
export function dangerousFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      if (st.mode & 0o6000 && !st.isSymbolicLink()) found.push(`${p} (mode ${(st.mode & 0o7777).toString(8)})`);
      if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO() || st.isSocket()) found.push(`${p} (special)`);
    }
  };
  walk(dir);
  return found;
}

/** A directory's contents as "name:size:nlink" lines, to compare before and after. */
export function snapshot(dir: string): string[] {
  return readdirSync(dir).sort().map((n) => {
    const st = lstatSync(join(dir, n));
    return `${n}:${st.size}:${st.nlink}:${st.mode.toString(8)}`;
  });
}
