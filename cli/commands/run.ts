// `promisegrid run FILE`: the one-command path. Compiles FILE, starts a local
// node if none runs, deploys with the capability the file declares, streams
// the output and prints the assessment.
import { parseArgs } from "node:util";
import { UsageError, type Command } from "../command.ts";
import { nodeDataDir } from "../../grid/deploy.ts";
import { deployAndFollow, loadManifest } from "./deploy.ts";
import { runningNode, startDetached } from "./node.ts";

export const run: Command = {
  name: "run",
  summary: "compile a .pg file and run its workload on the local node (started if needed)",
  help: `usage: promisegrid run FILE [--workload NAME] [--data-dir D] [--json]

Compiles FILE, starts the local grid node in the background if none runs
(data dir ~/.promisegrid/node, API on a free loopback port), deploys the
workload with the capability FILE declares, streams its output and prints the
assessment. Exit 0 when the workload's promise was kept.`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { workload: { type: "string" }, json: { type: "boolean" }, "data-dir": { type: "string" } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length !== 1) throw new UsageError("expected exactly one FILE");
    const m = await loadManifest(positionals[0], io, "run");
    if (!m) return 1;
    const dataDir = nodeDataDir(values["data-dir"]);
    let client = await runningNode(dataDir);
    if (!client) {
      const info = await startDetached(["--api", "127.0.0.1:0"], dataDir);
      if (!values.json) io.err(`started a local node: ${info.api} (stop it with \`promisegrid node stop\`)\n`);
      client = await runningNode(dataDir);
      if (!client) {
        io.err(`promisegrid run: the node started but its API does not answer\n`);
        return 1;
      }
    }
    return deployAndFollow(client, m, { json: values.json, workload: values.workload }, io);
  },
};
