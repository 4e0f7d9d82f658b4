// Shared by the sandbox tests and benchmark: the images scripts/setup-sandboxes.sh
// builds, jobs for them, and output collection.
import { strict as assert } from "node:assert";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import type { Driver, Job, JobFile, Limits, RunOutput, SandboxKind } from "../../grid/sandboxes/driver.ts";

export const IMAGES = process.env.PROMISEGRID_SANDBOX_IMAGES ?? join(import.meta.dirname, "../../.cache/sandboxes");

export function image(name: string): string {
  const path = join(IMAGES, name);
  if (!existsSync(path)) throw new Error(`${path} is missing: run bash scripts/setup-sandboxes.sh`);
  return path;
}

/** A JobFile whose cid is a stand-in content address (hex sha-256) of the bytes. */
export function jobFile(name: string, bytes: Uint8Array): JobFile {
  return { name, cid: "sha256" + createHash("sha256").update(bytes).digest("hex"), bytes };
}

export function makeJob(sandbox: SandboxKind, files: Record<string, JobFile>, limits: Limits, extra: Partial<Job> = {}): Job {
  return {
    id: "test-" + randomBytes(3).toString("hex"),
    workloadCid: "bafytest",
    name: "test",
    sandbox,
    files,
    args: [],
    env: {},
    network: "none",
    limits,
    ...extra,
  };
}

export function collect(): RunOutput & { out: () => string; err: () => string } {
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  return {
    stdout: (c) => o.push(Buffer.from(c)),
    stderr: (c) => e.push(Buffer.from(c)),
    out: () => Buffer.concat(o).toString("utf8"),
    err: () => Buffer.concat(e).toString("utf8"),
  };
}

/** Runs `job` on `driver`: its result with what it wrote to stdout and stderr. */
export async function runJob(driver: Driver, job: Job, signal = new AbortController().signal) {
  const out = collect();
  const result = await driver.run(job, out, signal);
  return { ...result, stdout: out.out(), stderr: out.err() };
}

/** A driver on a fresh state folder for the tests of a file: it must be available before them (`needs`: what must work
 * on this machine), and the folder is removed after them. */
export function driverForTests<D extends Driver>(name: string, make: (stateDir: string) => D, needs: string): { driver: D; state: string } {
  const state = mkdtempSync(join(tmpdir(), `pg-${name}-test-`));
  const driver = make(state);
  before(async () => {
    const a = await driver.available();
    assert.deepEqual(a, { ok: true }, `${needs} must work here: ${a.reason}`);
  });
  after(() => rmSync(state, { recursive: true, force: true }));
  return { driver, state };
}

/** A newc cpio archive of regular files (path -> [mode, content]). */
export function cpio(files: Record<string, [number, string]>): Uint8Array {
  const parts: Buffer[] = [];
  let ino = 1;
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  const entry = (name: string, mode: number, data: Buffer) => {
    const fields = [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, name.length + 1, 0];
    const header = "070701" + fields.map((f) => f.toString(16).padStart(8, "0")).join("");
    parts.push(Buffer.from(header + name + "\0"), pad(110 + name.length + 1), data, pad(data.length));
  };
  for (const [path, [mode, content]] of Object.entries(files)) entry(path, 0o100000 | mode, Buffer.from(content));
  entry("TRAILER!!!", 0, Buffer.alloc(0));
  return Buffer.concat(parts);
}

/** The setup script's initramfs with /workload replaced by `script` (a later cpio member wins). */
export function initrdWith(script: string): Uint8Array {
  const base = readFileSync(image("initramfs.cpio.gz"));
  // The kernel reads a cpio header only at a 4-byte boundary; it skips zero padding.
  const padding = Buffer.alloc((4 - (base.length % 4)) % 4);
  return Buffer.concat([base, padding, cpio({ workload: [0o755, "#!/bin/sh\n" + script + "\n"] })]);
}

/** Writes DIR/w.pg: a node n, a deployer dev, and each workload (name: its body) with the promise and pass that deploying it takes. */
export function writeWorkloads(dir: string, workloads: Record<string, string>): string {
  const file = join(dir, "w.pg");
  const decls = Object.entries(workloads).map(([name, body]) => `workload ${name} {
  ${body}
}
promise n -> dev +run(${name}) if holds(pass_${name})
promise dev -> n -run(${name})
capability pass_${name} from n to dev { grants run(${name}) }
`);
  writeFileSync(file, `agent n { kind node }\nagent dev "The deployer"\n${decls.join("")}`);
  return file;
}
