// Turns a Program's declarations into the simulator's world (indexed agents,
// promises, capabilities, currencies) and a scenario into setup + per-step
// events. Names are the Program's (program.resolve); a scenario the checker
// would refuse is not planned, and its diagnostics are the checker's.
import type {
  Body, BodyArg, Condition, Declaration, Name, ScenarioDecl, Span, Value,
} from "../../grammar/ast.ts";
import { LineIndex } from "../../grammar/index.ts";
import { check, MAX_STEPS, type Diagnostic } from "../checker.ts";
import { declaredHop, grantOf, type GrantArg, type Hop } from "../authority.ts";
import type { Program, ReferenceKind } from "../program.ts";
import { initialHoldings, setupBalance, toMicro, UNIT } from "./ledger.ts";

/** The most steps one scenario may run (the checker's limit); more is refused before anything runs. */
export const STEP_LIMIT = MAX_STEPS;
export { UNIT };

/** A body as a grant (language/authority.ts), with its text for traces. */
export interface BodyKey { type: string; args: GrantArg[]; text: string }

export type Cond =
  | { kind: "holds"; cap: number }
  | { kind: "kept"; promise: number }
  | { kind: "not"; operand: Cond }
  | { kind: "and" | "or"; left: Cond; right: Cond }
  | { kind: "false"; why: string };

export interface AgentInfo { name: string; index: number; description?: string }
export interface CurrencyInfo { name: string; index: number; issuer: number; supply?: number }
export interface PromiseInfo {
  index: number;
  name?: string;
  /** The name, or a readable rendering for anonymous promises. */
  label: string;
  promiser: number;
  /** Agent indexes; empty with `anyone` set for `*`. */
  promisees: number[];
  anyone: boolean;
  polarity: "+" | "-";
  body: BodyKey;
  condition?: Cond;
  price?: { amount: number; currency: number };
  path: string;
  span: Span;
}
export interface CapInfo {
  index: number;
  name: string;
  kind: "capability" | "delegate" | "runtime";
  /** Who issued this token: the issuer of a capability, the delegating holder of a delegate. */
  issuer: number;
  holder: number;
  parent?: number;
  grants: BodyKey[];
  delegable: boolean;
  /** How many further hops are allowed below this token (Infinity when unbounded). */
  depth: number;
  /** Step at which the token was issued. */
  issuedAt: number;
  /** Last step at which it is valid. */
  expiresAt: number;
}

export interface World {
  agents: AgentInfo[];
  currencies: CurrencyInfo[];
  promises: PromiseInfo[];
  caps: CapInfo[];
  agentIndex: Map<string, number>;
  currencyIndex: Map<string, number>;
  promiseIndex: Map<string, number>;
  capIndex: Map<string, number>;
  /** Unused: the checker says why a declaration is left out. Kept optional for worlds built by hand (bench/). */
  skipped?: Map<string, string>;
}

export type SimEvent =
  | { kind: "invoke"; agent: number; cap: number; at: number }
  | { kind: "revoke"; agent: number; cap: number }
  | { kind: "break"; agent: number; promise: number }
  | { kind: "pay"; agent: number; amount: number; currency: number; to: number }
  | { kind: "delegate"; agent: number; cap: number; to: number }
  | { kind: "leave" | "join"; agent: number }
  | { kind: "partition"; groups: number[][] }
  | { kind: "heal" };

/** What an event came to; `unavailable`: it could not reach the agent it needs (absent, or across a partition), so nothing happened. */
export type Outcome = "kept" | "refused" | "broken" | "unavailable";

export type SimExpectation =
  | { kind: "outcome"; outcome: Outcome }
  | { kind: "knows"; agent: number; cap: number; byStep?: number }
  | { kind: "balance"; agent: number; amount: number; currency: number }
  | { kind: "promise"; promise: number; outcome: "kept" | "broken"; forAgent?: number };

/** `line` is 1-based, for people; `span` is the exact source range. */
export interface ScheduledEvent { step: number; event: SimEvent; text: string; path: string; line: number; span: Span; expect?: { outcome: Outcome; span: Span } }
export interface ScheduledExpectation { step: number; expectation: SimExpectation; text: string; path: string; line: number; span: Span }

/** Balances after setup: per currency, agent -> micro-units; and how much of each currency exists. */
export interface Ledger { holdings: Map<number, number>[]; issued: number[] }

export interface ScenarioPlan {
  title: string;
  path: string;
  span: Span;
  links: [number, number][];
  gossipEvery: number;
  /** Balances after setup (see setupLedger). */
  ledger: Ledger;
  /** Sorted by step, in written order within a step. */
  events: ScheduledEvent[];
  expectations: ScheduledExpectation[];
  lastStep: number;
}

function valueText(v: Value | BodyArg): string {
  switch (v.kind) {
    case "any": return "*";
    case "ident": return v.name.text;
    case "string": return JSON.stringify(v.value);
    case "number": return v.raw + (v.unit ? " " + v.unit.text : "");
    case "list": return "[" + v.items.map(valueText).join(", ") + "]";
    case "block": return "{...}";
  }
}

export function bodyKey(b: Body): BodyKey {
  const { type, args } = grantOf(b);
  return { type, args, text: `${b.type.text}(${b.args.map(valueText).join(", ")})` };
}

/** A token as the authority rule sees it: agent indexes as keys, steps as the clock (valid through `expiresAt`), its index as its id. */
export function hopOf(c: CapInfo): Hop<number> & { id: number } {
  // Written as `< Infinity`, not `=== Infinity`: with a mix of Infinity and whole steps
  // the latter sends V8's optimized code into a loop of deoptimizations.
  const last = c.expiresAt;
  return { issuer: c.issuer, holder: c.holder, grants: c.grants, depth: c.depth, exp: last < Infinity ? last + 1 : null, id: c.index };
}

function field(fields: { key: Name; value?: Value }[], key: string): Value | undefined {
  return fields.find((f) => f.key.text === key)?.value;
}

/** The world, and where each declaration the world uses went in it. */
export interface BuiltWorld {
  world: World;
  scenarios: { path: string; decl: ScenarioDecl }[];
  /** Declaration -> its index among the world's agents, currencies, promises or caps. */
  index: Map<Declaration, number>;
}

/** Builds the world from every declaration of the program (imports included), in path order. */
export function buildWorld(program: Program): BuiltWorld {
  const world: World = {
    agents: [], currencies: [], promises: [], caps: [],
    agentIndex: new Map(), currencyIndex: new Map(), promiseIndex: new Map(), capIndex: new Map(),
  };
  const index = new Map<Declaration, number>();
  const all: { path: string; decl: Declaration }[] = [];
  for (const path of [...program.files.keys()].sort()) {
    for (const decl of program.files.get(path)!.declarations) all.push({ path, decl });
  }
  /** The world index of the declaration a name resolves to in the program. */
  const resolved = (kind: ReferenceKind, n?: Name): number | undefined => {
    const s = n?.text ? program.resolve(kind, n.text) : undefined;
    return s ? index.get(s.decl) : undefined;
  };
  // A name declared twice (PG201) is the program's first declaration of it.
  const canonical = (d: Declaration & { name?: Name }, kind: "agent" | "currency" | "capability" | "delegate") =>
    !!d.name?.text && program.resolve(kind === "delegate" ? "capability" : kind, d.name.text)?.decl === d;
  const scenarios: { path: string; decl: ScenarioDecl }[] = [];
  for (const { path, decl } of all) {
    if (decl.kind === "agent" && canonical(decl, "agent")) {
      index.set(decl, world.agents.length);
      world.agentIndex.set(decl.name.text, world.agents.length);
      world.agents.push({ name: decl.name.text, index: world.agents.length, description: decl.description });
    }
    if (decl.kind === "scenario") scenarios.push({ path, decl });
  }
  const agent = (n?: Name) => resolved("agent", n);
  for (const { decl } of all) {
    if (decl.kind !== "currency" || !canonical(decl, "currency")) continue;
    const issuer = agent(decl.issuer);
    if (issuer === undefined) continue;
    const s = field(decl.fields, "supply");
    index.set(decl, world.currencies.length);
    world.currencyIndex.set(decl.name.text, world.currencies.length);
    world.currencies.push({
      name: decl.name.text, index: world.currencies.length, issuer,
      supply: s?.kind === "number" ? toMicro(s.value) : undefined,
    });
  }
  // Capabilities first, then delegates in an order where parents come first.
  const declared = new Map<Declaration, Hop<string>>();
  let pending = all.filter((d) => (d.decl.kind === "capability" || d.decl.kind === "delegate") && canonical(d.decl, d.decl.kind));
  while (pending.length) {
    const later: typeof pending = [];
    for (const item of pending) {
      const d = item.decl;
      if (d.kind === "capability") {
        const issuer = agent(d.issuer), holder = agent(d.holder);
        if (issuer === undefined || holder === undefined) continue;
        const hop = declaredHop(d);
        declared.set(d, hop);
        addCap(world, index, d, {
          name: d.name.text, kind: "capability", issuer, holder, grants: d.grants.map(bodyKey),
          delegable: !!d.delegable, depth: hop.depth, issuedAt: 0, expiresAt: hop.exp === null ? Infinity : hop.exp - 1,
        });
      } else if (d.kind === "delegate") {
        const by = agent(d.by), to = agent(d.to);
        const parentDecl = d.parent?.text ? program.resolve("capability", d.parent.text)?.decl : undefined;
        if (by === undefined || to === undefined || !parentDecl) continue;
        const parent = index.get(parentDecl);
        if (parent === undefined) { later.push(item); continue; }
        const hop = declaredHop(d, declared.get(parentDecl));
        declared.set(d, hop);
        addCap(world, index, d, {
          name: d.name.text, kind: "delegate", issuer: by, holder: to, parent, grants: d.grants.map(bodyKey),
          delegable: !!d.delegable, depth: hop.depth, issuedAt: 0, expiresAt: hop.exp === null ? Infinity : hop.exp - 1,
        });
      }
    }
    // Parents never added (unknown agents, a cycle): their delegates stay out.
    if (later.length === pending.length) break;
    pending = later;
  }
  const promiseDecls: { path: string; decl: Extract<Declaration, { kind: "promise" }> }[] = [];
  for (const { path, decl } of all) {
    if (decl.kind !== "promise" || !decl.body || !decl.polarity) continue;
    const promiser = agent(decl.promiser);
    if (promiser === undefined) continue;
    const anyone = decl.promisees.some((p) => p.text === "*");
    const promisees = decl.promisees.map(agent).filter((x): x is number => x !== undefined);
    const body = bodyKey(decl.body);
    const price = field(decl.constraints, "price");
    const currency = price?.kind === "number" ? resolved("currency", price.unit) : undefined;
    const label = decl.name?.text ??
      `${decl.promiser!.text} -> ${decl.promisees.map((p) => p.text).join(", ")} ${decl.polarity}${body.text}`;
    const info: PromiseInfo = {
      index: world.promises.length, name: decl.name?.text, label, promiser, promisees, anyone,
      polarity: decl.polarity, body, path, span: decl.span,
      price: price?.kind === "number" && currency !== undefined ? { amount: toMicro(price.value), currency } : undefined,
    };
    index.set(decl, info.index);
    if (decl.name && program.resolve("promise", decl.name.text)?.decl === decl) world.promiseIndex.set(decl.name.text, info.index);
    world.promises.push(info);
    promiseDecls.push({ path, decl });
  }
  // Anonymous promises that render alike get a suffix so every label is unique.
  const seen = new Map<string, number>();
  for (const p of world.promises) {
    const n = seen.get(p.label) ?? 0;
    seen.set(p.label, n + 1);
    if (n > 0) p.label = `${p.label} #${n + 1}`;
  }
  // Conditions last: they may name promises declared anywhere.
  for (const { decl } of promiseDecls) {
    if (decl.condition) world.promises[index.get(decl)!].condition = cond(decl.condition, resolved);
  }
  return { world, scenarios, index };
}

function addCap(world: World, index: Map<Declaration, number>, decl: Declaration, c: Omit<CapInfo, "index">): void {
  const i = world.caps.length;
  world.caps.push({ ...c, index: i });
  world.capIndex.set(c.name, i);
  index.set(decl, i);
}

function cond(c: Condition, resolved: (kind: ReferenceKind, n?: Name) => number | undefined): Cond {
  switch (c.kind) {
    case "holds": {
      const cap = resolved("capability", c.capability);
      return cap === undefined ? { kind: "false", why: `nobody issued ${c.capability.text}` } : { kind: "holds", cap };
    }
    case "kept":
    case "ref": {
      const p = resolved("promise", c.promise);
      return p === undefined ? { kind: "false", why: `no promise is named ${c.promise.text}` } : { kind: "kept", promise: p };
    }
    case "not": return { kind: "not", operand: cond(c.operand, resolved) };
    default: return { kind: c.kind, left: cond(c.left, resolved), right: cond(c.right, resolved) };
  }
}

const errorsOf = new WeakMap<Program, Diagnostic[]>();
/** The checker's errors, once per program: they are why a scenario cannot be planned. */
function checkerErrors(program: Program, scenario: { path: string; span: Span }): Diagnostic[] {
  let errors = errorsOf.get(program);
  if (!errors) errorsOf.set(program, (errors = check(program).filter((d) => d.severity === "error")));
  const inside = errors.filter((d) => d.path === scenario.path && d.span.start >= scenario.span.start && d.span.end <= scenario.span.end);
  // The checker refuses everything the simulator cannot plan; silence here would be a bug in one of them.
  if (!errors.length) throw new Error(`scenario at ${scenario.path}:${scenario.span.start} cannot be planned, yet the checker reports no error`);
  return inside.length ? inside : errors;
}

/**
 * Resolves a scenario's names through the program and schedules its events.
 * A scenario with anything the checker refuses (an unknown name, a step out of
 * range, an impossible setup balance...) gets no plan; its diagnostics are the
 * checker's.
 */
export function planScenario(program: Program, built: BuiltWorld, path: string, decl: ScenarioDecl): { plan?: ScenarioPlan; diagnostics: Diagnostic[] } {
  const { world, index } = built;
  const text = program.files.get(path)!.text;
  let unplannable = false;
  const of = (kind: ReferenceKind, n?: Name): number => {
    const s = n?.text ? program.resolve(kind, n.text) : undefined;
    const i = s ? index.get(s.decl) : undefined;
    if (i === undefined) unplannable = true;
    return i ?? -1;
  };
  const agentOf = (n: Name) => of("agent", n);
  const capOf = (n: Name) => of("capability", n);
  const promiseOf = (n: Name) => of("promise", n);
  // A part missing after a syntax error is unplannable too; the checker has said why (PG101).
  const amountOf = (a?: { value: number; unit?: Name }): { amount: number; currency: number } =>
    ({ amount: toMicro(a?.value ?? 0), currency: of("currency", a?.unit) });
  const src = (s: Span) => text.slice(s.start, s.end).replace(/\s+/g, " ");
  const lines = new LineIndex(text);
  const lineOf = (s: Span) => lines.position(s.start).line + 1;

  const plan: ScenarioPlan = {
    title: decl.title, path, span: decl.span, links: [], gossipEvery: 1, ledger: initialLedger(world), events: [], expectations: [], lastStep: 0,
  };
  let lastWritten = 0;
  let sawStep = false;
  const trailing: ScheduledExpectation[] = [];
  const badStep = (n: number) => !Number.isInteger(n) || n > STEP_LIMIT;
  for (const item of decl.items) {
    switch (item.kind) {
      case "link":
        for (let k = 1; k < item.agents.length; k++) {
          const a = agentOf(item.agents[k - 1]), b = agentOf(item.agents[k]);
          if (a === b) unplannable = true;
          else plan.links.push([a, b]);
        }
        break;
      case "gossip":
        if (!(item.every >= 1) || !Number.isInteger(item.every)) unplannable = true;
        else plan.gossipEvery = item.every;
        break;
      case "balance": {
        const a = agentOf(item.agent);
        const { amount, currency } = amountOf(item.amount);
        if (a >= 0 && currency >= 0 && !setBalance(world, plan.ledger, a, currency, amount)) unplannable = true;
        break;
      }
      case "step": {
        if (badStep(item.step) || item.step < 1 || item.step < lastWritten) { unplannable = true; break; }
        lastWritten = item.step;
        sawStep = true;
        if (!item.event) break;
        const e = item.event;
        let event: SimEvent;
        switch (e.kind) {
          case "invoke": event = { kind: "invoke", agent: agentOf(e.agent), cap: capOf(e.capability), at: agentOf(e.at) }; break;
          case "revoke": event = { kind: "revoke", agent: agentOf(e.agent), cap: capOf(e.capability) }; break;
          case "break": {
            event = { kind: "break", agent: agentOf(e.agent), promise: promiseOf(e.promise) };
            const p = world.promises[event.promise];
            if (p && p.promiser !== event.agent) unplannable = true;
            break;
          }
          case "pay": { const from = agentOf(e.agent); const a = amountOf(e.amount); event = { kind: "pay", agent: from, amount: a.amount, currency: a.currency, to: agentOf(e.to) }; break; }
          case "delegate": event = { kind: "delegate", agent: agentOf(e.agent), cap: capOf(e.capability), to: agentOf(e.to) }; break;
          case "leave": case "join": event = { kind: e.kind, agent: agentOf(e.agent) }; break;
          case "partition": event = { kind: "partition", groups: e.groups.map((g) => g.map(agentOf)) }; break;
          case "heal": event = { kind: "heal" }; break;
        }
        plan.events.push({ step: item.step, event, text: src(e.span), path, line: lineOf(item.span), span: item.span, expect: item.expect });
        break;
      }
      case "expect": {
        const x = item.expectation;
        let expectation: SimExpectation;
        let step = lastWritten;
        if (x.kind === "knows") {
          expectation = { kind: "knows", agent: agentOf(x.agent), cap: capOf(x.capability), byStep: x.byStep?.step };
          if (x.byStep) {
            if (badStep(x.byStep.step) || x.byStep.step < 0) unplannable = true;
            step = x.byStep.step;
          }
        } else if (x.kind === "balance") {
          const a = amountOf(x.amount);
          expectation = { kind: "balance", agent: agentOf(x.agent), amount: a.amount, currency: a.currency };
        } else {
          expectation = { kind: "promise", promise: promiseOf(x.promise), outcome: x.outcome, forAgent: x.forAgent ? agentOf(x.forAgent) : undefined };
        }
        const scheduled = { step, expectation, text: src(item.span), path, line: lineOf(item.span), span: item.span };
        if (x.kind === "knows" && x.byStep) plan.expectations.push(scheduled);
        else trailing.push(scheduled);
        break;
      }
    }
  }
  if (unplannable) return { diagnostics: checkerErrors(program, { path, span: decl.span }) };
  plan.lastStep = Math.max(lastWritten, ...plan.expectations.map((e) => e.step));
  // Expectations written after the last step line are checked at the very end;
  // those between step lines after the step above them.
  for (const t of trailing) plan.expectations.push(t.step === lastWritten && sawStep ? { ...t, step: plan.lastStep } : t);
  // Expectations written with no step line above them still run after setup (step 0) or at the end if steps follow.
  plan.events.sort((a, b) => a.step - b.step);
  plan.expectations.sort((a, b) => a.step - b.step);
  return { plan, diagnostics: [] };
}

/** Every currency's issuer starts with its whole declared supply; a currency without `supply` starts at 0 and is minted by setup. */
export function initialLedger(world: World): Ledger {
  return {
    holdings: world.currencies.map(initialHoldings),
    issued: world.currencies.map((c) => c.supply ?? 0),
  };
}

/** `balance A N unit` in setup (ledger.ts's rule); false when the rule refuses it. */
export function setBalance(world: World, ledger: Ledger, agent: number, currency: number, amount: number): boolean {
  const r = setupBalance(world.currencies[currency], ledger.holdings[currency], agent, amount, (a) => world.agents[a].name);
  if ("problem" in r) return false;
  ledger.issued[currency] += r.minted;
  return true;
}
