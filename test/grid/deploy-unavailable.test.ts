// A node that cannot be reached: the deploy's outcome is `unavailable` (the
// simulator's word for an invocation that cannot reach its promiser), not a
// broken promise nor a refusal. A real client against a real closed port.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { join } from "node:path";
import { GridClient } from "../../grid/api-client.ts";
import { deployFile, DeployFailure } from "../../grid/deploy.ts";
import { ROOT, newKey } from "./helpers.ts";

/** A loopback port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

test("a deploy to a node nobody answers for is unavailable, at the node stage", async () => {
  const client = new GridClient(`http://127.0.0.1:${await closedPort()}`, "token");
  const failure = await deployFile(join(ROOT, "examples/hello-wasm.pg"), { key: await newKey(), connect: async () => client }).then(
    () => assert.fail("the deploy cannot succeed"),
    (e: unknown) => e,
  );
  assert.ok(failure instanceof DeployFailure, String(failure));
  assert.equal(failure.stage, "node");
  assert.equal(failure.detail.code, "unavailable");
  assert.match(failure.message, /^unavailable: cannot reach the node at http:\/\/127\.0\.0\.1:\d+/);
});
