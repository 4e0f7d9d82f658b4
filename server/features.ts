// Each LSP feature as a function of the workspace and a position: the adapter between language/ and LSP types.
import * as fs from "node:fs";
import * as path from "node:path";
import {
  CodeActionKind, CompletionItemKind, DiagnosticSeverity, DocumentHighlightKind, FoldingRangeKind,
  InlayHintKind, InsertTextFormat, SymbolKind,
  type CodeAction, type CodeLens, type CompletionItem, type CompletionList, type Diagnostic as LspDiagnostic, type DocumentHighlight,
  type DocumentSymbol, type FoldingRange, type Hover, type InlayHint, type Location, type Range, type TextEdit,
  type WorkspaceEdit, type WorkspaceSymbol,
} from "vscode-languageserver/node.js";
import {
  DECLARATION_KEYWORDS, KEYWORDS, format, type Body, type CapabilityDecl, type Declaration, type DelegateDecl, type Span,
} from "../grammar/index.ts";
import {
  DEFAULT_HASH, HASHES, WORKLOAD_FIELDS, covers, grantOf, bodyText, compile, fileChunks, readWorkloadFile,
  type Diagnostic, type PgSymbol, type Program, type SymbolKind as PgSymbolKind,
} from "../language/index.ts";
import type { RevocationTimeline } from "../language/simulator/timeline.ts";
import { durationText } from "../language/checker.ts";
import snippets from "../snippets/promisegrid.json" with { type: "json" };
import { MAX_DOCUMENT_BYTES } from "./host.ts";
import { contains, pathToUri, sameSymbol, symbolAt, type Workspace } from "./workspace.ts";

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function range(ws: Workspace, file: string, span: Span): Range {
  return ws.lineIndex(file).range(span);
}

// ---- diagnostics ----------------------------------------------------------------------------------------------

const SEVERITY = {
  error: DiagnosticSeverity.Error, warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information, hint: DiagnosticSeverity.Hint,
} as const;

export function toLspDiagnostic(ws: Workspace, d: Diagnostic): LspDiagnostic {
  return {
    range: range(ws, d.path, d.span),
    severity: SEVERITY[d.severity],
    code: d.code,
    source: "promisegrid",
    message: d.message,
    relatedInformation: d.related?.map((r) => ({ location: { uri: pathToUri(r.path), range: range(ws, r.path, r.span) }, message: r.message })),
  };
}

/** The one diagnostic of a document too large to parse. */
export function tooLargeDiagnostic(text: string): LspDiagnostic {
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  return {
    range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, severity: DiagnosticSeverity.Warning, source: "promisegrid",
    message: `this file is ${mb(Buffer.byteLength(text))} MB: PromiseGrid checks files up to ${mb(MAX_DOCUMENT_BYTES)} MB, so it is neither parsed nor checked, and names in it are not known to the editor`,
  };
}

export function diagnostics(ws: Workspace, file: string): LspDiagnostic[] {
  return toLspDiagnostics(ws, file, ws.analyze(file).diagnostics);
}

/** The diagnostics that belong to `file`, as LSP diagnostics. */
export function toLspDiagnostics(ws: Workspace, file: string, all: Diagnostic[]): LspDiagnostic[] {
  return all.filter((d) => d.path === file).map((d) => toLspDiagnostic(ws, d));
}

// ---- hover ----------------------------------------------------------------------------------------------------

function declarationText(ws: Workspace, s: PgSymbol): string {
  const text = ws.source(s.path)?.text ?? "";
  const lines = text.slice(s.decl.span.start, s.decl.span.end).split(/\r?\n/);
  return lines.length > 12 ? [...lines.slice(0, 12), "  …"].join("\n") : lines.join("\n");
}

type Grantor = CapabilityDecl | DelegateDecl;

/** A capability's or delegation's effective authority: grants narrowed along the chain, the earliest expiry. */
export function effectiveAuthority(program: Program, decl: Grantor): { grants: Body[]; expires?: number; expiresMs?: number; chain: string[] } {
  const chain: Grantor[] = [decl];
  const seen = new Set<Grantor>([decl]);
  let current: Grantor = decl;
  while (current.kind === "delegate" && current.parent?.text) {
    const parent = program.resolve("capability", current.parent.text)?.decl as Grantor | undefined;
    if (!parent || seen.has(parent)) break;
    chain.push(parent);
    seen.add(parent);
    current = parent;
  }
  let grants = decl.grants;
  for (const ancestor of chain.slice(1)) grants = grants.filter((g) => ancestor.grants.some((a) => covers(grantOf(a), grantOf(g))));
  // Steps (the simulator's) and a wall-clock duration (the grid's, `ms`) are separate clocks.
  const expiries = chain.map((c) => c.expiresAfter?.steps).filter((n): n is number => n !== undefined && Number.isFinite(n));
  const durations = chain.map((c) => c.expiresAfter?.ms).filter((n): n is number => n !== undefined);
  return { grants, expires: expiries.length ? Math.min(...expiries) : undefined, expiresMs: durations.length ? Math.min(...durations) : undefined, chain: chain.map((c) => c.name.text) };
}

export function hover(ws: Workspace, file: string, offset: number): Hover | null {
  const program = ws.analyze(file).program;
  const hit = symbolAt(program, file, offset);
  if (!hit) return null;
  const s = hit.symbol;
  const parts = ["```promisegrid\n" + declarationText(ws, s) + "\n```"];
  if (s.decl.doc) parts.push(s.decl.doc.text);
  if (s.decl.kind === "capability" || s.decl.kind === "delegate") {
    const a = effectiveAuthority(program, s.decl);
    const grants = a.grants.length ? a.grants.map((g) => "`" + bodyText(g) + "`").join(", ") : "nothing";
    const expiry = [a.expires === undefined ? "" : `after ${a.expires} step${a.expires === 1 ? "" : "s"}`, a.expiresMs === undefined ? "" : `${durationText(a.expiresMs)} after it is issued`].filter(Boolean).join("; ");
    const lines = [`**Effective grants:** ${grants}`, `**Expires:** ${expiry || "never"}`];
    if (a.chain.length > 1) lines.push(`**Chain:** ${a.chain.join(" ← ")}`);
    parts.push(lines.join("  \n"));
  }
  if (s.path !== file) parts.push(`*${s.kind} declared in ${path.basename(s.path)}*`);
  return { contents: { kind: "markdown", value: parts.join("\n\n---\n\n") }, range: range(ws, file, hit.span) };
}

// ---- navigation -----------------------------------------------------------------------------------------------

export function definition(ws: Workspace, file: string, offset: number): Location | null {
  const program = ws.analyze(file).program;
  const link = program.imports.find((i) => i.from === file && contains(i.span, offset));
  if (link) return link.found ? { uri: pathToUri(link.path), range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } } : null;
  const hit = symbolAt(program, file, offset);
  if (!hit) return null;
  return { uri: pathToUri(hit.symbol.path), range: range(ws, hit.symbol.path, hit.symbol.nameSpan) };
}

/** Every place that names the symbol at `offset`, across every program that includes the file. */
function occurrences(ws: Workspace, file: string, offset: number, includeDeclaration: boolean): { path: string; span: Span; declaration: boolean }[] | null {
  const hit = symbolAt(ws.analyze(file).program, file, offset);
  if (!hit) return null;
  const target = hit.symbol;
  const out = new Map<string, { path: string; span: Span; declaration: boolean }>();
  const add = (p: string, span: Span, declaration: boolean) => out.set(`${p}:${span.start}`, { path: p, span, declaration });
  if (includeDeclaration) add(target.path, target.nameSpan, true);
  for (const program of ws.programsContaining(target.path)) {
    for (const r of program.references) if (sameSymbol(r.symbol, target)) add(r.path, r.span, false);
  }
  return [...out.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.span.start - b.span.start));
}

export function references(ws: Workspace, file: string, offset: number, includeDeclaration: boolean): Location[] | null {
  return occurrences(ws, file, offset, includeDeclaration)?.map((o) => ({ uri: pathToUri(o.path), range: range(ws, o.path, o.span) })) ?? null;
}

export function highlights(ws: Workspace, file: string, offset: number): DocumentHighlight[] | null {
  const program = ws.analyze(file).program;
  const hit = symbolAt(program, file, offset);
  if (!hit) return null;
  const out: DocumentHighlight[] = [];
  if (hit.symbol.path === file) out.push({ range: range(ws, file, hit.symbol.nameSpan), kind: DocumentHighlightKind.Write });
  for (const r of program.references) {
    if (r.path === file && sameSymbol(r.symbol, hit.symbol)) out.push({ range: range(ws, file, r.span), kind: DocumentHighlightKind.Read });
  }
  return out;
}

export class RenameError extends Error {}

export function prepareRename(ws: Workspace, file: string, offset: number): { range: Range; placeholder: string } {
  const hit = symbolAt(ws.analyze(file).program, file, offset);
  if (!hit) throw new RenameError("Only the name of an agent, currency, promise, capability, delegation, workload or grid can be renamed.");
  if (hit.symbol.kind === "scenario") throw new RenameError("A scenario's title is a string: edit it in place.");
  return { range: range(ws, file, hit.span), placeholder: hit.symbol.name };
}

export function rename(ws: Workspace, file: string, offset: number, newName: string): WorkspaceEdit {
  const { placeholder } = prepareRename(ws, file, offset);
  if (!IDENT.test(newName)) throw new RenameError(`'${newName}' is not a valid name: use letters, digits and _, not starting with a digit.`);
  if (KEYWORDS.includes(newName)) throw new RenameError(`'${newName}' is a keyword and cannot be a name.`);
  const hit = symbolAt(ws.analyze(file).program, file, offset)!;
  if (newName !== placeholder) {
    for (const program of ws.programsContaining(hit.symbol.path)) {
      const clash = program.symbols.find((s) => s.name === newName && s.kind !== "scenario" && sameSpace(s.kind, hit.symbol.kind));
      if (clash) throw new RenameError(`${clash.kind} '${newName}' already exists in ${path.basename(clash.path)}.`);
    }
  }
  const changes: Record<string, TextEdit[]> = {};
  for (const o of occurrences(ws, file, offset, true) ?? []) {
    (changes[pathToUri(o.path)] ??= []).push({ range: range(ws, o.path, o.span), newText: newName });
  }
  return { changes };
}

function sameSpace(a: PgSymbolKind, b: PgSymbolKind): boolean {
  const space = (k: PgSymbolKind) => (k === "delegate" ? "capability" : k);
  return space(a) === space(b);
}

// ---- symbols --------------------------------------------------------------------------------------------------

const SYMBOL_KIND: Record<PgSymbolKind, SymbolKind> = {
  grid: SymbolKind.Namespace, agent: SymbolKind.Class, currency: SymbolKind.Enum, promise: SymbolKind.Function,
  capability: SymbolKind.Interface, delegate: SymbolKind.Interface, workload: SymbolKind.Struct, scenario: SymbolKind.Event,
};

function declSymbolDetail(d: Declaration): string {
  switch (d.kind) {
    case "promise": return `${d.promiser?.text ?? "?"} -> ${d.promisees.map((p) => p.text).join(", ")} ${d.polarity ?? ""}${d.body ? bodyText(d.body) : ""}`;
    case "capability": return `${d.issuer?.text ?? "?"} to ${d.holder?.text ?? "?"}`;
    case "delegate": return `of ${d.parent?.text ?? "?"} to ${d.to?.text ?? "?"}`;
    case "agent": return d.description ?? "";
    case "currency": return `issued by ${d.issuer?.text ?? "?"}`;
    default: return "";
  }
}

export function documentSymbols(ws: Workspace, file: string): DocumentSymbol[] {
  const source = ws.source(file);
  if (!source) return [];
  const out: DocumentSymbol[] = [];
  for (const d of source.declarations) {
    if (d.kind === "import") continue;
    const name = d.kind === "scenario" ? d.title : d.kind === "promise" ? d.name?.text ?? `${d.promiser?.text ?? "?"} ${d.polarity ?? ""}${d.body ? bodyText(d.body) : ""}` : d.name?.text;
    if (!name) continue;
    const nameSpan = d.kind === "scenario" ? d.titleSpan : d.kind === "promise" ? d.name?.span ?? d.span : d.name.span;
    out.push({
      name, kind: SYMBOL_KIND[d.kind], detail: declSymbolDetail(d),
      range: range(ws, file, d.span), selectionRange: range(ws, file, nameSpan),
    });
  }
  return out;
}

export function workspaceSymbols(ws: Workspace, query: string): WorkspaceSymbol[] {
  const q = query.toLowerCase();
  const out: WorkspaceSymbol[] = [];
  const files = [...new Set([...ws.files, ...ws.open.keys()])].sort();
  for (const file of files) {
    for (const s of documentSymbols(ws, file)) {
      if (q && !fuzzy(s.name.toLowerCase(), q)) continue;
      out.push({ name: s.name, kind: s.kind, location: { uri: pathToUri(file), range: s.selectionRange }, containerName: path.basename(file) });
      if (out.length >= 1000) return out;
    }
  }
  return out;
}

/** The query's characters appear in order in the name. */
function fuzzy(name: string, query: string): boolean {
  let i = 0;
  for (const c of name) if (c === query[i]) i++;
  return i === query.length;
}

// ---- folding --------------------------------------------------------------------------------------------------

export function foldingRanges(ws: Workspace, file: string): FoldingRange[] {
  const source = ws.source(file);
  if (!source) return [];
  const index = ws.lineIndex(file);
  const out: FoldingRange[] = [];
  const fold = (span: Span, kind?: FoldingRangeKind) => {
    const start = index.position(span.start).line, end = index.position(span.end).line;
    if (end > start) out.push({ startLine: start, endLine: end, kind });
  };
  for (const d of source.declarations) {
    fold(d.span);
    if (d.doc) fold(d.doc.span, FoldingRangeKind.Comment);
  }
  for (const c of source.comments) if (c.block) fold(c.span, FoldingRangeKind.Comment);
  return out.sort((a, b) => a.startLine - b.startLine);
}

// ---- semantic tokens ------------------------------------------------------------------------------------------

export const TOKEN_TYPES = ["namespace", "class", "enum", "function", "interface", "struct", "event"] as const;
export const TOKEN_MODIFIERS = ["declaration", "documentation"] as const;
const TOKEN_TYPE_OF: Record<PgSymbolKind, number> = {
  grid: 0, agent: 1, currency: 2, promise: 3, capability: 4, delegate: 4, workload: 5, scenario: 6,
};

/** Names (declarations and resolved uses) coloured by what they name; the TextMate grammar does the rest. */
export function semanticTokens(ws: Workspace, file: string, r?: Range): number[] {
  const program = ws.analyze(file).program;
  const index = ws.lineIndex(file);
  const from = r ? index.offset(r.start) : 0, to = r ? index.offset(r.end) : Infinity;
  const inside = (span: Span) => span.end >= from && span.start <= to;
  const tokens: { start: number; length: number; type: number; mods: number }[] = [];
  for (const s of program.symbols) {
    if (s.path === file && s.kind !== "scenario" && inside(s.nameSpan)) tokens.push({ start: s.nameSpan.start, length: s.nameSpan.end - s.nameSpan.start, type: TOKEN_TYPE_OF[s.kind], mods: 1 });
  }
  for (const r of program.references) {
    if (r.path === file && r.symbol && inside(r.span)) tokens.push({ start: r.span.start, length: r.span.end - r.span.start, type: TOKEN_TYPE_OF[r.symbol.kind], mods: 0 });
  }
  tokens.sort((a, b) => a.start - b.start);
  const data: number[] = [];
  let prevLine = 0, prevChar = 0;
  for (const t of tokens) {
    const p = index.position(t.start);
    data.push(p.line - prevLine, p.line === prevLine ? p.character - prevChar : p.character, t.length, t.type, t.mods);
    prevLine = p.line;
    prevChar = p.character;
  }
  return data;
}

// ---- formatting -----------------------------------------------------------------------------------------------

export function formatDocument(ws: Workspace, file: string): TextEdit[] {
  const text = ws.readText(file) ?? "";
  const formatted = format(text);
  if (formatted === undefined || formatted === text) return [];
  return [{ range: range(ws, file, { start: 0, end: text.length }), newText: formatted }];
}

/** Formats the whole top-level declarations that the range touches (with their doc comments). */
export function formatRange(ws: Workspace, file: string, r: Range): TextEdit[] {
  const source = ws.source(file);
  if (!source || source.errors.length) return [];
  const index = ws.lineIndex(file);
  const from = index.offset(r.start), to = index.offset(r.end);
  const touched = source.declarations.filter((d) => d.span.start < Math.max(to, from + 1) && d.span.end > from);
  if (!touched.length) return [];
  const start = touched[0].doc?.span.start ?? touched[0].span.start;
  const end = touched.at(-1)!.span.end;
  const slice = source.text.slice(start, end);
  const formatted = format(slice)?.replace(/\s+$/, "");
  if (formatted === undefined || formatted === slice) return [];
  return [{ range: range(ws, file, { start, end }), newText: formatted }];
}

// ---- code actions ---------------------------------------------------------------------------------------------

export function codeActions(ws: Workspace, file: string, r: Range): CodeAction[] {
  const index = ws.lineIndex(file);
  const from = index.offset(r.start), to = index.offset(r.end);
  const out: CodeAction[] = [];
  for (const d of ws.analyze(file).diagnostics) {
    if (d.path !== file || !d.fixes?.length || d.span.end < from || d.span.start > to) continue;
    const lsp = toLspDiagnostic(ws, d);
    for (const fix of d.fixes) {
      const changes: Record<string, TextEdit[]> = {};
      for (const e of fix.edits) (changes[pathToUri(e.path)] ??= []).push({ range: range(ws, e.path, e.span), newText: e.newText });
      out.push({ title: fix.title, kind: CodeActionKind.QuickFix, diagnostics: [lsp], isPreferred: d.fixes.length === 1, edit: { changes } });
    }
  }
  return out;
}

// ---- code lenses and inlay hints ------------------------------------------------------------------------------

/** "Run" and "Step through" on each scenario, and a lens on the file for the manifest's root CID, filled in by
 * resolveCodeLens (compiling is the costly part: editors resolve only the lenses on screen). */
export function codeLenses(ws: Workspace, file: string, uri: string): CodeLens[] {
  const source = ws.source(file);
  if (!source) return [];
  const top = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
  const lenses: CodeLens[] = [{ range: top, data: { compile: uri } }];
  for (const d of source.declarations) {
    if (d.kind !== "scenario") continue;
    const r = range(ws, file, d.span);
    const at = { start: r.start, end: r.start };
    lenses.push({ range: at, command: { title: "▶ Run", command: "promisegrid.runScenario", arguments: [uri, d.title] } });
    lenses.push({ range: at, command: { title: "Step through", command: "promisegrid.stepScenario", arguments: [uri, d.title] } });
  }
  return lenses;
}

/** The file lens: the manifest's root CID, or why the file does not compile. */
export async function resolveCodeLens(ws: Workspace, file: string, lens: CodeLens): Promise<CodeLens> {
  const analysis = ws.analyze(file);
  const errors = analysis.diagnostics.filter((d) => d.severity === "error").length;
  if (errors) return { ...lens, command: { title: `Compile: ${errors} error${errors === 1 ? "" : "s"} to fix first`, command: "" } };
  try {
    const compiled = await compile(analysis.program);
    const cid = compiled.root.toString();
    return { ...lens, command: { title: `Compile: ${cid}`, command: "promisegrid.copyCid", arguments: [cid] } };
  } catch (e) {
    return { ...lens, command: { title: `Compile: ${(e as Error).message}`, command: "" } };
  }
}

const cidCache = new Map<string, { key: string; label: string }>();

/** The CID of a workload file's bytes, as the compiler addresses it (language/compiler.ts fileChunks). */
async function fileCid(file: string, hashName: string): Promise<string | undefined> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return undefined;
  }
  if (!stat.isFile()) return undefined;
  const key = `${hashName}:${stat.size}:${stat.mtimeMs}`;
  const cached = cidCache.get(file);
  if (cached?.key === key) return cached.label;
  const chunks = await fileChunks(readWorkloadFile(file), HASHES[hashName] ?? HASHES[DEFAULT_HASH]);
  const label = chunks.length === 0 ? "(empty file: no blocks)" : chunks.length === 1 ? chunks[0].cid.toString() : `${chunks[0].cid} +${chunks.length - 1} chunks`;
  cidCache.set(file, { key, label });
  return label;
}

/** Workload CIDs in the range (cheap); the revocation hints need a simulation, which the server runs off the
 * request path (see `revocationHints`). */
export async function workloadHints(ws: Workspace, file: string, r: Range): Promise<InlayHint[]> {
  const program = ws.analyze(file).program;
  const source = program.files.get(file);
  if (!source) return [];
  const index = ws.lineIndex(file);
  const from = index.offset(r.start), to = index.offset(r.end);
  const grid = program.declarations("grid")[0]?.decl.fields.find((f) => f.key.text === "hash")?.value;
  const hashName = grid?.kind === "ident" ? grid.name.text : DEFAULT_HASH;
  const out: InlayHint[] = [];
  for (const d of source.declarations) {
    if (d.kind !== "workload" || d.span.end < from || d.span.start > to) continue;
    const sandboxValue = d.fields.find((f) => f.key.text === "sandbox")?.value;
    const sandbox = sandboxValue?.kind === "ident" ? sandboxValue.name.text : "";
    for (const f of d.fields) {
      if (!WORKLOAD_FIELDS[sandbox]?.files.includes(f.key.text) || f.value?.kind !== "string") continue;
      const cid = await fileCid(path.resolve(path.dirname(file), f.value.value), hashName);
      if (cid) out.push({ position: index.position(f.value.span.end), label: `cid ${cid}`, kind: InlayHintKind.Type, paddingLeft: true, tooltip: `The content identifier (${hashName}) of ${f.value.value}, as compiled into the manifest` });
    }
  }
  return out;
}

/** Whether the range holds a scenario with a `revokes` step (only then is a simulation worth running). */
export function wantsTimeline(ws: Workspace, file: string, r: Range): { from: number; to: number } | undefined {
  const source = ws.source(file);
  if (!source) return undefined;
  const index = ws.lineIndex(file);
  const from = index.offset(r.start), to = index.offset(r.end);
  const any = source.declarations.some((d) => d.kind === "scenario" && d.span.end >= from && d.span.start <= to
    && d.items.some((i) => i.kind === "step" && i.event?.kind === "revoke"));
  return any ? { from, to } : undefined;
}

/** After each `revokes` event: the step at which each agent learns of it (language/simulator/timeline.ts). */
export function revocationHints(ws: Workspace, file: string, timelines: RevocationTimeline[]): InlayHint[] {
  const index = ws.lineIndex(file);
  return timelines.map((t) => ({
    position: index.position(t.span.end),
    label: `learns: ${t.learned.map((l) => `${l.agent} ${l.step === undefined ? "never" : `step ${l.step}`}`).join(" · ")}`,
    paddingLeft: true,
    tooltip: "When each agent learns of this revocation in the simulation (by seeing it, or by gossip)",
  }));
}

// ---- completion -----------------------------------------------------------------------------------------------

type Want = "agent" | "capability" | "promise" | "currency" | "body" | "declaration" | "any";

/** What fits at the cursor, from the words just before it on its line. */
function wanted(before: string, atTopLevel: boolean): Want {
  const b = before.replace(/[A-Za-z_][A-Za-z0-9_]*$/, "");
  if (/\b(holds|revoked)\(\s*$/.test(b) || /\b(invokes|revokes|delegates|of)\s+$/.test(b)) return "capability";
  if (/\bkept\(\s*$/.test(b) || /\bbreaks\s+$/.test(b)) return "promise";
  if (/\bgrants\s+$/.test(b) || /\bgrants\b.*,\s*$/.test(b)) return "body";
  if (/(->|<->|\bfrom|\bto|\bby|\bat|\bbalance|\bknows|\bfor|\bstep\s+\d+\s*:|,)\s*$/.test(b) && !/\(\s*[^)]*$/.test(b)) return "agent";
  if (/\d\s+$/.test(b)) return "currency";
  if (/[+-]\s*$/.test(b)) return "body";
  if (/^\s*$/.test(b) && atTopLevel) return "declaration";
  return "any";
}

/** Brace depth at every DEPTH_STEP-th offset of a text, built once per text: a completion scans at most one step. */
const DEPTH_STEP = 4096;
let depthMarks: { text: string; marks: Int32Array } | undefined;

function depthAt(text: string, offset: number): number {
  if (depthMarks?.text !== text) {
    const marks = new Int32Array(Math.floor(text.length / DEPTH_STEP) + 1);
    let depth = 0;
    for (let i = 0; i < text.length; i++) {
      if (i % DEPTH_STEP === 0) marks[i / DEPTH_STEP] = depth;
      const c = text.charCodeAt(i);
      if (c === 123) depth++;
      else if (c === 125) depth = Math.max(0, depth - 1);
    }
    depthMarks = { text, marks };
  }
  const from = Math.floor(offset / DEPTH_STEP);
  let depth = depthMarks.marks[from] ?? 0;
  for (let i = from * DEPTH_STEP; i < offset; i++) {
    const c = text.charCodeAt(i);
    if (c === 123) depth++;
    else if (c === 125) depth = Math.max(0, depth - 1);
  }
  return depth;
}

const COMPLETION_KIND: Record<PgSymbolKind, CompletionItemKind> = {
  grid: CompletionItemKind.Module, agent: CompletionItemKind.Class, currency: CompletionItemKind.Unit,
  promise: CompletionItemKind.Function, capability: CompletionItemKind.Interface, delegate: CompletionItemKind.Interface,
  workload: CompletionItemKind.Struct, scenario: CompletionItemKind.Event,
};

/** Above this many items, a completion lists only those that match the word being typed, at most this many, and
 * says the list is incomplete (the client asks again as the word grows): a list of every name of a large file costs
 * more to send than to make. */
export const COMPLETION_LIMIT = 500;

/** A program's names to complete, each once (by kind), in declaration order; and the body types in use. Built once
 * per program (a new version of a document is a new program). */
interface CompletionIndex { names: { kind: PgSymbolKind; item: CompletionItem }[]; counts: Map<PgSymbolKind, number>; bodyTypes?: CompletionItem[] }
const completionIndexes = new WeakMap<Program, CompletionIndex>();

function completionIndex(program: Program): CompletionIndex {
  let index = completionIndexes.get(program);
  if (index) return index;
  const names: CompletionIndex["names"] = [];
  const counts = new Map<PgSymbolKind, number>();
  const seen = new Set<string>();
  for (const s of program.symbols) {
    if (seen.has(s.kind + s.name)) continue;
    seen.add(s.kind + s.name);
    names.push({ kind: s.kind, item: { label: s.name, kind: COMPLETION_KIND[s.kind], detail: s.kind } });
    counts.set(s.kind, (counts.get(s.kind) ?? 0) + 1);
  }
  completionIndexes.set(program, (index = { names, counts }));
  return index;
}

function bodyTypes(program: Program): CompletionItem[] {
  const index = completionIndex(program);
  if (index.bodyTypes) return index.bodyTypes;
  const types = new Set<string>();
  for (const { decl } of program.declarations("promise")) if (decl.body?.type.text) types.add(decl.body.type.text);
  for (const { decl } of program.declarations("capability")) decl.grants.forEach((g) => g.type.text && types.add(g.type.text));
  for (const { decl } of program.declarations("delegate")) decl.grants.forEach((g) => g.type.text && types.add(g.type.text));
  return (index.bodyTypes = [...types].sort().map((t) => ({ label: t, kind: CompletionItemKind.Method, detail: "body type in use", sortText: "0" + t })));
}

/** Whether `label` has the characters of `word` in order (case aside), as editors match completions. */
function matches(label: string, word: string): boolean {
  let j = 0;
  for (let i = 0; i < label.length && j < word.length; i++) if (label[i].toLowerCase() === word[j].toLowerCase()) j++;
  return j === word.length;
}

export function completion(ws: Workspace, file: string, offset: number, declarationSnippets: boolean): CompletionItem[] | CompletionList {
  const program = ws.analyze(file).program;
  const text = ws.readText(file) ?? "";
  const lineStart = text.lastIndexOf("\n", offset - 1) + 1;
  const before = text.slice(lineStart, offset);
  const want = wanted(before, depthAt(text, lineStart) === 0);
  const index = completionIndex(program);
  const items: CompletionItem[] = [];
  /** The names of these kinds, in declaration order (sortText keeps that order in the client). */
  const symbols = (kinds: PgSymbolKind[]) => {
    let n = 0;
    for (const k of kinds) n += index.counts.get(k) ?? 0;
    const word = n > COMPLETION_LIMIT ? /[A-Za-z_][A-Za-z0-9_-]*$/.exec(before)?.[0] ?? "" : "";
    // A list filtered here is never complete: a shorter word (a backspace) must ask again.
    if (word) incomplete = true;
    for (const { kind, item } of index.names) {
      if (!kinds.includes(kind) || (word && !matches(item.label, word))) continue;
      if (items.length >= COMPLETION_LIMIT) { incomplete = true; break; }
      items.push({ ...item, sortText: "0" + String(items.length).padStart(5, "0") });
    }
  };
  let incomplete = false;
  const keywords = (words: readonly string[]) => {
    for (const k of words) items.push({ label: k, kind: CompletionItemKind.Keyword, sortText: "1" + k });
  };
  switch (want) {
    case "agent": symbols(["agent"]); break;
    case "capability": symbols(["capability", "delegate"]); break;
    case "promise": symbols(["promise"]); break;
    case "currency": symbols(["currency"]); break;
    case "body": items.push(...bodyTypes(program)); break;
    case "declaration":
      keywords(DECLARATION_KEYWORDS);
      if (declarationSnippets) {
        for (const [name, s] of Object.entries(snippets)) {
          items.push({ label: name, kind: CompletionItemKind.Snippet, detail: s.description, insertText: s.body.join("\n"), insertTextFormat: InsertTextFormat.Snippet, sortText: "2" + name });
        }
      }
      break;
    default:
      symbols(["agent", "capability", "delegate", "promise", "currency", "workload"]);
      keywords(KEYWORDS.filter((k) => !(DECLARATION_KEYWORDS as readonly string[]).includes(k)));
  }
  return incomplete ? { isIncomplete: true, items } : items;
}
