// The built CLI (dist/cli.js), rebuilt first when any source is newer, so tests
// of the real process never run stale code. A lock keeps parallel test files
// from building at once.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const CLI = path.join(ROOT, "dist/cli.js");
const SOURCES = ["cli", "language", "grammar", "grid", "docs", "scripts/build.mjs"];

function newest(p: string): number {
  const stat = fs.statSync(p);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...fs.readdirSync(p).map((f) => newest(path.join(p, f))));
}

export function ensureBuiltCli(): string {
  const lock = path.join(ROOT, "dist/.cli-build.lock");
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      // A lock left by a killed run is stale after a minute (a build takes seconds).
      if (Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 60_000) fs.rmSync(lock, { recursive: true, force: true });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    const stale = !fs.existsSync(CLI) || fs.statSync(CLI).mtimeMs < Math.max(...SOURCES.map((s) => newest(path.join(ROOT, s))));
    if (stale) execFileSync(process.execPath, ["scripts/build.mjs", "cli"], { cwd: ROOT, stdio: "inherit" });
  } finally {
    fs.rmdirSync(lock);
  }
  return CLI;
}

/** Runs the built CLI in `cwd`; never throws on a non-zero exit. */
export function cli(args: string[], cwd = ROOT): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8" });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
