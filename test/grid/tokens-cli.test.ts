// The token commands end to end, as processes: two nodes started by the CLI as
// truck1 and truck5 of examples/food-trucks-grid.pg; alice and bob are person
// keys in their own homes. capability issue, delegate, deploy --token, revoke.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ROOT, cleanupDirs, tempDir, waitFor } from "./helpers.ts";
import { ensureBuiltCli } from "../unit/built-cli.ts";

// The built CLI: each command is a process, and tsx would start each far more slowly.
const CLI = ensureBuiltCli();

const EXAMPLE = join(ROOT, "examples/food-trucks-grid.pg");
const KEYS = join(ROOT, "test/grid/fixtures/keys");
const DID = {
  alice: "did:key:z6MkmVJ13vTk7tNy7vUzEMZEuNwTcaTiheukF86CJidcJdmC",
  bob: "did:key:z6Mkp2KyN2gCzfqpQCEnrN5RqTx3SMh5tqUhauEW4PekZno7",
};

/** A home ($PROMISEGRID_HOME) holding a fixture key, or a fresh one. */
function home(keyName?: string): string {
  const h = tempDir("pg-home-");
  if (keyName) copyFileSync(join(KEYS, `${keyName}.key`), join(h, "key"));
  return h;
}
const operator = home();
const alice = home("alice");
const bob = home("bob");
const work = tempDir("pg-work-");
const d1 = join(tempDir(), "truck1");
const d5 = join(tempDir(), "truck5");

function cli(who: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, PROMISEGRID_HOME: who }, cwd: work, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const at = (dir: string) => ["--data-dir", dir];
const deploy = (who: string, token: string) => cli(who, "deploy", EXAMPLE, "--token", token, ...at(d5));

before(() => {
  for (const [dir, key] of [[d1, "truck1"], [d5, "truck5"]]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    copyFileSync(join(KEYS, `${key}.key`), join(dir, "key"));
  }
  const one = cli(operator, "node", "start", "--policy", EXAMPLE, "--as", "truck1", "--api", "127.0.0.1:0", ...at(d1));
  assert.equal(one.code, 0, one.err);
  const addr = JSON.parse(readFileSync(join(d1, "node.json"), "utf8")).addrs[0];
  const five = cli(operator, "node", "start", "--policy", EXAMPLE, "--as", "truck5", "--api", "127.0.0.1:0", "--peer", addr, ...at(d5));
  assert.equal(five.code, 0, five.err);
});

after(() => {
  for (const dir of [d1, d5]) {
    if (!existsSync(join(dir, "node.json"))) continue;
    const { pid } = JSON.parse(readFileSync(join(dir, "node.json"), "utf8"));
    try { process.kill(pid, "SIGTERM"); } catch { /* gone */ }
  }
  cleanupDirs();
});

test("promisegrid key prints your did:key; node status says the node's key and agent", () => {
  assert.equal(cli(alice, "key").out, DID.alice + "\n");
  const fresh = home();
  const r = cli(fresh, "key");
  assert.match(r.out, /^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]{44}\n$/);
  assert.equal(statSync(join(fresh, "key")).mode & 0o777, 0o600, "the key is created mode 0600");
  assert.equal(cli(fresh, "key").out, r.out, "and kept");
  const s = cli(operator, "node", "status", ...at(d5));
  assert.match(s.out, /key: did:key:z6Mkmkjs5NNDzvKEVqaTFANGQ5LycH6SKDA81bd8upVRkBx9 \(agent truck5\)/);
});

test("a node started as an agent whose key is not its own refuses to start and says why", () => {
  const dir = join(tempDir(), "n");
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(KEYS, "truck5.key"), join(dir, "key"));
  const r = cli(operator, "node", "start", "--policy", EXAMPLE, "--as", "truck1", "--api", "127.0.0.1:0", ...at(dir));
  assert.equal(r.code, 1);
  assert.match(r.err, /agent 'truck1' of .* has key did:key:z6MkjFBD\S+, but this node's key is did:key:z6Mkmkjs5/);
});

test("issue, delegate, deploy, revoke: the whole lunch pass on two nodes", async () => {
  // truck1's operator issues alice's pass, as the file declares it.
  const issued = cli(operator, "capability", "issue", "lunch_pass", EXAMPLE, ...at(d1), "-o", "alice.token");
  assert.equal(issued.code, 0, issued.err);
  const pass = issued.out.trim();
  assert.match(pass, /^bafy/);
  assert.match(issued.err, new RegExp(`issued lunch_pass from truck1 .* to ${DID.alice}, expiring in 30m`));
  // truck5 honours it: a pass truck1 issued, which truck5 promised to honour.
  const kept = deploy(alice, "alice.token");
  assert.equal(kept.code, 0, kept.err);
  assert.match(kept.out, /hello, lunch/);
  // bob cannot deploy with alice's pass: he does not hold it.
  const notHolder = deploy(bob, "alice.token");
  assert.equal(notHolder.code, 1);
  assert.match(notHolder.err, new RegExp(`held by ${DID.alice}, not by ${DID.bob}, the key that signed the deploy`));

  // A widened delegation is refused with the checker's words, and nothing is written.
  const wide = cli(alice, "delegate", "alice.token", "--to", DID.bob, "--grants", "run(*)", "-o", "wide.token");
  assert.equal(wide.code, 1);
  assert.match(wide.err, /delegation widens authority: 'lunch_pass' does not grant run\(\*\); nothing was written/);
  assert.equal(existsSync(join(work, "wide.token")), false);
  const deep = cli(alice, "delegate", "alice.token", "--to", DID.bob, "--depth", "1");
  assert.match(deep.err, /delegation widens authority: at most depth 0 is left/);
  // bob cannot delegate what he does not hold.
  const notHis = cli(bob, "delegate", "alice.token", "--to", DID.bob);
  assert.match(notHis.err, /you do not hold lunch_pass/);

  // alice hands her pass on to bob, as the file's delegation declares it.
  const d = cli(alice, "delegate", "bobs_pass", EXAMPLE, "--token", "alice.token", "-o", "bob.token");
  assert.equal(d.code, 0, d.err);
  const bobs = d.out.trim();
  assert.equal(deploy(bob, "bob.token").code, 0);

  // bob did not issue his hop (alice did): his revocation would count nowhere, so the CLI refuses it.
  const bobRevokes = cli(bob, "revoke", "bob.token", ...at(d5));
  assert.equal(bobRevokes.code, 1);
  assert.match(bobRevokes.err, /neither your key .* nor the node's .* issued it or a hop above it/);
  assert.equal(deploy(bob, "bob.token").code, 0, "still honoured");

  // alice revokes the hop she issued (signed with her key; truck5 takes it): bob is refused, alice is not.
  const aliceRevokes = cli(alice, "revoke", bobs, ...at(d5));
  assert.equal(aliceRevokes.code, 0, aliceRevokes.err);
  const refused = deploy(bob, "bob.token");
  assert.equal(refused.code, 1);
  assert.match(refused.err, /capability 1 \('bobs_pass'\) .* has been revoked/);
  assert.equal(deploy(alice, "alice.token").code, 0);

  // truck1 revokes alice's pass on its node; truck5 hears it by gossip and refuses.
  const r1 = cli(operator, "revoke", "alice.token", ...at(d1));
  assert.equal(r1.code, 0, r1.err);
  assert.match(r1.out, new RegExp(`^revoked ${pass} \\(revocation bafy`));
  assert.match(cli(operator, "revoke", pass, ...at(d1)).out, new RegExp(`^already revoked ${pass}`), "revoking twice is one revocation");
  await waitFor("truck5 to hear of the revocation", () => JSON.parse(cli(operator, "node", "status", "--json", ...at(d5)).out).state.revocations >= 2, 20_000);
  const after = deploy(alice, "alice.token");
  assert.equal(after.code, 1);
  assert.match(after.err, /capability 0 \('lunch_pass'\) .* has been revoked/);
});

test("an expired delegation is refused; a CID that is no known token is not revoked", async () => {
  const issued = cli(operator, "capability", "issue", "lunch_pass", EXAMPLE, ...at(d1), "-o", "fresh.token");
  assert.equal(issued.code, 0, issued.err);
  const short = cli(alice, "delegate", "fresh.token", "--to", DID.bob, "--expires", "1s", "-o", "short.token");
  assert.equal(short.code, 0, short.err);
  await new Promise((r) => setTimeout(r, 1100));
  const r = deploy(bob, "short.token");
  assert.equal(r.code, 1);
  assert.match(r.err, /capability 1 \('lunch_pass'\) expired at/);
  const unknown = cli(operator, "revoke", "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", ...at(d1));
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /is not a known token/);
});
