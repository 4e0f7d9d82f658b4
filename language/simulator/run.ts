// Runs one scenario plan step by step and records the trace (docs/trace.md).
// A `ScenarioRun` can be driven one step at a time (the debugger does) or to the end.
import { Engine, type Assessment, type EventResult } from "./engine.ts";
import { type Outcome, type ScenarioPlan, type ScheduledExpectation, type World, UNIT } from "./model.ts";

export const TRACE_FORMAT = "promisegrid-trace/1";

export interface TraceTransfer { from: string; to: string; amount: number; currency: string }
export interface TraceEvent {
  line: number;
  text: string;
  kind: string;
  outcome: Outcome;
  reason: string;
  promise?: string;
  transfer?: TraceTransfer;
  notices: number[];
  expected?: Outcome;
  passed?: boolean;
}
export interface TraceExpectation {
  line: number;
  text: string;
  step: number;
  agent: string | null;
  passed: boolean;
  saw: string;
  /** What was expected and what was seen, as short values ("kept", "4 taco", "heard at step 2"). */
  expected: string;
  seen: string;
}
export interface AgentView {
  present: boolean;
  balances: Record<string, number>;
  promises: Record<string, Assessment>;
  /** Notice ids heard, in the order heard. */
  heard: number[];
}
export interface ViewDelta { present?: boolean; balances?: Record<string, number>; promises?: Record<string, Assessment> }
export interface TraceStep {
  step: number;
  events: TraceEvent[];
  gossip: { from: string; to: string; notices: number[] }[];
  /** Per agent, the notices first heard this step (by seeing, or by gossip). */
  learned: Record<string, number[]>;
  /** Per agent, only the parts of its view that changed this step. */
  views: Record<string, ViewDelta>;
  expectations: TraceExpectation[];
}
export interface TraceNotice {
  id: number;
  kind: "kept" | "refused" | "broken" | "revoked";
  promise?: string;
  capability?: string;
  step: number;
  witnesses: string[];
}
export interface Trace {
  format: typeof TRACE_FORMAT;
  scenario: string;
  path: string;
  line: number;
  lastStep: number;
  gossipEvery: number;
  agents: { name: string; description?: string }[];
  links: [string, string][];
  currencies: { name: string; issuer: string; issued: number }[];
  promises: { label: string; promiser: string; promisees: string[]; polarity: "+" | "-"; body: string; line: number }[];
  initial: Record<string, AgentView>;
  timeline: TraceStep[];
  notices: TraceNotice[];
  expectations: TraceExpectation[];
  passed: boolean;
}

export class ScenarioRun {
  readonly engine: Engine;
  readonly timeline: TraceStep[] = [];
  readonly results: TraceExpectation[] = [];
  private nextEvent = 0;
  private nextExpectation = 0;
  readonly initial: Record<string, AgentView>;
  private readonly lineOf: (offset: number) => number;

  constructor(readonly world: World, readonly plan: ScenarioPlan, lineOf: (offset: number) => number) {
    this.lineOf = lineOf;
    this.engine = new Engine(world, { links: plan.links, gossipEvery: plan.gossipEvery, ledger: plan.ledger, record: true });
    this.initial = Object.fromEntries(world.agents.map((a) => [a.name, this.view(a.index)]));
    this.results.push(...this.checkDue(0));
  }

  get step(): number { return this.engine.step; }
  get done(): boolean { return this.engine.step >= this.plan.lastStep; }

  /** Runs the next step: its events in written order, then gossip, then the expectations due. */
  next(): TraceStep {
    const engine = this.engine;
    const step = engine.beginStep();
    const world = this.world;
    const events: TraceEvent[] = [];
    const outcomes: TraceExpectation[] = [];
    const moved: number[] = [];
    while (this.nextEvent < this.plan.events.length && this.plan.events[this.nextEvent].step === step) {
      const s = this.plan.events[this.nextEvent++];
      const r = engine.apply(s.event);
      const ev = this.traceEvent(s.line, s.text, s.event.kind, r);
      if (s.expect) {
        ev.expected = s.expect.outcome;
        ev.passed = r.outcome === s.expect.outcome;
        const agent = "agent" in s.event ? world.agents[s.event.agent].name : null;
        const result: TraceExpectation = {
          line: this.lineOf(s.expect.span.start), text: `${s.text} expect ${s.expect.outcome}`, step, agent, passed: ev.passed,
          saw: `${r.outcome}: ${r.reason}`, expected: s.expect.outcome, seen: r.outcome,
        };
        this.results.push(result);
        outcomes.push(result);
      }
      if ((s.event.kind === "leave" || s.event.kind === "join") && r.outcome === "kept") moved.push(s.event.agent);
      events.push(ev);
    }
    const deliveries = engine.endStep();
    const learned: Record<string, number[]> = {};
    const views: Record<string, ViewDelta> = {};
    for (const [agent, change] of [...engine.changes].sort((a, b) => a[0] - b[0])) {
      const name = world.agents[agent].name;
      if (change.learned.length) learned[name] = change.learned;
      const delta: ViewDelta = {};
      if (change.balances.size) {
        delta.balances = {};
        for (const c of [...change.balances].sort((a, b) => a - b)) delta.balances[world.currencies[c].name] = engine.balance(agent, c) / UNIT;
      }
      if (change.promises.size) {
        delta.promises = {};
        for (const p of [...change.promises].sort((a, b) => a - b)) delta.promises[world.promises[p].label] = engine.assessment(agent, p);
      }
      if (delta.balances || delta.promises) views[name] = delta;
    }
    // Presence is part of the view shown to people.
    for (const a of moved) views[world.agents[a].name] = { ...views[world.agents[a].name], present: !!engine.present[a] };
    const expectations = this.checkDue(step);
    this.results.push(...expectations);
    const record: TraceStep = {
      step, events,
      gossip: deliveries.map((d) => ({ from: world.agents[d.from].name, to: world.agents[d.to].name, notices: d.notices })),
      learned, views,
      // Outcome expectations of this step's events first, in written order, then the others due now.
      expectations: [...outcomes, ...expectations],
    };
    this.timeline.push(record);
    return record;
  }

  /** Runs to the last step and returns the trace. */
  finish(): Trace {
    while (!this.done) this.next();
    return this.trace();
  }

  /** One agent's whole view as it stands now. */
  view(agent: number): AgentView {
    const e = this.engine, w = this.world;
    const balances: Record<string, number> = {};
    w.currencies.forEach((c) => {
      const b = e.balance(agent, c.index);
      if (b !== 0 || c.issuer === agent) balances[c.name] = b / UNIT;
    });
    const promises: Record<string, Assessment> = {};
    for (const p of w.promises) {
      const a = e.assessment(agent, p.index);
      if (a !== "unknown") promises[p.label] = a;
    }
    return { present: !!e.present[agent], balances, promises, heard: [...e.views[agent].list] };
  }

  trace(): Trace {
    const w = this.world, e = this.engine;
    const name = (a: number) => w.agents[a].name;
    return {
      format: TRACE_FORMAT,
      scenario: this.plan.title,
      path: this.plan.path,
      line: this.lineOf(this.plan.span.start),
      lastStep: this.plan.lastStep,
      gossipEvery: this.plan.gossipEvery,
      agents: w.agents.map((a) => (a.description === undefined ? { name: a.name } : { name: a.name, description: a.description })),
      links: this.plan.links.map(([a, b]) => [name(a), name(b)]),
      currencies: w.currencies.map((c) => ({ name: c.name, issuer: name(c.issuer), issued: e.issued[c.index] / UNIT })),
      promises: w.promises.map((p) => ({
        label: p.label, promiser: name(p.promiser), promisees: p.anyone ? ["*"] : p.promisees.map(name),
        polarity: p.polarity, body: p.body.text, line: p.path === this.plan.path ? this.lineOf(p.span.start) : 0,
      })),
      initial: this.initial,
      timeline: this.timeline,
      notices: e.notices.map((n) => ({
        id: n.id, kind: n.kind,
        ...(n.promise !== undefined ? { promise: w.promises[n.promise].label } : {}),
        ...(n.cap !== undefined ? { capability: e.caps[n.cap].name } : {}),
        step: n.step, witnesses: n.witnesses.map(name),
      })),
      expectations: this.results,
      passed: this.results.every((r) => r.passed),
    };
  }

  private traceEvent(line: number, text: string, kind: string, r: EventResult): TraceEvent {
    const w = this.world;
    const ev: TraceEvent = { line, text, kind, outcome: r.outcome, reason: r.reason, notices: [...r.notices] };
    if (r.promise !== undefined) ev.promise = w.promises[r.promise].label;
    if (r.transfer) {
      ev.transfer = { from: w.agents[r.transfer.from].name, to: w.agents[r.transfer.to].name, amount: r.transfer.amount / UNIT, currency: w.currencies[r.transfer.currency].name };
    }
    return ev;
  }

  private checkDue(step: number): TraceExpectation[] {
    const out: TraceExpectation[] = [];
    const list = this.plan.expectations;
    while (this.nextExpectation < list.length && list[this.nextExpectation].step <= step) {
      out.push(this.check(list[this.nextExpectation++], step));
    }
    return out;
  }

  private check(x: ScheduledExpectation, step: number): TraceExpectation {
    const e = this.engine, w = this.world;
    const base = { line: x.line, text: x.text, step };
    const ex = x.expectation;
    switch (ex.kind) {
      case "outcome": return { ...base, agent: null, passed: false, saw: "an outcome expectation needs an event", expected: ex.outcome, seen: "no event" };
      case "knows": {
        const agent = w.agents[ex.agent].name, cap = e.caps[ex.cap].name;
        const id = e.knowsRevoked(ex.agent, ex.cap);
        if (id !== undefined) {
          const n = e.notices[id];
          return { ...base, agent, passed: true, expected: "heard", seen: `heard at step ${e.heardAt(ex.agent, id)}`, saw: `${agent} heard that ${e.caps[n.cap!].name} was revoked at step ${e.heardAt(ex.agent, id)} (revoked at step ${n.step})` };
        }
        const truth = e.revokedStep(ex.cap);
        return {
          ...base, agent, passed: false, expected: "heard", seen: "not heard",
          saw: `${agent} had not heard that ${cap} was revoked by step ${step}` + (truth >= 0 ? ` (it was revoked at step ${truth})` : ` (${cap} was never revoked)`),
        };
      }
      case "balance": {
        const agent = w.agents[ex.agent].name, c = w.currencies[ex.currency].name;
        const has = e.balance(ex.agent, ex.currency);
        return { ...base, agent, passed: has === ex.amount, saw: `${agent} has ${has / UNIT} ${c}`, expected: `${ex.amount / UNIT} ${c}`, seen: `${has / UNIT} ${c}` };
      }
      case "promise": {
        const p = w.promises[ex.promise];
        const viewer = ex.forAgent ?? p.promiser;
        const agent = w.agents[viewer].name;
        const a = e.assessment(viewer, ex.promise);
        return { ...base, agent, passed: a === ex.outcome, saw: `${agent} sees ${p.label} ${a}`, expected: ex.outcome, seen: a };
      }
    }
  }
}
