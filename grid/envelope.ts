// The PromiseGrid envelope: CBOR tag 1735551332 ("grid") around
// [42(pCID), ...payload], pCID naming the protocol by the CID of its spec
// (docs/protocol/grid-v0.md). The payload is DAG-CBOR.
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { equals } from "multiformats/bytes";

/** CID (raw, sha2-256) of docs/protocol/grid-v0.md; a test keeps the two in step. */
export const PROTOCOL_CID = CID.parse("bafkreifwic5exquf2n3pqx4bwljxmbtes24bgj56rvyct5fxty7uahr4vq");
/** CID of docs/protocol/deploy.md: the pCID of /promisegrid/deploy/0 (a test keeps the two in step). */
export const DEPLOY_PROTOCOL_CID = CID.parse("bafkreieapmh47s4vjmzxe5wqkvexavop2dhzmxsje6frnrzuibnr6a2vty");

export const ENVELOPE_TAG = 1735551332;
// Major type 6 (tag), 4-byte argument: 0xda + 0x67726964.
const TAG_HEADER = Uint8Array.from([0xda, 0x67, 0x72, 0x69, 0x64]);

/** `pcid`: the protocol's spec (another spec's CID for its own topics, e.g. offers-v0.md). */
export function encodeEnvelope(payload: unknown[], pcid: CID = PROTOCOL_CID): Uint8Array {
  const body = dagCbor.encode([pcid, ...payload]);
  const out = new Uint8Array(TAG_HEADER.length + body.length);
  out.set(TAG_HEADER);
  out.set(body, TAG_HEADER.length);
  return out;
}

export class EnvelopeError extends Error {}

/** The payload (after the pCID); throws EnvelopeError for anything else. */
export function decodeEnvelope(bytes: Uint8Array, expected: CID = PROTOCOL_CID): unknown[] {
  if (bytes.length < TAG_HEADER.length || !equals(bytes.subarray(0, TAG_HEADER.length), TAG_HEADER)) {
    throw new EnvelopeError("not a PromiseGrid envelope (missing CBOR tag 1735551332)");
  }
  let value: unknown;
  try {
    value = dagCbor.decode(bytes.subarray(TAG_HEADER.length));
  } catch (e) {
    throw new EnvelopeError(`malformed envelope body: ${e instanceof Error ? e.message : e}`);
  }
  if (!Array.isArray(value) || value.length < 1) throw new EnvelopeError("envelope body is not [pCID, ...payload]");
  const pcid = CID.asCID(value[0]);
  if (!pcid || !pcid.equals(expected)) throw new EnvelopeError(`unknown protocol ${String(value[0])} (expected ${expected})`);
  return value.slice(1);
}
