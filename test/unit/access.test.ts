// Which blocks a node gives away (grid/access.ts), on a real block store in a temporary directory: an output is given
// to no one, and a workload's output that equals a public chunk does not hide that chunk.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { BlockAccess } from "../../grid/access.ts";
import { BlockStore } from "../../grid/store.ts";

const rawCid = async (text: string) => CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(text)));

test("an output is given to no peer; one that prints a public chunk's bytes leaves that chunk public, across a restart", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-access-"));
  try {
    const store = new BlockStore(path.join(dir, "blocks"));
    await store.open();
    const files = ["index", "public", "outputs"].map((f) => path.join(dir, f)) as [string, string, string];
    const access = new BlockAccess(store, ...files);
    await access.load();
    const [chunk, secret] = [await rawCid("a workload file"), await rawCid("a run's output")];
    await access.makePublic([chunk]);
    await access.markOutput(secret);
    await access.markOutput(chunk); // a workload that printed the chunk's bytes
    await access.makePublic([secret]); // a manifest naming the output as a file chunk
    const given = async (a: BlockAccess) => [...(await a.allowed(undefined, undefined, [chunk, secret]))];
    assert.deepEqual(await given(access), [chunk.toString()]);
    const restarted = new BlockAccess(store, ...files);
    await restarted.load();
    assert.deepEqual(await given(restarted), [chunk.toString()]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
