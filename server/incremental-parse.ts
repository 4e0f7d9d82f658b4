// Re-parses only what an edit touched. The parser already works declaration by declaration (it cuts the token
// stream at every declaration keyword), so a file cut into chunks at lines that start with a declaration keyword
// (outside block comments; above its run of `///` lines, which belong to it) parses to the same tree as the whole
// file. Each chunk is parsed knowing the next chunk's keyword (`followedBy`), so an unfinished declaration reports the
// same "found 'agent'" as in the whole file. An edit is found by the common prefix and suffix with the last text,
// whether the editor sent a range or the whole document; the chunks it touches are cut and parsed again, the others
// are kept (those after it moved, one pass over a flat list of their spans).
import { parse, type SourceFile, type SyntaxError } from "../grammar/index.ts";

const QUOTE = 34, SLASH = 47, STAR = 42, BACKSLASH = 92;
/** Sticky: tried at a line's start in the whole text (a slice per line costs more than the test). */
const KEYWORD_AT = /(import|grid|agent|currency|promise|capability|delegate|workload|scenario)(?![A-Za-z0-9_]|-[A-Za-z0-9_])/y;

function keywordAt(text: string, at: number): string | undefined {
  KEYWORD_AT.lastIndex = at;
  return KEYWORD_AT.exec(text)?.[1];
}

interface Chunk { start: number; end: number; next?: string }

/** The empty list of a chunk without comments or errors, shared (frozen: chunks' lists are only read). */
const NONE = Object.freeze([]) as unknown as never[];
interface Boundary { at: number; keyword?: string }

/** Where declarations may be cut apart: line starts that begin with a declaration keyword at top level. */
export function chunkBoundaries(text: string, minChunk = 0): Chunk[] {
  return toChunks(coarse(scanBoundaries(text, 0, undefined), minChunk, false), text.length);
}

/** A chunk holds declarations until it is at least `minChunk` characters long: a piece costs some 250 bytes however
 * short its text (one per line of a large file: some 25 MB per 100,000 lines, in each thread), and an edit re-parses
 * a chunk or two of 1 KB as fast as one line. The first boundary is kept, and the last when `lastFixed`. */
function coarse(starts: Boundary[], minChunk: number, lastFixed: boolean): Boundary[] {
  if (minChunk <= 0) return starts;
  const out = [starts[0]];
  for (let i = 1; i < starts.length; i++) {
    if (starts[i].at - out[out.length - 1].at >= minChunk || (lastFixed && i === starts.length - 1)) out.push(starts[i]);
  }
  return out;
}

/** The default least length of a chunk (characters). */
export const MIN_CHUNK = 1024;

function toChunks(starts: Boundary[], end: number): Chunk[] {
  return starts.map((s, i) => ({ start: s.at, end: i + 1 < starts.length ? starts[i + 1].at : end, next: starts[i + 1]?.keyword }));
}

/** The boundaries from `from` (a boundary, or 0: the scanner's state is the same at each), until `stop` says a
 * boundary found is where the rest is known. The returned list starts with `from` itself. */
function scanBoundaries(text: string, from: number, fromKeyword: string | undefined, stop?: (b: Boundary) => boolean): Boundary[] {
  const starts: Boundary[] = [{ at: from, keyword: fromKeyword }];
  const push = (b: Boundary) => { starts.push(b); return !!stop?.(b); };
  let inBlock = false;
  let previousLineHasDoc = false;
  // The run of whole-line doc comments just above (its start), when nothing above it is a doc comment too.
  let docRun: number | undefined;
  let lineStart = from;
  while (lineStart <= text.length) {
    let lineEnd = lineStart;
    while (lineEnd < text.length && text.charCodeAt(lineEnd) !== 10 && text.charCodeAt(lineEnd) !== 13) lineEnd++;
    const startsInBlock = inBlock;
    const first = text.charCodeAt(lineStart);
    // Only lines starting with a lower-case letter can start with a keyword: test the pattern on those alone.
    const keyword = !inBlock && lineStart > from && first >= 97 && first <= 119 ? keywordAt(text, lineStart) : undefined;
    if (keyword && !previousLineHasDoc) { if (push({ at: lineStart, keyword })) return starts; }
    else if (keyword && docRun !== undefined && docRun > from) { if (push({ at: docRun, keyword })) return starts; }
    // Track block comments and doc comments on this line (strings end at the line's end, like the lexer's).
    let hasDoc = false;
    for (let i = lineStart; i < lineEnd; i++) {
      const c = text.charCodeAt(i);
      if (inBlock) {
        if (c === STAR && text.charCodeAt(i + 1) === SLASH) { inBlock = false; i++; }
      } else if (c === QUOTE) {
        // A string ends at its closing quote; an unterminated one is a lexer error on the quote alone.
        let j = i + 1;
        while (j < lineEnd && text.charCodeAt(j) !== QUOTE) j += text.charCodeAt(j) === BACKSLASH && j + 1 < lineEnd ? 2 : text.charCodeAt(j) === BACKSLASH ? lineEnd : 1;
        if (j < lineEnd) i = j;
      } else if (c === SLASH && text.charCodeAt(i + 1) === SLASH) {
        hasDoc = text.charCodeAt(i + 2) === SLASH && i + 2 < lineEnd;
        break;
      } else if (c === SLASH && text.charCodeAt(i + 1) === STAR && i + 1 < lineEnd) {
        inBlock = true;
        i++;
      }
    }
    let indent = lineStart;
    while (indent < lineEnd && (text.charCodeAt(indent) === 32 || text.charCodeAt(indent) === 9)) indent++;
    const wholeLineDoc = !startsInBlock && indent + 2 < lineEnd && text.startsWith("///", indent);
    docRun = wholeLineDoc ? (previousLineHasDoc ? docRun : lineStart) : undefined;
    previousLineHasDoc = hasDoc;
    if (lineEnd >= text.length) break;
    lineStart = lineEnd + (text.charCodeAt(lineEnd) === 13 && text.charCodeAt(lineEnd + 1) === 10 ? 2 : 1);
  }
  return starts;
}

/** Every distinct span object (anything with numeric start and end) in a tree, each once, so moving a chunk is
 * one pass over a flat list. Depth is bounded by the parser's nesting limit. */
function spansOf(node: unknown, out: { start: number; end: number }[], seen: Set<object>): void {
  if (!node || typeof node !== "object" || seen.has(node)) return;
  seen.add(node);
  if (Array.isArray(node)) {
    for (const item of node) spansOf(item, out, seen);
    return;
  }
  const o = node as Record<string, unknown>;
  if (typeof o.start === "number" && typeof o.end === "number") out.push(o as { start: number; end: number });
  for (const key in o) {
    const v = o[key];
    if (v && typeof v === "object") spansOf(v, out, seen);
  }
}

/** One chunk's parse, its spans at `offset` (where the chunk starts in the text). */
interface Parsed { key: string; result: SourceFile; offset: number; spans?: { start: number; end: number }[] }

function move(parsed: Parsed, to: number): void {
  const delta = to - parsed.offset;
  if (!delta) return;
  if (!parsed.spans) spansOf(parsed.result, (parsed.spans = []), new Set());
  for (const s of parsed.spans) { s.start += delta; s.end += delta; }
  parsed.offset = to;
}

interface Piece extends Chunk { keyword?: string; parsed: Parsed }

/** The chunks' declarations and errors, however the text is cut (an edit may join two chunks or split one). */
function flat(pieces: Piece[]): unknown {
  return [pieces.flatMap((p) => p.parsed.result.declarations), pieces.flatMap((p) => p.parsed.result.errors)];
}

/** What a chunk means, leaving out where: its declarations and errors without their offsets. */
function meaningOf(pieces: Piece[]): string {
  return JSON.stringify(flat(pieces), (k, v) => (k === "start" || k === "end" ? undefined : v));
}

/** Every span offset in the chunks, in the order meaningOf visits them. */
function offsetsOf(pieces: Piece[]): number[] {
  const out: number[] = [];
  JSON.stringify(flat(pieces), (k, v) => {
    if (k === "start" || k === "end") { out.push(v as number); return undefined; }
    return v;
  });
  return out;
}

export class IncrementalParser {
  /** `minChunk`: the least length of a chunk, in characters (0: a chunk per declaration). */
  constructor(private readonly minChunk = MIN_CHUNK) {}

  /** The last text, its parse, and its pieces: after a first parse, cut into pieces only when an edit or `prepare`
   * needs them (the open of a file costs its parse alone). A chunk with an error is then parsed again alone, so its
   * declarations after the first edit are new objects, equal to those the first parse gave. */
  private last: { text: string; pieces?: Piece[]; file: SourceFile } | undefined;
  /** Chunks parsed afresh by the last call (for tests and benchmarks). */
  reparsed = 0;
  /** Goes up with every parse whose declarations or errors differ from the last one's in more than their
   * offsets (an edit of spaces within a line or of a plain comment leaves it as it was). */
  meaning = 0;
  /** Parses so far. */
  parses = 0;
  /** How the last parse moved offsets, when it changed no meaning: an old offset in [from, to) (the chunks cut
   * again) that is a span's start or end maps through `at`; offsets past `to` move by `delta`; others stay. */
  moved: { from: number; to: number; delta: number; at: Map<number, number> } | undefined;
  /** How the last parse moved offsets outside the chunks it cut again, [from, to) (old offsets), whatever it meant;
   * undefined after a parse from scratch. */
  edit: { from: number; to: number; delta: number } | undefined;

  parse(text: string): SourceFile {
    this.reparsed = 0;
    this.parses++;
    this.moved = undefined;
    this.edit = undefined;
    if (!this.last) this.meaning++;
    const last = this.last;
    if (!last) {
      const whole = parse(text);
      this.reparsed = 1;
      this.last = { text, file: whole };
      return { declarations: whole.declarations, comments: whole.comments, errors: whole.errors, text };
    }
    const old = this.piecesOf(last);
    const { pieces, at, removed, added } = this.reuse(last.text, old, text);
    const lexical: SyntaxError[] = [];
    const syntactic: SyntaxError[] = [];
    for (const { parsed } of pieces) for (const e of parsed.result.errors) (e.code === "PG100" ? lexical : syntactic).push(e);
    // The lists of the last parse with the re-cut run replaced: copying whole runs of a list costs far less than
    // pushing a large file's declarations one by one. One copy (the last file keeps its lists): slices joined by
    // concat made three, each as long as the list, on every edit of a large file in both threads.
    const run = <T>(list: T[], of: (p: Piece) => T[]) => {
      let before = 0, gone = 0;
      for (let i = 0; i < at; i++) before += of(pieces[i]).length;
      for (let i = at; i < at + removed; i++) gone += of(old[i]).length;
      const middle: T[] = [];
      for (let i = at; i < at + added; i++) for (const x of of(pieces[i])) middle.push(x);
      const out = list.slice();
      if (middle.length === gone) for (let i = 0; i < gone; i++) out[before + i] = middle[i];
      else if (middle.length <= SPLICE_MAX) out.splice(before, gone, ...middle);
      else return list.slice(0, before).concat(middle, list.slice(before + gone));
      return out;
    };
    const declarations = run(last.file.declarations, (p) => p.parsed.result.declarations);
    const comments = run(last.file.comments, (p) => p.parsed.result.comments);
    const file = { declarations, comments, errors: lexical.length ? [...lexical, ...syntactic] : syntactic, text };
    this.last = { text, pieces, file };
    return file;
  }

  /** Cuts the last parse into pieces now, if it is not yet (between requests, so that the first edit does not). */
  prepare(): void {
    if (this.last) this.piecesOf(this.last);
  }

  private piecesOf(last: { text: string; pieces?: Piece[]; file: SourceFile }): Piece[] {
    if (last.pieces) return last.pieces;
    const reparsed = this.reparsed;
    last.pieces = this.cut(last.text, last.file);
    this.reparsed = reparsed; // parsed by the last call, not this one
    // The lists as the pieces hold them (a chunk with an error, parsed again alone, holds objects of its own).
    last.file = { ...last.file, ...flatten(last.pieces) };
    return last.pieces;
  }

  private parseChunk(text: string, c: Chunk): Parsed {
    this.reparsed++;
    const body = text.slice(c.start, c.end);
    return { key: keyOf(body, c.next), result: parse(body, { followedBy: c.next }), offset: 0 };
  }

  /** A first parse (the whole text at once: much cheaper than chunk by chunk), cut into chunks; a chunk with an
   * error (or just before one at its end, reported on the next chunk's keyword) is parsed again alone, so it reports
   * exactly what it would alone. */
  private cut(text: string, whole: SourceFile): Piece[] {
    const starts = coarse(scanBoundaries(text, 0, undefined), this.minChunk, false);
    const chunks = toChunks(starts, text.length);
    const dirty = new Set<number>();
    for (const e of whole.errors) {
      let lo = 0, hi = chunks.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (chunks[mid].start <= e.span.start) lo = mid; else hi = mid - 1;
      }
      dirty.add(lo);
      if (lo > 0 && chunks[lo].start === e.span.start) dirty.add(lo - 1);
    }
    const pieces: Piece[] = [];
    let d = 0, k = 0;
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i];
      // Arrays of their exact length (pushing onto an empty one reserves room for 17: a file of many short
      // declarations held some 130 bytes more per chunk).
      const [d0, k0] = [d, k];
      while (d < whole.declarations.length && whole.declarations[d].span.start < c.end) d++;
      while (k < whole.comments.length && whole.comments[k].span.start < c.end) k++;
      const result: SourceFile = { declarations: whole.declarations.slice(d0, d), comments: k > k0 ? whole.comments.slice(k0, k) : NONE, errors: NONE, text: "" };
      // Written out, not spread: a spread per chunk costs more than the loop's other work.
      const keyword = starts[i].keyword;
      if (dirty.has(i)) {
        pieces.push(this.place({ start: c.start, end: c.end, next: c.next, keyword }, this.parseChunk(text, c)));
        continue;
      }
      pieces.push({ start: c.start, end: c.end, next: c.next, keyword, parsed: { key: "", result, offset: c.start } });
    }
    return pieces;
  }

  private place(c: Piece | (Chunk & { keyword?: string }), parsed: Parsed): Piece {
    move(parsed, c.start);
    return { start: c.start, end: c.end, next: c.next, keyword: c.keyword, parsed };
  }

  /** Only the chunks an edit touched are cut and parsed again: the text is compared with the last one (common
   * prefix and suffix), chunks before the change are kept, chunks after it are moved. The new list of pieces is the
   * old one with, from `at`, `removed` old pieces replaced by `added` new ones. */
  private reuse(old: string, pieces: Piece[], text: string): { pieces: Piece[]; at: number; removed: number; added: number } {
    const prefix = commonPrefix(old, text);
    if (prefix === old.length && prefix === text.length) {
      this.moved = { from: 0, to: 0, delta: 0, at: new Map() };
      this.edit = { from: 0, to: 0, delta: 0 };
      return { pieces, at: pieces.length, removed: 0, added: 0 };
    }
    const suffix = commonSuffix(old, text, Math.min(old.length, text.length) - prefix);
    const delta = text.length - old.length;
    const changedEnd = text.length - suffix; // end of the changed region in the new text
    // The chunk holding the first changed character, and the one before it (whose end may move).
    let a = 0;
    for (let lo = 0, hi = pieces.length - 1; lo <= hi;) {
      const mid = (lo + hi) >> 1;
      if (pieces[mid].start <= prefix) { a = mid; lo = mid + 1; } else hi = mid - 1;
    }
    a = Math.max(0, a - 1);
    // Scan until a boundary at an old chunk's start, past the change: from there on, the old chunks hold.
    let resume = pieces.length;
    const lookup = (b: Boundary) => {
      if (b.at < changedEnd) return false;
      const i = findStart(pieces, b.at - delta);
      if (i === undefined) return false;
      resume = i;
      return true;
    };
    const found = scanBoundaries(text, pieces[a].start, pieces[a].keyword, lookup);
    const resumed = resume < pieces.length;
    // The boundary resumed at is an old chunk's start: kept, whatever the length before it.
    const starts = coarse(found, this.minChunk, resumed);
    const scanned = resumed ? starts.slice(0, -1) : starts;
    const end = resumed ? pieces[resume].start + delta : text.length;
    const chunks = toChunks(resumed ? starts : scanned, end);
    if (resumed) chunks.pop();
    // Old chunks in the replaced range, by text, for edits that move or restore whole declarations.
    const byKey = new Map<string, Parsed[]>();
    for (let i = a; i < resume; i++) {
      const p = pieces[i];
      const key = p.parsed.key || keyOf(old.slice(p.start, p.end), p.next);
      const list = byKey.get(key);
      if (list) list.push(p.parsed); else byKey.set(key, [p.parsed]);
    }
    const before = meaningOf(pieces.slice(a, resume));
    const from = pieces[a].start, to = resume < pieces.length ? pieces[resume].start : old.length;
    const oldOffsets = offsetsOf(pieces.slice(a, resume));
    this.edit = { from, to, delta };
    const out = pieces.slice(0, a);
    for (const [i, c] of chunks.entries()) {
      const key = keyOf(text.slice(c.start, c.end), c.next);
      const parsed = byKey.get(key)?.shift() ?? this.parseChunk(text, c);
      parsed.key = key;
      out.push(this.place({ ...c, keyword: scanned[i].keyword }, parsed));
    }
    if (meaningOf(out.slice(a)) !== before) this.meaning++;
    else {
      const newOffsets = offsetsOf(out.slice(a));
      const at = new Map<number, number>();
      // An offset that is both a span's end and the next one's start may move for one and not the other: NaN, unknown.
      oldOffsets.forEach((o, i) => at.set(o, at.has(o) && at.get(o) !== newOffsets[i] ? NaN : newOffsets[i]));
      this.moved = { from, to, delta, at };
    }
    // The pieces after the edit are moved in place (the old list is dropped).
    for (let i = resume; i < pieces.length; i++) {
      const p = pieces[i];
      move(p.parsed, p.start + delta);
      p.start += delta;
      p.end += delta;
      out.push(p);
    }
    return { pieces: out, at: a, removed: resume - a, added: chunks.length };
  }
}

/** The most items put into a list by one splice (its arguments; a re-cut run longer than this is joined by concat). */
const SPLICE_MAX = 10_000;

/** Blocks of text compared at once: comparing two slices runs in native code, some 30 times faster than a loop over
 * characters on a large file. */
const BLOCK = 4096;

function commonPrefix(a: string, b: string): number {
  const max = Math.min(a.length, b.length);
  let n = 0;
  while (n + BLOCK <= max && a.slice(n, n + BLOCK) === b.slice(n, n + BLOCK)) n += BLOCK;
  while (n < max && a.charCodeAt(n) === b.charCodeAt(n)) n++;
  return n;
}

/** The length of the common end of `a` and `b`, at most `max`. */
function commonSuffix(a: string, b: string, max: number): number {
  let n = 0;
  while (n + BLOCK <= max && a.slice(a.length - n - BLOCK, a.length - n) === b.slice(b.length - n - BLOCK, b.length - n)) n += BLOCK;
  while (n < max && a.charCodeAt(a.length - 1 - n) === b.charCodeAt(b.length - 1 - n)) n++;
  return n;
}

function flatten(pieces: Piece[]): Pick<SourceFile, "declarations" | "comments"> {
  const declarations: SourceFile["declarations"] = [];
  const comments: SourceFile["comments"] = [];
  for (const { parsed } of pieces) {
    for (const d of parsed.result.declarations) declarations.push(d);
    for (const c of parsed.result.comments) comments.push(c);
  }
  return { declarations, comments };
}

function keyOf(body: string, next: string | undefined): string {
  return next ? `${body}\u0000${next}` : body;
}

function findStart(pieces: Piece[], at: number): number | undefined {
  for (let lo = 0, hi = pieces.length - 1; lo <= hi;) {
    const mid = (lo + hi) >> 1;
    if (pieces[mid].start === at) return mid;
    if (pieces[mid].start < at) lo = mid + 1; else hi = mid - 1;
  }
  return undefined;
}
