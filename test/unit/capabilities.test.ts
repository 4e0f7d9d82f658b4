// The node's deploy-request checks (grid/capabilities.ts) in process, with real
// keys and signatures: each refusal by its code and its message, and the
// chain the rule is given. The same checks behind a real node's API are in
// test/grid/capabilities.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { chainRefusal, checkRequest, covers, delegateToken, issueToken, Refusal, verifyDeploy, type Token } from "../../grid/capabilities.ts";
import { keyId, type PrivateKey } from "../../grid/keys.ts";
import { recordCid, signRecord, type DeployPayload, type Signed, type TokenPayload } from "../../grid/records.ts";
import { covers as ruleCovers } from "../../language/authority.ts";

const key = () => generateKeyPair("Ed25519") as Promise<PrivateKey>;
const NOW = 1_700_000_000_000;
const run = (w = "hello") => [{ type: "run", args: [w] }];

async function request(holder: PrivateKey, chain: unknown[], o: Partial<DeployPayload> = {}): Promise<Signed<DeployPayload>> {
  const manifest = CID.createV1(raw.code, await sha256.digest(new Uint8Array([1])));
  return signRecord(holder, { type: "promisegrid/deploy", v: 0, manifest, workload: "hello", holder: holder.publicKey.raw, chain: chain as Token[], at: NOW, nonce: new Uint8Array(8), ...o });
}

const ctx = (nodeKey: PrivateKey, revoked: (cid: CID, issuers: Uint8Array[]) => boolean = () => false) => ({ nodeKey: nodeKey.publicKey.raw, now: NOW, isRevoked: revoked });

async function refused(p: Promise<unknown>, code: string, message: RegExp | string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof Refusal, String(e));
    assert.equal(e.code, code, e.message);
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

/** A token signed by `iss` with `payload` fields changed (signed anew, so only the shape is wrong). */
async function reshaped(iss: PrivateKey, t: Token, fields: Record<string, unknown>): Promise<Token> {
  return signRecord(iss, { ...t.payload, ...fields } as TokenPayload);
}

describe("deploy request checks", () => {
  it("a good chain passes and returns its token CIDs, root first", async () => {
    const node = await key(), alice = await key(), dev = await key();
    const root = await issueToken(node, { name: "root", audience: alice.publicKey.raw, grants: run("*"), depth: 1, expires: NOW + 2 });
    const hop = await delegateToken(alice, root, { audience: dev.publicKey.raw, grants: run(), expires: NOW + 1 });
    assert.equal(hop.payload.name, "root", "a delegation keeps its parent's name unless given one");
    assert.equal((await delegateToken(alice, root, { audience: dev.publicKey.raw, grants: run(), name: "mine" })).payload.name, "mine");
    const cids = await verifyDeploy(await request(dev, [root, hop]), ctx(node));
    assert.deepEqual(cids.map(String), [String(await recordCid(root)), String(await recordCid(hop))]);
    const checked = await checkRequest(await request(dev, [root, hop]));
    assert.deepEqual(checked.hops.map((h) => [keyId(h.issuer), keyId(h.holder), h.depth, h.exp, h.grants]), [
      [keyId(node.publicKey.raw), keyId(alice.publicKey.raw), 1, NOW + 2, run("*")],
      [keyId(alice.publicKey.raw), keyId(dev.publicKey.raw), 0, NOW + 1, run()],
    ]);
    assert.deepEqual(checked.hops.map((h) => String(h.id)), cids.map(String));
    assert.equal(covers, ruleCovers, "the node's covers is the language's");
  });

  it("issues tokens with the fields asked, depth 0 and no expiry by default, and a fresh nonce", async () => {
    const node = await key(), dev = await key();
    const a = await issueToken(node, { name: "n", audience: dev.publicKey.raw, grants: run() });
    const b = await issueToken(node, { name: "n", audience: dev.publicKey.raw, grants: run(), depth: 2, expires: 5 });
    assert.deepEqual([a.payload.type, a.payload.v, a.payload.name, a.payload.depth, a.payload.exp], ["promisegrid/capability", 0, "n", 0, null]);
    assert.deepEqual([b.payload.depth, b.payload.exp], [2, 5]);
    assert.equal(a.payload.nonce.length, 8);
    assert.notDeepEqual(a.payload.nonce, b.payload.nonce);
  });

  it("refuses a malformed request, each way", async () => {
    const node = await key(), dev = await key();
    const good = await request(dev, [await issueToken(node, { name: "t", audience: dev.publicKey.raw, grants: run() })]);
    const msg = "the deploy request is malformed (expected a signed promisegrid/deploy record)";
    for (const bad of [
      undefined, {}, { ...good, payload: { ...good.payload, type: "promisegrid/capability" } }, { ...good, payload: { ...good.payload, holder: "k" } },
      { ...good, payload: { ...good.payload, chain: {} } }, { ...good, payload: { ...good.payload, workload: 1 } },
    ]) {
      await refused(checkRequest(bad as Signed<DeployPayload>), "malformed", msg);
    }
  });

  it("refuses a request not signed by its holder, and a chain that is not all tokens", async () => {
    const node = await key(), dev = await key(), other = await key();
    const t = await issueToken(node, { name: "pass", audience: dev.publicKey.raw, grants: run() });
    const good = await request(dev, [t]);
    await refused(checkRequest({ ...good, payload: { ...good.payload, holder: other.publicKey.raw } }), "forged", "the deploy request's signature does not match its holder key");
    const shapes: Record<string, unknown>[] = [
      { type: "promisegrid/deploy" }, { iss: "k" }, { aud: 1 }, { grants: {} }, { grants: [{ type: "run", args: [{}] }] }, { grants: [{ type: "*", args: [] }] }, { grants: [...run(), { type: "*", args: [] }] },
      { depth: 1.5 }, { depth: -1 }, { depth: "1" }, { exp: "later" }, { name: 7 },
    ];
    for (const fields of shapes) {
      const bad = { payload: { ...t.payload, ...fields }, sig: t.sig };
      await refused(checkRequest(await request(dev, [bad])), "malformed", "capability 0 ('" + (typeof fields.name === "number" ? 7 : "pass") + "') is not a capability token");
    }
    await refused(checkRequest(await request(dev, [{ payload: t.payload, sig: "sig" }])), "malformed", "capability 0 ('pass') is not a capability token");
    await refused(checkRequest(await request(dev, [null])), "malformed", "capability 0 ('?') is not a capability token");
    await refused(checkRequest(await request(dev, [{ sig: t.sig }])), "malformed", "capability 0 ('?') is not a capability token");
    // Accepted shapes: exp null or a number, depth 0.
    assert.equal((await checkRequest(await request(dev, [await reshaped(node, t, { exp: 5, depth: 0 })]))).hops[0].exp, 5);
    const forged = { payload: { ...t.payload, name: "other" }, sig: t.sig };
    await refused(checkRequest(await request(dev, [t, forged])), "forged", `capability 1 ('other') is forged: its signature does not match its issuer key (${keyId(node.publicKey.raw)})`);
  });

  it("refuses an empty chain and a chain rooted at another key", async () => {
    const node = await key(), other = await key(), dev = await key();
    await refused(verifyDeploy(await request(dev, []), ctx(node)), "malformed", "the deploy request carries no capability");
    const empty = chainRefusal(await checkRequest(await request(dev, [])), ctx(node));
    assert.deepEqual([empty?.code, empty?.message], ["malformed", "the deploy request carries no capability"]);
    const t = await issueToken(other, { name: "pass", audience: dev.publicKey.raw, grants: run() });
    await refused(verifyDeploy(await request(dev, [t]), ctx(node)), "foreign-root",
      `capability 0 ('pass') was not issued by this node's key (${keyId(node.publicKey.raw)}) but by ${keyId(other.publicKey.raw)}, so it grants nothing here`);
  });

  it("names each way a hop widens its parent", async () => {
    const node = await key(), alice = await key(), dev = await key(), mallory = await key();
    const root = (o: { depth?: number; expires?: number | null; grants?: TokenPayload["grants"] } = {}) =>
      issueToken(node, { name: "root", audience: alice.publicKey.raw, grants: o.grants ?? run(), depth: o.depth ?? 2, expires: o.expires ?? null });
    const hop = (by: PrivateKey, o: { depth?: number; expires?: number | null; grants?: TokenPayload["grants"] } = {}) =>
      issueToken(by, { name: "hop", audience: dev.publicKey.raw, grants: o.grants ?? run(), depth: o.depth ?? 0, expires: o.expires ?? null });
    const deploy = async (chain: Token[]) => verifyDeploy(await request(dev, chain), ctx(node));
    await refused(deploy([await root(), await hop(mallory)]), "broken-chain", "capability 1 ('hop') is issued by a key that does not hold capability 0");
    await refused(deploy([await root({ depth: 0 }), await hop(alice)]), "widened", "capability 1 ('hop') delegates capability 0, which is not delegable");
    await refused(deploy([await root({ depth: 2 }), await hop(alice, { depth: 2 })]), "widened", "capability 1 ('hop') allows 2 further delegations, more than its parent leaves (1)");
    await refused(deploy([await root({ expires: NOW + 10 }), await hop(alice, { expires: NOW + 11 })]), "widened", "capability 1 ('hop') expires later than its parent");
    await refused(deploy([await root({ grants: run("a") }), await hop(alice, { grants: [{ type: "pay", args: [{ amount: 2, unit: "USD" }] }] })]), "widened",
      "capability 1 ('hop') grants pay(2 USD), which its parent does not");
    // Depth exactly one less, the same expiry: allowed.
    await deploy([await root({ depth: 2, expires: NOW + 10 }), await hop(alice, { depth: 1, expires: NOW + 10 })]);
  });

  it("refuses an expired hop (at exactly its expiry), a revoked hop, a chain held by another key, and a chain without run(workload)", async () => {
    const node = await key(), dev = await key(), other = await key();
    const t = (o: { expires?: number; grants?: TokenPayload["grants"]; to?: PrivateKey } = {}) =>
      issueToken(node, { name: "pass", audience: (o.to ?? dev).publicKey.raw, grants: o.grants ?? run(), expires: o.expires ?? null });
    await refused(verifyDeploy(await request(dev, [await t({ expires: NOW })]), ctx(node)), "expired", `capability 0 ('pass') expired at ${new Date(NOW).toISOString()}`);
    await verifyDeploy(await request(dev, [await t({ expires: NOW + 1 })]), ctx(node));
    const revokedToken = await t();
    const cid = await recordCid(revokedToken);
    const asked: string[][] = [];
    await refused(verifyDeploy(await request(dev, [revokedToken]), ctx(node, (c, by) => (asked.push(by.map(keyId)), c.equals(cid)))), "revoked", `capability 0 ('pass') (${cid}) has been revoked`);
    assert.deepEqual(asked, [[keyId(node.publicKey.raw)]], "the revocation is asked of the hop's issuers");
    await refused(verifyDeploy(await request(dev, [await t({ to: other })]), ctx(node)), "broken-chain",
      `the last capability is held by ${keyId(other.publicKey.raw)}, not by ${keyId(dev.publicKey.raw)}, the key that signed the deploy`);
    await refused(verifyDeploy(await request(dev, [await t({ grants: run("other") })]), ctx(node)), "not-granted", "the capability does not grant run(hello)");
    const view = { now: NOW, isRevoked: () => false };
    assert.equal(chainRefusal(await checkRequest(await request(dev, [await t()])), view), undefined);
  });
});
