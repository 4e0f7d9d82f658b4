// Reading a compiled manifest back: one typed decoder for the root and the
// workload blocks (the shapes are the compiler's), used by the deployer to pick
// a workload and by the node to assemble a job.
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import type { ManifestBody, ManifestCapability, ManifestFile, ManifestRoot, ManifestWorkload } from "../language/compiler.ts";
import { covers } from "./capabilities.ts";
import type { Body } from "./records.ts";
import type { SandboxKind } from "./sandboxes/driver.ts";

export type { ManifestCapability, ManifestRoot, ManifestWorkload } from "../language/compiler.ts";

export interface ManifestBlocks {
  root: CID;
  blocks: { cid: CID; bytes: Uint8Array }[];
}

/** A manifest that does not have the compiler's shape; the message says what is wrong. */
export class ManifestError extends Error {}

export type DecodedWorkload = ManifestWorkload & { sandbox: SandboxKind };

function isRecord(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === "object" && !Array.isArray(v);
}

function decodeCbor(bytes: Uint8Array, what: string): unknown {
  try {
    return dagCbor.decode(bytes);
  } catch (e) {
    throw new ManifestError(`${what} is not DAG-CBOR: ${e instanceof Error ? e.message : e}`);
  }
}

function isBody(v: unknown): v is ManifestBody {
  return isRecord(v) && typeof v.type === "string" && Array.isArray(v.args);
}

/** The root block of a manifest, its workload links and capabilities checked. */
export function decodeManifest(bytes: Uint8Array): ManifestRoot {
  const root = decodeCbor(bytes, "the root block");
  if (!isRecord(root) || root.type !== "promisegrid/manifest") throw new ManifestError("the root block is not a promisegrid/manifest");
  // fromEntries defines own properties, so a name such as __proto__ stays a plain key.
  const workloads = Object.fromEntries(Object.entries(isRecord(root.workloads) ? root.workloads : {}).map(([name, link]) => {
    const cid = CID.asCID(link);
    if (!cid) throw new ManifestError(`workload '${name}' links to a non-CID`);
    return [name, cid];
  }));
  const capabilities = Array.isArray(root.capabilities) ? root.capabilities : [];
  for (const c of capabilities) {
    if (!isRecord(c) || typeof c.name !== "string" || !Array.isArray(c.grants) || !c.grants.every(isBody)) {
      throw new ManifestError(`capability '${isRecord(c) ? String(c.name) : "?"}' is malformed`);
    }
  }
  return {
    type: "promisegrid/manifest",
    version: 0,
    grid: typeof root.grid === "string" ? root.grid : null,
    hash: typeof root.hash === "string" ? root.hash : "",
    capabilities: capabilities as ManifestCapability[],
    workloads,
  };
}

/** A workload block: a known sandbox, memory and time limits, files as lists of chunk links. */
export function decodeWorkload(bytes: Uint8Array, workload: string): DecodedWorkload {
  const w = decodeCbor(bytes, `workload '${workload}'`);
  if (!isRecord(w) || w.type !== "promisegrid/workload") throw new ManifestError(`workload '${workload}' is not a promisegrid/workload block`);
  const sandbox = w.sandbox;
  if (sandbox !== "wasm" && sandbox !== "container" && sandbox !== "vm") throw new ManifestError(`workload '${workload}' has an unknown sandbox`);
  const limits = w.limits;
  if (!isRecord(limits) || typeof limits.memoryBytes !== "number" || typeof limits.timeMs !== "number") throw new ManifestError(`workload '${workload}' has no memory and time limits`);
  const files = Object.fromEntries(Object.entries(isRecord(w.files) ? w.files : {}).map(([role, f]): [string, ManifestFile] => {
    if (!isRecord(f) || !Array.isArray(f.chunks) || typeof f.name !== "string" || typeof f.size !== "number") throw new ManifestError(`workload '${workload}' file '${role}' is malformed`);
    const chunks = f.chunks.map((c) => CID.asCID(c));
    if (chunks.some((c) => !c)) throw new ManifestError(`workload '${workload}' file '${role}' links to a non-CID`);
    return [role, { name: f.name, size: f.size, chunks: chunks as CID[] }];
  }));
  const strs = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
  const env = Object.fromEntries(Object.entries(isRecord(w.env) ? w.env : {}).map(([k, v]) => [k, String(v)]));
  return {
    type: "promisegrid/workload",
    name: typeof w.name === "string" ? w.name : workload,
    sandbox,
    files,
    args: strs(w.args),
    env,
    command: Array.isArray(w.command) ? strs(w.command) : undefined,
    append: typeof w.append === "string" ? w.append : undefined,
    network: typeof w.network === "string" ? w.network : "none",
    limits: {
      memoryBytes: limits.memoryBytes,
      timeMs: limits.timeMs,
      // Passed on as given: the node's job check (sandboxes/limits.ts) refuses what is not a number.
      pids: limits.pids as number | undefined,
      cpu: limits.cpu as number | undefined,
    },
  };
}

export function pickWorkload(m: ManifestBlocks, wanted?: string): { workload: string; capability: ManifestCapability } {
  const rootBlock = m.blocks.find((b) => b.cid.equals(m.root));
  if (!rootBlock) throw new ManifestError(`the manifest's root block ${m.root} is missing`);
  const root = decodeManifest(rootBlock.bytes);
  const names = Object.keys(root.workloads);
  if (names.length === 0) throw new ManifestError("the manifest declares no workload to deploy");
  const workload = wanted ?? (names.length === 1 ? names[0] : undefined);
  if (!workload) throw new ManifestError(`the manifest has several workloads (${names.join(", ")}): pick one with --workload NAME`);
  if (!names.includes(workload)) throw new ManifestError(`the manifest has no workload '${workload}' (it has ${names.join(", ")})`);
  const want: Body = { type: "run", args: [workload] };
  const capability = root.capabilities.find((c) => c.grants.some((g) => covers(g, want)));
  if (!capability) throw new ManifestError(`no capability in the manifest grants run(${workload}); declare one, e.g. \`capability deploy_pass from NODE to YOU { grants run(${workload}) }\``);
  return { workload, capability };
}
