// Bad input: thousands of random edits (unbalanced braces, half keywords, binary garbage, lone surrogates) sent
// incrementally, with every kind of request at random places in between. The server must answer every request
// (an error response only where the request itself is refused, like renaming a non-name), never crash, and end
// with diagnostics, symbols, semantic tokens and folding identical to a fresh open of the same final text. A quarter
// of the edits are sent as the whole document (the server finds the changed range itself).
import { after, before, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { LineIndex } from "../../grammar/index.ts";
import { LspClient } from "./client.ts";
import { rng } from "../unit/helpers.ts";

const EDITS = 3000;
const SEED = Number(process.env.STRESS_SEED ?? 20261124);

const PIECES = ["{", "}", "{{", "}}}", "(", ")", "\"", "\"unterminated", "/*", "*/", "///", "//", "\n", "\r\n", " ", "->", "<->", "+", "-",
  "promise ", "agent ", "capability ", "delegate x of ", "scenario \"s\" {", "step 3: ", "expect ", "holds(", "kept(", "if ",
  "grants ", "64MiB", "250ms", "3 taco", "*", ",", ":", "|", "import \"food.pg\"\n", "import \"nope.pg\"\n", "workload w { sandbox wasm module \"x.wasm\" }",
  "truck1", "alice", "lunch_pass", "99999999999999999999", "0.5", "\u00e9\u4e2d", "\ud83c\udf2e"];

let c: LspClient;
before(async () => { c = await LspClient.inCopy(); });
after(() => c.close());

it(`survives ${EDITS} random edits and answers every request (seed ${SEED})`, async () => {
  const rand = rng(SEED).next;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  let text = fs.readFileSync(c.path("food.pg"), "utf8");
  const u = await c.open("food.pg", text);
  const garbage = () => {
    const n = 1 + Math.floor(rand() * 12);
    let s = "";
    for (let i = 0; i < n; i++) s += String.fromCharCode(Math.floor(rand() * (rand() < 0.5 ? 0x80 : 0x10000)));
    return s;
  };
  const requests: Promise<unknown>[] = [];
  let answered = 0, refused = 0;
  // Only a rename may be refused (InvalidRequest: not a name, or not a valid new name); any other error is a failure.
  const failed: string[] = [];
  const track = (method: string, p: Promise<unknown>) => requests.push(p.then(() => { answered++; }, (e: Error & { code?: number }) => {
    if (method === "textDocument/rename" && e.code === -32600) refused++;
    else failed.push(`${method}: ${e.code} ${e.message}`);
  }));

  let version = 1;
  for (let i = 0; i < EDITS; i++) {
    const index = new LineIndex(text);
    // An LSP position cannot fall between \r and \n, so neither does an edit's end.
    const notMidCrlf = (o: number) => (text[o - 1] === "\r" && text[o] === "\n" ? o - 1 : o);
    const a = notMidCrlf(Math.floor(rand() * (text.length + 1)));
    const b = rand() < 0.6 ? a : notMidCrlf(Math.min(text.length, a + Math.floor(rand() * 12)));
    const insert = rand() < 0.2 ? garbage() : rand() < 0.7 ? pick(PIECES) : "";
    const range = index.range({ start: a, end: b });
    text = text.slice(0, a) + insert + text.slice(b);
    if (text.length > 20_000) text = text.slice(0, 20_000);
    // A quarter of the edits come as the whole document, as some editors send them.
    version = await c.change(u, [rand() < 0.25 ? { text } : { range, text: insert }]);
    if (text.length === 20_000) version = await c.change(u, [{ text }]);
    if (i % 4 === 0) {
      const now = new LineIndex(text);
      const position = now.position(Math.floor(rand() * (text.length + 1)));
      const td = { uri: u };
      const all = { start: { line: 0, character: 0 }, end: now.position(text.length) };
      const choice = Math.floor(rand() * 14);
      const m = ["textDocument/hover", "textDocument/completion", "textDocument/definition", "textDocument/references",
        "textDocument/documentHighlight", "textDocument/rename", "textDocument/documentSymbol", "textDocument/foldingRange",
        "textDocument/semanticTokens/full", "textDocument/formatting", "textDocument/rangeFormatting", "textDocument/codeAction",
        "textDocument/codeLens", "textDocument/inlayHint"][choice];
      const params = { textDocument: td, position, context: { includeDeclaration: true, diagnostics: [] }, newName: "renamed_x",
        range: rand() < 0.5 ? all : { start: position, end: position }, options: { tabSize: 2, insertSpaces: true } };
      track(m, c.request(m, params));
    }
  }
  await Promise.all(requests);
  assert.deepEqual(failed, [], `no request failed; the first stack: ${c.stderr.find((l) => l.includes("failed")) ?? ""}`);
  assert.equal(answered + refused, requests.length, "every request was answered");
  assert.ok(answered > requests.length / 2, `most requests got a result (${answered} of ${requests.length})`);
  assert.equal(c.proc.exitCode, null, "the server is still running");
  assert.deepEqual(c.stderr.filter((l) => l.includes("checker failed")), [], "the checker never failed");

  // The final state is consistent: same diagnostics as a fresh open of the same text.
  const last = await c.diagnostics(u, version);
  const fresh = await c.open("fresh.pg", text);
  const same = (d: unknown) => JSON.stringify(d).replaceAll(fresh, u);
  assert.ok(same(last) === same(await c.diagnostics(fresh, 1)), "incrementally synced diagnostics equal those of a fresh open");
  for (const method of ["textDocument/documentSymbol", "textDocument/semanticTokens/full", "textDocument/foldingRange"]) {
    const synced = await c.request(method, { textDocument: { uri: u } });
    const opened = await c.request(method, { textDocument: { uri: fresh } });
    assert.ok(same(synced) === same(opened), `${method}: the synced document answers as a fresh open of its text`);
  }
  console.log(`${EDITS} edits, ${requests.length} requests (${refused} refused as invalid), ${text.length} chars at the end, ${last.length} diagnostics`);
});
