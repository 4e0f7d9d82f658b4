// Envelope, protocol CID, block store, memory capping, hello.wasm build and CRDT merges.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import * as dagCbor from "@ipld/dag-cbor";
import { HASHES } from "../../language/hashes.ts";
import { BlockStore } from "../../grid/store.ts";
import { PROTOCOL_CID, encodeEnvelope, decodeEnvelope, EnvelopeError } from "../../grid/envelope.ts";
import { capMemory, ModuleError } from "../../grid/sandboxes/wasm/memory.ts";
import { GridState } from "../../grid/state.ts";
import { issueToken } from "../../grid/capabilities.ts";
import { recordCid, signRecord, type RevocationPayload, type AssessmentPayload, type Signed } from "../../grid/records.ts";
import { loadOrCreateKey } from "../../grid/keys.ts";
import { statSync } from "node:fs";
import { ROOT, tempDir, cleanupDirs, newKey } from "./helpers.ts";

after(cleanupDirs);

test("pCID is the CID of docs/protocol/grid-v0.md", async () => {
  const bytes = readFileSync(join(ROOT, "docs/protocol/grid-v0.md"));
  const cid = CID.createV1(raw.code, await HASHES["sha2-256"].digest(bytes));
  assert.equal(PROTOCOL_CID.toString(), cid.toString(), "update PROTOCOL_CID in grid/envelope.ts after editing the spec");
});

test("envelope: tag 1735551332 around [42(pCID), ...payload]; others refused", () => {
  const bytes = encodeEnvelope(["want", [PROTOCOL_CID]]);
  assert.deepEqual([...bytes.subarray(0, 5)], [0xda, 0x67, 0x72, 0x69, 0x64]);
  const payload = decodeEnvelope(bytes);
  assert.equal(payload[0], "want");
  assert.throws(() => decodeEnvelope(dagCbor.encode([PROTOCOL_CID, "want"])), EnvelopeError);
  const other = CID.parse("bafkreiepinbumzepnoln7co5vea4kf3lcctnqolb3u6bvsellgznymt2uq");
  const foreign = new Uint8Array([0xda, 0x67, 0x72, 0x69, 0x64, ...dagCbor.encode([other, "want"])]);
  assert.throws(() => decodeEnvelope(foreign), /unknown protocol/);
  assert.throws(() => decodeEnvelope(new Uint8Array([0xda, 0x67, 0x72, 0x69, 0x64, 0xff])), /malformed/);
});

test("examples/hello.wasm is what wat2wasm makes of examples/hello.wat", () => {
  const out = join(tempDir(), "hello.wasm");
  execFileSync("wat2wasm", [join(ROOT, "examples/hello.wat"), "-o", out]);
  assert.deepEqual(readFileSync(out), readFileSync(join(ROOT, "examples/hello.wasm")));
});

test("block store: verifies on put and on read, any multihash", async () => {
  const store = new BlockStore(join(tempDir(), "blocks"));
  await store.open();
  const bytes = new TextEncoder().encode("some block");
  for (const name of ["sha2-256", "sha2-512", "blake3", "blake2b-256"]) {
    const cid = CID.createV1(raw.code, await HASHES[name].digest(bytes));
    await store.put(cid, bytes);
    assert.deepEqual(await store.get(cid), bytes);
  }
  const cid = CID.createV1(raw.code, await HASHES["sha2-256"].digest(bytes));
  const wrong = CID.createV1(raw.code, await HASHES["sha2-256"].digest(new TextEncoder().encode("other")));
  await assert.rejects(store.put(wrong, bytes), /do not match/);
  assert.equal(await store.has(wrong), false);
  // Corrupt the file behind the store's back: the read notices and drops it.
  writeFileSync(join(store.dir, cid.toString()), "tampered");
  await assert.rejects(store.get(cid), /corrupt/);
  assert.equal(await store.has(cid), false);
  assert.deepEqual(readdirSync(join(store.dir, ".tmp")), []);
});

test("identity key is created with mode 0600 and reloaded", async () => {
  const path = join(tempDir(), "key");
  const a = await loadOrCreateKey(path);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const b = await loadOrCreateKey(path);
  assert.deepEqual(a.publicKey.raw, b.publicKey.raw);
});

test("capMemory sets the memory maximum and refuses an initial size over the cap", () => {
  // (module (memory 2)) and (module (memory 300 400))
  const small = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0, 2]);
  const capped = capMemory(small, 4 * 65536);
  assert.deepEqual([...capped.subarray(8)], [5, 4, 1, 1, 2, 4]);
  const mem = new WebAssembly.Memory({ initial: 1 });
  assert.ok(mem);
  const module = new WebAssembly.Module(capped as Uint8Array<ArrayBuffer>);
  assert.ok(module);
  const big = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 6, 1, 1, 0xac, 2, 0x90, 3]);
  assert.throws(() => capMemory(big, 16 * 65536), (e: Error) => e instanceof ModuleError && /initial memory/.test(e.message));
  assert.throws(() => capMemory(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), 65536), /not a WebAssembly module/);
});

test("shared state merges the same in every order, and drops forged records", async () => {
  const keys = [await newKey(), await newKey(), await newKey()];
  const records: Signed[] = [];
  for (let i = 0; i < 6; i++) {
    const k = keys[i % 3];
    const token = CID.createV1(dagCbor.code, await HASHES["sha2-256"].digest(new Uint8Array([i])));
    if (i % 2 === 0) {
      const own = await issueToken(k, { name: `t${i}`, audience: k.publicKey.raw, grants: [] });
      records.push(await signRecord(k, { type: "promisegrid/revocation", v: 0, token: await recordCid(own), by: k.publicKey.raw, chain: [own], at: i } as RevocationPayload));
    } else {
      records.push(await signRecord(k, { type: "promisegrid/assessment", v: 0, node: k.publicKey.raw, deployment: `d${i}`, manifest: token, workload: "w", kept: true, exitCode: 0, reason: "exit", message: "ok", output: null, at: i } as AssessmentPayload));
    }
  }
  // Three states each see a different subset; merge them in all 6 orders.
  const subsets = [[0, 1, 2], [2, 3, 4], [4, 5, 0]];
  const states = await Promise.all(subsets.map(async (s) => {
    const st = new GridState();
    for (const i of s) await st.add(records[i]);
    return st;
  }));
  const orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
  const summaries = new Set<string>();
  for (const order of orders) {
    const st = new GridState();
    for (const i of order) await st.merge(states[i]);
    await st.merge(states[order[0]]); // idempotent
    summaries.add(JSON.stringify(st.summary()));
    assert.equal(st.summary().length, 6);
  }
  assert.equal(summaries.size, 1);
  const forged = { ...records[0], payload: { ...records[0].payload, at: 999 } };
  await assert.rejects(new GridState().add(forged), /signature/);
});
