// The compiler: a checked program -> a DAG of content-addressed blocks (docs/manifest.md).
import * as path from "node:path";
import { CarWriter } from "@ipld/car/writer";
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import type { MultihashHasher } from "multiformats/hashes/interface";
import * as raw from "multiformats/codecs/raw";
import { DURATION_UNITS, SIZE_UNITS, type Body, type Condition, type Expiry, type Field, type Value } from "../grammar/index.ts";
import { DEFAULT_HASH, HASHES } from "./hashes.ts";
import type { Program } from "./program.ts";
import { WORKLOAD_FIELDS } from "./checker.ts";
import { confinedWorkloadFile, projectRoots, readWorkloadFile } from "./confine.ts";

export const CHUNK_SIZE = 1024 * 1024;

/** A workload file's bytes as the manifest addresses them: one raw block per CHUNK_SIZE bytes (none when empty). */
export async function fileChunks(bytes: Uint8Array, hasher: MultihashHasher<number>): Promise<Block[]> {
  const out: Block[] = [];
  for (let at = 0; at < bytes.length; at += CHUNK_SIZE) {
    const chunk = bytes.subarray(at, at + CHUNK_SIZE);
    out.push({ cid: CID.createV1(raw.code, await hasher.digest(chunk)), bytes: chunk });
  }
  return out;
}

export interface Block { cid: CID; bytes: Uint8Array }

export interface CompileOptions {
  /** Overrides `grid { hash … }`. */
  hash?: string;
  /** Reads a workload file (absolute path, already confined to the project); the disk's by default. */
  readFile?(path: string): Uint8Array;
  /** Folders besides the entry files' own that workload files may come from (e.g. the workspace root). */
  roots?: string[];
}

export interface Compiled {
  root: CID;
  /** Every block, each once, the root first. */
  blocks: Block[];
  hash: string;
}

export class CompileError extends Error {}

// The blocks' shapes (docs/manifest.md), as written here and read back by the grid.
export type ManifestArg = string | number | { amount: number; unit: string };
export interface ManifestBody { type: string; args: ManifestArg[] }
export interface ManifestCapability {
  name: string;
  issuer: string;
  holder: string;
  grants: ManifestBody[];
  delegable?: { depth?: number };
  expiresAfterSteps?: number;
  /** Wall-clock expiry (`expires after 30m`): milliseconds from when the token is issued. */
  expiresAfterMs?: number;
}
export interface ManifestRoot {
  type: "promisegrid/manifest";
  version: 0;
  grid: string | null;
  hash: string;
  capabilities: ManifestCapability[];
  workloads: { [name: string]: CID };
}
export interface ManifestFile { name: string; size: number; chunks: CID[] }
export interface ManifestWorkload {
  type: "promisegrid/workload";
  name: string;
  sandbox: string;
  files: { [role: string]: ManifestFile };
  args: string[];
  env: { [key: string]: string };
  command?: string[];
  append?: string;
  network: string;
  limits: { memoryBytes: number; timeMs: number; pids?: number; cpu?: number };
}

type Json = string | number | boolean | null | CID | Json[] | { [key: string]: Json | undefined };

function argValue(a: Body["args"][number]): Json {
  switch (a.kind) {
    case "any": return "*";
    case "ident": return a.name.text;
    case "string": return a.value;
    case "number": return a.unit ? { amount: a.value, unit: a.unit.text } : a.value;
    default: return null;
  }
}

/** `expires after N steps` for the simulator, `expires after 30m` (milliseconds) for the grid. */
function expiry(e: Expiry | undefined): { expiresAfterSteps?: number; expiresAfterMs?: number } {
  if (!e) return {};
  return e.ms !== undefined ? { expiresAfterMs: Math.round(e.ms) } : { expiresAfterSteps: e.steps };
}

function body(b: Body): Json {
  return { type: b.type.text, args: b.args.map(argValue) };
}

function condition(c: Condition): Json {
  switch (c.kind) {
    case "holds": return { holds: c.capability.text };
    case "kept": case "ref": return { kept: c.promise.text };
    case "not": return { not: condition(c.operand) };
    default: return { [c.kind]: [condition(c.left), condition(c.right)] };
  }
}

function value(v: Value | undefined): Json {
  if (!v) return null;
  switch (v.kind) {
    case "ident": return v.name.text;
    case "string": return v.value;
    case "number": return v.unit ? { amount: v.value, unit: v.unit.text } : v.value;
    case "list": return v.items.map(value);
    case "block": return fieldMap(v.fields);
  }
}

function fieldMap(fields: Field[]): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  for (const f of fields) out[f.key.text] = value(f.value);
  return out;
}

function byName<T extends { name: string }>(items: T[]): T[] {
  return items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Drops undefined members, which DAG-CBOR cannot encode. */
function clean<T extends { [key: string]: Json | undefined }>(o: T): { [key: string]: Json } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [key: string]: Json };
}

export async function compile(program: Program, options: CompileOptions = {}): Promise<Compiled> {
  const gridDecl = program.declarations("grid")[0]?.decl;
  const hashField = gridDecl?.fields.find((f) => f.key.text === "hash")?.value;
  const hashName = options.hash ?? (hashField?.kind === "ident" ? hashField.name.text : DEFAULT_HASH);
  const hasher = HASHES[hashName];
  if (!hasher) throw new CompileError(`unknown hash '${hashName}': use one of ${Object.keys(HASHES).join(", ")}`);

  const blocks = new Map<string, Block>();
  const put = async (codec: { code: number; encode(v: never): Uint8Array }, data: unknown): Promise<CID> => {
    const bytes = codec.encode(data as never);
    const cid = CID.createV1(codec.code, await hasher.digest(bytes));
    blocks.set(cid.toString(), { cid, bytes });
    return cid;
  };

  const roots = projectRoots(program, options.roots);
  const fileRef = async (declaringFile: string, rel: string): Promise<Json> => {
    const name = path.basename(rel);
    let file: string;
    try {
      file = confinedWorkloadFile(roots, declaringFile, rel);
    } catch (e) {
      throw new CompileError(`refused workload file '${rel}': ${(e as Error).message}`);
    }
    let bytes: Uint8Array;
    try {
      bytes = (options.readFile ?? readWorkloadFile)(file);
    } catch (e) {
      throw new CompileError(`cannot read workload file '${name}' (${file}): ${(e as Error).message}`);
    }
    const chunks: CID[] = [];
    for (const block of await fileChunks(bytes, hasher)) {
      blocks.set(block.cid.toString(), block);
      chunks.push(block.cid);
    }
    return { name, size: bytes.length, chunks };
  };

  const workloads: { [name: string]: Json } = {};
  for (const { path: file, decl } of program.declarations("workload")) {
    const fields = fieldMap(decl.fields);
    const sandbox = String(fields.sandbox ?? "");
    const files: { [role: string]: Json } = {};
    for (const role of WORKLOAD_FIELDS[sandbox]?.files ?? []) {
      const rel = fields[role];
      if (typeof rel === "string") files[role] = await fileRef(file, rel);
    }
    const limitsField = decl.fields.find((f) => f.key.text === "limits")?.value;
    const limits: { [key: string]: Json } = {};
    for (const f of limitsField?.kind === "block" ? limitsField.fields : []) {
      const v = f.value;
      if (v?.kind !== "number") continue;
      if (f.key.text === "memory") limits.memoryBytes = Math.round(v.value * (SIZE_UNITS[v.unit?.text ?? ""] ?? 1));
      else if (f.key.text === "time") limits.timeMs = Math.round(v.value * (DURATION_UNITS[v.unit?.text ?? ""] ?? 1));
      else limits[f.key.text] = v.value;
    }
    workloads[decl.name.text] = await put(dagCbor, clean({
      type: "promisegrid/workload",
      name: decl.name.text,
      sandbox,
      files,
      args: (fields.args as Json[] | undefined) ?? [],
      env: (fields.env as Json | undefined) ?? {},
      command: fields.command,
      append: fields.append,
      network: (fields.network as string | undefined) ?? "none",
      limits,
    }));
  }

  // Named promises sort by name, anonymous ones by their encoding: declaration order never matters.
  const encoded = program.declarations("promise").map(({ decl: p }) => clean({
    name: p.name?.text,
    promiser: p.promiser?.text ?? "",
    promisees: p.promisees.map((n) => n.text),
    polarity: p.polarity ?? "+",
    body: p.body ? body(p.body) : null,
    condition: p.condition ? condition(p.condition) : undefined,
    constraints: fieldMap(p.constraints),
  })).map((p) => ({ p, key: typeof p.name === "string" ? "0" + p.name : "1" + Buffer.from(dagCbor.encode(p)).toString("hex") }));
  const promises = encoded.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map(({ p }) => p);

  const manifest = {
    type: "promisegrid/manifest",
    version: 0,
    grid: gridDecl?.name.text ?? null,
    hash: hashName,
    agents: byName(program.declarations("agent").map(({ decl }) => clean({
      name: decl.name.text, description: decl.description, kind: fieldMap(decl.fields).kind,
    }) as { name: string })),
    currencies: byName(program.declarations("currency").map(({ decl }) => clean({
      name: decl.name.text, issuer: decl.issuer?.text ?? "", supply: fieldMap(decl.fields).supply,
    }) as { name: string })),
    promises,
    capabilities: byName(program.declarations("capability").map(({ decl }) => clean({
      name: decl.name.text, issuer: decl.issuer?.text ?? "", holder: decl.holder?.text ?? "",
      grants: decl.grants.map(body),
      delegable: decl.delegable ? clean({ depth: decl.delegable.depth }) : undefined,
      ...expiry(decl.expiresAfter),
    }) as { name: string })),
    delegations: byName(program.declarations("delegate").map(({ decl }) => clean({
      name: decl.name.text, parent: decl.parent?.text ?? "", by: decl.by?.text ?? "", to: decl.to?.text ?? "",
      grants: decl.grants.map(body),
      delegable: decl.delegable ? clean({ depth: decl.delegable.depth }) : undefined,
      ...expiry(decl.expiresAfter),
    }) as { name: string })),
    workloads,
  };
  const root = await put(dagCbor, manifest);
  const rootBlock = blocks.get(root.toString())!;
  blocks.delete(root.toString());
  return { root, blocks: [rootBlock, ...blocks.values()], hash: hashName };
}

/** The compiled DAG as one CAR file (v1), root first. */
export async function carBytes(compiled: Compiled): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create([compiled.root]);
  const parts: Uint8Array[] = [];
  const collected = (async () => {
    for await (const part of out) parts.push(part);
  })();
  for (const block of compiled.blocks) await writer.put(block);
  await writer.close();
  await collected;
  return Buffer.concat(parts);
}
