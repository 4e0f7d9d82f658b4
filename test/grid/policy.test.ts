// A node with a policy (`--policy examples/food-trucks-grid.pg --as truck5`) on
// a real node: it honours chains rooted at truck1's key because truck5 promised
// to, and refuses, each with its reason, what its promises do not cover.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ApiError, GridClient } from "../../grid/api-client.ts";
import { delegateToken, issueToken, type Token } from "../../grid/capabilities.ts";
import { startDaemon } from "../../grid/daemon.ts";
import { tokenCid } from "../../grid/deploy.ts";
import { loadOrCreateKey, keyId, type PrivateKey } from "../../grid/keys.ts";
import { signRecord } from "../../grid/records.ts";
import { cleanupDirs, closeAll, compileFile, deployHello, newKey, ROOT, tempDir, type Compiled, type TestNode } from "./helpers.ts";

const EXAMPLE = join(ROOT, "examples/food-trucks-grid.pg");
const fixtureKey = (name: string) => join(ROOT, "test/grid/fixtures/keys", `${name}.key`);

/** A real node whose data dir holds the fixture key `keyName`, running `--policy file --as agent`. */
async function policyNode(keyName: string, file: string, agent: string): Promise<TestNode> {
  const dataDir = tempDir();
  copyFileSync(fixtureKey(keyName), join(dataDir, "key"));
  const d = await startDaemon({ dataDir, policy: { file, agent } });
  return Object.assign(d, { client: new GridClient(d.url, d.token), dataDir });
}

let truck5: TestNode;
let truck1: PrivateKey, alice: PrivateKey, bob: PrivateKey;
let lunch: Compiled;
const LUNCH = [{ type: "run", args: ["lunch"] }];

before(async () => {
  truck1 = await loadOrCreateKey(fixtureKey("truck1"));
  alice = await loadOrCreateKey(fixtureKey("alice"));
  bob = await loadOrCreateKey(fixtureKey("bob"));
  truck5 = await policyNode("truck5", EXAMPLE, "truck5");
  lunch = await compileFile(EXAMPLE);
});
after(async () => {
  await closeAll([truck5]);
  cleanupDirs();
});

const pass = (o: { depth?: number; expires?: number | null; grants?: typeof LUNCH; by?: PrivateKey; to?: PrivateKey } = {}) =>
  issueToken(o.by ?? truck1, { name: "lunch_pass", audience: (o.to ?? alice).publicKey.raw, grants: o.grants ?? LUNCH, depth: o.depth ?? 1, expires: o.expires ?? null });
const deploy = (key: PrivateKey, chain: Token[], node = truck5) => deployHello(node, key, chain, lunch, { workload: "lunch" });

async function refused(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

test("the node is its agent: status names it and its did:key", async () => {
  const s = await truck5.client.status();
  assert.equal(s.agent, "truck5");
  assert.equal(s.key, "did:key:z6Mkmkjs5NNDzvKEVqaTFANGQ5LycH6SKDA81bd8upVRkBx9");
});

test("truck5 honours a pass rooted at truck1's key, because it promised to", async () => {
  const info = await deploy(alice, [await pass()]);
  assert.equal(info.assessment?.kept, true, JSON.stringify(info));
});

test("a pass rooted at a key truck5 did not promise to honour is refused", async () => {
  const mallory = await newKey();
  await refused(deploy(alice, [await pass({ by: mallory })]), "foreign-root", new RegExp(`issued by ${keyId(mallory.publicKey.raw)}, not by truck1`));
  // truck5's own key is not truck1's either: the policy names whose pass it honours.
  const own = await loadOrCreateKey(fixtureKey("truck5"));
  await refused(deploy(alice, [await pass({ by: own })]), "foreign-root", /issued by truck5, not by truck1/);
});

test("a delegation alice -> bob is honoured; a widened one is refused with the reason", async () => {
  const root = await pass();
  const hop = await delegateToken(alice, root, { audience: bob.publicKey.raw, grants: LUNCH });
  assert.equal((await deploy(bob, [root, hop])).assessment?.kept, true);
  const wider = await delegateToken(alice, root, { audience: bob.publicKey.raw, grants: [{ type: "run", args: ["*"] }] });
  await refused(deploy(bob, [root, wider]), "widened", /grants run\(\*\), which its parent does not/);
  const deeper = await delegateToken(alice, root, { audience: bob.publicKey.raw, grants: LUNCH, depth: 1 });
  await refused(deploy(bob, [root, deeper]), "widened", /more than its parent leaves/);
  // A root wider than the policy's lunch_pass (depth 1) is refused though truck1 signed it.
  await refused(deploy(alice, [await pass({ depth: 3 })]), "widened", /lunch_pass in truck5's policy allows 1/);
});

test("a forged hop is refused", async () => {
  const root = await pass();
  const hop = await delegateToken(alice, root, { audience: bob.publicKey.raw, grants: [{ type: "run", args: ["other"] }] });
  const forged = { ...hop, payload: { ...hop.payload, grants: LUNCH } };
  await refused(deploy(bob, [root, forged]), "forged", /capability 1 .* is forged/);
});

test("an expired pass is refused", async () => {
  await refused(deploy(alice, [await pass({ expires: Date.now() - 1000 })]), "expired", /capability 0 \('lunch_pass'\) expired at/);
});

test("a deploy signed by a key that does not hold the pass is refused", async () => {
  await refused(deploy(bob, [await pass()]), "broken-chain", new RegExp(`held by ${keyId(alice.publicKey.raw)}, not by ${keyId(bob.publicKey.raw)}`));
});

test("a revocation signed by someone who did not issue the hop is ignored; truck1's counts", async () => {
  const root = await pass();
  const cid = await tokenCid(root);
  const revoke = (key: PrivateKey) => signRecord(key, { type: "promisegrid/revocation", v: 0, token: cid, by: key.publicKey.raw, chain: [root], at: Date.now() });
  // bob issued no hop of this chain; alice holds it but did not issue it.
  await truck5.node.addRecord(await revoke(bob)).catch(() => undefined);
  await truck5.node.addRecord(await revoke(alice)).catch(() => undefined);
  assert.equal((await deploy(alice, [root])).assessment?.kept, true, "a revocation by a non-issuer revokes nothing");
  await truck5.node.addRecord(await revoke(truck1));
  await refused(deploy(alice, [root]), "revoked", /has been revoked/);
});

test("a deployer to whom the policy promises nothing is refused", async () => {
  const dir = tempDir();
  const file = join(dir, "only-alice.pg");
  // Workload files stay inside the project: the module sits beside the policy.
  copyFileSync(join(ROOT, "examples/hello.wasm"), join(dir, "hello.wasm"));
  const k = (n: string) => keyId((n === "n" ? truck1 : n === "alice" ? alice : bob).publicKey.raw);
  writeFileSync(file, `agent n { kind node key "${k("n")}" }
agent alice { kind person key "${k("alice")}" }
agent bob { kind person key "${k("bob")}" }
workload lunch { sandbox wasm module "hello.wasm" limits { memory 16MiB time 2s } }
promise n -> alice +run(lunch) if holds(pass)
promise alice -> n -run(lunch)
capability pass from n to alice { grants run(lunch) delegable }
`);
  const n = await policyNode("truck1", file, "n");
  try {
    const root = await pass();
    const hop = await delegateToken(alice, root, { audience: bob.publicKey.raw, grants: LUNCH });
    await refused(deploy(bob, [root, hop], n), "not-promised", /n's policy promises run\(lunch\) to nobody that bob is/);
    assert.equal((await deploy(alice, [root], n)).assessment?.kept, true);
  } finally {
    await n.close();
  }
});

test("a node refuses to start as an agent whose key is not its own, or that is not a node", async () => {
  // One that starts anyway is stopped, and fails the match.
  const start = (key: string, agent: string) => policyNode(key, EXAMPLE, agent).then(async (n) => { await n.close(); throw new Error(`the node started as ${agent}`); });
  await assert.rejects(start("truck5", "truck1"), /agent 'truck1' .* has key did:key:z6MkjFBD.*, but this node's key is did:key:z6Mkmkjs5/);
  await assert.rejects(start("alice", "alice"), /agent 'alice' .* is not a node/);
  await assert.rejects(start("truck5", "truck9"), /has no agent 'truck9'/);
});
