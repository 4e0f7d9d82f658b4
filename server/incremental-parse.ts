// Re-parses only what an edit touched. The parser already works declaration by declaration (it cuts the token
// stream at every declaration keyword), so a file cut into chunks at lines that start with a declaration keyword
// (outside block comments; above its run of `///` lines, which belong to it) parses to the same tree as the whole file. Each chunk is
// parsed with the next chunk's first keyword appended, so an unfinished declaration reports the same "found 'agent'"
// as in the whole file; that keyword's own partial declaration is dropped. Unchanged chunks are reused, their spans
// moved to where the chunk now starts.
import { parse, type SourceFile, type SyntaxError } from "../grammar/index.ts";

const KEYWORD_LINE = /^(import|grid|agent|currency|promise|capability|delegate|workload|scenario)(?![A-Za-z0-9_]|-[A-Za-z0-9_])/;

interface Chunk { start: number; end: number; next?: string }

/** Where declarations may be cut apart: line starts that begin with a declaration keyword at top level. */
export function chunkBoundaries(text: string): Chunk[] {
  const starts: { at: number; keyword?: string }[] = [{ at: 0 }];
  let inBlock = false;
  let previousLineHasDoc = false;
  // The run of whole-line doc comments just above (its start), when nothing above it is a doc comment too.
  let docRun: number | undefined;
  let lineStart = 0;
  while (lineStart <= text.length) {
    let lineEnd = lineStart;
    while (lineEnd < text.length && text[lineEnd] !== "\n" && text[lineEnd] !== "\r") lineEnd++;
    const line = text.slice(lineStart, lineEnd);
    const startsInBlock = inBlock;
    const first = text.charCodeAt(lineStart);
    // Only lines starting with a lower-case letter can start with a keyword: test the pattern on those alone.
    const keyword = !inBlock && lineStart > 0 && first >= 97 && first <= 119 ? KEYWORD_LINE.exec(line)?.[1] : undefined;
    if (keyword && !previousLineHasDoc) starts.push({ at: lineStart, keyword });
    else if (keyword && docRun !== undefined && docRun > 0) starts.push({ at: docRun, keyword });
    // Track block comments and doc comments on this line (strings end at the line's end, like the lexer's).
    let hasDoc = false;
    // Most lines hold no quote, slash or star: skip the character scan for them.
    const plain = !inBlock && line.indexOf("\"") < 0 && line.indexOf("/") < 0;
    for (let i = plain ? line.length : 0; i < line.length; i++) {
      if (inBlock) {
        if (line[i] === "*" && line[i + 1] === "/") { inBlock = false; i++; }
      } else if (line[i] === "\"") {
        // A string ends at its closing quote; an unterminated one is a lexer error on the quote alone.
        let j = i + 1;
        while (j < line.length && line[j] !== "\"") j += line[j] === "\\" && j + 1 < line.length ? 2 : line[j] === "\\" ? line.length : 1;
        if (j < line.length) i = j;
      } else if (line[i] === "/" && line[i + 1] === "/") {
        hasDoc = line[i + 2] === "/";
        break;
      } else if (line[i] === "/" && line[i + 1] === "*") {
        inBlock = true;
        i++;
      }
    }
    const wholeLineDoc = !startsInBlock && /^[ \t]*\/\/\//.test(line);
    docRun = wholeLineDoc ? (previousLineHasDoc ? docRun : lineStart) : undefined;
    previousLineHasDoc = hasDoc;
    if (lineEnd >= text.length) break;
    lineStart = lineEnd + (text[lineEnd] === "\r" && text[lineEnd + 1] === "\n" ? 2 : 1);
  }
  return starts.map((s, i) => ({
    start: s.at,
    end: i + 1 < starts.length ? starts[i + 1].at : text.length,
    next: starts[i + 1]?.keyword,
  }));
}

/** Adds `delta` to every span (any object with numeric start and end) in a tree, each object once. */
function shift(node: unknown, delta: number, seen: Set<object>): void {
  if (!node || typeof node !== "object" || seen.has(node)) return;
  seen.add(node);
  if (Array.isArray(node)) {
    for (const item of node) shift(item, delta, seen);
    return;
  }
  const o = node as Record<string, unknown>;
  if (typeof o.start === "number" && typeof o.end === "number") {
    o.start += delta;
    o.end += delta;
  }
  for (const key in o) {
    const v = o[key];
    if (v && typeof v === "object") shift(v, delta, seen);
  }
}

interface Parsed { key: string; result: SourceFile; offset: number }

export class IncrementalParser {
  private cache = new Map<string, Parsed[]>();
  /** Chunks parsed afresh by the last call (for tests and benchmarks). */
  reparsed = 0;

  parse(text: string): SourceFile {
    const chunks = chunkBoundaries(text);
    const next = new Map<string, Parsed[]>();
    const declarations: SourceFile["declarations"] = [];
    const comments: SourceFile["comments"] = [];
    const lexical: SyntaxError[] = [];
    const syntactic: SyntaxError[] = [];
    this.reparsed = 0;
    for (const chunk of chunks) {
      const body = text.slice(chunk.start, chunk.end);
      const key = chunk.next ? `${body}\u0000${chunk.next}` : body;
      let parsed = this.cache.get(key)?.pop();
      if (!parsed) {
        this.reparsed++;
        const result = parse(chunk.next ? body + chunk.next : body);
        if (chunk.next) {
          // Drop the appended keyword's own declaration and its errors.
          result.declarations = result.declarations.filter((d) => d.span.start < body.length);
          // The keyword alone is always an unfinished declaration: its error is the last one reported.
          const last = result.errors.at(-1);
          if (last && last.code === "PG101" && !(last.span.start < body.length)) result.errors.pop();
        }
        parsed = { key, result, offset: 0 };
      }
      if (parsed.offset !== chunk.start) {
        shift(parsed.result, chunk.start - parsed.offset, new Set());
        parsed.offset = chunk.start;
      }
      const list = next.get(key);
      if (list) list.push(parsed); else next.set(key, [parsed]);
      declarations.push(...parsed.result.declarations);
      comments.push(...parsed.result.comments);
      for (const e of parsed.result.errors) (e.code === "PG100" ? lexical : syntactic).push(e);
    }
    this.cache = next;
    return { declarations, comments, errors: [...lexical, ...syntactic], text };
  }
}
