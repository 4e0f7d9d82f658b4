// Why a step came out as it did: for each event, the promise exercised and its
// condition as the promiser saw it then (the notices it had heard, each token hop
// it checked), and the outcome. The verdicts are the engine's own (evalCond,
// chainProblem), read from a run paused just before each event.
import type { Condition, PromiseDecl, ScenarioDecl, Span } from "../../grammar/ast.ts";
import { prepareScenarios } from "./index.ts";
import type { Engine } from "./engine.ts";
import type { Program } from "../program.ts";
import { UNIT, type Cond, type Outcome, type ScheduledEvent, type World } from "./model.ts";
import type { Trace, TraceExpectation } from "./run.ts";

export const EXPLAIN_FORMAT = "promisegrid-explain/1";

/** A notice an agent had heard: when it happened, when the agent heard it, and how. */
export interface HeardNotice {
  id: number;
  kind: "kept" | "refused" | "broken" | "revoked";
  /** The promise's label, or the capability's name for a revocation. */
  about: string;
  /** The step it happened at. */
  step: number;
  heardAt: number;
  /** "witnessed" when the agent saw it happen; "gossip" when a neighbour told it (`from`). */
  how: "witnessed" | "gossip";
  from: string | null;
}
/** A notice that existed but the agent had not heard. */
export interface UnheardNotice { id: number; kind: HeardNotice["kind"]; about: string; step: number; witnesses: string[] }

/** One token of a capability chain, checked in the viewer's view. */
export interface TokenHop {
  token: string;
  kind: "capability" | "delegate" | "runtime";
  issuer: string;
  holder: string;
  grants: string[];
  /** Last step it is valid at; null when it never expires. */
  validUntil: number | null;
  /** Truth: the step it was revoked at, or null. */
  revokedAt: number | null;
  /** The revocation notice, if the viewer had heard it. */
  revocationHeard: HeardNotice | null;
  ok: boolean;
  problem: string | null;
}
export interface ConditionNode {
  kind: Cond["kind"];
  text: string;
  holds: boolean;
  why: string[];
  children: ConditionNode[];
  /** For holds(C): the token the requester presented, then each hop up to C. */
  hops?: TokenHop[];
  /** For kept(P): how the viewer assessed P. */
  assessment?: string;
}
export interface SpanFix { title: string; edits: { path: string; span: Span; newText: string }[] }
export interface ExplainedEvent {
  line: number;
  text: string;
  kind: string;
  outcome: Outcome;
  reason: string;
  expected?: Outcome;
  passed?: boolean;
  /** The acting agent (the requester of an invocation). */
  agent: string | null;
  /** Where an invocation was made: the promiser. */
  at: string | null;
  promise: { label: string; promiser: string; path: string; line: number; body: string; condition: string | null; price: string | null } | null;
  /** Whose view the condition was evaluated in (the promiser's), and what it had heard just before. */
  viewer: string | null;
  heard: HeardNotice[];
  unheard: UnheardNotice[];
  condition: ConditionNode | null;
  price: { price: string; balance: string; enough: boolean } | null;
  /** Edits that would change this outcome, when an obvious one exists. */
  fixes: SpanFix[];
}
export interface ExplainedExpectation extends TraceExpectation { fixes: SpanFix[] }
export interface Explanation {
  format: typeof EXPLAIN_FORMAT;
  scenario: string;
  path: string;
  step: number;
  lastStep: number;
  /** The agent asked about, or null for every agent. */
  agent: string | null;
  events: ExplainedEvent[];
  expectations: ExplainedExpectation[];
  /** What each agent (or the one asked about) had heard by the end of the step, gossip included. */
  knowledge: { agent: string; heard: HeardNotice[]; unheard: UnheardNotice[] }[];
}

export class ExplainError extends Error {}

/** Explains step `step` of the scenario titled `title` (the only one in `path` when undefined). */
export function explainStep(sources: Program, path: string, title: string | undefined, step: number, agent?: string): Explanation {
  const pick = (t: string, p: string) => p === path && (title === undefined || t === title);
  const first = prepareScenarios(sources, pick);
  if (!first.scenarios.length) {
    const all = prepareScenarios(sources, (_t, p) => p === path).scenarios.map((s) => `"${s.title}"`);
    throw new ExplainError(title === undefined ? `the file has no scenarios` : `no scenario titled "${title}"` + (all.length ? `; the file has ${all.join(", ")}` : ""));
  }
  if (first.scenarios.length > 1) throw new ExplainError(`the file has ${first.scenarios.length} scenarios; pick one by title`);
  const prepared = first.scenarios[0];
  if (!prepared.run) throw new ExplainError(`scenario "${prepared.title}" cannot run: ${prepared.diagnostics.map((d) => `${d.code} ${d.message}`).join("; ")}`);
  const trace = prepared.run.finish();
  if (step < 0 || step > trace.lastStep) throw new ExplainError(`scenario "${trace.scenario}" runs to step ${trace.lastStep}; step ${step} is not in it`);
  // A second, identical run, paused before each event of the step.
  const { world, scenarios } = prepareScenarios(sources, pick);
  let viewerFilter: number | undefined;
  if (agent !== undefined) {
    viewerFilter = world.agentIndex.get(agent);
    if (viewerFilter === undefined) throw new ExplainError(`no agent is named '${agent}'; the agents are ${world.agents.map((a) => a.name).join(", ")}`);
  }

  const run = scenarios[0].run!;
  while (run.step < step - 1) run.next();
  const engine = run.engine;
  const ex = new Explainer(sources, world, engine, trace, prepared.decl);
  const events: ExplainedEvent[] = [];
  if (step > 0) {
    engine.beginStep();
    const planned = run.plan.events.filter((e) => e.step === step);
    const recorded = trace.timeline[step - 1].events;
    planned.forEach((s, i) => {
      const explained = ex.event(s, recorded[i]);
      engine.apply(s.event);
      if (viewerFilter === undefined || involves(s, viewerFilter)) events.push(explained);
    });
  }
  const named = agent === undefined ? world.agents : [world.agents[viewerFilter!]];
  const expectations = (step === 0 ? trace.expectations.filter((x) => x.step === 0) : trace.timeline[step - 1].expectations)
    .filter((x) => agent === undefined || x.agent === agent)
    .map((x) => ({ ...x, fixes: x.passed ? [] : ex.expectationFixes(run.plan.expectations.find((p) => p.line === x.line)) }));
  return {
    format: EXPLAIN_FORMAT, scenario: trace.scenario, path: trace.path, step, lastStep: trace.lastStep, agent: agent ?? null,
    events, expectations,
    knowledge: named.map((a) => ({ agent: a.name, ...ex.knowledgeAtEnd(a.index, step) })),
  };
}

function involves(s: ScheduledEvent, agent: number): boolean {
  const e = s.event;
  if (e.kind === "partition") return e.groups.some((g) => g.includes(agent));
  if (e.kind === "heal") return true;
  return e.agent === agent || ("at" in e && e.at === agent) || ("to" in e && e.to === agent);
}

class Explainer {
  constructor(
    private readonly sources: Program, private readonly world: World, private readonly engine: Engine,
    private readonly trace: Trace, private readonly scenario: ScenarioDecl,
  ) {}

  private name(a: number): string { return this.world.agents[a].name; }

  private about(id: number): string {
    const n = this.engine.notices[id];
    return n.cap !== undefined ? this.engine.caps[n.cap].name : this.world.promises[n.promise!].label;
  }

  /** How `agent` came to hear notice `id` at `step`: it saw it, or a neighbour gossiped it then. */
  private heardNotice(agent: number, id: number, heardAt: number): HeardNotice {
    const n = this.engine.notices[id];
    const name = this.name(agent);
    const delivery = heardAt >= 1 ? this.trace.timeline[heardAt - 1].gossip.find((g) => g.to === name && g.notices.includes(id)) : undefined;
    const how = delivery ? "gossip" : "witnessed";
    return { id, kind: n.kind, about: this.about(id), step: n.step, heardAt, how, from: delivery ? delivery.from : null };
  }

  /** What `agent` has heard now, in the paused engine, and what it has not. */
  private knowledgeNow(agent: number): { heard: HeardNotice[]; unheard: UnheardNotice[] } {
    const view = this.engine.views[agent];
    const heard = view.list.map((id, i) => this.heardNotice(agent, id, view.heardAt[i]));
    const unheard = this.engine.notices.filter((n) => !view.known.has(n.id))
      .map((n) => ({ id: n.id, kind: n.kind, about: this.about(n.id), step: n.step, witnesses: n.witnesses.map((w) => this.name(w)) }));
    return { heard, unheard };
  }

  /** Knowledge at the end of `step`, read from the trace (the paused engine is mid-step). */
  knowledgeAtEnd(agent: number, step: number): { heard: HeardNotice[]; unheard: UnheardNotice[] } {
    const name = this.name(agent);
    const heard: HeardNotice[] = [];
    for (const s of this.trace.timeline.slice(0, step)) {
      for (const id of s.learned[name] ?? []) heard.push(this.heardNotice(agent, id, s.step));
    }
    const known = new Set(heard.map((h) => h.id));
    const unheard = this.trace.notices.filter((n) => n.step <= step && !known.has(n.id))
      .map((n) => ({ id: n.id, kind: n.kind, about: n.capability ?? n.promise!, step: n.step, witnesses: n.witnesses }));
    return { heard, unheard };
  }

  event(s: ScheduledEvent, recorded: Trace["timeline"][number]["events"][number]): ExplainedEvent {
    const e = s.event, engine = this.engine;
    const agent = "agent" in e ? e.agent : undefined;
    const out: ExplainedEvent = {
      line: recorded.line, text: recorded.text, kind: recorded.kind, outcome: recorded.outcome, reason: recorded.reason,
      ...(recorded.expected !== undefined ? { expected: recorded.expected, passed: recorded.passed } : {}),
      agent: agent === undefined ? null : this.name(agent), at: null, promise: null, viewer: null, heard: [], unheard: [],
      condition: null, price: null, fixes: [],
    };
    // An unavailable event reached nobody: no view decided it, so there is no condition to show, only the reason.
    if (recorded.outcome === "unavailable") return out;
    if (e.kind === "delegate" || e.kind === "revoke") {
      // The actor's own view decides these (a delegation checks the chain it holds).
      out.viewer = this.name(e.agent);
      Object.assign(out, this.knowledgeNow(e.agent));
      if (e.kind === "delegate") {
        const token = engine.tokenOf(e.agent, e.cap);
        if (token !== undefined) out.condition = this.holdsNode(`holds(${engine.caps[e.cap].name})`, e.agent, token, e.cap);
      }
      return out;
    }
    if (e.kind !== "invoke") return out;
    out.at = this.name(e.at);
    out.viewer = out.at;
    Object.assign(out, this.knowledgeNow(e.at));
    const pi = recorded.promise === undefined ? -1 : this.world.promises.findIndex((p) => p.label === recorded.promise);
    if (pi < 0) {
      if (recorded.outcome === "refused" && engine.present[e.agent]) out.fixes.push(this.missingPromiseFix(e.agent, e.cap, e.at));
      return out;
    }
    const p = this.world.promises[pi];
    const decl = this.promiseDecl(p.path, p.span);
    const text = this.sources.files.get(p.path)!.text;
    const src = (span: Span) => text.slice(span.start, span.end).replace(/\s+/g, " ");
    const line = text.slice(0, p.span.start).split("\n").length;
    const priceText = p.price ? amount(p.price.amount, this.world.currencies[p.price.currency].name) : null;
    out.promise = {
      label: p.label, promiser: this.name(p.promiser), path: p.path, line, body: p.body.text,
      condition: decl?.condition ? src(decl.condition.span) : null, price: priceText,
    };
    const token = engine.tokenOf(e.agent, e.cap);
    if (p.condition) out.condition = this.node(p.condition, decl?.condition, e.at, token, src);
    if (p.price) {
      const has = engine.balance(e.agent, p.price.currency);
      const currency = this.world.currencies[p.price.currency].name;
      out.price = { price: priceText!, balance: amount(has, currency), enough: has >= p.price.amount };
      const conditionHolds = !out.condition || out.condition.holds;
      if (!out.price.enough && conditionHolds && recorded.outcome === "refused") out.fixes.push(...this.priceFixes(decl, e.agent, has, currency, p.label));
    }
    return out;
  }

  private node(c: Cond, ast: Condition | undefined, viewer: number, token: number | undefined, src: (s: Span) => string): ConditionNode {
    const why: string[] = [];
    const holds = this.engine.evalCond(c, viewer, token, why);
    const text = ast ? src(ast.span) : c.kind;
    const node: ConditionNode = { kind: c.kind, text, holds, why, children: [] };
    switch (c.kind) {
      case "holds":
        node.hops = token === undefined ? [] : this.hops(viewer, token, c.cap);
        break;
      case "kept":
        node.assessment = this.engine.assessment(viewer, c.promise);
        break;
      case "not":
        node.children.push(this.node(c.operand, ast?.kind === "not" ? ast.operand : undefined, viewer, token, src));
        break;
      case "and":
      case "or": {
        const pair = ast?.kind === "and" || ast?.kind === "or" ? ast : undefined;
        node.children.push(this.node(c.left, pair?.left, viewer, token, src), this.node(c.right, pair?.right, viewer, token, src));
        break;
      }
    }
    return node;
  }

  private holdsNode(text: string, viewer: number, token: number, cap: number): ConditionNode {
    const hops = this.hops(viewer, token, cap);
    const problem = this.engine.chainProblem(viewer, token, cap);
    return { kind: "holds", text, holds: !problem, why: problem ? [problem] : [], children: [], hops };
  }

  /** Each token from the one presented up to `until`; the hop the engine's verdict on the chain blames is the one not ok. */
  private hops(viewer: number, token: number, until: number): TokenHop[] {
    const engine = this.engine, out: TokenHop[] = [];
    const verdict = engine.chainVerdict(viewer, token);
    const revoked = engine.views[viewer].revoked;
    const view = engine.views[viewer];
    for (let t: number | undefined = token; t !== undefined; t = engine.caps[t].parent) {
      const c = engine.caps[t];
      const problem = verdict?.hop === t ? verdict.message : null;
      const at = engine.revokedStep(t);
      const id = revoked.get(t);
      out.push({
        token: c.name, kind: c.kind, issuer: this.name(c.issuer), holder: this.name(c.holder), grants: c.grants.map((g) => g.text),
        validUntil: Number.isFinite(c.expiresAt) ? c.expiresAt : null, revokedAt: at >= 0 ? at : null,
        revocationHeard: id === undefined ? null : this.heardNotice(viewer, id, view.heardAt[view.list.indexOf(id)]),
        ok: problem === null, problem,
      });
      if (t === until) break;
    }
    return out;
  }

  private promiseDecl(path: string, span: Span): PromiseDecl | undefined {
    return this.sources.files.get(path)?.declarations.find((d): d is PromiseDecl => d.kind === "promise" && d.span.start === span.start);
  }

  /** Nobody promised what the capability grants: declare that promise, before the scenario. */
  private missingPromiseFix(requester: number, cap: number, at: number): SpanFix {
    const c = this.engine.caps[cap];
    const root = rootOf(this.engine, cap);
    const text = `promise ${this.name(at)} -> ${this.name(requester)} +${c.grants[0]?.text ?? "serve(*)"} if holds(${this.engine.caps[root].name})\n`;
    const start = this.scenario.doc?.span.start ?? this.scenario.span.start;
    return { title: `Declare the promise: ${text.trim()}`, edits: [{ path: this.scenarioFile(), span: { start, end: start }, newText: text }] };
  }

  private scenarioFile(): string {
    for (const [path, source] of this.sources.files) if (source.declarations.includes(this.scenario)) return path;
    return this.trace.path;
  }

  /** The requester cannot pay: lower the price to what it has, or give it enough at setup. */
  private priceFixes(decl: PromiseDecl | undefined, requester: number, has: number, currency: string, label: string): SpanFix[] {
    const fixes: SpanFix[] = [];
    const field = decl?.constraints.find((f) => f.key.text === "price");
    const file = decl ? this.fileOf(decl) : undefined;
    if (field?.value && file) {
      fixes.push({ title: `Lower the price of ${label} to ${amount(has, currency)}`, edits: [{ path: file, span: field.value.span, newText: amount(has, currency) }] });
    }
    return fixes;
  }

  private fileOf(decl: PromiseDecl): string | undefined {
    for (const [path, source] of this.sources.files) if (source.declarations.includes(decl)) return path;
    return undefined;
  }

  /** A revocation that never reached the agent: link it to the agent that revoked. */
  expectationFixes(planned: { expectation: { kind: string; agent?: number; cap?: number } } | undefined): SpanFix[] {
    const ex = planned?.expectation;
    if (!ex || ex.kind !== "knows" || ex.agent === undefined || ex.cap === undefined) return [];
    const revocation = this.trace.notices.find((n) => n.kind === "revoked" && n.capability === this.engine.caps[ex.cap!].name);
    if (!revocation) return [];
    const from = revocation.witnesses[0], to = this.name(ex.agent);
    const first = this.scenario.items[0];
    if (!first || from === to) return [];
    const text = `link ${from} <-> ${to}\n  `;
    return [{ title: `Link ${from} and ${to}, so gossip carries the revocation`, edits: [{ path: this.scenarioFile(), span: { start: first.span.start, end: first.span.start }, newText: text }] }];
  }
}

function rootOf(engine: Engine, cap: number): number {
  let t = cap;
  while (engine.caps[t].parent !== undefined) t = engine.caps[t].parent!;
  return t;
}

function amount(micro: number, currency: string): string {
  return `${micro / UNIT} ${currency}`;
}
