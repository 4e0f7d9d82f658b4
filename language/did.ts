// Keys as names: an ed25519 public key written as `did:key:z6Mk…` (the
// multicodec ed25519-pub varint, then the 32 raw key bytes, in multibase
// base58btc). The language's checker validates agent keys with the same rule.
import { varint } from "multiformats";
import { base58btc } from "multiformats/bases/base58";

/** The multicodec code of an ed25519 public key. */
const ED25519_PUB = 0xed;
const PREFIX = "did:key:";

/** `did:key:z6Mk…` for a 32-byte ed25519 public key. */
export function didKey(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new Error(`an ed25519 public key is 32 bytes, not ${publicKey.length}`);
  const head = new Uint8Array(varint.encodingLength(ED25519_PUB));
  varint.encodeTo(ED25519_PUB, head);
  const bytes = new Uint8Array(head.length + 32);
  bytes.set(head);
  bytes.set(publicKey, head.length);
  return PREFIX + base58btc.encode(bytes);
}

/** Why `text` is not an ed25519 did:key, or undefined when it is one. */
export function didKeyProblem(text: string): string | undefined {
  return parse(text).problem;
}

/** The 32 raw key bytes of a did:key; throws with the reason when it is not an ed25519 did:key. */
export function publicKeyOf(text: string): Uint8Array {
  const r = parse(text);
  if (r.problem) throw new Error(r.problem);
  return r.key!;
}

function parse(text: string): { key?: Uint8Array; problem?: string } {
  if (!text.startsWith(PREFIX)) return { problem: `'${text}' is not a did:key (it must start with 'did:key:z')` };
  const mb = text.slice(PREFIX.length);
  if (!mb.startsWith("z")) return { problem: `'${text}' is not base58btc (after 'did:key:' comes 'z')` };
  let bytes: Uint8Array;
  try {
    bytes = base58btc.decode(mb);
  } catch {
    return { problem: `'${text}' has characters that are not base58btc` };
  }
  let code: number, len: number;
  try {
    [code, len] = varint.decode(bytes);
  } catch {
    return { problem: `'${text}' has no multicodec prefix` };
  }
  if (code !== ED25519_PUB) return { problem: `'${text}' is not an ed25519 key (multicodec 0x${code.toString(16)}, expected 0xed)` };
  if (bytes.length - len !== 32) return { problem: `'${text}' holds ${bytes.length - len} key bytes; an ed25519 key has 32` };
  return { key: bytes.subarray(len) };
}
