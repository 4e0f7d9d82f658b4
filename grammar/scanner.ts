// The parse lexer, written by hand: chevrotain's lexer over the token definitions of tokens.ts (and the keywords and
// dashed names it retypes) returns the same tokens, comments and errors, and stays the definition; this one is a few
// times faster (one pass over char codes, no regular expressions, no token type tried and dropped).
import type { ILexingError, ILexingResult, IToken, TokenType } from "chevrotain";

/** The token types the scanner gives; `keyword` tells a word's keyword type, if it is one. */
export interface ScannerTokens {
  DocComment: TokenType; LineComment: TokenType; BlockComment: TokenType;
  StringLiteral: TokenType; NumberLiteral: TokenType; Identifier: TokenType; DashedName: TokenType;
  BiArrow: TokenType; Arrow: TokenType; Minus: TokenType;
  /** Each one-character token type, by its character. */
  single: Record<string, TokenType>;
  keyword: (word: string) => TokenType | undefined;
}

// Character classes (ASCII; above it only U+00A0 and U+FEFF are anything: white space).
const JUNK = 0, SPACE = 1, LETTER = 2, DIGIT = 3, SINGLE = 4, DASH = 5, SLASH = 6, QUOTE = 7, LESS = 8;
const CLASS = new Uint8Array(128);
for (const c of "\t\n\v\f\r ") CLASS[c.charCodeAt(0)] = SPACE;
for (let c = 65; c <= 90; c++) CLASS[c] = CLASS[c + 32] = LETTER;
CLASS[95] = LETTER; // _
for (let c = 48; c <= 57; c++) CLASS[c] = DIGIT;
CLASS[45] = DASH;
CLASS[47] = SLASH;
CLASS[34] = QUOTE;
CLASS[60] = LESS;

/** Whether the character continues a word: [A-Za-z0-9_] (a table of every char code: no range check per letter). */
const WORD = new Uint8Array(65536);
for (let c = 0; c < 128; c++) if (CLASS[c] === LETTER || CLASS[c] === DIGIT) WORD[c] = 1;
function isWordChar(c: number): boolean {
  return WORD[c] === 1;
}
/** [0-9] (false past the end: NaN). */
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isSpace(c: number): boolean {
  return c < 128 ? CLASS[c] === SPACE : c === 0xa0 || c === 0xfeff;
}
/** A line break for strings and line comments: \n and \r end them ([^\n\r]). */
function isLineEnd(c: number): boolean {
  return c === 10 || c === 13;
}

/** Whether text[start, end) is `word`. */
function sameWord(text: string, start: number, end: number, word: string): boolean {
  if (word.length !== end - start) return false;
  for (let i = start, j = 0; i < end; i++, j++) if (text.charCodeAt(i) !== word.charCodeAt(j)) return false;
  return true;
}

/** Token slots in the first block, and in each one after it (see scan). */
const FIRST_BLOCK = 1024;
const BLOCK = 32_768;

export function makeScanner(types: ScannerTokens): (text: string) => ILexingResult {
  const { DocComment, LineComment, BlockComment, StringLiteral, NumberLiteral, Identifier, DashedName, BiArrow, Arrow, Minus, keyword } = types;
  const singleType: (TokenType | undefined)[] = new Array(128).fill(undefined);
  const singleImage: string[] = new Array(128).fill("");
  for (const [ch, type] of Object.entries(types.single)) {
    const c = ch.charCodeAt(0);
    if (ch.length !== 1 || c >= 128 || (CLASS[c] !== JUNK && CLASS[c] !== SINGLE)) throw new Error(`'${ch}' cannot be a one-character token`);
    CLASS[c] = SINGLE;
    singleType[c] = type;
    singleImage[c] = ch;
  }

  // Chevrotain's token shape for offset-only tracking (same properties, same order).
  const token = (image: string, startOffset: number, tokenType: TokenType): IToken =>
    ({ image, startOffset, tokenTypeIdx: tokenType.tokenTypeIdx!, tokenType }) as IToken;

  return function scan(text: string): ILexingResult {
    const n = text.length;
    // Tokens go into blocks, joined at the end. One array made at the text's size is past what optimized code
    // allocates inline (some 16,000 slots): the first large file deoptimized the whole scan, which then ran
    // unoptimized (the first parse of 10,000 lines: 68 ms, median, against 54 now). Growing one array a push at a
    // time copies it again and again. The first block is small (young, for short texts and the chunks an edit
    // re-parses), so a short file already takes the path that starts a block; the others are large objects, which
    // a young collection never copies.
    let block: IToken[] = new Array(FIRST_BLOCK);
    const blocks = [block];
    let count = 0, size = FIRST_BLOCK;
    const add = (t: IToken) => {
      if (count === size) {
        blocks.push((block = new Array(BLOCK)));
        size = BLOCK;
        count = 0;
      }
      block[count++] = t;
    };
    const comments: IToken[] = [];
    const errors: ILexingError[] = [];
    // Words read before, by a hash of their letters: most words of a file are keywords or names used many times, and
    // sharing their images saves making (and collecting) a string per word. A slot keeps its latest word; the table
    // lives for one call (an image may be a slice of the text: a table kept across calls would keep old texts alive).
    let slots = 16;
    while (slots < 4096 && slots * 16 < n) slots *= 2;
    const mask = slots - 1;
    const wordHash = new Int32Array(slots);
    const wordImage: (string | undefined)[] = new Array(slots).fill(undefined);
    const wordType: TokenType[] = new Array(slots).fill(Identifier);
    // Where the first "*/" at or after `closeFrom` is (-1: none); block comments look it up once, not once each.
    let closeFrom = n + 1, closeAt = -1;
    const blockEnd = (start: number): number => {
      if (start < closeFrom || (closeAt !== -1 && closeAt < start)) {
        closeFrom = start;
        closeAt = text.indexOf("*/", start);
      }
      return closeAt === -1 ? -1 : closeAt + 2;
    };
    // A string that did not close scanned to `failUntil`: every quote it passed was escaped, and a string from one of
    // them fails at the same place (without this, a line of escaped quotes after an open one costs its length squared).
    let failFrom = -1, failUntil = -1;
    /** End of the string literal starting at `start` (a quote), or -1 if it does not close on its line. */
    const stringEnd = (start: number): number => {
      if (start > failFrom && start < failUntil) return -1;
      let i = start + 1;
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c === 34) return i + 1;
        if (c === 92) {
          // `\\.`: any character but a line terminator (\n, \r, U+2028, U+2029) after the backslash.
          const e = text.charCodeAt(i + 1);
          if (i + 1 >= n || isLineEnd(e) || e === 0x2028 || e === 0x2029) break;
          i += 2;
        } else if (isLineEnd(c)) break;
        else i++;
      }
      failFrom = start;
      failUntil = Math.min(i, n);
      return -1;
    };
    /** Whether some token (or white space) starts at `i`: where the lexer picks up again after unexpected characters. */
    const startsToken = (i: number): boolean => {
      const c = text.charCodeAt(i);
      if (c >= 128) return c === 0xa0 || c === 0xfeff;
      switch (CLASS[c]) {
        case JUNK: return false;
        case SLASH: {
          const d = text.charCodeAt(i + 1);
          return d === 47 || (d === 42 && blockEnd(i + 2) !== -1);
        }
        case QUOTE: return stringEnd(i) !== -1;
        case LESS: return text.startsWith("<->", i);
        default: return true;
      }
    };

    let pos = 0;
    while (pos < n) {
      const c = text.charCodeAt(pos);
      const cls = c < 128 ? CLASS[c] : c === 0xa0 || c === 0xfeff ? SPACE : JUNK;
      switch (cls) {
        case SPACE:
          pos++;
          while (pos < n && isSpace(text.charCodeAt(pos))) pos++;
          continue;
        case LETTER: {
          // The word's hash, made while reading it, finds its image (and type) if it was read before.
          let h = c, end = pos + 1, e = text.charCodeAt(end);
          while (isWordChar(e)) {
            h = (Math.imul(h, 31) + e) | 0;
            e = text.charCodeAt(++end);
          }
          let dashed = false;
          while (e === 45 && isWordChar(text.charCodeAt(end + 1))) {
            h = (Math.imul(h, 31) + 45) | 0;
            e = text.charCodeAt(++end);
            while (isWordChar(e)) {
              h = (Math.imul(h, 31) + e) | 0;
              e = text.charCodeAt(++end);
            }
            dashed = true;
          }
          const slot = (h ^ (h >>> 13)) & mask;
          let image = wordImage[slot];
          if (wordHash[slot] !== h || image === undefined || !sameWord(text, pos, end, image)) {
            image = text.substring(pos, end);
            wordHash[slot] = h;
            wordImage[slot] = image;
            wordType[slot] = dashed ? DashedName : keyword(image) ?? Identifier;
          }
          add(token(image, pos, wordType[slot]));
          pos = end;
          continue;
        }
        case SINGLE:
          add(token(singleImage[c], pos, singleType[c]!));
          pos++;
          continue;
        case DIGIT: {
          let end = pos + 1;
          while (isDigit(text.charCodeAt(end))) end++;
          if (text.charCodeAt(end) === 46 && isDigit(text.charCodeAt(end + 1))) {
            end += 2;
            while (isDigit(text.charCodeAt(end))) end++;
          }
          add(token(text.substring(pos, end), pos, NumberLiteral));
          pos = end;
          continue;
        }
        case DASH:
          if (text.charCodeAt(pos + 1) === 62) {
            add(token("->", pos, Arrow));
            pos += 2;
          } else {
            add(token("-", pos, Minus));
            pos++;
          }
          continue;
        case QUOTE: {
          const end = stringEnd(pos);
          if (end === -1) break;
          add(token(text.substring(pos, end), pos, StringLiteral));
          pos = end;
          continue;
        }
        case SLASH: {
          const d = text.charCodeAt(pos + 1);
          if (d === 47) {
            let end = pos + 2;
            while (end < n && !isLineEnd(text.charCodeAt(end))) end++;
            comments.push(token(text.substring(pos, end), pos, text.charCodeAt(pos + 2) === 47 ? DocComment : LineComment));
            pos = end;
            continue;
          }
          if (d === 42) {
            const end = blockEnd(pos + 2);
            if (end === -1) break;
            comments.push(token(text.substring(pos, end), pos, BlockComment));
            pos = end;
            continue;
          }
          break;
        }
        case LESS:
          if (text.startsWith("<->", pos)) {
            add(token("<->", pos, BiArrow));
            pos += 3;
            continue;
          }
          break;
      }
      // No token starts here: skip to where one does, as one error (chevrotain's error, message and all).
      const start = pos;
      pos++;
      while (pos < n && !startsToken(pos)) pos++;
      const length = pos - start;
      errors.push({
        offset: start, line: undefined, column: undefined, length,
        message: `unexpected character: ->${text.charAt(start)}<- at offset: ${start}, skipped ${length} characters.`,
      });
    }
    block.length = count;
    const tokens = blocks.length === 1 ? block : blocks[0].concat(...blocks.slice(1));
    return { tokens, groups: { comments }, errors };
  };
}
