// `promisegrid deploy FILE|CAR`: compile (for .pg), get a token for the
// capability the manifest declares, send the signed deploy, stream the output,
// print the assessment. `run` shares this and starts a local node first.
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { CarReader } from "@ipld/car";
import type { CID } from "multiformats/cid";
import { compile as compileProgram, CompileError } from "../../language/index.ts";
import { UsageError, type Command, type Io } from "../command.ts";
import { DiagnosticPrinter } from "../diagnostics.ts";
import { FileError, loadChecked } from "../load.ts";
import { ApiError, GridClient, type DeploymentInfo } from "../../grid/api-client.ts";
import { clientForDataDir, decodeToken, deployCar, tokenCid, userKey, nodeDataDir } from "../../grid/deploy.ts";
import { apiToken, readNodeInfo } from "../../grid/local.ts";
import { pickWorkload as pick, ManifestError, type ManifestCapability } from "../../grid/manifest.ts";

export interface Manifest {
  root: CID;
  blocks: { cid: CID; bytes: Uint8Array }[];
}

/** Compiles a .pg file, or reads a CAR; prints diagnostics and returns undefined on errors. */
export async function loadManifest(file: string, io: Io, command: string): Promise<Manifest | undefined> {
  if (file.endsWith(".car")) {
    let bytes: Uint8Array;
    try {
      bytes = fs.readFileSync(file);
    } catch (e) {
      io.err(`promisegrid ${command}: cannot read ${file}: ${(e as Error).message}\n`);
      return undefined;
    }
    try {
      const reader = await CarReader.fromBytes(bytes);
      const roots = await reader.getRoots();
      if (roots.length !== 1) throw new Error(`expected one root, found ${roots.length}`);
      const blocks: Manifest["blocks"] = [];
      for await (const b of reader.blocks()) blocks.push(b);
      return { root: roots[0], blocks };
    } catch (e) {
      io.err(`promisegrid ${command}: ${file} is not a manifest CAR: ${(e as Error).message}\n`);
      return undefined;
    }
  }
  let loaded;
  try {
    loaded = loadChecked(file);
  } catch (e) {
    if (e instanceof FileError) {
      io.err(`promisegrid ${command}: ${e.message}\n`);
      return undefined;
    }
    throw e;
  }
  const errors = loaded.diagnostics.filter((d) => d.severity === "error");
  if (errors.length) {
    const printer = new DiagnosticPrinter(io.cwd);
    for (const d of errors) io.err(printer.human(loaded.program, d) + "\n");
    io.err(`promisegrid ${command}: ${file} has ${errors.length} error${errors.length === 1 ? "" : "s"}; nothing was deployed\n`);
    return undefined;
  }
  try {
    return await compileProgram(loaded.program, { readFile: (p) => fs.readFileSync(p) });
  } catch (e) {
    if (e instanceof CompileError) {
      io.err(`promisegrid ${command}: ${e.message}\n`);
      return undefined;
    }
    throw e;
  }
}

/** The workload to run and the capability that grants running it; bad manifests are usage errors here. */
export function pickWorkload(m: Manifest, wanted?: string): { workload: string; capability: ManifestCapability } {
  try {
    return pick(m, wanted);
  } catch (e) {
    if (e instanceof ManifestError) throw new UsageError(e.message);
    throw e;
  }
}

/** A client for --node URL (token from --token-file, $PROMISEGRID_API_TOKEN or the data dir) or the local node. */
export async function nodeClient(url: string | undefined, tokenFile: string | undefined, dataDir: string): Promise<GridClient | undefined> {
  if (!url) return clientForDataDir(dataDir);
  let token = process.env.PROMISEGRID_API_TOKEN;
  if (tokenFile) {
    try {
      token = fs.readFileSync(tokenFile, "utf8").trim();
    } catch (e) {
      throw new UsageError(`cannot read --token-file ${tokenFile}: ${(e as Error).message}`);
    }
  }
  if (!token) {
    const info = await readNodeInfo(dataDir);
    if (info && new URL(info.api).origin === new URL(url).origin) token = await apiToken(dataDir);
  }
  if (!token) throw new UsageError(`no API token for ${url}: pass --token-file FILE (the node's data-dir/api-token) or set PROMISEGRID_API_TOKEN`);
  return new GridClient(url.replace(/\/$/, ""), token);
}

export interface DeployFlags {
  json?: boolean;
  workload?: string;
}

/** Deploys, streams the output to io.out, prints the assessment. Returns the exit code. */
export async function deployAndFollow(client: GridClient, m: Manifest, flags: DeployFlags, io: Io): Promise<number> {
  const { workload, capability } = pickWorkload(m, flags.workload);
  const key = await userKey();
  let info: DeploymentInfo;
  let output = "";
  try {
    const token = decodeToken(
      await client.issue({
        holder: Buffer.from(key.publicKey.raw).toString("hex"),
        grants: capability.grants,
        name: capability.name,
        depth: capability.delegable ? capability.delegable.depth ?? 1 : 0,
      }),
    );
    const car = await deployCar({ key, manifest: m.root, workload, chain: [token], blocks: m.blocks });
    const started = await client.deploy(car);
    if (!flags.json) io.err(`deployed ${workload} (manifest ${m.root}) as ${started.id} with capability ${capability.name} (token ${await tokenCid(token)})\n`);
    info = await client.logs(started.id, (e) => {
      if (flags.json) output += e.data;
      else (e.stream === "stdout" ? io.out : io.err)(e.data);
    });
  } catch (e) {
    if (e instanceof ApiError) {
      if (flags.json) io.out(JSON.stringify({ error: e.message, code: e.code }) + "\n");
      else io.err(`promisegrid deploy: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  if (flags.json) io.out(JSON.stringify({ ...info, output }) + "\n");
  else io.err(`assessment: ${info.assessment?.message ?? info.result?.message ?? "none"}${info.assessment ? ` (${info.assessment.cid})` : ""}\n`);
  return info.assessment?.kept ? 0 : 1;
}

export const deploy: Command = {
  name: "deploy",
  summary: "deploy a .pg file or manifest CAR to a grid node and stream its output",
  help: `usage: promisegrid deploy FILE|CAR [--node URL] [--token-file F] [--workload NAME] [--json]

Compiles FILE (or reads a compiled CAR), gets a token for the capability the
manifest declares from the node, signs the deploy with your key
(~/.promisegrid/key), streams the workload's output and prints the assessment.
  --node URL        the node's control API (default: the local node, ~/.promisegrid/node)
  --token-file F    the node's API token (default: its data dir's api-token)
  --workload NAME   which workload, when the manifest has several
  --json            print the final deployment record, with its output, as JSON
Exit 0 when the workload's promise was kept, 1 otherwise.`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { node: { type: "string" }, "token-file": { type: "string" }, workload: { type: "string" }, json: { type: "boolean" }, "data-dir": { type: "string" } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length !== 1) throw new UsageError("expected exactly one FILE or CAR");
    const dataDir = nodeDataDir(values["data-dir"]);
    const client = await nodeClient(values.node, values["token-file"], dataDir);
    if (!client) {
      io.err(`promisegrid deploy: no node is running for ${dataDir}; start one with \`promisegrid node start\` or pass --node URL\n`);
      return 1;
    }
    const m = await loadManifest(positionals[0], io, "deploy");
    if (!m) return 1;
    return deployAndFollow(client, m, { json: values.json, workload: values.workload }, io);
  },
};
