// The container and VM examples deployed through a real grid node and its API.
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startDaemon } from "../../grid/daemon.ts";
import { GridClient } from "../../grid/api-client.ts";
import { deployCar } from "../../grid/deploy.ts";
import { DriverRegistry } from "../../grid/sandboxes/index.ts";
import { ContainerDriver } from "../../grid/sandboxes/container/index.ts";
import { ROOT, cleanupDirs, compileFile, deployHello, issueVia, newKey, startNode, tempDir, type TestNode } from "../grid/helpers.ts";
import { image } from "./helpers.ts";

describe("sandbox deploys through the node", () => {
  let node: TestNode;
  before(async () => {
    node = await startNode();
  });
  after(async () => {
    await node?.close();
    cleanupDirs();
  });

  async function deploy(file: string, workload: string) {
    const key = await newKey();
    const token = await issueVia(node, key, [{ type: "run", args: [workload] }]);
    const d = await deployHello(node, key, [token], await compileFile(file), { workload });
    let stdout = "";
    await node.client.logs(d.id, (e) => e.stream === "stdout" && (stdout += e.data), { follow: false });
    return { ...d, stdout };
  }

  test("the node reports both drivers available", async () => {
    const s = await node.client.status();
    assert.deepEqual(s.drivers.container, { ok: true });
    assert.deepEqual(s.drivers.vm, { ok: true });
  });

  test("examples/hello-container.pg is kept", async () => {
    const d = await deploy(join(ROOT, "examples/hello-container.pg"), "hello_container");
    assert.equal(d.sandbox, "container");
    assert.equal(d.stdout, "hello from a container on sandbox\n");
    assert.equal(d.assessment?.kept, true, d.assessment?.message);
  });

  test("examples/hello-vm.pg is kept", async () => {
    const d = await deploy(join(ROOT, "examples/hello-vm.pg"), "hello_vm");
    assert.equal(d.sandbox, "vm");
    assert.equal(d.stdout, "hello from a vm\n");
    assert.equal(d.assessment?.kept, true, d.assessment?.message);
  });

  test("a container that loops is broken at its time limit while the node keeps serving", async () => {
    const dir = tempDir("pg-sbx-");
    copyFileSync(image("busybox-rootfs.tar"), join(dir, "rootfs.tar"));
    writeFileSync(
      join(dir, "loop.pg"),
      `agent n { kind node }
agent dev "The deployer"
workload spin {
  sandbox container
  image "rootfs.tar"
  command ["/bin/sh", "-c", "while :; do :; done"]
  limits { memory 32MiB  time 3s  pids 8  cpu 0.5 }
}
promise n -> dev +run(spin) if holds(pass)
promise dev -> n -run(spin)
capability pass from n to dev { grants run(spin) }
`,
    );
    const pending = deploy(join(dir, "loop.pg"), "spin");
    // The API answers while the workload runs.
    const answers: number[] = [];
    const started = Date.now();
    while (Date.now() - started < 2000) {
      const t = Date.now();
      const s = await node.client.status();
      assert.ok(s.peerId);
      answers.push(Date.now() - t);
      await new Promise((r) => setTimeout(r, 200));
    }
    const d = await pending;
    assert.ok(answers.length >= 5, `status answered ${answers.length} times`);
    assert.equal(d.assessment?.kept, false);
    assert.equal(d.result?.reason, "time");
    assert.match(d.assessment!.message, /3 s time limit/);
  });
});

test("a deploy to a driver that cannot run here is refused with what to install", async () => {
  const dataDir = tempDir("pg-sbx-node-");
  const drivers = new DriverRegistry({ container: () => new ContainerDriver({ runtime: "/nonexistent/runc" }) });
  const d = await startDaemon({ dataDir, drivers });
  try {
    const client = new GridClient(d.url, d.token);
    const key = await newKey();
    const token = await issueVia({ ...d, client, dataDir } as TestNode, key, [{ type: "run", args: ["hello_container"] }]);
    const compiled = await compileFile(join(ROOT, "examples/hello-container.pg"));
    const car = await deployCar({ key, manifest: compiled.root, workload: "hello_container", chain: [token], blocks: compiled.blocks });
    await assert.rejects(client.deploy(car, { wait: true }), (e: Error & { status?: number }) => {
      assert.equal(e.status, 503);
      assert.match(e.message, /container sandbox is not available on this node: .*apt-get install runc/);
      return true;
    });
    assert.equal((await client.deployments()).length, 0);
  } finally {
    await d.close();
  }
});

test("the CLI deploys both examples (`promisegrid run`) and reports them kept", async () => {
  const home = tempDir("pg-sbx-home-");
  const env = { ...process.env, PROMISEGRID_HOME: home, PROMISEGRID_NODE_DIR: join(home, "node") };
  const cli = (...args: string[]) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      execFile(process.execPath, ["--import", "tsx", join(ROOT, "cli/main.ts"), ...args], { env, timeout: 120_000 }, (e, out, err) =>
        resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }),
      );
    });
  try {
    const c = await cli("run", join(ROOT, "examples/hello-container.pg"));
    assert.equal(c.code, 0, c.err);
    assert.equal(c.out, "hello from a container on sandbox\n");
    assert.match(c.err, /assessment: kept: hello_container exited with code 0/);
    const v = await cli("run", join(ROOT, "examples/hello-vm.pg"));
    assert.equal(v.code, 0, v.err);
    assert.equal(v.out, "hello from a vm\n");
    assert.match(v.err, /assessment: kept: hello_vm exited with code 0/);
    const s = await cli("node", "status");
    assert.match(s.out, /container: available/);
    assert.match(s.out, /vm: available/);
  } finally {
    await cli("node", "stop");
    const info = join(home, "node", "node.json");
    if (existsSync(info)) {
      try {
        process.kill(JSON.parse(readFileSync(info, "utf8")).pid, "SIGTERM");
      } catch {}
    }
    cleanupDirs();
  }
});
