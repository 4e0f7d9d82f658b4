// What the server knows about files: open documents (preferred) over the disk, the workspace's .pg files, and a
// cached analysis (program + diagnostics) per open document version.
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { LineIndex, parse, type SourceFile, type Span } from "../grammar/index.ts";
import { OverlayHost } from "./host.ts";
import { IncrementalParser } from "./incremental-parse.ts";
import { check, loadProgram, type Diagnostic, type PgSymbol, type Program, type Reference, type SourceHost, type SourceRead } from "../language/index.ts";

export interface OpenDocument { uri: string; version: number; getText(): string }

export interface Analysis {
  path: string;
  version: number;
  text: string;
  program: Program;
  diagnostics: Diagnostic[];
}

export function uriToPath(uri: string): string {
  return uri.startsWith("file:") ? fileURLToPath(uri) : uri;
}

export function pathToUri(p: string): string {
  return pathToFileURL(p).toString();
}

const SKIP_DIRS = new Set(["node_modules", ".git", "dist", "out", ".cache", ".test-artifacts"]);
const MAX_WORKSPACE_FILES = 5000;

export class Workspace implements SourceHost {
  /** Open documents by absolute path. */
  readonly open = new Map<string, OpenDocument>();
  /** Workspace .pg files on disk (absolute paths). */
  readonly files = new Set<string>();
  readonly roots: string[] = [];
  private readonly parseCache = new Map<string, SourceFile>();
  private readonly parsers = new Map<string, IncrementalParser>();
  private readonly analyses = new Map<string, Analysis>();
  private readonly lineIndexes = new Map<string, { text: string; index: LineIndex }>();

  private readonly host = new OverlayHost((p) => this.open.get(p)?.getText());

  readText(p: string): string | undefined {
    return this.host.readText(p);
  }

  read(p: string): SourceRead {
    return this.host.read(p);
  }

  exists(p: string): boolean {
    return this.host.exists(p);
  }

  addRoot(root: string): void {
    this.roots.push(root);
    const walk = (dir: string) => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (this.files.size >= MAX_WORKSPACE_FILES) return;
        if (e.isDirectory()) {
          if (!SKIP_DIRS.has(e.name) && !e.name.startsWith(".")) walk(path.join(dir, e.name));
        } else if (e.isFile() && e.name.endsWith(".pg")) this.files.add(path.join(dir, e.name));
      }
    };
    walk(root);
  }

  /** The file's parse, cached by text. */
  source(p: string): SourceFile | undefined {
    const text = this.readText(p);
    if (text === undefined) return undefined;
    const cached = this.parseCache.get(p);
    if (cached && cached.text === text) return cached;
    let parsed: SourceFile;
    if (this.open.has(p)) {
      let incremental = this.parsers.get(p);
      if (!incremental) this.parsers.set(p, (incremental = new IncrementalParser()));
      parsed = incremental.parse(text);
    } else {
      parsed = parse(text);
    }
    this.parseCache.set(p, parsed);
    return parsed;
  }

  lineIndex(p: string): LineIndex {
    const text = this.readText(p) ?? "";
    const cached = this.lineIndexes.get(p);
    if (cached && cached.text === text) return cached.index;
    const index = new LineIndex(text);
    this.lineIndexes.set(p, { text, index });
    return index;
  }

  program(entries: string[]): Program {
    // Open documents are parsed incrementally; loadProgram takes them from the cache.
    for (const p of this.open.keys()) this.source(p);
    return loadProgram(entries, this, this.parseCache);
  }

  /** The program rooted at an open document (or a file on disk) and its diagnostics; cached per document version. */
  analyze(p: string): Analysis {
    const doc = this.open.get(p);
    const text = this.readText(p) ?? "";
    const version = doc?.version ?? -1;
    const cached = this.analyses.get(p);
    if (cached && cached.version === version && cached.text === text && this.importsUnchanged(cached)) return cached;
    const program = this.program([p]);
    // Checking is the slow part: done once, and only when diagnostics are wanted (hover and completion never wait for it).
    let diagnostics: Diagnostic[] | undefined;
    const runCheck = () => {
      const checked = this.checked.get(p); // the checker thread's result may have come in since
      return checked && checked.version === version && checked.text === text ? checked.diagnostics : this.check(program, p);
    };
    const analysis: Analysis = { path: p, version, text, program, get diagnostics() { return (diagnostics ??= runCheck()); } };
    if (doc) this.analyses.set(p, analysis);
    return analysis;
  }

  /** The checker's diagnostics; if the checker itself fails, the syntax errors and one diagnostic saying so,
   * so that every other feature keeps working on the parsed program. */
  /** How many checks ran in this thread (the checker thread does them, unless it failed). */
  inProcessChecks = 0;

  private check(program: Program, p: string): Diagnostic[] {
    this.inProcessChecks++;
    try {
      return check(program);
    } catch (e) {
      this.onInternalError(`checker failed on ${p}: ${(e as Error).stack ?? e}`, program.files.get(p)?.text ?? "");
      const out: Diagnostic[] = [];
      for (const [file, source] of program.files) {
        for (const err of source.errors) out.push({ path: file, severity: "error", code: err.code, message: err.message, span: err.span });
      }
      out.push({ path: p, severity: "error", code: "PG000", span: { start: 0, end: 0 },
        message: `internal error in the checker, please report it: ${(e as Error).message}` });
      return out;
    }
  }

  /** Where internal errors go (the server logs them); PROMISEGRID_DUMP_DIR also keeps the text that caused it. */
  onInternalError: (message: string, text: string) => void = (message, text) => {
    const dir = process.env.PROMISEGRID_DUMP_DIR;
    if (dir) fs.writeFileSync(path.join(dir, `checker-crash-${Date.now()}.pg`), text);
    this.log(message);
  };

  log: (message: string) => void = (message) => console.error(message);

  /** Diagnostics the checker thread computed for a version of an open document (used instead of checking again). */
  private readonly checked = new Map<string, { version: number; text: string; diagnostics: Diagnostic[]; files: string[] }>();

  provideDiagnostics(p: string, version: number, text: string, diagnostics: Diagnostic[], files: string[]): void {
    this.checked.set(p, { version, text, diagnostics, files });
  }

  /** An analysis is stale when a file it imports has changed since. */
  private importsUnchanged(a: Analysis): boolean {
    for (const [file, source] of a.program.files) {
      if (file !== a.path && this.readText(file) !== source.text) return false;
    }
    return true;
  }

  close(p: string): void {
    this.open.delete(p);
    this.analyses.delete(p);
    this.parsers.delete(p);
    this.parseCache.delete(p);
    this.checked.delete(p);
  }

  forgetFile(p: string): void {
    this.host.forget(p);
    this.parseCache.delete(p);
    this.lineIndexes.delete(p);
  }

  /** Open documents whose program includes `p` (besides `p` itself). */
  dependents(p: string): string[] {
    const out: string[] = [];
    for (const other of this.open.keys()) {
      if (other === p) continue;
      // What its last analysis or its last check loaded (either may be the newer); unknown: recheck it too.
      const analyzed = this.analyses.get(other)?.program.files;
      const checked = this.checked.get(other)?.files;
      if ((!analyzed && !checked) || analyzed?.has(p) || checked?.includes(p)) out.push(other);
    }
    return out;
  }

  /** Programs that include `p`: its own, and one for each workspace or open file that imports it (transitively). */
  programsContaining(p: string): Program[] {
    const out: Program[] = [this.analyze(p).program];
    const candidates = new Set([...this.files, ...this.open.keys()]);
    candidates.delete(p);
    const covered = new Set<string>(out[0].files.keys());
    for (const c of [...candidates].sort()) {
      if (covered.has(c)) continue;
      const src = this.source(c);
      if (!src || !src.declarations.some((d) => d.kind === "import")) continue;
      const prog = this.program([c]);
      if (prog.files.has(p)) {
        out.push(prog);
        for (const f of prog.files.keys()) covered.add(f);
      }
    }
    return out;
  }
}

export function sameSymbol(a: PgSymbol | undefined, b: PgSymbol | undefined): boolean {
  return !!a && !!b && a.path === b.path && a.nameSpan.start === b.nameSpan.start && a.kind === b.kind;
}

export function contains(span: Span, offset: number): boolean {
  return span.start <= offset && offset <= span.end;
}

type Named = { symbol: PgSymbol; span: Span; reference?: Reference };
/** Per program and file, every declared name and resolved reference, sorted by start: a hover is a binary search. */
const namedIndex = new WeakMap<Program, Map<string, Named[]>>();

function named(program: Program, file: string): Named[] {
  let byFile = namedIndex.get(program);
  if (!byFile) namedIndex.set(program, (byFile = new Map()));
  let list = byFile.get(file);
  if (!list) {
    list = [];
    for (const s of program.symbols) if (s.path === file) list.push({ symbol: s, span: s.nameSpan });
    for (const r of program.references) if (r.path === file && r.symbol) list.push({ symbol: r.symbol, span: r.span, reference: r });
    // Declarations first where spans coincide, as before.
    list.sort((x, y) => x.span.start - y.span.start || Number(!!x.reference) - Number(!!y.reference));
    byFile.set(file, list);
  }
  return list;
}

/** The symbol named at `offset` in `file`: a declaration's name or a resolved reference. */
export function symbolAt(program: Program, file: string, offset: number): Named | undefined {
  const list = named(program, file);
  // The last entry starting at or before the offset, and those before it that still contain it.
  let lo = 0, hi = list.length - 1, at = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].span.start <= offset) { at = mid; lo = mid + 1; } else hi = mid - 1;
  }
  let best: Named | undefined;
  for (let i = at; i >= 0 && i > at - 8; i--) {
    const n = list[i];
    if (!contains(n.span, offset)) continue;
    if (!best || (!n.reference && best.reference) || (!!n.reference === !!best.reference && n.span.start < best.span.start)) best = n;
  }
  return best;
}
