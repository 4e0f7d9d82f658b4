// A program: one or more parsed files (joined by `import`), the names they
// declare (symbols) and every use of a name (references).
import * as path from "node:path";
import { parse, type Body, type Condition, type Declaration, type Field, type Name, type SourceFile, type Span } from "../grammar/index.ts";

export interface SourceHost {
  /** The text of a file, or undefined when it does not exist or cannot be read. */
  readText(path: string): string | undefined;
  exists(path: string): boolean;
  /** The text of a file, or why it is not .pg source (a host that can tell). */
  read?(path: string): SourceRead;
}

/** A file's text, or why it is not .pg source (without the path: the caller names it). */
export type SourceRead = { text: string } | { problem: string };

export type SymbolKind = "grid" | "agent" | "currency" | "promise" | "capability" | "delegate" | "workload" | "scenario";
/** What a reference expects: a capability reference accepts a capability or a delegation. */
export type ReferenceKind = "agent" | "currency" | "promise" | "capability" | "workload";

export interface PgSymbol {
  kind: SymbolKind;
  name: string;
  path: string;
  nameSpan: Span;
  decl: Declaration;
}

export interface Reference {
  path: string;
  span: Span;
  name: string;
  kind: ReferenceKind;
  /** Set when the name resolves. */
  symbol?: PgSymbol;
  /** A body argument may name a workload but need not; such references are not errors when unresolved. */
  optional?: boolean;
}

/** `problem`: why an imported file that exists cannot be read as .pg source (binary, not UTF-8, too large). */
export interface ImportLink { from: string; span: Span; path: string; found: boolean; problem?: string }

export class Program {
  readonly symbols: PgSymbol[] = [];
  readonly imports: ImportLink[];
  /** The first symbol of each kind and name; `later` holds the duplicates (rare), by the first. */
  private readonly first = new Map<SymbolKind, Map<string, PgSymbol>>();
  private readonly later = new Map<PgSymbol, PgSymbol[]>();
  private readonly byKind = new Map<string, { path: string; decl: Declaration }[]>();
  private referenceList?: Reference[];
  private readonly candidateNames = new Map<ReferenceKind, string[]>();

  /** A program of some of a larger one's declarations (to check only those): `candidates` are the larger one's
   * names, for suggestions; `referencesIn` are the declarations whose references are resolved. */
  constructor(readonly files: Map<string, SourceFile>, imports: ImportLink[], readonly host: SourceHost, private readonly part?: { candidates: (kind: ReferenceKind) => string[]; referencesIn: Set<Declaration> }) {
    this.imports = imports;
    for (const kind of SYMBOL_KINDS) this.first.set(kind, new Map());
    // Indexed loops here and in the walks below: a first check runs cold, where `for of` makes an iterator and a
    // result object per step.
    for (const [file, source] of files) {
      const decls = source.declarations;
      for (let i = 0; i < decls.length; i++) {
        const decl = decls[i];
        const symbol = symbolOf(file, decl);
        // A declaration's entry is its symbol when it has one (a symbol carries its path and declaration).
        let entry: { path: string; decl: Declaration } | undefined = symbol;
        if (symbol) {
          this.symbols.push(symbol);
          const names = this.first.get(symbol.kind)!;
          const first = names.get(symbol.name);
          if (!first) names.set(symbol.name, symbol);
          else {
            const more = this.later.get(first);
            if (more) more.push(symbol); else this.later.set(first, [symbol]);
          }
        } else entry = { path: file, decl };
        const same = this.byKind.get(decl.kind);
        if (same) same.push(entry!); else this.byKind.set(decl.kind, [entry!]);
      }
    }
  }

  /** Every use of a name, in file and declaration order (listed when first asked for: a check does not need it). */
  get references(): Reference[] {
    if (this.referenceList) return this.referenceList;
    const list: Reference[] = [];
    this.walk((file, name, kind, optional) => {
      if (!name || !name.text || name.text === "*") return;
      list.push({ path: file, span: name.span, name: name.text, kind, symbol: this.resolve(kind, name.text), optional });
    });
    return (this.referenceList = list);
  }

  /** Calls `visit` for each reference that must resolve and does not (not optional), in `references`' order,
   * without listing them. */
  eachUnresolved(visit: (path: string, span: Span, name: string, kind: ReferenceKind) => void): void {
    if (this.referenceList) {
      for (let i = 0; i < this.referenceList.length; i++) {
        const r = this.referenceList[i];
        if (!r.symbol && !r.optional) visit(r.path, r.span, r.name, r.kind);
      }
      return;
    }
    this.walk((file, name, kind, optional) => {
      if (optional || !name || !name.text || name.text === "*" || this.resolve(kind, name.text)) return;
      visit(file, name.span, name.text, kind);
    });
  }

  /** One visitor for the program, not one per declaration: the declarations whose references are resolved. */
  private walk(visit: (file: string, name: Name | undefined, kind: ReferenceKind, optional?: boolean) => void): void {
    let file = "";
    const each: Visit = (name, kind, optional) => visit(file, name, kind, optional);
    for (const [path, source] of this.files) {
      file = path;
      const decls = source.declarations;
      for (let i = 0; i < decls.length; i++) if (!this.part || this.part.referencesIn.has(decls[i])) collectReferences(decls[i], each);
    }
  }

  /** All symbols of a kind and name (more than one means a duplicate). */
  all(kind: SymbolKind, name: string): PgSymbol[] {
    const first = this.first.get(kind)?.get(name);
    if (!first) return [];
    const more = this.later.get(first);
    return more ? [first, ...more] : [first];
  }

  lookup(kind: SymbolKind, name: string): PgSymbol | undefined {
    return this.first.get(kind)?.get(name);
  }

  /** The last symbol of a kind and name (the first when it is not duplicated). */
  last(kind: SymbolKind, name: string): PgSymbol | undefined {
    const first = this.first.get(kind)?.get(name);
    const more = first && this.later.get(first);
    return more ? more[more.length - 1] : first;
  }

  resolve(kind: ReferenceKind, name: string): PgSymbol | undefined {
    if (kind === "capability") return this.first.get("capability")!.get(name) ?? this.first.get("delegate")!.get(name);
    return this.first.get(kind)!.get(name);
  }

  /** Names a reference of this kind could take, for suggestions and completion (a new array each call). */
  candidates(kind: ReferenceKind): string[] {
    if (this.part) return this.part.candidates(kind);
    let names = this.candidateNames.get(kind);
    if (!names) {
      const kinds: SymbolKind[] = kind === "capability" ? ["capability", "delegate"] : [kind];
      this.candidateNames.set(kind, (names = this.symbols.filter((s) => kinds.includes(s.kind)).map((s) => s.name)));
    }
    return [...names];
  }

  /** The declarations of a kind, in order (a new array each call: callers may change it). */
  declarations<K extends Declaration["kind"]>(kind: K): { path: string; decl: Extract<Declaration, { kind: K }> }[] {
    return [...this.declarationsOf(kind)];
  }

  /** The declarations of a kind, in order: the program's own list, not to be changed. */
  declarationsOf<K extends Declaration["kind"]>(kind: K): readonly { readonly path: string; readonly decl: Extract<Declaration, { kind: K }> }[] {
    return (this.byKind.get(kind) ?? NONE) as { path: string; decl: Extract<Declaration, { kind: K }> }[];
  }
}

const SYMBOL_KINDS: SymbolKind[] = ["grid", "agent", "currency", "promise", "capability", "delegate", "workload", "scenario"];
const NONE: never[] = [];

export function symbolOf(file: string, decl: Declaration): PgSymbol | undefined {
  switch (decl.kind) {
    case "import":
      return undefined;
    case "promise":
      return decl.name?.text ? { kind: "promise", name: decl.name.text, path: file, nameSpan: decl.name.span, decl } : undefined;
    case "scenario":
      return { kind: "scenario", name: decl.title, path: file, nameSpan: decl.titleSpan, decl };
    default:
      return decl.name?.text ? { kind: decl.kind, name: decl.name.text, path: file, nameSpan: decl.name.span, decl } : undefined;
  }
}

/** What a declaration's diagnostics read of other declarations, as keys: two declarations depend on each other when
 * one defines a key that the other defines or uses (the checker's reads, one place). `n:` a name (duplicates,
 * references, PG300, a workload's network promise); `g` the grid (PG801); `u:type:agent` a promise's possible
 * counterparts (PG301); `o:agent` an issuer's offers (PG400); `c:` promise names and the promises conditions name
 * (PG303) and `p:` capability names and delegations' parents (PG40x chains), both followed transitively. */
export interface Dependencies { defines: string[]; uses: string[] }

export function dependencies(decl: Declaration): Dependencies {
  const defines: string[] = [], uses: string[] = [];
  const name = declaredName(decl);
  if (name !== undefined) defines.push("n:" + name);
  collectReferences(decl, (n) => { if (n?.text && n.text !== "*") uses.push("n:" + n.text); });
  switch (decl.kind) {
    case "grid": defines.push("g"); break;
    case "promise": {
      if (decl.name?.text) defines.push("c:" + decl.name.text);
      if (decl.condition) conditionKeys(decl.condition, uses);
      if (decl.promiser?.text && decl.body) {
        if (decl.polarity) {
          const type = decl.body.type.text;
          defines.push(`u:${type}:${decl.promiser.text}`);
          for (let i = 0; i < decl.promisees.length; i++) defines.push(`u:${type}:${decl.promisees[i].text}`);
        }
        if (decl.polarity === "+") defines.push("o:" + decl.promiser.text);
      }
      break;
    }
    case "capability":
      if (decl.name?.text) defines.push("p:" + decl.name.text);
      if (decl.issuer?.text) uses.push("o:" + decl.issuer.text);
      break;
    case "delegate":
      if (decl.name?.text) defines.push("p:" + decl.name.text);
      if (decl.parent?.text) uses.push("p:" + decl.parent.text);
      break;
  }
  return { defines, uses };
}

/** The promises a condition waits on, as `c:` keys. */
function conditionKeys(c: Condition, out: string[]): void {
  if (c.kind === "kept" || c.kind === "ref") { if (c.promise?.text) out.push("c:" + c.promise.text); }
  else if (c.kind === "not") conditionKeys(c.operand, out);
  else if (c.kind === "and" || c.kind === "or") { conditionKeys(c.left, out); conditionKeys(c.right, out); }
}

/** The name a declaration's symbol has (symbolOf's, without making the symbol). */
function declaredName(decl: Declaration): string | undefined {
  if (decl.kind === "import") return undefined;
  if (decl.kind === "scenario") return decl.title;
  return decl.name?.text ? decl.name.text : undefined;
}

type Visit = (name: Name | undefined, kind: ReferenceKind, optional?: boolean) => void;

function visitBody(body: Body | undefined, visit: Visit): void {
  if (!body) return;
  for (let i = 0; i < body.args.length; i++) {
    const arg = body.args[i];
    if (arg.kind === "ident") visit(arg.name, "workload", true);
    if (arg.kind === "number" && arg.unit) visit(arg.unit, "currency");
  }
}

function visitCondition(c: Condition | undefined, visit: Visit): void {
  if (!c) return;
  if (c.kind === "holds") visit(c.capability, "capability");
  else if (c.kind === "kept" || c.kind === "ref") visit(c.promise, "promise");
  else if (c.kind === "not") visitCondition(c.operand, visit);
  else { visitCondition(c.left, visit); visitCondition(c.right, visit); }
}

/** Currency units in promise constraints (`price 3 taco`). */
function visitConstraintUnits(fields: Field[], visit: Visit): void {
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    if (f.key.text === "price" && f.value?.kind === "number" && f.value.unit) visit(f.value.unit, "currency");
  }
}

export function collectReferences(decl: Declaration, visit: Visit): void {
  switch (decl.kind) {
    case "currency":
      visit(decl.issuer, "agent");
      return;
    case "promise":
      visit(decl.promiser, "agent");
      for (let i = 0; i < decl.promisees.length; i++) visit(decl.promisees[i], "agent");
      visitBody(decl.body, visit);
      if (decl.condition) visitCondition(decl.condition, visit);
      if (decl.constraints.length) visitConstraintUnits(decl.constraints, visit);
      return;
    case "capability":
      visit(decl.issuer, "agent");
      visit(decl.holder, "agent");
      for (let i = 0; i < decl.grants.length; i++) visitBody(decl.grants[i], visit);
      return;
    case "delegate":
      visit(decl.parent, "capability");
      visit(decl.by, "agent");
      visit(decl.to, "agent");
      for (let i = 0; i < decl.grants.length; i++) visitBody(decl.grants[i], visit);
      return;
    case "scenario":
      for (const item of decl.items) {
        switch (item.kind) {
          case "link": for (const a of item.agents) visit(a, "agent"); break;
          case "balance": visit(item.agent, "agent"); visit(item.amount?.unit, "currency"); break;
          case "step": {
            const e = item.event;
            if (!e) break;
            if (e.kind === "partition") e.groups.flat().forEach((a) => visit(a, "agent"));
            if (e.kind === "heal" || e.kind === "partition") break;
            visit(e.agent, "agent");
            if (e.kind === "invoke") { visit(e.capability, "capability"); visit(e.at, "agent"); }
            if (e.kind === "revoke") visit(e.capability, "capability");
            if (e.kind === "break") visit(e.promise, "promise");
            if (e.kind === "pay") { visit(e.amount?.unit, "currency"); visit(e.to, "agent"); }
            if (e.kind === "delegate") { visit(e.capability, "capability"); visit(e.to, "agent"); }
            break;
          }
          case "expect": {
            const x = item.expectation;
            if (!x) break;
            if (x.kind === "knows") { visit(x.agent, "agent"); visit(x.capability, "capability"); }
            if (x.kind === "balance") { visit(x.agent, "agent"); visit(x.amount?.unit, "currency"); }
            if (x.kind === "promise") { visit(x.promise, "promise"); visit(x.forAgent, "agent"); }
            break;
          }
        }
      }
      return;
    default:
      return;
  }
}

/** Parses the entry files and every file they import, transitively. */
export function loadProgram(entryPaths: string[], host: SourceHost, cache?: Map<string, SourceFile>): Program {
  const files = new Map<string, SourceFile>();
  const imports: ImportLink[] = [];
  const problems = new Map<string, string>();
  const queue = entryPaths.map((p) => path.resolve(p));
  while (queue.length) {
    const file = queue.shift()!;
    if (files.has(file)) continue;
    const read = host.read ? host.read(file) : { text: host.readText(file) ?? "" };
    if ("problem" in read) problems.set(file, read.problem);
    const text = "text" in read ? read.text : "";
    const cached = cache?.get(file);
    const source = cached && cached.text === text ? cached : parse(text);
    cache?.set(file, source);
    files.set(file, source);
    for (let i = 0; i < source.declarations.length; i++) {
      const decl = source.declarations[i];
      if (decl.kind !== "import" || !decl.path) continue;
      const target = path.resolve(path.dirname(file), decl.path);
      const found = files.has(target) || host.exists(target);
      imports.push({ from: file, span: decl.pathSpan, path: target, found });
      if (found) queue.push(target);
    }
  }
  for (const link of imports) if (problems.has(link.path)) link.problem = problems.get(link.path);
  return new Program(files, imports, host);
}
