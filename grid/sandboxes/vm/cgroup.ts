// A CPU quota for one qemu process: a cgroup (v1 `cpu` or v2 `cpu.max`) under
// /sys/fs/cgroup/.../promisegrid-vm/<name>, removed after the run.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = "/sys/fs/cgroup";
const PERIOD = 100_000;

export class CpuCgroup {
  private constructor(readonly dir: string) {}

  /** Makes the group with `fraction` of one CPU; undefined when no cpu controller is usable. */
  static create(name: string, fraction: number): CpuCgroup | undefined {
    const quota = Math.max(1000, Math.round(fraction * PERIOD));
    try {
      if (existsSync(join(ROOT, "cgroup.controllers"))) {
        const parent = join(ROOT, "promisegrid-vm");
        mkdirSync(parent, { recursive: true });
        for (const d of [ROOT, parent]) {
          if (!readFileSync(join(d, "cgroup.subtree_control"), "utf8").includes("cpu")) writeFileSync(join(d, "cgroup.subtree_control"), "+cpu");
        }
        const dir = join(parent, name);
        mkdirSync(dir);
        writeFileSync(join(dir, "cpu.max"), `${quota} ${PERIOD}`);
        return new CpuCgroup(dir);
      }
      if (!existsSync(join(ROOT, "cpu", "cpu.cfs_quota_us"))) return undefined;
      const dir = join(ROOT, "cpu", "promisegrid-vm", name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "cpu.cfs_period_us"), String(PERIOD));
      writeFileSync(join(dir, "cpu.cfs_quota_us"), String(quota));
      return new CpuCgroup(dir);
    } catch {
      return undefined;
    }
  }

  add(pid: number): void {
    writeFileSync(join(this.dir, "cgroup.procs"), String(pid));
  }

  /** Removes the group (its process has exited); retries briefly while the kernel reaps it. */
  async remove(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(this.dir);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
}
