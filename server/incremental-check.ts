// Checks again only what an edit can have changed. Every diagnostic of a check lies inside one declaration (its
// owner), and what a declaration's diagnostics read of the others is a small table of keys
// (language/program.ts `dependencies`). After an edit of one file, the declarations it added, removed or re-cut and
// those that share a key with them are checked again, in a program made of them and the declarations they read (in
// the program's order, so "first declared" and cycle orders are the same); every other declaration keeps its
// diagnostics, moved by the edit. Suggestions for unknown names come from the whole program's names. Anything this
// cannot place (a diagnostic outside a declaration, an edited import, too much to check) answers undefined: check
// the whole program.
import type { Declaration, SourceFile } from "../grammar/index.ts";
import { check, dependencies, diagnosticOrder, Program, symbolOf, type Diagnostic, type ImportLink, type ReferenceKind, type SourceHost } from "../language/index.ts";

/** How the parser moved offsets: an old offset before `from` stays, one at or past `to` moves by `delta`. */
export interface Edit { from: number; to: number; delta: number }

/** The last check of a program, by owner. */
export class CheckState {
  /** Each file's declarations as checked, in program order. */
  readonly decls = new Map<string, Declaration[]>();
  /** Diagnostics by owner (copies, at the offsets of the last check). */
  owned = new Map<Declaration, Diagnostic[]>();
  private index: Index | undefined;
  /** The index being built ahead of the first edit that needs it (`prepare`), from these declarations. */
  private building: { index: Index; queue: Declaration[]; next: number; gone: Set<Declaration> } | undefined;
  /** The program's imports (an edited import is checked whole, so they hold; their spans move with the tree). */
  private imports: ImportLink[] = [];
  /** Declarations checked again by the last incremental check (for tests and benchmarks). */
  rechecked = 0;

  /** From a whole check; undefined when a diagnostic has no owner. */
  static from(program: Program, diagnostics: Diagnostic[]): CheckState | undefined {
    const state = new CheckState();
    state.imports = program.imports;
    for (const [file, source] of program.files) state.decls.set(file, source.declarations);
    const parseErrors = new Set<unknown>();
    for (const source of program.files.values()) for (const e of source.errors) parseErrors.add(e.span);
    for (const d of diagnostics) {
      if (parseErrors.has(d.span)) continue;
      const owner = ownerOf(state.decls.get(d.path), d.span.start);
      if (!owner) return undefined;
      const list = state.owned.get(owner);
      const copy = structuredClone(d);
      if (list) list.push(copy); else state.owned.set(owner, [copy]);
    }
    return state;
  }

  /** Builds the next part of the dependency index (which the first edit that changes meaning needs: on a large file
   * it takes longer than the check itself), so that it is ready before that edit comes; true while some is left. */
  prepare(slice = 1000): boolean {
    if (this.index) return false;
    this.building ??= { index: new Index(), queue: [...this.decls.values()].flat(), next: 0, gone: new Set() };
    const b = this.building;
    for (const end = Math.min(b.queue.length, b.next + slice); b.next < end; b.next++) if (!b.gone.has(b.queue[b.next])) b.index.add(b.queue[b.next]);
    if (b.next < b.queue.length) return true;
    this.index = b.index;
    this.building = undefined;
    return false;
  }

  /** The whole answer: the files' syntax errors and every owner's diagnostics, in check's order. */
  diagnostics(files: Map<string, SourceFile>): Diagnostic[] {
    const out: Diagnostic[] = [];
    for (const [file, source] of files) for (const e of source.errors) out.push({ path: file, severity: "error", code: e.code, span: { ...e.span }, message: e.message });
    // Owners' spans do not overlap, so diagnostics of two owners never tie.
    for (const list of this.owned.values()) out.push(...list);
    return out.sort(diagnosticOrder);
  }

  /** Follows an edit that changed no meaning, answered with `diagnostics` (the last ones, moved): its
   * owners regrouped over the new declarations. False when one has no owner. */
  moved(files: Map<string, SourceFile>, diagnostics: Diagnostic[]): boolean {
    for (const [f, s] of files) if (this.decls.get(f) !== s.declarations) this.replace(f, s.declarations);
    const errors = new Map<string, number>();
    const key = (path: string, e: { span: { start: number; end: number }; code: string; message: string }) => `${path}\0${e.span.start}\0${e.span.end}\0${e.code}\0${e.message}`;
    for (const [f, s] of files) for (const e of s.errors) errors.set(key(f, e), (errors.get(key(f, e)) ?? 0) + 1);
    this.owned = new Map();
    for (const d of diagnostics) {
      const n = errors.get(key(d.path, d));
      if (n) { errors.set(key(d.path, d), n - 1); continue; }
      const owner = ownerOf(this.decls.get(d.path), d.span.start);
      if (!owner) return false;
      const list = this.owned.get(owner);
      if (list) list.push(d); else this.owned.set(owner, [d]);
    }
    return true;
  }

  /** Replaces a file's declarations, keeping the dependency index in step; returns what went and what came (the
   * declarations between the common first and last ones, which an incremental parse keeps as they were). */
  private replace(file: string, decls: Declaration[]): { removed: Declaration[]; added: Declaration[] } {
    const old = this.decls.get(file) ?? [];
    let a = 0;
    while (a < old.length && a < decls.length && old[a] === decls[a]) a++;
    let z = 0;
    while (z < old.length - a && z < decls.length - a && old[old.length - 1 - z] === decls[decls.length - 1 - z]) z++;
    const before = new Set(old.slice(a, old.length - z)), after = new Set(decls.slice(a, decls.length - z));
    const removed = [...before].filter((d) => !after.has(d)), added = [...after].filter((d) => !before.has(d));
    this.decls.set(file, decls);
    if (this.index) {
      for (const d of removed) this.index.remove(d);
      for (const d of added) this.index.add(d);
    } else if (this.building) {
      // An index half built keeps up too (an edit of spaces while it is built does not start it again).
      const b = this.building;
      for (const d of removed) { b.index.remove(d); b.gone.add(d); }
      b.queue.push(...added);
    }
    return { removed, added };
  }

  /** Checks again what `edit` (the only change since, in `file`) can have changed; undefined: check everything. */
  update(file: string, edit: Edit, files: Map<string, SourceFile>, host: SourceHost): Diagnostic[] | undefined {
    const source = files.get(file)!;
    if (files.size !== this.decls.size || [...files.keys()].some((f) => !this.decls.has(f))) return undefined;
    while (this.prepare(Infinity));
    const index = this.index!;
    const oldDecls = this.decls.get(file)!;
    // The declarations of the re-cut range (kept objects too: their offsets moved some other way than by `delta`).
    const recut: Declaration[] = [];
    for (let i = firstAt(source.declarations, edit.from); i < source.declarations.length && source.declarations[i].span.start < edit.to + edit.delta; i++) recut.push(source.declarations[i]);
    const { removed, added } = this.replace(file, source.declarations);
    const seeds = [...removed, ...added, ...recut];
    if (seeds.some((d) => d.kind === "import")) return undefined;
    const total = index.size;
    const dirty = new Set<Declaration>();
    const queue: Declaration[] = [];
    const mark = (d: Declaration) => { if (!dirty.has(d) && index.has(d)) { dirty.add(d); queue.push(d); } };
    for (const d of seeds) { mark(d); index.neighbours(d, mark); }
    // Names defined before and after, in order: when they differ, every suggestion for an unknown name may change.
    const inOrder = (ds: Declaration[], keep: Set<Declaration>) => [...keep].sort((x, y) => ds.indexOf(x) - ds.indexOf(y));
    const named = (ds: Declaration[], keep: Set<Declaration>) => inOrder(ds, keep).map((d) => { const s = symbolOf("", d); return s ? s.kind + ":" + s.name : ""; }).join("\n");
    const was = new Set([...removed, ...recut]), is = new Set([...added, ...recut]);
    if (named(oldDecls, was) !== named(source.declarations, is)) {
      for (const [owner, list] of this.owned) if (list.some((d) => d.code === "PG200" || d.code === "PG302" || d.code === "PG500")) mark(owner);
    }
    // Cycles of conditions and delegation chains: followed to their ends.
    while (queue.length) index.chained(queue.pop()!, mark);
    // Past a third of a large program, checking it all is as cheap.
    if (dirty.size * 3 > total && total > 64) return undefined;
    const context = new Set(dirty);
    for (const d of dirty) index.neighbours(d, (n) => context.add(n));
    // The part of the program to check, each file's declarations in order.
    const stubs = new Map<string, SourceFile>();
    let placed = 0;
    for (const [f, s] of files) {
      const declarations = inFileOrder(s.declarations, context);
      placed += declarations.length;
      stubs.set(f, { declarations, comments: [], errors: [], text: s.text });
    }
    if (placed !== context.size) return undefined;
    const candidates = new Map<ReferenceKind, string[]>();
    const all = (kind: ReferenceKind) => {
      let names = candidates.get(kind);
      if (!names) {
        const kinds = kind === "capability" ? ["capability", "delegate"] : [kind];
        names = [];
        for (const s of files.values()) for (const d of s.declarations) { const sym = symbolOf("", d); if (sym && kinds.includes(sym.kind)) names.push(sym.name); }
        candidates.set(kind, names);
      }
      return names;
    };
    const fresh = new Map<Declaration, Diagnostic[]>();
    for (const d of check(new Program(stubs, this.imports, host, { candidates: all, referencesIn: dirty }))) {
      const owner = ownerOf(files.get(d.path)!.declarations, d.span.start);
      if (!owner) return undefined;
      if (!dirty.has(owner)) continue;
      const list = fresh.get(owner);
      const copy = structuredClone(d);
      if (list) list.push(copy); else fresh.set(owner, [copy]);
    }
    // Every other owner keeps its diagnostics, moved.
    let lost = false;
    const place = (x: number) => (x < edit.from ? x : x >= edit.to ? x + edit.delta : ((lost = true), x));
    const move = <T extends { path: string; span: { start: number; end: number } }>(o: T): T =>
      o.path === file ? { ...o, span: { start: place(o.span.start), end: place(o.span.end) } } : o;
    const owned = new Map<Declaration, Diagnostic[]>();
    for (const [owner, list] of this.owned) {
      if (dirty.has(owner) || !index.has(owner)) continue;
      owned.set(owner, edit.delta === 0 && edit.to <= edit.from ? list : list.map((d) => {
        const out = move(d);
        if (d.related) out.related = d.related.map(move);
        if (d.fixes) out.fixes = d.fixes.map((f) => ({ ...f, edits: f.edits.map(move) }));
        return out;
      }));
    }
    if (lost) return undefined;
    for (const [owner, list] of fresh) owned.set(owner, list);
    this.owned = owned;
    this.rechecked = dirty.size;
    return this.diagnostics(files);
  }
}

/** Which declarations define and use each key. A declaration's keys are computed again when needed (cheaply, from
 * the declaration alone) rather than kept, and a key of one declaration holds it alone, not in a list: on a large
 * file, the index cost more memory than the parse. */
class Index {
  private readonly definers = new Map<string, Holders>();
  private readonly users = new Map<string, Holders>();
  private readonly current = new Set<Declaration>();

  get size(): number { return this.current.size; }
  has(d: Declaration): boolean { return this.current.has(d); }

  add(d: Declaration): void {
    this.current.add(d);
    const { defines, uses } = dependencies(d);
    for (const k of defines) hold(this.definers, k, d);
    for (const k of uses) hold(this.users, k, d);
  }

  /** Removed from the index; its keys are still known (from the declaration), for finding what depended on it. */
  remove(d: Declaration): void {
    if (!this.current.delete(d)) return;
    const { defines, uses } = dependencies(d);
    for (const k of defines) release(this.definers, k, d);
    for (const k of uses) release(this.users, k, d);
  }

  /** The declarations sharing a key with `d`: defining what it defines or uses, or using what it defines. */
  neighbours(d: Declaration, visit: (n: Declaration) => void): void {
    const { defines, uses } = dependencies(d);
    for (const k of defines) { each(this.definers.get(k), visit); each(this.users.get(k), visit); }
    for (const k of uses) each(this.definers.get(k), visit);
  }

  /** The declarations sharing a condition or chain key with `d`, either way. */
  chained(d: Declaration, visit: (n: Declaration) => void): void {
    const { defines, uses } = dependencies(d);
    for (const k of [...defines, ...uses]) {
      if (!k.startsWith("c:") && !k.startsWith("p:")) continue;
      each(this.definers.get(k), visit);
      each(this.users.get(k), visit);
    }
  }
}

/** The declarations holding a key, in the order they came: one alone, or a list. */
type Holders = Declaration | Declaration[];

function hold(map: Map<string, Holders>, key: string, d: Declaration): void {
  const h = map.get(key);
  if (h === undefined) map.set(key, d);
  else if (!Array.isArray(h)) { if (h !== d) map.set(key, [h, d]); }
  else if (h[h.length - 1] !== d) h.push(d); // a declaration that names a key twice names it in a row
}

function release(map: Map<string, Holders>, key: string, d: Declaration): void {
  const h = map.get(key);
  if (h === d) map.delete(key);
  else if (Array.isArray(h)) {
    const i = h.indexOf(d);
    if (i >= 0) h.splice(i, 1);
    if (h.length === 1) map.set(key, h[0]);
  }
}

function each(h: Holders | undefined, visit: (n: Declaration) => void): void {
  if (h === undefined) return;
  if (!Array.isArray(h)) visit(h);
  else for (const n of h) visit(n);
}

/** The declarations of `decls` (a file's, in order) that are in `keep`, in that order: found by their offsets, so a
 * few out of a large file cost no pass over it. */
function inFileOrder(decls: Declaration[], keep: Set<Declaration>): Declaration[] {
  const found: number[] = [];
  for (const d of keep) {
    for (let i = firstAt(decls, d.span.start); i < decls.length && decls[i].span.start === d.span.start; i++) {
      if (decls[i] === d) { found.push(i); break; }
    }
  }
  return found.sort((x, y) => x - y).map((i) => decls[i]);
}

/** The first declaration starting at or after an offset. */
function firstAt(decls: Declaration[], offset: number): number {
  let lo = 0, hi = decls.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (decls[mid].span.start < offset) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/** The declaration holding an offset (binary search over a file's declarations in order). */
function ownerOf(decls: Declaration[] | undefined, offset: number): Declaration | undefined {
  if (!decls) return undefined;
  let lo = 0, hi = decls.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (decls[mid].span.start <= offset) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found >= 0 && offset <= decls[found].span.end ? decls[found] : undefined;
}
