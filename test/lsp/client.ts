// A real LSP client for the tests: spawns the bundled server (dist/server.cjs --stdio) and talks to it with
// vscode-languageserver-protocol over its stdin/stdout.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  createProtocolConnection, StreamMessageReader, StreamMessageWriter,
  type Diagnostic, type ProtocolConnection, type PublishDiagnosticsParams, type TextDocumentContentChangeEvent,
} from "vscode-languageserver-protocol/node";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const SERVER = path.join(ROOT, "dist/server.cjs");
export const FIXTURES = path.join(ROOT, "test/lsp/fixtures");

export function uri(p: string): string {
  return pathToFileURL(p).toString();
}

/** A fresh copy of the fixtures folder (tests may write to it). */
export function workspaceCopy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-lsp-"));
  fs.cpSync(FIXTURES, dir, { recursive: true });
  return dir;
}

export class LspClient {
  readonly published: PublishDiagnosticsParams[] = [];
  private waiters: (() => void)[] = [];
  readonly stderr: string[] = [];
  private versions = new Map<string, number>();

  private constructor(readonly proc: ChildProcess, readonly conn: ProtocolConnection, readonly root: string) {}

  static async start(root: string, initializationOptions: Record<string, unknown> = { debounceMs: 0 }): Promise<LspClient> {
    const proc = spawn(process.execPath, [SERVER, "--stdio"], { stdio: ["pipe", "pipe", "pipe"] });
    const conn = createProtocolConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
    const client = new LspClient(proc, conn, root);
    proc.stderr!.on("data", (d) => client.stderr.push(String(d)));
    conn.onNotification("textDocument/publishDiagnostics", (p: PublishDiagnosticsParams) => {
      client.published.push(p);
      const w = client.waiters;
      client.waiters = [];
      w.forEach((f) => f());
    });
    conn.onNotification("window/logMessage", (p: unknown) => { client.stderr.push((p as { message: string }).message); });
    conn.listen();
    await conn.sendRequest("initialize", {
      processId: process.pid, rootUri: uri(root), workspaceFolders: [{ uri: uri(root), name: "ws" }],
      capabilities: { textDocument: { publishDiagnostics: { versionSupport: true } } }, initializationOptions,
    });
    await conn.sendNotification("initialized", {});
    return client;
  }

  /** A server on its own fresh copy of the fixtures (`prepare` may add files to it first); close() removes the copy. */
  static async inCopy(prepare?: (root: string) => void, initializationOptions?: Record<string, unknown>): Promise<LspClient> {
    const root = workspaceCopy();
    prepare?.(root);
    return LspClient.start(root, initializationOptions);
  }

  /** `fn` with a server on `root`, stopped afterwards whether `fn` passes or throws. */
  static async using<T>(root: string, initializationOptions: Record<string, unknown>, fn: (c: LspClient) => Promise<T>): Promise<T> {
    const c = await LspClient.start(root, initializationOptions);
    try {
      return await fn(c);
    } finally {
      await c.stop();
    }
  }

  /** Stops the server and removes its workspace (a copy from inCopy). */
  async close(): Promise<void> {
    await this.stop();
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  path(rel: string): string {
    return path.join(this.root, rel);
  }

  async open(rel: string, text = fs.readFileSync(this.path(rel), "utf8")): Promise<string> {
    const u = uri(this.path(rel));
    this.versions.set(u, 1);
    await this.conn.sendNotification("textDocument/didOpen", { textDocument: { uri: u, languageId: "promisegrid", version: 1, text } });
    return u;
  }

  async change(u: string, changes: TextDocumentContentChangeEvent[]): Promise<number> {
    const version = (this.versions.get(u) ?? 1) + 1;
    this.versions.set(u, version);
    await this.conn.sendNotification("textDocument/didChange", { textDocument: { uri: u, version }, contentChanges: changes });
    return version;
  }

  /** The first publication for `u` (at `version`, if given) among those received so far or yet to come. */
  async diagnostics(u: string, version?: number, timeoutMs = 20_000): Promise<Diagnostic[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.published.find((p) => p.uri === u && (version === undefined || p.version === version));
      if (found) return found.diagnostics;
      if (Date.now() > deadline) throw new Error(`no diagnostics for ${u} v${version}; got ${JSON.stringify(this.published.map((p) => [p.uri, p.version]))}\n${this.stderr.join("")}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  request<R>(method: string, params: unknown): Promise<R> {
    return this.conn.sendRequest(method, params) as Promise<R>;
  }

  async stop(): Promise<void> {
    try {
      await Promise.race([this.conn.sendRequest("shutdown"), new Promise((r) => setTimeout(r, 2000))]);
      await this.conn.sendNotification("exit");
    } catch { /* already gone */ }
    this.conn.dispose();
    if (this.proc.exitCode === null) {
      await Promise.race([new Promise((r) => this.proc.once("exit", r)), new Promise((r) => setTimeout(r, 2000))]);
      if (this.proc.exitCode === null) this.proc.kill();
    }
  }
}
