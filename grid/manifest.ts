// Reading what a deployer needs from a compiled manifest: which workload, and
// which declared capability grants running it.
import * as dagCbor from "@ipld/dag-cbor";
import type { CID } from "multiformats/cid";
import { covers } from "./capabilities.ts";
import type { Body } from "./records.ts";

export interface ManifestBlocks {
  root: CID;
  blocks: { cid: CID; bytes: Uint8Array }[];
}

export interface ManifestCapability {
  name: string;
  grants: Body[];
  delegable?: { depth?: number };
}

export class ManifestError extends Error {}

export function pickWorkload(m: ManifestBlocks, wanted?: string): { workload: string; capability: ManifestCapability } {
  const rootBlock = m.blocks.find((b) => b.cid.equals(m.root));
  if (!rootBlock) throw new ManifestError(`the manifest's root block ${m.root} is missing`);
  const root = dagCbor.decode(rootBlock.bytes) as { type?: string; workloads?: Record<string, unknown>; capabilities?: ManifestCapability[] };
  if (root.type !== "promisegrid/manifest") throw new ManifestError("the root block is not a promisegrid/manifest");
  const names = Object.keys(root.workloads ?? {});
  if (names.length === 0) throw new ManifestError("the manifest declares no workload to deploy");
  const workload = wanted ?? (names.length === 1 ? names[0] : undefined);
  if (!workload) throw new ManifestError(`the manifest has several workloads (${names.join(", ")}): pick one with --workload NAME`);
  if (!names.includes(workload)) throw new ManifestError(`the manifest has no workload '${workload}' (it has ${names.join(", ")})`);
  const want: Body = { type: "run", args: [workload] };
  const capability = (root.capabilities ?? []).find((c) => c.grants.some((g) => covers(g, want)));
  if (!capability) throw new ManifestError(`no capability in the manifest grants run(${workload}); declare one, e.g. \`capability deploy_pass from NODE to YOU { grants run(${workload}) }\``);
  return { workload, capability };
}
