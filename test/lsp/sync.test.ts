// Document sync and diagnostics scheduling over stdio: incremental edits, a debounced burst where only the last
// version's diagnostics arrive, files that import an edited file, and isolation of a failing request.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Hover } from "vscode-languageserver-protocol";
import { LspClient, uri, workspaceCopy } from "./client.ts";

let root: string;
before(() => { root = workspaceCopy(); });
after(() => fs.rmSync(root, { recursive: true, force: true }));

describe("diagnostics scheduling", () => {
  it("publishes only the last version's diagnostics after a burst of edits", async () => {
    await LspClient.using(root, { debounceMs: 150 }, async (c) => {
      const u = await c.open("broken.pg");
      await c.diagnostics(u, 1);
      const before = c.published.length;
      // 30 keystrokes: type "truck1" over "truck9" and back and forth; the last text has no undefined agent.
      let last = 1;
      const line = fs.readFileSync(path.join(root, "broken.pg"), "utf8").split("\n").findIndex((l) => l.includes("truck9"));
      for (let i = 0; i < 30; i++) {
        const digit = i === 29 ? "1" : String((i % 8) + 2);
        last = await c.change(u, [{ range: { start: { line, character: 13 }, end: { line, character: 14 } }, text: digit }]);
      }
      const diags = await c.diagnostics(u, last);
      await new Promise((r) => setTimeout(r, 400));
      const after = c.published.slice(before).filter((p) => p.uri === u);
      assert.deepEqual(after.map((p) => p.version), [last], "exactly one publication, for the last version");
      assert.deepEqual(diags.map((d) => d.code), ["PG301"]);
      assert.equal(diags[0].message, "unbound promise: nobody accepts (-) what truck1 offers (+serve(dinner))");
    });
  });

  it("checks a document closed and opened again, at the same version, with its new text", async () => {
    await LspClient.using(root, { debounceMs: 0 }, async (c) => {
      const u = await c.open("reopened.pg", "agent a\npromise a -> zz +x(y)\n");
      assert.match((await c.diagnostics(u, 1)).map((d) => d.message).join("\n"), /zz/);
      await c.conn.sendNotification("textDocument/didClose", { textDocument: { uri: u } });
      const since = c.published.length;
      await c.open("reopened.pg", "agent a\n");
      const reopened = async () => {
        for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
          const p = c.published.slice(since).find((x) => x.uri === u && x.version === 1);
          if (p) return p.diagnostics;
          await new Promise((r) => setTimeout(r, 20));
        }
        throw new Error("no diagnostics for the reopened document");
      };
      assert.deepEqual(await reopened(), []);
    });
  });

  it("applies incremental edits exactly as a full reopen of the same text", async () => {
    await LspClient.using(root, { debounceMs: 0 }, async (c) => {
      const original = fs.readFileSync(path.join(root, "food.pg"), "utf8");
      const u = await c.open("food.pg", original);
      // Insert a line, replace a word, delete a range spanning two lines: mirrored locally.
      let v = await c.change(u, [{ range: { start: { line: 4, character: 0 }, end: { line: 4, character: 0 } }, text: "agent bob \"B\"\n" }]);
      v = await c.change(u, [{ range: { start: { line: 4, character: 6 }, end: { line: 4, character: 9 } }, text: "carol" }]);
      v = await c.change(u, [
        { range: { start: { line: 11, character: 0 }, end: { line: 12, character: 0 } }, text: "" },
        { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: "// edited\n" },
      ]);
      const lines = original.split("\n");
      lines.splice(4, 0, "agent carol \"B\"");
      lines.splice(11, 1);
      const expected = "// edited\n" + lines.join("\n");
      const incremental = await c.diagnostics(u, v);
      const fresh = await c.open("fresh.pg", expected);
      const full = await c.diagnostics(fresh, 1);
      assert.deepEqual(incremental, full);
      // Removing alice's accepting promise leaves both trucks' offers unbound.
      assert.deepEqual(incremental.map((d) => [d.code, d.range.start.line]), [["PG301", 11], ["PG301", 12]]);
    });
  });

  it("rechecks an open file when a file it imports changes", async () => {
    await LspClient.using(root, { debounceMs: 0 }, async (c) => {
      const main = await c.open("multi/main.pg");
      assert.deepEqual(await c.diagnostics(main, 1), []);
      const shared = await c.open("multi/shared.pg");
      await c.diagnostics(shared, 1);
      const mark = c.published.length;
      // Rename alice in shared.pg only (to a near name, so the checker suggests it): main.pg's uses no longer resolve.
      await c.change(shared, [{ range: { start: { line: 2, character: 6 }, end: { line: 2, character: 11 } }, text: "alicex" }]);
      let mainDiags;
      for (let i = 0; i < 100 && !mainDiags; i++) {
        mainDiags = c.published.slice(mark).find((p) => p.uri === main)?.diagnostics;
        if (!mainDiags) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(mainDiags, "main.pg was rechecked");
      assert.deepEqual(mainDiags.map((d) => d.message), [
        "undefined agent 'alice'; did you mean 'alicex'?", "undefined agent 'alice'; did you mean 'alicex'?",
      ]);
    });
  });

  it("checks in the checker thread, and hover is served without checking", async () => {
    await LspClient.using(root, { debounceMs: 0 }, async (c) => {
      type Info = { checks: string; threadChecks: number; inProcessChecks: number; checkerStartedEarly: boolean };
      const start = await c.request<Info>("promisegrid/serverInfo", {});
      assert.equal(start.checks, "thread");
      // The thread started with the process (ahead of the server's own loading) is the one that checks.
      assert.equal(start.checkerStartedEarly, true);
      const lines = ["agent hub \"The hub\""];
      for (let i = 0; lines.length < 4_000; i++) {
        lines.push(`agent a${i} "Agent ${i}"`, `promise p${i}: a${i} -> hub +serve(x${i % 7}) if holds(c${i})`, `promise hub -> a${i} -serve(x${i % 7})`,
          `capability c${i} from a${i} to hub { grants serve(x${i % 7}) }`);
      }
      const u = await c.open("large.pg", lines.join("\n") + "\n");
      assert.deepEqual(await c.diagnostics(u, 1), []);
      const v = await c.change(u, [{ range: { start: { line: 1, character: 6 }, end: { line: 1, character: 8 } }, text: "b0" }]);
      const hover = await c.request<Hover>("textDocument/hover", { textDocument: { uri: u }, position: { line: 2, character: 19 } });
      assert.match((hover.contents as { value: string }).value, /agent hub "The hub"/);
      const diags = await c.diagnostics(u, v);
      assert.deepEqual(diags.map((d) => String(d.message)).filter((m) => m.includes("'a0'")).slice(0, 1), ["undefined agent 'a0'; did you mean 'a1'?"]);
      // Code actions use the thread's diagnostics for this version too: nothing was checked on the main thread.
      await c.request("textDocument/codeAction", { textDocument: { uri: u }, range: diags[0].range, context: { diagnostics: [] } });
      const info = await c.request<Info>("promisegrid/serverInfo", {});
      assert.ok(info.threadChecks >= 2, `checks in the thread: ${info.threadChecks}`);
      assert.equal(info.inProcessChecks, 0);
    });
  });

  it("answers a failing request with an error and keeps serving the others", async () => {
    await LspClient.using(root, { debounceMs: 0 }, async (c) => {
      const u = await c.open("food.pg");
      await c.diagnostics(u, 1);
      // A hover without a position makes the hover handler throw inside the server.
      await assert.rejects(c.request("textDocument/hover", { textDocument: { uri: u } }), (e: Error & { code?: number }) => {
        assert.equal(e.code, -32603);
        assert.match(e.message, /^PromiseGrid hover failed: /);
        return true;
      });
      const h = await c.request<Hover>("textDocument/hover", { textDocument: { uri: u }, position: { line: 3, character: 8 } });
      assert.match((h.contents as { value: string }).value, /agent truck1 "Taco truck, east end"/);
      const v = await c.change(u, [{ range: { start: { line: 3, character: 6 }, end: { line: 3, character: 12 } }, text: "truck7" }]);
      assert.ok((await c.diagnostics(u, v)).some((d) => String(d.message).startsWith("undefined agent 'truck1'")));
      assert.equal(uri(path.join(root, "food.pg")), u);
    });
  });
});
