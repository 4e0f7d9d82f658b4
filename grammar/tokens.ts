// Tokens of the .pg language. Keywords are reserved words; everything else that
// looks like a word is an identifier.
import { createToken, Lexer, type ILexingResult, type IToken, type TokenType } from "chevrotain";
import { makeScanner } from "./scanner.ts";

export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\r\n\f\v\u00a0\ufeff]+/, group: Lexer.SKIPPED });
export const DocComment = createToken({ name: "DocComment", pattern: /\/\/\/[^\n\r]*/, group: "comments" });
export const LineComment = createToken({ name: "LineComment", pattern: /\/\/[^\n\r]*/, group: "comments" });
export const BlockComment = createToken({ name: "BlockComment", pattern: /\/\*[\s\S]*?\*\//, group: "comments", line_breaks: true });
export const StringLiteral = createToken({ name: "StringLiteral", pattern: /"(?:[^"\\\n\r]|\\.)*"/ });
export const NumberLiteral = createToken({ name: "NumberLiteral", pattern: /\d+(?:\.\d+)?/ });
/** A word, with dashes or not: one pattern (trying two per word is slower); `retype` gives a word with dashes its
 * own type. */
export const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*/ });
/** A name with dashes, such as the hash name `sha2-256`. */
export const DashedName = createToken({ name: "DashedName", pattern: Lexer.NA });

export const BiArrow = createToken({ name: "BiArrow", pattern: /<->/ });
export const Arrow = createToken({ name: "Arrow", pattern: /->/ });
export const Plus = createToken({ name: "Plus", pattern: /\+/ });
export const Minus = createToken({ name: "Minus", pattern: /-/ });
export const Star = createToken({ name: "Star", pattern: /\*/ });
export const Comma = createToken({ name: "Comma", pattern: /,/ });
export const Colon = createToken({ name: "Colon", pattern: /:/ });
export const Pipe = createToken({ name: "Pipe", pattern: /\|/ });
export const LParen = createToken({ name: "LParen", pattern: /\(/ });
export const RParen = createToken({ name: "RParen", pattern: /\)/ });
export const LBrace = createToken({ name: "LBrace", pattern: /\{/ });
export const RBrace = createToken({ name: "RBrace", pattern: /\}/ });
export const LBracket = createToken({ name: "LBracket", pattern: /\[/ });
export const RBracket = createToken({ name: "RBracket", pattern: /\]/ });

/** Words that start a top-level declaration. */
export const DECLARATION_KEYWORDS = [
  "import", "grid", "agent", "currency", "promise", "capability", "delegate", "workload", "scenario",
] as const;

const OTHER_KEYWORDS = [
  "issued", "by", "if", "and", "or", "not", "holds", "kept", "from", "to", "grants", "delegable", "depth",
  "expires", "after", "of", "link", "gossip", "every", "balance", "step", "invokes", "at", "revokes",
  "breaks", "pays", "delegates", "leaves", "joins", "partition", "heal", "expect", "refused", "broken",
  "knows", "revoked", "for",
] as const;

export const KEYWORDS: readonly string[] = [...DECLARATION_KEYWORDS, ...OTHER_KEYWORDS];

export type Keyword = (typeof DECLARATION_KEYWORDS)[number] | (typeof OTHER_KEYWORDS)[number];

// Keywords are not matched by the lexer (trying 47 patterns per word is slow):
// the lexer reads every word as an Identifier and `retype` then gives
// each keyword its own token type, which is what the parser matches on.
export const keywordTokens = {} as Record<Keyword, TokenType>;
for (const word of KEYWORDS as Keyword[]) {
  keywordTokens[word] = createToken({ name: "Kw_" + word, pattern: Lexer.NA });
}

const lexerTokens: TokenType[] = [
  WhiteSpace, DocComment, LineComment, BlockComment, StringLiteral, NumberLiteral, Identifier,
  BiArrow, Arrow, Plus, Minus, Star, Comma, Colon, Pipe, LParen, RParen, LBrace, RBrace, LBracket, RBracket,
];

/** Every token type the parser knows. */
export const allTokens: TokenType[] = [...lexerTokens, DashedName, ...Object.values(keywordTokens)];

const keywordByImage = new Map<string, TokenType>(Object.entries(keywordTokens));

/** Whether some keyword has this length and first letter (most names are told apart without a Map lookup). */
const keywordShape = new Uint8Array(16 * 26);
for (const k of KEYWORDS) {
  // A keyword outside the table would silently lex as a name.
  if (!/^[a-z]/.test(k) || k.length >= 16) throw new Error(`keyword '${k}' does not fit the keyword table (a-z first, under 16 letters)`);
  keywordShape[k.length * 26 + k.charCodeAt(0) - 97] = 1;
}
function mayBeKeyword(w: string): boolean {
  const letter = w.charCodeAt(0) - 97;
  return letter >= 0 && letter < 26 && w.length < 16 && keywordShape[w.length * 26 + letter] === 1;
}

function retype(tokens: IToken[]): void {
  for (const t of tokens) {
    if (t.tokenType !== Identifier) continue;
    const type = (mayBeKeyword(t.image) ? keywordByImage.get(t.image) : undefined) ?? (t.image.includes("-") ? DashedName : undefined);
    if (type) {
      t.tokenType = type;
      t.tokenTypeIdx = type.tokenTypeIdx!;
    }
  }
}

/** The lexer with chevrotain's checks of the token definitions: they hold for the fixed definitions above, so the
 * lexers in use skip them (they are a good part of starting up) and a test builds this one instead. */
export function validatedLexer(): Lexer {
  return new Lexer(lexerTokens, { positionTracking: "full", ensureOptimizations: true });
}

/** The chevrotain lexer over the definitions above, then `retype`; each is built on first use (building one is a good
 * part of starting up). */
function makeLexer(positionTracking: "onlyOffset" | "full") {
  let inner: Lexer | undefined;
  return {
    tokenize(text: string): ILexingResult {
      inner ??= new Lexer(lexerTokens, { positionTracking, ensureOptimizations: true, skipValidations: true });
      const result = inner.tokenize(text);
      retype(result.tokens);
      return result;
    },
  };
}

/** Tokens with offsets only, for parsing: scanner.ts, which returns what `referenceLexer` returns, faster. */
export const lexer = {
  tokenize: makeScanner({
    DocComment, LineComment, BlockComment, StringLiteral, NumberLiteral, Identifier, DashedName, BiArrow, Arrow, Minus,
    single: { "+": Plus, "*": Star, ",": Comma, ":": Colon, "|": Pipe, "(": LParen, ")": RParen, "{": LBrace, "}": RBrace, "[": LBracket, "]": RBracket },
    keyword: (word) => (mayBeKeyword(word) ? keywordByImage.get(word) : undefined),
  }),
};
/** The chevrotain lexer with offsets only: what `lexer` must return (a test compares them). */
export const referenceLexer = makeLexer("onlyOffset");
/** Tokens with lines and columns too, for formatting. */
export const linesLexer = makeLexer("full");

/** Units that are written attached to their number (`64MiB`, `250ms`). */
export const SIZE_UNITS: Record<string, number> = { KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
export const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
