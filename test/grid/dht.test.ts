// A grid of real node processes on loopback (distinct 127.0.0.x addresses,
// each node given 2 bootstrap peers): content routing through the DHT, public
// blocks by `block get`, revocation gossip to every node, `deploy --to any`
// placed through the offers, a placed peer killed mid-run, and a peer serving
// corrupt blocks.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { deployManifest, loadManifest, tokenCid } from "../../grid/deploy.ts";
import { SILENCE_MS } from "../../grid/remote.ts";
import { readChain } from "../../grid/tokens.ts";
import { decodeManifest } from "../../grid/manifest.ts";
import { buildNode, startGrid, startProc, stopAll, tempRoot, writeFleet, type ProcNode } from "./processes.ts";
import { cleanupDirs, compileHello, compileWorkload, deployHello, issueVia, newKey, ROOT, waitFor, wat, withCustomSection, type TestNode } from "./helpers.ts";

/**
 * Nodes in the grid: 30, as the benchmark runs. On a 2-core machine the file
 * takes about 2 minutes alone, 6 or 7 beside other heavy work (most of it
 * starting the node processes, each wave waiting on the DHT and gossip work of
 * the ones before). PG_DHT_NODES=N runs a smaller grid.
 */
const N = Number(process.env.PG_DHT_NODES ?? 30);
/** The gossip bound (docs/grid.md). */
const GOSSIP_BOUND_MS = 2000;

const root = tempRoot();
let grid: ProcNode[] = [];
let program = "";
const extra: ProcNode[] = [];
const asTest = (n: ProcNode) => n as unknown as TestNode;

before(async () => {
  program = await buildNode(root.dir);
  grid = await startGrid(N, { program, root: root.dir });
});

after(async () => {
  await stopAll([...grid, ...extra]);
  root.remove();
  cleanupDirs();
});

/** Waits until the node has no provide under way and has finished at least `n`. */
async function provided(node: ProcNode, n: number): Promise<void> {
  await waitFor(`node ${node.index} to provide ${n} CIDs`, async () => {
    const r = await node.client.peersReport();
    return r.dht.providing === 0 && r.dht.provided >= n;
  }, 60_000);
}

function cli(...args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "cli/main.ts"), ...args], { encoding: "utf8", timeout: 60_000 });
}

test(`a block only on the farthest of ${N} nodes is fetched by the first through DHT providers`, async () => {
  const first = grid[0], far = grid[N - 1];
  const hello = await compileHello();
  const dev = await newKey();
  const info = await deployHello(asTest(far), dev, [await issueVia(asTest(far), dev)], hello);
  assert.equal(info.assessment?.kept, true, info.assessment?.message);
  await provided(far, 2);
  for (const n of grid.slice(0, -1)) assert.equal((await n.client.peersReport()).dht.provided, 0, `node ${n.index} provides nothing`);
  // The same deployer deploys it on the first node without sending blocks: the first node finds the far one through the DHT.
  const run = await deployHello(asTest(first), dev, [await issueVia(asTest(first), dev)], hello, { sendBlocks: false });
  assert.equal(run.assessment?.kept, true, run.assessment?.message);
  const out = join(root.dir, "root.block");
  const r = cli("block", "get", hello.root.toString(), "--data-dir", first.dataDir, "-o", out, "--json");
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  assert.equal(got.via, "provider");
  assert.equal(got.from, far.peerId);
  assert.deepEqual(new Uint8Array(readFileSync(out)), new Uint8Array(hello.blocks.find((b) => b.cid.equals(hello.root))!.bytes));
});

test("block get: a public file chunk only on the far node comes through DHT providers; its workload block (args, env) is not given", async () => {
  const far = grid[N - 1], fetcher = grid[2];
  const module = withCustomSection(new Uint8Array(readFileSync(join(ROOT, "examples/hello.wasm"))), 2048);
  const m = await compileWorkload({ name: "greet", module, args: ["far"], env: { SECRET: "s3cret" } });
  const dev = await newKey();
  const before = (await far.client.peersReport()).dht.provided;
  assert.equal((await deployHello(asTest(far), dev, [await issueVia(asTest(far), dev, [{ type: "run", args: ["greet"] }])], m, { workload: "greet" })).assessment?.kept, true);
  await provided(far, before + 2);
  const chunk = m.blocks.find((b) => b.cid.code === 0x55)!;
  const out = join(root.dir, "chunk.block");
  const r = cli("block", "get", chunk.cid.toString(), "--data-dir", fetcher.dataDir, "-o", out, "--json");
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { cid: chunk.cid.toString(), size: chunk.bytes.length, from: far.peerId, via: "provider", file: out });
  assert.deepEqual(new Uint8Array(readFileSync(out)), new Uint8Array(chunk.bytes));
  const workload = decodeManifest(m.blocks.find((b) => b.cid.equals(m.root))!.bytes).workloads.greet;
  const refused = cli("block", "get", workload.toString(), "--data-dir", fetcher.dataDir);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, new RegExp(`block ${workload} is not on this node or on any of its \\d+ peer\\(s\\); without a deploy of its manifest only public blocks \\(workload file chunks\\) are given`));
});

test(`a revocation reaches all ${N} nodes within the gossip bound`, async () => {
  const token = await tokenCid(await issueVia(asTest(grid[0]), await newKey()));
  const start = performance.timeOrigin + performance.now();
  const cid = await grid[0].client.revoke(token.toString());
  // Each node says when it learnt it (one machine, one clock); asking every node every few ms
  // would load the very event loops that forward the gossip, so they are asked gently.
  let states: Awaited<ReturnType<ProcNode["client"]["state"]>>[] = [];
  await waitFor(`all ${N} nodes to hold the revocation`, async () => {
    states = await Promise.all(grid.map((n) => n.client.state()));
    await new Promise((r) => setTimeout(r, 100));
    return states.every((s) => s.revocations.some((r) => r.cid === cid));
  }, 5 * GOSSIP_BOUND_MS);
  const late = states.map((s, i) => ({ node: i, ms: s.revocations.find((r) => r.cid === cid)!.learnt!.at - start })).filter((x) => x.ms > GOSSIP_BOUND_MS);
  assert.deepEqual(late, [], `nodes that learnt the revocation later than ${GOSSIP_BOUND_MS} ms after it was made`);
  const r = cli("node", "state", "--data-dir", grid[N - 1].dataDir, "--json");
  assert.equal(r.status, 0, r.stderr);
  assert.ok(JSON.parse(r.stdout).revocations.some((x: { token: string }) => x.token === token.toString()));
});

test(`deploy --to any from a wasm-only node places a container workload on a peer with runc, found among ${N + 1} offers across the grid`, async () => {
  const fleet = await writeFleet(join(root.dir, "fleet"));
  // Both join far apart: the runner near node 0, the laptop (no runc, by --drivers) at the far end.
  const runner = { ...(await startProc(program, { dataDir: join(root.dir, "runner"), host: "127.0.0.240", peers: [grid[0].addr, grid[1].addr], extra: ["--policy", fleet.policy, "--as", "fleet_node"] })), index: -1, bootstrap: [0, 1] };
  const laptop = { ...(await startProc(program, { dataDir: join(root.dir, "laptop"), host: "127.0.0.241", peers: [grid[N - 1].addr, grid[N - 2].addr], extra: ["--drivers", "wasm"] })), index: -1, bootstrap: [N - 1, N - 2] };
  extra.push(runner, laptop);
  // The runner's offer crosses the grid by gossip.
  await waitFor("the laptop to know the runner's offer", async () => (await laptop.client.offers()).some((o) => o.live && o.sandboxes.some((x) => x.kind === "container") && o.promises.some((p) => JSON.stringify(p.if).includes(fleet.opsKey))), 30_000);
  // And the grid nodes' (containers, for their own key only), which a loaded machine delays: the placement below is
  // to consider every offer the laptop knows.
  const gridOffers = async () => (await laptop.client.offers()).filter((o) => o.live && o.sandboxes.some((x) => x.kind === "container") && !JSON.stringify(o.promises).includes(fleet.opsKey)).length;
  await waitFor("the laptop to know the grid nodes' offers", async () => (await gridOffers()) >= N - 2, 30_000);
  const env = { ...process.env, PROMISEGRID_HOME: fleet.home, PROMISEGRID_NODE_DIR: laptop.dataDir };
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "cli/main.ts"), "deploy", fleet.app, "--to", "any", "--token", fleet.token, "--json"], { encoding: "utf8", timeout: 120_000, env });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const out = JSON.parse(r.stdout);
  assert.equal(out.assessment.kept, true, out.assessment.message);
  assert.equal(out.output, "hello from a placed container\n");
  assert.equal(out.remote.peer, runner.peerId);
  assert.equal(out.remote.verified, true);
  // Every grid node runs containers too, but honours only its own key: skipped, and said why.
  const skipped = out.remote.placement.considered.filter((c: { outcome: string }) => c.outcome === "skipped");
  assert.ok(skipped.length >= N - 2, `the grid's nodes were considered (${skipped.length})`);
  for (const c of skipped) assert.match(c.why, /only if holds\(a capability issued by did:key:\w+\); the capability presented is issued by/);
  runnerOf = { runner, laptop, fleet };
});

let runnerOf: { runner: ProcNode; laptop: ProcNode; fleet: Awaited<ReturnType<typeof writeFleet>> } | undefined;

test("a placed peer killed mid-run: the deploy ends broken, peer gone, within the deploy protocol's silence bound", async () => {
  assert.ok(runnerOf, "needs the placement test's nodes");
  const { runner, laptop, fleet } = runnerOf;
  const dir = join(root.dir, "loop");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "loop.wasm"), await wat("loop"));
  writeFileSync(join(dir, "loop.pg"), readFileSync(join(ROOT, "examples/hello-wasm.pg"), "utf8").replace('module "hello.wasm"', 'module "loop.wasm"').replace("time 2s", "time 60s").replaceAll("hello", "loop"));
  let killed = 0;
  const r = await deployManifest(laptop.client, await loadManifest(join(dir, "loop.pg")), {
    key: fleet.dev, to: "any", chain: readChain(fleet.token),
    onStarted: () => {
      killed = performance.now();
      runner.child.kill("SIGKILL");
    },
  });
  const after = performance.now() - killed;
  assert.equal(r.peer, runner.peerId, "placed on the runner, the one peer that honours the fleet pass");
  assert.equal(r.kept, false);
  assert.match(r.remote?.gone ?? "", new RegExp(`peer ${runner.peerId} gone during deployment ${r.id}`));
  assert.equal(r.info.assessment, null);
  assert.ok(after < SILENCE_MS + 5000, `peer gone after ${Math.round(after)} ms, not within the bound`);
});

test("a node serving corrupt blocks is dropped and the deploy still succeeds from an honest provider", async () => {
  // The liar joins the grid. Manifests zero and one are on the liar, one also on an honest node.
  const liar = { ...(await startProc(join(ROOT, "test/grid/fixtures/liar-node.ts"), { dataDir: join(root.dir, "liar"), host: "127.0.0.250", peers: [grid[3].addr, grid[4].addr] })), index: -1, bootstrap: [3, 4] };
  extra.push(liar);
  const module = new Uint8Array(readFileSync(join(ROOT, "examples/hello.wasm")));
  const zero = await compileWorkload({ name: "greet", module: withCustomSection(module, 1024), args: ["zero"] });
  const one = await compileWorkload({ name: "greet", module, args: ["one"] });
  const dev = await newKey();
  const grants = [{ type: "run", args: ["greet"] }];
  const honest = grid[N - 2];
  for (const [node, m] of [[liar, zero], [liar, one], [honest, one]] as const) {
    assert.equal((await deployHello(asTest(node), dev, [await issueVia(asTest(node), dev, grants)], m, { workload: "greet" })).assessment?.kept, true);
  }
  await provided(liar, 4);
  await provided(honest, 2);
  // The liar tells the truth about manifest zero and lies about manifest one's wasm chunk.
  const chunk = one.blocks.find((b) => b.cid.code === 0x55)!.cid;
  writeFileSync(join(liar.dataDir, "lies"), chunk.toString() + "\n");
  const fetcher = grid[1];
  // Zero is only on the liar: it serves it, so it is the peer the fetcher asks first next time.
  assert.equal((await deployHello(asTest(fetcher), dev, [await issueVia(asTest(fetcher), dev, grants)], zero, { sendBlocks: false, workload: "greet" })).assessment?.kept, true);
  const info = await deployHello(asTest(fetcher), dev, [await issueVia(asTest(fetcher), dev, grants)], one, { sendBlocks: false, workload: "greet" });
  let out = "";
  await fetcher.client.logs(info.id, (e) => (out += e.data));
  assert.equal(out, "hello, one\n");
  const report = await fetcher.client.peersReport();
  assert.deepEqual(report.banned.map((b) => b.peerId), [liar.peerId], "the liar is dropped");
  assert.ok(!report.peers.some((p) => p.peerId === liar.peerId), "and disconnected");
  // The liar cannot connect back while it is refused (its side may see the dial start; the fetcher refuses it).
  await liar.client.dial(fetcher.addr).catch(() => "");
  assert.ok(!(await fetcher.client.peers()).some((p) => p.peerId === liar.peerId), "and refused when it dials back");
});
