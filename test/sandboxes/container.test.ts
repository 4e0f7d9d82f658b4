// The container driver, through the Driver interface, with real runc.
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ContainerDriver } from "../../grid/sandboxes/container/index.ts";
import type { Job, Limits } from "../../grid/sandboxes/driver.ts";
import { collect, driverForTests, image, jobFile, makeJob, runJob } from "./helpers.ts";

const { driver, state } = driverForTests("container", (stateDir) => new ContainerDriver({ stateDir }), "runc");
const oci = jobFile("busybox-oci.tar", readFileSync(image("busybox-oci.tar")));
const rootfs = jobFile("busybox-rootfs.tar", readFileSync(image("busybox-rootfs.tar")));
const limits: Limits = { memoryBytes: 64 << 20, timeMs: 10_000, pids: 32 };

function run(command: string[] | undefined, extra: Partial<Job> = {}, lim: Partial<Limits> = {}, signal = new AbortController().signal) {
  return runJob(driver, makeJob("container", { image: rootfs }, { ...limits, ...lim }, { command, ...extra }), signal);
}
const sh = (script: string) => ["/bin/sh", "-c", script];

function leftovers(): string[] {
  const runs = existsSync(join(state, "runs")) ? readdirSync(join(state, "runs")) : [];
  const list = execFileSync("runc", ["--root", join(state, "runc"), "list", "-q"], { encoding: "utf8" }).trim();
  const cg = existsSync("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup/promisegrid" : "/sys/fs/cgroup/memory/promisegrid";
  const groups = existsSync(cg) ? readdirSync(cg).filter((n) => n.startsWith("pg-test-")) : [];
  return [...runs, ...(list ? list.split("\n") : []), ...groups];
}

describe("container driver", () => {
  test("runs an OCI image layout with the image's own command and captures stdout", async () => {
    const r = await runJob(driver, makeJob("container", { image: oci }, limits));
    assert.equal(r.stdout, "hello from a container\n");
    assert.equal(r.reason, "exit");
    assert.equal(r.exitCode, 0);
    assert.deepEqual(leftovers(), [], "bundle, runc state and cgroups are removed after the run");
  });

  test("runs a rootfs tar with the job's command, args and env; stderr apart; exit code reported", async () => {
    const r = await run(sh('echo "$GREETING $0"; echo oops >&2; exit 7'), { args: ["grid"], env: { GREETING: "hi" } });
    assert.equal(r.stdout, "hi grid\n");
    assert.equal(r.stderr, "oops\n");
    assert.equal(r.reason, "exit");
    assert.equal(r.exitCode, 7);
    assert.match(r.message, /exited with code 7/);
  });

  test("cannot see host processes", async () => {
    const r = await run(sh("cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /proc | grep -c '^[0-9]'"));
    const [pid1, count] = r.stdout.trim().split("\n");
    assert.equal(pid1!.trim(), `/bin/sh -c ${"cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /proc | grep -c '^[0-9]'"}`, "pid 1 is the workload");
    assert.ok(Number(count) <= 5, `only the workload's processes are visible, saw ${count}`);
    assert.equal(r.exitCode, 0);
  });

  test("cannot see host files", async () => {
    const marker = join(tmpdir(), `pg-marker-${process.pid}`);
    writeFileSync(marker, "secret");
    try {
      const r = await run(sh(`cat ${marker}; ls ${process.cwd()}`));
      assert.notEqual(r.exitCode, 0);
      assert.doesNotMatch(r.stdout, /secret/);
      assert.match(r.stderr, /No such file or directory/);
    } finally {
      rmSync(marker);
    }
  });

  test("cannot reach the network: only a loopback device, and a host server on 127.0.0.1 gets no connection", async () => {
    let connections = 0;
    const server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await run(sh(`ls /sys/class/net; echo x | nc -w 1 127.0.0.1 ${port} && echo CONNECTED`));
      assert.equal(r.stdout.split("\n")[0], "lo");
      assert.doesNotMatch(r.stdout, /CONNECTED/);
      assert.equal(connections, 0);
    } finally {
      server.close();
    }
  });

  test("cannot write its root", async () => {
    const r = await run(sh("touch /bin/x || touch /x"));
    assert.equal(r.reason, "exit");
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /Read-only file system/);
    const unpacked = readdirSync(join(state, "images"));
    for (const d of unpacked) assert.ok(!existsSync(join(state, "images", d, "rootfs", "x")));
  });

  test("the limits are the container's cgroup limits", async () => {
    const job = makeJob("container", { image: rootfs }, { memoryBytes: 48 << 20, timeMs: 10_000, pids: 20, cpu: 0.25 }, { command: sh("sleep 2") });
    const running = driver.run(job, collect(), new AbortController().signal);
    const v2 = existsSync("/sys/fs/cgroup/cgroup.controllers");
    const base = (ctl: string) => (v2 ? "/sys/fs/cgroup/promisegrid" : `/sys/fs/cgroup/${ctl}/promisegrid`);
    const want = { memory: String(48 << 20), pids: "20", cpu: "25000 100000" };
    let seen: Record<string, string> | undefined;
    // Poll until runc has written the limits (or give up and show what was there).
    for (let i = 0; i < 60 && JSON.stringify(seen) !== JSON.stringify(want); i++) {
      await new Promise((r) => setTimeout(r, 30));
      const name = (existsSync(base("memory")) ? readdirSync(base("memory")) : []).find((n) => n.startsWith(`pg-${job.id}-`));
      if (!name) continue;
      const read = (ctl: string, file: string) => readFileSync(join(base(ctl), name, file), "utf8").trim();
      try {
        seen = v2
          ? { memory: read("", "memory.max"), pids: read("", "pids.max"), cpu: read("", "cpu.max") }
          : { memory: read("memory", "memory.limit_in_bytes"), pids: read("pids", "pids.max"), cpu: read("cpu", "cpu.cfs_quota_us") + " " + read("cpu", "cpu.cfs_period_us") };
      } catch {
        // runc is still writing the limits
      }
    }
    const r = await running;
    assert.equal(r.exitCode, 0, r.message);
    assert.deepEqual(seen, want);
  });

  test("a fork bomb stops at the pids limit and is reported as such", async () => {
    const r = await run(sh("bomb() { bomb | bomb & }; bomb; sleep 60"), {}, { pids: 16, timeMs: 4000 });
    assert.equal(r.reason, "pids");
    assert.match(r.message, /limit of 16 processes/);
    assert.notEqual(r.exitCode, 0);
  });

  test("a memory hog is killed at the memory limit", async () => {
    const r = await run(sh('s=x; while :; do s="$s$s"; done'), {}, { memoryBytes: 32 << 20 });
    assert.equal(r.reason, "memory");
    assert.match(r.message, /32 MiB memory limit/);
    assert.equal(r.exitCode, 137);
  });

  test("a loop is killed at the time limit", async () => {
    const r = await run(sh("echo started; while :; do :; done"), {}, { timeMs: 1500, cpu: 0.5 });
    assert.equal(r.reason, "time");
    assert.equal(r.exitCode, null);
    assert.match(r.message, /1500 ms time limit/);
    assert.equal(r.stdout, "started\n");
    assert.ok(r.durationMs >= 1500);
    assert.deepEqual(leftovers(), [], "a killed run leaves no bundle, container or cgroup");
  });

  test("an abort stops the run and cleans up", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 500);
    const r = await run(sh("sleep 30"), {}, {}, ac.signal);
    assert.equal(r.reason, "stopped");
    assert.deepEqual(leftovers(), []);
  });

  test("bundles left by a node that died are removed at the next node's first run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pg-sweep-"));
    try {
      const stale = join(dir, "runs", "pg-stale-00000000");
      mkdirSync(stale, { recursive: true });
      writeFileSync(join(stale, "owner"), "999999999"); // no such process
      writeFileSync(join(stale, "config.json"), "{}");
      const r = await new ContainerDriver({ stateDir: dir }).run(makeJob("container", { image: rootfs }, limits, { command: ["/bin/true"] }), collect(), new AbortController().signal);
      assert.equal(r.exitCode, 0, r.message);
      assert.deepEqual(readdirSync(join(dir, "runs")), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("runs of the same job at once get their own containers", async () => {
    const job = makeJob("container", { image: rootfs }, limits, { command: sh("echo $HOSTNAME; sleep 0.3; echo done") });
    const outs = [collect(), collect(), collect()];
    const rs = await Promise.all(outs.map((o) => driver.run(job, o, new AbortController().signal)));
    for (const [i, r] of rs.entries()) {
      assert.equal(r.exitCode, 0, r.message);
      assert.equal(outs[i]!.out(), "sandbox\ndone\n");
    }
  });

  test("a bad image or a missing command is an error that says what is wrong", async () => {
    const bad = await driver.run(
      makeJob("container", { image: jobFile("junk.tar", Buffer.from("not a tar")) }, limits, { command: ["/bin/true"] }),
      collect(),
      new AbortController().signal,
    );
    assert.equal(bad.reason, "error");
    assert.match(bad.message, /cannot unpack the container image/);
    const noCmd = await run(undefined);
    assert.equal(noCmd.reason, "error");
    assert.match(noCmd.message, /no command/);
    const missing = await run(["/no/such/program"]);
    assert.equal(missing.reason, "error");
    assert.match(missing.message, /runc could not run the container: .*\/no\/such\/program/);
    const net = await run(["/bin/true"], { network: "bridge" });
    assert.equal(net.reason, "error");
    assert.match(net.message, /network "bridge" is not supported/);
  });

  test("a state dir under a directory the container's user cannot search is an error that says so", async () => {
    const locked = mkdtempSync(join(tmpdir(), "pg-locked-")); // mode 0700
    try {
      const r = await new ContainerDriver({ stateDir: join(locked, "state") }).run(
        makeJob("container", { image: rootfs }, limits, { command: ["/bin/true"] }),
        collect(),
        new AbortController().signal,
      );
      assert.equal(r.reason, "error");
      assert.match(r.message, /is not searchable by other users.*chmod o\+x/);
    } finally {
      rmSync(locked, { recursive: true, force: true });
    }
  });

  test("says what to install when runc is missing", async () => {
    const a = await new ContainerDriver({ stateDir: state, runtime: "/nonexistent/runc" }).available();
    assert.equal(a.ok, false);
    assert.match(a.reason!, /apt-get install runc/);
  });
});
