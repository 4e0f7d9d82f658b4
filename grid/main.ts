// The grid node as a process: `node dist/grid-node.js [--data-dir D] [--listen MA]
// [--api HOST:PORT] [--peer MA]...`. Prints one JSON line when ready, stops on
// SIGTERM/SIGINT (or POST /v0/shutdown).
import "./polyfill.ts";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { keyId } from "./keys.ts";
import { startDaemon } from "./daemon.ts";
import { nodeDataDir } from "./deploy.ts";
import { DriverRegistry, driverFactories, nodeDriverContext } from "./sandboxes/index.ts";
import type { SandboxKind } from "./sandboxes/driver.ts";

export const NODE_OPTIONS_HELP = `  --data-dir D       where the key, blocks and api-token live (default ~/.promisegrid/node)
  --listen MULTIADDR libp2p listen address (default /ip4/127.0.0.1/tcp/0; repeatable)
  --api HOST:PORT    control API address, loopback only (default 127.0.0.1:7450; port 0 picks one)
  --peer MULTIADDR   a bootstrap peer to dial at start (repeatable); others are found through the DHT
  --drivers LIST     the sandboxes this node offers and runs, e.g. wasm,container (default: all)
  --policy FILE.pg --as AGENT
                     be AGENT of FILE.pg (kind node; its key, if given, must be
                     this node's): deploys are honoured by AGENT's +run promises.
                     Without: the node's own key is the only root

  --deny-peer ID     refuse every connection with this peer id (repeatable)`;

export interface NodeArgs {
  dataDir: string;
  listen?: string[];
  apiHost: string;
  apiPort: number;
  peers: string[];
  policy?: { file: string; agent: string };
  drivers?: SandboxKind[];
  denyPeers: string[];
}

export function parseNodeArgs(argv: string[]): NodeArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      "data-dir": { type: "string" },
      listen: { type: "string", multiple: true },
      api: { type: "string" },
      peer: { type: "string", multiple: true },
      policy: { type: "string" },
      as: { type: "string" },
      drivers: { type: "string" },
      "deny-peer": { type: "string", multiple: true },
    },
    strict: true,
    allowPositionals: false,
  });
  const api = values.api ?? "127.0.0.1:7450";
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(api);
  if (!m) throw new Error(`--api '${api}' is not HOST:PORT`);
  if ((values.policy === undefined) !== (values.as === undefined)) throw new Error("--policy FILE.pg and --as AGENT go together");
  const drivers = values.drivers?.split(",").map((d) => d.trim()) as SandboxKind[] | undefined;
  for (const d of drivers ?? []) if (!Object.hasOwn(driverFactories, d)) throw new Error(`--drivers: unknown sandbox '${d}' (known: ${Object.keys(driverFactories).join(", ")})`);
  return {
    policy: values.policy !== undefined ? { file: resolve(values.policy), agent: values.as! } : undefined,
    dataDir: nodeDataDir(values["data-dir"]),
    listen: values.listen,
    apiHost: m[1].replace(/^\[|\]$/g, ""),
    apiPort: Number(m[2]),
    peers: values.peer ?? [],
    drivers,
    denyPeers: values["deny-peer"] ?? [],
  };
}

/** Runs a node in this process until it is told to stop; resolves when it has stopped. */
export async function runNode(a: NodeArgs, ready: (info: object) => void): Promise<void> {
  const daemon = await startDaemon({ dataDir: a.dataDir, listen: a.listen, apiHost: a.apiHost, apiPort: a.apiPort, peers: a.peers, policy: a.policy, denyPeers: a.denyPeers,
    drivers: a.drivers && new DriverRegistry(Object.fromEntries(a.drivers.map((d) => [d, driverFactories[d]])), nodeDriverContext(a.dataDir)) });
  const stop = () => void daemon.close();
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  ready({ ready: true, api: daemon.url, peerId: daemon.node.peerId, key: keyId(daemon.node.publicKey), agent: daemon.node.policy.agent, addrs: daemon.node.addrs(), dataDir: a.dataDir, pid: process.pid });
  await daemon.closed;
  process.off("SIGTERM", stop);
  process.off("SIGINT", stop);
}

const isEntry = process.argv[1]?.endsWith("/grid/main.ts") || process.argv[1]?.endsWith("/dist/grid-node.js");
if (isEntry) {
  let args: NodeArgs;
  try {
    args = parseNodeArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`promisegrid node: ${e instanceof Error ? e.message : e}\n${NODE_OPTIONS_HELP}\n`);
    process.exit(2);
  }
  runNode(args, (info) => process.stdout.write(JSON.stringify(info) + "\n")).then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`promisegrid node: ${e instanceof Error ? e.message : e}\n`);
      process.exit(1);
    },
  );
}
