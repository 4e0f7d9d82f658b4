// The server's incremental parser gives exactly the whole-file parse, on the fixtures and on thousands of random
// edits (unbalanced braces, comments opened and closed, strings, doc comments, garbage), and re-parses little.
import { it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "../../grammar/index.ts";
import { chunkBoundaries, IncrementalParser, MIN_CHUNK } from "../../server/incremental-parse.ts";

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");
const files = ["food.pg", "broken.pg", "delegation.pg", "hello/hello.pg", "multi/main.pg", "multi/shared.pg"].map((f) => fs.readFileSync(path.join(fixtures, f), "utf8"));

function same(text: string, p: IncrementalParser, label: string): void {
  const expected = parse(text);
  const got = p.parse(text);
  assert.deepEqual(JSON.parse(JSON.stringify(got)), JSON.parse(JSON.stringify(expected)), `${label}: ${JSON.stringify(text)}`);
}

it("parses every fixture exactly as the whole-file parser", () => {
  for (const [i, text] of files.entries()) same(text, new IncrementalParser(), `fixture ${i}`);
});

it("re-parses only the declaration an edit touched", () => {
  const p = new IncrementalParser(0);
  const text = files[0];
  assert.equal(chunkBoundaries(text).length, 10, "food.pg is cut at each of its 10 top-level declaration lines");
  p.parse(text);
  const at = text.indexOf("Taco truck, west end");
  const edited = text.slice(0, at) + "x" + text.slice(at);
  same(edited, p, "one edit");
  assert.equal(p.reparsed, 1, "the edit re-parsed one chunk");
  p.parse(text);
  assert.equal(p.reparsed, 1, "undoing the edit re-parses one chunk");
});

it("cuts a large file into chunks of at least MIN_CHUNK characters, and an edit re-parses one or two of them", () => {
  const text = Array.from({ length: 2000 }, (_, i) => `agent a${i}\npromise a${i} -> *: p${i}(x)\n`).join("");
  const p = new IncrementalParser();
  same(text, p, "a first parse");
  const at = text.indexOf("p1000(");
  const edited = text.slice(0, at) + "q" + text.slice(at);
  same(edited, p, "one edit");
  assert.ok(p.reparsed >= 1 && p.reparsed <= 2, `the edit re-parsed ${p.reparsed} chunks`);
  // Each chunk but the last is at least MIN_CHUNK long, so a chunk holds many of these 30-character declarations.
  const chunks = chunkBoundaries(text, MIN_CHUNK);
  assert.ok(chunks.length > 1 && chunks.length <= Math.ceil(text.length / MIN_CHUNK), `${chunks.length} chunks`);
  assert.ok(chunks.slice(0, -1).every((c) => c.end - c.start >= MIN_CHUNK));
});

// A chunk per declaration, and chunks of several (64 characters, and the default on these texts of up to 6,000).
for (const [minChunk, edits] of [[0, 3000], [64, 1500], [MIN_CHUNK, 1500]]) it(`stays identical to the whole-file parse over ${edits} random edits (chunks of at least ${minChunk} characters)`, () => {
  let seed = 7;
  const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x80000000; };
  const pieces = ["{", "}", "(", ")", "\"", "\\", "/*", "*/", "///", "//", "\n", "\r\n", "\r", "agent ", "\nagent x\n", "\npromise ", "\n/// doc\n",
    "\ncapability c from a to b { grants x(y) }\n", "scenario \"s\" {\n  step 1: a invokes c at b\n}\n", "agent-x", "agents", " ", "->", "+", "x", "\u00e9", "\ud83c"];
  let p = new IncrementalParser(minChunk);
  let text = files[0];
  for (let i = 0; i < edits; i++) {
    // Now and then the edits go on from a first parse of the text as it is (with its errors).
    if (i % 200 === 100) { p = new IncrementalParser(minChunk); same(text, p, `first parse at edit ${i}`); }
    const a = Math.floor(rand() * (text.length + 1));
    const b = rand() < 0.6 ? a : Math.min(text.length, a + Math.floor(rand() * 10));
    const insert = pieces[Math.floor(rand() * pieces.length)];
    text = (text.slice(0, a) + insert + text.slice(b)).slice(0, 6000);
    same(text, p, `edit ${i}`);
    // A first parse of the same text (whole, then the chunks with errors again) gives the same tree too.
    if (i % 10 === 0) same(text, new IncrementalParser(minChunk), `fresh parse at edit ${i}`);
  }
});
