// Signed records: capability tokens, deploy requests, revocations and
// assessments. Each is DAG-CBOR `{ payload, sig }`, the signature by the key
// the payload names as its author, over the DAG-CBOR bytes of the payload.
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { sign, verify, type PrivateKey } from "./keys.ts";

/** A grant on the wire: the language's type (language/authority.ts). */
export type { Grant as Body } from "../language/authority.ts";
import type { Grant as Body } from "../language/authority.ts";

export interface TokenPayload {
  type: "promisegrid/capability";
  v: 0;
  name: string;
  iss: Uint8Array;
  aud: Uint8Array;
  grants: Body[];
  /** How many further delegations are allowed (0: not delegable). */
  depth: number;
  /** Expiry, milliseconds since the epoch; null: never. */
  exp: number | null;
  nonce: Uint8Array;
}

export interface DeployPayload {
  type: "promisegrid/deploy";
  v: 0;
  manifest: CID;
  workload: string;
  holder: Uint8Array;
  chain: Signed<TokenPayload>[];
  at: number;
  nonce: Uint8Array;
}

export interface RevocationPayload {
  type: "promisegrid/revocation";
  v: 0;
  token: CID;
  by: Uint8Array;
  at: number;
}

export interface AssessmentPayload {
  type: "promisegrid/assessment";
  v: 0;
  node: Uint8Array;
  deployment: string;
  manifest: CID;
  workload: string;
  kept: boolean;
  exitCode: number | null;
  reason: string;
  message: string;
  /** Raw block of the captured stdout+stderr; null when empty. */
  output: CID | null;
  at: number;
}

export type Payload = TokenPayload | DeployPayload | RevocationPayload | AssessmentPayload;

export interface Signed<T extends Payload = Payload> {
  payload: T;
  sig: Uint8Array;
}

export function author(p: Payload): Uint8Array {
  switch (p.type) {
    case "promisegrid/capability":
      return p.iss;
    case "promisegrid/deploy":
      return p.holder;
    case "promisegrid/revocation":
      return p.by;
    case "promisegrid/assessment":
      return p.node;
  }
}

export async function signRecord<T extends Payload>(key: PrivateKey, payload: T): Promise<Signed<T>> {
  return { payload, sig: await sign(key, dagCbor.encode(payload)) };
}

/** Whether the record is signed by the author its payload names. */
export async function verifyRecord(record: Signed): Promise<boolean> {
  return verify(author(record.payload), dagCbor.encode(record.payload), record.sig);
}

export function encodeRecord(record: Signed): Uint8Array {
  return dagCbor.encode(record);
}

export async function recordCid(record: Signed): Promise<CID> {
  return CID.createV1(dagCbor.code, await sha256.digest(dagCbor.encode(record)));
}

/** Checks the shape of an untrusted value before it is used as a signed record. */
export function asSigned(value: unknown, type: Payload["type"]): Signed | undefined {
  if (!value || typeof value !== "object") return undefined;
  const v = value as { payload?: { type?: unknown }; sig?: unknown };
  if (!(v.sig instanceof Uint8Array) || !v.payload || typeof v.payload !== "object" || v.payload.type !== type) return undefined;
  return v as Signed;
}
