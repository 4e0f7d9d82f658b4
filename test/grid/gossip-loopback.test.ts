// Many peers of one host: every connection dialled in over loopback comes from
// 127.0.0.1, and gossipsub's IP-colocation score graylists peers past 14 from
// one address (their gossip ignored, none sent to them). Loopback is exempt
// (grid/node.ts): a hub with 16 such peers still carries a revocation to all, including a spoke it grafts just after
// the revocation came (it syncs the state on the graft).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { GridNode, REVOCATIONS_TOPIC } from "../../grid/node.ts";
import { loadOrCreateKey } from "../../grid/keys.ts";
import { recordCid } from "../../grid/records.ts";
import { cleanupDirs, newKey, tempDir, waitFor } from "./helpers.ts";

/** Past IPColocationFactorThreshold (10) by enough that the penalty, (n - 10)² × -5, is below the graylist threshold (-80). */
const SPOKES = 16;

after(cleanupDirs);

/** Waits (at most 10 s) for `cond`; the assertion after it says what was not reached. */
const settle = (cond: () => boolean) => waitFor("", cond, 10_000).catch(() => {});

test(`a node with ${SPOKES} peers dialled in from 127.0.0.1 hears their gossip and passes it on to every one`, async () => {
  const nodes: GridNode[] = [];
  try {
    const hub = await GridNode.start({ dataDir: tempDir() });
    nodes.push(hub);
    // The spokes' keys first: each refuses the others (connection gater), so the hub is every spoke's only peer.
    const dirs = Array.from({ length: SPOKES }, () => tempDir());
    const ids = await Promise.all(dirs.map(async (d) => peerIdFromPrivateKey(await loadOrCreateKey(join(d, "key"))).toString()));
    for (const [i, dataDir] of dirs.entries()) {
      nodes.push(await GridNode.start({ dataDir, peers: [hub.addrs()[0]], denyPeers: ids.filter((_, j) => j !== i) }));
    }
    const spokes = nodes.slice(1);
    const fromLoopback = () => hub.libp2p.getConnections().filter((c) => c.remoteAddr.toString().startsWith("/ip4/127.0.0.1/")).length;
    await settle(() => fromLoopback() === SPOKES);
    assert.equal(fromLoopback(), SPOKES, "the hub's connections from 127.0.0.1");
    await settle(() => hub.gossip()[REVOCATIONS_TOPIC].subscribers === SPOKES);
    assert.equal(hub.gossip()[REVOCATIONS_TOPIC].subscribers, SPOKES, "spokes whose subscription the hub heard (a graylisted peer's are ignored)");
    for (const s of spokes) assert.deepEqual(s.peers().map((p) => p.peerId), [hub.peerId], "a spoke's one peer is the hub");
    // A spoke revokes a token it issued: only gossip through the hub can carry it to the other spokes.
    const from = spokes[0];
    const token = await recordCid(await from.issue({ name: "pass", audience: (await newKey()).publicKey.raw, grants: [] }));
    const cid = (await from.revoke(token)).toString();
    const missing = () => spokes.filter((s) => !s.state.revocations.has(cid)).length;
    await settle(() => missing() === 0);
    assert.equal(missing(), 0, "spokes that did not hear the revocation");
    // By gossip, or by the state sync a spoke runs when the hub grafts it (a record that reached the hub just before
    // then went to its mesh without the spoke); either way from the hub, its one peer.
    for (const s of spokes.slice(1)) {
      const learnt = s.state.learnt.get(cid);
      assert.ok((learnt?.via === "gossip" || learnt?.via === "sync") && learnt.from === hub.peerId, `a spoke learnt it ${JSON.stringify(learnt)}`);
    }
    assert.equal(hub.state.learnt.get(cid)?.from, from.peerId);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
});
