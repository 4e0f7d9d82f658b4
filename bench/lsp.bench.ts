// The language server against yaml-language-server on the same content (bench/peer-content.ts: .pg, and YAML
// with a JSON Schema), both timed in this run by the same client code over stdio: a cold didOpen -> first
// publishDiagnostics (300 ms after initialize, and again in a server that gets the file at once), full-document and incremental didChange -> publishDiagnostics (one space inserted or removed
// at the middle line, so the meaning and the diagnostics stay the same; then a letter typed into and removed from the
// name in the body on that line, which changes the meaning), the same on a file with one error, hover
// and completion at the middle line, and the server's RSS (its process tree) after the edits. Each figure is
// printed with the peer's and the ratio. The diagnostics debounce is 0 (the editor default adds 75 ms on purpose);
// yaml-language-server waits a fixed 200 ms before it validates, which is inside its figures.
// 1,000 and 10,000 lines by default; LSP_BENCH_LARGE=1 adds 100,000 (several minutes, mostly the peer's).
// LSP_BENCH_LINES=N runs one size; LSP_BENCH_RUNS sets the edits per measure, LSP_BENCH_OPENS the servers each
// open figure is the median of (5, and 3 at 100,000 lines; ours and the peer's in turn).
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  createProtocolConnection, StreamMessageReader, StreamMessageWriter,
  type ProtocolConnection, type PublishDiagnosticsParams, type TextDocumentContentChangeEvent,
} from "vscode-languageserver-protocol/node";
import { peerContent } from "./peer-content.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// LSP_BENCH_SERVER: another build of the server to time (an older one, for before/after figures).
const server = process.env.LSP_BENCH_SERVER ?? path.join(root, "dist/server.cjs");
const yamlServer = path.join(root, "node_modules/yaml-language-server/bin/yaml-language-server");
if (!process.env.LSP_BENCH_SERVER) execFileSync(process.execPath, [path.join(root, "scripts/build.mjs"), "server"], { stdio: "inherit" });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Target { name: string; command: string[]; languageId: string; ext: string; settings: object; initializationOptions?: object }

/** RSS of a process and its children, from /proc (MB). */
function treeRss(pid: number): number {
  let kb = 0;
  const visit = (p: number) => {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0);
      for (const t of fs.readdirSync(`/proc/${p}/task`)) {
        for (const c of fs.readFileSync(`/proc/${p}/task/${t}/children`, "utf8").split(" ").filter(Boolean)) visit(Number(c));
      }
    } catch { /* gone */ }
  };
  visit(pid);
  return kb / 1024;
}

class Session {
  private waiters: ((p: PublishDiagnosticsParams) => void)[] = [];
  private constructor(readonly proc: ChildProcess, readonly conn: ProtocolConnection) {}

  /** `settleMs`: the pause between initialize and what follows (an editor that opens a file at once gives none). */
  static async start(t: Target, dir: string, settleMs = 300): Promise<Session> {
    const proc = spawn(process.execPath, t.command, { stdio: ["pipe", "pipe", "ignore"] });
    const conn = createProtocolConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
    const s = new Session(proc, conn);
    conn.onNotification("textDocument/publishDiagnostics", (p: PublishDiagnosticsParams) => {
      const w = s.waiters;
      s.waiters = [];
      for (const f of w) f(p);
    });
    const section = (name?: string) => (name ? name.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], t.settings) : t.settings) ?? null;
    conn.onRequest("workspace/configuration", (p: { items: { section?: string }[] }) => p.items.map((i) => section(i.section)));
    conn.onRequest("client/registerCapability", () => null);
    conn.onRequest("window/workDoneProgress/create", () => null);
    conn.listen();
    const folder = pathToFileURL(dir).toString();
    await conn.sendRequest("initialize", {
      processId: process.pid, rootUri: folder, workspaceFolders: [{ uri: folder, name: "bench" }],
      capabilities: { workspace: { configuration: true }, textDocument: { publishDiagnostics: { versionSupport: true }, hover: { contentFormat: ["markdown"] }, completion: { completionItem: { snippetSupport: true } } } },
      initializationOptions: t.initializationOptions,
    });
    await conn.sendNotification("initialized", {});
    await conn.sendNotification("workspace/didChangeConfiguration", { settings: t.settings });
    await sleep(settleMs);
    return s;
  }

  /** The next publication for `uri` (at `version` when the server says which). */
  diagnostics(uri: string, version: number): Promise<PublishDiagnosticsParams> {
    return new Promise((resolve) => {
      const wait = (p: PublishDiagnosticsParams) => {
        if (p.uri === uri && (p.version === undefined || p.version === null || p.version === version)) resolve(p);
        else this.waiters.push(wait);
      };
      this.waiters.push(wait);
    });
  }

  async stop(): Promise<void> {
    await Promise.race([this.conn.sendRequest("shutdown").catch(() => undefined), sleep(3000)]);
    this.conn.sendNotification("exit").catch(() => undefined);
    await sleep(100);
    this.conn.dispose();
    this.proc.kill("SIGKILL");
  }
}

interface Figures { openMs: number; openAtOnceMs: number; fullMs: number; incrementalMs: number; typedFullMs: number; typedIncrementalMs: number; errorOpenMs: number; errorFullMs: number; errors: number; hoverMs: number; completionMs: number; rssMb: number }

type Run = (file: string, edits: boolean | "none", settleMs?: number) => Promise<Partial<Figures>>;

/** A target's files in a directory of its own, and how to time one session on one of them. */
function prepare(t: Target, lines: number, runs: number): { run: Run; files: { good: string; bad: string }; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-lsp-bench-"));
  const good = peerContent(lines), bad = peerContent(lines, true);
  fs.writeFileSync(path.join(dir, "schema.json"), JSON.stringify(good.schema));
  const files = { good: path.join(dir, `good.${t.ext}`), bad: path.join(dir, `bad.${t.ext}`) };
  fs.writeFileSync(files.good, t.ext === "pg" ? good.pg : good.yaml);
  fs.writeFileSync(files.bad, t.ext === "pg" ? bad.pg : bad.yaml);
  const settings = t.ext === "pg" ? t.settings : { yaml: { ...(t.settings as { yaml: object }).yaml, schemas: { [pathToFileURL(path.join(dir, "schema.json")).toString()]: ["good.yaml", "bad.yaml"] } } };
  const run = async (file: string, edits: boolean | "none", settleMs?: number) => {
    const s = await Session.start({ ...t, settings }, dir, settleMs);
    const text = fs.readFileSync(file, "utf8");
    const uri = pathToFileURL(file).toString();
    let version = 1;
    let at = performance.now();
    const first = s.diagnostics(uri, 1);
    await s.conn.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: t.languageId, version, text } });
    const opened = await first;
    const openMs = performance.now() - at;
    const all = text.split("\n");
    const line = Math.floor(all.length / 2);
    // A space (the meaning stays), or a letter typed at the start of the body's argument (`x5` becomes `zx5`: the
    // meaning changes).
    const edit = async (full: boolean, typed = false) => {
      const times: number[] = [];
      const space = typed ? all[line].indexOf(t.ext === "pg" ? "(" : "[", all[line].indexOf(t.ext === "pg" ? "promise" : "args")) + 1 : all[line].lastIndexOf(" ");
      const char = typed ? "z" : " ";
      for (let i = 0; i < runs; i++) {
        version++;
        const insert = version % 2 === 0;
        const spaced = all[line].slice(0, space) + char + all[line].slice(space);
        const changed = [...all.slice(0, line), insert ? spaced : all[line], ...all.slice(line + 1)].join("\n");
        const change: TextDocumentContentChangeEvent = full ? { text: changed }
          : insert ? { range: { start: { line, character: space }, end: { line, character: space } }, text: char }
          : { range: { start: { line, character: space }, end: { line, character: space + 1 } }, text: "" };
        const done = s.diagnostics(uri, version);
        at = performance.now();
        await s.conn.sendNotification("textDocument/didChange", { textDocument: { uri, version }, contentChanges: [change] });
        await done;
        times.push(performance.now() - at);
        await sleep(50);
      }
      // Back to the original text for what follows.
      if (version % 2 === 0) {
        version++;
        const done = s.diagnostics(uri, version);
        await s.conn.sendNotification("textDocument/didChange", { textDocument: { uri, version }, contentChanges: [{ text }] });
        await done;
      }
      return median(times);
    };
    const out: Partial<Figures> = { openMs, errors: opened.diagnostics.length };
    if (edits === true) {
      out.fullMs = await edit(true);
      out.incrementalMs = await edit(false);
      out.typedFullMs = await edit(true, true);
      out.typedIncrementalMs = await edit(false, true);
      const word = all[line].indexOf("a", all[line].indexOf(t.ext === "pg" ? "promise" : "promiser") + 8);
      const position = { line, character: word + 1 };
      const hover: number[] = [], completion: number[] = [];
      for (let i = 0; i < runs; i++) {
        at = performance.now();
        await s.conn.sendRequest("textDocument/hover", { textDocument: { uri }, position });
        hover.push(performance.now() - at);
        at = performance.now();
        await s.conn.sendRequest("textDocument/completion", { textDocument: { uri }, position });
        completion.push(performance.now() - at);
      }
      out.hoverMs = median(hover);
      out.completionMs = median(completion);
      out.rssMb = treeRss(s.proc.pid!);
    } else if (edits === false) {
      out.fullMs = await edit(true);
    }
    await s.stop();
    return out;
  };
  return { run, files, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Both targets' figures. A cold open is one sample per server process, and this machine's speed drifts from one
 * minute to the next: each open figure is the median of `opens` fresh servers, ours and the peer's taken in turn. */
async function measure(targets: Target[], lines: number, runs: number, opens: number): Promise<Figures[]> {
  const prepared = targets.map((t) => prepare(t, lines, runs));
  try {
    const figures: Partial<Figures>[] = [];
    const samples = targets.map(() => ({ open: [] as number[], atOnce: [] as number[], error: [] as number[] }));
    for (const [k, { run, files }] of prepared.entries()) {
      const g = await run(files.good, true);
      const b = await run(files.bad, false);
      if (g.errors !== 0 || !b.errors) throw new Error(`${targets[k].name}: expected no diagnostics and some, got ${g.errors} and ${b.errors}`);
      figures.push({ ...g, errorFullMs: b.fullMs!, errors: b.errors });
      samples[k].open.push(g.openMs!);
      samples[k].error.push(b.openMs!);
    }
    for (let i = 0; i < opens; i++) {
      for (const [k, { run, files }] of prepared.entries()) {
        if (i > 0) samples[k].open.push((await run(files.good, "none")).openMs!);
        if (i > 0) samples[k].error.push((await run(files.bad, "none")).openMs!);
        samples[k].atOnce.push((await run(files.good, "none", 0)).openMs!);
      }
    }
    return figures.map((g, k) => ({ ...g, openMs: median(samples[k].open), openAtOnceMs: median(samples[k].atOnce), errorOpenMs: median(samples[k].error) }) as Figures);
  } finally {
    for (const p of prepared) p.remove();
  }
}

const ours: Target = {
  name: "promisegrid", command: ["--max-semi-space-size=2", server, "--stdio"], languageId: "promisegrid", ext: "pg",
  settings: { promisegrid: { diagnostics: { debounceMs: 0 } } }, initializationOptions: { debounceMs: 0 },
};
const peer: Target = {
  name: "yaml-language-server", command: [yamlServer, "--stdio"], languageId: "yaml", ext: "yaml",
  settings: { yaml: { validate: true, hover: true, completion: true, schemaStore: { enable: false } } },
};

const sizes = process.env.LSP_BENCH_LINES ? [Number(process.env.LSP_BENCH_LINES)] : process.env.LSP_BENCH_LARGE ? [1_000, 10_000, 100_000] : [1_000, 10_000];
const f = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
for (const lines of sizes) {
  const runs = Number(process.env.LSP_BENCH_RUNS ?? (lines >= 100_000 ? 3 : 10));
  const opens = Number(process.env.LSP_BENCH_OPENS ?? (lines >= 100_000 ? 3 : 5));
  const [a, b] = await measure([ours, peer], lines, runs, opens);
  const row = (label: string, x: number, y: number, unit = "ms") => `${label} ${f(x)} ${unit} vs ${f(y)} ${unit} (${(y / x).toFixed(1)}x)`;
  console.log(`lsp ${lines.toLocaleString("en")} lines, promisegrid vs yaml-language-server (peer/ours), medians of ${runs} (opens: of ${opens} servers each): ` + [
    row("open", a.openMs, b.openMs),
    row("open right after initialize", a.openAtOnceMs, b.openAtOnceMs),
    row("full-document change", a.fullMs, b.fullMs),
    row("incremental change", a.incrementalMs, b.incrementalMs),
    row("full-document typed letter", a.typedFullMs, b.typedFullMs),
    row("incremental typed letter", a.typedIncrementalMs, b.typedIncrementalMs),
    row("open with an error", a.errorOpenMs, b.errorOpenMs),
    row("change with an error", a.errorFullMs, b.errorFullMs),
    row("hover", a.hoverMs, b.hoverMs),
    row("completion", a.completionMs, b.completionMs),
    `RSS ${f(a.rssMb)} MB vs ${f(b.rssMb)} MB (ours ${(a.rssMb / b.rssMb).toFixed(2)} of the peer's)`,
  ].join("; "));
}
