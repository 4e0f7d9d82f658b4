// Real libp2p nodes on loopback: peering, block exchange, revocation gossip.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { CID } from "multiformats/cid";
import { ApiError } from "../../grid/api-client.ts";
import { delegateToken } from "../../grid/capabilities.ts";
import { tokenCid } from "../../grid/deploy.ts";
import { REVOCATIONS_TOPIC } from "../../grid/node.ts";
import { encodeEnvelope } from "../../grid/envelope.ts";
import { signRecord } from "../../grid/records.ts";
import { cleanupDirs, closeAll, compileHello, compileWorkload, deployHello, issueVia, newKey, startNode, startNodes, waitFor, withCustomSection, type TestNode } from "./helpers.ts";

/** The gossip bound: a revocation reaches every connected node within this time. */
const GOSSIP_BOUND_MS = 2000;

after(cleanupDirs);

test("two nodes peer", async () => {
  const a = await startNode();
  const b = await startNode({ peers: [a.node.addrs()[0]] });
  try {
    await waitFor("both sides to see the connection", async () => (await a.client.peers()).length === 1 && (await b.client.peers()).length === 1);
    assert.equal((await a.client.peers())[0].peerId, b.node.peerId);
    assert.equal((await b.client.peers())[0].peerId, a.node.peerId);
  } finally {
    await closeAll([a, b]);
  }
});

test("five nodes peer", async () => {
  const nodes = await startNodes(5);
  try {
    await waitFor("every node to see the four others", async () => {
      for (const n of nodes) if ((await n.client.peers()).length !== 4) return false;
      return true;
    });
    for (const n of nodes) {
      const ids = new Set((await n.client.peers()).map((p) => p.peerId));
      for (const m of nodes) if (m !== n) assert.ok(ids.has(m.node.peerId));
    }
  } finally {
    await closeAll(nodes);
  }
});

test("a manifest whose blocks are only on B is fetched by A and verified", async () => {
  const [a, b] = await startNodes(2);
  try {
    // A 3 MiB module: several chunks, all only on B.
    const module = new Uint8Array((await import("node:fs")).readFileSync(new URL("../../examples/hello.wasm", import.meta.url)));
    const padded = withCustomSection(module, 3 * 1024 * 1024);
    const compiled = await compileWorkload({ name: "big", module: padded, args: ["fetched"] });
    // dev deployed it on B before, so B may give its blocks to a node deploying it for dev.
    const dev = await newKey();
    await deployHello(b, dev, [await issueVia(b, dev, [{ type: "run", args: ["big"] }])], compiled, { workload: "big" });
    for (const blk of compiled.blocks) assert.equal(await a.node.store.has(blk.cid), false);
    const chain = [await issueVia(a, dev, [{ type: "run", args: ["big"] }])];
    const info = await deployHello(a, dev, chain, compiled, { sendBlocks: false, workload: "big" });
    let out = "";
    await a.client.logs(info.id, (e) => (out += e.data));
    assert.equal(out, "hello, fetched\n");
    for (const blk of compiled.blocks) assert.deepEqual(new Uint8Array((await a.node.store.get(blk.cid))!), new Uint8Array(blk.bytes));
    assert.ok(compiled.blocks.length >= 5, `${compiled.blocks.length} blocks`);
  } finally {
    await closeAll([a, b]);
  }
});

test("a block a peer sends with the wrong bytes is refused", async () => {
  const [a, b] = await startNodes(2);
  try {
    const hello = await compileHello();
    const dev = await newKey();
    await deployHello(b, dev, [await issueVia(b, dev)], hello);
    // B lies: it answers every request with other bytes.
    const store = b.node.store as unknown as { get(cid: CID): Promise<Uint8Array | undefined> };
    const real = store.get.bind(b.node.store);
    store.get = async (cid) => ((await real(cid)) ? new TextEncoder().encode("lies") : undefined);
    await assert.rejects(deployHello(a, dev, [await issueVia(a, dev)], hello, { sendBlocks: false }), (e: unknown) =>
      e instanceof ApiError && e.status === 422 && /is not on this node or on any of its 1 peer/.test(e.message));
    for (const blk of hello.blocks) assert.equal(await a.node.store.has(blk.cid), false);
    assert.equal((await a.client.status()).peers, 1, "A still serving");
  } finally {
    await closeAll([a, b]);
  }
});

test("a revocation issued on one node makes every other node refuse within the gossip bound", async () => {
  const nodes = await startNodes(5);
  const [issuer, ...others] = nodes;
  try {
    const hello = await compileHello();
    const dev = await newKey();
    // Each other node X trusts the issuer node with a delegable token; the issuer delegates to dev once.
    const roots = new Map<TestNode, Awaited<ReturnType<typeof issueVia>>>();
    for (const x of others) {
      const root = await issueVia(x, issuer.node.key, [{ type: "run", args: ["hello"] }], { depth: 1 });
      roots.set(x, root);
    }
    const devToken = await delegateToken(issuer.node.key, roots.get(others[0])!, { audience: dev.publicKey.raw, grants: [{ type: "run", args: ["hello"] }] });
    for (const x of others) assert.equal((await deployHello(x, dev, [roots.get(x)!, devToken], hello)).assessment?.kept, true);
    await waitFor("gossip meshes", async () => {
      for (const n of nodes) if ((await n.client.peers()).length !== 4) return false;
      return true;
    });
    const cid = await tokenCid(devToken);
    // The issuer never saw this chain in a deploy: it sends the proof with the revocation.
    await issuer.node.revoke(cid, [roots.get(others[0])!, devToken]);
    const took = await waitFor("every node to learn the revocation", () => others.every((x) => x.node.state.isRevoked(cid, [issuer.node.publicKey])), GOSSIP_BOUND_MS);
    for (const x of others) {
      await assert.rejects(deployHello(x, dev, [roots.get(x)!, devToken], hello), (e: unknown) => e instanceof ApiError && e.code === "revoked");
    }
    // A node that joins later catches up through the state sync and refuses too.
    const late = await startNode({ peers: [issuer.node.addrs()[0]] });
    nodes.push(late);
    await waitFor("the late node to sync", () => late.node.state.isRevoked(cid, [issuer.node.publicKey]), GOSSIP_BOUND_MS);
    assert.ok(took <= GOSSIP_BOUND_MS);
  } finally {
    await closeAll(nodes);
  }
});


test("a forged revocation on the gossip topic is dropped; a signed one arrives", async () => {
  const [a, b] = await startNodes(2);
  try {
    await waitFor("the gossip mesh", () => b.node.libp2p.services.pubsub.getSubscribers(REVOCATIONS_TOPIC).length === 1);
    const mallory = await newKey();
    const forgedPass = await a.node.issue({ name: "p", audience: mallory.publicKey.raw, grants: [] });
    const forgedToken = await tokenCid(forgedPass);
    // Signed by mallory but claiming to be by A.
    const forged = await signRecord(mallory, { type: "promisegrid/revocation", v: 0, token: forgedToken, by: a.node.publicKey, chain: [forgedPass], at: Date.now() });
    const forgedClaim = { ...forged, payload: { ...forged.payload } };
    await a.node.libp2p.services.pubsub.publish(REVOCATIONS_TOPIC, encodeEnvelope(["record", forgedClaim]));
    const real = await tokenCid(await a.node.issue({ name: "q", audience: mallory.publicKey.raw, grants: [] }));
    await a.node.revoke(real);
    await waitFor("the signed revocation", () => b.node.state.isRevoked(real, [a.node.publicKey]), GOSSIP_BOUND_MS);
    assert.equal(b.node.state.isRevoked(forgedToken, [a.node.publicKey]), false);
    assert.equal(b.node.state.revocations.size, 1);
  } finally {
    await closeAll([a, b]);
  }
});

test("a node whose --peer cannot be reached does not start, and says which peer", async () => {
  const a = await startNode();
  const addr = a.node.addrs()[0];
  await a.close();
  await assert.rejects(startNode({ peers: [addr] }), (e: Error) => e.message.startsWith(`cannot reach peer ${addr}`));
  await assert.rejects(startNode({ peers: ["not a multiaddr"] }), /bad peer address 'not a multiaddr'/);
});
