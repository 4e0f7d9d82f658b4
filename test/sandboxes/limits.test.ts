// The node checks every limit and grant of what it is asked to run, whatever the
// compiler did: hand-edited manifests through a real node, and the 2^31 ms
// boundary of the time limit in all three real drivers.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, mock, test } from "node:test";
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { ContainerDriver } from "../../grid/sandboxes/container/index.ts";
import type { Driver, Job } from "../../grid/sandboxes/driver.ts";
import { longTimeout, MAX_TIMER_MS, NODE_MAXIMA } from "../../grid/sandboxes/limits.ts";
import { VmDriver } from "../../grid/sandboxes/vm/index.ts";
import { WasmDriver } from "../../grid/sandboxes/wasm/index.ts";
import { cleanupDirs, compileHello, deployHello, issueVia, newKey, nodeForTests, ROOT, tempDir, type Compiled, type TestNode } from "../grid/helpers.ts";
import { collect, image, jobFile, makeJob } from "./helpers.ts";

/** The compiled hello with its workload block edited as a hand-written manifest could be. */
async function edited(c: Compiled, edit: (w: Record<string, any>) => void): Promise<Compiled> {
  const blocks = [...c.blocks];
  const rootAt = blocks.findIndex((b) => b.cid.equals(c.root));
  const root = dagCbor.decode(blocks[rootAt]!.bytes) as Record<string, any>;
  const oldCid = CID.asCID(root.workloads.hello)!;
  const w = dagCbor.decode(blocks.find((b) => b.cid.equals(oldCid))!.bytes) as Record<string, any>;
  edit(w);
  const wBytes = dagCbor.encode(w);
  const wCid = CID.createV1(dagCbor.code, await sha256.digest(wBytes));
  root.workloads.hello = wCid;
  const rBytes = dagCbor.encode(root);
  const rCid = CID.createV1(dagCbor.code, await sha256.digest(rBytes));
  blocks[rootAt] = { cid: rCid, bytes: rBytes };
  blocks.push({ cid: wCid, bytes: wBytes });
  return { root: rCid, blocks };
}

describe("a node refuses hand-edited limits and grants", () => {
  let node: TestNode;
  let hello: Compiled;
  nodeForTests(async (n) => {
    node = n;
    hello = await compileHello();
  });

  const cases: [string, (w: Record<string, any>) => void, RegExp][] = [
    ["memory -1", (w) => (w.limits.memoryBytes = -1), /limit 'memory' \(memoryBytes\) must be greater than 0, got -1/],
    ["memory 0", (w) => (w.limits.memoryBytes = 0), /limit 'memory' \(memoryBytes\) must be greater than 0, got 0/],
    ["memory 1 PiB", (w) => (w.limits.memoryBytes = 2 ** 50), /limit 'memory' \(memoryBytes\) is 1125899906842624, over this node's maximum of 68719476736/],
    ["memory 1.5 bytes", (w) => (w.limits.memoryBytes = 1.5), /limit 'memory' \(memoryBytes\) must be a whole number/],
    ["time 0", (w) => (w.limits.timeMs = 0), /limit 'time' \(timeMs\) must be greater than 0, got 0/],
    ["time -1", (w) => (w.limits.timeMs = -1), /limit 'time' \(timeMs\) must be greater than 0/],
    ["time 2^31 ms", (w) => (w.limits.timeMs = 2 ** 31), /limit 'time' \(timeMs\) is 2147483648, over this node's maximum of 2147483647/],
    ["pids 0", (w) => (w.limits.pids = 0), /limit 'pids' \(pids\) must be greater than 0, got 0/],
    ["pids -1", (w) => (w.limits.pids = -1), /limit 'pids' \(pids\) must be greater than 0/],
    ["pids 10^9", (w) => (w.limits.pids = 1e9), /limit 'pids' \(pids\) is 1000000000, over this node's maximum of 32768/],
    ["cpu 0", (w) => (w.limits.cpu = 0), /limit 'cpu' \(cpu\) must be greater than 0/],
    ["cpu 1000", (w) => (w.limits.cpu = 1000), /limit 'cpu' \(cpu\) is 1000, over this node's maximum of 64/],
    ["pids as a string", (w) => (w.limits.pids = "lots"), /limit 'pids' \(pids\) must be a finite number, got "lots"/],
    ["cpu as null", (w) => (w.limits.cpu = null), /limit 'cpu' \(cpu\) must be a finite number, got null/],
    ["network host", (w) => (w.network = "host"), /network 'host' is not granted: this node grants no network to any workload/],
  ];
  for (const [what, edit, message] of cases) {
    test(`${what} is refused, naming the field, and nothing runs`, async () => {
      const key = await newKey();
      const before = (await node.client.deployments()).length;
      await assert.rejects(deployHello(node, key, [await issueVia(node, key)], await edited(hello, edit)), (e: Error & { status?: number }) => {
        assert.equal(e.status, 422, e.message);
        assert.match(e.message, /deploy refused: workload 'hello': /);
        assert.match(e.message, message);
        return true;
      });
      assert.equal((await node.client.deployments()).length, before, "no deployment was made");
    });
  }

  test("the largest time limit a node accepts runs normally", async () => {
    const key = await newKey();
    const d = await deployHello(node, key, [await issueVia(node, key)], await edited(hello, (w) => (w.limits.timeMs = NODE_MAXIMA.timeMs)));
    assert.equal(d.result?.reason, "exit", d.result?.message);
    assert.equal(d.assessment?.kept, true);
  });
});

describe("the 2^31 ms boundary in every driver", () => {
  const state = tempDir("pg-limits-state-");
  const jobs: Record<string, () => Job> = {
    wasm: () => makeJob("wasm", { module: jobFile("hello.wasm", readFileSync(join(ROOT, "examples/hello.wasm"))) }, { memoryBytes: 16 << 20, timeMs: 0 }),
    container: () => makeJob("container", { image: jobFile("rootfs.tar", readFileSync(image("busybox-rootfs.tar"))) }, { memoryBytes: 32 << 20, timeMs: 0 }, { command: ["/bin/sh", "-c", "sleep 0.2; echo done"] }),
    vm: () => makeJob("vm", { kernel: jobFile("vmlinux", readFileSync(image("vmlinux"))), initrd: jobFile("initrd", readFileSync(image("initramfs.cpio.gz"))) }, { memoryBytes: 128 << 20, timeMs: 0 }),
  };
  const drivers: Record<string, Driver> = { wasm: new WasmDriver(), container: new ContainerDriver({ stateDir: state }), vm: new VmDriver({ stateDir: state }) };
  after(async () => {
    await (drivers.wasm as WasmDriver).close();
    cleanupDirs();
  });
  for (const kind of ["wasm", "container", "vm"]) {
    test(`${kind}: 2^31-1 ms runs to its end; 2^31 ms is refused, never fired at once`, async () => {
      const ok = jobs[kind]!();
      ok.limits.timeMs = MAX_TIMER_MS;
      const r = await drivers[kind]!.run(ok, collect(), new AbortController().signal);
      assert.equal(r.reason, "exit", r.message);
      assert.equal(r.exitCode, 0);
      const over = jobs[kind]!();
      over.limits.timeMs = MAX_TIMER_MS + 1;
      const o = await drivers[kind]!.run(over, collect(), new AbortController().signal);
      assert.equal(o.reason, "error", o.message);
      assert.match(o.message, /refused: limit 'time' \(timeMs\) is 2147483648, over this node's maximum/);
    });
  }
});

test("longTimeout chains delays past 2^31-1 ms instead of firing at once", () => {
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: 0 });
  // Node fires a delay over 2^31-1 ms at once; mock timers do not, so record every delay asked for.
  const delays: number[] = [];
  const mocked = globalThis.setTimeout;
  globalThis.setTimeout = ((fn: () => void, ms: number) => (delays.push(ms), mocked(fn, ms))) as typeof setTimeout;
  try {
    let fired = 0;
    longTimeout(() => fired++, 3 * MAX_TIMER_MS + 5);
    mock.timers.tick(1);
    assert.equal(fired, 0, "not at once");
    mock.timers.tick(3 * MAX_TIMER_MS);
    assert.equal(fired, 0, "not before its time");
    mock.timers.tick(4);
    assert.equal(fired, 1);
    const t = longTimeout(() => fired++, 2 * MAX_TIMER_MS);
    mock.timers.tick(MAX_TIMER_MS + 10);
    t.clear();
    mock.timers.tick(2 * MAX_TIMER_MS);
    assert.equal(fired, 1, "a cleared chain never fires");
    assert.ok(delays.every((d) => d <= MAX_TIMER_MS), `no delay over 2^31-1 ms: ${delays}`);
  } finally {
    globalThis.setTimeout = mocked;
    mock.timers.reset();
  }
});
