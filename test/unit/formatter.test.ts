// The formatter: stable (twice changes nothing), keeps every comment, keeps the meaning.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import { format, parse, type SourceFile } from "../../grammar/index.ts";
import { lexer } from "../../grammar/tokens.ts";

/** The same tokens and comments with the whitespace between them made ugly. */
function relayout(text: string): string {
  const lexed = lexer.tokenize(text);
  const tokens = [...lexed.tokens, ...(lexed.groups.comments ?? [])].sort((a, b) => a.startOffset - b.startOffset);
  let out = "";
  let end = 0;
  for (const t of tokens) {
    const gap = text.slice(end, t.startOffset);
    out += (gap.includes("\n") ? gap.replace(/[ \t]/g, "").replace(/\n/g, "\n \t ") : "   ") + t.image;
    end = t.startOffset + t.image.length;
  }
  return out;
}

const examplesDir = new URL("../../examples/", import.meta.url);
const examples = fs.readdirSync(examplesDir).filter((f) => f.endsWith(".pg"));

/** The tree without positions, to compare meaning before and after formatting. */
function shape(file: SourceFile): string {
  return JSON.stringify(file.declarations, (key, value) => (key === "span" || key.endsWith("Span") ? undefined : value));
}

describe("formatter over every example", () => {
  assert.ok(examples.length >= 4);
  for (const name of examples) {
    const text = fs.readFileSync(new URL(name, examplesDir), "utf8");
    it(`${name} is already formatted`, () => assert.equal(format(text), text));
    it(`${name}: idempotent, comments kept, meaning kept after messing up its layout`, () => {
      const messy = relayout(text);
      const once = format(messy)!;
      assert.ok(once !== undefined);
      assert.equal(format(once), once);
      assert.deepEqual(parse(once).comments.map((c) => c.text.trim()), parse(text).comments.map((c) => c.text.trim()));
      assert.equal(shape(parse(once)), shape(parse(text)));
    });
  }
});

describe("formatter rules", () => {
  it("indents blocks, spaces tokens, hugs bodies and units, keeps one blank line", () => {
    const input = 'workload   hello{\nsandbox wasm\nmodule "h.wasm"\n\n\n\nlimits{memory 64 MiB time 2s}\n}\npromise p:a->b,c+serve( lunch ,2 taco )if holds( x )\n';
    assert.equal(format(input), [
      "workload hello {",
      "  sandbox wasm",
      '  module "h.wasm"',
      "",
      "  limits { memory 64MiB time 2s }",
      "}",
      "promise p: a -> b, c +serve(lunch, 2 taco) if holds(x)",
      "",
    ].join("\n"));
  });

  it("puts each declaration on its own line", () => {
    assert.equal(format("agent a agent b"), "agent a\nagent b\n");
  });

  it("keeps trailing, block and doc comments", () => {
    const input = "/// doc\nagent a   // about a\n/* block\n   comment */\nagent b\n";
    assert.equal(format(input), "/// doc\nagent a  // about a\n/* block\n   comment */\nagent b\n");
  });

  it("keeps a comment on its own line inside a block, indented with the block", () => {
    const input = "agent a {\n// the kind\n     kind person\n  /* block */\n}\nscenario \"s\" {\n  // first\n  step 1: a leaves\n}\n";
    assert.equal(format(input), "agent a {\n  // the kind\n  kind person\n  /* block */\n}\nscenario \"s\" {\n  // first\n  step 1: a leaves\n}\n");
  });

  it("refuses a file with syntax errors (returns undefined) rather than guess", () => {
    assert.equal(format("agent a\npromise p: a -> +x("), undefined);
  });

  it("formats an empty file to an empty file", () => {
    assert.equal(format(""), "");
    assert.equal(format("\n\n// only a comment\n"), "// only a comment\n");
  });
});
