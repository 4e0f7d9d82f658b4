// Hostile records against real nodes: poisoned and flooded gossip, a state
// bigger than one message, forged, future-dated and replayed deploys, and a
// data dir whose modes let others read its secrets.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { CarWriter } from "@ipld/car";
import * as dagCbor from "@ipld/dag-cbor";
import type { CID } from "multiformats/cid";
import { ApiError, GridClient } from "../../grid/api-client.ts";
import { startDaemon } from "../../grid/daemon.ts";
import { deployCar, tokenCid } from "../../grid/deploy.ts";
import { loadOrCreateKey } from "../../grid/keys.ts";
import { ASSESSMENTS_TOPIC, REVOCATIONS_TOPIC } from "../../grid/node.ts";
import { encodeEnvelope } from "../../grid/envelope.ts";
import { MAX_RECORD_BYTES, recordCid, signRecord, type DeployPayload, type Signed, type TokenPayload } from "../../grid/records.ts";
import { MAX_REVOCATIONS_PER_AUTHOR } from "../../grid/state.ts";
import { cleanupDirs, closeAll, compileHello, deployHello, issueVia, newKey, startNode, tempDir, waitFor, type TestNode } from "./helpers.ts";
import { connectTo, encoded, hostilePeer, selfRevocation } from "./hostile-peer.ts";

after(() => cleanupDirs());

async function stateAnswers(n: TestNode): Promise<void> {
  const res = await fetch(`${n.url}/v0/state`, { headers: { authorization: `Bearer ${n.token}` } });
  assert.equal(res.status, 200, await res.text());
}

test("loose modes on the data dir, blocks/ and api-token are fixed at start", async () => {
  const dir = tempDir();
  mkdirSync(join(dir, "blocks"), { mode: 0o755 });
  chmodSync(dir, 0o755);
  chmodSync(join(dir, "blocks"), 0o755);
  writeFileSync(join(dir, "api-token"), "a".repeat(64) + "\n", { mode: 0o644 });
  chmodSync(join(dir, "api-token"), 0o644);
  const d = await startDaemon({ dataDir: dir });
  try {
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, "blocks")).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, "api-token")).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "key")).mode & 0o777, 0o600);
    assert.equal(d.token, "a".repeat(64));
  } finally {
    await d.close();
  }
});

async function carOf(request: Signed<DeployPayload>, blocks: { cid: CID; bytes: Uint8Array }[]): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create([await recordCid(request)]);
  const parts: Uint8Array[] = [];
  const done = (async () => { for await (const p of out) parts.push(p); })();
  await writer.put({ cid: await recordCid(request), bytes: dagCbor.encode(request) });
  for (const b of blocks) await writer.put(b);
  await writer.close();
  await done;
  return new Uint8Array(Buffer.concat(parts));
}

async function refused(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof ApiError && e.status === 403 && e.code === code);
}

test("a deploy request whose signature is broken, or signed by another key, or dated in the future is refused", async () => {
  const node = await startNode();
  try {
    const hello = await compileHello();
    const dev = await newKey();
    const mallory = await newKey();
    const chain = [await issueVia(node, dev)];
    const payload = (at: number): DeployPayload => ({ type: "promisegrid/deploy", v: 0, manifest: hello.root, workload: "hello", holder: dev.publicKey.raw, chain, at, nonce: new Uint8Array(randomBytes(8)) });
    const good = await signRecord(dev, payload(Date.now()));
    const flipped = { ...good, sig: Uint8Array.from(good.sig, (b, i) => (i === 10 ? b ^ 1 : b)) };
    await refused(node.client.deploy(await carOf(flipped, hello.blocks), { wait: true }), "forged");
    await refused(node.client.deploy(await carOf(await signRecord(mallory, payload(Date.now())), hello.blocks), { wait: true }), "forged");
    await refused(node.client.deploy(await carOf(await signRecord(dev, payload(Date.now() + 6 * 60_000)), hello.blocks), { wait: true }), "stale");
    await refused(node.client.deploy(await carOf(await signRecord(dev, payload(Date.now() - 6 * 60_000)), hello.blocks), { wait: true }), "stale");
    assert.equal((await node.client.deploy(await carOf(good, hello.blocks), { wait: true })).assessment?.kept, true);
  } finally {
    await closeAll([node]);
  }
});

test("a deploy replayed after the node restarts is refused", async () => {
  const dataDir = tempDir();
  let d = await startDaemon({ dataDir });
  const hello = await compileHello();
  const dev = await newKey();
  const client = () => new GridClient(d.url, d.token);
  const chain = [await issueVia(Object.assign(d, { client: client(), dataDir }), dev)];
  const car = await deployCar({ key: dev, manifest: hello.root, workload: "hello", chain, blocks: hello.blocks });
  try {
    assert.equal((await client().deploy(car, { wait: true })).assessment?.kept, true);
    await refused(client().deploy(car, { wait: true }), "replayed");
    await d.close();
    d = await startDaemon({ dataDir });
    await refused(client().deploy(car, { wait: true }), "replayed");
  } finally {
    await d.close();
  }
});

test("a poisoned record on gossip is neither stored nor forwarded, and the state API keeps answering", async () => {
  const a = await startNode();
  const b = await startNode({ peers: [a.node.addrs()[0]] });
  const h = await hostilePeer();
  try {
    await connectTo(h, a.node.addrs()[0]);
    h.services.pubsub.subscribe(REVOCATIONS_TOPIC);
    h.services.pubsub.subscribe(ASSESSMENTS_TOPIC);
    await waitFor("the hostile peer in A's mesh", () => h.services.pubsub.getSubscribers(REVOCATIONS_TOPIC).length >= 1 && h.services.pubsub.getSubscribers(ASSESSMENTS_TOPIC).length >= 1);
    await waitFor("A and B meshed", () => b.node.libp2p.services.pubsub.getSubscribers(REVOCATIONS_TOPIC).length >= 1);
    const key = await newKey();
    const good = await selfRevocation(key, 1);
    const poisoned: unknown[] = [
      await signRecord(key, { ...good.payload, token: null } as never),
      await signRecord(key, { ...good.payload, at: -1 }),
      await signRecord(key, { ...good.payload, pad: "x" } as never),
      await signRecord(key, { ...good.payload, chain: [] }),
      await signRecord(key, { type: "promisegrid/assessment", v: 0, node: key.publicKey.raw, deployment: "d", manifest: good.payload.token, workload: "w", kept: "yes", exitCode: 0, reason: "exit", message: "", output: null, at: 1 } as never),
      { payload: good.payload, sig: "not bytes" },
    ];
    for (const p of poisoned) await h.services.pubsub.publish(REVOCATIONS_TOPIC, encodeEnvelope(["record", p]));
    await h.services.pubsub.publish(REVOCATIONS_TOPIC, encodeEnvelope(["record", good]));
    const goodCid = (await recordCid(good)).toString();
    await waitFor("the good record on A and B", () => a.node.state.revocations.has(goodCid) && b.node.state.revocations.has(goodCid));
    for (const n of [a, b]) {
      assert.deepEqual(n.node.state.summary(), [goodCid]);
      await stateAnswers(n);
    }
  } finally {
    await h.stop();
    await closeAll([a, b]);
  }
});

test("one key flooding revocations is held to its quota, and oversized records are refused", { timeout: 60_000 }, async () => {
  const a = await startNode();
  const h = await hostilePeer();
  try {
    await connectTo(h, a.node.addrs()[0]);
    h.services.pubsub.subscribe(REVOCATIONS_TOPIC);
    await waitFor("the hostile peer in A's mesh", () => h.services.pubsub.getSubscribers(REVOCATIONS_TOPIC).length >= 1);
    const key = await newKey();
    const big = await selfRevocation(key, 0, 20_000);
    assert.ok(encoded(big) > MAX_RECORD_BYTES);
    await h.services.pubsub.publish(REVOCATIONS_TOPIC, encodeEnvelope(["record", big]));
    const extra = 50;
    for (let i = 1; i <= MAX_REVOCATIONS_PER_AUTHOR + extra; i++) await h.services.pubsub.publish(REVOCATIONS_TOPIC, encodeEnvelope(["record", await selfRevocation(key, i)]));
    const marker = await selfRevocation(await newKey(), 0);
    const markerCid = (await recordCid(marker)).toString();
    await h.services.pubsub.publish(REVOCATIONS_TOPIC, encodeEnvelope(["record", marker]));
    await waitFor("the flood to arrive", () => a.node.state.revocations.has(markerCid) && a.node.state.revocations.size >= MAX_REVOCATIONS_PER_AUTHOR + 1, 30_000);
    await stateAnswers(a);
    assert.equal(a.node.state.revocations.size, MAX_REVOCATIONS_PER_AUTHOR + 1);
    assert.equal(a.node.state.revocations.has((await recordCid(big)).toString()), false);
  } finally {
    await h.stop();
    await closeAll([a]);
  }
});

test("a late joiner catches up on a state bigger than one message, and refuses the revoked chain in it", { timeout: 60_000 }, async () => {
  const dirB = tempDir();
  let b = await startDaemon({ dataDir: dirB });
  const bNode: TestNode = Object.assign(b, { client: new GridClient(b.url, b.token), dataDir: dirB });
  const dev = await newKey();
  const pass = await issueVia(bNode, dev);
  await b.close();
  const a = await startNode();
  try {
    // A heard, earlier, a great many padded revocations and then B's revocation of dev's pass.
    const flood = await newKey();
    for (let i = 0; i < 700; i++) await a.node.addRecord(await selfRevocation(flood, i, 13_000));
    const bKey = await loadOrCreateKey(join(dirB, "key"));
    const revocation = await signRecord(bKey, { type: "promisegrid/revocation", v: 0, token: await tokenCid(pass), by: bKey.publicKey.raw, chain: [pass], at: Date.now() });
    await a.node.addRecord(revocation);
    const total = a.node.state.records().reduce((n, r) => n + encoded(r), 0);
    assert.ok(total > 8 * 1024 * 1024, `the state is only ${total} bytes`);
    b = await startDaemon({ dataDir: dirB, peers: [a.node.addrs()[0]] });
    const late: TestNode = Object.assign(b, { client: new GridClient(b.url, b.token), dataDir: dirB });
    await waitFor("the late joiner to learn the revocation", () => b.node.state.isRevoked(revocation.payload.token, [bKey.publicKey.raw]), 30_000);
    assert.equal(b.node.state.revocations.size, 701);
    await refused(deployHello(late, dev, [pass as Signed<TokenPayload>], await compileHello()), "revoked");
  } finally {
    await b.close();
    await closeAll([a]);
  }
});
