// The VM driver, through the Driver interface, with real qemu (KVM if it works, else TCG).
import { strict as assert } from "node:assert";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { Job, Limits } from "../../grid/sandboxes/driver.ts";
import { VmDriver } from "../../grid/sandboxes/vm/index.ts";
import { collect, driverForTests, image, initrdWith, jobFile, makeJob, runJob } from "./helpers.ts";

const { driver } = driverForTests("vm", (stateDir) => new VmDriver({ stateDir }), "qemu");
const kernel = jobFile("vmlinux", readFileSync(image("vmlinux")));
// Boots take 1-4 s under TCG on a busy machine; the limit includes the boot.
const limits: Limits = { memoryBytes: 128 << 20, timeMs: 30_000 };

function boot(initrd: Uint8Array, lim: Partial<Limits> = {}, extra: Partial<Job> = {}, signal = new AbortController().signal) {
  return runJob(driver, makeJob("vm", { kernel, initrd: jobFile("initrd", initrd) }, { ...limits, ...lim }, extra), signal);
}

/** The pid of a process whose command line contains `needle`. */
function findProcess(needle: string): number | undefined {
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, "utf8").includes(needle)) return Number(p);
    } catch {}
  }
  return undefined;
}

describe("vm driver", () => {
  test("boots the hello initramfs, captures the console, reports exit 0", async () => {
    const r = await boot(readFileSync(image("initramfs.cpio.gz")));
    assert.equal(r.stdout, "hello from a vm\n");
    assert.equal(r.reason, "exit", r.message);
    assert.equal(r.exitCode, 0);
    assert.ok(["kvm", "tcg"].includes(await driver.accelerator("")));
  });

  test("the guest's exit code and the kernel command line reach the driver", async () => {
    const r = await boot(initrdWith('echo "args: $*"; printf "no newline"; exit 42'), {}, { append: "first", args: ["second"] });
    assert.equal(r.stdout, "args: first second\nno newline");
    assert.equal(r.reason, "exit");
    assert.equal(r.exitCode, 42);
    assert.match(r.message, /exited with code 42/);
  });

  test("cannot see host processes or files, has no network device, cannot write its root", async () => {
    const marker = join(tmpdir(), `pg-vm-marker-${process.pid}`);
    writeFileSync(marker, "secret");
    const initrd = initrdWith(
      [
        `cat ${marker} 2>/dev/null && echo SAW-HOST-FILE`,
        `ls ${process.cwd()} 2>/dev/null && echo SAW-HOST-DIR`,
        "echo procs $(ls /proc | grep -c '^[0-9]')",
        "echo host-pid-cmd $(cat /proc/" + process.pid + "/cmdline 2>/dev/null | tr '\\0' ' ')",
        "echo nets $(ls /sys/class/net)",
        "touch /x 2>&1 || echo root-readonly",
        "touch /bin/x 2>&1 || echo bin-readonly",
      ].join("\n"),
    );
    const before = createHash("sha256").update(initrd).digest("hex");
    try {
      const r = await boot(initrd);
      assert.equal(r.exitCode, 0, r.message);
      assert.doesNotMatch(r.stdout, /SAW-HOST/);
      assert.doesNotMatch(r.stdout, /host-pid-cmd .*node/);
      const procs = Number(/procs (\d+)/.exec(r.stdout)?.[1]);
      assert.ok(procs > 0 && procs < 200, `the guest sees only its own kernel's processes (${procs})`);
      assert.match(r.stdout, /^nets lo$/m);
      assert.match(r.stdout, /Read-only file system\nroot-readonly/);
      assert.match(r.stdout, /bin-readonly/);
      assert.equal(createHash("sha256").update(initrd).digest("hex"), before);
    } finally {
      rmSync(marker);
    }
  });

  test("a memory hog is stopped at the memory limit", async () => {
    const r = await boot(initrdWith('echo start; s=x; while :; do s="$s$s"; done'));
    assert.equal(r.reason, "memory", r.message);
    assert.match(r.message, /128 MiB of memory/);
    assert.equal(r.exitCode, 137);
    assert.match(r.stdout, /^start\n/);
  });

  test("a loop is killed at the time limit", async () => {
    const r = await boot(initrdWith("echo looping; while :; do :; done"), { timeMs: 8000 });
    assert.equal(r.reason, "time");
    assert.equal(r.exitCode, null);
    assert.match(r.message, /8 s time limit/);
    assert.equal(r.stdout, "looping\n");
    assert.ok(r.durationMs >= 8000);
  });

  test("a fraction of a CPU is a CFS quota on qemu's cgroup, removed after the run", async () => {
    const ac = new AbortController();
    const job = makeJob("vm", { kernel, initrd: jobFile("initrd", initrdWith("while :; do :; done")) }, { ...limits, cpu: 0.5 });
    const running = driver.run(job, collect(), ac.signal);
    let quota: string | undefined;
    let dir: string | undefined;
    for (let i = 0; i < 100 && !quota; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const pid = findProcess(`pg-${job.id}-`);
      if (!pid) continue;
      const line = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").find((l) => /^\d+:(cpu,cpuacct|cpu|cpuacct,cpu):|^0::/.test(l) && l.includes("promisegrid-vm"));
      if (!line) continue;
      const path = line.slice(line.lastIndexOf(":") + 1);
      dir = existsSync("/sys/fs/cgroup/cgroup.controllers") ? join("/sys/fs/cgroup", path) : join("/sys/fs/cgroup/cpu", path);
      quota = existsSync(join(dir, "cpu.max")) ? readFileSync(join(dir, "cpu.max"), "utf8").trim() : readFileSync(join(dir, "cpu.cfs_quota_us"), "utf8").trim();
    }
    ac.abort();
    const r = await running;
    assert.equal(r.reason, "stopped");
    assert.ok(quota === "50000" || quota === "50000 100000", `quota ${quota}`);
    assert.ok(!existsSync(dir!), "the cgroup is removed");
  });

  test("a guest that powers off without the status line is an error, not a success", async () => {
    const r = await boot(initrdWith("echo bye; poweroff -f"));
    assert.equal(r.reason, "error");
    assert.equal(r.exitCode, null);
    assert.match(r.message, /without reporting an exit status/);
  });

  test("an abort stops the VM", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const r = await boot(initrdWith("sleep 60"), {}, {}, ac.signal);
    assert.equal(r.reason, "stopped");
    assert.ok(r.durationMs < 5000);
  });

  test("bad jobs are refused with a reason", async () => {
    const small = await boot(readFileSync(image("initramfs.cpio.gz")), { memoryBytes: 16 << 20 });
    assert.equal(small.reason, "error");
    assert.match(small.message, /below the VM driver's minimum of 128 MiB/);
    const net = await boot(readFileSync(image("initramfs.cpio.gz")), {}, { network: "host" });
    assert.match(net.message, /network "host" is not supported/);
    const noKernel = await driver.run(makeJob("vm", {}, limits), collect(), new AbortController().signal);
    assert.match(noKernel.message, /no kernel file/);
  });

  test("says what to install when qemu is missing", async () => {
    const a = await new VmDriver({ qemu: "/nonexistent/qemu" }).available();
    assert.equal(a.ok, false);
    assert.match(a.reason!, /apt-get install qemu-system-x86/);
  });
});
