// The VM driver: qemu-system-x86_64 `-M microvm`, KVM when it works and TCG
// otherwise, booting the job's kernel and initrd with no devices but a serial
// console. The guest reports its workload's exit on the console with the line
//   PROMISEGRID-EXIT <code> [oom]
// and powers off (grid/sandboxes/vm/guest-init.sh is such an /init).
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { constants, existsSync, readFileSync } from "node:fs";
import { access, mkdir, rename, writeFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { cacheKey } from "../container/image.ts";
import { CpuCgroup } from "./cgroup.ts";
import { RunJournal } from "../reaper.ts";
import { limitsProblem, longTimeout } from "../limits.ts";
import { startRun, type Availability, type Driver, type Job, type JobFile, type RunOutput, type RunResult } from "../driver.ts";

const exec = promisify(execFile);

/** The status line; output the workload left without a newline may precede it. */
export const EXIT_LINE = /^(.*)PROMISEGRID-EXIT (\d+)( oom)?$/;
/** Console text held back while waiting for a newline, at most. */
const MAX_PENDING = 64 * 1024;
/** Longer than any status line ("PROMISEGRID-EXIT 255 oom"). */
const STATUS_TAIL = 64;
/** Below this the stock kernel does not boot (it hangs unpacking the initramfs). */
export const MIN_MEMORY_BYTES = 128 * 1048576;
const BASE_APPEND = "console=ttyS0 quiet loglevel=1 panic=-1";

export type Accel = "kvm" | "tcg";

export interface VmDriverOptions {
  /** Where kernels and initrds are cached by CID; default $PROMISEGRID_SANDBOX_DIR or <tmp>/promisegrid-sandboxes. */
  stateDir?: string;
  qemu?: string;
  /** Force an accelerator instead of probing (also $PROMISEGRID_VM_ACCEL). */
  accel?: Accel;
  /** How long a KVM boot may take before KVM is judged not to work (ms). */
  kvmProbeMs?: number;
  /** Where runs are recorded before they start (reapOrphans); default <stateDir>/journal. */
  runsDir?: string;
}

/** util-linux's setpriv, to have the kernel kill qemu when the node dies (PR_SET_PDEATHSIG). */
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p));

export class VmDriver implements Driver {
  readonly kind = "vm" as const;
  readonly stateDir: string;
  readonly qemu: string;
  private accel?: Promise<Accel>;
  private readonly forcedAccel?: Accel;
  private readonly kvmProbeMs: number;
  private readonly journal: RunJournal;

  constructor(opts: VmDriverOptions = {}) {
    this.stateDir = opts.stateDir ?? process.env.PROMISEGRID_SANDBOX_DIR ?? join(tmpdir(), "promisegrid-sandboxes");
    this.qemu = opts.qemu ?? "qemu-system-x86_64";
    const env = process.env.PROMISEGRID_VM_ACCEL;
    this.forcedAccel = opts.accel ?? (env === "kvm" || env === "tcg" ? env : undefined);
    this.kvmProbeMs = opts.kvmProbeMs ?? 3000;
    this.journal = new RunJournal(opts.runsDir ?? join(this.stateDir, "journal"));
  }

  async available(): Promise<Availability> {
    try {
      const { stdout } = await exec(this.qemu, ["-machine", "help"]);
      if (!/^microvm\b/m.test(stdout)) return { ok: false, reason: `${this.qemu} has no microvm machine: install a newer qemu-system-x86` };
    } catch {
      return {
        ok: false,
        reason: `${this.qemu} is not installed: install it with \`apt-get install qemu-system-x86\` (or run scripts/setup-sandboxes.sh); workloads bring their own kernel and initrd`,
      };
    }
    return { ok: true };
  }

  /** The accelerator runs use: KVM if a short test boot under it finishes, TCG otherwise. Probed once. */
  accelerator(kernel: string): Promise<Accel> {
    return (this.accel ??= this.forcedAccel ? Promise.resolve(this.forcedAccel) : this.probeKvm(kernel));
  }

  private async probeKvm(kernel: string): Promise<Accel> {
    try {
      await access("/dev/kvm", constants.R_OK | constants.W_OK);
    } catch {
      return "tcg";
    }
    // No initrd: the kernel panics at once for want of a root and the VM exits (-no-reboot).
    // Where /dev/kvm exists but does not work, qemu hangs instead.
    const child = spawn(this.qemu, [...baseArgs("kvm", 128, 1), "-kernel", kernel, "-append", `${BASE_APPEND} root=/dev/null`], {
      stdio: "ignore",
    });
    return new Promise<Accel>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        resolve("tcg");
      }, this.kvmProbeMs);
      child.on("error", () => {
        clearTimeout(timer);
        resolve("tcg");
      });
      child.on("exit", (code) => {
        clearTimeout(timer);
        resolve(code === 0 ? "kvm" : "tcg");
      });
    });
  }

  async run(job: Job, out: RunOutput, signal: AbortSignal): Promise<RunResult> {
    const started = Date.now();
    const done = startRun();
    if (signal.aborted) return done(null, "stopped", "stopped before it started");
    const { kernel, initrd } = job.files;
    if (!kernel) return done(null, "error", `workload "${job.name}" has no kernel file`);
    const bad = limitsProblem(job.limits);
    if (bad) return done(null, "error", `refused: ${bad}`);
    if (job.network !== "none") return done(null, "error", `network "${job.network}" is not supported by the VM driver (only none)`);
    if (job.limits.memoryBytes < MIN_MEMORY_BYTES) {
      return done(null, "error", `memory limit ${mib(job.limits.memoryBytes)} is below the VM driver's minimum of ${mib(MIN_MEMORY_BYTES)}`);
    }
    let kernelPath: string;
    let initrdPath: string | undefined;
    try {
      kernelPath = await this.cached(kernel);
      initrdPath = initrd ? await this.cached(initrd) : undefined;
    } catch (e) {
      return done(null, "error", `cannot store the VM's files: ${e instanceof Error ? e.message : e}`);
    }
    const accel = await this.accelerator(kernelPath);
    // The time limit counts from here: the guest's boot is part of the run.
    const bootStart = Date.now();
    const memMiB = Math.ceil(job.limits.memoryBytes / 1048576);
    const cpus = Math.max(1, Math.ceil(job.limits.cpu ?? 1));
    // Under TCG the guest's TSC is the host's; without its frequency the kernel's calibration
    // against the emulated PIT fails on a busy host and the boot hangs with a stopped clock.
    const tsc = accel === "tcg" ? hostTscKhz() : undefined;
    const append = [BASE_APPEND, tsc ? `tsc_early_khz=${tsc}` : "", job.append ?? "", ...job.args].filter(Boolean).join(" ");
    const name = `pg-${job.id.replace(/[^A-Za-z0-9_.-]/g, "").slice(0, 40)}-${randomBytes(4).toString("hex")}`;
    const args = [...baseArgs(accel, memMiB, cpus), "-name", name, "-kernel", kernelPath, ...(initrdPath ? ["-initrd", initrdPath] : []), "-append", append];
    // A fraction of a CPU is a CFS quota on qemu's cgroup (-smp only counts whole vCPUs).
    const cgroup = job.limits.cpu !== undefined ? CpuCgroup.create(name, job.limits.cpu) : undefined;
    if (job.limits.cpu !== undefined && !cgroup) return done(null, "error", `cannot enforce the cpu limit ${job.limits.cpu}: no writable cpu cgroup (the node must run as root)`);
    let forget: () => Promise<void>;
    try {
      // Recorded before it starts: a node started after this one was killed ends it (reapOrphans).
      forget = await this.journal.add({ kind: "vm", id: name });
    } catch (e) {
      await cgroup?.remove();
      return done(null, "error", `cannot record the run: ${e instanceof Error ? e.message : e}`);
    }
    // With setpriv the kernel kills qemu when the node dies, so no VM outlives a killed node.
    const child = SETPRIV
      ? spawn(SETPRIV, ["--pdeathsig", "KILL", "--", this.qemu, ...args], { stdio: ["ignore", "pipe", "pipe"] })
      : spawn(this.qemu, args, { stdio: ["ignore", "pipe", "pipe"] });
    let setupError: string | undefined;
    try {
      if (child.pid) cgroup?.add(child.pid);
    } catch (e) {
      setupError = `cannot put qemu in its cpu cgroup: ${e instanceof Error ? e.message : e}`;
      child.kill("SIGKILL");
    }

    let status: { code: number; oom: boolean } | undefined;
    let pending = "";
    const onLine = (line: string) => {
      const m = EXIT_LINE.exec(line);
      if (!m) return out.stdout(Buffer.from(line + "\n"));
      if (m[1]) out.stdout(Buffer.from(m[1]));
      status = { code: Number(m[2]), oom: !!m[3] };
      // The guest powers off next; do not wait for the time limit if it does not.
      setTimeout(() => child.exitCode === null && child.kill("SIGKILL"), 2000).unref();
    };
    child.stdout.on("data", (chunk: Buffer) => {
      if (status) return; // after the status line comes only the kernel's power-off
      pending += chunk.toString("utf8").replace(/\r/g, "");
      let i: number;
      while (!status && (i = pending.indexOf("\n")) >= 0) {
        onLine(pending.slice(0, i));
        pending = pending.slice(i + 1);
      }
      // Output with no newline is passed on as it comes; only a tail that may begin the status line waits.
      if (!status && pending.length > MAX_PENDING) {
        out.stdout(Buffer.from(pending.slice(0, -STATUS_TAIL)));
        pending = pending.slice(-STATUS_TAIL);
      }
    });
    let qemuErr = "";
    child.stderr.on("data", (c: Buffer) => {
      if (qemuErr.length < 4096) qemuErr += c.toString("utf8");
    });

    let timedOut = false;
    let stopped = false;
    const timer = longTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, Math.max(0, job.limits.timeMs - (bootStart - started)));
    const onAbort = () => {
      stopped = true;
      child.kill("SIGKILL");
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const exit = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
      child.on("error", (error) => resolve({ code: null, error }));
      child.on("close", (code) => resolve({ code }));
    });
    timer.clear();
    signal.removeEventListener("abort", onAbort);
    await cgroup?.remove();
    await forget();
    if (!status && pending) out.stdout(Buffer.from(pending));

    if (exit.error) return done(null, "error", `cannot start ${this.qemu}: ${exit.error.message}`);
    if (setupError) return done(null, "error", setupError);
    if (status) {
      if (status.oom) return done(status.code, "memory", `the guest ran out of its ${mib(job.limits.memoryBytes)} of memory and killed the workload (exit code ${status.code})`);
      if (status.code === 0) return done(0, "exit", "exited with code 0");
      return done(status.code, "exit", `exited with code ${status.code}`);
    }
    if (stopped) return done(null, "stopped", "stopped on request");
    if (timedOut) return done(null, "time", `killed at the ${seconds(job.limits.timeMs)} time limit (boot included)`);
    const why = qemuErr.trim().split("\n").filter((l) => !/warning:/.test(l)).join("; ");
    return done(null, "error", `the VM ended without reporting an exit status (no PROMISEGRID-EXIT line on its console)${why ? `: ${why}` : ""}`);
  }

  /** Writes a job file to the cache once, by CID (kernels are large; runs reuse them). */
  private async cached(file: JobFile): Promise<string> {
    const dir = join(this.stateDir, "files");
    const path = join(dir, cacheKey(file.cid));
    if (existsSync(path)) return path;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = `${path}.${randomBytes(4).toString("hex")}`;
    try {
      await writeFile(tmp, file.bytes, { mode: 0o444 });
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return path;
  }
}

export function baseArgs(accel: Accel, memMiB: number, cpus: number): string[] {
  return [
    "-M", "microvm", "-accel", accel, ...(accel === "kvm" ? ["-cpu", "host"] : []),
    "-m", String(memMiB), "-smp", String(cpus),
    "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio", "-no-reboot",
  ];
}

let tscKhz: number | undefined | null = null;
/** The host's TSC frequency in kHz (from /proc/cpuinfo), once. */
export function hostTscKhz(): number | undefined {
  if (tscKhz === null) {
    try {
      const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
      tscKhz = m ? Math.round(Number(m[1]) * 1000) : undefined;
    } catch {
      tscKhz = undefined;
    }
  }
  return tscKhz;
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 1048576)} MiB`;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
