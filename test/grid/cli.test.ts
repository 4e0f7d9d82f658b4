// The CLI end to end: `run` starts a detached node, `node status|stop`, `deploy`, `revoke`.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, cleanupDirs, tempDir } from "./helpers.ts";

const home = tempDir("pg-home-");
const dataDir = join(home, "node");
const env = { ...process.env, PROMISEGRID_HOME: home, PROMISEGRID_NODE_DIR: dataDir };

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "cli/main.ts"), ...args], { env, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

after(() => {
  // Whatever happened, do not leave the node running.
  if (existsSync(join(dataDir, "node.json"))) {
    const { pid } = JSON.parse(readFileSync(join(dataDir, "node.json"), "utf8"));
    try { process.kill(pid, "SIGTERM"); } catch { /* gone */ }
  }
  cleanupDirs();
});

test("promisegrid run examples/hello-wasm.pg starts a node, runs hello, prints the assessment", () => {
  const r = cli("run", join(ROOT, "examples/hello-wasm.pg"));
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "hello, grid\n");
  assert.match(r.err, /started a local node: http:\/\/127\.0\.0\.1:\d+/);
  assert.match(r.err, /with capability deploy_pass/);
  assert.match(r.err, /assessment: kept: hello exited with code 0 \(bafy/);
  const again = cli("run", join(ROOT, "examples/hello-wasm.pg"));
  assert.equal(again.code, 0, again.err);
  assert.doesNotMatch(again.err, /started a local node/, "the running node is reused");
});

test("node status reports the node, its drivers and deployments", () => {
  const r = cli("node", "status", "--json");
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  assert.equal(s.drivers.wasm.ok, true);
  assert.equal(s.deployments, 2);
  assert.match(s.api, /^http:\/\/127\.0\.0\.1:\d+$/);
});

test("deploy --json to --node URL, then revoke the token", () => {
  const info = JSON.parse(readFileSync(join(dataDir, "node.json"), "utf8"));
  const r = cli("deploy", join(ROOT, "examples/hello-wasm.pg"), "--node", info.api, "--json");
  assert.equal(r.code, 0, r.err);
  const d = JSON.parse(r.out);
  assert.equal(d.output, "hello, grid\n");
  assert.equal(d.assessment.kept, true);
  assert.equal(d.capability, "deploy_pass");
  const human = cli("deploy", join(ROOT, "examples/hello-wasm.pg"));
  const token = /token (\S+)\)/.exec(human.err)?.[1];
  assert.ok(token, human.err);
  // --json carries the token's CID too, so a script can revoke what it deployed.
  assert.match(d.token, /^bafy/);
  assert.equal(d.token, token, "deploys present the one token kept for the capability");
  const rv = cli("revoke", token!, "--node", info.api);
  assert.equal(rv.code, 0, rv.err);
  assert.match(rv.out, new RegExp(`revoked ${token} \\(revocation bafy`));
  // No silent re-minting: the revoked token stays revoked until a new one is issued.
  const refused = cli("deploy", join(ROOT, "examples/hello-wasm.pg"));
  assert.equal(refused.code, 1);
  assert.match(refused.err, /has been revoked; the token kept for deploy_pass is revoked: issue a new one with `promisegrid capability issue deploy_pass /);
  const issued = cli("capability", "issue", "deploy_pass", join(ROOT, "examples/hello-wasm.pg"));
  assert.equal(issued.code, 0, issued.err);
  assert.notEqual(issued.out.trim(), token);
  const bad = cli("revoke", "not-a-cid");
  assert.equal(bad.code, 1);
  assert.match(bad.err, /'not-a-cid' is neither a token file, a token CID, nor the name of a token kept/);
});

test("deploy of a compiled CAR", () => {
  const car = join(tempDir(), "hello.car");
  const c = cli("compile", join(ROOT, "examples/hello-wasm.pg"), "-o", car);
  assert.equal(c.code, 0, c.err);
  const r = cli("deploy", car, "--json");
  assert.equal(r.code, 0, r.err);
  const d = JSON.parse(r.out);
  assert.equal(d.manifest, c.out.trim());
  assert.equal(d.output, "hello, grid\n");
});

test("deploy of a file with errors exits 1 and deploys nothing", () => {
  const file = join(tempDir(), "broken.pg");
  writeFileSync(file, "agent a\nworkload w { sandbox wasm module \"missing.wasm\" limits { memory 1MiB time 1s } }\n");
  const r = cli("deploy", file);
  assert.equal(r.code, 1);
  assert.match(r.err, /nothing was deployed/);
});

test("node start that cannot start says why, from the node's log", () => {
  const other = join(tempDir(), "node");
  const r = cli("node", "start", "--api", "0.0.0.0:0", "--data-dir", other);
  assert.equal(r.code, 1);
  assert.match(r.err, /the node exited with code 1 while starting: .*'0\.0\.0\.0' is not a loopback address/);
  assert.doesNotMatch(r.err, /internal error/);
  const info = JSON.parse(readFileSync(join(dataDir, "node.json"), "utf8"));
  const busy = cli("node", "start", "--api", new URL(info.api).host, "--data-dir", other);
  assert.equal(busy.code, 1);
  assert.match(busy.err, /EADDRINUSE/);
});

test("node stop stops it; status then says none runs", () => {
  const r = cli("node", "stop");
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /node stopped/);
  const s = cli("node", "status");
  assert.equal(s.code, 1);
  assert.match(s.err, /no node is running/);
});
