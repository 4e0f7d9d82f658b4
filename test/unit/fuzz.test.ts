// Seeded fuzzing: 20,000 random mutations of the examples through parse, check
// and format. Nothing may throw; every problem must come back as diagnostics.
// A failure prints the seed and the mutation number, so it reproduces.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { it } from "node:test";
import { format, parse } from "../../grammar/index.ts";
import { lexer } from "../../grammar/tokens.ts";
import { check, loadProgram } from "../../language/index.ts";
import { memoryHost, rng as seededRandom, VIRTUAL_DIR } from "./helpers.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20261124);
const MUTATIONS = Number(process.env.FUZZ_MUTATIONS ?? 20_000);

/** Seeded random numbers in [0, 1). */
const rng = (seed: number): (() => number) => seededRandom(seed).next;

const dir = new URL("../../examples/", import.meta.url);
const examples = fs.readdirSync(dir).filter((f) => f.endsWith(".pg")).map((f) => fs.readFileSync(new URL(f, dir), "utf8"));

function mutate(text: string, random: () => number): string {
  const pick = (n: number) => Math.floor(random() * n);
  const tokens = lexer.tokenize(text).tokens;
  const t = tokens[pick(tokens.length)];
  const u = tokens[pick(tokens.length)];
  const start = pick(text.length + 1);
  const end = Math.min(text.length, start + pick(40));
  switch (pick(7)) {
    case 0: // cut a span
      return text.slice(0, start) + text.slice(end);
    case 1: // duplicate a span
      return text.slice(0, end) + text.slice(start, end) + text.slice(end);
    case 2: { // swap two tokens
      if (!t || !u || t === u) return text;
      const [a, b] = t.startOffset < u.startOffset ? [t, u] : [u, t];
      return text.slice(0, a.startOffset) + b.image + text.slice(a.startOffset + a.image.length, b.startOffset) + a.image + text.slice(b.startOffset + b.image.length);
    }
    case 3: { // random bytes, as text
      const junk = Array.from({ length: 1 + pick(8) }, () => String.fromCharCode(pick(0x250))).join("");
      return text.slice(0, start) + junk + text.slice(start);
    }
    case 4: // delete a token
      return t ? text.slice(0, t.startOffset) + text.slice(t.startOffset + t.image.length) : text;
    case 5: // duplicate a token somewhere else
      return t ? text.slice(0, start) + " " + t.image + " " + text.slice(start) : text;
    default: // unbalanced brackets and quotes
      return text.slice(0, start) + "{([\"/*".charAt(pick(6)) + text.slice(start);
  }
}

it(`${MUTATIONS} seeded mutations (seed ${SEED}) never throw`, () => {
  const random = rng(SEED);
  let withErrors = 0;
  for (let i = 0; i < MUTATIONS; i++) {
    let text = examples[i % examples.length];
    const rounds = 1 + Math.floor(random() * 3);
    for (let r = 0; r < rounds; r++) text = mutate(text, random);
    try {
      const file = parse(text);
      const diagnostics = check(loadProgram([`${VIRTUAL_DIR}/main.pg`], memoryHost({ "main.pg": text })));
      for (const d of diagnostics) {
        assert.ok(d.code.startsWith("PG") && d.message && d.span.start <= d.span.end && d.span.end <= text.length + 1, JSON.stringify(d));
      }
      const formatted = format(text);
      if (file.errors.length) {
        assert.equal(formatted, undefined);
        withErrors++;
      } else {
        assert.equal(typeof formatted, "string");
        assert.equal(format(formatted!), formatted, "formatting twice changed the text");
      }
    } catch (e) {
      throw new Error(`mutation ${i} (seed ${SEED}) failed: ${(e as Error).stack}\n--- input ---\n${text}`);
    }
  }
  // The mutations must actually break files, or the test proves little.
  assert.ok(withErrors > MUTATIONS / 4, `only ${withErrors} mutations had syntax errors`);
});

it("parses, checks and formats 100,000 nested braces, lists, parentheses, nots and ands without exhausting the stack", () => {
  const n = 100_000;
  const texts = {
    braces: `agent a {${" k {".repeat(n)}${" }".repeat(n)} }`,
    lists: `agent a { k ${"[".repeat(n)}${"]".repeat(n)} }`,
    parens: `promise p: a -> b +x(y) if ${"(".repeat(n)}holds(c)${")".repeat(n)}`,
    nots: `promise p: a -> b +x(y) if ${"not ".repeat(n)}holds(c)`,
    ands: `promise p: a -> b +x(y) if holds(c)${" and holds(c)".repeat(n)}`,
    ors: `promise p: a -> b +x(y) if holds(c)${" or holds(c)".repeat(n)}`,
  };
  for (const [name, deep] of Object.entries(texts)) {
    const text = `agent a\nagent b\n${deep}\n`;
    const diagnostics = check(loadProgram([`${VIRTUAL_DIR}/main.pg`], memoryHost({ "main.pg": text })));
    assert.deepEqual(diagnostics.filter((d) => d.code === "PG101").map((d) => d.message.split(":")[0]).length, 1, name);
    assert.equal(format(text), undefined, name);
  }
});
