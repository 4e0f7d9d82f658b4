// `promisegrid deploy FILE --to any` on real node processes: the local node,
// restricted to wasm, places a container workload. A wasm-only peer and a
// peer that honours only its own key are skipped, a peer whose policy refuses
// the chain is tried and refuses, and the next one runs it (real runc).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadOrCreateKey } from "../../grid/keys.ts";
import { buildNode, startProc, stopAll, tempRoot, writeFleet, type ProcNode } from "./processes.ts";
import { ROOT, cleanupDirs, waitFor } from "./helpers.ts";

const root = tempRoot();
const nodes: Omit<ProcNode, "index" | "bootstrap">[] = [];
let fleet: Awaited<ReturnType<typeof writeFleet>>;
let local: (typeof nodes)[number], wasmOnly: (typeof nodes)[number], ownKey: (typeof nodes)[number], strict: (typeof nodes)[number], runner: (typeof nodes)[number];

before(async () => {
  const program = await buildNode(root.dir);
  fleet = await writeFleet(join(root.dir, "fleet"));
  // The strict peer sorts before the runner (equal load: by key), so it is asked first.
  const [k1, k2] = [join(root.dir, "p1"), join(root.dir, "p2")];
  const [a, b] = await Promise.all([loadOrCreateKey(join(k1, "key")), loadOrCreateKey(join(k2, "key"))]);
  const [strictDir, runnerDir] = Buffer.compare(a.publicKey.raw, b.publicKey.raw) < 0 ? [k1, k2] : [k2, k1];
  local = await startProc(program, { dataDir: join(root.dir, "local"), host: "127.0.0.200", peers: [], extra: ["--drivers", "wasm"] });
  nodes.push(local);
  const peer = (dataDir: string, host: string, extra: string[]) => startProc(program, { dataDir, host, peers: [local.addr], extra });
  [wasmOnly, ownKey, strict, runner] = await Promise.all([
    peer(join(root.dir, "wasm-only"), "127.0.0.201", ["--drivers", "wasm", "--policy", fleet.policy, "--as", "fleet_node"]),
    peer(join(root.dir, "own-key"), "127.0.0.202", []),
    peer(strictDir, "127.0.0.203", ["--policy", fleet.strictPolicy, "--as", "fleet_node"]),
    peer(runnerDir, "127.0.0.204", ["--policy", fleet.policy, "--as", "fleet_node"]),
  ]);
  nodes.push(wasmOnly, ownKey, strict, runner);
});

after(async () => {
  await stopAll(nodes);
  root.remove();
  cleanupDirs();
});

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "cli/main.ts"), ...args], {
    encoding: "utf8", timeout: 120_000, env: { ...process.env, PROMISEGRID_HOME: fleet.home, PROMISEGRID_NODE_DIR: local.dataDir },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test("deploy --to any from a wasm-only node runs a container workload on a peer with runc, after skipping and refusals, and says why", async () => {
  await waitFor("the local node to know the four peers' offers", async () => (await local.client.offers()).filter((o) => o.live).length >= 5, 30_000);
  const r = cli("deploy", fleet.app, "--to", "any", "--token", fleet.token);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "hello from a placed container\n");
  assert.match(r.err, new RegExp(`on peer ${runner.peerId} `));
  assert.match(r.err, new RegExp(`placed on peer ${runner.peerId}: it runs container, it promises \\+run\\(\\*\\) to \\* if holds\\(a capability issued by ${fleet.opsKey}\\), load 0 running`));
  assert.match(r.err, new RegExp(`  ${strict.peerId} refused: widened: peer ${strict.peerId}: deploy refused: capability 0 grants run\\(\\*\\), which fleet_pass in fleet_node's policy does not`));
  assert.match(r.err, new RegExp(`  ${wasmOnly.peerId} skipped: it offers wasm, not container`));
  assert.match(r.err, new RegExp(`  ${ownKey.peerId} skipped: it promises run\\(hello_container\\) only if holds\\(a capability issued by did:key:\\w+\\); the capability presented is issued by ${fleet.opsKey}`));
  assert.match(r.err, new RegExp(`assessment: kept: hello_container exited with code 0 \\(bafy\\w+, signed by peer ${runner.peerId}: verified\\)`));
  // The runner ran it; the strict peer ran nothing; the local node cannot run containers at all.
  assert.deepEqual((await runner.client.deployments()).map((d) => d.sandbox), ["container"]);
  assert.deepEqual(await strict.client.deployments(), []);

  // --json: the same choice, as data.
  const j = cli("deploy", fleet.app, "--to", "any", "--token", fleet.token, "--json");
  assert.equal(j.code, 0, j.err);
  const placement = JSON.parse(j.out).remote.placement;
  assert.equal(placement.peer, runner.peerId);
  assert.deepEqual(Object.fromEntries(placement.considered.map((c: { peer: string; outcome: string }) => [c.peer, c.outcome])), {
    [runner.peerId]: "chosen", [strict.peerId]: "refused", [wasmOnly.peerId]: "skipped", [ownKey.peerId]: "skipped",
  });
});

test("deploy --to any with a capability no peer honours: refused, each peer with its reason, nothing runs", async () => {
  const stranger = join(fleet.home, "stranger.token");
  writeFileSync(stranger, fleet.strangerToken);
  const before = (await runner.client.deployments()).length;
  const r = cli("deploy", fleet.app, "--to", "any", "--token", stranger);
  assert.equal(r.code, 1);
  assert.match(r.err, /no peer could take hello_container \(container\); /);
  assert.match(r.err, new RegExp(`${runner.peerId} was skipped \\(it promises run\\(hello_container\\) only if holds\\(a capability issued by ${fleet.opsKey}\\); the capability presented is issued by did:key:`));
  assert.equal((await runner.client.deployments()).length, before);
});
