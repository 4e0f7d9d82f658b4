// The bundled node (dist/grid-node.js, ESM with the `require` banner and the
// Promise.withResolvers polyfill first) starts on plain Node, serves, and stops on SIGTERM.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { GridClient } from "../../grid/api-client.ts";
import { ROOT, cleanupDirs, tempDir } from "./helpers.ts";

after(cleanupDirs);

test("dist/grid-node.js starts, answers its API, and stops cleanly on SIGTERM", async () => {
  execFileSync(process.execPath, [join(ROOT, "scripts/build.mjs"), "grid-node"], { cwd: ROOT });
  const dataDir = tempDir();
  const child = spawn(process.execPath, [join(ROOT, "dist/grid-node.js"), "--data-dir", dataDir, "--api", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (c) => (stderr += c));
  const ready = await new Promise<{ api: string; peerId: string }>((resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (c) => {
      buf += c;
      if (buf.includes("\n")) resolve(JSON.parse(buf.slice(0, buf.indexOf("\n"))));
    });
    child.once("exit", (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  const client = new GridClient(ready.api, readFileSync(join(dataDir, "api-token"), "utf8").trim());
  const status = await client.status();
  assert.equal(status.peerId, ready.peerId);
  assert.equal(status.drivers.wasm.ok, true);
  assert.ok(existsSync(join(dataDir, "node.json")));
  const code = await new Promise<number | null>((resolve) => {
    child.once("exit", resolve);
    child.kill("SIGTERM");
  });
  assert.equal(code, 0, stderr);
  assert.equal(existsSync(join(dataDir, "node.json")), false, "node.json is removed on a clean stop");
});
