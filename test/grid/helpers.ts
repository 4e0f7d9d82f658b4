// Shared setup for the grid tests: real nodes on loopback in temp data dirs.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { compile, loadProgram } from "../../language/index.ts";
import { cliHost } from "../../cli/load.ts";
import { startDaemon, type Daemon } from "../../grid/daemon.ts";
import { GridClient } from "../../grid/api-client.ts";
import { deployCar, decodeToken } from "../../grid/deploy.ts";
import type { PrivateKey } from "../../grid/keys.ts";
import type { Signed, TokenPayload } from "../../grid/records.ts";
import type { CID } from "multiformats/cid";

export const ROOT = resolve(import.meta.dirname, "../..");

const dirs: string[] = [];
export function tempDir(prefix = "pg-grid-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
export function cleanupDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export interface TestNode extends Daemon {
  client: GridClient;
  dataDir: string;
}

export async function startNode(o: { peers?: string[]; maxBodyBytes?: number } = {}): Promise<TestNode> {
  const dataDir = tempDir();
  const d = await startDaemon({ dataDir, peers: o.peers, maxBodyBytes: o.maxBodyBytes });
  return Object.assign(d, { client: new GridClient(d.url, d.token), dataDir });
}

/** Starts `n` nodes; every node after the first dials all earlier ones. */
export async function startNodes(n: number): Promise<TestNode[]> {
  const nodes: TestNode[] = [];
  for (let i = 0; i < n; i++) nodes.push(await startNode({ peers: nodes.map((x) => x.node.addrs()[0]) }));
  return nodes;
}

export async function closeAll(nodes: TestNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.close()));
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await cond()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface Compiled {
  root: CID;
  blocks: { cid: CID; bytes: Uint8Array }[];
}

/** Compiles a .pg file with the language compiler. */
export async function compileFile(path: string): Promise<Compiled> {
  const program = loadProgram([resolve(path)], cliHost);
  return compile(program);
}

export function compileHello(): Promise<Compiled> {
  return compileFile(join(ROOT, "examples/hello-wasm.pg"));
}

export async function newKey(): Promise<PrivateKey> {
  return generateKeyPair("Ed25519");
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

/** A token for `holder` issued by `node` through its API. */
export async function issueVia(node: TestNode, holder: PrivateKey, grants = [{ type: "run", args: ["hello"] }], extra: { depth?: number; expires?: number | null } = {}): Promise<Signed<TokenPayload>> {
  return decodeToken(await node.client.issue({ holder: hex(holder.publicKey.raw), grants, name: "deploy_pass", ...extra }));
}

export async function deployHello(node: TestNode, key: PrivateKey, chain: Signed<TokenPayload>[], compiled: Compiled, o: { sendBlocks?: boolean; workload?: string } = {}) {
  const car = await deployCar({ key, manifest: compiled.root, workload: o.workload ?? "hello", chain, blocks: o.sendBlocks === false ? [] : compiled.blocks });
  return node.client.deploy(car, { wait: true });
}

/** Writes a .pg file with one workload (and its wasm module) into a temp dir and compiles it. */
export async function compileWorkload(o: { name: string; module?: Uint8Array; sandbox?: "wasm" | "vm"; memory?: string; time?: string; args?: string[]; env?: Record<string, string> }): Promise<Compiled> {
  const dir = tempDir("pg-wl-");
  const { writeFileSync } = await import("node:fs");
  const sandbox = o.sandbox ?? "wasm";
  let files: string;
  if (sandbox === "wasm") {
    writeFileSync(join(dir, `${o.name}.wasm`), o.module!);
    files = `module "${o.name}.wasm"${o.args ? `  args [${o.args.map((a) => JSON.stringify(a)).join(", ")}]` : ""}`;
    if (o.env) files += `\n  env { ${Object.entries(o.env).map(([k, v]) => `${k} ${JSON.stringify(v)}`).join("  ")} }`;
  } else {
    writeFileSync(join(dir, "kernel"), "not really a kernel");
    writeFileSync(join(dir, "initrd"), "not really an initrd");
    files = `kernel "kernel"  initrd "initrd"`;
  }
  const src = `agent n { kind node }
agent dev "The deployer"
workload ${o.name} {
  sandbox ${sandbox}
  ${files}
  limits { memory ${o.memory ?? "16MiB"}  time ${o.time ?? "2s"} }
}
promise n -> dev +run(${o.name}) if holds(pass)
promise dev -> n -run(${o.name})
capability pass from n to dev { grants run(${o.name}) }
`;
  writeFileSync(join(dir, "w.pg"), src);
  return compileFile(join(dir, "w.pg"));
}

/** Builds a test module from test/grid/fixtures/NAME.wat with wat2wasm. */
export async function wat(name: string): Promise<Uint8Array> {
  const { execFileSync } = await import("node:child_process");
  const out = join(tempDir("pg-wat-"), `${name}.wasm`);
  execFileSync("wat2wasm", [join(ROOT, "test/grid/fixtures", `${name}.wat`), "-o", out]);
  return new Uint8Array(readFileSync(out));
}

/** Appends a custom section of `size` random bytes (so the module spans several 1 MiB chunks). */
export function withCustomSection(module: Uint8Array, size: number): Uint8Array {
  const name = new TextEncoder().encode("pad");
  const body = new Uint8Array(1 + name.length + size);
  body[0] = name.length;
  body.set(name, 1);
  (globalThis.crypto as Crypto).getRandomValues(body.subarray(1 + name.length, 1 + name.length + 65536));
  for (let o = 1 + name.length + 65536; o < body.length; o += 65536) body.copyWithin(o, 1 + name.length, 1 + name.length + Math.min(65536, body.length - o));
  // Make every 1 MiB chunk distinct.
  for (let o = 0; o < body.length; o += 1024 * 1024) body[Math.min(o + 100, body.length - 1)] ^= (o >> 20) + 1;
  const leb: number[] = [];
  let n = body.length;
  do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; leb.push(b); } while (n);
  return new Uint8Array([...module, 0, ...leb, ...body]);
}

// (imported here, beside the one helper that registers hooks)
import { after, before } from "node:test";

/** One node for the tests around the call (a file's, or a describe's): started before them and handed to `ready`; closed, and the test folders removed, after them. */
export function nodeForTests(ready: (node: TestNode) => void | Promise<void>): void {
  let node: TestNode | undefined;
  before(async () => {
    node = await startNode();
    await ready(node);
  });
  after(async () => {
    await node?.close();
    cleanupDirs();
  });
}
