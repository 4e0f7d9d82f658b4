// Content-addressed block store on disk. A block is written to a temp file,
// fsynced, then renamed into place, so nothing half-written is ever visible;
// every read re-hashes the bytes with the function the CID's multihash names.
import { mkdir, readFile, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { CID } from "multiformats/cid";
import { verifyBlock } from "./hashes.ts";
import { writeFileAtomic } from "./files.ts";

export class BlockStore {
  private readonly tmpDir: string;
  constructor(readonly dir: string) {
    this.tmpDir = join(dir, ".tmp");
  }

  /** Creates the folders and removes temp files a crash may have left behind. */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
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
