// Ed25519 identities: the node's key lives in its data dir (mode 0600), a
// user's in ~/.promisegrid/key. Public keys travel as their 32 raw bytes and
// are shown as did:key (language/did.ts).
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf, publicKeyFromRaw } from "@libp2p/crypto/keys";
import type { Ed25519PrivateKey } from "@libp2p/interface";
import { chmod, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { writeFileAtomic } from "./files.ts";
import { didKey } from "../language/did.ts";

export type PrivateKey = Ed25519PrivateKey;

/** Loads the key at `path`, creating it (mode 0600, written atomically) when absent. */
export async function loadOrCreateKey(path: string): Promise<PrivateKey> {
  try {
    const key = privateKeyFromProtobuf(new Uint8Array(await readFile(path)));
    if (key.type !== "Ed25519") throw new Error(`${path}: not an Ed25519 key`);
    await chmod(path, 0o600);
    return key;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const key = await generateKeyPair("Ed25519");
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, privateKeyToProtobuf(key), 0o600);
  return key;
}

export async function sign(key: PrivateKey, data: Uint8Array): Promise<Uint8Array> {
  return key.sign(data);
}

export async function verify(publicKey: Uint8Array, data: Uint8Array, sig: Uint8Array): Promise<boolean> {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32 || !(sig instanceof Uint8Array)) return false;
  try {
    return await publicKeyFromRaw(publicKey).verify(data, sig);
  } catch {
    return false;
  }
}

/** How a public key is shown: `did:key:z6Mk…`. */
export function keyId(publicKey: Uint8Array): string {
  return didKey(publicKey);
}

export { didKey, didKeyProblem, publicKeyOf } from "../language/did.ts";
