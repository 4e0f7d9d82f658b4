// A grid of real node processes on loopback, each on its own 127.0.0.x address,
// for the DHT test and the grid benchmark. Nodes run the bundled node program
// (built once into a temp dir: a node starts in about 1 s instead of 3 s under tsx).
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { GridClient } from "../../grid/api-client.ts";
import { apiToken } from "../../grid/local.ts";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { keyId, loadOrCreateKey, type PrivateKey } from "../../grid/keys.ts";
import { issueToken } from "../../grid/capabilities.ts";
import { encodeChain, writeChain } from "../../grid/tokens.ts";

const ROOT = resolve(import.meta.dirname, "../..");

export interface ProcNode {
  index: number;
  dataDir: string;
  peerId: string;
  addr: string;
  api: string;
  client: GridClient;
  child: ChildProcess;
  /** Indexes of its bootstrap peers. */
  bootstrap: number[];
}

/** Bundles grid/main.ts into `dir`/dist/grid-node.js (the name the program checks to run as a node). */
export async function buildNode(dir: string): Promise<string> {
  const out = join(dir, "dist", "grid-node.js");
  await build({
    entryPoints: [join(ROOT, "grid/main.ts")], outfile: out, bundle: true, platform: "node", target: "node20", format: "esm", logLevel: "warning",
    banner: { js: "import { createRequire as __pgCreateRequire } from 'node:module'; const require = __pgCreateRequire(import.meta.url);" },
  });
  return out;
}

/**
 * Starts one node process; resolves on its ready line. `program` is a bundled
 * node or a .ts file run under tsx. On a loaded machine a bootstrap dial can
 * time out while the peer is still warming up: such a start is tried again once.
 */
export async function startProc(program: string, o: { dataDir: string; host: string; peers: string[]; extra?: string[] }): Promise<Omit<ProcNode, "index" | "bootstrap">> {
  try {
    return await startOnce(program, o);
  } catch (e) {
    if (!/cannot reach peer/.test(String(e))) throw e;
    return startOnce(program, o);
  }
}

function startOnce(program: string, o: { dataDir: string; host: string; peers: string[]; extra?: string[] }): Promise<Omit<ProcNode, "index" | "bootstrap">> {
  mkdirSync(o.dataDir, { recursive: true });
  const args = [program, "--data-dir", o.dataDir, "--listen", `/ip4/${o.host}/tcp/0`, "--api", "127.0.0.1:0", ...o.peers.flatMap((p) => ["--peer", p]), ...(o.extra ?? [])];
  const child = spawn(process.execPath, program.endsWith(".ts") ? ["--import", "tsx", ...args] : args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env } });
  let err = "";
  child.stderr!.on("data", (c) => (err = (err + c).slice(-4000)));
  // PG_GRID_LOG_DIR=DIR keeps each node's whole stderr in DIR/HOST.log (with DEBUG=libp2p:*, for a grid that misbehaves).
  if (process.env.PG_GRID_LOG_DIR) child.stderr!.pipe(createWriteStream(join(process.env.PG_GRID_LOG_DIR, `${o.host}.log`)));
  return new Promise((resolvePromise, reject) => {
    let buf = "";
    const onData = async (c: Buffer) => {
      buf += c;
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      child.stdout!.off("data", onData);
      child.off("exit", onExit);
      // A node that dies before it is told to stop says why.
      child.once("exit", (code, signal) => {
        if (signal !== "SIGTERM" && signal !== "SIGKILL" && code !== 0) console.error(`node on ${o.host} exited (${code ?? signal}): ${err.trim()}`);
      });
      const info = JSON.parse(buf.slice(0, nl)) as { api: string; peerId: string; addrs: string[] };
      resolvePromise({ dataDir: o.dataDir, peerId: info.peerId, addr: info.addrs[0], api: info.api, client: new GridClient(info.api, await apiToken(o.dataDir)), child });
    };
    const onExit = (code: number | null) => reject(new Error(`node on ${o.host} exited with ${code} while starting: ${err.trim()}`));
    child.stdout!.on("data", onData);
    child.once("exit", onExit);
  });
}

/**
 * Starts `n` nodes in waves of 3: node 0 alone, then each node of a wave
 * given 2 bootstrap peers from the wave before. So the bootstrap graph is
 * sparse and node k is about k/3 hops from node 0; the waves start in parallel.
 */
export async function startGrid(n: number, o: { program: string; root: string }): Promise<ProcNode[]> {
  const nodes: ProcNode[] = [];
  let prev: number[] = [];
  try {
    await startWaves(n, o, nodes, prev);
  } catch (e) {
    await stopAll(nodes); // leave no process behind when the grid cannot start
    throw e;
  }
  return nodes;
}

async function startWaves(n: number, o: { program: string; root: string }, nodes: ProcNode[], prev: number[]): Promise<void> {
  for (let start = 0; start < n; start = nodes.length) {
    const wave = start === 0 ? [0] : [start, start + 1, start + 2].filter((i) => i < n);
    const settled = await Promise.allSettled(wave.map(async (i, j) => {
      const bootstrap = [...new Set(prev.length ? [prev[j % prev.length], prev[(j + 1) % prev.length]] : [])];
      const p = await startProc(o.program, { dataDir: join(o.root, `n${i}`), host: `127.0.0.${10 + i}`, peers: bootstrap.map((b) => nodes[b].addr) });
      return { ...p, index: i, bootstrap };
    }));
    for (const r of settled) if (r.status === "fulfilled") nodes.push(r.value);
    const failed = settled.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    if (process.env.PG_GRID_TRACE) console.error(`wave ${wave.join(",")} ready at ${Math.round(performance.now())} ms`);
    prev = wave;
  }
}

/**
 * A fleet for placement, written into `dir`: `policy` (FILE.pg for `--policy
 * FILE --as fleet_node`: run(*) for whoever holds a fleet_pass, issued by the
 * ops key), `strictPolicy` (the same pass, but declared for run(hello) only, so
 * a run(*) pass is refused as widened), `app` (a container workload to deploy,
 * its busybox image beside it), `home` (PROMISEGRID_HOME: the deployer's key),
 * `token` (a run(*) fleet_pass from ops to that key) and `strangerToken` (the
 * same from a key no policy names).
 */
export async function writeFleet(dir: string) {
  mkdirSync(join(dir, "home"), { recursive: true });
  const ops = await generateKeyPair("Ed25519");
  const dev = await loadOrCreateKey(join(dir, "home", "key"));
  const agents = `agent fleet_node { kind node }
agent ops { kind person key "${keyId(ops.publicKey.raw)}" }
agent dev { kind person key "${keyId(dev.publicKey.raw)}" }
`;
  const policy = (grants: string) => `${agents}promise fleet_node -> * +run(*) if holds(fleet_pass)
promise ops -> dev +${grants}
capability fleet_pass from ops to dev { grants ${grants} }
`;
  writeFileSync(join(dir, "fleet.pg"), policy("run(*)"));
  writeFileSync(join(dir, "strict.pg"), policy("run(hello)"));
  copyFileSync(join(ROOT, ".cache/sandboxes/busybox-oci.tar"), join(dir, "image.tar"));
  writeFileSync(join(dir, "app.pg"), `${agents}workload hello_container {
  sandbox container
  image "image.tar"
  command ["/bin/echo", "hello from a placed container"]
  limits { memory 64MiB time 20s pids 16 }
}
promise fleet_node -> dev +run(hello_container) if holds(fleet_pass)
promise dev -> fleet_node -run(hello_container)
promise ops -> dev +run(hello_container)
capability fleet_pass from ops to dev { grants run(hello_container) }
`);
  const pass = (key: PrivateKey) => issueToken(key, { name: "fleet_pass", audience: dev.publicKey.raw, grants: [{ type: "run", args: ["*"] }] });
  await writeChain(join(dir, "home", "fleet.token"), [await pass(ops)]);
  return {
    policy: join(dir, "fleet.pg"), strictPolicy: join(dir, "strict.pg"), app: join(dir, "app.pg"), home: join(dir, "home"),
    token: join(dir, "home", "fleet.token"), strangerToken: encodeChain([await pass(await generateKeyPair("Ed25519"))]), opsKey: keyId(ops.publicKey.raw), dev,
  };
}

/** Stops every node (SIGTERM, then SIGKILL after 5 s) and waits for the processes. */
export async function stopAll(nodes: { child: ChildProcess }[]): Promise<void> {
  await Promise.all(nodes.map((n) => new Promise<void>((r) => {
    if (n.child.exitCode !== null || n.child.signalCode !== null) return r();
    const kill = setTimeout(() => n.child.kill("SIGKILL"), 5000);
    n.child.once("exit", () => {
      clearTimeout(kill);
      r();
    });
    n.child.kill("SIGTERM");
  })));
}

export function tempRoot(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "pg-grid30-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Resident memory of a process, from /proc (bytes). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}
