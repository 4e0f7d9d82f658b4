// Offers form a CRDT: whatever the order, grouping or repetition of merges,
// every node ends with the same current offer per node key. Offers are real
// signed records; bad ones are refused before they are stored.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { OFFERS_PROTOCOL_CID, OfferSet, OfferError, MAX_OFFER_BYTES, defaultPromises, signOffer, type OfferPayload, type SignedOffer } from "../../grid/offers.ts";
import { ROOT } from "./helpers.ts";

/** A small deterministic PRNG (mulberry32), so a failure names its seed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function payload(node: Uint8Array, seq: number, running: number): OfferPayload {
  return {
    type: "promisegrid/offer", v: 0, node, seq, at: seq, addrs: ["/ip4/127.0.0.1/tcp/1"],
    sandboxes: [{ kind: "wasm", memoryBytes: 1 << 30, timeMs: null }], load: { running, cpus: 2 }, promises: defaultPromises(node),
  };
}

async function build(set: OfferSet, offers: SignedOffer[]): Promise<OfferSet> {
  for (const o of offers) await set.add(o);
  return set;
}

test("offers-v0 pCID is the CID of docs/protocol/offers-v0.md", async () => {
  const cid = CID.createV1(0x55, await sha256.digest(readFileSync(join(ROOT, "docs/protocol/offers-v0.md"))));
  assert.equal(OFFERS_PROTOCOL_CID.toString(), cid.toString(), "update OFFERS_PROTOCOL_CID in grid/offers.ts after editing the spec");
});

test("merging offers in any order, grouping and repetition gives the same state", async () => {
  const keys = await Promise.all([0, 1, 2, 3].map(() => generateKeyPair("Ed25519")));
  // Several versions per key, with ties on seq (same version, other content).
  const offers: SignedOffer[] = [];
  for (const k of keys) for (const seq of [1, 2, 2, 3, 3, 3]) offers.push(await signOffer(k, payload(k.publicKey.raw, seq, offers.length)));
  const reference = (await build(new OfferSet(), offers)).summary();
  assert.equal(reference.length, keys.length);
  for (let seed = 1; seed <= 200; seed++) {
    const r = rng(seed);
    // A random sequence with repeats, split into two replicas merged into a third.
    const seqOf = offers.flatMap((o) => (r() < 0.3 ? [o, o] : [o])).sort(() => r() - 0.5);
    const cut = Math.floor(r() * seqOf.length);
    const a = await build(new OfferSet(), seqOf.slice(0, cut));
    const b = await build(new OfferSet(), seqOf.slice(cut));
    const ab = new OfferSet();
    await ab.merge(a);
    await ab.merge(b);
    const ba = new OfferSet();
    await ba.merge(b);
    await ba.merge(a);
    await ba.merge(ba);
    assert.deepEqual(ab.summary(), reference, `seed ${seed}`);
    assert.deepEqual(ba.summary(), reference, `seed ${seed}`);
  }
  // The winner per key is the highest seq.
  for (const k of keys) assert.equal((await build(new OfferSet(), offers)).get(k.publicKey.raw)!.payload.seq, 3);
});

test("an offer with a bad shape, size or signature is refused and changes nothing", async () => {
  const k = await generateKeyPair("Ed25519");
  const mallory = await generateKeyPair("Ed25519");
  const set = new OfferSet();
  const good = await signOffer(k, payload(k.publicKey.raw, 5, 0));
  assert.equal(await set.add(good), true);
  const before = set.summary();
  const forged = await signOffer(mallory, payload(k.publicKey.raw, 9, 0));
  await assert.rejects(set.add(forged), (e: unknown) => e instanceof OfferError && /signature/.test(e.message));
  await assert.rejects(set.add({ ...good, payload: { ...good.payload, seq: -1 } }), /seq and at/);
  await assert.rejects(set.add({ ...good, payload: { ...good.payload, sandboxes: [{ kind: "docker", memoryBytes: 1, timeMs: null }] } }), /one of wasm, container, vm/);
  await assert.rejects(set.add({ ...good, payload: { ...good.payload, promises: [{ body: { type: "run", args: [] }, to: "*", if: { holds: { iss: new Uint8Array(3) } } }] } }), /32-byte/);
  const big = await signOffer(k, { ...payload(k.publicKey.raw, 10, 0), addrs: Array.from({ length: 16 }, () => "x".repeat(256)), promises: Array.from({ length: 16 }, () => ({ ...defaultPromises(k.publicKey.raw)[0], to: Array.from({ length: 64 }, () => k.publicKey.raw) })) });
  assert.ok(dagCbor.encode(big).length > MAX_OFFER_BYTES);
  await assert.rejects(set.add(big), /over the 16384-byte limit/);
  await assert.rejects(set.add("not an offer"), OfferError);
  assert.deepEqual(set.summary(), before);
});
