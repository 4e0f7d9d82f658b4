// Grid node benchmarks, all on loopback with real nodes:
// 1. deploy -> exit of a cached hello.wasm through the control API, against a
//    bare in-process node:wasi run of the same module (the baseline);
// 2. a revocation reaching all of 20 gossiping nodes (p99 over trials);
// 3. block transfer between two nodes, each in its own process (MB/s, verified
//    when read and when received, fsynced on arrival);
// 4. deploy -> exit on a peer over libp2p (/promisegrid/deploy/0) against a local API deploy;
// 5. the placement decision of `deploy --to any` over 30 and 300 offers;
// 6. a grid of 30 node processes, each given 2 bootstrap peers: a revocation
//    reaching all 30 (p50/p99), time to first byte of a (public) block found
//    through the DHT on a node 5 bootstrap hops away, and RSS per node.
import "../grid/polyfill.ts";
import { readFileSync, mkdtempSync, rmSync, openSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { WASI } from "node:wasi";
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { BlockStore } from "../grid/store.ts";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { compile, loadProgram } from "../language/index.ts";
import { cliHost } from "../cli/load.ts";
import { startDaemon, type Daemon } from "../grid/daemon.ts";
import { GridClient } from "../grid/api-client.ts";
import { decodeToken, deployCar, tokenCid } from "../grid/deploy.ts";
import { recordCid } from "../grid/records.ts";

const ROOT = join(import.meta.dirname, "..");
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "pg-bench-"));
  dirs.push(d);
  return d;
};
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

process.emitWarning = () => {}; // node:wasi's experimental warning
const devNull = openSync("/dev/null", "w");

async function deployBench(): Promise<{ median: number; p99: number; baseline: number; runs: number }> {
  const d = await startDaemon({ dataDir: tmp() });
  try {
    const client = new GridClient(d.url, d.token);
    const program = loadProgram([join(ROOT, "examples/hello-wasm.pg")], cliHost);
    const compiled = await compile(program, { readFile: (p) => readFileSync(p) });
    const key = await generateKeyPair("Ed25519");
    const token = decodeToken(await client.issue({ holder: Buffer.from(key.publicKey.raw).toString("hex"), grants: [{ type: "run", args: ["hello"] }] }));
    const cars: Uint8Array[] = [];
    const RUNS = 300, WARM = 30;
    for (let i = 0; i < RUNS + WARM; i++) cars.push(await deployCar({ key, manifest: compiled.root, workload: "hello", chain: [token], blocks: compiled.blocks }));
    const times: number[] = [];
    for (let i = 0; i < cars.length; i++) {
      const t = performance.now();
      const info = await client.deploy(cars[i], { wait: true });
      const dt = performance.now() - t;
      if (info.result?.exitCode !== 0) throw new Error(`deploy ${i} did not exit 0: ${info.result?.message}`);
      if (i >= WARM) times.push(dt);
    }
    // Baseline: the same module, compiled once, run in this thread with node:wasi.
    const module = await WebAssembly.compile(readFileSync(join(ROOT, "examples/hello.wasm")));
    const base: number[] = [];
    for (let i = 0; i < RUNS + WARM; i++) {
      const t = performance.now();
      const wasi = new WASI({ version: "preview1", args: ["hello", "grid"], env: {}, returnOnExit: true, stdout: devNull });
      const inst = await WebAssembly.instantiate(module, wasi.getImportObject() as WebAssembly.Imports);
      wasi.start(inst);
      if (i >= WARM) base.push(performance.now() - t);
    }
    return { median: quantile(times, 0.5), p99: quantile(times, 0.99), baseline: quantile(base, 0.5), runs: RUNS };
  } finally {
    await d.close();
  }
}

async function revocationBench(): Promise<{ p99: number; median: number; trials: number; nodes: number }> {
  const N = 20, TRIALS = 40;
  const nodes: Daemon[] = [];
  try {
    for (let i = 0; i < N; i++) {
      // Each node dials up to four earlier ones: a connected, sparse graph.
      const peers = [...new Set([i - 1, i - 2, Math.floor(i / 2), Math.floor(i / 3)].filter((j) => j >= 0 && j < i))].map((j) => nodes[j].node.addrs()[0]);
      nodes.push(await startDaemon({ dataDir: tmp(), peers }));
    }
    await new Promise((r) => setTimeout(r, 3000)); // let gossipsub meshes form
    const times: number[] = [];
    for (let t = 0; t < TRIALS; t++) {
      const from = nodes[(t * 7) % N].node;
      // A token the node issued: a node revokes only what it issued.
      const token = await recordCid(await from.issue({ name: "bench", audience: from.publicKey, grants: [] }));
      const start = performance.now();
      await from.revoke(token);
      const issuers = [from.publicKey];
      await new Promise<void>((resolve, reject) => {
        const poll = () => {
          if (nodes.every((n) => n.node.state.isRevoked(token, issuers))) return resolve();
          if (performance.now() - start > 10_000) return reject(new Error(`revocation ${t} did not reach all ${N} nodes in 10 s`));
          setTimeout(poll, 1);
        };
        poll();
      });
      times.push(performance.now() - start);
      await new Promise((r) => setTimeout(r, 20));
    }
    return { p99: quantile(times, 0.99), median: quantile(times, 0.5), trials: TRIALS, nodes: N };
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
  }
}

/** Starts a node in its own process (as in real use) on `dataDir`; resolves with its first address. */
function startNodeProcess(dataDir: string): Promise<{ addr: string; stop(): void }> {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "grid/main.ts"), "--data-dir", dataDir, "--api", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (c) => {
      buf += c;
      const nl = buf.indexOf("\n");
      if (nl >= 0) resolve({ addr: JSON.parse(buf.slice(0, nl)).addrs[0], stop: () => child.kill("SIGTERM") });
    });
    child.once("exit", (code) => reject(new Error(`the source node exited with ${code}`)));
  });
}

async function transferBench(): Promise<{ mbPerSecond: number; bytes: number; seconds: number }> {
  // The source node runs in its own process, holding 128 one-MiB blocks; this process's node fetches them.
  const CHUNK = 1024 * 1024, COUNT = 128;
  const sourceDir = tmp();
  const store = new BlockStore(join(sourceDir, "blocks"));
  await store.open();
  const cids: CID[] = [];
  for (let i = 0; i < COUNT; i++) {
    const bytes = randomBytes(CHUNK);
    const cid = CID.createV1(raw.code, await sha256.digest(bytes));
    await store.put(cid, bytes);
    cids.push(cid);
  }
  // Listed as public, as a deployed workload's file chunks are: any peer may fetch them (docs/security.md).
  writeFileSync(join(sourceDir, "public-blocks"), cids.map((c) => c + "\n").join(""));
  const source = await startNodeProcess(sourceDir);
  const b = await startDaemon({ dataDir: tmp(), peers: [source.addr] });
  try {
    const t = performance.now();
    await b.node.ensureBlocks(cids);
    const seconds = (performance.now() - t) / 1000;
    return { mbPerSecond: (COUNT * CHUNK) / 1e6 / seconds, bytes: COUNT * CHUNK, seconds };
  } finally {
    await b.close();
    source.stop();
  }
}

/** One node's learning of one revocation: ms after the revoke call began, how, and the hops from the revoking node. */
interface Arrival { node: number; ms: number; via: string; from: number | null; hops: number; hopMs: number | null }

/**
 * Where each node learnt a revocation, from what the nodes report (GET /v0/state: when, how, from
 * which peer). The clocks are one machine's; `hops` follows each node's sender back to the origin.
 */
function arrivals(grid: { peerId: string }[], origin: number, start: number, learnt: ({ at: number; via: string; from?: string } | null)[]): Arrival[] {
  const index = new Map(grid.map((n, i) => [n.peerId, i]));
  const out = learnt.map((l, i) => {
    if (!l) throw new Error(`node ${i} holds the revocation but does not say when it learnt it`);
    return { node: i, ms: l.at - start, via: l.via, from: l.from === undefined ? null : (index.get(l.from) ?? -1), hops: i === origin ? 0 : -1, hopMs: null as number | null };
  });
  for (const a of out) {
    if (a.from !== null && a.from >= 0) a.hopMs = a.ms - out[a.from].ms;
    // Follow the senders back (a chain longer than the grid would be a loop: left at -1).
    let hops = 0;
    for (let x: Arrival | undefined = a; x && x.node !== origin && hops <= out.length; x = x.from !== null && x.from >= 0 ? out[x.from] : undefined) hops++;
    if (a.node !== origin) a.hops = hops <= out.length ? hops : -1;
  }
  return out;
}

async function dhtGridBench() {
  const { buildNode, startGrid, stopAll, tempRoot, rssBytes } = await import("../test/grid/processes.ts");
  const N = Number(process.env.PG_DHT_NODES ?? 30), TRIALS = 30;
  // The nodes say when they learnt a revocation, so polling them need not be fast: fast polling
  // (30 HTTP requests every few ms) loads the very event loops that forward the gossip.
  const POLL_MS = Number(process.env.PG_GRID_POLL_MS ?? 250);
  const now = () => performance.timeOrigin + performance.now();
  const root = tempRoot();
  const grid = await startGrid(N, { program: await buildNode(root.dir), root: root.dir });
  try {
    await new Promise((r) => setTimeout(r, 3000)); // let the DHT and gossip meshes settle
    const times: number[] = [], observed: number[] = [], trials: { trial: number; origin: number; arrivals: Arrival[] }[] = [];
    for (let t = 0; t < TRIALS; t++) {
      // A node revokes only tokens it can prove it is above: one it issued.
      const origin = (t * 7) % N, from = grid[origin];
      const holderKey = await generateKeyPair("Ed25519");
      const token = (await tokenCid(decodeToken(await from.client.issue({ holder: Buffer.from(holderKey.publicKey.raw).toString("hex"), grants: [{ type: "run", args: ["hello"] }] })))).toString();
      const start = now();
      const cid = await from.client.revoke(token);
      // Only the nodes that lacked it last time are asked again.
      const learnt = new Map<number, { at: number; via: string; from?: string } | null>();
      for (;;) {
        const ask = grid.filter((_, i) => !learnt.has(i));
        const states = await Promise.all(ask.map((n) => n.client.state()));
        ask.forEach((n, j) => {
          const r = states[j].revocations.find((x) => x.cid === cid);
          if (r) learnt.set(grid.indexOf(n), r.learnt);
        });
        if (learnt.size === N) break;
        const lacking = grid.filter((_, i) => !learnt.has(i)).map((n) => n.index);
        if (now() - start > 10_000) throw new Error(`revocation ${t} from node ${origin} did not reach nodes ${lacking.join(", ")} of ${N} in 10 s`);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      observed.push(now() - start);
      const a = arrivals(grid, origin, start, grid.map((_, i) => learnt.get(i) ?? null));
      trials.push({ trial: t, origin, arrivals: a });
      times.push(Math.max(...a.map((x) => x.ms)));
      // The next revocation starts on a quiet grid, as a single revocation would.
      await new Promise((r) => setTimeout(r, 200));
    }
    if (process.env.PG_GRID_ARRIVALS) writeFileSync(process.env.PG_GRID_ARRIVALS, JSON.stringify(trials, null, 1));
    const all = trials.flatMap((x) => x.arrivals.filter((a) => a.node !== x.origin));
    const hop = all.filter((a) => a.hopMs !== null).map((a) => a.hopMs!);
    const slowest = trials.map((x) => ({ trial: x.trial, last: x.arrivals.reduce((m, a) => (a.ms > m.ms ? a : m)) })).sort((p, q) => q.last.ms - p.last.ms).slice(0, 3);
    const spread = {
      observedP50: quantile(observed, 0.5), observedP99: quantile(observed, 0.99), pollMs: POLL_MS,
      viaGossip: all.filter((a) => a.via === "gossip").length, viaSync: all.filter((a) => a.via === "sync").length, arrivals: all.length,
      maxHops: Math.max(...all.map((a) => a.hops)), hopP50: quantile(hop, 0.5), hopP99: quantile(hop, 0.99), hopMax: Math.max(...hop),
      slowest: slowest.map((x) => `trial ${x.trial}: node ${x.last.node} at ${x.last.ms.toFixed(0)} ms via ${x.last.via} from node ${x.last.from}, ${x.last.hops} hops, last hop ${x.last.hopMs?.toFixed(0)} ms`),
    };
    // Blocks only on a node 5 waves (bootstrap hops) from node 0; node 0 fetches each through the DHT.
    const hops = Math.min(5, Math.ceil((N - 1) / 3));
    const holder = grid[Math.min(N - 1, 3 * hops)];
    const key = await generateKeyPair("Ed25519");
    const token = decodeToken(await holder.client.issue({ holder: Buffer.from(key.publicKey.raw).toString("hex"), grants: [{ type: "run", args: ["hello"] }] }));
    const program = loadProgram([join(ROOT, "examples/hello-wasm.pg")], cliHost);
    const compiled = await compile(program, { readFile: (p) => readFileSync(p) });
    await holder.client.deploy(await deployCar({ key, manifest: compiled.root, workload: "hello", chain: [token], blocks: compiled.blocks }), { wait: true });
    for (;;) {
      const r = await holder.client.peersReport();
      if (r.dht.providing === 0 && r.dht.provided >= 2) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    const ttfb: number[] = [];
    // The module's chunk is public (any peer may fetch it; the manifest root is not).
    const chunk = compiled.blocks.find((b) => b.cid.code === raw.code)!.cid.toString();
    for (const fetcher of [grid[0], grid[1], grid[2]]) {
      const t = performance.now();
      // One block is one response: its first byte arrives with the rest.
      const got = await fetcher.client.block(chunk);
      ttfb.push(performance.now() - t);
      if (got.via !== "provider") throw new Error(`node ${fetcher.index} got the block via ${got.via}, not a DHT provider`);
    }
    const rss = grid.map((n) => rssBytes(n.child.pid!) / 1048576);
    return { nodes: N, p50: quantile(times, 0.5), p99: quantile(times, 0.99), trials: TRIALS, spread, ttfb, hops, rssMb: { median: quantile(rss, 0.5), max: Math.max(...rss) } };
  } finally {
    await stopAll(grid);
    root.remove();
  }
}


// The placement decision for `deploy --to any` (grid/placement.ts): the offers of
// `n` nodes (signed, of mixed sandboxes, loads and promised issuers) -> ordered candidates.
async function placementBench(): Promise<{ nodes: number; median: number; p99: number }[]> {
  const { signOffer } = await import("../grid/offers.ts");
  const { plan } = await import("../grid/placement.ts");
  const [self, ops, dev] = await Promise.all([0, 1, 2].map(() => generateKeyPair("Ed25519")));
  const out = [];
  for (const n of [30, 300]) {
    const offers = [];
    for (let i = 0; i < n; i++) {
      const k = await generateKeyPair("Ed25519");
      offers.push(await signOffer(k, {
        type: "promisegrid/offer", v: 0, node: k.publicKey.raw, seq: 1, at: Date.now(), addrs: [],
        sandboxes: [{ kind: "wasm", memoryBytes: 1 << 30, timeMs: null }, ...(i % 2 ? [{ kind: "container" as const, memoryBytes: 1 << 30, timeMs: null }] : [])],
        load: { running: i % 5, cpus: 2 },
        promises: [{ body: { type: "run", args: ["*"] }, to: "*", if: { holds: { iss: (i % 3 ? ops : k).publicKey.raw } } }],
      }));
    }
    const ask = { workload: "hello_container", sandbox: "container" as const, memoryBytes: 64 << 20, timeMs: 10_000, holder: dev.publicKey.raw, root: ops.publicKey.raw };
    const times: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t = performance.now();
      plan(offers, ask, { self: self.publicKey.raw, now: Date.now() });
      if (i >= 200) times.push(performance.now() - t);
    }
    out.push({ nodes: n, median: quantile(times, 0.5), p99: quantile(times, 0.99) });
  }
  return out;
}

// deploy -> exit of a cached hello.wasm on a peer (its own process) over libp2p, through this
// process's node's API, against a deploy -> exit through the same node's API, in the same run.
async function remoteBench(): Promise<{ remote: number; local: number; remoteP99: number; runs: number }> {
  const a = await startDaemon({ dataDir: tmp() });
  const bDir = tmp();
  const b = spawn(process.execPath, ["--import", "tsx", join(ROOT, "grid/main.ts"), "--data-dir", bDir, "--api", "127.0.0.1:0", "--peer", a.node.addrs()[0]], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const ready = await new Promise<{ api: string; peerId: string }>((resolve, reject) => {
      let buf = "";
      b.stdout!.on("data", (c) => {
        buf += c;
        if (buf.includes("\n")) resolve(JSON.parse(buf.slice(0, buf.indexOf("\n"))));
      });
      b.once("exit", (code) => reject(new Error(`the peer exited with ${code}`)));
    });
    const client = new GridClient(a.url, a.token);
    const peer = new GridClient(ready.api, readFileSync(join(bDir, "api-token"), "utf8").trim());
    const compiled = await compile(loadProgram([join(ROOT, "examples/hello-wasm.pg")], cliHost), { readFile: (p) => readFileSync(p) });
    const key = await generateKeyPair("Ed25519");
    const holder = Buffer.from(key.publicKey.raw).toString("hex");
    const grants = [{ type: "run", args: ["hello"] }];
    const here = decodeToken(await client.issue({ holder, grants }));
    const there = decodeToken(await peer.issue({ holder, grants }));
    const RUNS = 100, WARM = 10;
    const sign = (chain: typeof here[]) => deployCar({ key, manifest: compiled.root, workload: "hello", chain, blocks: compiled.blocks });
    const local: number[] = [], remote: number[] = [];
    for (let i = 0; i < RUNS + WARM; i++) {
      const [l, r] = [await sign([here]), await sign([there])];
      let t = performance.now();
      const info = await client.deploy(l, { wait: true });
      if (info.result?.exitCode !== 0) throw new Error(`local deploy ${i}: ${info.result?.message}`);
      if (i >= WARM) local.push(performance.now() - t);
      t = performance.now();
      const end = await client.deployTo(ready.peerId, r);
      if (!end.assessment) throw new Error(`remote deploy ${i}: ${end.gone}`);
      if (i >= WARM) remote.push(performance.now() - t);
    }
    return { remote: quantile(remote, 0.5), local: quantile(local, 0.5), remoteP99: quantile(remote, 0.99), runs: RUNS };
  } finally {
    b.kill("SIGTERM");
    await a.close();
  }
}

// PG_GRID_BENCH=deploy,revocation,transfer,remote,placement,dht picks parts (default: all).
const parts = (process.env.PG_GRID_BENCH ?? "deploy,revocation,transfer,remote,placement,dht").split(",");

try {
  if (parts.includes("deploy")) {
    const d = await deployBench();
    console.log(
      `grid deploy->exit (cached hello.wasm, control API, wait=1): median ${d.median.toFixed(2)} ms, p99 ${d.p99.toFixed(2)} ms over ${d.runs} runs; ` +
      `bare in-process node:wasi ${d.baseline.toFixed(3)} ms; ratio ${(d.median / d.baseline).toFixed(1)}x; target <= 5 ms median: ${d.median <= 5 ? "met" : "NOT met"}`,
    );
  }
  if (parts.includes("revocation")) {
    const r = await revocationBench();
    console.log(
      `grid revocation reaching all ${r.nodes} nodes: p99 ${r.p99.toFixed(1)} ms, median ${r.median.toFixed(1)} ms over ${r.trials} trials; ` +
      `target <= 500 ms p99: ${r.p99 <= 500 ? "met" : "NOT met"}`,
    );
  }
  if (parts.includes("transfer")) {
    const t = await transferBench();
    console.log(
      `grid block transfer between two nodes (separate processes): ${t.mbPerSecond.toFixed(0)} MB/s (${(t.bytes / 1048576).toFixed(0)} MiB in ${t.seconds.toFixed(2)} s, ` +
      `verified on both ends, fsynced); target >= 100 MB/s: ${t.mbPerSecond >= 100 ? "met" : "NOT met"}`,
    );
  }
  if (parts.includes("remote")) {
    const r = await remoteBench();
    const ratio = r.remote / r.local;
    console.log(
      `grid deploy->exit on a peer over libp2p (cached hello.wasm, via the local API): median ${r.remote.toFixed(2)} ms, p99 ${r.remoteP99.toFixed(2)} ms over ${r.runs} runs; ` +
      `local API deploy in the same run ${r.local.toFixed(2)} ms; ratio ${ratio.toFixed(1)}x; target <= 3x: ${ratio <= 3 ? "met" : "NOT met"}`,
    );
  }
  if (parts.includes("placement")) {
    for (const p of await placementBench()) {
      console.log(`grid placement decision (--to any) over ${p.nodes} offers: median ${(p.median * 1000).toFixed(0)} µs, p99 ${(p.p99 * 1000).toFixed(0)} µs`);
    }
  }
  if (parts.includes("dht")) {
    const g = await dhtGridBench();
    console.log(
      `grid of ${g.nodes} node processes (2 bootstrap peers each): revocation reaching all: p50 ${g.p50.toFixed(0)} ms, p99 ${g.p99.toFixed(0)} ms over ${g.trials} trials ` +
      `(target p99 <= 1 s: ${g.p99 <= 1000 ? "met" : "NOT met"}); first byte of a block found through the DHT ${g.hops} bootstrap hops away: ` +
      `${g.ttfb.map((x) => x.toFixed(0)).join(", ")} ms (three fetchers); RSS per node median ${g.rssMb.median.toFixed(0)} MiB, max ${g.rssMb.max.toFixed(0)} MiB`,
    );
    const s = g.spread;
    console.log(
      `  revocation arrivals (when each node says it learnt it): ${s.viaGossip} of ${s.arrivals} by gossip, ${s.viaSync} by state sync; up to ${s.maxHops} hops; ` +
      `per hop p50 ${s.hopP50.toFixed(0)} ms, p99 ${s.hopP99.toFixed(0)} ms, max ${s.hopMax.toFixed(0)} ms; as seen by polling every ${s.pollMs} ms: p50 ${s.observedP50.toFixed(0)} ms, p99 ${s.observedP99.toFixed(0)} ms; ` +
      `slowest: ${s.slowest.join("; ")}; load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`,
    );
  }
} finally {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
