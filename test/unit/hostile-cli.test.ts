// The CLI's compile as a real process: --hash really changes the hash, and a
// kill while the CAR is being written (not before, not after) leaves no
// partial CAR behind.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { CarReader } from "@ipld/car/reader";

const root = path.resolve(new URL("../..", import.meta.url).pathname);
const cliArgs = ["--import", import.meta.resolve("tsx"), path.join(root, "cli/main.ts")];
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "pg-cli-"));

function run(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [...cliArgs, ...args], { cwd, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The multihash codes of every block in a CAR. */
async function hashCodes(file: string): Promise<Set<number>> {
  const reader = await CarReader.fromBytes(fs.readFileSync(file));
  const out = new Set<number>();
  for await (const b of reader.blocks()) out.add(b.cid.multihash.code);
  return out;
}

describe("compile --hash", () => {
  it("hashes every block with the named function", async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, "m.wasm"), "\0asm module bytes");
    fs.writeFileSync(path.join(dir, "w.pg"), 'workload w {\n  sandbox wasm\n  module "m.wasm"\n  limits { memory 1MiB time 1s }\n}\n');
    const plain = run(["compile", "w.pg", "-o", "plain.car", "--json"], dir);
    const blake = run(["compile", "w.pg", "-o", "blake.car", "--json", "--hash", "blake3"], dir);
    assert.equal(plain.code, 0, plain.err);
    assert.equal(blake.code, 0, blake.err);
    assert.equal(JSON.parse(plain.out).hash, "sha2-256");
    assert.equal(JSON.parse(blake.out).hash, "blake3");
    assert.notEqual(JSON.parse(blake.out).root, JSON.parse(plain.out).root);
    assert.deepEqual([...(await hashCodes(path.join(dir, "plain.car")))], [0x12]);
    assert.deepEqual([...(await hashCodes(path.join(dir, "blake.car")))], [0x1e]);
  });
});

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe("compile -o", () => {
  it("a kill while the CAR is being written leaves no partial CAR", { timeout: 120_000 }, async () => {
    const dir = tmp();
    const size = 64 * 1024 * 1024;
    fs.writeFileSync(path.join(dir, "big.wasm"), crypto.randomBytes(size));
    fs.writeFileSync(path.join(dir, "big.pg"), 'workload w {\n  sandbox wasm\n  module "big.wasm"\n  limits { memory 1MiB time 1s }\n}\n');
    const before = new Set(fs.readdirSync(dir));
    const out = path.join(dir, "big.car");
    let midWrite = 0;
    for (let attempt = 0; attempt < 5 && midWrite < 2; attempt++) {
      for (const f of fs.readdirSync(dir)) if (!before.has(f)) fs.rmSync(path.join(dir, f), { force: true });
      const child = spawn(process.execPath, [...cliArgs, "compile", "big.pg", "-o", out], { cwd: dir, stdio: "ignore" });
      const exited = new Promise<void>((r) => child.on("exit", () => r()));
      // Kill the moment the CAR (or its temp file) appears: the write has begun and not ended.
      const deadline = Date.now() + 60_000;
      let seen: string | undefined;
      while (!seen && Date.now() < deadline) {
        seen = fs.readdirSync(dir).find((f) => !before.has(f));
        if (!seen) sleepMs(0.2);
      }
      child.kill("SIGKILL");
      await exited;
      if (child.signalCode !== "SIGKILL" || !seen) continue;
      midWrite++;
      if (!fs.existsSync(out)) continue;
      const reader = await CarReader.fromBytes(fs.readFileSync(out));
      let bytes = 0;
      for await (const block of reader.blocks()) if (block.cid.code === 0x55) bytes += block.bytes.length;
      assert.equal(bytes, size, `a partial CAR (${bytes} of ${size} bytes) was visible after a kill mid-write`);
    }
    assert.ok(midWrite >= 1, "no kill landed while the CAR was being written");
  });
});
