// The formatter works on tokens and comments, not the AST: it keeps the author's
// line breaks (at most one blank line in a row) and every comment, and fixes
// indentation and the spacing between tokens. Formatting twice changes nothing.
import type { IToken } from "chevrotain";
import { parse } from "./parser.ts";
import { DECLARATION_KEYWORDS, DURATION_UNITS, linesLexer, SIZE_UNITS } from "./tokens.ts";

const INDENT = "  ";
const declarationWords = new Set<string>(DECLARATION_KEYWORDS);
const attachedUnits = new Set([...Object.keys(SIZE_UNITS), ...Object.keys(DURATION_UNITS)]);
const noSpaceBefore = new Set(["Comma", "RParen", "RBracket", "Colon"]);
const noSpaceAfter = new Set(["LParen", "LBracket"]);

function kind(t: IToken): string {
  return t.tokenType.name;
}

function isComment(t: IToken): boolean {
  return kind(t).endsWith("Comment");
}

/** Tokens that start a value: a word before one is a field key, never a unit (as the parser reads it). */
const valueStarts = new Set(["NumberLiteral", "StringLiteral", "LBracket", "LBrace", "Colon"]);

/** Whether a space goes between two tokens on one line. */
function spaced(prev: IToken, next: IToken, beforePrev: IToken | undefined, afterNext: IToken | undefined): boolean {
  if (isComment(next)) return true;
  if (noSpaceBefore.has(kind(next)) || noSpaceAfter.has(kind(prev))) return false;
  // Body types and condition functions hug their parenthesis: serve(lunch), holds(pass).
  if (kind(next) === "LParen" && (kind(prev) === "Identifier" || /^Kw_(holds|kept|revoked)$/.test(kind(prev)))) return false;
  // Polarity hugs its body: +serve(lunch).
  if ((kind(prev) === "Plus" || kind(prev) === "Minus") && beforePrev && kind(beforePrev) !== "Comma") return false;
  if (kind(prev) === "NumberLiteral" && kind(next) === "Identifier" && attachedUnits.has(next.image)) {
    const attached = prev.endOffset! + 1 === next.startOffset;
    return !attached && !!afterNext && valueStarts.has(kind(afterNext));
  }
  return true;
}

/** Formats `text`; returns undefined when it has syntax errors (nothing to format safely). */
export function format(text: string): string | undefined {
  if (parse(text).errors.length) return undefined;
  const lexed = linesLexer.tokenize(text);
  const tokens = [...lexed.tokens, ...(lexed.groups.comments ?? [])].sort((a, b) => a.startOffset - b.startOffset);

  const lines: string[] = [];
  let line = "";
  let depth = 0;
  let lineDepth = 0;
  let prev: IToken | undefined;
  let beforePrev: IToken | undefined;

  const flush = () => {
    if (line) lines.push(INDENT.repeat(lineDepth) + line);
    line = "";
  };

  const code = tokens.filter((t) => !isComment(t));
  let codeIndex = -1;
  for (const t of tokens) {
    if (!isComment(t)) codeIndex++;
    const newLine = !prev || t.startLine! > prev.endLine! || (depth === 0 && declarationWords.has(t.image) && !isComment(t) && line !== "");
    if (newLine && prev) {
      flush();
      const gap = t.startLine! - prev.endLine!;
      if (gap > 1 && lines.length) lines.push("");
    }
    if (line === "") {
      lineDepth = kind(t) === "RBrace" ? Math.max(0, depth - 1) : depth;
      line = t.image;
    } else {
      const inline = isComment(t) && kind(t) !== "BlockComment" ? "  " : spaced(prev!, t, beforePrev, code[codeIndex + 1]) ? " " : "";
      line += inline + t.image;
    }
    if (kind(t) === "LBrace") depth++;
    if (kind(t) === "RBrace") depth = Math.max(0, depth - 1);
    beforePrev = prev;
    prev = t;
  }
  flush();
  while (lines.length && lines[0] === "") lines.shift();
  return lines.length ? lines.join("\n") + "\n" : "";
}
