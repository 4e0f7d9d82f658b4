// The real server over stdio, through 2,000 seeded random edits of one open document (spaces, comments, renames,
// deleted and copied lines, unbalanced brackets): at every 100th edit its diagnostics, document symbols and semantic
// tokens equal those of a fresh open of the same text. What the server keeps between edits (the incremental parse on
// both threads, the checker thread's last check and dependency table) must never show.
import { it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { TextDocument } from "vscode-languageserver-textdocument";
import { LspClient, workspaceCopy } from "./client.ts";

it("answers diagnostics, symbols and semantic tokens after 2,000 random edits exactly as a fresh open", async () => {
  const root = workspaceCopy();
  const c = await LspClient.start(root, { debounceMs: 0 });
  let compared = 0;
  try {
    let seed = 31;
    const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x80000000; };
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
    const base = ["broken.pg", "delegation.pg", "food.pg"].map((f) => fs.readFileSync(c.path(f), "utf8")).join("\n");
    const pieces = [" ", "  ", "\t", "\n", "// note", "/* c */", "/*", "*/", "///", "(", ")", "{", "}", "\"", "x", "9",
      " if kept(q1)", " and not holds(account)", "promise ", "\nagent zed\n", "\npromise ann -> vault -read(files)\n"];
    const u = await c.open("edited.pg", base);
    let doc = TextDocument.create(u, "promisegrid", 1, base);
    await c.diagnostics(u, 1);
    const view = async (target: string, version: number) => ({
      diagnostics: await c.diagnostics(target, version),
      symbols: await c.request("textDocument/documentSymbol", { textDocument: { uri: target } }),
      tokens: await c.request("textDocument/semanticTokens/full", { textDocument: { uri: target } }),
    });
    // Related locations name the document: compare with its name taken out.
    const same = (x: unknown, name: string) => JSON.parse(JSON.stringify(x).split(name).join("DOC"));
    for (let i = 1; i <= 2000; i++) {
      const text = doc.getText();
      const r = rand();
      let start: number, end: number, insert: string;
      if (r < 0.3) {
        // Rename a word: a typo, a shorter name, or another name of the file.
        const words = [...text.matchAll(/\b[a-z_][a-z0-9_]*\b/g)];
        const w = pick(words);
        start = w.index!;
        end = start + w[0].length;
        insert = pick([w[0] + "x", w[0].slice(0, -1) || "z", pick(words)[0]]);
      } else if (r < 0.4) {
        // Delete a line, or copy one elsewhere.
        const lines = text.split("\n");
        const at = Math.floor(rand() * lines.length);
        start = doc.offsetAt({ line: at, character: 0 });
        end = rand() < 0.5 ? doc.offsetAt({ line: at + 1, character: 0 }) : start;
        insert = end === start ? pick(lines) + "\n" : "";
      } else {
        start = Math.floor(rand() * (text.length + 1));
        end = rand() < 0.7 ? start : Math.min(text.length, start + 1 + Math.floor(rand() * 3));
        insert = pick(pieces);
      }
      // Keep the document small enough for the test to stay quick.
      if (text.length > 8000 && insert.length > end - start) { insert = ""; end = Math.min(text.length, start + 40); }
      const range = { start: doc.positionAt(start), end: doc.positionAt(end) };
      const version = await c.change(u, [{ range, text: insert }]);
      doc = TextDocument.update(doc, [{ range, text: insert }], version);
      // Most edits wait for their own check; some come two at a time, as fast typing does.
      if (rand() < 0.6 || i % 100 === 0) await c.diagnostics(u, version);
      if (i % 100 !== 0) continue;
      const fresh = await c.open(`fresh-${i}.pg`, doc.getText());
      const got = await view(u, version);
      const expected = await view(fresh, 1);
      assert.ok((expected.symbols as unknown[]).length && (expected.tokens as { data: number[] }).data.length, "something to compare");
      assert.deepEqual(same(got, "edited.pg"), same(expected, `fresh-${i}.pg`), `edit ${i}: ${JSON.stringify(doc.getText())}`);
      await c.conn.sendNotification("textDocument/didClose", { textDocument: { uri: fresh } });
      compared++;
    }
    assert.equal(compared, 20);
  } finally {
    await c.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
