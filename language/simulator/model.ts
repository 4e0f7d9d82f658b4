// Turns declarations into the simulator's world (indexed agents, promises,
// capabilities, currencies) and a scenario into setup + per-step events.
// Names a scenario uses but nobody declared become diagnostics, never crashes.
import type {
  Body, BodyArg, Condition, Declaration, Name, ScenarioDecl, SourceFile, Span, Value,
} from "../../grammar/ast.ts";
import { closest, LineIndex } from "../../grammar/index.ts";
import { MAX_STEPS } from "../checker.ts";
import { declaredHop, grantOf, type GrantArg, type Hop } from "../authority.ts";

/** The most steps one scenario may run (the checker's limit); more is refused before anything runs. */
export const STEP_LIMIT = MAX_STEPS;
/** Amounts are kept as integers of this many micro-units so sums stay exact. */
export const UNIT = 1_000_000;

export interface SimDiagnostic {
  path: string;
  severity: "error" | "warning";
  code: string;
  message: string;
  span: Span;
}

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
  /** Declarations the simulator had to leave out, by name, and why (for clear diagnostics). */
  skipped: Map<string, string>;
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

export type Outcome = "kept" | "refused" | "broken";

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

export interface SourceSet { files: Map<string, SourceFile> }

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

/** A token as the authority rule sees it: agent indexes as keys, steps as the clock (valid through `expiresAt`). */
export function hopOf(c: CapInfo): Hop<number> {
  return { issuer: c.issuer, holder: c.holder, grants: c.grants, depth: c.depth, exp: c.expiresAt === Infinity ? null : c.expiresAt + 1 };
}

function field(fields: { key: Name; value?: Value }[], key: string): Value | undefined {
  return fields.find((f) => f.key.text === key)?.value;
}

function toMicro(v: number): number { return Math.round(v * UNIT); }

/** Builds the world from every declaration of every file (imports included). */
export function buildWorld(sources: SourceSet): { world: World; scenarios: { path: string; decl: ScenarioDecl }[] } {
  const world: World = {
    agents: [], currencies: [], promises: [], caps: [],
    agentIndex: new Map(), currencyIndex: new Map(), promiseIndex: new Map(), capIndex: new Map(), skipped: new Map(),
  };
  const all: { path: string; decl: Declaration }[] = [];
  for (const path of [...sources.files.keys()].sort()) {
    for (const decl of sources.files.get(path)!.declarations) all.push({ path, decl });
  }
  const scenarios: { path: string; decl: ScenarioDecl }[] = [];
  for (const { path, decl } of all) {
    if (decl.kind === "agent" && !world.agentIndex.has(decl.name.text)) {
      world.agentIndex.set(decl.name.text, world.agents.length);
      world.agents.push({ name: decl.name.text, index: world.agents.length, description: decl.description });
    }
    if (decl.kind === "scenario") scenarios.push({ path, decl });
  }
  const agent = (n?: Name) => (n ? world.agentIndex.get(n.text) : undefined);
  for (const { decl } of all) {
    if (decl.kind !== "currency" || world.currencyIndex.has(decl.name.text)) continue;
    const issuer = agent(decl.issuer);
    if (issuer === undefined) { world.skipped.set(decl.name.text, `currency ${decl.name.text} is issued by '${decl.issuer?.text ?? "?"}', which is not a declared agent`); continue; }
    const s = field(decl.fields, "supply");
    world.currencyIndex.set(decl.name.text, world.currencies.length);
    world.currencies.push({
      name: decl.name.text, index: world.currencies.length, issuer,
      supply: s?.kind === "number" ? toMicro(s.value) : undefined,
    });
  }
  // Capabilities first, then delegates in an order where parents come first.
  const capDecls = all.filter((d) => d.decl.kind === "capability" || d.decl.kind === "delegate");
  const declared = new Map<string, Hop<string>>();
  let pending = capDecls;
  for (let guard = 0; pending.length && guard < capDecls.length + 1; guard++) {
    const later: typeof pending = [];
    for (const item of pending) {
      const d = item.decl;
      if (d.kind === "capability") {
        const issuer = agent(d.issuer), holder = agent(d.holder);
        if (issuer === undefined || holder === undefined) {
          world.skipped.set(d.name.text, `capability ${d.name.text} names '${issuer === undefined ? d.issuer?.text ?? "?" : d.holder?.text ?? "?"}', which is not a declared agent`);
          continue;
        }
        if (world.capIndex.has(d.name.text)) continue;
        const hop = declaredHop(d);
        declared.set(d.name.text, hop);
        addCap(world, {
          name: d.name.text, kind: "capability", issuer, holder, grants: d.grants.map(bodyKey),
          delegable: !!d.delegable, depth: hop.depth, issuedAt: 0, expiresAt: hop.exp === null ? Infinity : hop.exp - 1,
        });
      } else if (d.kind === "delegate") {
        const by = agent(d.by), to = agent(d.to);
        if (by === undefined || to === undefined || !d.parent) {
          world.skipped.set(d.name.text, `delegation ${d.name.text} names '${by === undefined ? d.by?.text ?? "?" : d.to?.text ?? "?"}', which is not a declared agent`);
          continue;
        }
        if (world.capIndex.has(d.name.text)) continue;
        const parent = world.capIndex.get(d.parent.text);
        if (parent === undefined) {
          if (capDecls.some((c) => c.decl.kind !== "import" && "name" in c.decl && (c.decl as { name: Name }).name.text === d.parent!.text)) later.push(item);
          continue;
        }
        const hop = declaredHop(d, declared.get(d.parent.text));
        declared.set(d.name.text, hop);
        addCap(world, {
          name: d.name.text, kind: "delegate", issuer: by, holder: to, parent, grants: d.grants.map(bodyKey),
          delegable: !!d.delegable, depth: hop.depth, issuedAt: 0, expiresAt: hop.exp === null ? Infinity : hop.exp - 1,
        });
      }
    }
    if (later.length === pending.length) break;
    pending = later;
  }
  for (const { path, decl } of all) {
    if (decl.kind !== "promise" || !decl.body || !decl.polarity) continue;
    const promiser = agent(decl.promiser);
    if (promiser === undefined) {
      if (decl.name) world.skipped.set(decl.name.text, `promise ${decl.name.text} is made by '${decl.promiser?.text ?? "?"}', which is not a declared agent`);
      continue;
    }
    const anyone = decl.promisees.some((p) => p.text === "*");
    const promisees = decl.promisees.map(agent).filter((x): x is number => x !== undefined);
    const body = bodyKey(decl.body);
    const price = field(decl.constraints, "price");
    const currency = price?.kind === "number" && price.unit ? world.currencyIndex.get(price.unit.text) : undefined;
    const label = decl.name?.text ??
      `${decl.promiser!.text} -> ${decl.promisees.map((p) => p.text).join(", ")} ${decl.polarity}${body.text}`;
    const info: PromiseInfo = {
      index: world.promises.length, name: decl.name?.text, label, promiser, promisees, anyone,
      polarity: decl.polarity, body, path, span: decl.span,
      price: price?.kind === "number" && currency !== undefined ? { amount: toMicro(price.value), currency } : undefined,
    };
    if (decl.name && !world.promiseIndex.has(decl.name.text)) world.promiseIndex.set(decl.name.text, info.index);
    world.promises.push(info);
  }
  // Anonymous promises that render alike get a suffix so every label is unique.
  const seen = new Map<string, number>();
  for (const p of world.promises) {
    const n = seen.get(p.label) ?? 0;
    seen.set(p.label, n + 1);
    if (n > 0) p.label = `${p.label} #${n + 1}`;
  }
  // Conditions last: they may name promises declared anywhere.
  let i = 0;
  for (const { decl } of all) {
    if (decl.kind !== "promise" || !decl.body || !decl.polarity || agent(decl.promiser) === undefined) continue;
    if (decl.condition) world.promises[i].condition = cond(world, decl.condition);
    i++;
  }
  return { world, scenarios };
}

function addCap(world: World, c: Omit<CapInfo, "index">): number {
  const index = world.caps.length;
  world.caps.push({ ...c, index });
  world.capIndex.set(c.name, index);
  return index;
}

function cond(world: World, c: Condition): Cond {
  switch (c.kind) {
    case "holds": {
      const cap = world.capIndex.get(c.capability.text);
      return cap === undefined ? { kind: "false", why: `nobody issued ${c.capability.text}` } : { kind: "holds", cap };
    }
    case "kept":
    case "ref": {
      const p = world.promiseIndex.get(c.promise.text);
      return p === undefined ? { kind: "false", why: `no promise is named ${c.promise.text}` } : { kind: "kept", promise: p };
    }
    case "not": return { kind: "not", operand: cond(world, c.operand) };
    default: return { kind: c.kind, left: cond(world, c.left), right: cond(world, c.right) };
  }
}

/** Resolves a scenario's names; anything unknown is a diagnostic and the plan is not made. */
export function planScenario(world: World, path: string, decl: ScenarioDecl, text: string): { plan?: ScenarioPlan; diagnostics: SimDiagnostic[] } {
  const diagnostics: SimDiagnostic[] = [];
  const err = (span: Span, code: string, message: string) => diagnostics.push({ path, severity: "error", code, message, span });
  const agentOf = (n: Name): number => {
    const a = world.agentIndex.get(n.text);
    if (a === undefined) err(n.span, "PG901", `unknown agent '${n.text}'${suggest(n.text, world.agentIndex.keys())}`);
    return a ?? -1;
  };
  const capOf = (n: Name): number => {
    const c = world.capIndex.get(n.text);
    if (c === undefined) err(n.span, "PG902", world.skipped.get(n.text) ?? `unknown capability '${n.text}'${suggest(n.text, world.capIndex.keys())}`);
    return c ?? -1;
  };
  const promiseOf = (n: Name): number => {
    const p = world.promiseIndex.get(n.text);
    if (p === undefined) err(n.span, "PG903", world.skipped.get(n.text) ?? `unknown promise '${n.text}' (only named promises can be used in scenarios)${suggest(n.text, world.promiseIndex.keys())}`);
    return p ?? -1;
  };
  const amountOf = (a: { value: number; unit?: Name; span: Span }): { amount: number; currency: number } => {
    if (!a.unit) { err(a.span, "PG904", `amount ${a.value} needs a currency, e.g. '${a.value} ${world.currencies[0]?.name ?? "taco"}'`); return { amount: 0, currency: -1 }; }
    const c = world.currencyIndex.get(a.unit.text);
    if (c === undefined) err(a.unit.span, "PG905", world.skipped.get(a.unit.text) ?? `unknown currency '${a.unit.text}'${suggest(a.unit.text, world.currencyIndex.keys())}`);
    if (a.value < 0) err(a.span, "PG906", `amounts cannot be negative`);
    return { amount: toMicro(a.value), currency: c ?? -1 };
  };
  const src = (s: Span) => text.slice(s.start, s.end).replace(/\s+/g, " ");
  const lines = new LineIndex(text);
  const lineOf = (s: Span) => lines.position(s.start).line + 1;

  const plan: ScenarioPlan = {
    title: decl.title, path, span: decl.span, links: [], gossipEvery: 1, ledger: initialLedger(world), events: [], expectations: [], lastStep: 0,
  };
  let lastWritten = 0;
  let sawStep = false;
  const trailing: ScheduledExpectation[] = [];
  for (const item of decl.items) {
    switch (item.kind) {
      case "link":
        for (let k = 1; k < item.agents.length; k++) {
          const a = agentOf(item.agents[k - 1]), b = agentOf(item.agents[k]);
          if (a === b && a >= 0) err(item.span, "PG907", `an agent cannot link to itself ('${item.agents[k].text}')`);
          else plan.links.push([a, b]);
        }
        break;
      case "gossip":
        if (!(item.every >= 1) || !Number.isInteger(item.every)) err(item.span, "PG908", `gossip runs every whole number of steps, at least 1 (got ${item.every})`);
        else plan.gossipEvery = item.every;
        break;
      case "balance": {
        const a = agentOf(item.agent);
        const { amount, currency } = amountOf(item.amount);
        if (a >= 0 && currency >= 0) {
          const problem = setBalance(world, plan.ledger, a, currency, amount);
          if (problem) err(item.span, "PG912", problem);
        }
        break;
      }
      case "step": {
        if (!Number.isInteger(item.step) || item.step < 1) { err(item.stepSpan, "PG909", `steps are numbered from 1 (got ${item.step})`); break; }
        if (item.step > STEP_LIMIT) { err(item.stepSpan, "PG910", `step ${item.step} is over the limit of ${STEP_LIMIT} steps per scenario`); break; }
        if (item.step < lastWritten) err(item.stepSpan, "PG911", `step ${item.step} is written after step ${lastWritten}; write steps in order`);
        lastWritten = Math.max(lastWritten, item.step);
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
            if (p && event.agent >= 0 && p.promiser !== event.agent) {
              err(e.span, "PG913", `${e.agent.text} cannot break ${e.promise.text}: only its promiser, ${world.agents[p.promiser].name}, can`);
            }
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
            if (x.byStep.step > STEP_LIMIT) err(x.byStep.span, "PG910", `step ${x.byStep.step} is over the limit of ${STEP_LIMIT} steps per scenario`);
            else if (x.byStep.step < 0 || !Number.isInteger(x.byStep.step)) err(x.byStep.span, "PG909", `steps are whole numbers from 0 (got ${x.byStep.step})`);
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
  plan.lastStep = Math.max(lastWritten, ...plan.expectations.map((e) => e.step));
  // Expectations written after the last step line are checked at the very end;
  // those between step lines after the step above them.
  for (const t of trailing) plan.expectations.push(t.step === lastWritten && sawStep ? { ...t, step: plan.lastStep } : t);
  // Expectations written with no step line above them still run after setup (step 0) or at the end if steps follow.
  plan.events.sort((a, b) => a.step - b.step);
  plan.expectations.sort((a, b) => a.step - b.step);
  return diagnostics.length ? { diagnostics } : { plan, diagnostics };
}

/** Every currency's issuer starts with its whole declared supply; a currency without `supply` starts at 0 and is minted by setup. */
export function initialLedger(world: World): Ledger {
  return {
    holdings: world.currencies.map((c) => new Map(c.supply ? [[c.issuer, c.supply]] : [])),
    issued: world.currencies.map((c) => c.supply ?? 0),
  };
}

/**
 * `balance A N unit` sets A's balance to N. With a declared supply the difference
 * comes from (or goes back to) the issuer, so the supply is conserved; without one
 * the issuer mints it. Returns a problem to report, or undefined.
 */
export function setBalance(world: World, ledger: Ledger, agent: number, currency: number, amount: number): string | undefined {
  const c = world.currencies[currency];
  const held = ledger.holdings[currency];
  const current = held.get(agent) ?? 0;
  const delta = amount - current;
  if (c.supply === undefined) {
    held.set(agent, amount);
    ledger.issued[currency] += delta;
    return undefined;
  }
  if (agent === c.issuer) {
    return `${world.agents[agent].name} issues ${c.name} and starts with its whole supply (${c.supply / UNIT}); set other agents' balances instead, they are transferred from it`;
  }
  const issuerHas = held.get(c.issuer) ?? 0;
  if (delta > issuerHas) {
    return `${world.agents[c.issuer].name} has only ${issuerHas / UNIT} ${c.name} left of its supply of ${c.supply / UNIT}; cannot give ${world.agents[agent].name} ${amount / UNIT}`;
  }
  held.set(c.issuer, issuerHas - delta);
  held.set(agent, amount);
  return undefined;
}

function suggest(name: string, candidates: Iterable<string>): string {
  const best = closest(name, candidates);
  return best ? `; did you mean '${best}'?` : "";
}
