// The hand-written parse lexer (grammar/scanner.ts) against chevrotain's lexer over the token definitions (the
// language's definition): thousands of seeded random texts, then the repository's .pg files, must come out the same:
// tokens, comments and errors, property for property. A failure prints the seed, the text number and the text.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { it } from "node:test";
import { KEYWORDS, lexer, referenceLexer } from "../../grammar/tokens.ts";
import { rng as seededRandom } from "./helpers.ts";

const SEED = Number(process.env.SCANNER_SEED ?? 20260315);
const TEXTS = Number(process.env.SCANNER_TEXTS ?? 4000);

/** Seeded random numbers in [0, 1). */
const rng = (seed: number): (() => number) => seededRandom(seed).next;

function same(text: string, where: string): void {
  const got = lexer.tokenize(text);
  const want = referenceLexer.tokenize(text);
  try {
    assert.deepStrictEqual(got, want);
  } catch (e) {
    (e as Error).message = `${where}: ${JSON.stringify(text.length > 2000 ? text.slice(0, 2000) + "…" : text)}\n${(e as Error).message}`;
    throw e;
  }
}

// Pieces of text, each a class of what the lexer must tell apart; glued with or without white space between.
const PUNCTUATION = ["<->", "->", "<-", "<", ">", "-", "--", "+", "*", ",", ":", "|", "(", ")", "{", "}", "[", "]"];
const WORDS = ["a", "Z", "_", "_x9", "agent1", "sha2-256", "a-b-c", "a-", "a--b", "-a", "x-1", "steps", "MiB", "unavailable", "agentx", "Agent", "fo", "fromm"];
const NUMBERS = ["0", "1", "42", "007", "1.5", "1.", ".5", "1.5.3", "64MiB", "250ms", "30m", "1.5s", "9-9"];
const STRINGS = [
  '"abc"', '""', '"a\\"b"', '"\\\\"', '"\\n"', '"a b', '"', '"\\', '"a\\\nb"', '"a\\\rb"', '"x\u2028y"', '"x\\\u2028y"',
  '"x\\\u2029"', '"é"', '"\\é"', '"a\nb"', '"a\r"',
];
const COMMENTS = ["// line", "///doc", "/// doc ///", "//", "/* block */", "/**/", "/*/", "/*", "*/", "/* a\nb */", "/* a */ */", "/", "/ /", "/*\r\n*/"];
const SPACE = [" ", "  ", "\t", "\n", "\r\n", "\r", "\f", "\v", "\u00a0", "\ufeff", "\n\n"];
const JUNK = [
  "#", "@", "$", ".", ";", "=", "!", "~", "'", "`", "\\", "?", "%", "^", "&", "é", "ü", "日本", "\u2028", "\u2029", "😀",
  "\ud800", "\u0000", "\u00a1", "\ufefe", "\u2003", "\u0085", "\u00ff", "\u0100", "#\"", "\"#", "<<", "<-->",
];
const CLASSES = [KEYWORDS as string[], WORDS, NUMBERS, STRINGS, COMMENTS, PUNCTUATION, SPACE, JUNK];

function randomText(random: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const pieces = Math.floor(random() * 40);
  let text = "";
  for (let i = 0; i < pieces; i++) {
    text += pick(random() < 0.15 ? pick([JUNK, COMMENTS, STRINGS]) : pick(CLASSES));
    const r = random();
    if (r < 0.45) text += pick(SPACE);
    else if (r < 0.5) text += pick(JUNK);
  }
  return text;
}

it("lexes random texts exactly as chevrotain does", () => {
  const random = rng(SEED);
  for (let i = 0; i < TEXTS; i++) same(randomText(random), `seed ${SEED}, text ${i}`);
});

it("lexes the repository's .pg files exactly as chevrotain does, and a file of all of them", () => {
  const root = new URL("../../", import.meta.url).pathname;
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.name === "node_modules" || e.name.startsWith(".")) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".pg")) files.push(p);
    }
  };
  walk(root);
  assert.ok(files.length >= 10, `found only ${files.length} .pg files`);
  const texts = files.map((f) => fs.readFileSync(f, "utf8"));
  for (const [k, text] of texts.entries()) same(text, files[k]);
  same(texts.join("\n"), "all files");
});

it("lexes texts of more tokens than characters / 3 (past the first guess of the token count)", () => {
  for (const unit of ["(", "a,", "-1", "->", "<->", "#(", "//\n"]) {
    for (const times of [1, 2, 3, 10, 1000]) same(unit.repeat(times), `${JSON.stringify(unit)} x ${times}`);
  }
});

it("lexes texts of any token count as chevrotain does (the scanner fills blocks of tokens and joins them)", () => {
  for (const count of [1023, 1024, 1025, 2048, 10_000, 33_791, 33_792, 33_793, 66_561]) same("a ".repeat(count), `${count} words`);
  const random = rng(SEED + 1);
  let long = "";
  while (long.length < 60_000) long += randomText(random) + "\n";
  same(long, `seed ${SEED + 1}, texts joined to ${long.length} characters`);
});

it("lexes a line of escaped quotes after an unclosed one as chevrotain does, and 200,000 of them without stalling", () => {
  // Each quote on the line starts a string that does not close there either: found once, not once per quote.
  same('"' + '\\"'.repeat(2_000) + "\nagent a", "2,000 escaped quotes");
  // In a process of its own, which a scan of the line per quote (minutes) would not end within its bound (the scan
  // takes milliseconds): a test cannot stop a stalled call in its own thread.
  const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", `
    import { lexer } from ${JSON.stringify(new URL("../../grammar/tokens.ts", import.meta.url).href)};
    const long = '"' + '\\\\"'.repeat(200000) + "\\nagent a";
    const { tokens, errors } = lexer.tokenize(long);
    console.log(JSON.stringify([errors.map((e) => [e.offset, e.length]), tokens.map((t) => t.image), long.indexOf("\\n")]));
  `], { encoding: "utf8", timeout: 30_000 });
  assert.equal(child.status, 0, child.error?.message ?? child.stderr);
  const [errors, images, lineEnd] = JSON.parse(child.stdout);
  assert.deepEqual(errors, [[0, lineEnd]]);
  assert.deepEqual(images, ["agent", "a"]);
});
