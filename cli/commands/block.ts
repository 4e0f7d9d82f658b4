// `promisegrid block get CID [-o FILE] [--data-dir D] [--json]`: a block fetched
// through the grid by the local node (its store, its peers, providers found
// through the DHT), verified again here before it is written.
import { CID } from "multiformats/cid";
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { UsageError, type Command } from "../command.ts";
import { nodeDataDir, runningNode } from "../../grid/local.ts";
import { verifyBlock } from "../../grid/hashes.ts";
import { writeFileAtomic } from "../../grid/files.ts";
import { ApiError } from "../../grid/api-client.ts";

export const block: Command = {
  name: "block",
  summary: "fetch a block by CID through the grid, verified",
  help: `usage: promisegrid block get CID [-o FILE] [--data-dir D] [--json]

The local node fetches the block (from its store, a connected peer, or a
provider found through the DHT) and verifies it against the CID; so does this
command before it writes the bytes to FILE (default: standard output).
--json prints {cid, size, from, via, file} instead of the bytes (with -o).`,
  async run(argv, io) {
    const [sub, ...rest] = argv;
    if (sub !== "get") throw new UsageError(`expected get, got '${sub ?? ""}'`);
    const { values, positionals } = parseArgs({ args: rest, options: { output: { type: "string", short: "o" }, "data-dir": { type: "string" }, json: { type: "boolean" } }, allowPositionals: true, strict: true });
    if (positionals.length !== 1) throw new UsageError("expected one CID");
    let cid: CID;
    try {
      cid = CID.parse(positionals[0]);
    } catch {
      throw new UsageError(`'${positionals[0]}' is not a CID`);
    }
    const dataDir = nodeDataDir(values["data-dir"]);
    const client = await runningNode(dataDir);
    if (!client) {
      io.err(`promisegrid block: no node is running for ${dataDir} (start one with \`promisegrid node start\`)\n`);
      return 1;
    }
    let got;
    try {
      got = await client.block(cid.toString());
    } catch (e) {
      io.err(`promisegrid block: ${e instanceof ApiError ? e.message : e}\n`);
      return 1;
    }
    try {
      await verifyBlock(cid, got.bytes);
    } catch (e) {
      io.err(`promisegrid block: the node answered with bytes that do not match ${cid}; nothing written\n`);
      return 1;
    }
    const file = values.output ? resolve(io.cwd, values.output) : undefined;
    if (file) await writeFileAtomic(file, got.bytes, 0o644);
    if (values.json) io.out(JSON.stringify({ cid: cid.toString(), size: got.bytes.length, from: got.from, via: got.via, file: file ?? null }) + "\n");
    else if (!file) process.stdout.write(got.bytes);
    else io.out(`${cid}: ${got.bytes.length} bytes from ${got.from === "local" ? "this node" : `${got.from} (${got.via})`} -> ${file}\n`);
    return 0;
  },
};
