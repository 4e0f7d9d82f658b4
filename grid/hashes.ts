// Hash functions by multihash code. Readers take the function from each CID's
// multihash, never assume one.
import { from, type MultihashHasher } from "multiformats/hashes/hasher";
import { sha256, sha512 } from "multiformats/hashes/sha2";
import { blake2b } from "@noble/hashes/blake2.js";
import { sha3_256 } from "@noble/hashes/sha3.js";
import { blake3 } from "@noble/hashes/blake3.js";
import type { CID } from "multiformats/cid";
import { equals } from "multiformats/bytes";

const blake2b256 = from({ name: "blake2b-256", code: 0xb220, encode: (b) => blake2b(b, { dkLen: 32 }) });
const sha3256 = from({ name: "sha3-256", code: 0x16, encode: (b) => sha3_256(b) });
const blake3256 = from({ name: "blake3", code: 0x1e, encode: (b) => blake3(b) });

const hashers: MultihashHasher<number>[] = [sha256, sha512, blake2b256, sha3256, blake3256];
const byCode = new Map<number, MultihashHasher<number>>(hashers.map((h) => [h.code, h]));
const byName = new Map<string, MultihashHasher<number>>(hashers.map((h) => [h.name, h]));

export function hasherForCode(code: number): MultihashHasher<number> | undefined {
  return byCode.get(code);
}

export function hasherByName(name: string): MultihashHasher<number> | undefined {
  return byName.get(name);
}

export const hashNames = hashers.map((h) => h.name);

/** Whether `bytes` hash to `cid`'s digest with the function and length its multihash names. */
export async function verifyBlock(cid: CID, bytes: Uint8Array): Promise<void> {
  const hasher = byCode.get(cid.multihash.code);
  if (!hasher) throw new Error(`block ${cid}: unsupported hash function 0x${cid.multihash.code.toString(16)}`);
  const digest = await hasher.digest(bytes);
  const want = cid.multihash.digest;
  const got = digest.digest.subarray(0, want.length);
  if (want.length !== cid.multihash.size || !equals(got, want)) {
    throw new Error(`block ${cid}: bytes do not match the CID (hash mismatch)`);
  }
}
