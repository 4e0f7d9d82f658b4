// Sandbox benchmarks, in one run, interleaved so machine load hits all alike:
// 1. container: the hello-container example run by the driver and deployed
//    through a node (deploy -> exit), against a bare `runc run` of the same bundle;
// 2. VM: the hello-vm example run by the driver and deployed through a node,
//    against a bare qemu boot of the same kernel and initrd with the same flags.
// Needs `bash scripts/setup-sandboxes.sh` first.
import "../grid/polyfill.ts";
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { compile, loadProgram } from "../language/index.ts";
import { cliHost } from "../cli/load.ts";
import { startDaemon } from "../grid/daemon.ts";
import { GridClient } from "../grid/api-client.ts";
import { decodeToken, deployCar } from "../grid/deploy.ts";
import type { Driver, Job, RunOutput } from "../grid/sandboxes/driver.ts";
import { ContainerDriver, ociSpec } from "../grid/sandboxes/container/index.ts";
import { unpackImage } from "../grid/sandboxes/container/image.ts";
import { VmDriver, baseArgs, hostTscKhz } from "../grid/sandboxes/vm/index.ts";
import { image, jobFile, makeJob } from "../test/sandboxes/helpers.ts";

const ROOT = join(import.meta.dirname, "..");
const state = mkdtempSync(join(tmpdir(), "pg-bench-sbx-"));
chmodSync(state, 0o755); // the container's unprivileged user must reach the rootfs below it
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const quiet: RunOutput = { stdout: () => {}, stderr: () => {} };

function timed(cmd: string, args: string[]): Promise<number> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: "ignore" });
    c.on("error", reject);
    c.on("close", (code) => (code === 0 ? resolve(performance.now() - t) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

/** `runs` rounds after `warm` untimed ones, each a driver run, a bare run (`bare(i)`, its ms) and a deploy (its ms), interleaved so load hits all three alike: the three medians. */
async function medians(runs: number, warm: number, driver: Driver, job: Job, bare: (i: number) => Promise<number>, deploy: () => Promise<number>) {
  const drv: number[] = [], dep: number[] = [], bar: number[] = [];
  for (let i = 0; i < runs + warm; i++) {
    const t = performance.now();
    const r = await driver.run(job, quiet, new AbortController().signal);
    if (r.exitCode !== 0) throw new Error(`driver run failed: ${r.message}`);
    const dt = performance.now() - t;
    const bt = await bare(i);
    const pt = await deploy();
    if (i >= warm) (drv.push(dt), bar.push(bt), dep.push(pt));
  }
  return { driver: median(drv), bare: median(bar), deploy: median(dep) };
}

async function compiled(file: string) {
  // The examples name the images the setup script builds; in a linked worktree that folder may link to a shared one.
  return compile(loadProgram([join(ROOT, file)], cliHost), { readFile: (p) => readFileSync(p), roots: [join(ROOT, ".cache/sandboxes")] });
}

const d = await startDaemon({ dataDir: join(state, "node") });
try {
  const client = new GridClient(d.url, d.token);
  const key = await generateKeyPair("Ed25519");
  const deployer = async (file: string, workload: string) => {
    const c = await compiled(file);
    const token = decodeToken(await client.issue({ holder: Buffer.from(key.publicKey.raw).toString("hex"), grants: [{ type: "run", args: [workload] }] }));
    let first = true;
    return async () => {
      // The node keeps the blocks: send them with the first deploy only.
      const car = await deployCar({ key, manifest: c.root, workload, chain: [token], blocks: first ? c.blocks : [] });
      first = false;
      const t = performance.now();
      const info = await client.deploy(car, { wait: true });
      const dt = performance.now() - t;
      if (!info.assessment?.kept) throw new Error(`${workload} was not kept: ${info.assessment?.message ?? info.result?.message}`);
      return dt;
    };
  };

  const only = process.env.PROMISEGRID_BENCH_ONLY; // "container" or "vm" to run one half
  // Container: the example's image and command, as the driver and as a bare bundle.
  if (only !== "vm") {
    const driver = new ContainerDriver({ stateDir: join(state, "container") });
    const img = jobFile("busybox-oci.tar", readFileSync(image("busybox-oci.tar")));
    const command = ["/bin/sh", "-c", "echo hello from a container on $(hostname)"];
    const job: Job = makeJob("container", { image: img }, { memoryBytes: 64 << 20, timeMs: 10_000, pids: 32, cpu: 0.5 }, { command });
    const { rootfs, defaults } = await unpackImage(join(state, "container", "images"), img.cid, img.bytes);
    const bundle = join(state, "bare-bundle");
    mkdirSync(bundle, { mode: 0o755 });
    const runcRoot = join(state, "bare-runc");
    const deploy = await deployer("examples/hello-container.pg", "hello_container");
    const RUNS = 40;
    const m = await medians(RUNS, 5, driver, job, (i) => {
      const id = `bare-${i}`;
      writeFileSync(join(bundle, "config.json"), JSON.stringify(ociSpec(job, command, defaults, rootfs, `/promisegrid/${id}`)));
      return timed("runc", ["--root", runcRoot, "run", "--bundle", bundle, id]);
    }, deploy);
    console.log(`sandboxes: container hello, median of ${RUNS}: bare runc run ${m.bare.toFixed(1)} ms; driver run ${m.driver.toFixed(1)} ms (${(m.driver / m.bare).toFixed(2)}x); node deploy -> exit ${m.deploy.toFixed(1)} ms (${(m.deploy / m.bare).toFixed(2)}x, target <= 1.3x)`);
  }

  // VM: the example's kernel and initrd, as the driver and as a bare qemu boot.
  if (only !== "container") {
    const driver = new VmDriver({ stateDir: join(state, "vm") });
    const kernelPath = image("vmlinux"), initrdPath = image("initramfs.cpio.gz");
    const job = makeJob("vm", { kernel: jobFile("vmlinux", readFileSync(kernelPath)), initrd: jobFile("initrd", readFileSync(initrdPath)) }, { memoryBytes: 128 << 20, timeMs: 60_000, cpu: 1 });
    const accel = await driver.accelerator(kernelPath);
    const tsc = accel === "tcg" ? hostTscKhz() : undefined;
    const append = `console=ttyS0 quiet loglevel=1 panic=-1${tsc ? ` tsc_early_khz=${tsc}` : ""}`;
    const bareArgs = [...baseArgs(accel, 128, 1), "-kernel", kernelPath, "-initrd", initrdPath, "-append", append];
    const deploy = await deployer("examples/hello-vm.pg", "hello_vm");
    const RUNS = 6;
    const m = await medians(RUNS, 1, driver, job, () => timed("qemu-system-x86_64", bareArgs), deploy);
    console.log(`sandboxes: VM hello (${accel}), median of ${RUNS}: bare qemu boot ${m.bare.toFixed(0)} ms; driver run ${m.driver.toFixed(0)} ms (${(m.driver / m.bare).toFixed(2)}x); node deploy -> exit ${m.deploy.toFixed(0)} ms (${(m.deploy / m.bare).toFixed(2)}x, target <= 1.15x)`);
  }
} finally {
  await d.close();
  rmSync(state, { recursive: true, force: true });
}
