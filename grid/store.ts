// Content-addressed block store on disk. A block is written to a temp file,
// fsynced, then renamed into place, so nothing half-written is ever visible;
// every read re-hashes the bytes with the function the CID's multihash names.
import { chmod, mkdir, readFile, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { CID } from "multiformats/cid";
import { CarBlockIterator } from "@ipld/car";
import { verifyBlock } from "./hashes.ts";
import { writeFileAtomic } from "./files.ts";

export class BlockStore {
  private readonly tmpDir: string;
  constructor(readonly dir: string) {
    this.tmpDir = join(dir, ".tmp");
  }

  /** Creates the folders and removes temp files a crash may have left behind. */
  async open(): Promise<void> {
    // Only the node reads its blocks (the data dir itself may be searchable for the container driver).
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { recursive: true });
  }

  private path(cid: CID): string {
    return join(this.dir, cid.toString());
  }

  /** CIDs known to be on disk (files are never removed except when found corrupt). */
  private readonly known = new Set<string>();

  async has(cid: CID): Promise<boolean> {
    const key = cid.toString();
    if (this.known.has(key)) return true;
    try {
      await stat(this.path(cid));
      this.known.add(key);
      return true;
    } catch {
      return false;
    }
  }

  /** Verifies `bytes` against `cid` and stores them; throws (storing nothing) on a mismatch. */
  async put(cid: CID, bytes: Uint8Array): Promise<void> {
    await verifyBlock(cid, bytes);
    if (await this.has(cid)) return;
    await writeFileAtomic(this.path(cid), bytes, 0o644, this.tmpDir);
    this.known.add(cid.toString());
  }

  /** The block's bytes, re-verified; undefined when absent. A corrupt file is removed and reported. */
  async get(cid: CID): Promise<Uint8Array | undefined> {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(this.path(cid)));
    } catch {
      this.known.delete(cid.toString());
      return undefined;
    }
    try {
      await verifyBlock(cid, bytes);
    } catch (e) {
      await rm(this.path(cid), { force: true });
      this.known.delete(cid.toString());
      throw new Error(`store: block ${cid} was corrupt on disk and has been removed`);
    }
    return bytes;
  }

  async list(): Promise<CID[]> {
    const names = await readdir(this.dir);
    const out: CID[] = [];
    for (const n of names) {
      if (n.startsWith(".")) continue;
      try {
        out.push(CID.parse(n));
      } catch {
        // not a block file
      }
    }
    return out;
  }

  /** Re-hashes every block; returns the CIDs whose bytes do not match. */
  async verifyAll(): Promise<CID[]> {
    const bad: CID[] = [];
    for (const cid of await this.list()) {
      const bytes = new Uint8Array(await readFile(this.path(cid)));
      try {
        await verifyBlock(cid, bytes);
      } catch {
        bad.push(cid);
      }
    }
    return bad;
  }
}

/** Most blocks one CAR may carry (a 64 MiB body of 1 MiB chunks holds 64; structure adds a few). */
export const MAX_CAR_BLOCKS = 4096;

export class CarImportError extends Error {
  constructor(readonly code: "too-large" | "too-many-blocks" | "bad-car" | "bad-block", message: string) {
    super(message);
  }
}

/**
 * Reads a CAR as it streams in (each chunk pulled only when the last is
 * decoded, so a fast sender waits), verifying every block against its CID and
 * refusing more than `maxBytes` in all or `maxBlocks` blocks before holding them.
 */
export async function readCar(
  source: AsyncIterable<Uint8Array>,
  o: { maxBytes: number; maxBlocks?: number },
): Promise<{ roots: CID[]; blocks: { cid: CID; bytes: Uint8Array }[] }> {
  const maxBlocks = o.maxBlocks ?? MAX_CAR_BLOCKS;
  // One iterator, never returned early: a stream's own iterator would destroy it (and the reply's socket).
  const it = source[Symbol.asyncIterator]();
  let size = 0;
  const next = async () => {
    const r = await it.next();
    if (!r.done) {
      size += r.value.length;
      if (size > o.maxBytes) throw new CarImportError("too-large", `request body is over the ${o.maxBytes}-byte limit`);
    }
    return r;
  };
  async function* counted(): AsyncIterable<Uint8Array> {
    for (let r = await next(); !r.done; r = await next()) yield r.value;
  }
  // A malformed body is still read (and dropped) to its end, so an oversized one is refused as such.
  const refuse = async (e: CarImportError): Promise<never> => {
    while (!(await next()).done);
    throw e;
  };
  const notCar = (e: unknown) => (e instanceof CarImportError ? e : new CarImportError("bad-car", `the body is not a CAR file: ${e instanceof Error ? e.message : e}`));
  let iter: CarBlockIterator;
  try {
    iter = await CarBlockIterator.fromIterable(counted());
  } catch (e) {
    const err = notCar(e);
    return err.code === "bad-car" ? refuse(err) : Promise.reject(err);
  }
  const roots = await iter.getRoots();
  const blocks: { cid: CID; bytes: Uint8Array }[] = [];
  try {
    for await (const b of iter) {
      if (blocks.length >= maxBlocks) throw new CarImportError("too-many-blocks", `refused: the CAR holds more than ${maxBlocks} blocks; nothing was stored`);
      try {
        await verifyBlock(b.cid, b.bytes);
      } catch {
        throw new CarImportError("bad-block", `refused: CAR block ${b.cid} does not match its CID; nothing was stored`);
      }
      blocks.push({ cid: b.cid, bytes: b.bytes });
    }
  } catch (e) {
    const err = notCar(e);
    if (err.code === "bad-car" || err.code === "bad-block") await refuse(err);
    throw err;
  }
  return { roots, blocks };
}
