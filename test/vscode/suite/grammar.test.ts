/// <reference types="mocha" />
// The extension activates on a .pg file, and VS Code's own TextMate engine (vscode-textmate + onig from the
// editor's install) gives the contributed grammar's scopes for each token.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";

const EXT_ID = "promisegrid.promisegrid";

function ws(file: string): vscode.Uri {
  return vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, file);
}

describe("activation and TextMate grammar", () => {
  it("activates on opening a .pg file and starts the language server", async () => {
    const ext = vscode.extensions.getExtension(EXT_ID);
    assert.ok(ext, `extension ${EXT_ID} is loaded`);
    const doc = await vscode.workspace.openTextDocument(ws("food.pg"));
    await vscode.window.showTextDocument(doc);
    assert.equal(doc.languageId, "promisegrid");
    const api = await ext.activate();
    await api.ready();
    assert.equal(ext.isActive, true);
    assert.equal(api.client().isRunning(), true);
  });

  it("tokenizes each kind of token with the expected scopes", async () => {
    const ext = vscode.extensions.getExtension(EXT_ID)!;
    const tm = require(path.join(vscode.env.appRoot, "node_modules/vscode-textmate"));
    const onig = require(path.join(vscode.env.appRoot, "node_modules/vscode-oniguruma"));
    const wasm = fs.readFileSync(path.join(vscode.env.appRoot, "node_modules/vscode-oniguruma/release/onig.wasm"));
    await onig.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
    const contributed = ext.packageJSON.contributes.grammars.find((g: { language: string }) => g.language === "promisegrid");
    const registry = new tm.Registry({
      onigLib: Promise.resolve({ createOnigScanner: (s: string[]) => new onig.OnigScanner(s), createOnigString: (s: string) => new onig.OnigString(s) }),
      loadGrammar: async (scope: string) => scope === contributed.scopeName
        ? tm.parseRawGrammar(fs.readFileSync(path.join(ext.extensionPath, contributed.path), "utf8"), contributed.path)
        : null,
    });
    const grammar = await registry.loadGrammar(contributed.scopeName);
    const scopesOf = (line: string) => {
      const { tokens } = grammar.tokenizeLine(line, tm.INITIAL);
      return tokens.map((t: { startIndex: number; endIndex: number; scopes: string[] }) => [line.slice(t.startIndex, t.endIndex), t.scopes.at(-1)])
        .filter(([text]: [string]) => text.trim() !== "");
    };
    assert.deepEqual(scopesOf(`promise p: truck1 -> * +serve(lunch) if holds(lunch_pass) { price 3 taco }`), [
      ["promise", "keyword.declaration.promise.pg"],
      ["p", "entity.name.type.promise.pg"],
      [":", "punctuation.separator.colon.pg"],
      ["truck1", "variable.other.pg"],
      ["->", "keyword.operator.arrow.pg"],
      ["*", "constant.language.wildcard.pg"],
      ["+", "keyword.operator.polarity.give.pg"],
      ["serve", "entity.name.function.body.pg"],
      ["(", "punctuation.section.parens.pg"],
      ["lunch", "variable.other.pg"],
      [")", "punctuation.section.parens.pg"],
      ["if", "keyword.other.pg"],
      ["holds", "entity.name.function.body.pg"],
      ["(", "punctuation.section.parens.pg"],
      ["lunch_pass", "variable.other.pg"],
      [")", "punctuation.section.parens.pg"],
      ["{", "punctuation.section.braces.pg"],
      ["price", "keyword.other.pg"],
      ["3", "constant.numeric.amount.pg"],
      ["taco", "entity.name.type.currency.pg"],
      ["}", "punctuation.section.braces.pg"],
    ]);
    assert.deepEqual(scopesOf(`promise alice -> truck1 -serve(lunch) // hungry`), [
      ["promise", "keyword.declaration.promise.pg"],
      ["alice", "variable.other.pg"],
      ["->", "keyword.operator.arrow.pg"],
      ["truck1", "variable.other.pg"],
      ["-", "keyword.operator.polarity.accept.pg"],
      ["serve", "entity.name.function.body.pg"],
      ["(", "punctuation.section.parens.pg"],
      ["lunch", "variable.other.pg"],
      [")", "punctuation.section.parens.pg"],
      ["//", "punctuation.definition.comment.pg"],
      [" hungry", "comment.line.double-slash.pg"],
    ]);
    assert.deepEqual(scopesOf(`/// Lets alice eat.`), [
      ["///", "punctuation.definition.comment.pg"],
      [" Lets alice eat.", "comment.line.documentation.pg"],
    ]);
    assert.deepEqual(scopesOf(`limits { memory 64MiB  time 250ms } module "a\\"b.wasm"`), [
      ["limits", "keyword.other.pg"],
      ["{", "punctuation.section.braces.pg"],
      ["memory", "keyword.other.pg"],
      ["64", "constant.numeric.quantity.pg"],
      ["MiB", "keyword.other.unit.pg"],
      ["time", "keyword.other.pg"],
      ["250", "constant.numeric.quantity.pg"],
      ["ms", "keyword.other.unit.pg"],
      ["}", "punctuation.section.braces.pg"],
      ["module", "keyword.other.pg"],
      ["\"", "punctuation.definition.string.begin.pg"],
      ["a", "string.quoted.double.pg"],
      ["\\\"", "constant.character.escape.pg"],
      ["b.wasm", "string.quoted.double.pg"],
      ["\"", "punctuation.definition.string.end.pg"],
    ]);
    assert.deepEqual(scopesOf(`capability c from a to b { grants run(*) expires after 10 steps }`).slice(0, 3), [
      ["capability", "keyword.declaration.capability.pg"],
      ["c", "entity.name.type.capability.pg"],
      ["from", "keyword.other.pg"],
    ]);
    assert.deepEqual(scopesOf(`step 4: alice invokes p at truck5 expect refused`), [
      ["step", "keyword.other.pg"],
      ["4", "constant.numeric.pg"],
      [":", "punctuation.separator.colon.pg"],
      ["alice", "variable.other.pg"],
      ["invokes", "keyword.other.pg"],
      ["p", "variable.other.pg"],
      ["at", "keyword.other.pg"],
      ["truck5", "variable.other.pg"],
      ["expect", "keyword.other.pg"],
      ["refused", "constant.language.outcome.pg"],
    ]);
  });
});
