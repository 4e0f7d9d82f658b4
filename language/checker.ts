// The checker: every diagnostic the language defines, each with a stable code
// (docs/diagnostics.md), a precise span, related places and fixes where obvious.
import * as path from "node:path";
import {
  closest, DURATION_UNITS, SIZE_UNITS,
  type Body, type CapabilityDecl, type Condition, type Declaration, type DelegateDecl, type Field, type Name, type PromiseDecl,
  type ScenarioDecl, type Span, type Value, type WorkloadDecl,
} from "../grammar/index.ts";
import { covers, declaredHop, grantOf, meets, widenings, type Grant } from "./authority.ts";
import { HASHES } from "./hashes.ts";
import { didKeyProblem } from "./did.ts";
import { initialHoldings, setupBalance, toMicro, type SetupCurrency } from "./simulator/ledger.ts";
import { projectRoots, workloadFileProblem } from "./confine.ts";
import type { PgSymbol, Program } from "./program.ts";

export type Severity = "error" | "warning" | "information" | "hint";

export interface TextEdit { path: string; span: Span; newText: string }
export interface Fix { title: string; edits: TextEdit[] }
export interface Related { path: string; span: Span; message: string }

export interface Diagnostic {
  path: string;
  severity: Severity;
  code: string;
  message: string;
  span: Span;
  related?: Related[];
  fixes?: Fix[];
}

/** The most steps a scenario may run; more is refused rather than simulated. */
export const MAX_STEPS = 100_000;
/** The longest time limit a node runs (its timers' range, 2^31-1 ms, about 24.8 days). */
export const MAX_TIME_MS = 2 ** 31 - 1;

/** A duration as written: the largest unit that divides it (`30m`, `90s`). */
export function durationText(ms: number): string {
  const [unit, size] = Object.entries(DURATION_UNITS).sort((a, b) => b[1] - a[1]).find(([, n]) => ms % n === 0) ?? ["ms", 1];
  return `${ms / size}${unit}`;
}

export const AGENT_KINDS = ["person", "service", "node"] as const;
export const SANDBOXES = ["wasm", "container", "vm"] as const;

/** Fields each sandbox accepts, and the ones it requires. */
export const WORKLOAD_FIELDS: Record<string, { allowed: string[]; required: string[]; files: string[] }> = {
  wasm: { allowed: ["module", "args", "env"], required: ["module"], files: ["module"] },
  container: { allowed: ["image", "command", "args", "env"], required: ["image"], files: ["image"] },
  vm: { allowed: ["kernel", "initrd", "append"], required: ["kernel"], files: ["kernel", "initrd"] },
};
const NO_ARGS: Body["args"] = [];
const AGENT_WORDS: Record<string, string[]> = { kind: [...AGENT_KINDS], key: [] };
const COMMON_WORKLOAD_FIELDS = ["sandbox", "limits", "network"];
const LIMIT_FIELDS = ["memory", "time", "pids", "cpu"];

class Checker {
  readonly diagnostics: Diagnostic[] = [];
  constructor(private readonly program: Program, private readonly host: { exists(path: string): boolean }) {}

  report(d: Diagnostic): void {
    this.diagnostics.push(d);
  }

  error(file: string, code: string, span: Span, message: string, extra: Partial<Diagnostic> = {}): void {
    this.report({ path: file, severity: "error", code, span, message, ...extra });
  }

  run(): Diagnostic[] {
    for (const [file, source] of this.program.files) {
      for (const e of source.errors) this.error(file, e.code, e.span, e.message);
    }
    this.imports();
    this.duplicates();
    this.references();
    this.grids();
    this.agents();
    // Indexed loops over declarations: a first check runs cold, where `for of` makes an iterator and a result object
    // per step.
    const each = <K extends Declaration["kind"]>(kind: K, f: (file: string, decl: Extract<Declaration, { kind: K }>) => void) => {
      const list = this.program.declarationsOf(kind);
      for (let i = 0; i < list.length; i++) f(list[i].path, list[i].decl);
    };
    each("currency", (file, decl) => this.currency(file, decl.fields));
    each("promise", (file, decl) => this.promise(file, decl));
    this.unbound();
    this.conditionCycles();
    each("capability", (file, decl) => this.capability(file, decl));
    each("delegate", (file, decl) => this.delegation(file, decl));
    each("capability", (file, decl) => this.grantValues(file, decl));
    each("delegate", (file, decl) => this.grantValues(file, decl));
    each("workload", (file, decl) => this.workload(file, decl));
    each("scenario", (file, decl) => this.scenario(file, decl));
    return this.diagnostics;
  }

  private imports(): void {
    for (const link of this.program.imports) {
      if (!link.found) this.error(link.from, "PG202", link.span, `imported file '${link.path}' does not exist`);
      else if (link.problem) this.error(link.from, "PG202", link.span, `imported file '${link.path}': ${link.problem}`);
    }
  }

  private duplicates(): void {
    // The program knows each kind's first symbol of a name; only a capability and a delegation of one name (one
    // namespace: both are invoked by name) need their order, rare enough to look up.
    let order: Map<PgSymbol, number> | undefined;
    const rank = (x: PgSymbol) => (order ??= new Map(this.program.symbols.map((y, i) => [y, i]))).get(x)!;
    const symbols = this.program.symbols;
    for (let i = 0; i < symbols.length; i++) {
      const s = symbols[i];
      let first = this.program.lookup(s.kind, s.name)!;
      if (s.kind === "capability" || s.kind === "delegate") {
        const other = this.program.lookup(s.kind === "capability" ? "delegate" : "capability", s.name);
        if (other && rank(other) < rank(first)) first = other;
      }
      if (first === s) continue;
      this.error(s.path, "PG201", s.nameSpan, `${s.kind} '${s.name}' is already declared`, {
        related: [{ path: first.path, span: first.nameSpan, message: `first declaration of '${s.name}'` }],
      });
    }
  }

  private references(): void {
    const scenarios = this.program.declarationsOf("scenario");
    const inScenario = (file: string, span: Span) => scenarios.some(({ path: p, decl }) => p === file && span.start >= decl.span.start && span.end <= decl.span.end);
    // Made when a name is first unresolved: the first symbol of each name (any kind but a scenario), and each
    // kind's suggestion for each unknown name.
    let firstNamed: Map<string, PgSymbol> | undefined;
    const suggestions = new Map<string, Map<string, string | undefined>>();
    this.program.eachUnresolved((refPath, refSpan, refName, refKind) => {
      if (!firstNamed) {
        firstNamed = new Map();
        for (const s of this.program.symbols) if (s.kind !== "scenario" && !firstNamed.has(s.name)) firstNamed.set(s.name, s);
      }
      const ref = { path: refPath, span: refSpan, name: refName, kind: refKind };
      const wrongKind = firstNamed.get(ref.name);
      if (wrongKind) {
        this.error(ref.path, "PG205", ref.span, `'${ref.name}' is ${article(wrongKind.kind)} ${wrongKind.kind}, not ${article(ref.kind)} ${ref.kind}`, {
          related: [{ path: wrongKind.path, span: wrongKind.nameSpan, message: `'${ref.name}' is declared here` }],
        });
        return;
      }
      // A scenario names promises to break or expect; a condition names one it depends on.
      const condition = ref.kind === "promise" && !inScenario(ref.path, ref.span);
      const code = ref.kind === "currency" ? "PG500" : condition ? "PG302" : "PG200";
      let byName = suggestions.get(ref.kind);
      if (!byName) suggestions.set(ref.kind, (byName = new Map()));
      let suggestion = byName.get(ref.name);
      if (suggestion === undefined && !byName.has(ref.name)) byName.set(ref.name, (suggestion = closest(ref.name, this.program.candidates(ref.kind))));
      const what = ref.kind === "currency" ? `unknown currency '${ref.name}'`
        : condition ? `no promise named '${ref.name}': a condition must be promised by somebody`
        : ref.kind === "promise" ? `undefined promise '${ref.name}' (a scenario uses named promises)`
        : `undefined ${ref.kind} '${ref.name}'`;
      this.error(ref.path, code, ref.span, suggestion ? `${what}; did you mean '${suggestion}'?` : what, {
        fixes: suggestion ? [{ title: `Change to '${suggestion}'`, edits: [{ path: ref.path, span: ref.span, newText: suggestion }] }] : undefined,
      });
    });
  }

  private grids(): void {
    const grids = this.program.declarations("grid");
    grids.slice(1).forEach(({ path: file, decl }) =>
      this.error(file, "PG801", decl.name.span, "only one grid declaration is allowed", {
        related: [{ path: grids[0].path, span: grids[0].decl.name.span, message: "the grid is declared here" }],
      }));
    for (const { path: file, decl } of grids) {
      for (const f of decl.fields) {
        if (f.key.text !== "hash") {
          this.unknownField(file, f, ["hash"], "PG802");
          continue;
        }
        const name = f.value?.kind === "ident" ? f.value.name.text : undefined;
        if (!name || !(name in HASHES)) {
          const span = f.value?.span ?? f.key.span;
          const suggestion = name ? closest(name, Object.keys(HASHES)) : undefined;
          this.error(file, "PG800", span, `unknown hash '${name ?? ""}': use one of ${Object.keys(HASHES).join(", ")}${suggestion ? `; did you mean '${suggestion}'?` : ""}`, {
            fixes: suggestion ? [{ title: `Change to '${suggestion}'`, edits: [{ path: file, span, newText: suggestion }] }] : undefined,
          });
        }
      }
    }
  }

  private unknownField(file: string, f: Field, allowed: string[], code: string): void {
    const suggestion = closest(f.key.text, allowed);
    this.error(file, code, f.key.span, `unknown field '${f.key.text}': expected ${allowed.join(", ")}${suggestion ? `; did you mean '${suggestion}'?` : ""}`, {
      fixes: suggestion ? [{ title: `Change to '${suggestion}'`, edits: [{ path: file, span: f.key.span, newText: suggestion }] }] : undefined,
    });
  }

  /** Fields whose value must be one of a set of words. */
  private fieldsOf(file: string, fields: Field[], words: Record<string, string[]>, code: string): void {
    for (const f of fields) {
      const allowed = words[f.key.text];
      if (!allowed) { this.unknownField(file, f, Object.keys(words), code); continue; }
      const word = f.value?.kind === "ident" ? f.value.name.text : undefined;
      if (!word || !allowed.includes(word)) {
        const span = f.value?.span ?? f.key.span;
        const suggestion = word ? closest(word, allowed) : undefined;
        this.error(file, "PG204", span, `'${f.key.text}' must be one of ${allowed.join(", ")}`, {
          fixes: suggestion ? [{ title: `Change to '${suggestion}'`, edits: [{ path: file, span, newText: suggestion }] }] : undefined,
        });
      }
    }
  }

  /** `kind` is a word; `key` is an ed25519 did:key, and no two agents share one. */
  private agents(): void {
    const byKey = new Map<string, { file: string; span: Span; agent: string }>();
    const agents = this.program.declarationsOf("agent");
    for (let i = 0; i < agents.length; i++) {
      const { path: file, decl } = agents[i];
      if (!decl.fields.length) continue;
      this.fieldsOf(file, decl.fields.filter((f) => f.key.text !== "key"), AGENT_WORDS, "PG203");
      for (const f of decl.fields.filter((x) => x.key.text === "key")) {
        const span = f.value?.span ?? f.key.span;
        const problem = f.value?.kind === "string" ? didKeyProblem(f.value.value) : "an agent's key is a string, e.g. key \"did:key:z6Mk…\"";
        if (problem) { this.error(file, "PG206", span, `malformed key: ${problem}; \`promisegrid key\` prints yours`); continue; }
        const value = (f.value as { value: string }).value;
        const first = byKey.get(value);
        if (first) {
          this.error(file, "PG207", span, `${decl.name.text} has the key of ${first.agent}: one key names one agent`, {
            related: [{ path: first.file, span: first.span, message: `${first.agent}'s key` }],
          });
        } else byKey.set(value, { file, span, agent: decl.name.text });
      }
    }
  }

  private currency(file: string, fields: Field[]): void {
    for (const f of fields) {
      if (f.key.text !== "supply") { this.unknownField(file, f, ["supply"], "PG203"); continue; }
      if (f.value?.kind !== "number" || f.value.unit || f.value.value < 0) {
        this.error(file, "PG501", f.value?.span ?? f.key.span, "supply must be a plain number of units, e.g. 'supply 100'");
      }
    }
  }

  private promise(file: string, p: PromiseDecl): void {
    const promiser = p.promiser?.text;
    const args = p.body?.args ?? NO_ARGS;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (arg.kind !== "ident" || arg.name.text === promiser) continue;
      if (!this.program.lookup("agent", arg.name.text)) continue;
      this.error(file, "PG300", arg.span,
        `${promiser} cannot promise what ${arg.name.text} does: only ${arg.name.text} can promise its own behaviour (make this promise conditional on one of ${arg.name.text}'s promises instead)`);
    }
    for (let i = 0; i < p.constraints.length; i++) {
      const f = p.constraints[i];
      if (f.key.text === "price") {
        if (f.value?.kind !== "number" || !f.value.unit) this.error(file, "PG501", f.value?.span ?? f.key.span, "a price is an amount in a currency, e.g. 'price 3 taco'");
      } else if (f.key.text === "within") {
        if (f.value?.kind !== "number" || !f.value.unit || !/^steps?$/.test(f.value.unit.text)) {
          this.error(file, "PG501", f.value?.span ?? f.key.span, "'within' takes a number of steps, e.g. 'within 3 steps'");
        }
      } else this.unknownField(file, f, ["price", "within"], "PG203");
    }
    if (p.promiser?.text && p.body && p.polarity) this.bindable.add(file, p);
  }

  /** The promises that can bind, gathered as promise() passes each (the declaration is at hand then). */
  private readonly bindable = new Bindable();

  /** A + with no matching -, or a - with no matching +: cooperation needs both. */
  private unbound(): void {
    const { paths, decls, slot, star, addressedTo, starByPromiser, next, promiseAt } = this.bindable;
    /** Whether one of a chain's promises (from `head`) binds promise `i`. */
    const matchIn = (i: number, head: number | undefined) => {
      if (head === undefined) return false;
      const decl = decls[i];
      for (let k = head; k >= 0; k = next[k]) {
        const j = promiseAt[k];
        if (j !== i && addresses(decl, decls[j].promiser!.text) && meets(this.bindable.grant(i), this.bindable.grant(j))) return true;
      }
      return false;
    };
    for (let i = 0; i < decls.length; i++) {
      const file = paths[i], decl = decls[i];
      const opposite = slot[i] ^ 1;
      // Promises to everyone (*) are looked up by their promiser, unless this one is to everyone too.
      let matched = matchIn(i, addressedTo[opposite]?.get(decl.promiser!.text));
      if (star[i]) matched ||= matchIn(i, addressedTo[opposite]?.get("*"));
      else {
        const stars = starByPromiser[opposite];
        if (stars) for (let k = 0; k < decl.promisees.length && !matched; k++) matched = matchIn(i, stars.get(decl.promisees[k].text));
      }
      if (matched) continue;
      const give = decl.polarity === "+";
      const counterpart = decl.promisees.find((n) => n.text !== "*")?.text ?? "someone";
      const line = `promise ${counterpart} -> ${decl.promiser!.text} ${give ? "-" : "+"}${bodyText(decl.body!)}`;
      const source = this.program.files.get(file)!;
      const lineEnd = source.text.indexOf("\n", decl.span.end);
      const at = lineEnd < 0 ? source.text.length : lineEnd;
      this.report({
        path: file, severity: "warning", code: "PG301", span: decl.span,
        message: give
          ? `unbound promise: nobody accepts (-) what ${decl.promiser!.text} offers (+${bodyText(decl.body!)})`
          : `unbound promise: nobody offers (+) what ${decl.promiser!.text} accepts (-${bodyText(decl.body!)})`,
        fixes: counterpart !== "someone" && this.program.lookup("agent", counterpart)
          ? [{ title: `Add '${line}'`, edits: [{ path: file, span: { start: at, end: at }, newText: "\n" + line }] }]
          : undefined,
      });
    }
  }

  private conditionCycles(): void {
    // The graph: each promise name whose condition waits on named promises, to those names (a name declared twice
    // stands for its last declaration, placed at its first). A name that waits on none is in no cycle: it is left out.
    const named = new Map<string, { file: string; decl: PromiseDecl }>();
    const order = new Map<string, number>();
    const succs = new Map<string, string[]>();
    const walk = (c: Condition | undefined, out: string[]): void => {
      if (!c) return;
      if (c.kind === "kept" || c.kind === "ref") { if (this.program.lookup("promise", c.promise.text)) out.push(c.promise.text); }
      else if (c.kind === "not") walk(c.operand, out);
      else if (c.kind === "and" || c.kind === "or") { walk(c.left, out); walk(c.right, out); }
    };
    const promises = this.program.declarationsOf("promise");
    for (let i = 0; i < promises.length; i++) {
      const decl = promises[i].decl;
      const name = decl.name?.text;
      if (!name || this.program.lookup("promise", name)!.decl !== decl) continue;
      const last = this.program.last("promise", name)!;
      const condition = (last.decl as PromiseDecl).condition;
      if (!condition || condition.kind === "holds") continue;
      const out: string[] = [];
      walk(condition, out);
      if (!out.length) continue;
      order.set(name, order.size);
      named.set(name, { file: last.path, decl: last.decl as PromiseDecl });
      succs.set(name, out.length > 1 ? [...new Set(out)] : out);
    }
    for (const [n, out] of succs) if (out.some((t) => !succs.has(t))) succs.set(n, out.filter((t) => succs.has(t)));
    const succ = (n: string): string[] => succs.get(n)!;
    for (const scc of stronglyConnected([...succs.keys()], succ)) {
      const members = scc.sort((a, b) => order.get(a)! - order.get(b)!);
      if (members.length === 1 && !succ(members[0]).includes(members[0])) continue;
      const inside = new Set(members);
      const next = new Map(members.map((m) => [m, succ(m).filter((t) => inside.has(t))]));
      // A simple cycle is shown in its order; a knot of several cycles by its members.
      const simple = members.every((m) => next.get(m)!.length === 1);
      let text: string;
      if (simple) {
        const cycle = [members[0]];
        for (let n = next.get(members[0])![0]; n !== members[0]; n = next.get(n)![0]) cycle.push(n);
        const shown = cycle.length > MAX_CYCLE_SHOWN ? [...cycle.slice(0, MAX_CYCLE_SHOWN), "…"] : cycle;
        text = `${[...shown, cycle[0]].join(" -> ")}${cycle.length > MAX_CYCLE_SHOWN ? ` (${cycle.length} promises)` : ""}`;
      } else {
        const shown = members.length > MAX_CYCLE_SHOWN ? [...members.slice(0, MAX_CYCLE_SHOWN), `… (${members.length} promises)`] : members;
        text = `${shown.slice(0, -1).join(", ")} and ${shown[shown.length - 1]}`;
      }
      for (const m of members) {
        const target = named.get(m)!;
        const others = members.filter((o) => o !== m).slice(0, MAX_CYCLE_SHOWN);
        this.error(target.file, "PG303", target.decl.name!.span,
          `deadlock: the conditions of ${text} wait on each other, so none can ever be kept`, {
            related: others.map((o) => ({ path: named.get(o)!.file, span: named.get(o)!.decl.name!.span, message: `'${o}' is part of the cycle` })),
          });
      }
    }
  }

  private capability(file: string, c: CapabilityDecl): void {
    const issuer = c.issuer?.text;
    if (!issuer || !this.program.lookup("agent", issuer)) return;
    const offers = this.offersBy();
    const head = offers.head.get(issuer) ?? -1;
    for (let k = 0; k < c.grants.length; k++) {
      const g = c.grants[k];
      if (head >= 0) {
        const want = grantOf(g);
        let covered = false;
        for (let i = head; i >= 0 && !covered; i = offers.next[i]) covered = covers(this.bindable.grant(i), want);
        if (covered) continue;
      }
      this.error(file, "PG400", g.span,
        `${issuer} grants ${bodyText(g)} but does not itself promise it: a capability is its issuer's promise, so add 'promise ${issuer} -> ${c.holder?.text || "*"} +${bodyText(g)}'`);
    }
    if (c.expiresAfter && (c.expiresAfter.steps <= 0 || c.expiresAfter.ms === 0)) this.error(file, "PG501", c.expiresAfter.span, "a capability must expire after at least 1 step (or a duration above 0)");
  }

  /** A token carries names, strings, numbers and amounts (authority.Grant): a list or block cannot be granted. */
  private grantValues(file: string, d: CapabilityDecl | DelegateDecl): void {
    for (let i = 0; i < d.grants.length; i++) {
      const args = d.grants[i].args;
      for (let k = 0; k < args.length; k++) {
        const a = args[k];
        if (a.kind === "list" || a.kind === "block") this.error(file, "PG405", a.span, `a grant's argument is a name, *, a number, an amount or a string, not a ${a.kind}`);
      }
    }
  }

  private offers?: { head: Map<string, number>; next: number[] };
  /** Each agent's + promises, built once: `head` the position (in `bindable`) of an agent's last, `next` the one
   * before each (-1: none). */
  private offersBy(): { head: Map<string, number>; next: number[] } {
    if (this.offers) return this.offers;
    const head = new Map<string, number>(), next: number[] = [];
    const promises = this.bindable.decls;
    for (let i = 0; i < promises.length; i++) {
      const decl = promises[i];
      if (decl.polarity !== "+") { next.push(-1); continue; }
      next.push(head.get(decl.promiser!.text) ?? -1);
      head.set(decl.promiser!.text, i);
    }
    return (this.offers = { head, next });
  }

  /** Walks up a delegation to its root capability; undefined on an unknown parent. */
  private chain(d: DelegateDecl): (CapabilityDecl | DelegateDecl)[] | "cycle" | undefined {
    const out: (CapabilityDecl | DelegateDecl)[] = [];
    let current: CapabilityDecl | DelegateDecl | undefined = d;
    const seen = new Set<unknown>();
    while (current && current.kind === "delegate") {
      if (seen.has(current)) return "cycle";
      seen.add(current);
      out.push(current);
      const parentName: string | undefined = current.parent?.text;
      if (!parentName) return undefined;
      current = (this.program.lookup("capability", parentName)?.decl ?? this.program.lookup("delegate", parentName)?.decl) as CapabilityDecl | DelegateDecl | undefined;
    }
    if (!current) return undefined;
    out.push(current);
    return out;
  }

  private delegation(file: string, d: DelegateDecl): void {
    if (d.expiresAfter && (d.expiresAfter.steps <= 0 || d.expiresAfter.ms === 0)) this.error(file, "PG501", d.expiresAfter.span, "a delegation must expire after at least 1 step (or a duration above 0)");
    const chain = this.chain(d);
    if (chain === "cycle") {
      this.error(file, "PG404", d.parent!.span, `'${d.name.text}' is delegated from itself through '${d.parent!.text}': a delegation needs a capability at the root of its chain`);
      return;
    }
    if (!chain || chain.length < 2) return;
    const parent = chain[1];
    const parentName = parent.name.text;
    const parentSymbol = this.program.resolve("capability", parentName)!;
    const related = [{ path: parentSymbol.path, span: parentSymbol.nameSpan, message: `'${parentName}' is declared here` }];
    // The hops as the authority rule sees them, root first.
    const hops = chain.slice().reverse().reduce<ReturnType<typeof declaredHop>[]>((out, decl) => [...out, declaredHop(decl, out.at(-1))], []);
    const parentHop = hops[hops.length - 2], hop = hops[hops.length - 1];
    for (const w of widenings(parentHop, hop)) {
      switch (w.kind) {
        case "issuer":
          if (!d.by?.text || !parentHop.holder) break;
          this.error(file, "PG403", d.by.span, `only the holder of '${parentName}' (${parentHop.holder}) can delegate it, not ${d.by.text}`, {
            related, fixes: [{ title: `Change to '${parentHop.holder}'`, edits: [{ path: file, span: d.by.span, newText: parentHop.holder }] }],
          });
          break;
        case "not-delegable":
          this.error(file, "PG402", d.parent!.span, parent.delegable
            ? `delegating '${parentName}' again exceeds its delegation depth: it allows no further delegation`
            : `'${parentName}' is not delegable: add 'delegable' to it if its issuer allows delegation`, { related });
          break;
        case "depth":
          this.error(file, "PG401", d.delegable?.span ?? d.name.span, `delegation widens authority: at most depth ${w.left} is left`, { related });
          break;
        case "expiry":
          this.error(file, "PG401", d.expiresAfter?.span ?? d.name.span,
            `delegation widens authority: '${parentName}' expires after ${parentHop.exp! - 1} steps, so this delegation must expire no later`, { related });
          break;
        case "grant": {
          const g = d.grants[hop.grants.indexOf(w.grant)];
          // The fix narrows to the parent's grant of the same type, when there is one.
          const narrow = parent.grants.find((pg) => pg.type.text === g.type.text);
          this.error(file, "PG401", g.span, `delegation widens authority: '${parentName}' does not grant ${bodyText(g)}`, {
            related, fixes: narrow ? [{ title: `Narrow to '${bodyText(narrow)}'`, edits: [{ path: file, span: g.span, newText: bodyText(narrow) }] }] : undefined,
          });
          break;
        }
      }
    }
    // Wall-clock expiry (the grid's): the simulator's hops do not carry it, so it is compared here.
    const parentMs = chain.slice(1).find((c) => c.expiresAfter)?.expiresAfter?.ms;
    if (d.expiresAfter?.ms !== undefined && parentMs !== undefined && d.expiresAfter.ms > parentMs) {
      this.error(file, "PG401", d.expiresAfter.span, `delegation widens authority: ${durationText(parentMs)} is the longest a delegation of '${parentName}' may last, so this delegation must expire no later`, { related });
    }
  }

  private workload(file: string, w: WorkloadDecl): void {
    const fields = new Map(w.fields.map((f) => [f.key.text, f]));
    const sandboxField = fields.get("sandbox");
    const sandbox = sandboxField?.value?.kind === "ident" ? sandboxField.value.name.text : undefined;
    if (!sandboxField) {
      this.error(file, "PG601", w.name.span, `workload '${w.name.text}' needs a sandbox: add 'sandbox wasm', 'sandbox container' or 'sandbox vm'`);
    } else if (!sandbox || !(sandbox in WORKLOAD_FIELDS)) {
      const span = sandboxField.value?.span ?? sandboxField.key.span;
      const suggestion = sandbox ? closest(sandbox, SANDBOXES) : undefined;
      this.error(file, "PG601", span, `unknown sandbox '${sandbox ?? ""}': use wasm, container or vm`, {
        fixes: suggestion ? [{ title: `Change to '${suggestion}'`, edits: [{ path: file, span, newText: suggestion }] }] : undefined,
      });
    }
    const spec = sandbox ? WORKLOAD_FIELDS[sandbox] : undefined;
    const allowed = [...COMMON_WORKLOAD_FIELDS, ...(spec?.allowed ?? Object.values(WORKLOAD_FIELDS).flatMap((s) => s.allowed))];
    for (const f of w.fields) {
      if (!allowed.includes(f.key.text)) {
        if (spec && Object.values(WORKLOAD_FIELDS).some((s) => s.allowed.includes(f.key.text))) {
          this.error(file, "PG602", f.key.span, `'${f.key.text}' is not a field of a ${sandbox} workload: it takes ${spec.allowed.join(", ")}`);
        } else this.unknownField(file, f, allowed, "PG602");
        continue;
      }
      this.workloadField(file, w, f);
    }
    for (const required of [...(spec?.required ?? []), "limits"]) {
      if (!fields.has(required)) this.error(file, "PG602", w.name.span, `workload '${w.name.text}' needs '${required}'`);
    }
  }

  private workloadField(file: string, w: WorkloadDecl, f: Field): void {
    const v = f.value;
    const at = v?.span ?? f.key.span;
    switch (f.key.text) {
      case "module": case "image": case "kernel": case "initrd": {
        if (v?.kind !== "string") { this.error(file, "PG602", at, `'${f.key.text}' takes a file path in quotes`); return; }
        const target = path.resolve(path.dirname(file), v.value);
        const outside = workloadFileProblem(projectRoots(this.program), file, v.value);
        if (outside) { this.error(file, "PG605", at, outside); return; }
        if (this.host.exists(target)) return;
        // Images, kernels and initrds are built, not written: say what is missing and how to get it.
        const what = { module: "wasm module", image: "container image", kernel: "VM kernel", initrd: "VM initrd" }[f.key.text];
        const built = target.split(path.sep).join("/").includes("/.cache/sandboxes/");
        if (built) this.error(file, "PG600", at, `${what} '${v.value}' is not built yet (looked for ${target}): run 'npm run setup:sandboxes' to build the sandbox images`);
        else if (f.key.text !== "module") this.error(file, "PG600", at, `${what} '${v.value}' does not exist (looked for ${target}): build it, or copy it there`);
        else this.error(file, "PG600", at, `workload file '${v.value}' does not exist (looked for ${target})`);
        return;
      }
      case "args": case "command":
        if (v?.kind !== "list" || v.items.some((i) => i.kind !== "string")) this.error(file, "PG602", at, `'${f.key.text}' takes a list of strings, e.g. ["grid"]`);
        return;
      case "env":
        if (v?.kind !== "block" || v.fields.some((e) => e.value?.kind !== "string")) this.error(file, "PG602", at, `'env' takes a block of NAME "value" pairs`);
        return;
      case "append":
        if (v?.kind !== "string") this.error(file, "PG602", at, "'append' takes a kernel command line in quotes");
        return;
      case "network": {
        const mode = v?.kind === "ident" ? v.name.text : undefined;
        if (!mode) { this.error(file, "PG603", at, "'network' takes a mode such as none"); return; }
        if (mode === "none") return;
        if (!this.networkPromised().has(w.name.text)) this.error(file, "PG603", at, `network '${mode}' must be promised: add a promise by the node agent of +network(${w.name.text})`);
        return;
      }
      case "limits":
        if (v?.kind !== "block") { this.error(file, "PG502", at, "'limits' takes a block: limits { memory 64MiB  time 2s }"); return; }
        this.limits(file, v.fields, v.span);
        return;
    }
  }

  private networked?: Set<string>;
  /** The names that + promises of network give as arguments, found once. */
  private networkPromised(): Set<string> {
    if (this.networked) return this.networked;
    this.networked = new Set();
    for (const { decl } of this.program.declarationsOf("promise")) {
      if (decl.polarity !== "+" || decl.body?.type.text !== "network") continue;
      for (const a of decl.body.args) if (a.kind === "ident") this.networked.add(a.name.text);
    }
    return this.networked;
  }

  private limits(file: string, fields: Field[], span: Span): void {
    const seen = new Set(fields.map((f) => f.key.text));
    for (const required of ["memory", "time"]) {
      if (!seen.has(required)) this.error(file, "PG502", span, `limits need '${required}'`);
    }
    for (const f of fields) {
      const v = f.value;
      const at = v?.span ?? f.key.span;
      if (!LIMIT_FIELDS.includes(f.key.text)) { this.unknownField(file, f, LIMIT_FIELDS, "PG502"); continue; }
      if (v?.kind !== "number") { this.error(file, "PG501", at, `'${f.key.text}' takes a number`); continue; }
      const unit = v.unit?.text;
      if (f.key.text === "memory" && (!unit || !(unit in SIZE_UNITS))) {
        this.unitError(file, v, Object.keys(SIZE_UNITS), "memory is a size: KiB, MiB or GiB, e.g. 64MiB");
      } else if (f.key.text === "time" && (!unit || !(unit in DURATION_UNITS))) {
        this.unitError(file, v, Object.keys(DURATION_UNITS), "time is a duration: ms, s or m, e.g. 2s");
      } else if ((f.key.text === "pids" || f.key.text === "cpu") && unit) {
        this.error(file, "PG501", v.unit!.span, `'${f.key.text}' takes a plain number, without a unit`);
      } else if (v.value <= 0) {
        this.error(file, "PG502", at, `'${f.key.text}' must be greater than 0`);
      } else if (f.key.text === "time" && v.value * DURATION_UNITS[unit!]! > MAX_TIME_MS) {
        this.error(file, "PG604", at, `'time' is over ${MAX_TIME_MS} ms (about 24.8 days), the longest limit a node runs`);
      } else if (f.key.text === "pids" && !Number.isInteger(v.value)) {
        this.error(file, "PG502", at, "'pids' must be a whole number");
      }
    }
  }

  private unitError(file: string, v: Value & { kind: "number" }, units: string[], message: string): void {
    const span = v.unit?.span ?? v.span;
    const suggestion = v.unit ? closest(v.unit.text, units) : undefined;
    this.error(file, "PG501", span, v.unit ? `bad unit '${v.unit.text}': ${message}` : `missing unit: ${message}`, {
      fixes: suggestion ? [{ title: `Change to '${suggestion}'`, edits: [{ path: file, span, newText: suggestion }] }] : undefined,
    });
  }

  /** A setup balance the issuer cannot fund (the simulator's ledger rule). */
  private setupBalance(file: string, item: BalanceItem, ledger: Map<unknown, { currency: SetupCurrency<string>; held: Map<string, number> }>): void {
    const decl = this.program.resolve("currency", item.amount!.unit!.text)?.decl;
    if (decl?.kind !== "currency" || !decl.issuer?.text || !this.program.resolve("agent", item.agent.text)) return;
    let entry = ledger.get(decl);
    if (!entry) {
      const supply = decl.fields.find((f) => f.key.text === "supply")?.value;
      const currency = { name: decl.name.text, issuer: decl.issuer.text, supply: supply?.kind === "number" ? toMicro(supply.value) : undefined };
      ledger.set(decl, (entry = { currency, held: initialHoldings(currency) }));
    }
    const r = setupBalance(entry.currency, entry.held, item.agent.text, toMicro(item.amount!.value), (a) => a);
    if ("problem" in r) this.error(file, "PG912", item.span, r.problem);
  }

  private scenario(file: string, s: ScenarioDecl): void {
    let last = 0;
    const ledger = new Map<unknown, { currency: SetupCurrency<string>; held: Map<string, number> }>();
    for (const item of s.items) {
      if (item.kind === "link") {
        for (let k = 1; k < item.agents.length; k++) {
          if (item.agents[k].text === item.agents[k - 1].text) this.error(file, "PG907", item.agents[k].span, `an agent cannot link to itself ('${item.agents[k].text}')`);
        }
      }
      if (item.kind === "balance" && item.amount?.unit && item.agent?.text) this.setupBalance(file, item, ledger);
      if (item.kind === "step" && item.event?.kind === "break" && item.event.agent?.text && item.event.promise?.text) {
        const e = item.event;
        const promiser = (this.program.resolve("promise", e.promise.text)?.decl as PromiseDecl | undefined)?.promiser?.text;
        if (promiser && promiser !== e.agent.text) this.error(file, "PG913", e.span, `${e.agent.text} cannot break ${e.promise.text}: only its promiser, ${promiser}, can`);
      }
      if (item.kind === "step") {
        if (!Number.isInteger(item.step) || item.step < 1) this.error(file, "PG702", item.stepSpan, "steps are numbered from 1");
        else if (item.step > MAX_STEPS) this.error(file, "PG702", item.stepSpan, `step ${item.step} is past the limit of ${MAX_STEPS} steps a scenario may run`);
        else if (item.step < last) this.error(file, "PG701", item.stepSpan, `step ${item.step} comes after step ${last}: write steps in order`);
        last = Math.max(last, item.step);
        // Every event is kept or refused; only an invocation exercises a promise that can be broken.
        if (item.expect?.outcome === "broken" && item.event && item.event.kind !== "invoke") {
          this.error(file, "PG704", item.expect.span, `only an invocation can be broken: a '${item.event.kind}' event is kept or refused`);
        }
        // Only an event that must reach another agent (invoke, pay, delegate) can be unavailable.
        if (item.expect?.outcome === "unavailable" && item.event && !["invoke", "pay", "delegate"].includes(item.event.kind)) {
          this.error(file, "PG704", item.expect.span, `only an invocation, a payment or a delegation can be unavailable: a '${item.event.kind}' event reaches nobody`);
        }
      }
      // `by step N` may look past the last step written: the scenario runs on to step N.
      if (item.kind === "expect" && item.expectation?.kind === "knows" && item.expectation.byStep) {
        const { step: n, span } = item.expectation.byStep;
        if (!Number.isInteger(n) || n < 1) this.error(file, "PG702", span, "steps are numbered from 1");
        else if (n > MAX_STEPS) this.error(file, "PG702", span, `step ${n} is past the limit of ${MAX_STEPS} steps a scenario may run`);
      }
      if (item.kind === "gossip" && (!Number.isInteger(item.every) || item.every < 1)) {
        this.error(file, "PG702", item.span, "gossip runs every 1 or more whole steps");
      }
      if (item.kind === "balance" && item.amount && !item.amount.unit) this.error(file, "PG501", item.amount.span, "a balance is an amount in a currency, e.g. 'balance alice 10 taco'");
      if (item.kind === "step" && item.event?.kind === "pay" && item.event.amount && !item.event.amount.unit) {
        this.error(file, "PG501", item.event.amount.span, "a payment is an amount in a currency, e.g. 'pays 2 taco to bob'");
      }
      if (item.kind === "expect" && item.expectation?.kind === "balance" && item.expectation.amount && !item.expectation.amount.unit) {
        this.error(file, "PG501", item.expectation.amount.span, "a balance is an amount in a currency, e.g. 'expect balance alice 4 taco'");
      }
    }
  }
}

/**
 * The promises that can bind (a promiser, a polarity and a body), in order, indexed for unbound by body type, polarity
 * and promisee as they are added: a match must address this promise's promiser. Each promise's type and polarity is a
 * slot (its opposite: slot ^ 1); a slot maps names to the position of the last promise under that name, and `next`
 * chains each to the one before (no key string, no array per key). Promises to everyone (*) are also indexed by their
 * promiser. Grants are made when first needed.
 */
class Bindable {
  readonly paths: string[] = [];
  readonly decls: PromiseDecl[] = [];
  readonly slot: number[] = [];
  readonly star: boolean[] = [];
  readonly addressedTo: (Map<string, number> | undefined)[] = [];
  readonly starByPromiser: (Map<string, number> | undefined)[] = [];
  readonly next: number[] = [];
  readonly promiseAt: number[] = [];
  /** Filled with undefined as promises come: writing past the end of an array makes it sparse, a dictionary. */
  private readonly grants: (Grant | undefined)[] = [];
  private readonly types = new Map<string, number>();

  add(path: string, decl: PromiseDecl): void {
    const i = this.decls.length;
    this.paths.push(path);
    this.decls.push(decl);
    this.grants.push(undefined);
    let type = this.types.get(decl.body!.type.text);
    if (type === undefined) this.types.set(decl.body!.type.text, (type = this.types.size));
    this.slot.push(type * 2 + (decl.polarity === "+" ? 0 : 1));
    let toAll = false;
    for (let k = 0; k < decl.promisees.length; k++) {
      const name = decl.promisees[k].text;
      this.index(this.addressedTo, i, name);
      if (name === "*") toAll = true;
    }
    this.star.push(toAll);
    if (toAll) this.index(this.starByPromiser, i, decl.promiser!.text);
  }

  grant(i: number): Grant {
    return (this.grants[i] ??= grantOf(this.decls[i].body!));
  }

  private index(index: (Map<string, number> | undefined)[], i: number, name: string): void {
    const byName = (index[this.slot[i]] ??= new Map());
    this.next.push(byName.get(name) ?? -1);
    this.promiseAt.push(i);
    byName.set(name, this.promiseAt.length - 1);
  }
}

type BalanceItem = Extract<ScenarioDecl["items"][number], { kind: "balance" }>;

function article(word: string): string {
  return /^[aeiou]/.test(word) ? "an" : "a";
}

export function bodyText(b: Body): string {
  return `${b.type.text}(${b.args.map(argText).join(", ")})`;
}

function argText(a: Body["args"][number]): string {
  switch (a.kind) {
    case "any": return "*";
    case "ident": return a.name.text;
    case "string": return JSON.stringify(a.value);
    case "number": return a.unit ? `${a.raw} ${a.unit.text}` : a.raw;
    default: return "…";
  }
}

function addresses(p: PromiseDecl, agent: string): boolean {
  for (let i = 0; i < p.promisees.length; i++) if (p.promisees[i].text === "*" || p.promisees[i].text === agent) return true;
  return false;
}

export function check(program: Program): Diagnostic[] {
  return new Checker(program, program.host).run().sort(diagnosticOrder);
}

/** The order of check's diagnostics: by file, offset, code (a stable sort keeps the checker's order otherwise). */
export function diagnosticOrder(a: Diagnostic, b: Diagnostic): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : a.span.start - b.span.start || a.code.localeCompare(b.code);
}

/** Promises named in one PG303 message and its related places at most. */
const MAX_CYCLE_SHOWN = 8;

/** Tarjan's strongly connected components, without recursion (a chain of conditions may be as long as the file). */
function stronglyConnected(nodes: string[], succ: (n: string) => string[]): string[][] {
  const index = new Map<string, number>(), low = new Map<string, number>(), onStack = new Set<string>();
  const stack: string[] = [], out: string[][] = [];
  for (const root of nodes) {
    if (index.has(root)) continue;
    const enter = (v: string) => { index.set(v, index.size); low.set(v, index.get(v)!); stack.push(v); onStack.add(v); return { v, edges: succ(v), i: 0 }; };
    const work = [enter(root)];
    while (work.length) {
      const top = work[work.length - 1];
      if (top.i < top.edges.length) {
        const w = top.edges[top.i++];
        if (!index.has(w)) work.push(enter(w));
        else if (onStack.has(w)) low.set(top.v, Math.min(low.get(top.v)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length) { const parent = work[work.length - 1].v; low.set(parent, Math.min(low.get(parent)!, low.get(top.v)!)); }
      if (low.get(top.v) === index.get(top.v)) {
        const scc: string[] = [];
        let w: string;
        do { w = stack.pop()!; onStack.delete(w); scc.push(w); } while (w !== top.v);
        out.push(scc);
      }
    }
  }
  return out;
}
