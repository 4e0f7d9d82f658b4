// The container driver: an OCI bundle run by runc, in new pid, mount, network,
// ipc, uts and user namespaces, with a read-only root and the job's limits as
// cgroup limits (v1 or v2; runc writes them). See docs/sandboxes.md.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync, rmdirSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile, chmod, lstat, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { startRun, type Availability, type Driver, type Finish, type Job, type RunOutput, type RunResult } from "../driver.ts";
import { CONTAINER_ROOT_ID, unpackImage, type ImageDefaults } from "./image.ts";
import { limitsProblem, longTimeout } from "../limits.ts";
import { RunJournal } from "../reaper.ts";

const exec = promisify(execFile);

/** Host uids/gids the container's 0..65535 map to (a user namespace). */
const ID_BASE = CONTAINER_ROOT_ID;
const ID_COUNT = 65536;
const CGROUP_ROOT = "/sys/fs/cgroup";
/** Unpacked images, by CID. */
const IMAGES = "images";
/** On cgroup v1 a swap limit needs swap accounting (memsw files). */
const SWAP_ACCOUNTING = join(CGROUP_ROOT, "memory", "memory.memsw.limit_in_bytes");

export interface ContainerDriverOptions {
  /** Where images are cached and bundles made; default $PROMISEGRID_SANDBOX_DIR or <tmp>/promisegrid-sandboxes. */
  stateDir?: string;
  /** The OCI runtime binary; default runc. */
  runtime?: string;
  /** The node's data dir, when the state dir is inside it: made searchable (0711) so the container's user reaches its rootfs. */
  dataDir?: string;
  /** Where runs are recorded before they start (reapOrphans); default <stateDir>/journal. */
  runsDir?: string;
}

export function defaultStateDir(): string {
  return process.env.PROMISEGRID_SANDBOX_DIR ?? join(tmpdir(), "promisegrid-sandboxes");
}

type CgroupVersion = 1 | 2;

export function cgroupVersion(): CgroupVersion | undefined {
  if (existsSync(join(CGROUP_ROOT, "cgroup.controllers"))) return 2;
  if (existsSync(join(CGROUP_ROOT, "memory")) && existsSync(join(CGROUP_ROOT, "pids"))) return 1;
  return undefined;
}

function readCounter(path: string, key: string): number {
  try {
    const line = readFileSync(path, "utf8").split("\n").find((l) => l.startsWith(key + " "));
    return line ? Number(line.slice(key.length + 1)) || 0 : 0;
  } catch {
    return 0;
  }
}

export class ContainerDriver implements Driver {
  readonly kind = "container" as const;
  readonly stateDir: string;
  readonly runtime: string;
  private prepared?: Promise<void>;
  private readonly journal: RunJournal;
  private readonly dataDir?: string;

  constructor(opts: ContainerDriverOptions = {}) {
    this.stateDir = opts.stateDir ?? defaultStateDir();
    this.runtime = opts.runtime ?? "runc";
    this.journal = new RunJournal(opts.runsDir ?? join(this.stateDir, "journal"));
    this.dataDir = opts.dataDir;
  }

  private get runtimeRoot(): string {
    return join(this.stateDir, "runc");
  }

  async available(): Promise<Availability> {
    try {
      await exec(this.runtime, ["--version"]);
    } catch {
      return {
        ok: false,
        reason: `${this.runtime} is not installed: install it with \`apt-get install runc\` (or run scripts/setup-sandboxes.sh)`,
      };
    }
    if (process.getuid?.() !== 0) return { ok: false, reason: "the container driver needs the node to run as root (runc with cgroup limits)" };
    const v = cgroupVersion();
    if (!v) return { ok: false, reason: `no usable cgroup hierarchy under ${CGROUP_ROOT} (need memory and pids controllers)` };
    if (v === 2) {
      const ctl = readFileSync(join(CGROUP_ROOT, "cgroup.controllers"), "utf8");
      for (const c of ["memory", "pids", "cpu"]) {
        if (!ctl.split(/\s+/).includes(c)) return { ok: false, reason: `cgroup v2 controller "${c}" is not enabled` };
      }
    }
    return { ok: true };
  }

  async run(job: Job, out: RunOutput, signal: AbortSignal): Promise<RunResult> {
    const done = startRun();
    if (signal.aborted) return done(null, "stopped", "stopped before it started");
    const image = job.files.image;
    if (!image) return done(null, "error", `workload "${job.name}" has no image file`);
    const bad = limitsProblem(job.limits);
    if (bad) return done(null, "error", `refused: ${bad}`);
    if (job.network !== "none" && job.network !== "host") {
      return done(null, "error", `network "${job.network}" is not supported by the container driver (use none or host)`);
    }
    try {
      await (this.prepared ??= this.prepare().then(() => this.startWatchdog()));
    } catch (e) {
      this.prepared = undefined;
      return done(null, "error", e instanceof Error ? e.message : String(e));
    }

    let defaults: ImageDefaults;
    let rootfs: string;
    try {
      ({ rootfs, defaults } = await unpackImage(join(this.stateDir, IMAGES), image.cid, image.bytes, ID_BASE));
    } catch (e) {
      return done(null, "error", e instanceof Error ? e.message : String(e));
    }
    const args = [...(job.command ?? defaults.args), ...job.args];
    if (args.length === 0) return done(null, "error", `workload "${job.name}" has no command and its image names none`);

    // Per-run ids: the same job may run many times, at once.
    const id = `pg-${job.id.replace(/[^A-Za-z0-9_.-]/g, "").slice(0, 40)}-${randomBytes(4).toString("hex")}`;
    const bundle = join(this.stateDir, "runs", id);
    const cgroupPath = `/promisegrid/${id}`;
    try {
      await mkdir(bundle, { mode: 0o700 });
      await writeFile(join(bundle, "owner"), String(process.pid));
      await writeFile(join(bundle, "config.json"), JSON.stringify(ociSpec(job, args, defaults, rootfs, cgroupPath)));
    } catch (e) {
      await rm(bundle, { recursive: true, force: true });
      return done(null, "error", `cannot make the bundle: ${e instanceof Error ? e.message : e}`);
    }

    let forget: () => Promise<void>;
    try {
      // Recorded before it starts: a node started after this one was killed ends it (reapOrphans).
      forget = await this.journal.add({ kind: "container", id, runtime: this.runtime, root: this.runtimeRoot, bundle });
    } catch (e) {
      await rm(bundle, { recursive: true, force: true });
      return done(null, "error", `cannot record the run: ${e instanceof Error ? e.message : e}`);
    }

    let timedOut = false;
    let stopped = false;
    // runc's own messages go to a log, apart from the workload's stderr.
    const log = join(bundle, "runtime.log");
    const child = spawn(this.runtime, ["--root", this.runtimeRoot, "--log", log, "--log-format", "json", "run", "--keep", "--bundle", bundle, id], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (c: Buffer) => out.stdout(c));
    child.stderr.on("data", (c: Buffer) => out.stderr(c));
    const kill = () => {
      // runc's own process is not the workload: kill the container's init (and so its pid namespace).
      execFile(this.runtime, ["--root", this.runtimeRoot, "kill", id, "KILL"], () => {});
      setTimeout(() => child.exitCode === null && child.kill("SIGKILL"), 2000).unref();
    };
    const timer = longTimeout(() => {
      timedOut = true;
      kill();
    }, job.limits.timeMs);
    const onAbort = () => {
      stopped = true;
      kill();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const exit = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
      child.on("error", (error) => resolve({ code: null, error }));
      child.on("close", (code, sig) => resolve({ code: code ?? (sig ? 128 + 9 : null) }));
    });
    timer.clear();
    signal.removeEventListener("abort", onAbort);

    const counters = this.counters(cgroupPath);
    const runtimeError = exit.code === 0 ? undefined : await readRuntimeError(log);
    await this.cleanup(id, bundle, exit.code !== null && !exit.error, cgroupPath);
    await forget();
    if (exit.error) return done(null, "error", `cannot start ${this.runtime}: ${exit.error.message}`);
    if (runtimeError && !timedOut && !stopped) return done(exit.code, "error", `${this.runtime} could not run the container: ${runtimeError}`);
    return classify(done, exit.code, { timedOut, stopped, ...counters }, job);
  }

  /**
   * One process apart from the node, started with the driver, that waits for the
   * node to die and then kills and deletes every container recorded in the
   * journal: a container must not outlive a killed node (nor so its time limit).
   */
  private startWatchdog(): void {
    const script = [
      'while kill -0 "$1" 2>/dev/null; do sleep 1; done',
      'for f in "$2"/*.json; do [ -e "$f" ] && "$3" --root "$4" kill "$(basename "$f" .json)" KILL 2>/dev/null; done',
      "sleep 1",
      'for f in "$2"/*.json; do [ -e "$f" ] && "$3" --root "$4" delete --force "$(basename "$f" .json)" 2>/dev/null; done',
    ].join("\n");
    const w = spawn("sh", ["-c", script, "pg-watchdog", String(process.pid), this.journal.dir, this.runtime, this.runtimeRoot], { detached: true, stdio: "ignore" });
    w.on("error", () => {});
    w.unref();
  }

  /** Whether the run hit its memory or pids limit; read before the cgroup is removed. */
  private counters(cgroupPath: string): { oomKills: number; pidsMax: number; failcnt: number } {
    if (cgroupVersion() === 2) {
      const dir = join(CGROUP_ROOT, cgroupPath);
      return {
        oomKills: readCounter(join(dir, "memory.events"), "oom_kill"),
        pidsMax: readCounter(join(dir, "pids.events"), "max"),
        failcnt: 0,
      };
    }
    const mem = join(CGROUP_ROOT, "memory", cgroupPath);
    let failcnt = 0;
    try {
      failcnt = Number(readFileSync(join(mem, "memory.failcnt"), "utf8")) || 0;
    } catch {}
    return {
      oomKills: readCounter(join(mem, "memory.oom_control"), "oom_kill"),
      pidsMax: readCounter(join(CGROUP_ROOT, "pids", cgroupPath, "pids.events"), "max"),
      failcnt,
    };
  }

  /**
   * Removes the container, its cgroups and its bundle. When `runc run` ended by
   * itself the container's init is dead and so is its pid namespace: removing the
   * empty cgroups and runc's state directly does what `runc delete` would, without
   * another process start. Anything else (or a cgroup still busy) goes to `runc delete --force`.
   */
  private async cleanup(id: string, bundle: string, exited = false, cgroupPath?: string): Promise<void> {
    let fast = exited && cgroupPath !== undefined;
    if (fast) {
      const dirs = cgroupVersion() === 2 ? [join(CGROUP_ROOT, cgroupPath!)] : readdirSync(CGROUP_ROOT).map((h) => join(CGROUP_ROOT, h, cgroupPath!));
      for (const d of dirs) {
        try {
          rmdirSync(d);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "ENOENT") fast = false;
        }
      }
    }
    if (fast) await rm(join(this.runtimeRoot, id), { recursive: true, force: true });
    else await exec(this.runtime, ["--root", this.runtimeRoot, "delete", "--force", id]).catch(() => {});
    await rm(bundle, { recursive: true, force: true });
  }

  /**
   * Makes the state dir reachable by the container's unprivileged host uid (its
   * ancestors must be too) and removes what runs of a node that died left behind.
   */
  private async prepare(): Promise<void> {
    const runs = join(this.stateDir, "runs");
    await mkdir(this.stateDir, { recursive: true, mode: 0o711 });
    const st = await lstat(this.stateDir);
    // Root unpacks images here: a directory another user owns or can write would let them plant or swap one.
    if (!st.isDirectory() || st.uid !== (process.getuid?.() ?? 0) || st.mode & 0o022) {
      throw new Error(`the sandbox state dir ${this.stateDir} must be a directory owned by the node's user and writable by no one else`);
    }
    if (this.dataDir && this.stateDir.startsWith(this.dataDir + "/")) await chmod(this.dataDir, 0o711);
    // Search-only for others: the container's user (host uid ${ID_BASE}) must reach its rootfs, no one may list.
    for (const d of [this.stateDir, runs, join(this.stateDir, IMAGES)]) {
      await mkdir(d, { recursive: true, mode: 0o711 });
      await chmod(d, 0o711);
    }
    for (let d = dirname(this.stateDir); ; d = dirname(d)) {
      if (((await stat(d)).mode & 0o001) === 0) {
        throw new Error(`${d} is not searchable by other users, so the container's user (host uid ${ID_BASE}) cannot reach its root in ${this.stateDir}: chmod o+x ${d} or choose another state dir`);
      }
      if (d === dirname(d)) break;
    }
    // Images unpacked by earlier versions (root's, mode 0755) kept owners, setuid bits and devices: remove them.
    for (const name of await readdir(join(this.stateDir, IMAGES))) {
      const dir = join(this.stateDir, IMAGES, name);
      const st = await lstat(dir);
      if (!name.startsWith(".") && (st.uid !== ID_BASE || (st.mode & 0o077) !== 0)) await rm(dir, { recursive: true, force: true });
    }
    for (const id of await readdir(runs).catch(() => [] as string[])) {
      const owner = Number(await readFile(join(runs, id, "owner"), "utf8").catch(() => "0"));
      if (owner && owner !== process.pid && isAlive(owner)) continue;
      if (owner === process.pid) continue;
      await this.cleanup(id, join(runs, id));
    }
  }
}

/** The first error runc logged (JSON lines), if any. */
async function readRuntimeError(log: string): Promise<string | undefined> {
  const text = await readFile(log, "utf8").catch(() => "");
  for (const line of text.split("\n")) {
    try {
      const e = JSON.parse(line) as { level?: string; msg?: string };
      if (e.level === "error" || e.level === "fatal") return e.msg;
    } catch {}
  }
  return undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 1048576)} MiB`;
}

function classify(
  done: Finish,
  code: number | null,
  s: { timedOut: boolean; stopped: boolean; oomKills: number; pidsMax: number; failcnt: number },
  job: Job,
): RunResult {
  const killed = code === 137;
  // cgroup v1 counts an OOM kill in the leaf only in some kernels; a SIGKILL with failed charges is one too.
  if (s.oomKills > 0 || (killed && !s.timedOut && !s.stopped && s.failcnt > 0)) {
    return done(code, "memory", `killed at the ${mib(job.limits.memoryBytes)} memory limit`);
  }
  if (s.pidsMax > 0 && code !== 0) {
    const how = s.timedOut ? `, then killed at the ${seconds(job.limits.timeMs)} time limit` : code === null ? "" : `, exit code ${code}`;
    return done(code, "pids", `hit the limit of ${job.limits.pids} processes (fork refused ${s.pidsMax} times)${how}`);
  }
  if (s.stopped) return done(null, "stopped", "stopped on request");
  if (s.timedOut) return done(null, "time", `killed at the ${seconds(job.limits.timeMs)} time limit`);
  if (code === 0) return done(0, "exit", "exited with code 0");
  if (code === null) return done(null, "error", "the runtime ended without an exit code");
  return done(code, "exit", code > 128 ? `killed by signal ${code - 128} (exit code ${code})` : `exited with code ${code}`);
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** The OCI runtime spec for one run (runc's defaults, tightened). */
export function ociSpec(job: Job, args: string[], defaults: ImageDefaults, rootfs: string, cgroupsPath: string): object {
  const env = new Map<string, string>();
  env.set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  for (const e of defaults.env) {
    const i = e.indexOf("=");
    if (i > 0) env.set(e.slice(0, i), e.slice(i + 1));
  }
  for (const [k, v] of Object.entries(job.env)) env.set(k, v);
  const namespaces = ["pid", "mount", "ipc", "uts", "user", ...(job.network === "host" ? [] : ["network"])].map((type) => ({ type }));
  const caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
  const cpu = job.limits.cpu;
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args,
      env: [...env].map(([k, v]) => `${k}=${v}`),
      cwd: defaults.cwd || "/",
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: rootfs, readonly: true },
    hostname: "sandbox",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
      { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] },
      { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
      { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
      { destination: "/sys", type: job.network === "host" ? "none" : "sysfs", source: "sysfs", options: job.network === "host" ? ["rbind", "nosuid", "noexec", "nodev", "ro"] : ["nosuid", "noexec", "nodev", "ro"] },
      // Scratch space; tmpfs pages count against the memory limit.
      { destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777", "size=16m"] },
    ],
    linux: {
      uidMappings: [{ containerID: 0, hostID: ID_BASE, size: ID_COUNT }],
      gidMappings: [{ containerID: 0, hostID: ID_BASE, size: ID_COUNT }],
      namespaces,
      cgroupsPath,
      resources: {
        devices: [{ allow: false, access: "rwm" }],
        // swap is memory+swap: equal to the limit means the workload cannot swap past it.
        memory: { limit: job.limits.memoryBytes, ...(existsSync(SWAP_ACCOUNTING) || cgroupVersion() === 2 ? { swap: job.limits.memoryBytes } : {}) },
        pids: { limit: job.limits.pids ?? 256 },
        ...(cpu ? { cpu: { quota: Math.max(1000, Math.round(cpu * 100000)), period: 100000 } } : {}),
      },
      maskedPaths: [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
      ],
      readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
  };
}
