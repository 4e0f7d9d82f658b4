// The manifest decoder: what the compiler writes reads back typed; anything
// else is refused with a message that names the part that is wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { decodeManifest, decodeWorkload, ManifestError, pickWorkload } from "../../grid/manifest.ts";
import { compileHello } from "./helpers.ts";

test("a compiled manifest decodes to the compiler's shapes", async () => {
  const m = await compileHello();
  const root = decodeManifest(m.blocks[0].bytes);
  assert.deepEqual(Object.keys(root.workloads), ["hello"]);
  assert.equal(root.capabilities[0].name, "deploy_pass");
  const wBlock = m.blocks.find((b) => b.cid.equals(root.workloads.hello))!;
  const w = decodeWorkload(wBlock.bytes, "hello");
  assert.equal(w.sandbox, "wasm");
  assert.deepEqual(w.args, ["grid"]);
  assert.equal(w.limits.memoryBytes, 64 * 1024 * 1024);
  assert.equal(w.limits.timeMs, 2000);
  assert.equal(w.files.module.name, "hello.wasm");
  assert.ok(w.files.module.chunks.every((c) => CID.asCID(c)));
  assert.deepEqual(pickWorkload(m), { workload: "hello", capability: root.capabilities[0] });
});

test("malformed manifests are refused, naming the part", async () => {
  const m = await compileHello();
  const root = dagCbor.decode(m.blocks[0].bytes) as Record<string, unknown>;
  const wBlock = m.blocks.find((b) => b.cid.equals((root.workloads as Record<string, CID>).hello))!;
  const w = dagCbor.decode(wBlock.bytes) as Record<string, unknown>;
  const bad = (v: unknown) => dagCbor.encode(v);
  assert.throws(() => decodeManifest(new Uint8Array([0xff])), (e) => e instanceof ManifestError && /root block is not DAG-CBOR/.test(e.message));
  assert.throws(() => decodeManifest(bad({ ...root, type: "other" })), /not a promisegrid\/manifest/);
  assert.throws(() => decodeManifest(bad({ ...root, workloads: { hello: "bafy" } })), /workload 'hello' links to a non-CID/);
  assert.throws(() => decodeManifest(bad({ ...root, capabilities: [{ name: "c", grants: [{ type: "run" }] }] })), /capability 'c' is malformed/);
  assert.throws(() => decodeWorkload(bad({ ...w, sandbox: "jail" }), "hello"), /workload 'hello' has an unknown sandbox/);
  assert.throws(() => decodeWorkload(bad({ ...w, limits: { memoryBytes: 1 } }), "hello"), /no memory and time limits/);
  const files = w.files as Record<string, Record<string, unknown>>;
  assert.throws(() => decodeWorkload(bad({ ...w, files: { module: { ...files.module, size: "1" } } }), "hello"), /file 'module' is malformed/);
  assert.throws(() => decodeWorkload(bad({ ...w, files: { module: { ...files.module, chunks: [7] } } }), "hello"), /file 'module' links to a non-CID/);
});

test("a workload named like an Object property stays a plain name", async () => {
  const m = await compileHello();
  const root = dagCbor.decode(m.blocks[0].bytes) as Record<string, unknown>;
  const link = (root.workloads as Record<string, CID>).hello;
  const decoded = decodeManifest(dagCbor.encode({ ...root, workloads: { ["__proto__"]: link } }));
  assert.deepEqual(Object.keys(decoded.workloads), ["__proto__"]);
  assert.ok(Object.getPrototypeOf(decoded.workloads) === Object.prototype);
  assert.ok(!Object.hasOwn(decodeManifest(m.blocks[0].bytes).workloads, "constructor"));
});
