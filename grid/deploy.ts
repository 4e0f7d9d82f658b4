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
import { diskHost } from "../language/host.ts";
import { base58btc } from "multiformats/bases/base58";
import { publicKeyFromRaw } from "@libp2p/crypto/keys";
import { agentKeys } from "./policy.ts";
import type { PlacementReport } from "./placement.ts";
import { ANY_PEER, ApiError, type DeploymentInfo, type GridClient, type LogEntry, type RemoteEndLine } from "./api-client.ts";
import { keyId, loadOrCreateKey, type PrivateKey } from "./keys.ts";
import { ManifestError, pickWorkload, type ManifestBlocks } from "./manifest.ts";
import { asSigned, recordCid, signRecord, verifyRecord, type AssessmentPayload, type Signed, type TokenPayload } from "./records.ts";
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
  const program = loadProgram([resolve(file)], diskHost);
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
    return { ...(await compile(program)), program };
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

/** The local node could not get a deploy to the peer (or lost it): the network's fault, not the file's. */
const PEER_CODES = new Set(["unreachable", "peer-gone", "bad-peer", "no-placement"]);

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
  /** For a deploy to another node: its peer id. */
  peer?: string;
  /** For `--to any`: where the local node placed it, why there, and what else it considered. */
  placement?: PlacementReport;
  /** The capability chain the deploy showed, root first (the editor keeps what you hold). */
  chain: Signed<TokenPayload>[];
}

export interface DeployResult extends Started {
  info: DeploymentInfo;
  /** stdout and stderr as they came. */
  output: string;
  kept: boolean;
  /** For a broken promise: the workload's declaration. */
  brokenAt?: SourceLocation;
  /** For a deploy to another node: its signed assessment, verified against its key (absent when the peer was gone). */
  remote?: { peer: string; assessment?: Signed<AssessmentPayload>; gone?: string; placement?: PlacementReport };
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
  /** Deploy to this peer (peer id, multiaddr, did:key, an agent of the file with a key, or "any": the local node places it) through the local node, over libp2p; needs `chain`. */
  to?: string;
}

/** The peer id a --to names, when it names one (a peer id, or a multiaddr ending in /p2p/ID). */
function namedPeer(to: string): string | undefined {
  if (!to.startsWith("/")) return to;
  return /\/p2p\/([^/]+)$/.exec(to)?.[1];
}

/** The libp2p peer id of an ed25519 public key (the same key, as peers name it). */
function peerIdOf(publicKey: Uint8Array): string {
  try {
    return publicKeyFromRaw(publicKey).toString();
  } catch {
    return "";
  }
}

/** A --to as the local node takes it: a did:key (ed25519) becomes the peer id of the same key. */
export function peerAddress(to: string): string {
  if (!to.startsWith("did:")) return to;
  const m = /^did:key:(z[1-9A-HJ-NP-Za-km-z]+)$/.exec(to);
  let bytes: Uint8Array | undefined;
  try {
    bytes = m ? base58btc.decode(m[1]) : undefined;
  } catch {
    bytes = undefined;
  }
  if (!bytes || bytes.length !== 34 || bytes[0] !== 0xed || bytes[1] !== 0x01) throw new DeployFailure("node", `--to ${to} is not an ed25519 did:key (did:key:z6Mk...)`);
  return peerIdOf(bytes.subarray(2));
}

/**
 * Checks a remote deploy's last line: the assessment must be signed by the key of the peer
 * that ran it, for this deployment, manifest and workload. Throws DeployFailure otherwise.
 */
export async function verifyRemoteEnd(end: RemoteEndLine, o: { to: string; id: string; manifest: CID; workload: string }): Promise<Signed<AssessmentPayload> | undefined> {
  const named = namedPeer(o.to);
  if (named && named !== end.peer) throw new DeployFailure("node", `the deploy went to peer ${end.peer}, not ${named}`);
  if (end.assessment === null) return undefined;
  let a: Signed<AssessmentPayload> | undefined;
  try {
    a = asSigned(dagCbor.decode(Buffer.from(end.assessment, "base64")), "promisegrid/assessment") as Signed<AssessmentPayload> | undefined;
  } catch {
    a = undefined;
  }
  const p = a?.payload;
  const ok = !!a && !!p && p.node instanceof Uint8Array && p.node.length === 32 && peerIdOf(p.node) === end.peer && (await verifyRecord(a)) &&
    p.deployment === o.id && p.workload === o.workload && !!p.manifest && String(p.manifest) === o.manifest.toString();
  if (!ok) throw new DeployFailure("node", `the assessment of deployment ${o.id} is not signed by peer ${end.peer} for this deploy; it is not trusted`);
  return a;
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
    o.onProgress?.(`deploying ${workload}${o.to ? ` to ${o.to}` : ""}`);
    if (o.to && !o.chain?.length) {
      throw new DeployFailure("refused", `a deploy to another node needs a capability it honours: pass --token TOKEN (a chain its node, or an agent it trusts, issued to your key ${keyId(key.publicKey.raw)})`, {
        code: "no-token", program: m.program, at: locate(m.program, "capability", capability.name),
      });
    }
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
    // An agent of the file with a key names its node by that key.
    const agentKey = o.to && o.to !== ANY_PEER && m.program ? agentKeys(m.program).get(o.to) : undefined;
    if (o.to) return await deployRemote(client, car, { ...o, to: agentKey ? peerIdOf(agentKey) : peerAddress(o.to) }, { m, workload, capability: capability.name, token: (await tokenCid(token)).toString(), chain });
    const started = await client.deploy(car);
    const s: Started = { id: started.id, workload, capability: capability.name, manifest: m.root.toString(), token: (await tokenCid(token)).toString(), chain };
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
    if (e instanceof DeployFailure || !(e instanceof ApiError)) throw e;
    // A node that cannot be reached: the outcome is unavailable (the simulator's word), neither kept nor broken.
    if (e.status === 0 && e.code === "unreachable") throw new DeployFailure("node", `unavailable: ${e.message}`, { code: "unavailable" });
    // No node answers, or the peer a deploy goes to cannot be reached: nothing to blame in the file.
    if (e.status === 0 || PEER_CODES.has(e.code)) throw new DeployFailure("node", e.message, { code: e.code });
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

/** The remote half of deployManifest: the local node sends the CAR on; the remote's assessment is verified here. */
async function deployRemote(client: GridClient, car: Uint8Array, o: DeployOptions & { to: string }, d: { m: Manifest; workload: string; capability: string; token: string; chain: Signed<TokenPayload>[] }): Promise<DeployResult> {
  let s: Started | undefined;
  let output = "";
  const end = await client.deployTo(o.to, car, {
    onStarted: (st) => {
      s = { id: st.id, workload: d.workload, capability: d.capability, manifest: d.m.root.toString(), token: d.token, peer: st.peer, chain: d.chain, ...(st.placement ? { placement: st.placement } : {}) };
      o.onStarted?.(s);
      o.onProgress?.(`running ${d.workload} on ${st.peer}`);
    },
    onEntry: (e) => {
      output += e.data;
      o.onOutput?.(e);
    },
  });
  if (!s || s.id !== end.id) throw new DeployFailure("node", `the node's answer for the deploy to ${o.to} does not match what it started`);
  // Placed: the end must come from the peer it started on.
  const a = await verifyRemoteEnd(end, { to: o.to === ANY_PEER ? s.peer! : o.to, id: s.id, manifest: d.m.root, workload: d.workload });
  const p = a?.payload;
  const kept = p?.kept === true;
  const message = p ? `${kept ? "kept" : "broken"}: ${d.workload} ${p.message}` : `broken: ${d.workload}: ${end.gone ?? "no assessment"}`;
  const info: DeploymentInfo = {
    id: s.id,
    manifest: s.manifest,
    workload: d.workload,
    workloadCid: null,
    sandbox: null,
    holder: keyId((o.key ?? (await userKey())).publicKey.raw),
    state: p ? (p.reason === "exit" ? "exited" : p.reason === "stopped" ? "stopped" : "failed") : "failed",
    createdAt: Date.now(),
    result: p ? { exitCode: p.exitCode, reason: p.reason, message: p.message, durationMs: 0 } as DeploymentInfo["result"] : { exitCode: null, reason: "peer-gone", message: end.gone ?? "peer gone", durationMs: 0 } as unknown as DeploymentInfo["result"],
    assessment: a ? { cid: (await recordCid(a)).toString(), kept, message, output: null } : null,
  };
  return { ...s, info, output, kept, brokenAt: kept ? undefined : locate(d.m.program, "workload", d.workload), remote: { peer: end.peer, assessment: a, gone: end.gone ?? undefined, placement: s.placement } };
}

/** The whole flow for a file: load, check, compile, connect, deploy, stream, assess. */
export async function deployFile(file: string, o: DeployFileOptions): Promise<DeployResult> {
  o.onProgress?.(`compiling ${basename(file)}`);
  const m = await loadManifest(file, o.load);
  o.onProgress?.("starting the node");
  const client = await o.connect();
  return deployManifest(client, m, { source: file.endsWith(".pg") ? file : undefined, ...o });
}
