// `promisegrid revoke TOKEN_CID`: the node signs a revocation and gossips it.
import { parseArgs } from "node:util";
import { UsageError, type Command } from "../command.ts";
import { ApiError } from "../../grid/api-client.ts";
import { nodeDataDir } from "../../grid/deploy.ts";
import { nodeClient } from "./deploy.ts";

export const revoke: Command = {
  name: "revoke",
  summary: "revoke a capability token on a grid node (gossiped to its peers)",
  help: `usage: promisegrid revoke CAPABILITY [--node URL] [--token-file F]

CAPABILITY is the token's CID, as \`promisegrid deploy\` prints it. The node
signs the revocation with its key and gossips it; every node then refuses
deploys whose chain holds that token.
  --node URL       the node's control API (default: the local node)
  --token-file F   the node's API token (default: its data dir's api-token)`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { node: { type: "string" }, "token-file": { type: "string" }, "data-dir": { type: "string" } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length !== 1) throw new UsageError("expected exactly one CAPABILITY (a token CID)");
    const dataDir = nodeDataDir(values["data-dir"]);
    const client = await nodeClient(values.node, values["token-file"], dataDir);
    if (!client) {
      io.err(`promisegrid revoke: no node is running for ${dataDir}; pass --node URL\n`);
      return 1;
    }
    try {
      const cid = await client.revoke(positionals[0]);
      io.out(`revoked ${positionals[0]} (revocation ${cid})\n`);
      return 0;
    } catch (e) {
      if (e instanceof ApiError) {
        io.err(`promisegrid revoke: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
  },
};
