// Block verification. The hash function and digest length come from each
// CID's own multihash (the registry is the language's, shared with the compiler).
import type { CID } from "multiformats/cid";
import { equals } from "multiformats/bytes";
import { hasherForCode } from "../language/hashes.ts";

/** Throws unless `bytes` hash to `cid`'s digest. */
export async function verifyBlock(cid: CID, bytes: Uint8Array): Promise<void> {
  const hasher = hasherForCode(cid.multihash.code);
  if (!hasher) throw new Error(`block ${cid}: unsupported hash function 0x${cid.multihash.code.toString(16)}`);
  const digest = await hasher.digest(bytes);
  const want = cid.multihash.digest;
  if (want.length !== cid.multihash.size || want.length > digest.digest.length || !equals(digest.digest.subarray(0, want.length), want)) {
    throw new Error(`block ${cid}: bytes do not match the CID (hash mismatch)`);
  }
}
