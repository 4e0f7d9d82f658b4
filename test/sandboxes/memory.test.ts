// The node's own memory stays bounded whatever a deployer sends or a workload
// prints: a real node process, its VmRSS read from /proc while each case runs.
import { strict as assert } from "node:assert";
import { request } from "node:http";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createHash } from "node:crypto";
import * as dagCbor from "@ipld/dag-cbor";
import { create as createDigest } from "multiformats/hashes/digest";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import * as raw from "multiformats/codecs/raw";
import { MAX_CAR_BLOCKS } from "../../grid/store.ts";
import { droppedNotice, keepOutput, MAX_KEPT_OUTPUT } from "../../grid/output-cap.ts";
import { VmDriver } from "../../grid/sandboxes/vm/index.ts";
import { WasmDriver } from "../../grid/sandboxes/wasm/index.ts";
import { execFileSync } from "node:child_process";
import { cleanupDirs, compileFile, newKey, tempDir } from "../grid/helpers.ts";
import { image, initrdWith, jobFile, makeJob, writeWorkloads } from "./helpers.ts";
import { deployNoWait, killNode, startNodeProcess, type NodeProcess } from "./node-process.ts";

/** How far the node's resident memory may rise above its idle level in any case here (docs/sandboxes.md). */
const RSS_BOUND = 96 * 1048576;
const MiB = (n: number) => `${Math.round(n / 1048576)} MiB`;

const dir = tempDir("pg-memory-");
const NOLINE_BYTES = 160 * 1024;
writeFileSync(join(dir, "noline.cpio"), initrdWith(`head -c ${NOLINE_BYTES} /dev/zero | tr '\\0' 0; exit 0`));
// Workload files stay inside the project: the images are copied beside w.pg.
copyFileSync(image("busybox-rootfs.tar"), join(dir, "rootfs.tar"));
copyFileSync(image("vmlinux"), join(dir, "vmlinux"));
writeWorkloads(dir, {
  flood: `sandbox container  image "rootfs.tar"  command ["/bin/sh", "-c", "yes xxxxxxxxxxxxxxx | head -c 134217728"]  limits { memory 32MiB  time 60s  pids 8 }`,
});

let node: NodeProcess;
const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${node.pid}/status`, "utf8"))![1]) * 1024;

/** Runs `body` while sampling the node's RSS; returns the peak above the level it started at. */
async function peakDuring(body: () => Promise<void>): Promise<number> {
  const idle = rss();
  let peak = idle;
  const t = setInterval(() => (peak = Math.max(peak, rss())), 20);
  try {
    await body();
  } finally {
    clearInterval(t);
  }
  return Math.max(peak, rss()) - idle;
}

before(async () => {
  node = await startNodeProcess(tempDir("pg-memory-node-"));
  await node.client.status();
});
after(async () => {
  await killNode(node);
  cleanupDirs();
});


/** An unsigned LEB128 varint, as CAR frames use. */
function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n);
  return Buffer.from(out);
}

test(`a CAR of ${MAX_CAR_BLOCKS * 25} tiny blocks is refused without the node's memory growing past the bound`, async () => {
  // Written by hand (varint length, CID, bytes per block): CarWriter takes seconds for this many.
  const block = (i: number) => {
    const bytes = Buffer.alloc(8);
    bytes.writeUInt32BE(i);
    const cid = CID.createV1(raw.code, createDigest(sha256.code, createHash("sha256").update(bytes).digest())).bytes;
    return Buffer.concat([varint(cid.length + bytes.length), cid, bytes]);
  };
  const header = dagCbor.encode({ version: 1, roots: [CID.parse("bafkqaaa")] });
  const parts = [varint(header.length), header];
  for (let i = 0; i < MAX_CAR_BLOCKS * 25; i++) parts.push(block(i));
  const car = Buffer.concat(parts);
  let error: (Error & { status?: number }) | undefined;
  const peak = await peakDuring(async () => {
    error = await node.client.deploy(car).then(() => undefined, (e) => e);
  });
  assert.equal(error?.status, 413, String(error));
  assert.match(error!.message, new RegExp(`the CAR holds more than ${MAX_CAR_BLOCKS} blocks; nothing was stored`));
  assert.ok(peak < RSS_BOUND, `the node grew by ${MiB(peak)} (bound ${MiB(RSS_BOUND)})`);
  assert.ok((await node.client.status()).peerId, "the node still answers");
});

test("a container printing 128 MiB to a log follower that does not read: the follower is dropped, the output kept up to the cap", async () => {
  const compiled = await compileFile(join(dir, "w.pg"));
  const d = await deployNoWait(node, await newKey(), compiled, "flood");
  const api = new URL(node.api);
  let followerBytes = 0;
  let followerEnded = false;
  const peak = await peakDuring(async () => {
    // A follower that reads nothing until the run has ended.
    const res = await new Promise<import("node:http").IncomingMessage>((resolve) => {
      request({ host: api.hostname, port: api.port, path: `/v0/deployments/${d.id}/logs`, headers: { authorization: `Bearer ${node.token}` } }, resolve).end();
    });
    res.pause();
    for (;;) {
      const info = await node.client.deployment(d.id);
      if (info.result) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    res.on("data", (c: Buffer) => (followerBytes += c.length));
    await new Promise<void>((r) => res.on("close", () => ((followerEnded = true), r())).resume());
  });
  const info = await node.client.deployment(d.id);
  assert.equal(info.result?.exitCode, 0, info.result?.message);
  assert.ok(followerEnded && followerBytes < 64 * 1048576, `the slow follower got ${MiB(followerBytes)} and was disconnected`);
  let kept = "";
  await node.client.logs(d.id, (e) => (kept += e.data), { follow: false });
  assert.equal(kept.length, MAX_KEPT_OUTPUT + `\n[promisegrid: output past the first ${MAX_KEPT_OUTPUT} bytes was not kept]\n`.length);
  assert.match(kept, /^(x{15}\n){65536}\n\[promisegrid: output past the first 1048576 bytes was not kept\]\n$/);
  assert.ok(peak < RSS_BOUND, `the node grew by ${MiB(peak)} (bound ${MiB(RSS_BOUND)})`);
});

test("a VM printing without a newline has its console passed on in bounded pieces as it runs", async () => {
  // Through the driver: under TCG the serial console carries about 100 KB/s, too slow to fill the node's cap here.
  const driver = new VmDriver({ stateDir: tempDir("pg-memory-vm-") });
  const chunks: number[] = [];
  let text = "";
  const job = makeJob("vm", { kernel: jobFile("vmlinux", readFileSync(image("vmlinux"))), initrd: jobFile("noline", readFileSync(join(dir, "noline.cpio"))) }, { memoryBytes: 128 << 20, timeMs: 60_000 });
  const r = await driver.run(job, { stdout: (c) => (chunks.push(c.length), (text += Buffer.from(c).toString())), stderr: () => {} }, new AbortController().signal);
  assert.equal(r.exitCode, 0, r.message);
  assert.equal(text, "0".repeat(NOLINE_BYTES), "all of it, and nothing else");
  assert.ok(chunks.length > 1 && Math.max(...chunks) <= 128 * 1024, `pieces of 64 KiB and a console read at most: ${chunks}`);
});

test("a single chunk longer than the cap is kept up to the cap, with a line saying so", () => {
  const d = { logs: [] as { stream: "stdout" | "stderr"; data: string }[], logBytes: 0 };
  const output: Uint8Array[] = [];
  const big = Buffer.alloc(2 * MAX_KEPT_OUTPUT, "y");
  keepOutput(d, output, { stream: "stdout", data: big.toString() }, big);
  keepOutput(d, output, { stream: "stdout", data: "more" }, Buffer.from("more"));
  assert.equal(Buffer.concat(output).length, MAX_KEPT_OUTPUT);
  assert.equal(d.logs.map((e) => e.data).join(""), "y".repeat(MAX_KEPT_OUTPUT) + droppedNotice().data);
  assert.equal(d.logBytes, 2 * MAX_KEPT_OUTPUT + 4);
  // Chunks that fill the cap exactly, then one more: the line comes once, after them.
  const e = { logs: [] as { stream: "stdout" | "stderr"; data: string }[], logBytes: 0 };
  const half = Buffer.alloc(MAX_KEPT_OUTPUT / 2, "z");
  for (let i = 0; i < 4; i++) keepOutput(e, [], { stream: "stdout", data: half.toString() }, half);
  assert.equal(e.logs.map((x) => x.data).join(""), "z".repeat(MAX_KEPT_OUTPUT) + droppedNotice().data);
});

test("a WASM module flooding stdout while the node is busy waits for it: output in flight stays bounded", async () => {
  const wasm = join(tempDir("pg-memory-wasm-"), "flood.wasm");
  execFileSync("wat2wasm", [join(import.meta.dirname, "fixtures/flood.wat"), "-o", wasm]);
  const driver = new WasmDriver();
  const before = process.memoryUsage().rss;
  let grown = 0;
  let bytes = 0;
  const r = await driver.run(
    makeJob("wasm", { module: jobFile("flood.wasm", readFileSync(wasm)) }, { memoryBytes: 1 << 20, timeMs: 60_000 }),
    {
      stdout: (c) => {
        if (bytes === 0) {
          // The node's thread is busy for 500 ms: a module that did not wait would queue hundreds of MiB meanwhile.
          const t = Date.now();
          while (Date.now() - t < 500);
          grown = process.memoryUsage().rss - before;
        }
        bytes += c.length;
      },
      stderr: () => {},
    },
    new AbortController().signal,
  );
  await driver.close();
  assert.equal(r.exitCode, 0, r.message);
  assert.equal(bytes, 256 * 1048576);
  assert.ok(grown < 40 * 1048576, `memory grew by ${MiB(grown)} while the node was busy`);
});
