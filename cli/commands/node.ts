// `promisegrid node start|status|stop`: the local grid node, run detached in
// the background (or in the foreground with --foreground).
import { UsageError, type Command, type Io } from "../command.ts";
import type { GridClient } from "../../grid/api-client.ts";
import { launchNode, nodeDataDir, runningNode, stopNode, type LaunchOptions } from "../../grid/local.ts";
import { NODE_OPTIONS_HELP, parseNodeArgs, runNode } from "../../grid/main.ts";

/** How the CLI launches a node: this same program (bundled CLI, or the sources under tsx), detached, in the foreground mode. */
export function nodeLaunch(argv: string[]): LaunchOptions {
  return { command: [process.execPath, ...process.execArgv, process.argv[1], "node", "start", "--foreground", ...argv], detached: true };
}

async function start(argv: string[], io: Io): Promise<number> {
  const foreground = argv.includes("--foreground");
  const rest = argv.filter((a) => a !== "--foreground");
  let args;
  try {
    args = parseNodeArgs(rest);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  if (foreground) {
    try {
      await runNode(args, (info) => io.out(JSON.stringify(info) + "\n"));
    } catch (e) {
      // A node that cannot start (address in use, a non-loopback --api) is not an internal error.
      io.err(`promisegrid node: ${e instanceof Error ? e.message : e}\n`);
      process.exit(1);
    }
    // Stopped: exit now rather than wait for libp2p's lingering timers.
    process.exit(0);
  }
  const existing = await runningNode(args.dataDir);
  if (existing) {
    const s = await existing.status();
    io.out(`a node is already running for ${args.dataDir}: ${s.api} (${s.peerId})\n`);
    return 0;
  }
  const passThrough = rest.filter((_, i) => !(rest[i] === "--data-dir" || rest[i - 1] === "--data-dir"));
  let info;
  try {
    info = await launchNode(args.dataDir, nodeLaunch(passThrough));
  } catch (e) {
    io.err(`promisegrid node start: ${e instanceof Error ? e.message : e}\n`);
    return 1;
  }
  io.out(`node started: ${info.api} (peer ${info.peerId}, pid ${info.pid}, data dir ${args.dataDir})\n`);
  return 0;
}

function dataDirOf(argv: string[]): string {
  const i = argv.indexOf("--data-dir");
  if (i >= 0) {
    if (!argv[i + 1]) throw new UsageError("--data-dir needs a folder");
    return argv[i + 1];
  }
  return nodeDataDir();
}

export const node: Command = {
  name: "node",
  summary: "start, inspect or stop the local grid node",
  help: `usage: promisegrid node start [OPTIONS] [--foreground]
       promisegrid node status [--data-dir D] [--json]
       promisegrid node peers [--data-dir D] [--json]
       promisegrid node state [--data-dir D] [--json]
       promisegrid node stop [--data-dir D]

start runs a grid node in the background (or in this process with
--foreground) and prints its control API address:
${NODE_OPTIONS_HELP}
status prints the node's peer id, addresses, peers, sandbox drivers and
deployments; peers the connected peers, the DHT's size, dropped peers and
every offer the node knows; state the revocations and assessments it holds;
stop shuts it down.`,
  async run(argv, io) {
    const [sub, ...rest] = argv;
    if (sub === "start") return start(rest, io);
    if (!["status", "peers", "state", "stop"].includes(sub)) throw new UsageError(`expected start, status, peers, state or stop, got '${sub ?? ""}'`);
    const dataDir = dataDirOf(rest);
    const client = await runningNode(dataDir);
    if (!client) {
      io.err(`promisegrid node ${sub}: no node is running for ${dataDir}\n`);
      return 1;
    }
    const json = rest.includes("--json");
    if (sub === "peers") return peers(client, json, io);
    if (sub === "state") return state(client, json, io);
    const s = await client.status();
    if (sub === "status") {
      if (rest.includes("--json")) {
        io.out(JSON.stringify(s) + "\n");
        return 0;
      }
      const drivers = Object.entries(s.drivers).map(([k, a]) => `  ${k}: ${a.ok ? "available" : `unavailable (${a.reason})`}`);
      io.out([`node ${s.peerId} (pid ${s.pid})`, `key: ${s.key}${s.agent ? ` (agent ${s.agent})` : ""}`, `api: ${s.api}`, `addresses: ${s.addrs.join(" ")}`, `peers: ${s.peers}`, `deployments: ${s.deployments}`,
        `state: ${s.state.revocations} revocation(s), ${s.state.assessments} assessment(s)`, "drivers:", ...drivers].join("\n") + "\n");
      return 0;
    }
    try {
      await stopNode(client);
    } catch (e) {
      io.err(`promisegrid node stop: ${e instanceof Error ? e.message : e}\n`);
      return 1;
    }
    io.out(`node stopped (pid ${s.pid})\n`);
    return 0;
  },
};

async function peers(client: GridClient, json: boolean, io: Io): Promise<number> {
  const [report, offers] = await Promise.all([client.peersReport(), client.offers()]);
  if (json) {
    io.out(JSON.stringify({ ...report, offers }) + "\n");
    return 0;
  }
  const lines = [`${report.peers.length} connected peer(s), ${report.dht.routingTable} in the DHT routing table`];
  for (const p of report.peers) lines.push(`  ${p.peerId}  ${p.addrs.join(" ")}`);
  for (const [topic, g] of Object.entries(report.gossip ?? {})) lines.push(`gossip ${topic}: ${g.subscribers} subscriber(s), ${g.mesh} in the mesh`);
  for (const b of report.banned) lines.push(`dropped: ${b.peerId} (sent wrong blocks; refused until ${new Date(b.until).toISOString()})`);
  lines.push(`${offers.length} offer(s):`);
  for (const o of offers) {
    const sandboxes = o.sandboxes.map((x) => x.kind).join(",") || "none";
    lines.push(`  ${o.node}  ${sandboxes}  running ${o.load.running} on ${o.load.cpus} cpu(s)${o.live ? "" : "  (stale)"}`);
  }
  io.out(lines.join("\n") + "\n");
  return 0;
}

async function state(client: GridClient, json: boolean, io: Io): Promise<number> {
  const s = await client.state();
  if (json) {
    io.out(JSON.stringify(s) + "\n");
    return 0;
  }
  const lines = [`${s.revocations.length} revocation(s):`];
  for (const r of s.revocations) lines.push(`  token ${r.token} by ${r.by}  (${r.cid})`);
  lines.push(`${s.assessments.length} assessment(s):`);
  for (const a of s.assessments) lines.push(`  ${a.kept ? "kept" : "broken"} ${a.deployment} (${a.reason}) on ${a.node}  (${a.cid})`);
  io.out(lines.join("\n") + "\n");
  return 0;
}
