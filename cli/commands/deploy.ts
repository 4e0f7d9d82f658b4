// `promisegrid deploy FILE|CAR`: the deploy flow (grid/deploy.ts) printed for a
// terminal: diagnostics, the workload's output, the assessment. `run` shares
// this and starts a local node first.
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { UsageError, type Command, type Io } from "../command.ts";
import { DiagnosticPrinter } from "../diagnostics.ts";
import { FileError, loadChecked } from "../load.ts";
import { GridClient } from "../../grid/api-client.ts";
import { clientForDataDir, deployFile, DeployFailure, nodeDataDir, type Loaded } from "../../grid/deploy.ts";
import { apiToken, readNodeInfo } from "../../grid/local.ts";
import { resolveChain, TokenFileError, TokenStore, type Chain } from "../../grid/tokens.ts";

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
  /** --to PEER: deploy to another node through the local one. */
  to?: string;
  /** --token: a token file or a kept token's CID, presented instead of the kept root token. */
  token?: string;
}

/** The chain --token names, or a UsageError. */
export function tokenFlag(arg: string | undefined): Chain | undefined {
  if (arg === undefined) return undefined;
  let r;
  try {
    r = resolveChain(arg, new TokenStore());
  } catch (e) {
    if (e instanceof TokenFileError) throw new UsageError(e.message);
    throw e;
  }
  if (!r) throw new UsageError(`--token '${arg}' is neither a token file nor the CID of a token kept in ~/.promisegrid/tokens`);
  return r.chain;
}

/** The CLI's loader: unreadable or binary files are FileErrors, reported as the deploy's file stage. */
function cliLoad(file: string): Loaded {
  try {
    return loadChecked(file);
  } catch (e) {
    if (e instanceof FileError) throw new DeployFailure("file", e.message);
    throw e;
  }
}

/** Runs the deploy flow for FILE, streams the output to io, prints the assessment. Returns the exit code. */
export async function deployAndFollow(file: string, connect: () => Promise<GridClient>, flags: DeployFlags, io: Io, command: string): Promise<number> {
  try {
    const chain = tokenFlag(flags.token);
    const r = await deployFile(file, {
      workload: flags.workload,
      to: flags.to,
      chain,
      load: cliLoad,
      connect,
      onStarted: (s) => {
        if (flags.json) return;
        io.err(`deployed ${s.workload} (manifest ${s.manifest}) as ${s.id}${s.peer ? ` on peer ${s.peer}` : ""} with capability ${s.capability} (token ${s.token})\n`);
        // --to any: where it went, why there, and what else was considered.
        if (s.placement) io.err(`placed on peer ${s.placement.peer}: ${s.placement.because}\n${s.placement.considered.filter((c) => c.outcome !== "chosen").map((c) => `  ${c.peer} ${c.outcome}: ${c.why}\n`).join("")}`);
      },
      onOutput: (e) => {
        if (!flags.json) (e.stream === "stdout" ? io.out : io.err)(e.data);
      },
    });
    const { info } = r;
    const remote = r.remote && { peer: r.remote.peer, verified: !!r.remote.assessment, gone: r.remote.gone ?? null, ...(r.remote.placement ? { placement: r.remote.placement } : {}) };
    if (flags.json) io.out(JSON.stringify({ ...info, output: r.output, capability: r.capability, token: r.token, ...(remote ? { remote } : {}) }) + "\n");
    else {
      const signed = r.remote?.assessment ? `, signed by peer ${r.remote.peer}: verified` : "";
      io.err(`assessment: ${info.assessment?.message ?? (r.remote?.gone ? `broken: ${r.remote.gone}` : info.result?.message) ?? "none"}${info.assessment ? ` (${info.assessment.cid}${signed})` : ""}\n`);
    }
    return r.kept ? 0 : 1;
  } catch (e) {
    if (!(e instanceof DeployFailure)) throw e;
    if (e.stage === "manifest") throw new UsageError(e.message);
    const printer = new DiagnosticPrinter(io.cwd);
    const { diagnostics = [], program } = e.detail;
    if (flags.json) {
      const json = program ? diagnostics.map((d) => printer.json(program, d)) : [];
      io.out(JSON.stringify({ error: e.message, code: e.detail.code ?? e.stage, diagnostics: json }) + "\n");
      return 1;
    }
    if (program) for (const d of diagnostics) io.err(printer.human(program, d) + "\n");
    io.err(`promisegrid ${command}: ${e.message}\n`);
    return 1;
  }
}

export const deploy: Command = {
  name: "deploy",
  summary: "deploy a .pg file or manifest CAR to a grid node and stream its output",
  help: `usage: promisegrid deploy FILE|CAR [--to PEER|any] [--token TOKEN] [--node URL] [--token-file F] [--workload NAME] [--json]

Compiles FILE (or reads a compiled CAR), presents a token for the capability
the manifest declares, signs the deploy with your key (~/.promisegrid/key),
streams the workload's output and prints the assessment. The token is the one
kept for this node and capability in ~/.promisegrid/tokens (the node issues it
the first time); once it is revoked or expired, deploys with it are refused
until you issue a new one (\`promisegrid capability issue CAP FILE.pg\`).
  --token TOKEN     present this chain instead (a token file or a kept token's CID)
  --to PEER         deploy to another node (a peer id, a multiaddr, its
                    did:key, or an agent of FILE with a key): your local
                    node sends it over libp2p, the peer judges it by its own
                    rules, runs it and signs the assessment, which is checked
                    against the peer's key; needs --token (a chain the peer
                    honours)
  --to any          your local node chooses the peer: one whose offer runs the
                    workload's sandbox and promises to honour --token's chain
                    (rooted at an issuer its policy names), the least loaded
                    first, the next one when a peer refuses; prints where it
                    ran, why there, and why not elsewhere
  --node URL        the node's control API (default: the local node, ~/.promisegrid/node)
  --token-file F    the node's API token (default: its data dir's api-token)
  --workload NAME   which workload, when the manifest has several
  --json            print the final deployment record, with its output and
                    the token's CID (for \`promisegrid revoke\`), as JSON
Exit 0 when the workload's promise was kept, 1 otherwise.`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { node: { type: "string" }, "token-file": { type: "string" }, token: { type: "string" }, workload: { type: "string" }, json: { type: "boolean" }, "data-dir": { type: "string" }, to: { type: "string" } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length !== 1) throw new UsageError("expected exactly one FILE or CAR");
    const dataDir = nodeDataDir(values["data-dir"]);
    // Asked first, so a wrong --node or token is reported before anything is compiled.
    const client = await nodeClient(values.node, values["token-file"], dataDir);
    const connect = async () => {
      if (!client) throw new DeployFailure("node", `no node is running for ${dataDir}; start one with \`promisegrid node start\` or pass --node URL`);
      return client;
    };
    return deployAndFollow(positionals[0], connect, { json: values.json, workload: values.workload, token: values.token, to: values.to }, io, "deploy");
  },
};
