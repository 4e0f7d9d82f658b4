// The deploy flow, written once for the CLI and the editor: check -> compile
// (or read a compiled CAR) -> pick the workload -> a token from the node for
// the capability the manifest declares (kept in the token store, or the chain
// given) -> sign the deploy request -> send it
// as a CAR -> stream the output -> the assessment. A failure is a DeployFailure
// that says at which stage, and, when it can, which declaration caused it.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { CarReader, CarWriter } from "@ipld/car";
import * as dagCbor from "@ipld/dag-cbor";
import type { CID } from "multiformats/cid";
import { LineIndex } from "../grammar/index.ts";
import { check, compile, CompileError, loadProgram, type Diagnostic, type Program } from "../language/index.ts";
import { nodeHost } from "../language/node-host.ts";
import { ApiError, type DeploymentInfo, type GridClient, type LogEntry } from "./api-client.ts";
import { loadOrCreateKey, type PrivateKey } from "./keys.ts";
import { ManifestError, pickWorkload, type ManifestBlocks } from "./manifest.ts";
import { recordCid, signRecord, type Signed, type TokenPayload } from "./records.ts";
import { DEFAULT_HOME } from "./local.ts";
import { TokenStore, type Chain } from "./tokens.ts";
import { declaredDepth } from "../language/authority.ts";

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

// ---- the flow ----

/** A declaration in a source file, 0-based lines and characters (as LSP and VS Code count). */
export interface SourceLocation {
  path: string;
  start: { line: number; character: number };
  end: { line: number; character: number };
}

/**
 * file: the input cannot be read; check: the program has errors (see `diagnostics`);
 * compile / manifest: it compiles to nothing deployable; node: no node answers;
 * refused: the node refused the deploy (`code` is its refusal code).
 */
export type DeployStage = "file" | "check" | "compile" | "manifest" | "node" | "refused";

export class DeployFailure extends Error {
  constructor(
    readonly stage: DeployStage,
    message: string,
    readonly detail: { code?: string; at?: SourceLocation; diagnostics?: Diagnostic[]; program?: Program } = {},
  ) {
    super(message);
  }
}

export interface Manifest extends ManifestBlocks {
  /** The checked program it was compiled from (absent for a CAR). */
  program?: Program;
}

export interface Loaded {
  program: Program;
  diagnostics: Diagnostic[];
}

/** Loads and checks one .pg file from disk. */
export function loadAndCheck(file: string): Loaded {
  const program = loadProgram([resolve(file)], nodeHost);
  return { program, diagnostics: check(program) };
}

/** A .pg file checked and compiled, or a compiled CAR read. `load` replaces loadAndCheck (the CLI's refuses binary files). */
export async function loadManifest(file: string, load: (file: string) => Loaded = loadAndCheck): Promise<Manifest> {
  if (file.endsWith(".car")) {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      throw new DeployFailure("file", `cannot read ${file}: ${(e as Error).message}`);
    }
    try {
      const reader = await CarReader.fromBytes(bytes);
      const roots = await reader.getRoots();
      if (roots.length !== 1) throw new Error(`expected one root, found ${roots.length}`);
      const blocks: Manifest["blocks"] = [];
      for await (const b of reader.blocks()) blocks.push(b);
      return { root: roots[0], blocks };
    } catch (e) {
      throw new DeployFailure("file", `${file} is not a manifest CAR: ${(e as Error).message}`);
    }
  }
  const { program, diagnostics } = load(file);
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length) {
    throw new DeployFailure("check", `${file} has ${errors.length} error${errors.length === 1 ? "" : "s"}; nothing was deployed`, { diagnostics: errors, program });
  }
  try {
    return { ...(await compile(program, { readFile: (p) => readFileSync(p) })), program };
  } catch (e) {
    if (e instanceof CompileError) throw new DeployFailure("compile", e.message, { program });
    throw e;
  }
}

/** Where a declaration of the program is, for a diagnostic on it. */
function locate(program: Program | undefined, kind: "capability" | "workload", name: string): SourceLocation | undefined {
  const sym = program?.lookup(kind, name);
  const text = sym && program!.files.get(sym.path)?.text;
  if (!sym || text === undefined) return undefined;
  const r = new LineIndex(text).range(sym.nameSpan);
  return { path: sym.path, start: r.start, end: r.end };
}

/** Refusals that are about the token chain, so point at the capability; the rest point at the workload. */
const CAPABILITY_CODES = new Set(["forged", "expired", "widened", "revoked", "foreign-root", "broken-chain", "not-granted", "malformed"]);

export interface DeployEvents {
  /** Before each slow stage: "compiling", "starting the node", "deploying NAME", "running NAME". */
  onProgress?(message: string): void;
  /** The node accepted the deploy; the run has begun. */
  onStarted?(d: Started): void;
  onOutput?(e: LogEntry): void;
}

export interface Started {
  id: string;
  workload: string;
  capability: string;
  manifest: string;
  /** The CID of the token presented (its last hop: what `revoke` takes). */
  token: string;
}

export interface DeployResult extends Started {
  info: DeploymentInfo;
  /** stdout and stderr as they came. */
  output: string;
  kept: boolean;
  /** For a broken promise: the workload's declaration. */
  brokenAt?: SourceLocation;
}

export interface DeployOptions extends DeployEvents {
  workload?: string;
  /** The deployer's key; default userKey(). */
  key?: PrivateKey;
  /** The chain to present (`deploy --token FILE`); default: the token store's root token for the capability. */
  chain?: Chain;
  store?: TokenStore;
  /** The .pg file deployed, for the message that says how to issue a new token. */
  source?: string;
}

/** Picks the workload, gets a token, signs and sends the deploy, streams it to its end. */
export async function deployManifest(client: GridClient, m: Manifest, o: DeployOptions = {}): Promise<DeployResult> {
  let picked;
  try {
    picked = pickWorkload(m, o.workload);
  } catch (e) {
    if (e instanceof ManifestError) throw new DeployFailure("manifest", e.message, { program: m.program });
    throw e;
  }
  const { workload, capability } = picked;
  const key = o.key ?? (await userKey());
  const store = o.store ?? new TokenStore();
  let fromStore = false;
  try {
    o.onProgress?.(`deploying ${workload}`);
    let chain = o.chain;
    if (!chain) {
      // One root token per node, capability and holder, kept in the token store: issued once, never re-minted.
      const node = Buffer.from((await client.status()).publicKey, "hex");
      const depth = declaredDepth(capability.delegable, undefined);
      const slot = { node, name: capability.name, holder: key.publicKey.raw, grants: capability.grants, depth };
      chain = store.root(slot);
      fromStore = !!chain;
      if (!chain) {
        chain = [decodeToken(await client.issue({
          holder: Buffer.from(key.publicKey.raw).toString("hex"),
          grants: capability.grants,
          name: capability.name,
          depth,
          expires: capability.expiresAfterMs === undefined ? null : Date.now() + capability.expiresAfterMs,
        }))];
        await store.setRoot(slot, chain);
      }
    }
    const token = chain[chain.length - 1];
    const car = await deployCar({ key, manifest: m.root, workload, chain, blocks: m.blocks });
    const started = await client.deploy(car);
    const s: Started = { id: started.id, workload, capability: capability.name, manifest: m.root.toString(), token: (await tokenCid(token)).toString() };
    o.onStarted?.(s);
    o.onProgress?.(`running ${workload}`);
    let output = "";
    const info = await client.logs(started.id, (e) => {
      output += e.data;
      o.onOutput?.(e);
    });
    const kept = info.assessment?.kept ?? false;
    return { ...s, info, output, kept, brokenAt: kept ? undefined : locate(m.program, "workload", workload) };
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    // A node that cannot be reached: the outcome is unavailable (the simulator's word), neither kept nor broken.
    if (e.status === 0 && e.code === "unreachable") throw new DeployFailure("node", `unavailable: ${e.message}`, { code: "unavailable" });
    if (e.status === 0) throw new DeployFailure("node", e.message, { code: e.code });
    const onCapability = CAPABILITY_CODES.has(e.code);
    // A kept token that no longer counts is not replaced behind the user's back.
    const reissue = fromStore && (e.code === "revoked" || e.code === "expired")
      ? `; the token kept for ${capability.name} is ${e.code}: issue a new one with \`promisegrid capability issue ${capability.name} ${o.source ?? "FILE.pg"}\`` : "";
    throw new DeployFailure("refused", e.message + reissue, { code: e.code, program: m.program, at: locate(m.program, onCapability ? "capability" : "workload", onCapability ? capability.name : workload) });
  }
}

export interface DeployFileOptions extends DeployOptions {
  /** The node to deploy to, asked for once the file has compiled (so a broken file starts no node). */
  connect(): Promise<GridClient>;
  load?: (file: string) => Loaded;
}

/** The whole flow for a file: load, check, compile, connect, deploy, stream, assess. */
export async function deployFile(file: string, o: DeployFileOptions): Promise<DeployResult> {
  o.onProgress?.(`compiling ${basename(file)}`);
  const m = await loadManifest(file, o.load);
  o.onProgress?.("starting the node");
  const client = await o.connect();
  return deployManifest(client, m, { source: file.endsWith(".pg") ? file : undefined, ...o });
}
