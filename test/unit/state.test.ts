// The data dir's replay guard (seen-requests) and token book (token-index), on
// a real temp folder: what survives a reload, what is forgotten, what the files
// hold afterwards. The mutation run (docs/security.md) reaches grid/state.ts here.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { issueToken } from "../../grid/capabilities.ts";
import { recordCid } from "../../grid/records.ts";
import { ReplayGuard, TokenBook } from "../../grid/state.ts";
import { BlockStore } from "../../grid/store.ts";
import type { PrivateKey } from "../../grid/keys.ts";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "pg-state-"));
const sig = (n: number) => new Uint8Array(64).fill(n);
const b64 = (n: number) => Buffer.from(sig(n)).toString("base64");
const lines = (file: string) => fs.readFileSync(file, "utf8").split("\n").filter(Boolean);
/** This process's descriptors open on `file`. */
const fdsOn = (file: string) => fs.readdirSync("/proc/self/fd").filter((fd) => {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`) === file;
  } catch {
    return false;
  }
}).length;

describe("replay guard", () => {
  it("forgets, on each use, only what is past the window on either side of now", async () => {
    const g = new ReplayGuard(path.join(tmp(), "seen"), 1000);
    await g.load(0);
    assert.equal(await g.use(sig(1), 0, 0), true);
    assert.equal(await g.use(sig(2), 3000, 0), true, "dated 3000 ms ahead");
    assert.equal(await g.use(sig(3), 600, 600), true);
    assert.equal(await g.use(sig(4), 1000, 1000), true);
    assert.equal(await g.use(sig(1), 0, 1000), false, "exactly one window old: still refused");
    assert.equal(await g.use(sig(3), 600, 1000), false, "inside the window: still refused");
    assert.equal(await g.use(sig(2), 3000, 1000), true, "2000 ms ahead of now: forgotten");
  });

  it("keeps on reload only well-formed lines within the window, and rewrites the file with them", async () => {
    const file = path.join(tmp(), "seen");
    fs.writeFileSync(file, [" 5000", "noTime", "a x", "b 4500.5", "c 3999", "d 4000", "e 5000", "f 6000", "g 6001", ""].join("\n"));
    const g = new ReplayGuard(file, 1000);
    await g.load(5000);
    assert.deepEqual(lines(file), ["d 4000", "e 5000", "f 6000"]);
  });

  it("creates its file readable by the owner only, holds one descriptor however many uses, and none once closed", async () => {
    const file = path.join(tmp(), "seen");
    const g = new ReplayGuard(file, 1000);
    await g.load(0);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    for (let i = 0; i < 5; i++) await g.use(sig(10 + i), 0, 0);
    assert.equal(fdsOn(file), 1);
    assert.deepEqual(lines(file), [10, 11, 12, 13, 14].map((n) => `${b64(n)} 0`), "each mark written as it is made");
    await g.close();
    assert.equal(fdsOn(file), 0);
    assert.equal(await g.use(sig(10), 0, 0), false, "closed, it still refuses what it saw");
    assert.equal(await g.use(sig(15), 0, 0), true, "and opens its file again for a new mark");
    assert.equal(lines(file).length, 6);
    await g.close();
  });
});

describe("replay guard's file", () => {
  it("opens it again after a failed open, instead of failing every later use", async () => {
    const dir = path.join(tmp(), "not-yet");
    const g = new ReplayGuard(path.join(dir, "seen"), 1000);
    await assert.rejects(g.use(sig(20), 0, 0), /ENOENT/);
    fs.mkdirSync(dir);
    assert.equal(await g.use(sig(21), 0, 0), true);
    assert.deepEqual(lines(path.join(dir, "seen")), [`${b64(21)} 0`]);
    await g.close();
  });
});

describe("token book", () => {
  it("writes each hop to the index once, and reads lines with surrounding whitespace", async () => {
    const dir = tmp();
    const index = path.join(dir, "token-index");
    const store = new BlockStore(path.join(dir, "blocks"));
    await store.open();
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => generateKeyPair("Ed25519") as Promise<PrivateKey>));
    const grant = { name: "t", grants: [{ type: "run", args: ["w", 1, { amount: 2, unit: "USD" }] }], depth: 1 };
    const t0 = await issueToken(a, { ...grant, audience: b.publicKey.raw });
    const t1 = await issueToken(b, { ...grant, audience: c.publicKey.raw });
    const book = new TokenBook(store, index);
    await book.load();
    await book.remember([t0, t1]);
    await book.remember([t0, t1]);
    assert.equal(lines(index).length, 2);
    // An index edited by hand (CRLF, indented) still loads.
    fs.writeFileSync(index, lines(index).map((l) => `  ${l}\r`).join("\n"));
    const again = new TokenBook(store, index);
    await again.load();
    assert.equal((await again.chainTo(await recordCid(t1)))?.length, 2);
  });
});
