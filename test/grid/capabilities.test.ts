// Deploys through a real node's API with valid, forged, expired, widened and revoked chains.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiError } from "../../grid/api-client.ts";
import { delegateToken, issueToken } from "../../grid/capabilities.ts";
import { deployCar, tokenCid } from "../../grid/deploy.ts";
import { recordCid, signRecord } from "../../grid/records.ts";
import { CarWriter } from "@ipld/car";
import * as dagCbor from "@ipld/dag-cbor";
import { readFileSync } from "node:fs";
import { compileHello, compileWorkload, deployHello, issueVia, newKey, nodeForTests, type Compiled, type TestNode } from "./helpers.ts";

let node: TestNode;
let hello: Compiled;
nodeForTests(async (n) => {
  node = n;
  hello = await compileHello();
});

async function refused(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.status, 403);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
  assert.equal((await node.client.status()).peerId, node.node.peerId, "node still serving");
}

test("a valid chain runs: node -> dev", async () => {
  const dev = await newKey();
  const info = await deployHello(node, dev, [await issueVia(node, dev)], hello);
  assert.equal(info.state, "exited");
  assert.equal(info.assessment?.kept, true);
});

test("a valid delegated chain runs: node -> alice -> dev (attenuated)", async () => {
  const alice = await newKey();
  const dev = await newKey();
  const root = await issueVia(node, alice, [{ type: "run", args: ["*"] }], { depth: 1, expires: Date.now() + 60_000 });
  const hop = await delegateToken(alice, root, { audience: dev.publicKey.raw, grants: [{ type: "run", args: ["hello"] }], expires: Date.now() + 30_000 });
  const info = await deployHello(node, dev, [root, hop], hello);
  assert.equal(info.assessment?.kept, true);
});

test("a forged chain is refused", async () => {
  const dev = await newKey();
  const token = await issueVia(node, dev, [{ type: "run", args: ["other"] }]);
  // Rewrite the grant after signing: the signature no longer matches.
  const forged = { ...token, payload: { ...token.payload, grants: [{ type: "run", args: ["hello"] }] } };
  await refused(deployHello(node, dev, [forged], hello), "forged", /forged: its signature does not match/);
  // A token "from the node" signed by some other key is forged too.
  const mallory = await newKey();
  const fake = await issueToken(mallory, { name: "deploy_pass", audience: dev.publicKey.raw, grants: [{ type: "run", args: ["hello"] }] });
  const claimed = { ...fake, payload: { ...fake.payload, iss: node.node.publicKey } };
  await refused(deployHello(node, dev, [claimed], hello), "forged", /forged/);
});

test("a refused deploy stores none of the blocks it carried", async () => {
  const dev = await newKey();
  const other = await compileWorkload({ name: "unseen", module: new Uint8Array(readFileSync(new URL("../../examples/hello.wasm", import.meta.url))), args: ["unseen"] });
  const mallory = await newKey();
  const fake = await issueToken(mallory, { name: "pass", audience: dev.publicKey.raw, grants: [{ type: "run", args: ["unseen"] }] });
  await refused(deployHello(node, dev, [fake], other, { workload: "unseen" }), "foreign-root", /not issued by this node's key/);
  for (const b of other.blocks) if (!hello.blocks.some((h) => h.cid.equals(b.cid))) assert.equal(await node.node.store.has(b.cid), false, `${b.cid} was stored`);
});

test("an expired chain is refused", async () => {
  const dev = await newKey();
  const token = await issueVia(node, dev, undefined, { expires: Date.now() - 1000 });
  await refused(deployHello(node, dev, [token], hello), "expired", /expired at/);
});

test("a widened chain is refused", async () => {
  const alice = await newKey();
  const dev = await newKey();
  const root = await issueVia(node, alice, [{ type: "run", args: ["other"] }], { depth: 1 });
  const wider = await delegateToken(alice, root, { audience: dev.publicKey.raw, grants: [{ type: "run", args: ["hello"] }] });
  await refused(deployHello(node, dev, [root, wider], hello), "widened", /grants run\(hello\), which its parent does not/);
  const notDelegable = await issueVia(node, alice, [{ type: "run", args: ["hello"] }], { depth: 0 });
  const hop = await delegateToken(alice, notDelegable, { audience: dev.publicKey.raw, grants: [{ type: "run", args: ["hello"] }] });
  await refused(deployHello(node, dev, [notDelegable, hop], hello), "widened", /not delegable/);
  const expiring = await issueVia(node, alice, [{ type: "run", args: ["hello"] }], { depth: 1, expires: Date.now() + 60_000 });
  const longer = await delegateToken(alice, expiring, { audience: dev.publicKey.raw, grants: [{ type: "run", args: ["hello"] }], expires: null });
  await refused(deployHello(node, dev, [expiring, longer], hello), "widened", /expires later/);
});

test("a revoked chain is refused", async () => {
  const dev = await newKey();
  const token = await issueVia(node, dev);
  assert.equal((await deployHello(node, dev, [token], hello)).assessment?.kept, true);
  await node.client.revoke((await tokenCid(token)).toString());
  await refused(deployHello(node, dev, [token], hello), "revoked", /has been revoked/);
});

test("a chain rooted at another key is refused", async () => {
  const other = await newKey();
  const dev = await newKey();
  const token = await issueToken(other, { name: "deploy_pass", audience: dev.publicKey.raw, grants: [{ type: "run", args: ["hello"] }] });
  await refused(deployHello(node, dev, [token], hello), "foreign-root", /not issued by this node's key/);
});

test("a signed deploy request is good once and only near its signing time", async () => {
  const dev = await newKey();
  const car = await deployCar({ key: dev, manifest: hello.root, workload: "hello", chain: [await issueVia(node, dev)], blocks: hello.blocks });
  assert.equal((await node.client.deploy(car, { wait: true })).assessment?.kept, true);
  await refused(node.client.deploy(car), "replayed", /already used/);
  const chain = [await issueVia(node, dev)];
  const old = await signRecord(dev, { type: "promisegrid/deploy", v: 0, manifest: hello.root, workload: "hello", holder: dev.publicKey.raw, chain, at: Date.now() - 10 * 60_000, nonce: new Uint8Array(8) });
  const root = await recordCid(old);
  const { writer, out } = CarWriter.create([root]);
  const parts: Uint8Array[] = [];
  const done = (async () => { for await (const p of out) parts.push(p); })();
  await writer.put({ cid: root, bytes: dagCbor.encode(old) });
  await writer.close();
  await done;
  await refused(node.client.deploy(new Uint8Array(Buffer.concat(parts))), "stale", /more than 300 s from this node's clock/);
});
