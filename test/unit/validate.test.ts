// The node's validators one by one, fast: record shapes and proofs, the state's
// bounds, the replay guard and token book, the API's request checks, workload
// confinement. (The real node, peers and CLI are in test/grid/hostile-*.test.ts
// and test/unit/confine.test.ts; `npm run mutate` runs this file among others.)
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as dagCbor from "@ipld/dag-cbor";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { issueToken } from "../../grid/capabilities.ts";
import { allowedHosts, allowedOrigins, bearerMatches, parseChain, parseIssueRequest, MAX_DEPTH } from "../../grid/api.ts";
import { asSigned, author, wireGrantProblem, MAX_CHAIN, MAX_RECORD_BYTES, recordCid, revocationProblem, signRecord, verifyRecord, type AssessmentPayload, type RevocationPayload, type Signed, type TokenPayload } from "../../grid/records.ts";
import { GridState, MAX_ASSESSMENTS_PER_AUTHOR, MAX_FOREIGN_BYTES, MAX_REVOCATIONS_PER_AUTHOR, ReplayGuard, StateError, TokenBook } from "../../grid/state.ts";
import { BlockStore } from "../../grid/store.ts";
import type { PrivateKey } from "../../grid/keys.ts";

const key = () => generateKeyPair("Ed25519") as Promise<PrivateKey>;
const hexOf = (b: Uint8Array) => Buffer.from(b).toString("hex");
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "pg-validate-"));
const someCid = async (s: string) => CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(s)));

async function token(iss: PrivateKey, aud: PrivateKey, extra: Partial<TokenPayload> = {}): Promise<Signed<TokenPayload>> {
  const t = await issueToken(iss, { name: "t", audience: aud.publicKey.raw, grants: [{ type: "run", args: ["w", 1, { amount: 2, unit: "USD" }] }], depth: 1 });
  return Object.keys(extra).length ? signRecord(iss, { ...t.payload, ...extra }) : t;
}

async function revocation(by: PrivateKey, chain: Signed<TokenPayload>[], o: Partial<RevocationPayload> = {}): Promise<Signed<RevocationPayload>> {
  return signRecord(by, { type: "promisegrid/revocation", v: 0, token: await recordCid(chain[chain.length - 1]), by: by.publicKey.raw, chain, at: 5, ...o });
}

async function assessment(node: PrivateKey, o: Partial<AssessmentPayload> = {}): Promise<Signed<AssessmentPayload>> {
  return signRecord(node, { type: "promisegrid/assessment", v: 0, node: node.publicKey.raw, deployment: "d", manifest: await someCid("m"), workload: "w", kept: true, exitCode: 0, reason: "exit", message: "ok", output: null, at: 1, ...o });
}

describe("record shapes", () => {
  it("accepts each well-formed record and refuses every field out of shape", async () => {
    const k = await key();
    const t = await token(k, k);
    const r = await revocation(k, [t]);
    const a = await assessment(k);
    assert.ok(asSigned(r, "promisegrid/revocation"));
    assert.ok(asSigned(a, "promisegrid/assessment"));
    assert.ok(asSigned(t, "promisegrid/capability"));
    assert.ok(asSigned(await assessment(k, { exitCode: null, output: await someCid("o"), kept: false }), "promisegrid/assessment"));
    assert.equal(asSigned(r, "promisegrid/assessment"), undefined, "a revocation is not an assessment");
    const cases: [string, unknown, "promisegrid/revocation" | "promisegrid/assessment" | "promisegrid/capability"][] = [
      ["null", null, "promisegrid/revocation"],
      ["a list", [r.payload, r.sig], "promisegrid/revocation"],
      ["short sig", { ...r, sig: r.sig.subarray(1) }, "promisegrid/revocation"],
      ["sig as text", { ...r, sig: "x" }, "promisegrid/revocation"],
      ["extra top field", { ...r, pad: 1 }, "promisegrid/revocation"],
      ["no payload", { sig: r.sig }, "promisegrid/revocation"],
      ["token null", { ...r, payload: { ...r.payload, token: null } }, "promisegrid/revocation"],
      ["token text", { ...r, payload: { ...r.payload, token: String(r.payload.token) } }, "promisegrid/revocation"],
      ["by short", { ...r, payload: { ...r.payload, by: r.payload.by.subarray(1) } }, "promisegrid/revocation"],
      ["by text", { ...r, payload: { ...r.payload, by: "k" } }, "promisegrid/revocation"],
      ["at negative", { ...r, payload: { ...r.payload, at: -1 } }, "promisegrid/revocation"],
      ["at fraction", { ...r, payload: { ...r.payload, at: 1.5 } }, "promisegrid/revocation"],
      ["v 1", { ...r, payload: { ...r.payload, v: 1 } }, "promisegrid/revocation"],
      ["empty chain", { ...r, payload: { ...r.payload, chain: [] } }, "promisegrid/revocation"],
      ["long chain", { ...r, payload: { ...r.payload, chain: Array(MAX_CHAIN + 1).fill(t) } }, "promisegrid/revocation"],
      ["chain of junk", { ...r, payload: { ...r.payload, chain: [{ payload: {}, sig: t.sig }] } }, "promisegrid/revocation"],
      ["extra payload field", { ...r, payload: { ...r.payload, pad: "x" } }, "promisegrid/revocation"],
      ["missing payload field", { ...r, payload: { ...r.payload, at: undefined } }, "promisegrid/revocation"],
      ["payload is a CID", { ...r, payload: r.payload.token }, "promisegrid/revocation"],
      ["payload is bytes", { ...r, payload: r.sig }, "promisegrid/revocation"],
      ["kept text", { ...a, payload: { ...a.payload, kept: "yes" } }, "promisegrid/assessment"],
      ["exitCode fraction", { ...a, payload: { ...a.payload, exitCode: 0.5 } }, "promisegrid/assessment"],
      ["exitCode text", { ...a, payload: { ...a.payload, exitCode: "0" } }, "promisegrid/assessment"],
      ["output text", { ...a, payload: { ...a.payload, output: "bafy" } }, "promisegrid/assessment"],
      ["manifest null", { ...a, payload: { ...a.payload, manifest: null } }, "promisegrid/assessment"],
      ["deployment long", { ...a, payload: { ...a.payload, deployment: "d".repeat(65) } }, "promisegrid/assessment"],
      ["reason long", { ...a, payload: { ...a.payload, reason: "r".repeat(65) } }, "promisegrid/assessment"],
      ["message long", { ...a, payload: { ...a.payload, message: "m".repeat(4097) } }, "promisegrid/assessment"],
      ["workload long", { ...a, payload: { ...a.payload, workload: "w".repeat(1025) } }, "promisegrid/assessment"],
      ["workload number", { ...a, payload: { ...a.payload, workload: 1 } }, "promisegrid/assessment"],
      ["node short", { ...a, payload: { ...a.payload, node: new Uint8Array(31) } }, "promisegrid/assessment"],
      ["grant arg object", { ...t, payload: { ...t.payload, grants: [{ type: "run", args: [{ x: 1 }] }] } }, "promisegrid/capability"],
      ["grant arg amount as text", { ...t, payload: { ...t.payload, grants: [{ type: "run", args: [{ amount: "1", unit: "USD" }] }] } }, "promisegrid/capability"],
      ["grant arg amount unit number", { ...t, payload: { ...t.payload, grants: [{ type: "run", args: [{ amount: 1, unit: 2 }] }] } }, "promisegrid/capability"],
      ["grant arg infinite", { ...t, payload: { ...t.payload, grants: [{ type: "run", args: [Infinity] }] } }, "promisegrid/capability"],
      ["grant arg long", { ...t, payload: { ...t.payload, grants: [{ type: "run", args: ["a".repeat(1025)] }] } }, "promisegrid/capability"],
      ["grant arg null", { ...t, payload: { ...t.payload, grants: [{ type: "run", args: [null] }] } }, "promisegrid/capability"],
      ["grant args many", { ...t, payload: { ...t.payload, grants: [{ type: "run", args: Array(17).fill("a") }] } }, "promisegrid/capability"],
      ["grant type empty", { ...t, payload: { ...t.payload, grants: [{ type: "", args: [] }] } }, "promisegrid/capability"],
      ["grant type long", { ...t, payload: { ...t.payload, grants: [{ type: "t".repeat(1025), args: [] }] } }, "promisegrid/capability"],
      ["grants many", { ...t, payload: { ...t.payload, grants: Array(65).fill({ type: "run", args: [] }) } }, "promisegrid/capability"],
      ["depth fraction", { ...t, payload: { ...t.payload, depth: 1.5 } }, "promisegrid/capability"],
      ["depth negative", { ...t, payload: { ...t.payload, depth: -1 } }, "promisegrid/capability"],
      ["depth huge", { ...t, payload: { ...t.payload, depth: 256 } }, "promisegrid/capability"],
      ["exp negative", { ...t, payload: { ...t.payload, exp: -1 } }, "promisegrid/capability"],
      ["nonce long", { ...t, payload: { ...t.payload, nonce: new Uint8Array(65) } }, "promisegrid/capability"],
      ["name long", { ...t, payload: { ...t.payload, name: "n".repeat(1025) } }, "promisegrid/capability"],
    ];
    for (const [what, value, type] of cases) assert.equal(asSigned(value, type), undefined, `${what} was accepted`);
    for (const ok of [{ depth: 255 }, { exp: 0 }, { exp: null }, { nonce: new Uint8Array(64) }, { name: "n".repeat(1024) }]) {
      assert.ok(asSigned({ ...t, payload: { ...t.payload, ...ok } }, "promisegrid/capability"), JSON.stringify(Object.keys(ok)));
    }
    assert.ok(asSigned({ ...a, payload: { ...a.payload, deployment: "d".repeat(64), reason: "r".repeat(64), message: "m".repeat(4096), at: 0 } }, "promisegrid/assessment"));
    assert.ok(asSigned({ ...r, payload: { ...r.payload, chain: Array(MAX_CHAIN).fill(t) } }, "promisegrid/revocation"));
    assert.ok(asSigned({ ...t, payload: { ...t.payload, grants: [{ type: "run", args: Array(16).fill("a".repeat(1000)) }] } }, "promisegrid/capability"));
    assert.ok(asSigned({ ...t, payload: { ...t.payload, grants: [{ type: "pay", args: [{ amount: 1, unit: "u".repeat(1024) }] }] } }, "promisegrid/capability"), "a unit of 1024 characters");
    assert.equal(wireGrantProblem({ type: "t".repeat(1025), args: [] }), `grant ${"t".repeat(32)}: at most 16 arguments, each name and text at most 1024 characters`, "the message quotes only the start of a long type");
  });

  it("bounds a record's encoded size", async () => {
    const k = await key();
    const grants = Array.from({ length: 2 }, () => ({ type: "pad", args: Array(16).fill("x".repeat(600)) }));
    const small = await revocation(k, [await signRecord(k, { ...(await token(k, k)).payload, grants: grants.slice(0, 1) })]);
    const big = await revocation(k, [await signRecord(k, { ...(await token(k, k)).payload, grants })]);
    assert.ok(dagCbor.encode(small).length <= MAX_RECORD_BYTES && dagCbor.encode(big).length > MAX_RECORD_BYTES);
    assert.ok(asSigned(small, "promisegrid/revocation"));
    assert.equal(asSigned(big, "promisegrid/revocation"), undefined);
    assert.equal(asSigned({ ...small, payload: { ...small.payload, at: undefined } }, "promisegrid/revocation"), undefined);
  });

  it("names each record's author", async () => {
    const k = await key();
    const t = await token(k, await key());
    assert.equal(author(t.payload), t.payload.iss);
    assert.equal(author((await revocation(k, [t])).payload), k.publicKey.raw);
    assert.equal(author((await assessment(k)).payload), k.publicKey.raw);
    const d = await signRecord(k, { type: "promisegrid/deploy", v: 0, manifest: await someCid("m"), workload: "w", holder: k.publicKey.raw, chain: [t], at: 1, nonce: new Uint8Array(8) });
    assert.equal(author(d.payload), k.publicKey.raw);
    assert.ok(asSigned(d, "promisegrid/deploy"));
    assert.equal(asSigned({ ...d, payload: { ...d.payload, holder: "x" } }, "promisegrid/deploy"), undefined);
  });
});

describe("revocation proofs", () => {
  it("holds only for a signed chain down to the token with the author among its issuers", async () => {
    const root = await key();
    const mid = await key();
    const leaf = await key();
    const stranger = await key();
    const t0 = await token(root, mid);
    const t1 = await token(mid, leaf);
    assert.equal(await revocationProblem((await revocation(mid, [t0, t1])).payload), undefined, "the hop's own issuer");
    assert.equal(await revocationProblem((await revocation(root, [t0, t1])).payload), undefined, "an issuer above");
    assert.match(String(await revocationProblem((await revocation(leaf, [t0, t1])).payload)), /issued none/);
    assert.match(String(await revocationProblem((await revocation(stranger, [t0, t1])).payload)), /issued none/);
    assert.match(String(await revocationProblem((await revocation(root, [t0, t1], { token: await recordCid(t0) })).payload)), /does not end at the revoked token/);
    const broken = await token(stranger, leaf);
    assert.match(String(await revocationProblem((await revocation(root, [t0, broken])).payload)), /not issued by the holder of hop 0/);
    const forged = { ...t1, payload: { ...t1.payload, depth: 9 } };
    assert.match(String(await revocationProblem((await revocation(root, [t0, forged])).payload)), /hop 1 is not signed/);
    assert.equal(await verifyRecord(await revocation(root, [t0, t1])), true);
    assert.equal(await verifyRecord(await revocation(stranger, [t0, t1])), false);
    const r = await revocation(root, [t0, t1]);
    assert.equal(await verifyRecord({ ...r, payload: { ...r.payload, at: 6 } }), false, "the payload changed after signing");
    assert.equal(await verifyRecord(await assessment(root)), true);
  });
});

describe("state bounds", () => {
  it("refuses malformed and forged records with a StateError, and adds each record once", async () => {
    const s = new GridState();
    const k = await key();
    const r = await revocation(k, [await token(k, k)]);
    await assert.rejects(s.add({ ...r, payload: { ...r.payload, token: null } }), (e: unknown) => e instanceof StateError && /not a well-formed/.test((e as Error).message));
    await assert.rejects(s.add({ ...r, payload: { ...r.payload, at: 9 } }), (e: unknown) => e instanceof StateError && /signature or proof/.test((e as Error).message));
    assert.ok(await s.add(r));
    assert.equal(await s.add(r), undefined);
    const a = await assessment(k);
    assert.ok(await s.add(a));
    assert.equal(await s.add(a), undefined);
    assert.deepEqual(s.summary(), [String(await recordCid(r)), String(await recordCid(a))].sort());
    assert.equal(s.isRevoked(r.payload.token, [k.publicKey.raw]), true);
    assert.equal(s.isRevoked(r.payload.token, [(await key()).publicKey.raw]), false);
    assert.equal(s.isRevoked(r.payload.token, [(await key()).publicKey.raw, k.publicKey.raw]), true, "the revoker among several issuers");
    assert.equal(s.isRevoked(await someCid("other"), [k.publicKey.raw]), false);
    // Revoked by two keys: either one among the issuers counts.
    const mid = await key();
    const t0 = await token(k, mid), t1 = await token(mid, await key());
    await s.add(await revocation(k, [t0, t1]));
    await s.add(await revocation(mid, [t0, t1]));
    assert.equal(s.isRevoked(await recordCid(t1), [mid.publicKey.raw]), true);
    assert.equal(s.isRevoked(await recordCid(t1), [k.publicKey.raw]), true);
    const merged = new GridState();
    await merged.merge(s);
    assert.deepEqual(merged.summary(), s.summary());
  });

  it("holds each key to its revocation quota", async () => {
    const s = new GridState();
    const k = await key();
    const t = await token(k, k);
    for (let i = 0; i < MAX_REVOCATIONS_PER_AUTHOR; i++) await s.add(await revocation(k, [t], { at: i }));
    assert.equal(s.revocations.size, MAX_REVOCATIONS_PER_AUTHOR);
    await assert.rejects(s.add(await revocation(k, [t], { at: 99_999 })), { message: `key ${hexOf(k.publicKey.raw).slice(0, 16)}… already has 1024 revocations, the most one key may have` });
    const other = await key();
    assert.ok(await s.add(await revocation(other, [await token(other, other)])), "another key has its own quota");
  });

  it("keeps the newest assessments per node, the same ones in any order", async () => {
    const k = await key();
    const all = await Promise.all(Array.from({ length: MAX_ASSESSMENTS_PER_AUTHOR + 3 }, (_, i) => assessment(k, { at: i % 7 === 0 ? 5 : i, deployment: `d${i}` })));
    const forward = new GridState();
    for (const a of all) await forward.add(a);
    const backward = new GridState();
    for (const a of [...all].reverse()) await backward.add(a);
    assert.equal(forward.assessments.size, MAX_ASSESSMENTS_PER_AUTHOR);
    assert.deepEqual(forward.summary(), backward.summary());
    const newest = all[all.length - 1];
    assert.ok(forward.assessments.has(String(await recordCid(newest))));
    assert.equal(await forward.add(await assessment(k, { at: 0, deployment: "old" })), undefined, "older than all kept: not kept");
    assert.equal(forward.assessments.size, MAX_ASSESSMENTS_PER_AUTHOR);
  });

  it("between assessments of the same time, the one with the smallest CID goes first, in any order of arrival", async () => {
    const k = await key();
    const all = await Promise.all(Array.from({ length: MAX_ASSESSMENTS_PER_AUTHOR + 2 }, (_, i) => assessment(k, { at: 7, deployment: `t${i}` })));
    const cids = (await Promise.all(all.map((a) => recordCid(a)))).map(String).sort();
    for (const order of [all, [...all].reverse()]) {
      const s = new GridState();
      for (const a of order) await s.add(a);
      assert.deepEqual(s.summary(), cids.slice(2));
    }
  });

  it("keeps revocations of chains rooted at this node even when others' budget is full", async () => {
    const me = await key();
    const s = new GridState(me.publicKey.raw);
    const t = await token(me, me);
    assert.ok(await s.add(await revocation(me, [t])));
    const foreign = await key();
    const st = new GridState(me.publicKey.raw);
    assert.ok(await st.add(await revocation(foreign, [await token(foreign, foreign)])));
  });

  it("keeps others' revocations only while they fit in MAX_FOREIGN_BYTES, and this node's beyond", async () => {
    const me = await key();
    const s = new GridState(me.publicKey.raw);
    // Revocations near the record size limit, by several keys (each within its quota).
    const padded = async (k: PrivateKey) => signRecord(k, { ...(await token(k, k)).payload, grants: [{ type: "pad", args: Array(16).fill("x".repeat(900)) }] });
    const authors = await Promise.all(Array.from({ length: 3 }, async () => { const k = await key(); return { k, t: await padded(k) }; }));
    // This node's own revocations first: they take none of the others' budget.
    for (let i = 0; i < 3; i++) assert.ok(await s.add(await revocation(me, [await padded(me)], { at: i })));
    let kept = 0, bytes = 0, refusal: unknown;
    for (let i = 0; refusal === undefined; i++) {
      const { k, t } = authors[i % authors.length];
      const r = await revocation(k, [t], { at: i });
      const size = dagCbor.encode(r).length;
      try {
        await s.add(r);
        kept++;
        bytes += size;
      } catch (e) {
        refusal = e;
        assert.ok(bytes + size > MAX_FOREIGN_BYTES, `refused with ${bytes} + ${size} bytes kept`);
      }
    }
    assert.ok(refusal instanceof StateError && refusal.message === "no room for more revocations of other nodes' capabilities", String(refusal));
    assert.ok(bytes <= MAX_FOREIGN_BYTES && bytes > MAX_FOREIGN_BYTES - 16 * 1024, `${bytes} bytes kept`);
    assert.equal(s.revocations.size, kept + 3);
    assert.ok(await s.add(await revocation(me, [await padded(me)])), "a revocation of this node's own chain still fits");
    assert.equal(s.revocations.size, kept + 4);
    // Still full for others.
    const { k, t } = authors[kept % authors.length];
    await assert.rejects(s.add(await revocation(k, [t], { at: 10_000_000 })), /no room/);
    // Without a node key, every chain is someone else's.
    const anon = new GridState();
    const mine = await revocation(me, [await token(me, me)]);
    assert.ok(await anon.add(mine));
  });
});

describe("replay guard and token book", () => {
  it("refuses a request used before, also after a reload, and forgets what is past the window", async () => {
    const file = path.join(tmp(), "seen");
    const g = new ReplayGuard(file, 1000);
    await g.load(0);
    const sig = new Uint8Array(64).fill(1);
    assert.equal(await g.use(sig, 100, 100), true);
    assert.equal(await g.use(sig, 100, 100), false);
    const again = new ReplayGuard(file, 1000);
    await again.load(500);
    assert.equal(await again.use(sig, 100, 500), false);
    const later = new ReplayGuard(file, 1000);
    await later.load(5000);
    assert.equal(await later.use(sig, 100, 5000), true);
    assert.equal(fs.readFileSync(file, "utf8").split("\n").filter(Boolean).length, 1, "the reload dropped what was past the window");
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  });

  it("finds the chain down to any hop it was shown, after a reload too", async () => {
    const dir = tmp();
    const store = new BlockStore(path.join(dir, "blocks"));
    await store.open();
    const book = new TokenBook(store, path.join(dir, "token-index"));
    await book.load();
    const root = await key();
    const mid = await key();
    const t0 = await token(root, mid);
    const t1 = await token(mid, await key());
    await book.remember([t0, t1]);
    const reloaded = new TokenBook(store, path.join(dir, "token-index"));
    await reloaded.load();
    assert.deepEqual((await reloaded.chainTo(await recordCid(t1)))?.map((t) => hexOf(t.sig)), [hexOf(t0.sig), hexOf(t1.sig)]);
    assert.deepEqual((await reloaded.chainTo(await recordCid(t0)))?.map((t) => hexOf(t.sig)), [hexOf(t0.sig)]);
    assert.equal(await reloaded.chainTo(await someCid("unknown")), undefined);
    assert.equal(fs.statSync(path.join(dir, "token-index")).mode & 0o777, 0o600);
  });
});

describe("API request checks", () => {
  const holder = "ab".repeat(32);
  const grants = [{ type: "run", args: ["w"] }];
  it("parses a good capability request and refuses each bad field", () => {
    const ok = parseIssueRequest({ holder, grants, depth: MAX_DEPTH, expires: 0, name: "n" });
    assert.equal(ok.depth, MAX_DEPTH);
    assert.equal(ok.expires, 0);
    assert.equal(ok.name, "n");
    assert.deepEqual(parseIssueRequest({ holder, grants }), { name: "capability", audience: new Uint8Array(Buffer.from(holder, "hex")), grants, depth: 0, expires: null });
    assert.ok(parseIssueRequest({ holder, grants: [{ type: "pay", args: [{ amount: 1, unit: "u" }, "s".repeat(1024), 2] }], expires: 8.64e15 }));
    assert.ok(parseIssueRequest({ holder, grants: Array(64).fill({ type: "r", args: Array(16).fill(1) }), name: "n".repeat(1024) }));
    const bad: Record<string, unknown>[] = [
      { holder: "ab", grants }, { holder: 1, grants }, { holder: "zz".repeat(32), grants }, { holder, grants: "run" }, { holder, grants: [] },
      { holder, grants: Array(65).fill(grants[0]) }, { holder, grants: [null] }, { holder, grants: [[]] }, { holder, grants: [{ type: "run" }] },
      { holder, grants: [{ type: 1, args: [] }] }, { holder, grants: [{ type: "", args: [] }] }, { holder, grants: [{ type: "t".repeat(1025), args: [] }] },
      { holder, grants: [{ type: "run", args: Array(17).fill(1) }] }, { holder, grants: [{ type: "run", args: [], x: 1 }] },
      { holder, grants: [{ type: "run", args: [NaN] }] }, { holder, grants: [{ type: "run", args: [{ amount: 1 }] }] },
      { holder, grants: [{ type: "run", args: [{ amount: 1, unit: "u", x: 0 }] }] }, { holder, grants: [{ type: "run", args: [{ amount: Infinity, unit: "u" }] }] },
      { holder, grants: [{ type: "run", args: [{ amount: 1, unit: "u".repeat(1025) }] }] }, { holder, grants: [{ type: "run", args: ["s".repeat(1025)] }] },
      { holder, grants: [{ type: "run", args: [[1]] }] }, { holder, grants: [{ type: "run", args: [{ unit: "u", amount: "1" }] }] },
      { holder, grants, name: "" }, { holder, grants, name: 1 }, { holder, grants, name: "n".repeat(1025) },
      { holder, grants, depth: MAX_DEPTH + 1 }, { holder, grants, depth: -1 }, { holder, grants, depth: 0.5 }, { holder, grants, depth: "1" },
      { holder, grants, expires: -1 }, { holder, grants, expires: 1.5 }, { holder, grants, expires: 8.64e15 + 1 }, { holder, grants, expires: "soon" },
      { holder, grants, other: 1 },
    ];
    for (const b of bad) assert.throws(() => parseIssueRequest(b), (e: Error & { status?: number }) => e.status === 400, JSON.stringify(b).slice(0, 120));
    assert.throws(() => parseIssueRequest({ holder, grants, other: 1, more: 2 }), /unknown fields 'other', 'more'/);
    assert.throws(() => parseIssueRequest({ holder, grants, other: 1 }), /unknown field 'other': this request takes holder, grants, name, depth, expires/);
    assert.ok(parseIssueRequest({ holder, grants: [{ type: "t".repeat(1024), args: [] }] }), "a type of 1024 characters");
    // Each refusal says which field and what it must be.
    const says = (body: Record<string, unknown>, message: string) =>
      assert.throws(() => parseIssueRequest(body), (e: Error & { status?: number }) => e.status === 400 && e.message === message, message);
    for (const h of ["ab".repeat(33), `x${holder}`, `${holder}\n`]) says({ holder: h, grants }, "'holder' must be the holder's ed25519 public key, 64 hex digits");
    says({ holder, grants: [] }, "'grants' must be a list of 1 to 64 {type, args}");
    says({ holder: [holder], grants }, "'holder' must be the holder's ed25519 public key, 64 hex digits");
    for (const g of [{ type: "", args: [] }, { type: "t".repeat(1025), args: [] }, { type: "run", args: Array(17).fill(1) }]) {
      says({ holder, grants: [g] }, "grant 0 must be {type, args}: a type name and a list of at most 16 arguments");
    }
    says({ holder, grants: [grants[0], { type: "run" }] }, "grant 1 must be {type, args}: a type name and a list of at most 16 arguments");
    says({ holder, grants: [{ type: "run", args: [{ amount: -1, unit: "u" }] }] }, "grant 0: grant run: argument 0: an amount must be a finite number, not below 0");
    says({ holder, grants, name: "" }, "'name' must be a non-empty string of at most 1024 characters");
    says({ holder, grants, depth: 0.5 }, "'depth' must be a whole number from 0 to 32, not 0.5");
    says({ holder, grants, expires: "soon" }, `'expires' must be a time (whole milliseconds since the epoch) or null, not "soon"`);
  });

  it("accepts only this port's loopback Host and Origin, and only the exact bearer", () => {
    assert.deepEqual([...allowedHosts(7450)].sort(), ["127.0.0.1:7450", "[::1]:7450", "localhost:7450"]);
    assert.deepEqual([...allowedHosts(80)].sort(), ["127.0.0.1", "127.0.0.1:80", "[::1]", "[::1]:80", "localhost", "localhost:80"]);
    assert.deepEqual([...allowedOrigins(7450)].sort(), ["http://127.0.0.1:7450", "http://[::1]:7450", "http://localhost:7450"]);
    assert.equal(bearerMatches("Bearer abc", "abc"), true);
    for (const h of ["Bearer abcd", "Bearer ab", "Bearer  abc", "Bearer abc ", "bearer abc", "Basic abc", "Bearer ", "abc", ""]) assert.equal(bearerMatches(h, "abc"), false, h);
  });

  it("parses a revocation's chain and refuses anything else", async () => {
    const k = await key();
    const t = await token(k, k);
    const b64 = Buffer.from(dagCbor.encode(t)).toString("base64");
    assert.deepEqual(parseChain([b64]).map((x) => hexOf(x.sig)), [hexOf(t.sig)]);
    assert.equal(parseChain(Array(MAX_CHAIN).fill(b64)).length, MAX_CHAIN);
    for (const bad of [[], Array(MAX_CHAIN + 1).fill(b64), "x", [1], ["!!"], [Buffer.from(dagCbor.encode({ a: 1 })).toString("base64")]]) {
      assert.throws(() => parseChain(bad), (e: Error & { status?: number }) => e.status === 400, JSON.stringify(bad).slice(0, 60));
    }
    assert.throws(() => parseChain([]), { message: `'chain' must be a list of 1 to ${MAX_CHAIN} tokens (base64), root first` });
    assert.throws(() => parseChain([b64, "!!"]), { message: "'chain' item 1 is not a capability token (base64 DAG-CBOR)" });
    assert.throws(() => parseChain([b64, 7]), { message: "'chain' item 1 is not a capability token (base64 DAG-CBOR)" });
  });
});
