// The block store (grid/store.ts) on a real temp dir: what it keeps, what it
// refuses, what it notices on disk; and the CAR reader's limits on a body as
// it streams in.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { CarWriter } from "@ipld/car";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { BlockStore, CarImportError, MAX_CAR_BLOCKS, readCar } from "../../grid/store.ts";

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "pg-store-"));
  dirs.push(d);
  return d;
};
const block = async (s: string) => {
  const bytes = new TextEncoder().encode(s);
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes };
};
const mode = (p: string) => fs.statSync(p).mode & 0o777;

async function car(blocks: { cid: CID; bytes: Uint8Array }[], roots = blocks.slice(0, 1).map((b) => b.cid)): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create(roots);
  const parts: Uint8Array[] = [];
  const done = (async () => { for await (const p of out) parts.push(p); })();
  for (const b of blocks) await writer.put(b);
  await writer.close();
  await done;
  return new Uint8Array(Buffer.concat(parts));
}

/** The bytes in chunks of `size`, counting how many chunks were pulled. */
function chunks(bytes: Uint8Array, size = 16): { source: AsyncIterable<Uint8Array>; pulled: () => number; total: number } {
  let pulled = 0;
  const total = Math.ceil(bytes.length / size);
  async function* gen() {
    for (let i = 0; i < bytes.length; i += size) {
      pulled++;
      yield bytes.subarray(i, i + size);
    }
  }
  return { source: gen(), pulled: () => pulled, total };
}

async function refusedCar(p: Promise<unknown>, code: CarImportError["code"], message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CarImportError, String(e));
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

describe("block store", () => {
  it("opens with owner-only blocks/ (tightening an existing one) and clears what a crash left in .tmp", async () => {
    const dir = path.join(tmp(), "blocks");
    fs.mkdirSync(path.join(dir, ".tmp"), { recursive: true, mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(dir, ".tmp", "half-written"), "x");
    await new BlockStore(dir).open();
    assert.equal(mode(dir), 0o700);
    assert.deepEqual(fs.readdirSync(path.join(dir, ".tmp")), []);
    const fresh = path.join(tmp(), "a", "b", "blocks");
    await new BlockStore(fresh).open();
    assert.equal(mode(fresh), 0o700);
    assert.ok(fs.statSync(path.join(fresh, ".tmp")).isDirectory());
  });

  it("stores a block under its CID once, and refuses bytes that do not match, storing nothing", async () => {
    const dir = path.join(tmp(), "blocks");
    const store = new BlockStore(dir);
    await store.open();
    const a = await block("a"), b = await block("b");
    await assert.rejects(store.put(a.cid, b.bytes));
    assert.equal(await store.has(a.cid), false);
    assert.deepEqual(fs.readdirSync(dir).filter((n) => !n.startsWith(".")), []);
    await store.put(a.cid, a.bytes);
    const inode = fs.statSync(path.join(dir, a.cid.toString())).ino;
    await store.put(a.cid, a.bytes);
    assert.equal(fs.statSync(path.join(dir, a.cid.toString())).ino, inode, "a block already there is not written again");
    assert.equal(await store.has(a.cid), true);
    assert.deepEqual(await store.get(a.cid), a.bytes);
    assert.equal(mode(path.join(dir, a.cid.toString())), 0o644);
    assert.deepEqual(fs.readdirSync(path.join(dir, ".tmp")), [], "no temp file left behind");
    assert.equal(await store.get(b.cid), undefined);
    assert.equal(await store.has(b.cid), false);
  });

  it("finds blocks written by an earlier run, and forgets one removed from disk", async () => {
    const dir = path.join(tmp(), "blocks");
    const first = new BlockStore(dir);
    await first.open();
    const a = await block("a");
    await first.put(a.cid, a.bytes);
    const second = new BlockStore(dir);
    await second.open();
    assert.equal(await second.has(a.cid), true);
    fs.rmSync(path.join(dir, a.cid.toString()));
    assert.equal(await second.get(a.cid), undefined);
    assert.equal(await second.has(a.cid), false, "a read that found nothing drops it from what is known");
  });

  it("removes and reports a block corrupted on disk; verifyAll lists exactly the corrupt ones", async () => {
    const dir = path.join(tmp(), "blocks");
    const store = new BlockStore(dir);
    await store.open();
    const a = await block("a"), b = await block("b"), c = await block("c");
    for (const x of [a, b, c]) await store.put(x.cid, x.bytes);
    fs.writeFileSync(path.join(dir, b.cid.toString()), "not b");
    fs.writeFileSync(path.join(dir, c.cid.toString()), "not c");
    fs.writeFileSync(path.join(dir, "not-a-cid"), "x");
    fs.writeFileSync(path.join(dir, ".hidden"), "x");
    assert.deepEqual((await store.list()).map(String).sort(), [a, b, c].map((x) => x.cid.toString()).sort());
    assert.deepEqual((await store.verifyAll()).map(String).sort(), [b, c].map((x) => x.cid.toString()).sort());
    await assert.rejects(store.get(b.cid), new RegExp(`store: block ${b.cid} was corrupt on disk and has been removed`));
    assert.equal(fs.existsSync(path.join(dir, b.cid.toString())), false);
    assert.equal(await store.has(b.cid), false);
    assert.deepEqual(await store.get(a.cid), a.bytes);
  });
});

describe("CAR reader", () => {
  it("reads roots and verified blocks", async () => {
    const a = await block("a"), b = await block("b");
    const got = await readCar(chunks(await car([a, b])).source, { maxBytes: 1 << 20 });
    assert.deepEqual(got.roots.map(String), [a.cid.toString()]);
    assert.deepEqual(got.blocks.map((x) => [x.cid.toString(), Buffer.from(x.bytes).toString()]), [[a.cid.toString(), "a"], [b.cid.toString(), "b"]]);
  });

  it("refuses a body over the limit, reading no further than the limit", async () => {
    const bytes = await car([await block("x".repeat(200))]);
    assert.ok((await readCar(chunks(bytes).source, { maxBytes: bytes.length })).blocks.length === 1, "exactly the limit fits");
    await refusedCar(readCar(chunks(bytes).source, { maxBytes: bytes.length - 1 }), "too-large", new RegExp(`request body is over the ${bytes.length - 1}-byte limit`));
    const early = chunks(bytes);
    await refusedCar(readCar(early.source, { maxBytes: 40 }), "too-large", /over the 40-byte limit/);
    assert.equal(early.pulled(), 3, "refused at the chunk that crosses the limit (16 + 16 + 16 > 40), reading no further");
  });

  it("refuses more blocks than allowed, by default MAX_CAR_BLOCKS", async () => {
    const blocks = await Promise.all(Array.from({ length: 3 }, (_, i) => block(`b${i}`)));
    const bytes = await car(blocks);
    assert.equal((await readCar(chunks(bytes).source, { maxBytes: 1 << 20, maxBlocks: 3 })).blocks.length, 3);
    const tooMany = chunks(await car([...blocks, ...(await Promise.all(Array.from({ length: 20 }, (_, i) => block(`more${i}`))))]));
    await refusedCar(readCar(tooMany.source, { maxBytes: 1 << 20, maxBlocks: 2 }), "too-many-blocks", /refused: the CAR holds more than 2 blocks; nothing was stored/);
    assert.ok(tooMany.pulled() < tooMany.total, "the rest of a CAR with too many blocks is not read");
    const many = await Promise.all(Array.from({ length: MAX_CAR_BLOCKS + 1 }, (_, i) => block(`m${i}`)));
    await refusedCar(readCar(chunks(await car(many), 4096).source, { maxBytes: 1 << 30 }), "too-many-blocks", new RegExp(`more than ${MAX_CAR_BLOCKS} blocks`));
  });

  it("refuses a block that does not match its CID, and a body that is not a CAR, reading each to its end", async () => {
    const a = await block("a"), b = await block("b");
    const rest = await Promise.all(Array.from({ length: 20 }, (_, i) => block(`rest${i}`)));
    const bad = chunks(await car([a, { cid: b.cid, bytes: a.bytes }, ...rest]));
    await refusedCar(readCar(bad.source, { maxBytes: 1 << 20 }), "bad-block", new RegExp(`refused: CAR block ${b.cid} does not match its CID; nothing was stored`));
    assert.equal(bad.pulled(), bad.total, "the rest of the body is read (and dropped)");
    const noise = chunks(new TextEncoder().encode("this is not a CAR file at all, just some text"), 8);
    await refusedCar(readCar(noise.source, { maxBytes: 1 << 20 }), "bad-car", /^the body is not a CAR file: /);
    assert.equal(noise.pulled(), noise.total);
    // Noise over the limit is refused as too large, not as not-a-CAR.
    await refusedCar(readCar(chunks(new Uint8Array(100).fill(7), 10).source, { maxBytes: 50 }), "too-large", /over the 50-byte limit/);
    // A block whose CID cannot be read, among others: not a CAR, and the rest is read too.
    const broken = await car([a, b, ...rest]);
    const at = Buffer.from(broken).indexOf(Buffer.from(b.cid.bytes), 60);
    assert.ok(at > 0);
    broken[at] = 0x05; // no such CID version
    const mid = chunks(broken);
    await refusedCar(readCar(mid.source, { maxBytes: 1 << 20 }), "bad-car", /the body is not a CAR file/);
    assert.equal(mid.pulled(), mid.total, "the rest of the body is read (and dropped)");
    // A CAR cut short in its blocks.
    const whole = await car([a, b]);
    const cut = chunks(whole.subarray(0, whole.length - 1));
    await refusedCar(readCar(cut.source, { maxBytes: 1 << 20 }), "bad-car", /the body is not a CAR file/);
  });
});
