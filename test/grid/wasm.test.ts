// The WASM sandbox through a real node: output, no files, time and memory limits, host keeps serving.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiError } from "../../grid/api-client.ts";
import { startDaemon } from "../../grid/daemon.ts";
import { GridClient } from "../../grid/api-client.ts";
import { DriverRegistry } from "../../grid/sandboxes/index.ts";
import { WasmDriver } from "../../grid/sandboxes/wasm/index.ts";
import { compileHello, compileWorkload, deployHello, issueVia, newKey, nodeForTests, tempDir, wat, type TestNode } from "./helpers.ts";
import type { PrivateKey } from "../../grid/keys.ts";

let node: TestNode;
let dev: PrivateKey;
nodeForTests(async (n) => {
  node = n;
  dev = await newKey();
});

async function runModule(name: string, module: Uint8Array, limits: { memory?: string; time?: string } = {}) {
  const compiled = await compileWorkload({ name, module, ...limits });
  const chain = [await issueVia(node, dev, [{ type: "run", args: [name] }])];
  const info = await deployHello(node, dev, chain, compiled, { workload: name });
  let output = "";
  await node.client.logs(info.id, (e) => (output += e.data));
  return { info, output };
}

async function stillServing(): Promise<void> {
  const s = await node.client.status();
  assert.equal(s.drivers.wasm.ok, true);
}

test("hello runs and its output is captured", async () => {
  const hello = await compileHello();
  const info = await deployHello(node, dev, [await issueVia(node, dev)], hello);
  let out = "";
  const end = await node.client.logs(info.id, (e) => (out += e.data));
  assert.equal(out, "hello, grid\n");
  assert.equal(end.result?.exitCode, 0);
  assert.match(end.assessment!.message, /^kept: hello/);
  const driver = node.node.drivers.get("wasm") as WasmDriver;
  const compiled = driver.compiled;
  await deployHello(node, dev, [await issueVia(node, dev)], hello);
  assert.equal(driver.compiled, compiled, "a repeated deploy reuses the compiled module");
});

test("the workload gets the manifest's env and nothing of the host's", async () => {
  const { info, output } = await runModule("envs", await wat("env"));
  assert.equal(info.result?.exitCode, 0);
  assert.equal(output, "", "no host environment leaks in");
  const compiled = await compileWorkload({ name: "envs2", module: await wat("env"), env: { GREETING: "hello", TARGET: "grid" } });
  const d = await deployHello(node, dev, [await issueVia(node, dev, [{ type: "run", args: ["envs2"] }])], compiled, { workload: "envs2" });
  let out = "";
  await node.client.logs(d.id, (e) => (out += e.data));
  assert.deepEqual(out.split("\n").filter(Boolean).sort(), ["GREETING=hello", "TARGET=grid"]);
});

test("a module that reads /etc/passwd gets no access", async () => {
  const { info, output } = await runModule("passwd", await wat("passwd"));
  assert.match(output, /^denied \d\d\n$/);
  assert.doesNotMatch(output, /OPENED|root:/);
  assert.equal(info.result?.exitCode, 0);
  await stillServing();
});

test("an infinite loop is stopped at its time limit", async () => {
  const { info } = await runModule("spin", await wat("loop"), { time: "500ms" });
  assert.equal(info.result?.reason, "time");
  assert.match(info.result!.message, /time limit/);
  assert.ok(info.result!.durationMs >= 490 && info.result!.durationMs < 5000, String(info.result!.durationMs));
  assert.equal(info.assessment?.kept, false);
  await stillServing();
});

test("a memory hog is stopped at its memory limit", async () => {
  const { info } = await runModule("hog", await wat("hog"), { memory: "8MiB" });
  assert.equal(info.result?.reason, "memory");
  assert.match(info.result!.message, /memory limit of 8388608 bytes/);
  assert.equal(info.assessment?.kept, false);
  await stillServing();
});

test("the node keeps serving while a workload loops", async () => {
  const compiled = await compileWorkload({ name: "busy", module: await wat("loop"), time: "2s" });
  const chain = [await issueVia(node, dev, [{ type: "run", args: ["busy"] }])];
  const { deployCar } = await import("../../grid/deploy.ts");
  const started = await node.client.deploy(await deployCar({ key: dev, manifest: compiled.root, workload: "busy", chain, blocks: compiled.blocks }));
  assert.equal(started.state, "running");
  await stillServing();
  const hello = await compileHello();
  const other = await deployHello(node, dev, [await issueVia(node, dev)], hello);
  assert.equal(other.assessment?.kept, true, "another deploy runs meanwhile");
  const stopped = await node.client.stop(started.id);
  assert.equal(stopped.result?.reason, "stopped");
  assert.equal(stopped.state, "stopped");
});

test("a deploy to an unavailable driver is refused with the driver's reason", async () => {
  const d = await startDaemon({ dataDir: tempDir(), drivers: new DriverRegistry({ wasm: () => new WasmDriver() }) });
  try {
    const client = new GridClient(d.url, d.token);
    const status = await client.status();
    assert.equal(status.drivers.vm.ok, false);
    const compiled = await compileWorkload({ name: "box", sandbox: "vm", memory: "64MiB" });
    const { decodeToken, deployCar } = await import("../../grid/deploy.ts");
    const token = decodeToken(await client.issue({ holder: Buffer.from(dev.publicKey.raw).toString("hex"), grants: [{ type: "run", args: ["box"] }] }));
    const car = await deployCar({ key: dev, manifest: compiled.root, workload: "box", chain: [token], blocks: compiled.blocks });
    await assert.rejects(client.deploy(car), (e: unknown) => e instanceof ApiError && e.status === 503 && /vm sandbox is not available on this node: no vm driver is built into this node/.test(e.message));
    assert.equal((await client.status()).deployments, 0);
  } finally {
    await d.close();
  }
});
