// Signed records: capability tokens, deploy requests, revocations and
// assessments. Each is DAG-CBOR `{ payload, sig }`, the signature by the key
// the payload names as its author, over the DAG-CBOR bytes of the payload.
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { equals } from "multiformats/bytes";
import { sign, verify, type PrivateKey } from "./keys.ts";

/** A grant on the wire: the language's type (language/authority.ts). */
export type { Grant as Body } from "../language/authority.ts";
import { grantProblem, type Grant as Body } from "../language/authority.ts";

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
  /** The tokens from the root down to the revoked one: proof that `by` issued it or one above it. */
  chain: Signed<TokenPayload>[];
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

/** Whether the record is signed by the author its payload names (and, for a revocation, that its proof holds). */
export async function verifyRecord(record: Signed): Promise<boolean> {
  if (!(await verify(author(record.payload), dagCbor.encode(record.payload), record.sig))) return false;
  if (record.payload.type === "promisegrid/revocation") return (await revocationProblem(record.payload)) === undefined;
  return true;
}

/**
 * Why a revocation revokes nothing real: its chain must be signed hop by hop,
 * each hop issued by the holder of the one above, end at the revoked token, and
 * name `by` as the issuer of one of its hops (the token's own or one above).
 */
export async function revocationProblem(p: RevocationPayload): Promise<string | undefined> {
  for (let i = 0; i < p.chain.length; i++) {
    const t = p.chain[i];
    if (!(await verify(t.payload.iss, dagCbor.encode(t.payload), t.sig))) return `chain hop ${i} is not signed by its issuer`;
    if (i > 0 && !equals(t.payload.iss, p.chain[i - 1].payload.aud)) return `chain hop ${i} is not issued by the holder of hop ${i - 1}`;
  }
  if (!(await recordCid(p.chain[p.chain.length - 1])).equals(p.token)) return "the chain does not end at the revoked token";
  if (!p.chain.some((t) => equals(t.payload.iss, p.by))) return "the revoking key issued none of the chain's hops";
  return undefined;
}

export async function recordCid(record: Signed): Promise<CID> {
  return CID.createV1(dagCbor.code, await sha256.digest(dagCbor.encode(record)));
}

/** Largest encoded record: a deploy request with its chain, a revocation with its proof, an assessment. */
export const MAX_RECORD_BYTES = 16 * 1024;
/** Longest capability chain (root first). */
export const MAX_CHAIN = 8;
/** Longest text field (names, grant arguments). */
export const MAX_TEXT = 1024;
/** Grants per token, arguments per grant. */
export const MAX_GRANTS = 64;
export const MAX_ARGS = 16;
const MAX_MESSAGE = 4096;

type Check = (v: unknown) => boolean;
const text = (max = MAX_TEXT): Check => (v) => typeof v === "string" && v.length <= max;
const key: Check = (v) => v instanceof Uint8Array && v.length === 32;
const bytes = (max: number): Check => (v) => v instanceof Uint8Array && v.length <= max;
const cid: Check = (v) => CID.asCID(v) !== null;
const time: Check = (v) => Number.isSafeInteger(v) && (v as number) >= 0;
const zero: Check = (v) => v === 0;
const orNull = (c: Check): Check => (v) => v === null || c(v);
const list = (c: Check, min: number, max: number): Check => (v) => Array.isArray(v) && v.length >= min && v.length <= max && v.every(c);
/** Why `g` is no grant the wire carries: the authority rule's shape (language/authority.ts grantProblem), then the wire's size bounds. */
export function wireGrantProblem(g: unknown): string | undefined {
  const problem = grantProblem(g);
  if (problem) return problem;
  const sized = (a: unknown) => typeof a === "string" ? a.length <= MAX_TEXT : typeof a === "number" || (a as { unit: string }).unit.length <= MAX_TEXT;
  const { type, args } = g as Body;
  if (type.length > MAX_TEXT || args.length > MAX_ARGS || !args.every(sized)) return `grant ${type.slice(0, 32)}: at most ${MAX_ARGS} arguments, each name and text at most ${MAX_TEXT} characters`;
  return undefined;
}
const grant: Check = (g) => shape({ type: () => true, args: () => true })(g) && wireGrantProblem(g) === undefined;

/** A plain object with exactly these fields, each passing its check. */
function shape(fields: Record<string, Check>): Check {
  return (v) => {
    if (!v || typeof v !== "object" || Array.isArray(v) || v instanceof Uint8Array || CID.asCID(v)) return false;
    const keys = Object.keys(v);
    return keys.length === Object.keys(fields).length && keys.every((k) => k in fields && fields[k]((v as Record<string, unknown>)[k]));
  };
}

const signed = (payload: Check): Check => shape({ payload, sig: (s) => s instanceof Uint8Array && s.length === 64 });

const PAYLOADS: Record<Payload["type"], Check> = {
  "promisegrid/capability": shape({
    type: (t) => t === "promisegrid/capability", v: zero, name: text(), iss: key, aud: key, grants: list(grant, 0, MAX_GRANTS),
    depth: (d) => Number.isInteger(d) && (d as number) >= 0 && (d as number) <= 255, exp: orNull(time), nonce: bytes(64),
  }),
  "promisegrid/deploy": shape({
    type: (t) => t === "promisegrid/deploy", v: zero, manifest: cid, workload: text(), holder: key,
    chain: (c) => list(signed(PAYLOADS["promisegrid/capability"]), 0, MAX_CHAIN)(c), at: time, nonce: bytes(64),
  }),
  "promisegrid/revocation": shape({
    type: (t) => t === "promisegrid/revocation", v: zero, token: cid, by: key,
    chain: (c) => list(signed(PAYLOADS["promisegrid/capability"]), 1, MAX_CHAIN)(c), at: time,
  }),
  "promisegrid/assessment": shape({
    type: (t) => t === "promisegrid/assessment", v: zero, node: key, deployment: text(64), manifest: cid, workload: text(),
    kept: (k) => typeof k === "boolean", exitCode: orNull((n) => Number.isSafeInteger(n)), reason: text(64), message: text(MAX_MESSAGE),
    output: orNull(cid), at: time,
  }),
};

/** Checks the whole shape (every field, its type and bounds, no others) and size of an untrusted value before it is used as a signed record. */
export function asSigned(value: unknown, type: Payload["type"]): Signed | undefined {
  if (!signed(PAYLOADS[type])(value)) return undefined;
  try {
    if (dagCbor.encode(value).length > MAX_RECORD_BYTES) return undefined;
  } catch {
    return undefined;
  }
  return value as Signed;
}
