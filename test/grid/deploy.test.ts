// The one deploy flow (grid/deploy.ts) against real nodes: a kept run, and each
// failure at its stage with the declaration it points at (what the editor
// underlines and the CLI reports).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GridClient } from "../../grid/api-client.ts";
import { deployFile, DeployFailure, loadManifest } from "../../grid/deploy.ts";
import { ROOT, cleanupDirs, closeAll, newKey, startNode, tempDir, type TestNode } from "./helpers.ts";

const nodes: TestNode[] = [];
after(async () => {
  await closeAll(nodes);
  cleanupDirs();
});

/** hello-wasm.pg copied into a temp dir, with `edit` applied to its text. */
function helloCopy(edit: (text: string) => string = (t) => t): string {
  const dir = tempDir("pg-flow-");
  copyFileSync(join(ROOT, "examples/hello.wasm"), join(dir, "hello.wasm"));
  const file = join(dir, "hello.pg");
  writeFileSync(file, edit(readFileSync(join(ROOT, "examples/hello-wasm.pg"), "utf8")));
  return file;
}

function lineOf(file: string, prefix: string): number {
  return readFileSync(file, "utf8").split("\n").findIndex((l) => l.startsWith(prefix));
}

async function failure(p: Promise<unknown>): Promise<DeployFailure> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DeployFailure) return e;
    throw e;
  }
  assert.fail("the deploy did not fail");
}

test("deployFile: check, compile, token, send, stream, assess; the token's CID comes back", async () => {
  const node = await startNode();
  nodes.push(node);
  const progress: string[] = [];
  const out: string[] = [];
  const r = await deployFile(helloCopy(), {
    key: await newKey(),
    connect: async () => node.client,
    onProgress: (m) => progress.push(m),
    onOutput: (e) => out.push(e.data),
  });
  assert.equal(r.kept, true);
  assert.equal(r.output, "hello, grid\n");
  assert.equal(out.join(""), r.output);
  assert.equal(r.capability, "deploy_pass");
  const state = await node.client.state();
  assert.ok(state.assessments.some((a) => a.deployment === r.id && a.kept));
  // The token CID is the one revoke takes.
  await node.client.revoke(r.token);
  assert.ok((await node.client.state()).revocations.some((x) => x.token === r.token));
  assert.deepEqual(progress, ["compiling hello.pg", "starting the node", "deploying hello", "running hello"]);
});

test("a broken promise points at the workload; a refusal about the token at the capability", async () => {
  const node = await startNode();
  const other = await startNode();
  nodes.push(node, other);
  const small = helloCopy((t) => t.replace("memory 64MiB", "memory 32KiB"));
  const broken = await deployFile(small, { key: await newKey(), connect: async () => node.client });
  assert.equal(broken.kept, false);
  assert.equal(broken.brokenAt?.path, small);
  assert.equal(broken.brokenAt?.start.line, lineOf(small, "workload hello"));

  // Tokens from another node grant nothing here: the node refuses, and the capability is to blame.
  const file = helloCopy();
  const crossed = new (class extends GridClient {
    override issue(o: Parameters<GridClient["issue"]>[0]) {
      return other.client.issue(o);
    }
  })(node.url, node.token);
  const refused = await failure(deployFile(file, { key: await newKey(), connect: async () => crossed }));
  assert.equal(refused.stage, "refused");
  assert.equal(refused.detail.code, "foreign-root");
  assert.equal(refused.detail.at?.start.line, lineOf(file, "capability deploy_pass"));
  assert.equal((await node.client.deployments()).length, 1, "only the broken run happened");
});

test("a file with errors fails at check with its diagnostics, before any node is asked for", async () => {
  const file = helloCopy((t) => t.replace("to dev {", "to nobody {"));
  let asked = false;
  const f = await failure(deployFile(file, { connect: async () => { asked = true; throw new Error("unreachable"); } }));
  assert.equal(f.stage, "check");
  assert.match(f.message, /has 1 error; nothing was deployed/);
  assert.equal(f.detail.diagnostics?.[0].code, "PG200");
  assert.equal(asked, false);
  const car = join(tempDir(), "not.car");
  writeFileSync(car, "not a car");
  assert.equal((await failure(loadManifest(car))).stage, "file");
});
