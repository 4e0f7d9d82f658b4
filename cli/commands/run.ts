// `promisegrid run FILE`: the one-command path. The deploy flow, with a local
// node started (detached, so it outlives the command) when none runs.
import { parseArgs } from "node:util";
import { UsageError, type Command } from "../command.ts";
import { DeployFailure, nodeDataDir } from "../../grid/deploy.ts";
import { localNode } from "../../grid/local.ts";
import { deployAndFollow } from "./deploy.ts";
import { nodeLaunch } from "./node.ts";

export const run: Command = {
  name: "run",
  summary: "compile a .pg file and run its workload on the local node (started if needed)",
  help: `usage: promisegrid run FILE [--workload NAME] [--token TOKEN] [--data-dir D] [--json]

Compiles FILE, starts the local grid node in the background if none runs
(data dir ~/.promisegrid/node, API on a free loopback port), deploys the
workload with the capability FILE declares (the node's token for it, issued once
and kept in ~/.promisegrid/tokens; --token presents another), streams its
output and prints the assessment. Exit 0 when the workload's promise was kept.`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { workload: { type: "string" }, json: { type: "boolean" }, "data-dir": { type: "string" }, token: { type: "string" } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length !== 1) throw new UsageError("expected exactly one FILE");
    const dataDir = nodeDataDir(values["data-dir"]);
    const connect = async () => {
      try {
        const { client, launched } = await localNode(dataDir, nodeLaunch(["--api", "127.0.0.1:0"]));
        if (launched && !values.json) io.err(`started a local node: ${launched.api} (stop it with \`promisegrid node stop\`)\n`);
        return client;
      } catch (e) {
        throw new DeployFailure("node", e instanceof Error ? e.message : String(e));
      }
    };
    return deployAndFollow(positionals[0], connect, { json: values.json, workload: values.workload, token: values.token }, io, "run");
  },
};
