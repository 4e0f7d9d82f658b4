// The multihash functions a grid may choose with `grid { hash NAME }` or --hash.
import { createHash } from "node:crypto";
import { blake2b } from "@noble/hashes/blake2.js";
import { blake3 } from "@noble/hashes/blake3.js";
import { from } from "multiformats/hashes/hasher";
import type { MultihashHasher } from "multiformats/hashes/interface";

const nodeHash = (algorithm: string) => (bytes: Uint8Array) => new Uint8Array(createHash(algorithm).update(bytes).digest());

/** Hashers by multihash name; codes are from the multicodec table. */
export const HASHES: Record<string, MultihashHasher<number>> = {
  "sha2-256": from({ name: "sha2-256", code: 0x12, encode: nodeHash("sha256") }),
  "sha2-512": from({ name: "sha2-512", code: 0x13, encode: nodeHash("sha512") }),
  "sha3-256": from({ name: "sha3-256", code: 0x16, encode: nodeHash("sha3-256") }),
  "sha3-512": from({ name: "sha3-512", code: 0x14, encode: nodeHash("sha3-512") }),
  "blake2b-256": from({ name: "blake2b-256", code: 0xb220, encode: (b) => blake2b(b, { dkLen: 32 }) }),
  "blake2b-512": from({ name: "blake2b-512", code: 0xb240, encode: (b) => blake2b(b, { dkLen: 64 }) }),
  blake3: from({ name: "blake3", code: 0x1e, encode: (b) => blake3(b) }),
};

export const DEFAULT_HASH = "sha2-256";

/** The hasher for a multihash code, as found in a CID. */
export function hasherForCode(code: number): MultihashHasher<number> | undefined {
  return Object.values(HASHES).find((h) => h.code === code);
}
