// Keys as names: did:key for ed25519 (multicodec 0xed, base58btc), and the
// checker's codes for agent keys.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { base58btc } from "multiformats/bases/base58";
import { didKey, didKeyProblem, publicKeyOf } from "../../language/did.ts";
import { checkText, codes } from "./helpers.ts";

// Examples of the did:key method's specification (ed25519).
const SPEC = ["did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", "did:key:z6MknGc3ocHs3zdPiJbnaaqDi58NGb4pk1Sp9WxWufuXSdxf"];

test("the specification's ed25519 did:keys decode to 32 bytes and encode back the same", () => {
  for (const did of SPEC) {
    const key = publicKeyOf(did);
    assert.equal(key.length, 32);
    assert.equal(didKey(key), did);
  }
});

test("a generated key's did:key starts z6Mk and round-trips", async () => {
  const k = (await generateKeyPair("Ed25519")).publicKey.raw;
  const did = didKey(k);
  assert.match(did, /^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$/);
  assert.deepEqual(publicKeyOf(did), k);
  assert.throws(() => didKey(k.subarray(1)), /32 bytes, not 31/);
});

test("malformed did:keys say what is wrong", () => {
  assert.match(didKeyProblem("z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp")!, /must start with 'did:key:z'/);
  assert.match(didKeyProblem("did:key:f6MkiTBz")!, /not base58btc/);
  assert.match(didKeyProblem("did:key:z6MkiTBz0OIl")!, /not base58btc/);
  // secp256k1 (multicodec 0xe7), from the same specification.
  assert.match(didKeyProblem("did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme")!, /not an ed25519 key \(multicodec 0xe7/);
  const short = "did:key:" + base58btc.encode(Uint8Array.from([0xed, 0x01, ...new Uint8Array(31).fill(7)]));
  assert.match(didKeyProblem(short)!, /holds 31 key bytes; an ed25519 key has 32/);
  assert.equal(didKeyProblem(SPEC[0]), undefined);
});

test("the checker: a malformed key is PG206; two agents with one key is PG207, pointing at the first", () => {
  const bad = checkText(`agent a { kind node key "did:key:z6Mk" }\nagent b { key 42 }\n`);
  assert.deepEqual(codes(bad), ["PG206", "PG206"]);
  assert.match(bad[1].message, /an agent's key is a string/);
  const text = `agent a { kind node key "${SPEC[0]}" }\nagent b { kind person key "${SPEC[0]}" }\nagent c { key "${SPEC[1]}" }\n`;
  const dup = checkText(text);
  assert.deepEqual(codes(dup), ["PG207"]);
  assert.match(dup[0].message, /b has the key of a/);
  assert.equal(dup[0].related?.[0].span.start, text.indexOf(`"${SPEC[0]}"`));
  assert.deepEqual(codes(checkText(`agent a { kyy "${SPEC[0]}" }`)), ["PG203"]);
});
