// Every language-server feature over stdio, with exact results.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import type { CodeAction, CodeLens, CompletionItem, DocumentSymbol, FoldingRange, Hover, InlayHint, Location, Range, TextEdit, WorkspaceEdit, WorkspaceSymbol } from "vscode-languageserver-protocol";
import { LineIndex } from "../../grammar/index.ts";
import { LspClient, uri } from "./client.ts";
import { loadChecked } from "../../cli/load.ts";

let c: LspClient;
let root: string;
before(async () => { c = await LspClient.inCopy(); root = c.root; });
after(() => c.close());

function text(rel: string): string {
  return fs.readFileSync(path.join(root, rel), "utf8");
}

/** The range of the `nth` occurrence of `needle` in the file. */
function rangeOf(rel: string, needle: string, nth = 0): Range {
  const t = text(rel);
  let at = -1;
  for (let i = 0; i <= nth; i++) {
    at = t.indexOf(needle, at + 1);
    assert.ok(at >= 0, `'${needle}' #${nth} in ${rel}`);
  }
  return new LineIndex(t).range({ start: at, end: at + needle.length });
}

/** A position inside the `nth` occurrence of `needle` (one character in). */
function posOf(rel: string, needle: string, nth = 0) {
  const r = rangeOf(rel, needle, nth);
  return { line: r.start.line, character: r.start.character + 1 };
}

const doc = (rel: string) => ({ uri: uri(path.join(root, rel)) });

describe("diagnostics", () => {
  it("publishes the checker's diagnostics on open, with codes, ranges and related places", async () => {
    const u = await c.open("broken.pg");
    const diags = await c.diagnostics(u, 1);
    assert.deepEqual(diags.map((d) => [d.code, d.severity, d.range, d.message]), [
      ["PG301", 2, { start: rangeOf("broken.pg", "promise truck9").start, end: rangeOf("broken.pg", "+serve(dinner)").end },
        "unbound promise: nobody accepts (-) what truck9 offers (+serve(dinner))"],
      ["PG200", 1, rangeOf("broken.pg", "truck9"), "undefined agent 'truck9'; did you mean 'truck1'?"],
    ]);
    assert.ok(diags.every((d) => d.source === "promisegrid"));
  });

  it("gives exact ranges in UTF-16 characters, across CRLF line ends and characters outside the BMP", async () => {
    // Line 1: `agent a "🌮" { kind robot }`: the taco is two UTF-16 units, so `robot` starts at character 20.
    const text = "agent b\r\nagent a \"\u{1F32E}\" { kind robot }\r\n\r\npromise a -> b +x(y) if holds(nope)\r\n";
    const u = await c.open("ranges.pg", text);
    const diags = await c.diagnostics(u, 1);
    assert.deepEqual(diags.filter((d) => d.severity === 1).map((d) => [d.code, d.range]), [
      ["PG204", { start: { line: 1, character: 20 }, end: { line: 1, character: 25 } }],
      ["PG200", { start: { line: 3, character: 30 }, end: { line: 3, character: 34 } }],
    ]);
  });

  it("publishes an empty list for a correct file", async () => {
    const u = await c.open("food.pg");
    assert.deepEqual(await c.diagnostics(u, 1), []);
  });

  it("resolves names across files through import, and reports a missing import", async () => {
    const u = await c.open("multi/main.pg");
    assert.deepEqual(await c.diagnostics(u, 1), []);
    const v = await c.change(u, [{ range: rangeOf("multi/main.pg", "shared.pg"), text: "missing.pg" }]);
    const diags = await c.diagnostics(u, v);
    assert.equal(diags[0].code, "PG202");
    assert.equal(diags[0].message, `imported file '${path.join(root, "multi/missing.pg")}' does not exist`);
    assert.deepEqual(diags.filter((d) => d.code === "PG200" && String(d.message).includes("agent")).map((d) => d.message).sort(), [
      "undefined agent 'alice'", "undefined agent 'alice'", "undefined agent 'truck1'", "undefined agent 'truck1'",
    ]);
    assert.deepEqual(diags.filter((d) => d.code === "PG200" && String(d.message).includes("capability")).map((d) => [d.message, d.range]),
      [["undefined capability 'lunch_pass'", rangeOf("multi/main.pg", "lunch_pass")]]);
    const back = await c.change(u, [{ range: { start: rangeOf("multi/main.pg", "shared.pg").start, end: { line: 0, character: rangeOf("multi/main.pg", "shared.pg").start.character + "missing.pg".length } }, text: "shared.pg" }]);
    assert.deepEqual(await c.diagnostics(u, back), []);
  });

  it("reads an imported file by the CLI's rule: one that is not UTF-8 text is not read, in the editor as in `check`", async () => {
    const shared = fs.readFileSync(path.join(root, "multi/shared.pg"));
    fs.writeFileSync(path.join(root, "multi/latin1.pg"), Buffer.concat([Buffer.from("// caf\xe9\n", "latin1"), shared]));
    fs.writeFileSync(path.join(root, "multi/latin1-main.pg"), text("multi/main.pg").replace("shared.pg", "latin1.pg"));
    const u = await c.open("multi/latin1-main.pg");
    const editor = (await c.diagnostics(u, 1)).map((d) => `${d.code} ${d.range.start.line + 1}: ${d.message}`);
    const lines = new LineIndex(text("multi/latin1-main.pg"));
    const cli = loadChecked(path.join(root, "multi/latin1-main.pg")).diagnostics.map((d) => `${d.code} ${lines.position(d.span.start).line + 1}: ${d.message}`);
    assert.ok(editor.includes("PG200 3: undefined agent 'truck1'"), editor.join("\n"));
    assert.deepEqual(editor, cli);
  });
});

describe("hover", () => {
  it("shows the declaration and its doc comment, across files", async () => {
    await c.open("multi/main.pg");
    const h = await c.request<Hover>("textDocument/hover", { textDocument: doc("multi/main.pg"), position: posOf("multi/main.pg", "truck1") });
    assert.deepEqual(h, {
      contents: { kind: "markdown", value: "```promisegrid\nagent truck1 \"Taco truck\"\n```\n\n---\n\nThe taco truck at the east end.\n\n---\n\n*agent declared in shared.pg*" },
      range: rangeOf("multi/main.pg", "truck1"),
    });
  });

  it("shows a delegation's effective grants, expiry and chain", async () => {
    await c.open("delegation.pg");
    const h = await c.request<Hover>("textDocument/hover", { textDocument: doc("delegation.pg"), position: posOf("delegation.pg", "intern at") });
    const value = (h.contents as { value: string }).value;
    assert.equal(value, "```promisegrid\ndelegate intern of assistant by ben to cy { grants read(files) expires after 5 steps }\n```"
      + "\n\n---\n\n**Effective grants:** `read(files)`  \n**Expires:** after 5 steps  \n**Chain:** intern ← assistant ← account");
  });

  it("shows a capability's own grants and that it never expires", async () => {
    await c.open("hello/hello.pg");
    const h = await c.request<Hover>("textDocument/hover", { textDocument: doc("hello/hello.pg"), position: posOf("hello/hello.pg", "deploy_pass", 1) });
    assert.equal((h.contents as { value: string }).value,
      "```promisegrid\ncapability deploy_pass from laptop to dev { grants run(hello) }\n```\n\n---\n\n**Effective grants:** `run(hello)`  \n**Expires:** never");
  });

  it("answers null where there is no name", async () => {
    const h = await c.request<Hover | null>("textDocument/hover", { textDocument: doc("food.pg"), position: { line: 1, character: 1 } });
    assert.equal(h, null);
  });
});

describe("navigation", () => {
  it("goes to a definition in another file, and from an import to the file", async () => {
    await c.open("multi/main.pg");
    const loc = await c.request<Location>("textDocument/definition", { textDocument: doc("multi/main.pg"), position: posOf("multi/main.pg", "lunch_pass") });
    assert.deepEqual(loc, { uri: uri(path.join(root, "multi/shared.pg")), range: rangeOf("multi/shared.pg", "lunch_pass") });
    const file = await c.request<Location>("textDocument/definition", { textDocument: doc("multi/main.pg"), position: posOf("multi/main.pg", "shared.pg") });
    assert.deepEqual(file, { uri: uri(path.join(root, "multi/shared.pg")), range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } });
  });

  it("finds references across files, from the declaration's side too", async () => {
    await c.open("multi/shared.pg");
    const refs = await c.request<Location[]>("textDocument/references", {
      textDocument: doc("multi/shared.pg"), position: posOf("multi/shared.pg", "alice"), context: { includeDeclaration: true },
    });
    assert.deepEqual(refs, [
      { uri: uri(path.join(root, "multi/main.pg")), range: rangeOf("multi/main.pg", "alice", 0) },
      { uri: uri(path.join(root, "multi/main.pg")), range: rangeOf("multi/main.pg", "alice", 1) },
      { uri: uri(path.join(root, "multi/shared.pg")), range: rangeOf("multi/shared.pg", "alice", 0) },
      { uri: uri(path.join(root, "multi/shared.pg")), range: rangeOf("multi/shared.pg", "alice", 1) },
    ]);
    const withoutDecl = await c.request<Location[]>("textDocument/references", {
      textDocument: doc("multi/shared.pg"), position: posOf("multi/shared.pg", "alice"), context: { includeDeclaration: false },
    });
    assert.equal(withoutDecl.length, 3);
  });

  it("highlights a name's declaration (write) and uses (read) in the file", async () => {
    const hl = await c.request<{ range: Range; kind: number }[]>("textDocument/documentHighlight", { textDocument: doc("food.pg"), position: posOf("food.pg", "truck5", 0) });
    // occurrence 3 is inside the scenario's title, a string, so it is not highlighted
    assert.deepEqual(hl, [
      { range: rangeOf("food.pg", "truck5", 0), kind: 3 },
      ...[1, 2, 4, 5, 6, 7].map((n) => ({ range: rangeOf("food.pg", "truck5", n), kind: 2 })),
    ]);
  });
});

describe("rename", () => {
  it("renames across two files", async () => {
    await c.open("multi/main.pg");
    await c.open("multi/shared.pg");
    const edit = await c.request<WorkspaceEdit>("textDocument/rename", { textDocument: doc("multi/main.pg"), position: posOf("multi/main.pg", "truck1"), newName: "taco_truck" });
    assert.deepEqual(edit, {
      changes: {
        [uri(path.join(root, "multi/main.pg"))]: [0, 1].map((n) => ({ range: rangeOf("multi/main.pg", "truck1", n), newText: "taco_truck" })),
        [uri(path.join(root, "multi/shared.pg"))]: [0, 1].map((n) => ({ range: rangeOf("multi/shared.pg", "truck1", n), newText: "taco_truck" })),
      },
    });
  });

  it("renames from the declaring file into the file that imports it, open or not", async () => {
    for (const openImporter of [false, true]) {
      await LspClient.using(root, { debounceMs: 0 }, async (fresh) => {
        await fresh.open("multi/shared.pg");
        if (openImporter) await fresh.open("multi/main.pg");
        const edit = await fresh.request<WorkspaceEdit>("textDocument/rename", { textDocument: doc("multi/shared.pg"), position: posOf("multi/shared.pg", "lunch_pass"), newName: "pass" });
        assert.deepEqual(edit, {
          changes: {
            [uri(path.join(root, "multi/main.pg"))]: [{ range: rangeOf("multi/main.pg", "lunch_pass"), newText: "pass" }],
            [uri(path.join(root, "multi/shared.pg"))]: [{ range: rangeOf("multi/shared.pg", "lunch_pass"), newText: "pass" }],
          },
        }, `importer ${openImporter ? "open" : "on disk only"}`);
      });
    }
  });

  it("prepares a rename with the name's range, and refuses a scenario title", async () => {
    const prep = await c.request<{ range: Range; placeholder: string }>("textDocument/prepareRename", { textDocument: doc("food.pg"), position: posOf("food.pg", "lunch_pass") });
    assert.deepEqual(prep, { range: rangeOf("food.pg", "lunch_pass"), placeholder: "lunch_pass" });
    await assert.rejects(c.request("textDocument/prepareRename", { textDocument: doc("food.pg"), position: posOf("food.pg", "revocation reaches") }),
      { message: "A scenario's title is a string: edit it in place." });
  });

  it("refuses invalid names, keywords and clashes", async () => {
    const at = { textDocument: doc("food.pg"), position: posOf("food.pg", "alice") };
    await assert.rejects(c.request("textDocument/rename", { ...at, newName: "9lives" }),
      { message: "'9lives' is not a valid name: use letters, digits and _, not starting with a digit." });
    await assert.rejects(c.request("textDocument/rename", { ...at, newName: "bad name" }), /is not a valid name/);
    await assert.rejects(c.request("textDocument/rename", { ...at, newName: "promise" }), { message: "'promise' is a keyword and cannot be a name." });
    await assert.rejects(c.request("textDocument/rename", { ...at, newName: "truck5" }), { message: "agent 'truck5' already exists in food.pg." });
  });
});

describe("symbols", () => {
  it("lists a document's declarations", async () => {
    const syms = await c.request<DocumentSymbol[]>("textDocument/documentSymbol", { textDocument: doc("multi/shared.pg") });
    assert.deepEqual(syms.map((s) => [s.name, s.kind, s.detail, s.selectionRange]), [
      ["truck1", 5, "Taco truck", rangeOf("multi/shared.pg", "truck1")],
      ["alice", 5, "A customer", rangeOf("multi/shared.pg", "alice")],
      ["lunch_pass", 11, "truck1 to alice", rangeOf("multi/shared.pg", "lunch_pass")],
    ]);
    const food = await c.request<DocumentSymbol[]>("textDocument/documentSymbol", { textDocument: doc("food.pg") });
    assert.deepEqual(food.map((s) => s.name), [
      "food_trucks", "truck1", "truck5", "alice", "taco", "truck1_lunch", "alice -serve(lunch)", "truck5 +serve(lunch)",
      "lunch_pass", "revocation reaches truck5 by gossip",
    ]);
  });

  it("finds workspace symbols by a fuzzy query, in files not open", async () => {
    const syms = await c.request<WorkspaceSymbol[]>("workspace/symbol", { query: "lnchps" });
    assert.deepEqual(syms.map((s) => [s.name, s.containerName, (s.location as Location).uri]), [
      ["lunch_pass", "food.pg", uri(path.join(root, "food.pg"))],
      ["lunch_pass", "shared.pg", uri(path.join(root, "multi/shared.pg"))],
    ]);
  });
});

describe("folding and semantic tokens", () => {
  it("folds multi-line declarations and doc comments", async () => {
    const folds = await c.request<FoldingRange[]>("textDocument/foldingRange", { textDocument: doc("delegation.pg") });
    const t = text("delegation.pg").split("\n");
    const scenarioStart = t.findIndex((l) => l.startsWith("scenario"));
    assert.deepEqual(folds, [{ startLine: scenarioStart, endLine: t.length - 2 }]);
    const food = await c.request<FoldingRange[]>("textDocument/foldingRange", { textDocument: doc("food.pg") });
    const ft = text("food.pg").split("\n");
    assert.deepEqual(food, [{ startLine: ft.findIndex((l) => l.startsWith("scenario")), endLine: ft.length - 2 }]);
  });

  it("colours names by what they name", async () => {
    const { data } = await c.request<{ data: number[] }>("textDocument/semanticTokens/full", { textDocument: doc("multi/main.pg") });
    const decoded: [number, number, number, number, number][] = [];
    let line = 0, ch = 0;
    for (let i = 0; i < data.length; i += 5) {
      line += data[i];
      ch = data[i] === 0 ? ch + data[i + 1] : data[i + 1];
      decoded.push([line, ch, data[i + 2], data[i + 3], data[i + 4]]);
    }
    const r = (needle: string, n = 0) => [rangeOf("multi/main.pg", needle, n).start.line, rangeOf("multi/main.pg", needle, n).start.character, needle.length];
    // types: 1 class (agent), 4 interface (capability); no declarations in this file, so no modifiers
    assert.deepEqual(decoded, [
      [...r("truck1", 0), 1, 0], [...r("alice", 0), 1, 0], [...r("lunch_pass"), 4, 0],
      [...r("alice", 1), 1, 0], [...r("truck1", 1), 1, 0],
    ]);
  });
});

describe("formatting", () => {
  const messy = "agent   a\nagent b   \"B\"\npromise a->b +serve( x )\npromise b -> a -serve(x)\n";
  it("formats the whole document", async () => {
    fs.writeFileSync(path.join(root, "messy.pg"), messy);
    const u = await c.open("messy.pg");
    const edits = await c.request<TextEdit[]>("textDocument/formatting", { textDocument: { uri: u }, options: { tabSize: 2, insertSpaces: true } });
    assert.deepEqual(edits, [{
      range: { start: { line: 0, character: 0 }, end: { line: 4, character: 0 } },
      newText: "agent a\nagent b \"B\"\npromise a -> b +serve(x)\npromise b -> a -serve(x)\n",
    }]);
  });

  it("formats only the declarations a range touches", async () => {
    const edits = await c.request<TextEdit[]>("textDocument/rangeFormatting", {
      textDocument: doc("messy.pg"), range: { start: { line: 2, character: 3 }, end: { line: 2, character: 5 } }, options: { tabSize: 2, insertSpaces: true },
    });
    assert.deepEqual(edits, [{ range: { start: { line: 2, character: 0 }, end: { line: 2, character: 24 } }, newText: "promise a -> b +serve(x)" }]);
  });

  it("leaves a file with syntax errors alone", async () => {
    const u = await c.open("unbalanced.pg", "agent a {\npromise a -> b +serve(x\n");
    assert.deepEqual(await c.request("textDocument/formatting", { textDocument: { uri: u }, options: { tabSize: 2, insertSpaces: true } }), []);
  });
});

describe("code actions", () => {
  it("offers each diagnostic's fix as a quick fix with its edit", async () => {
    await c.open("broken.pg");
    const r = rangeOf("broken.pg", "truck9");
    const actions = await c.request<CodeAction[]>("textDocument/codeAction", { textDocument: doc("broken.pg"), range: r, context: { diagnostics: [] } });
    const end = rangeOf("broken.pg", "+serve(dinner)").end;
    assert.deepEqual(actions.map((a) => [a.title, a.kind, a.diagnostics?.map((d) => d.code), a.edit]), [
      ["Add 'promise alice -> truck9 -serve(dinner)'", "quickfix", ["PG301"],
        { changes: { [doc("broken.pg").uri]: [{ range: { start: end, end }, newText: "\npromise alice -> truck9 -serve(dinner)" }] } }],
      ["Change to 'truck1'", "quickfix", ["PG200"], { changes: { [doc("broken.pg").uri]: [{ range: r, newText: "truck1" }] } }],
    ]);
  });

  it("offers none where no diagnostic has a fix", async () => {
    const actions = await c.request<CodeAction[]>("textDocument/codeAction", { textDocument: doc("food.pg"), range: rangeOf("food.pg", "alice"), context: { diagnostics: [] } });
    assert.deepEqual(actions, []);
  });
});

/** Lenses as an editor shows them: those without a command resolved (the file's Compile lens is resolved lazily). */
async function resolved(lenses: CodeLens[]): Promise<CodeLens[]> {
  return Promise.all(lenses.map((l) => (l.command ? l : c.request<CodeLens>("codeLens/resolve", l))));
}

describe("code lenses and inlay hints", () => {
  it("puts Run and Step through on each scenario and the root CID on the file", async () => {
    const compiled = JSON.parse(await cli(["compile", path.join(root, "hello/hello.pg"), "--json"])) as { root: string };
    const lenses = await resolved(await c.request<CodeLens[]>("textDocument/codeLens", { textDocument: doc("hello/hello.pg") }));
    const scenario = rangeOf("hello/hello.pg", "scenario").start;
    assert.deepEqual(lenses.map((l) => [l.range.start, l.command?.title, l.command?.command, l.command?.arguments]), [
      [{ line: 0, character: 0 }, `Compile: ${compiled.root}`, "promisegrid.copyCid", [compiled.root]],
      [scenario, "▶ Run", "promisegrid.runScenario", [doc("hello/hello.pg").uri, "dev deploys hello"]],
      [scenario, "Step through", "promisegrid.stepScenario", [doc("hello/hello.pg").uri, "dev deploys hello"]],
    ]);
    const broken = await resolved(await c.request<CodeLens[]>("textDocument/codeLens", { textDocument: doc("broken.pg") }));
    assert.deepEqual(broken.map((l) => l.command?.title), ["Compile: 1 error to fix first"]);
  });

  it("shows the CID of a workload file after its path", async () => {
    const bytes = fs.readFileSync(path.join(root, "hello/hello.wasm"));
    const cid = CID.createV1(raw.code, await sha256.digest(bytes)).toString();
    const hints = await c.request<InlayHint[]>("textDocument/inlayHint", { textDocument: doc("hello/hello.pg"), range: { start: { line: 0, character: 0 }, end: { line: 100, character: 0 } } });
    assert.deepEqual(hints.map((h) => [h.position, h.label]), [[rangeOf("hello/hello.pg", "\"hello.wasm\"").end, `cid ${cid}`]]);
  });
});

describe("revocation inlay hints", () => {
  it("shows when each agent learns of a revocation in the simulated scenario", async () => {
    await c.open("food.pg");
    const hints = await c.request<InlayHint[]>("textDocument/inlayHint", { textDocument: doc("food.pg"), range: { start: { line: 0, character: 0 }, end: { line: 100, character: 0 } } });
    // truck1 revokes (it sees it at once); gossip over truck1 <-> truck5 at the end of step 2; alice has no link.
    assert.deepEqual(hints.map((h) => [h.position, h.label]), [
      [rangeOf("food.pg", "step 2: truck1 revokes lunch_pass").end, "learns: truck1 step 2 · truck5 step 2 · alice never"],
    ]);
  });
});

describe("completion", () => {
  async function labels(rel: string, textBefore: string, line: number): Promise<string[]> {
    const u = doc(rel).uri;
    const lines = text(rel).split("\n");
    lines.splice(line, 0, textBefore);
    const v = await c.change(u, [{ text: lines.join("\n") }]);
    await c.diagnostics(u, v);
    const items = await c.request<CompletionItem[]>("textDocument/completion", { textDocument: { uri: u }, position: { line, character: textBefore.length } });
    await c.change(u, [{ text: text(rel) }]);
    return items.map((i) => i.label);
  }

  before(async () => { await c.open("food.pg"); });

  it("offers agents after an arrow", async () => {
    assert.deepEqual(await labels("food.pg", "promise alice -> ", 12), ["truck1", "truck5", "alice"]);
  });
  it("offers capabilities inside holds(", async () => {
    assert.deepEqual(await labels("food.pg", "promise truck1 -> alice +serve(lunch) if holds(", 12), ["lunch_pass"]);
  });
  it("offers promises inside kept(", async () => {
    assert.deepEqual(await labels("food.pg", "promise truck1 -> alice +serve(lunch) if kept(", 12), ["truck1_lunch"]);
  });
  it("offers currencies after an amount", async () => {
    assert.deepEqual(await labels("food.pg", "promise truck1 -> alice +serve(lunch) { price 3 ", 12), ["taco"]);
  });
  it("offers body types already used after a polarity", async () => {
    assert.deepEqual(await labels("food.pg", "promise truck1 -> alice +", 12), ["serve"]);
  });
  it("offers declaration keywords and snippets at the top level", async () => {
    const got = await labels("food.pg", "", 12);
    assert.deepEqual(got, ["import", "grid", "agent", "currency", "promise", "capability", "delegate", "workload", "scenario",
      "grid", "agent", "currency", "promise", "capability", "delegate", "workload", "scenario"]);
    const items = await c.request<CompletionItem[]>("textDocument/completion", { textDocument: doc("food.pg"), position: { line: 3, character: 0 } });
    const snippet = items.find((i) => i.kind === 15 && i.label === "capability")!;
    assert.equal(snippet.insertText, "capability ${1:name} from ${2:issuer} to ${3:holder} {\n\tgrants ${4:serve}(${5:thing})\n\texpires after ${6:10} steps\n}");
    assert.equal(snippet.insertTextFormat, 2);
  });
  it("lists at most 500 names of a large file, those that match the word typed, and says when it left some out", async () => {
    const lines = ["agent hub"];
    for (let i = 0; i < 600; i++) lines.push(`agent n${i}`, `agent m${i}`);
    lines.push("promise hub -> m1", "");
    const u = await c.open("many.pg", lines.join("\n"));
    await c.diagnostics(u, 1);
    const at = (character: number) => ({ textDocument: { uri: u }, position: { line: 1201, character } });
    // After `-> `: more agents than the limit, nothing typed yet: the first 500 in declaration order, marked incomplete.
    const first = await c.request<{ isIncomplete: boolean; items: CompletionItem[] }>("textDocument/completion", at(15));
    assert.equal(first.isIncomplete, true);
    assert.deepEqual(first.items.map((i) => i.label), ["hub", ...lines.slice(1, 500).map((l) => l.slice(6))]);
    // `m1` typed: only the names with those letters in order, all of them; still incomplete, since the server
    // filtered it (after a backspace to `m` the editor must ask again, not filter this list).
    const typed = await c.request<{ isIncomplete: boolean; items: CompletionItem[] }>("textDocument/completion", at(17));
    const expected = ["hub", ...lines.slice(1, 1201).map((l) => l.slice(6))].filter((n) => /m.*1/.test(n));
    assert.equal(typed.isIncomplete, true);
    assert.deepEqual(typed.items.map((i) => i.label), expected);
  });
  it("offers agents and capabilities inside a scenario step", async () => {
    const line = text("food.pg").split("\n").findIndex((l) => l.includes("step 1:"));
    assert.deepEqual(await labels("food.pg", "  step 5: ", line), ["truck1", "truck5", "alice"]);
    assert.deepEqual(await labels("food.pg", "  step 5: alice invokes ", line), ["lunch_pass"]);
  });
});

async function cli(args: string[]): Promise<string> {
  const { execFile } = await import("node:child_process");
  return new Promise((resolve, reject) => execFile(process.execPath, ["--import", "tsx", "cli/main.ts", ...args],
    { cwd: path.resolve(import.meta.dirname, "../..") }, (err, stdout, stderr) => (err ? reject(new Error(stderr || String(err))) : resolve(stdout))));
}
