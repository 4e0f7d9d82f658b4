// Workload files are confined to the project: the real CLI refuses to check
// or compile a workload that names a file elsewhere, and the compiler refuses
// even when called without the checker (as an editor's Compile lens may).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { compile, CompileError, loadProgram, MAX_WORKLOAD_FILE_BYTES, readWorkloadFile } from "../../language/index.ts";
import { diskHost } from "../../language/host.ts";
import { ensureBuiltCli } from "./built-cli.ts";

// The CLI as shipped, bundled from this tree (it starts in a fraction of tsx's time on a busy machine).
const cliJs = ensureBuiltCli();

function run(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [cliJs, ...args], { cwd, encoding: "utf8", timeout: 120_000, env: { ...process.env, PROMISEGRID_DEBUG: "" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A project folder inside a parent that holds a secret next to it. */
function project(): { parent: string; dir: string; secret: string } {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), "pg-confine-"));
  const dir = path.join(parent, "project");
  fs.mkdirSync(dir);
  const secret = path.join(parent, "secret.txt");
  fs.writeFileSync(secret, "the secret\n");
  fs.writeFileSync(path.join(dir, "ok.wasm"), "\0asm fine");
  return { parent, dir, secret };
}

function workload(dir: string, module: string): void {
  fs.writeFileSync(path.join(dir, "w.pg"), `workload w {\n  sandbox wasm\n  module ${JSON.stringify(module)}\n  limits { memory 1MiB time 1s }\n}\n`);
}

function refused(dir: string, expect: RegExp): void {
  const checked = run(["check", "w.pg"], dir);
  assert.equal(checked.code, 1, checked.out + checked.err);
  assert.match(checked.out, /w\.pg:3:10: error PG605 /);
  assert.match(checked.out, expect);
  const compiled = run(["compile", "w.pg", "-o", "out.car"], dir);
  assert.equal(compiled.code, 1);
  assert.match(compiled.err, /PG605/);
  assert.equal(fs.existsSync(path.join(dir, "out.car")), false);
}

describe("workload files stay in the project", () => {
  it("refuses an absolute path", () => {
    const { dir, secret } = project();
    workload(dir, secret);
    refused(dir, /is an absolute path/);
  });

  it("refuses a path that climbs out with ..", () => {
    const { dir } = project();
    workload(dir, "../secret.txt");
    refused(dir, /is outside the project \(.*project\)/);
    workload(dir, "sub/../../secret.txt");
    refused(dir, /outside the project/);
  });

  it("refuses a symlink out of the project, and a symlinked folder out of it", () => {
    const { dir, secret, parent } = project();
    fs.symlinkSync(secret, path.join(dir, "link.wasm"));
    workload(dir, "link.wasm");
    refused(dir, /is a symlink to .*secret\.txt, outside the project/);
    fs.symlinkSync(parent, path.join(dir, "up"));
    workload(dir, "up/secret.txt");
    refused(dir, /symlink to .*secret\.txt/);
  });

  it("a .git file does not widen the project: a planted link to a repository above is not followed", () => {
    const { parent, dir } = project();
    // What `git worktree add` writes, here written by whoever wrote the project: a checkout of a repository in the parent folder.
    fs.mkdirSync(path.join(dir, "meta"));
    fs.writeFileSync(path.join(dir, ".git"), "gitdir: meta\n");
    fs.writeFileSync(path.join(dir, "meta", "gitdir"), path.join(dir, ".git") + "\n");
    fs.writeFileSync(path.join(dir, "meta", "commondir"), path.join(parent, ".git") + "\n");
    workload(dir, "../secret.txt");
    refused(dir, /is outside the project \(.*project\)/);
  });

  it("refuses /proc files and special files", () => {
    const { dir } = project();
    fs.symlinkSync("/proc/self/environ", path.join(dir, "env.wasm"));
    workload(dir, "env.wasm");
    refused(dir, /resolves to \/proc\/.*a system file/);
    execFileSync("mkfifo", [path.join(dir, "pipe.wasm")]);
    workload(dir, "pipe.wasm");
    refused(dir, /is not a regular file \(a device, pipe or socket\)/);
    fs.mkdirSync(path.join(dir, "folder.wasm"));
    workload(dir, "folder.wasm");
    refused(dir, /is not a regular file \(a directory\)/);
  });

  it("accepts a file in the project, also through a symlink that stays inside", () => {
    const { dir } = project();
    fs.mkdirSync(path.join(dir, "build"));
    fs.writeFileSync(path.join(dir, "build", "real.wasm"), "\0asm inside");
    fs.symlinkSync(path.join(dir, "build", "real.wasm"), path.join(dir, "inside.wasm"));
    workload(dir, "inside.wasm");
    const r = run(["compile", "w.pg", "-o", "out.car"], dir);
    assert.equal(r.code, 0, r.err);
    assert.ok(fs.existsSync(path.join(dir, "out.car")));
  });

  it("the compiler refuses on its own, without the checker, and reads nothing", async () => {
    const { dir, secret } = project();
    const read: string[] = [];
    const readFile = (p: string) => (read.push(p), new Uint8Array(fs.readFileSync(p)));
    for (const module of [secret, "../secret.txt"]) {
      workload(dir, module);
      const program = loadProgram([path.join(dir, "w.pg")], diskHost);
      await assert.rejects(compile(program, { readFile }), (e: unknown) => e instanceof CompileError && /refused workload file/.test((e as Error).message));
    }
    assert.deepEqual(read, []);
    // An extra root (an editor's workspace) widens the project.
    workload(dir, "../secret.txt");
    const compiled = await compile(loadProgram([path.join(dir, "w.pg")], diskHost), { readFile, roots: [path.dirname(dir)] });
    assert.ok(compiled.root);
    assert.deepEqual(read, [secret]);
  });

  it("reads a workload file only as the regular file it was checked to be, within the size limit", () => {
    const { dir } = project();
    assert.equal(Buffer.from(readWorkloadFile(path.join(dir, "ok.wasm"))).toString(), "\0asm fine");
    // A symlink put where the checked file was is not followed; a pipe is refused without waiting for a writer.
    fs.symlinkSync("/etc/hostname", path.join(dir, "swapped.wasm"));
    assert.throws(() => readWorkloadFile(path.join(dir, "swapped.wasm")), /ELOOP/);
    execFileSync("mkfifo", [path.join(dir, "pipe.wasm")]);
    assert.throws(() => readWorkloadFile(path.join(dir, "pipe.wasm")), /not a regular file/);
    const big = path.join(dir, "big.wasm");
    fs.writeFileSync(big, "");
    fs.truncateSync(big, MAX_WORKLOAD_FILE_BYTES + 1); // sparse: nothing is written or read
    assert.throws(() => readWorkloadFile(big), /1073741825 bytes; workload files are limited to 1024 MiB/);
  });

  it("the compiler reads workload files through that reader by default", async () => {
    const { dir } = project();
    fs.writeFileSync(path.join(dir, "big.wasm"), "");
    fs.truncateSync(path.join(dir, "big.wasm"), MAX_WORKLOAD_FILE_BYTES + 1);
    workload(dir, "big.wasm");
    await assert.rejects(compile(loadProgram([path.join(dir, "w.pg")], diskHost)), /cannot read workload file 'big.wasm' .*workload files are limited/);
  });
});
