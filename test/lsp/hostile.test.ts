// Hostile input to the language server over stdio: frames without a header, documents too large to parse,
// 100,000 levels of nesting, and a scenario that simulates for a long time. The server keeps answering.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { CancellationTokenSource, type Diagnostic, type DocumentSymbol, type FoldingRange, type Hover, type InlayHint, type TextEdit } from "vscode-languageserver-protocol";
import { LspClient, SERVER, uri, workspaceCopy } from "./client.ts";

let root: string;
before(() => { root = workspaceCopy(); });
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** Raw bytes to the server's stdin; the JSON-RPC responses (by id) read back from its stdout. */
async function rawSession(chunks: string[]): Promise<Map<number, unknown>> {
  const proc = spawn(process.execPath, [SERVER, "--stdio"], { stdio: ["pipe", "pipe", "pipe"] });
  const got = new Map<number, unknown>();
  let out = "";
  const answered = new Promise<void>((resolve, reject) => {
    proc.stdout.on("data", (d: Buffer) => {
      out += d.toString("utf8");
      for (const m of out.matchAll(/\{"jsonrpc":"2\.0","id":(\d+),(?:"result"|"error")/g)) got.set(Number(m[1]), true);
      if (got.has(2)) resolve();
    });
    proc.on("exit", (code) => reject(new Error(`the server exited (${code}): ${out}`)));
    setTimeout(() => reject(new Error(`no answer to serverInfo; got ids ${[...got.keys()]}`)), 20_000).unref();
  });
  const frame = (body: object) => { const json = JSON.stringify(body); return `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`; };
  const init = frame({ jsonrpc: "2.0", id: 1, method: "initialize", params: { processId: null, rootUri: null, capabilities: {} } });
  const info = frame({ jsonrpc: "2.0", id: 2, method: "promisegrid/serverInfo" });
  for (const c of chunks) proc.stdin.write(c.replace("INIT", init).replace("INFO", info));
  try {
    await answered;
  } finally {
    proc.kill();
  }
  return got;
}

describe("frames", () => {
  const body = JSON.stringify({ jsonrpc: "2.0", id: 99, method: "shutdown" });
  it("skips a frame without a header and answers the next", async () => {
    const got = await rawSession([body, "INIT", "INFO"]);
    assert.ok(got.has(1) && got.has(2), "initialize and serverInfo are answered");
    assert.ok(!got.has(99), "the headerless frame is not taken as a request");
  });

  it("skips a header without Content-Length, a non-number length and a body that is not JSON", async () => {
    const got = await rawSession(["Content-Type: x\r\n\r\n" + body, "INIT", "Content-Length: ten\r\n\r\n{}", "Content-Length: 5\r\n\r\nnot{}", "INFO"]);
    assert.ok(got.has(1) && got.has(2));
  });
});

describe("documents", () => {
  let c: LspClient;
  before(async () => { c = await LspClient.start(root, { debounceMs: 0 }); });
  after(async () => { await c.stop(); });

  it("says once that a document over 8 MB is not parsed, and answers every request on it", async () => {
    const line = "agent a_really_long_agent_name \"with a description\"\n";
    const text = line.repeat(Math.ceil((8 * 1024 * 1024 + 1) / line.length));
    const u = await c.open("huge.pg", text);
    const diags = await c.diagnostics(u, 1, 60_000);
    assert.deepEqual(diags.map((d) => [d.severity, d.range, d.message]), [[2, { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
      `this file is ${(Buffer.byteLength(text) / 1024 / 1024).toFixed(1)} MB: PromiseGrid checks files up to 8.0 MB, so it is neither parsed nor checked, and names in it are not known to the editor`]]);
    // A keystroke: the same diagnostic for the new version, and requests still answered.
    const v = await c.change(u, [{ range: { start: { line: 0, character: 6 }, end: { line: 0, character: 6 } }, text: "x" }]);
    assert.equal((await c.diagnostics(u, v, 60_000)).length, 1);
    const td = { textDocument: { uri: u } };
    assert.deepEqual(await c.request<DocumentSymbol[]>("textDocument/documentSymbol", td), []);
    assert.equal(await c.request<Hover | null>("textDocument/hover", { ...td, position: { line: 0, character: 8 } }), null);
    await c.request("textDocument/didClose", td).catch(() => undefined);
  });

  it("answers symbols, semantic tokens, folding and formatting on 100,000 levels of nesting", async () => {
    const n = 100_000;
    const text = [
      "agent a", "agent b",
      `agent deep {${" k {".repeat(n)}${" }".repeat(n)} }`,
      `agent listed { k ${"[".repeat(n)}${"]".repeat(n)} }`,
      `promise p: a -> b +x(y) if ${"(".repeat(n)}holds(c)${")".repeat(n)}`,
      `promise q: a -> b +x(y) if ${"not ".repeat(n)}holds(c)`,
      `promise r: a -> b +x(y) if holds(c)${" and holds(c)".repeat(n)}`,
      "agent last {", "}", "",
    ].join("\n");
    const u = await c.open("deep.pg", text);
    const diags: Diagnostic[] = await c.diagnostics(u, 1, 60_000);
    assert.deepEqual(diags.filter((d) => d.code === "PG101").map((d) => [d.range.start.line, d.message]), [
      [2, "brackets nest more than 100 deep: this declaration is skipped"],
      [3, "brackets nest more than 100 deep: this declaration is skipped"],
      [4, "brackets nest more than 100 deep: this declaration is skipped"],
      [5, "more than 100 'and', 'or' and 'not' in one declaration: this declaration is skipped"],
      [6, "more than 100 'and', 'or' and 'not' in one declaration: this declaration is skipped"],
    ]);
    const td = { textDocument: { uri: u } };
    const symbols = await c.request<DocumentSymbol[]>("textDocument/documentSymbol", td);
    assert.deepEqual(symbols.map((s) => s.name), ["a", "b", "last"]);
    const tokens = await c.request<{ data: number[] }>("textDocument/semanticTokens/full", td);
    assert.equal(tokens.data.length, 3 * 5, "the three agents' names");
    const folds = await c.request<FoldingRange[]>("textDocument/foldingRange", td);
    assert.deepEqual(folds.map((f) => [f.startLine, f.endLine]), [[7, 8]]);
    assert.deepEqual(await c.request<TextEdit[]>("textDocument/formatting", { ...td, options: { tabSize: 2, insertSpaces: true } }), [], "a file with syntax errors is left alone");
  });
});

describe("simulations", () => {
  it("runs a long scenario's simulation off the request path, and stops it when the request is cancelled", async () => {
    const c = await LspClient.start(root, { debounceMs: 0 });
    try {
      // A full mesh of 150 agents gossiping for 99,999 steps: many seconds of simulation.
      const lines = [];
      for (let i = 0; i < 150; i++) lines.push(`agent t${i}`);
      lines.push("capability pass from t0 to t1 { grants serve(lunch) }", "scenario \"long\" {");
      for (let i = 0; i < 150; i++) for (let j = i + 1; j < 150; j++) lines.push(`  link t${i} <-> t${j}`);
      lines.push("  gossip every 1 step", "  step 1: t0 revokes pass", "  step 99999: t1 invokes pass at t0", "}", "");
      const text = lines.join("\n");
      const u = await c.open("long.pg", text);
      await c.diagnostics(u, 1, 60_000);
      const source = new CancellationTokenSource();
      const order: string[] = [];
      const hints = c.conn.sendRequest("textDocument/inlayHint", { textDocument: { uri: u }, range: { start: { line: 0, character: 0 }, end: { line: lines.length, character: 0 } } }, source.token)
        .then((h) => { order.push("hints"); return h as InlayHint[]; }, (e: Error) => { order.push("hints"); return e; });
      const hover = await c.request<Hover>("textDocument/hover", { textDocument: { uri: u }, position: { line: 0, character: 7 } });
      order.push("hover");
      assert.match(JSON.stringify(hover.contents), /agent t0/);
      assert.deepEqual(order, ["hover"], "hover is answered while the simulation runs");
      source.cancel();
      const answer = await hints;
      assert.ok(Array.isArray(answer) ? answer.length === 0 : /cancel/i.test(answer.message), `a cancelled request answers no hints: ${JSON.stringify(answer)}`);
      const info = await c.request<{ simulationsCancelled: number }>("promisegrid/serverInfo", {});
      assert.equal(info.simulationsCancelled, 1, "the running simulation was stopped");
      // The simulation thread serves the next request.
      await c.open("food.pg");
      const food = await c.request<InlayHint[]>("textDocument/inlayHint", { textDocument: { uri: uri(c.path("food.pg")) }, range: { start: { line: 0, character: 0 }, end: { line: 100, character: 0 } } });
      assert.ok(food.some((h) => String(h.label).startsWith("learns:")));
    } finally {
      await c.stop();
    }
  });
});
