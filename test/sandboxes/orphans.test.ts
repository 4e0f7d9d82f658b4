// Nothing a node started outlives it: real node processes SIGKILLed while a
// container (runc) and a VM (qemu) run, then restarted on the same data dir;
// and one node per data dir.
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { cleanupDirs, compileFile, newKey, tempDir, waitFor } from "../grid/helpers.ts";
import { image, initrdWith, writeWorkloads } from "./helpers.ts";
import { deployNoWait, killNode, pidsWith, startNodeProcess, type NodeProcess } from "./node-process.ts";

const dir = tempDir("pg-orphans-");
const mark = `MARK${process.pid}x`;
writeFileSync(join(dir, "sleep.cpio"), initrdWith("sleep 600"));
// Workload files stay inside the project: the images are copied beside w.pg.
copyFileSync(image("busybox-rootfs.tar"), join(dir, "rootfs.tar"));
copyFileSync(image("vmlinux"), join(dir, "vmlinux"));
writeWorkloads(dir, {
  c1: `sandbox container  image "rootfs.tar"  command ["/bin/sh", "-c", "sleep 600; echo ${mark}-c1"]  limits { memory 32MiB  time 60s  pids 8 }`,
  c2: `sandbox container  image "rootfs.tar"  command ["/bin/sh", "-c", "sleep 600; echo ${mark}-c2"]  limits { memory 32MiB  time 60s  pids 8 }`,
  v1: `sandbox vm  kernel "vmlinux"  initrd "sleep.cpio"  limits { memory 128MiB  time 60s }`,
});

const dataDir = tempDir("pg-orphans-node-");
const nodes: NodeProcess[] = [];
after(async () => {
  for (const n of nodes) await killNode(n);
  for (const p of [...pidsWith(mark), ...pidsWith("pg-watchdog")]) {
    try {
      process.kill(p, "SIGKILL");
    } catch {}
  }
  cleanupDirs();
});

function containers(): string[] {
  const root = join(dataDir, "sandboxes", "runc");
  if (!existsSync(root)) return [];
  return execFileSync("runc", ["--root", root, "list", "-q"], { encoding: "utf8" }).split("\n").filter(Boolean);
}
const journal = () => (existsSync(join(dataDir, "sandbox-runs")) ? readdirSync(join(dataDir, "sandbox-runs")) : []);

test("a SIGKILLed node leaves nothing running: the VM dies with it, the container within seconds, and the next node cleans up", async () => {
  const compiled = await compileFile(join(dir, "w.pg"));
  const key = await newKey();
  const first = await startNodeProcess(dataDir);
  nodes.push(first);
  await deployNoWait(first, key, compiled, "c1");
  const vm = await deployNoWait(first, key, compiled, "v1");
  await waitFor("the container's workload", () => pidsWith(`${mark}-c1`).length > 0, 20_000);
  await waitFor("qemu", () => pidsWith(`pg-${vm.id}-`).length > 0, 20_000);
  assert.equal(journal().length, 2, "both runs are recorded in the data dir");

  await killNode(first);
  // qemu is killed by the kernel with its parent; the container by its watchdog, long before its 60 s limit.
  await waitFor("qemu to die with the node", () => pidsWith(`pg-${vm.id}-`).length === 0, 5000);
  await waitFor("the container to die after the node", () => pidsWith(`${mark}-c1`).length === 0, 8000);

  const second = await startNodeProcess(dataDir);
  nodes.push(second);
  assert.deepEqual(journal(), [], "the restarted node reaped every recorded run");
  assert.deepEqual(containers(), []);
  assert.deepEqual(readdirSync(join(dataDir, "sandboxes", "runs")), [], "no bundle is left");
});

test("a container whose watchdog was killed too is ended by the next node on the data dir", async () => {
  const compiled = await compileFile(join(dir, "w.pg"));
  const key = await newKey();
  const node = nodes.at(-1)!;
  const c2 = await deployNoWait(node, key, compiled, "c2");
  await waitFor("the container's workload", () => pidsWith(`${mark}-c2`).length > 0, 20_000);
  for (const p of pidsWith("pg-watchdog")) process.kill(p, "SIGKILL");
  await killNode(node);
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok(pidsWith(`${mark}-c2`).length > 0, "with no node and no watchdog the container is an orphan");
  assert.deepEqual(containers().map((c) => c.startsWith(`pg-${c2.id}-`)), [true]);

  const next = await startNodeProcess(dataDir);
  nodes.push(next);
  assert.deepEqual(pidsWith(`${mark}-c2`), [], "the orphan was killed before the node said it was ready");
  assert.deepEqual(containers(), []);
  assert.deepEqual(journal(), []);
});

test("a second node on the same data dir is refused and the first keeps its node.json", async () => {
  const running = nodes.at(-1)!;
  await assert.rejects(startNodeProcess(dataDir), (e: Error & { code?: number; stderr?: string }) => {
    assert.equal(e.code, 1);
    assert.match(e.stderr!, new RegExp(`the data dir ${dataDir} is in use by another node \\(pid ${running.pid}\\): stop it first`));
    return true;
  });
  assert.equal(JSON.parse(readFileSync(join(dataDir, "node.json"), "utf8")).pid, running.pid);
  assert.ok((await running.client.status()).peerId, "the first node still answers");
});
