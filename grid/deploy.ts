// Building a deploy: the holder's key, a token from the node, and a CAR whose
// root is the signed deploy request followed by the manifest's blocks.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { CarWriter } from "@ipld/car";
import * as dagCbor from "@ipld/dag-cbor";
import type { CID } from "multiformats/cid";
import { loadOrCreateKey, type PrivateKey } from "./keys.ts";
import { recordCid, signRecord, type Signed, type TokenPayload } from "./records.ts";
import { DEFAULT_HOME } from "./local.ts";

export { DEFAULT_HOME, DEFAULT_DATA_DIR, clientForDataDir, nodeDataDir } from "./local.ts";

/** The deployer's own key, ~/.promisegrid/key (or $PROMISEGRID_HOME/key). */
export function userKey(home = process.env.PROMISEGRID_HOME ?? DEFAULT_HOME): Promise<PrivateKey> {
  return loadOrCreateKey(join(home, "key"));
}

export function decodeToken(base64: string): Signed<TokenPayload> {
  return dagCbor.decode(Buffer.from(base64, "base64")) as Signed<TokenPayload>;
}

export async function tokenCid(token: Signed<TokenPayload>): Promise<CID> {
  return recordCid(token);
}

export interface DeployCarOptions {
  key: PrivateKey;
  manifest: CID;
  workload: string;
  chain: Signed<TokenPayload>[];
  /** The manifest's blocks to send along (may be empty when peers have them). */
  blocks: { cid: CID; bytes: Uint8Array }[];
}

export async function deployCar(o: DeployCarOptions): Promise<Uint8Array> {
  const request = await signRecord(o.key, {
    type: "promisegrid/deploy",
    v: 0,
    manifest: o.manifest,
    workload: o.workload,
    holder: o.key.publicKey.raw,
    chain: o.chain,
    at: Date.now(),
    nonce: new Uint8Array(randomBytes(8)),
  });
  const bytes = dagCbor.encode(request);
  const root = await recordCid(request);
  const { writer, out } = CarWriter.create([root]);
  const parts: Uint8Array[] = [];
  const collect = (async () => {
    for await (const p of out) parts.push(p);
  })();
  await writer.put({ cid: root, bytes });
  for (const b of o.blocks) await writer.put(b);
  await writer.close();
  await collect;
  return new Uint8Array(Buffer.concat(parts));
}
