// The promisegrid CLI as a user runs it: a real process, real files, exit codes.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { CarReader } from "@ipld/car/reader";
import { assertSchema } from "./schemas.ts";

const root = path.resolve(new URL("../..", import.meta.url).pathname);
// tsx is resolved here, since the CLI runs in other directories.
const cliArgs = ["--import", import.meta.resolve("tsx"), path.join(root, "cli/main.ts")];

function run(args: string[], cwd = root) {
  const r = spawnSync(process.execPath, [...cliArgs, ...args], { cwd, encoding: "utf8", env: { ...process.env, PROMISEGRID_DEBUG: "" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "pg-cli-"));
const noStack = (text: string) => assert.doesNotMatch(text, /\n\s+at .*:\d+:\d+/, `a stack trace leaked:\n${text}`);

describe("check", () => {
  it("passes every example", () => {
    const examples = fs.readdirSync(path.join(root, "examples")).filter((f) => f.endsWith(".pg")).map((f) => `examples/${f}`);
    const r = run(["check", ...examples]);
    assert.equal(r.out, "");
    assert.equal(r.code, 0, r.err);
  });

  it("prints path:line:col: severity CODE message, 1-based, and exits 1", () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, "bad.pg"), "agent alice\nagent truck1\npromise alcie -> truck1 -serve(lunch)\n");
    const r = run(["check", "bad.pg"], dir);
    assert.equal(r.code, 1);
    assert.ok(r.out.split("\n").includes("bad.pg:3:9: error PG200 undefined agent 'alcie'; did you mean 'alice'?"), r.out);
    assert.match(r.out, /^bad\.pg:3:1: warning PG301 /m);
  });

  it("--json gives 0-based LSP ranges", () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, "bad.pg"), "agent alice\nagent alice\n");
    const r = run(["check", "bad.pg", "--json"], dir);
    assert.equal(r.code, 1);
    assertSchema("check.schema.json", JSON.parse(r.out));
    assert.deepEqual(JSON.parse(r.out), {
      files: [{ path: "bad.pg", diagnostics: [{
        path: "bad.pg", severity: "error", code: "PG201", message: "agent 'alice' is already declared", range: { start: { line: 1, character: 6 }, end: { line: 1, character: 11 } },
        related: [{ path: "bad.pg", range: { start: { line: 0, character: 6 }, end: { line: 0, character: 11 } }, message: "first declaration of 'alice'" }], fixes: [],
      }] }],
      errors: 1, warnings: 0,
    });
  });

  it("follows imports and reports each file once", () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, "agents.pg"), "agent alice\nagent truck1\n");
    fs.writeFileSync(path.join(dir, "main.pg"), 'import "agents.pg"\npromise truck1 -> alice +serve(x)\npromise alice -> truck1 -serve(x)\n');
    const r = run(["check", "main.pg", "agents.pg"], dir);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.err, /2 files checked: 0 errors, 0 warnings/);
  });
});

describe("bad input never gives a stack trace", () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, "binary.pg"), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
  fs.writeFileSync(path.join(dir, "latin1.pg"), Buffer.from('agent caf\xe9\n', "latin1"));
  fs.writeFileSync(path.join(dir, "empty.pg"), "");
  fs.mkdirSync(path.join(dir, "folder.pg"));
  fs.closeSync(fs.openSync(path.join(dir, "huge.pg"), "w"));
  fs.truncateSync(path.join(dir, "huge.pg"), 100 * 1024 * 1024);
  const cases: [string, RegExp][] = [
    ["missing.pg", /missing\.pg: no such file/],
    ["folder.pg", /folder\.pg: is a directory/],
    ["binary.pg", /binary\.pg: looks like a binary file/],
    ["latin1.pg", /latin1\.pg: is not valid UTF-8 text \(byte 9\)/],
    ["huge.pg", /huge\.pg: file is 100\.0 MiB; source files are limited to 32 MiB/],
  ];
  for (const command of ["check", "fmt", "compile"]) {
    for (const [file, message] of cases) {
      it(`${command} ${file}`, () => {
        const r = run([command, file], dir);
        assert.equal(r.code, 1);
        assert.match(r.err, message);
        noStack(r.err + r.out);
      });
    }
  }
  it("an empty file is clean", () => {
    const r = run(["check", "empty.pg"], dir);
    assert.equal(r.code, 0);
    assert.equal(r.out, "");
  });
  it("unknown commands and options are usage errors (exit 2)", () => {
    assert.equal(run(["frobnicate"]).code, 2);
    const r = run(["check", "--nope", "x.pg"]);
    assert.equal(r.code, 2);
    assert.match(r.err, /Unknown option '--nope'/);
    noStack(r.err);
  });
});

describe("fmt", () => {
  it("--check, --write, and refusing files with syntax errors", () => {
    const dir = tmp();
    const file = path.join(dir, "a.pg");
    fs.writeFileSync(file, "agent   a\n\n\n\nagent b");
    assert.equal(run(["fmt", "a.pg", "--check"], dir).code, 1);
    assert.equal(run(["fmt", "a.pg"], dir).out, "agent a\n\nagent b\n");
    assert.equal(run(["fmt", "a.pg", "--write"], dir).code, 0);
    assert.equal(fs.readFileSync(file, "utf8"), "agent a\n\nagent b\n");
    assert.equal(run(["fmt", "a.pg", "--check"], dir).code, 0);
    fs.writeFileSync(file, "agent a\npromise a -> +x(");
    const r = run(["fmt", "a.pg", "--write"], dir);
    assert.equal(r.code, 1);
    assert.match(r.err, /a\.pg:2:14: error PG101 expected a name or '\*' but found '\+'/);
    assert.equal(fs.readFileSync(file, "utf8"), "agent a\npromise a -> +x(");
  });
});

describe("compile", () => {
  it("prints the root CID, writes a CAR with -o, and --json describes it", async () => {
    const dir = tmp();
    const r = run(["compile", "examples/hello-wasm.pg", "-o", path.join(dir, "hello.car"), "--json"]);
    assert.equal(r.code, 0, r.err);
    const info = JSON.parse(r.out);
    assertSchema("compile.schema.json", info);
    assert.match(info.root, /^bafy/);
    assert.equal(info.hash, "sha2-256");
    const reader = await CarReader.fromBytes(fs.readFileSync(path.join(dir, "hello.car")));
    assert.equal((await reader.getRoots())[0].toString(), info.root);
    assert.equal(run(["compile", "examples/hello-wasm.pg"]).out.trim(), info.root);
  });

  it("writes nothing when the file has errors", () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, "bad.pg"), "agent a\nagent a\n");
    const r = run(["compile", "bad.pg", "-o", "out.car"], dir);
    assert.equal(r.code, 1);
    assert.match(r.err, /bad\.pg:2:7: error PG201/);
    assert.match(r.err, /nothing was written/);
    assert.equal(fs.existsSync(path.join(dir, "out.car")), false);
  });

  it("refuses an unknown --hash and a missing output directory", () => {
    assert.equal(run(["compile", "examples/food-trucks.pg", "--hash", "md5"]).code, 2);
    const r = run(["compile", "examples/food-trucks.pg", "-o", "/nonexistent/dir/out.car"]);
    assert.equal(r.code, 1);
    assert.match(r.err, /directory \/nonexistent\/dir does not exist/);
  });

  it("a compile killed at any moment leaves no partial CAR", async () => {
    const dir = tmp();
    // Random bytes: identical chunks would share one block.
    fs.writeFileSync(path.join(dir, "big.wasm"), crypto.randomBytes(48 * 1024 * 1024));
    fs.writeFileSync(path.join(dir, "big.pg"), 'workload w {\n  sandbox wasm\n  module "big.wasm"\n  limits { memory 1MiB time 1s }\n}\n');
    const out = path.join(dir, "big.car");
    for (const delay of [150, 400, 700, 1000, 1400, 2000, 3000]) {
      fs.rmSync(out, { force: true });
      const child = spawn(process.execPath, [...cliArgs, "compile", "big.pg", "-o", out], { cwd: dir, stdio: "ignore" });
      const exited = new Promise((r) => child.on("exit", r));
      await new Promise((r) => setTimeout(r, delay));
      child.kill("SIGKILL");
      await exited;
      if (!fs.existsSync(out)) continue;
      const reader = await CarReader.fromBytes(fs.readFileSync(out));
      let bytes = 0;
      for await (const block of reader.blocks()) if (block.cid.code === 0x55) bytes += block.bytes.length;
      assert.equal(bytes, 48 * 1024 * 1024, `a partial CAR was visible after a kill at ${delay} ms`);
    }
    assert.ok(fs.readdirSync(dir).every((f) => f === "big.car" || !f.endsWith(".car")));
  });
});

describe("--help", () => {
  for (const command of ["check", "fmt", "compile"]) {
    it(`${command} --help`, () => {
      const r = run([command, "--help"]);
      assert.equal(r.code, 0);
      assert.match(r.out, new RegExp(`^usage: promisegrid ${command}`));
    });
  }
  it("promisegrid --help lists the commands", () => {
    const r = run(["--help"]);
    assert.equal(r.code, 0);
    for (const command of ["check", "fmt", "compile"]) assert.match(r.out, new RegExp(`^  ${command} `, "m"));
  });
});
