// Deploys over libp2p (/promisegrid/deploy/0) between real node processes on
// loopback: the deployer's node sends the signed deploy, the peer judges it by
// its own rules, runs it, streams the output and signs the assessment.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { base58btc } from "multiformats/bases/base58";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { GridClient } from "../../grid/api-client.ts";
import { DEPLOY_PROTOCOL_CID } from "../../grid/envelope.ts";
import { deployManifest, DeployFailure, loadManifest, tokenCid, verifyRemoteEnd, type DeployResult } from "../../grid/deploy.ts";
import { keyId, loadOrCreateKey, type PrivateKey } from "../../grid/keys.ts";
import { delegateToken } from "../../grid/capabilities.ts";
import { MAX_KEPT_OUTPUT } from "../../grid/output-cap.ts";
import { writeChain } from "../../grid/tokens.ts";
import { ROOT, cleanupDirs, hex, newKey, tempDir, waitFor, wat } from "./helpers.ts";
import { decodeToken } from "../../grid/deploy.ts";
import type { Signed, TokenPayload } from "../../grid/records.ts";

interface Proc {
  child: ChildProcess;
  client: GridClient;
  peerId: string;
  addr: string;
  publicKey: string;
  dataDir: string;
}

const procs: Proc[] = [];
after(() => {
  for (const p of procs) p.child.kill("SIGKILL");
  cleanupDirs();
});

/** A grid node as its own process (grid/main.ts), ready when it prints its line. */
async function startProc(args: string[] = [], prepare?: (dataDir: string) => void): Promise<Proc> {
  const dataDir = tempDir();
  prepare?.(dataDir);
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "grid/main.ts"), "--data-dir", dataDir, "--api", "127.0.0.1:0", ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const info = await new Promise<{ api: string; peerId: string; addrs: string[] }>((resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (c) => {
      buf += c;
      if (buf.includes("\n")) resolve(JSON.parse(buf.slice(0, buf.indexOf("\n"))));
    });
    child.once("exit", (code) => reject(new Error(`node exited with ${code}`)));
  });
  const client = new GridClient(info.api, readFileSync(join(dataDir, "api-token"), "utf8").trim());
  const p = { child, client, peerId: info.peerId, addr: info.addrs[0], publicKey: (await client.status()).publicKey, dataDir };
  procs.push(p);
  return p;
}

async function issue(node: Proc, holder: PrivateKey, workload = "hello"): Promise<Signed<TokenPayload>> {
  return decodeToken(await node.client.issue({ holder: hex(holder.publicKey.raw), grants: [{ type: "run", args: [workload] }], name: "deploy_pass" }));
}

const hello = join(ROOT, "examples/hello-wasm.pg");

async function remoteDeploy(from: Proc, to: string, key: PrivateKey, tokens: Signed<TokenPayload>[], file = hello, onStarted?: () => void): Promise<DeployResult> {
  return deployManifest(from.client, await loadManifest(file), { key, to, chain: tokens, onStarted });
}

async function refusal(p: Promise<unknown>): Promise<DeployFailure> {
  const e = await p.then(() => undefined, (err) => err);
  assert.ok(e instanceof DeployFailure, `expected a refusal, got ${e}`);
  return e;
}

test("pCID of /promisegrid/deploy/0 is the CID of docs/protocol/deploy.md", async () => {
  const bytes = readFileSync(join(ROOT, "docs/protocol/deploy.md"));
  assert.equal(DEPLOY_PROTOCOL_CID.toString(), CID.createV1(raw.code, await sha256.digest(bytes)).toString(), "update DEPLOY_PROTOCOL_CID in grid/envelope.ts after editing the spec");
});

test("A deploys hello to B over libp2p: kept, output streamed, the assessment signed by B's key; B refuses what it does not honour", async () => {
  const a = await startProc();
  const b = await startProc(["--peer", a.addr]);
  const dev = await newKey();
  const seen: string[] = [];
  const r = await deployManifest(a.client, await loadManifest(hello), { key: dev, to: b.peerId, chain: [await issue(b, dev)], onOutput: (e) => seen.push(e.data) });
  assert.equal(r.kept, true, r.info.assessment?.message);
  assert.equal(seen.join(""), "hello, grid\n", "the output came over the stream");
  assert.equal(r.output, "hello, grid\n");
  assert.equal(r.peer, b.peerId);
  assert.match(r.info.assessment?.message ?? "", /^kept: hello exited with code 0/);
  assert.equal(hex(r.remote!.assessment!.payload.node), b.publicKey, "signed by B");
  // B ran it, A did not.
  assert.deepEqual((await b.client.deployments()).map((d) => d.id), [r.id]);
  assert.deepEqual(await a.client.deployments(), []);
  // The same end line said to come from A is not trusted.
  const end = { peer: a.peerId, id: r.id, assessment: Buffer.from(dagCbor.encode(r.remote!.assessment!)).toString("base64"), gone: null };
  await assert.rejects(verifyRemoteEnd(end, { to: a.peerId, id: r.id, manifest: CID.parse(r.manifest), workload: "hello" }), /not signed by peer/);

  // By multiaddr, too (a dial, then the same protocol).
  const byAddr = await remoteDeploy(a, `${b.addr}/p2p/${b.peerId}`, dev, [await issue(b, dev)]);
  assert.equal(byAddr.kept, true);
  // By B's did:key: the same key, so the same peer.
  const did = "did:key:" + base58btc.encode(new Uint8Array([0xed, 0x01, ...Buffer.from(b.publicKey, "hex")]));
  assert.equal((await remoteDeploy(a, did, dev, [await issue(b, dev)])).peer, b.peerId);

  // A token of A's is nothing on B.
  const foreign = await refusal(remoteDeploy(a, b.peerId, dev, [await issue(a, dev)]));
  assert.equal(foreign.stage, "refused");
  assert.equal(foreign.detail.code, "foreign-root");
  assert.match(foreign.message, new RegExp(`peer ${b.peerId}: deploy refused: capability 0 \\('deploy_pass'\\) was not issued by this node's key`));
  assert.equal(foreign.detail.at?.path, hello, "the diagnostic goes on the capability");
  // Revoked by B: refused, reason revoked; A learns it by gossip and says so of the token you hold.
  const pass = await issue(b, dev);
  const b64 = (t: Signed<TokenPayload>) => Buffer.from(dagCbor.encode(t)).toString("base64");
  const expired = decodeToken(await b.client.issue({ holder: hex(dev.publicKey.raw), grants: [{ type: "run", args: ["hello"] }], name: "old_pass", expires: Date.now() - 1000 }));
  assert.deepEqual((await a.client.tokenStatus([[b64(pass)], [b64(expired)]])).map((t) => [t.name, t.state]), [["deploy_pass", "valid"], ["old_pass", "expired"]]);
  await b.client.revoke((await tokenCid(pass)).toString());
  await waitFor("A to learn of the revocation", async () => (await a.client.tokenStatus([[b64(pass)]]))[0].state === "revoked");
  const revoked = await refusal(remoteDeploy(a, b.peerId, dev, [pass]));
  assert.equal(revoked.detail.code, "revoked");
  // A deploy signed by another key than the token's holder.
  const other = await newKey();
  const notHolder = await refusal(remoteDeploy(a, b.peerId, other, [await issue(b, dev)]));
  assert.equal(notHolder.detail.code, "broken-chain");
  // Without a token there is nothing to show.
  const none = await refusal(remoteDeploy(a, b.peerId, dev, []));
  assert.equal(none.detail.code, "no-token");
  assert.equal((await b.client.deployments()).length, 3, "nothing refused ran");
});

// Writes 64 KiB of "x" 64 times (4 MiB) to stdout.
const FLOOD_WAT = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "_start") (local $i i32)
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 65536))
    (memory.fill (i32.const 1024) (i32.const 120) (i32.const 65536))
    (loop $l
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 64))))))`;

test("a remote run that prints 4 MiB: the peer sends the first 1 MiB and says the rest was not sent", async () => {
  const dir = tempDir("pg-flood-");
  writeFileSync(join(dir, "flood.wat"), FLOOD_WAT);
  execFileSync("wat2wasm", [join(dir, "flood.wat"), "-o", join(dir, "flood.wasm")]);
  writeFileSync(join(dir, "flood.pg"), readFileSync(hello, "utf8").replace('module "hello.wasm"', 'module "flood.wasm"').replaceAll("hello", "flood"));
  const a = await startProc();
  const b = await startProc(["--peer", a.addr]);
  const dev = await newKey();
  const r = await remoteDeploy(a, b.peerId, dev, [await issue(b, dev, "flood")], join(dir, "flood.pg"));
  assert.equal(r.kept, true, r.info.assessment?.message);
  const notice = `\n[promisegrid: output past the first ${MAX_KEPT_OUTPUT} bytes was not kept]\n`;
  assert.equal(r.output.length, MAX_KEPT_OUTPUT + notice.length);
  assert.equal(r.output, "x".repeat(MAX_KEPT_OUTPUT) + notice);
});

test("B frozen, then killed, in the middle of a run: the deploy ends broken, peer gone, instead of hanging", { timeout: 60_000 }, async () => {
  const dir = tempDir("pg-loop-");
  writeFileSync(join(dir, "loop.wasm"), await wat("loop"));
  writeFileSync(join(dir, "loop.pg"), readFileSync(hello, "utf8").replace('module "hello.wasm"', 'module "loop.wasm"').replace("time 2s", "time 60s").replaceAll("hello", "loop"));
  const a = await startProc();
  const b = await startProc(["--peer", a.addr]);
  const dev = await newKey();
  // Frozen (SIGSTOP): the connection stays open but says nothing; the silence bound ends it.
  const frozen = await remoteDeploy(a, b.peerId, dev, [await issue(b, dev, "loop")], join(dir, "loop.pg"), () => void b.child.kill("SIGSTOP"));
  b.child.kill("SIGCONT");
  assert.equal(frozen.kept, false);
  assert.match(frozen.remote?.gone ?? "", new RegExp(`peer ${b.peerId} gone during deployment ${frozen.id}: no word from it for 10 s`));
  // Killed: the connection closes, and so does the deploy.
  const r = await remoteDeploy(a, b.peerId, dev, [await issue(b, dev, "loop")], join(dir, "loop.pg"), () => void b.child.kill("SIGKILL"));
  assert.equal(r.kept, false);
  assert.match(r.remote?.gone ?? "", new RegExp(`peer ${b.peerId} gone during deployment ${r.id}`));
  assert.equal(r.info.assessment, null);
});

test("the connection gater refuses a denied peer: at start (--deny-peer) and at run time, until allowed again", async () => {
  const a = await startProc();
  const b = await startProc(["--deny-peer", a.peerId]);
  await assert.rejects(b.client.dial(a.addr), /cannot dial/);
  // Inbound: A's side of the handshake may finish before B refuses it; B then drops it.
  await a.client.dial(b.addr).catch(() => {});
  await waitFor("A to lose the connection B refused", async () => (await a.client.peers()).length === 0, 10_000);
  assert.deepEqual(await b.client.peers(), []);
  await b.client.gate({ allow: [a.peerId] });
  assert.equal(await b.client.dial(a.addr), a.peerId);
  assert.deepEqual((await a.client.peers()).map((p) => p.peerId), [b.peerId]);
  // Cut apart while connected: the connection goes, and a deploy cannot reach it.
  await a.client.gate({ deny: [b.peerId] });
  assert.deepEqual(await a.client.peers(), []);
  const dev = await newKey();
  const cut = await refusal(remoteDeploy(a, b.peerId, dev, [await issue(b, dev)]));
  assert.equal(cut.stage, "node");
  assert.match(cut.message, /cannot open a deploy stream/);
  await a.client.gate({ allow: [b.peerId] });
  assert.equal(await a.client.dial(b.addr), b.peerId);
  assert.equal((await remoteDeploy(a, b.peerId, dev, [await issue(b, dev)])).kept, true);
});

test("the CLI end to end: deploy --to, revoke on the peer, deploy --to again: refused", async () => {
  const home = tempDir("pg-home-");
  const a = await startProc();
  const b = await startProc(["--peer", a.addr]);
  const env = { ...process.env, PROMISEGRID_HOME: home, PROMISEGRID_NODE_DIR: a.dataDir };
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "cli/main.ts"), ...args], { env, encoding: "utf8", timeout: 60_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  // The deployer's key is the CLI's (PROMISEGRID_HOME/key); B's operator issues a pass to it.
  const { loadOrCreateKey } = await import("../../grid/keys.ts");
  const dev = await loadOrCreateKey(join(home, "key"));
  const pass = await issue(b, dev);
  const tokenFile = join(home, "pass.token");
  await writeChain(tokenFile, [pass]);
  // Only A's data dir is known to the CLI: B is reached by its libp2p address, never its HTTP API.
  const ok = cli("deploy", hello, "--to", `${b.addr}/p2p/${b.peerId}`, "--token", tokenFile);
  assert.equal(ok.code, 0, ok.err);
  assert.equal(ok.out, "hello, grid\n");
  assert.match(ok.err, new RegExp(`on peer ${b.peerId}`));
  assert.match(ok.err, new RegExp(`assessment: kept: hello exited with code 0 \\(bafy\\w+, signed by peer ${b.peerId}: verified\\)`));
  const cid = (await tokenCid(pass)).toString();
  const rev = cli("revoke", cid, "--data-dir", b.dataDir);
  assert.equal(rev.code, 0, rev.err);
  const again = cli("deploy", hello, "--to", b.peerId, "--token", tokenFile);
  assert.equal(again.code, 1);
  assert.match(again.err, new RegExp(`peer ${b.peerId}: deploy refused: capability 0 \\('deploy_pass'\\) \\(${cid}\\) has been revoked`));
  const json = JSON.parse(cli("deploy", hello, "--to", b.peerId, "--token", tokenFile, "--json").out);
  assert.equal(json.code, "revoked");
});

// ---- the food trucks on real nodes (examples/food-trucks-grid.pg) ----

const TRUCKS = join(ROOT, "examples/food-trucks-grid.pg");
const fixtureKey = (name: string) => join(ROOT, "test/grid/fixtures/keys", `${name}.key`);

/** A node process with the fixture key `keyName`, as `agent` of `policy`. */
async function agentProc(keyName: string, policy: string, agent: string, args: string[] = []): Promise<Proc> {
  return startProc(["--policy", policy, "--as", agent, ...args], (dir) => copyFileSync(fixtureKey(keyName), join(dir, "key")));
}

test("the food trucks on real nodes: truck5 honours truck1's pass, keeps honouring it while cut off from truck1's revocation, refuses it once healed", async () => {
  const truck1 = await agentProc("truck1", TRUCKS, "truck1");
  const truck5 = await agentProc("truck5", TRUCKS, "truck5", ["--peer", truck1.addr]);
  // alice's node knows only truck5, so a revocation can reach truck5 only from truck1.
  const home = await startProc(["--peer", truck5.addr]);
  const alice = await loadOrCreateKey(fixtureKey("alice"));
  const bob = await loadOrCreateKey(fixtureKey("bob"));
  const pass = decodeToken(await truck1.client.issue({ holder: hex(alice.publicKey.raw), grants: [{ type: "run", args: ["lunch"] }], name: "lunch_pass", depth: 1, expires: Date.now() + 30 * 60_000 }));
  const bobs = await delegateToken(alice, pass, { audience: bob.publicKey.raw, grants: [{ type: "run", args: ["lunch"] }], expires: pass.payload.exp });
  const lunch = (key: PrivateKey, chain: Signed<TokenPayload>[]) => deployManifest(home.client, trucks, { key, to: truck5.peerId, chain, workload: "lunch" });
  const trucks = await loadManifest(TRUCKS);
  assert.equal((await lunch(alice, [pass])).kept, true, "alice's pass, from truck1, at truck5");
  // truck5 named as the file's agent: its key names its node.
  assert.equal((await deployManifest(home.client, trucks, { key: alice, to: "truck5", chain: [pass], workload: "lunch" })).peer, truck5.peerId);
  assert.equal((await lunch(bob, [pass, bobs])).kept, true, "bob's pass, delegated by alice");

  // Cut apart: truck5's gater refuses truck1 (real connections: the one open is closed).
  await truck5.client.gate({ deny: [truck1.peerId] });
  await waitFor("truck1 and truck5 apart", async () => (await truck1.client.peers()).length === 0);
  const cid = (await tokenCid(pass)).toString();
  await truck1.client.revoke(cid);
  const r = await lunch(alice, [pass]);
  assert.equal(r.kept, true, "truck5 has not heard: the window");
  assert.equal((await lunch(bob, [pass, bobs])).kept, true);
  assert.ok(!(await truck5.client.state()).revocations.some((x) => x.token === cid));

  // Heal: on the new connection the state sync carries the revocation, within the gossip bound.
  await truck5.client.gate({ allow: [truck1.peerId] });
  await truck5.client.dial(truck1.addr);
  await waitFor("truck5 to learn of the revocation", async () => (await truck5.client.state()).revocations.some((x) => x.token === cid), 2000);
  for (const [key, chain] of [[alice, [pass]], [bob, [pass, bobs]]] as const) {
    const e = await refusal(lunch(key, [...chain]));
    assert.equal(e.detail.code, "revoked", e.message);
    assert.match(e.message, new RegExp(`peer ${truck5.peerId}: deploy refused: capability 0 \\('lunch_pass'\\) \\(${cid}\\) has been revoked`));
  }
});

test("a remote deploy to a node whose policy promises nothing to the deployer is refused, with the reason", async () => {
  const dir = tempDir("pg-only-alice-");
  const alice = await loadOrCreateKey(fixtureKey("alice"));
  const bob = await loadOrCreateKey(fixtureKey("bob"));
  const truck1 = await loadOrCreateKey(fixtureKey("truck1"));
  writeFileSync(join(dir, "hello.wasm"), readFileSync(join(ROOT, "examples/hello.wasm")));
  writeFileSync(join(dir, "only-alice.pg"), `agent n { kind node key "${keyId(truck1.publicKey.raw)}" }
agent alice { kind person key "${keyId(alice.publicKey.raw)}" }
agent bob { kind person key "${keyId(bob.publicKey.raw)}" }
workload lunch { sandbox wasm module "hello.wasm" limits { memory 16MiB time 2s } }
promise n -> alice +run(lunch) if holds(pass)
promise alice -> n -run(lunch)
capability pass from n to alice { grants run(lunch) delegable }
`);
  const n = await agentProc("truck1", join(dir, "only-alice.pg"), "n");
  const home = await startProc(["--peer", n.addr]);
  const root = decodeToken(await n.client.issue({ holder: hex(alice.publicKey.raw), grants: [{ type: "run", args: ["lunch"] }], name: "pass", depth: 1 }));
  const hop = await delegateToken(alice, root, { audience: bob.publicKey.raw, grants: [{ type: "run", args: ["lunch"] }] });
  const m = await loadManifest(join(dir, "only-alice.pg"));
  const e = await refusal(deployManifest(home.client, m, { key: bob, to: n.peerId, chain: [root, hop], workload: "lunch" }));
  assert.equal(e.detail.code, "not-promised");
  assert.match(e.message, new RegExp(`peer ${n.peerId}: deploy refused: n's policy promises run\\(lunch\\) to nobody that bob is`));
  assert.equal((await deployManifest(home.client, m, { key: alice, to: n.peerId, chain: [root], workload: "lunch" })).kept, true);
});
