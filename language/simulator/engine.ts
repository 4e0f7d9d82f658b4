// The deterministic step engine. Ground truth (who revoked, broke or paid what)
// lives here once; each agent's view is only the notices it has heard, so an
// agent acts on what it knows, not on what is true.
import { chainProblem, mayRevoke, meets, verdictStandsUntil, widenings, type Hop } from "../authority.ts";
import {
  type BodyKey, type CapInfo, type Cond, type Ledger, type Outcome, type SimEvent, type World, UNIT, hopOf,
} from "./model.ts";

export type Assessment = "kept" | "broken" | "refused" | "pending" | "unknown";

/** A fact that spreads by gossip: an outcome of a promise, or a revocation. */
export interface Notice {
  id: number;
  kind: "kept" | "refused" | "broken" | "revoked";
  promise?: number;
  cap?: number;
  step: number;
  /** The agents that saw it happen and so knew it at once. */
  witnesses: number[];
}

export interface EventResult {
  outcome: Outcome;
  reason: string;
  /** The promise an invocation exercised. */
  promise?: number;
  /** Notices this event created. */
  notices: readonly number[];
  transfer?: { from: number; to: number; amount: number; currency: number };
  /** A token created by a delegation. */
  token?: number;
}

const NONE: readonly number[] = Object.freeze([]);

/** Why a token's chain is not valid, and the token (the hop) at fault when it is one hop's. */
export interface Verdict { message: string; hop?: number }

export interface Delivery { from: number; to: number; notices: number[] }

export interface EngineOptions {
  links: [number, number][];
  gossipEvery: number;
  ledger: Ledger;
  /** Keep per-step change records (for traces); off for benchmarks. */
  record?: boolean;
}

/** What changed in one agent's view during the current step. */
export interface ViewChange { learned: number[]; promises: Set<number>; balances: Set<number> }

class View {
  readonly known = new Set<number>();
  /** Notices in the order heard, and the step each was heard at. */
  readonly list: number[] = [];
  readonly heardAt: number[] = [];
  /** Start of the notices not yet passed on by gossip. */
  frontier = 0;
  /** Latest notice heard about each promise. */
  readonly assess = new Map<number, number>();
  /** Revocation notice heard for each token. */
  readonly revoked = new Map<number, number>();
  /** Names this view and its revocations: it changes whenever `revoked` does, so a verdict kept under it stands. */
  epoch: number;
  constructor(epoch: number) { this.epoch = epoch; }
}

export class Engine {
  readonly world: World;
  readonly caps: CapInfo[];
  readonly notices: Notice[] = [];
  /** Each notice's kind, apart, for the hot path. */
  private readonly noticeKind: Assessment[] = [];
  step = 0;
  readonly present: Uint8Array;
  /** Partition group per agent; -1 when not named in the current partition. */
  group: Int32Array | undefined;
  readonly links: [number, number][];
  readonly gossipEvery: number;
  /** The gossip round a link last carried traffic in; a link not active last round re-sends everything. */
  private readonly linkRound: Int32Array;
  private round = 0;
  readonly views: View[];
  /** Per currency: agent -> micro-units. */
  /** Per agent: [currency, micro-units, currency, micro-units, ...]; agents hold few currencies, so a scan beats a map. */
  private readonly held: number[][];
  readonly issued: number[];
  /** Step a promise was broken on purpose by its promiser, or -1. */
  readonly brokenSince: Int32Array;
  /** Truth of revocation per token (step), -1 when standing. */
  private revokedAt: number[];
  /** Runtime tokens: key `${cap}:${holder}` -> token index. */
  private readonly heldTokens = new Map<string, number>();
  private readonly candidates = new Map<string, number>();
  private readonly lastAgent: Int32Array;
  /** Gossip buffers, reused every round. */
  private readonly roundStart: Int32Array;
  private readonly roundEnd: Int32Array;
  private readonly sends: Int32Array;
  /** What the last evaluate() found besides its outcome. */
  readonly scratch = { reason: "", notice: -1, promise: -1, paid: 0, currency: -1 };
  /** Scratch list of reasons a condition failed, reused to spare the allocator. */
  private readonly why: string[] = [];
  private readonly promiserSees: Int32Array;
  private readonly askedBy: Int32Array;
  private readonly askedSees: Int32Array;
  private readonly lastAt: Int32Array;
  private readonly lastFound: Int32Array;
  private readonly record: boolean;
  changes = new Map<number, ViewChange>();
  private readonly promisesOf: number[][];
  /**
   * chainVerdict's last answer per token, kept while it stands: for which view (its
   * epoch), until which step (authority.verdictStandsUntil), and the verdict. Flat
   * arrays: the hot path reads two of them, in token order.
   */
  private readonly verdictEpoch: number[];
  private readonly verdictUntil: number[];
  /** verdictUntil when the verdict found no problem, else -Infinity. */
  private readonly validUntil: number[];
  private readonly verdictOf: (Verdict | undefined)[];
  private epochs = 0;
  /** The revocations heard by the viewer judge() judges for, and the one view object it hands the authority rule. */
  private judged: Map<number, number> = new Map();
  private readonly judgeView = {
    now: 0,
    // The revoker of a revocation notice is its one witness.
    revokedBy: (id: number, by: readonly number[]): boolean => {
      const n = this.judged.size > 0 ? this.judged.get(id) : undefined;
      return n !== undefined && by.includes(this.notices[n].witnesses[0]);
    },
  };

  constructor(world: World, options: EngineOptions) {
    this.world = world;
    this.caps = [...world.caps];
    const n = world.agents.length;
    this.present = new Uint8Array(n).fill(1);
    this.links = options.links.filter(([a, b]) => a >= 0 && b >= 0);
    this.linkRound = new Int32Array(this.links.length).fill(-1);
    this.gossipEvery = Math.max(1, options.gossipEvery);
    this.views = Array.from({ length: n }, (_, i) => new View(i));
    this.epochs = n;
    this.held = Array.from({ length: n }, () => []);
    options.ledger.holdings.forEach((m, currency) => {
      for (const [agent, amount] of m) this.held[agent].push(currency, amount);
    });
    this.issued = [...options.ledger.issued];
    this.brokenSince = new Int32Array(world.promises.length).fill(-1);
    this.revokedAt = this.caps.map(() => -1);
    this.verdictEpoch = this.caps.map(() => -1);
    this.verdictUntil = this.caps.map(() => -Infinity);
    this.validUntil = this.caps.map(() => -Infinity);
    this.verdictOf = this.caps.map(() => undefined);
    this.record = !!options.record;
    this.lastAgent = new Int32Array(world.caps.length).fill(-1);
    this.roundStart = new Int32Array(n);
    this.roundEnd = new Int32Array(n);
    this.sends = new Int32Array(this.links.length * 8);
    this.promiserSees = new Int32Array(world.promises.length).fill(-1);
    this.askedBy = new Int32Array(world.promises.length).fill(-1);
    this.askedSees = new Int32Array(world.promises.length).fill(-1);
    this.lastAt = new Int32Array(world.caps.length).fill(-1);
    this.lastFound = new Int32Array(world.caps.length).fill(-1);
    this.promisesOf = Array.from({ length: n }, () => []);
    for (const p of world.promises) if (p.polarity === "+") this.promisesOf[p.promiser].push(p.index);
  }

  // ---- views ----

  assessment(agent: number, promise: number): Assessment {
    // Fast paths: the promiser's own view, and the last other agent asked about (usually the requester).
    // learn() keeps both in step with the views.
    let id: number | undefined;
    if (this.world.promises[promise].promiser === agent) {
      id = this.promiserSees[promise];
    } else if (this.askedBy[promise] === agent) {
      id = this.askedSees[promise];
    } else {
      id = this.views[agent].assess.get(promise) ?? -1;
      this.askedBy[promise] = agent;
      this.askedSees[promise] = id;
    }
    if (id >= 0) return this.noticeKind[id];
    const p = this.world.promises[promise];
    return p.promiser === agent || p.anyone || p.promisees.includes(agent) ? "pending" : "unknown";
  }

  /** The notice by which `agent` knows `cap` was revoked: any token of that name, or a token above it (revoking a parent cuts its children). */
  knowsRevoked(agent: number, cap: number): number | undefined {
    const name = this.caps[cap].name;
    const above = new Set<number>();
    for (let c: number | undefined = cap; c !== undefined; c = this.caps[c].parent) above.add(c);
    let best: number | undefined;
    for (const [token, id] of this.views[agent].revoked) {
      if ((this.caps[token].name === name || above.has(token)) && (best === undefined || id < best)) best = id;
    }
    return best;
  }

  /** The step at which `agent` heard notice `id`, if it has. */
  heardAt(agent: number, id: number): number | undefined {
    const v = this.views[agent];
    if (!v.known.has(id)) return undefined;
    return v.heardAt[v.list.indexOf(id)];
  }

  /** Truth: the step a token was revoked, or -1. */
  revokedStep(token: number): number { return this.revokedAt[token]; }

  balance(agent: number, currency: number): number {
    const h = this.held[agent];
    for (let i = 0; i < h.length; i += 2) if (h[i] === currency) return h[i + 1];
    return 0;
  }

  /** Whether `a` can reach `b` now: both present, and no partition between them (an agent the partition does not name reaches everyone). */
  reachable(a: number, b: number): boolean {
    if (!this.present[a] || !this.present[b]) return false;
    const g = this.group;
    return !g || g[a] < 0 || g[b] < 0 || g[a] === g[b];
  }

  /** Why `a` cannot reach `b` (reachable() is false), for a reason text. */
  private unreachable(a: number, b: number): string {
    if (!this.present[a]) return `${this.name(a)} is not present`;
    if (!this.present[b]) return `${this.name(b)} is not present`;
    return `a partition cuts ${this.name(a)} off from ${this.name(b)}`;
  }

  linkActive(i: number): boolean {
    const [a, b] = this.links[i];
    return this.reachable(a, b);
  }

  private change(agent: number): ViewChange {
    let c = this.changes.get(agent);
    if (!c) this.changes.set(agent, (c = { learned: [], promises: new Set(), balances: new Set() }));
    return c;
  }

  private learn(agent: number, id: number): boolean {
    const view = this.views[agent];
    if (view.known.has(id)) return false;
    view.known.add(id);
    view.list.push(id);
    view.heardAt.push(this.step);
    const n = this.notices[id];
    if (n.promise !== undefined) {
      const prev = view.assess.get(n.promise);
      if (prev === undefined || prev < id) {
        view.assess.set(n.promise, id);
        if (this.world.promises[n.promise].promiser === agent) this.promiserSees[n.promise] = id;
        else if (this.askedBy[n.promise] === agent) this.askedSees[n.promise] = id;
        if (this.record && (prev === undefined || this.notices[prev].kind !== n.kind)) this.change(agent).promises.add(n.promise);
      }
    } else if (n.cap !== undefined && !view.revoked.has(n.cap)) {
      view.revoked.set(n.cap, id);
      view.epoch = this.epochs++;
    }
    if (this.record) this.change(agent).learned.push(id);
    return true;
  }

  private notice(kind: Notice["kind"], witnesses: number[], promise: number | undefined, cap: number | undefined): number {
    const id = this.notices.length;
    // Same shape for every notice keeps property access fast.
    this.notices.push({ id, kind, promise, cap, step: this.step, witnesses });
    this.noticeKind.push(kind as Assessment);
    for (const w of witnesses) this.learn(w, id);
    return id;
  }

  private add(agent: number, currency: number, amount: number): void {
    const h = this.held[agent];
    for (let i = 0; i < h.length; i += 2) if (h[i] === currency) { h[i + 1] += amount; return; }
    h.push(currency, amount);
  }

  private transfer(from: number, to: number, amount: number, currency: number): void {
    this.add(from, currency, -amount);
    this.add(to, currency, amount);
    if (this.record) {
      this.change(from).balances.add(currency);
      this.change(to).balances.add(currency);
    }
  }

  // ---- steps ----

  /** Starts the next step; returns its number. */
  beginStep(): number {
    this.changes = new Map();
    return ++this.step;
  }

  /** Ends the step: gossip if this step is a gossip step. */
  endStep(): Delivery[] {
    return this.step % this.gossipEvery === 0 ? this.gossip() : [];
  }

  private name(a: number): string { return this.world.agents[a]?.name ?? "?"; }
  private amount(micro: number, currency: number): string { return `${micro / UNIT} ${this.world.currencies[currency].name}`; }

  apply(e: SimEvent): EventResult {
    switch (e.kind) {
      case "invoke": return this.invoke(e.agent, e.cap, e.at);
      case "revoke": return this.revoke(e.agent, e.cap);
      case "break": return this.breakPromise(e.agent, e.promise);
      case "pay": return this.pay(e.agent, e.amount, e.currency, e.to);
      case "delegate": return this.delegate(e.agent, e.cap, e.to);
      case "leave":
        if (!this.present[e.agent]) return this.result("refused", `${this.name(e.agent)} has already left`);
        this.present[e.agent] = 0;
        return this.result("kept", `${this.name(e.agent)} left: it gossips with nobody until it joins`);
      case "join":
        if (this.present[e.agent]) return this.result("refused", `${this.name(e.agent)} is already present`);
        this.present[e.agent] = 1;
        return this.result("kept", `${this.name(e.agent)} joined`);
      case "partition": {
        const g = new Int32Array(this.world.agents.length).fill(-1);
        e.groups.forEach((members, i) => members.forEach((a) => { g[a] = i; }));
        this.group = g;
        return this.result("kept", `nothing crosses any longer between ${e.groups.map((m) => m.map((a) => this.name(a)).join(", ")).join(" | ")}`);
      }
      case "heal":
        this.group = undefined;
        return this.result("kept", "every agent reaches every other again; links carry gossip");
    }
  }

  private result(outcome: Outcome, reason: string, extra: Partial<EventResult> = {}): EventResult {
    return { outcome, reason, notices: NONE, ...extra };
  }

  /** The token `agent` bears for `cap`: the declared one if it is the holder, else one delegated to it. */
  tokenOf(agent: number, cap: number): number | undefined {
    if (this.caps[cap].holder === agent) return cap;
    return this.heldTokens.get(`${this.caps[cap].name}:${agent}`);
  }

  /** The chain of `token`, root first. */
  private chainOf(token: number): (Hop<number> & { id: number })[] {
    const out: (Hop<number> & { id: number })[] = [];
    for (let t: number | undefined = token; t !== undefined; t = this.caps[t].parent) out.push(hopOf(this.caps[t]));
    return out.reverse();
  }

  /** Why `token`'s chain is not valid as `viewer` sees it now (authority.chainProblem), or undefined; with `until`, it must pass through `until`. */
  chainProblem(viewer: number, token: number, until?: number): string | undefined {
    return this.chainVerdict(viewer, token, until)?.message;
  }

  /** chainProblem's verdict with the token (the hop) it found at fault, when it is one hop's. */
  chainVerdict(viewer: number, token: number, until?: number): Verdict | undefined {
    if (until !== undefined && !this.descends(token, until)) return { message: `the token presented is not ${this.caps[until].name} nor delegated from it` };
    const epoch = this.views[viewer].epoch;
    if (this.verdictEpoch[token] === epoch && this.step < this.verdictUntil[token]) return this.verdictOf[token];
    const chain = this.chainOf(token);
    const verdict = this.judge(viewer, chain);
    const stands = verdictStandsUntil(chain, this.step);
    this.verdictEpoch[token] = epoch;
    this.verdictUntil[token] = stands;
    this.validUntil[token] = verdict ? -Infinity : stands;
    this.verdictOf[token] = verdict;
    return verdict;
  }

  /** Whether `token` is `ancestor` or was delegated from it. */
  private descends(token: number, ancestor: number): boolean {
    for (let t: number | undefined = token; t !== undefined; t = this.caps[t].parent) if (t === ancestor) return true;
    return false;
  }

  /** authority.chainProblem on `chain` in `viewer`'s view now, told in words. */
  private judge(viewer: number, chain: readonly (Hop<number> & { id: number })[]): Verdict | undefined {
    const view = this.views[viewer];
    this.judged = view.revoked;
    this.judgeView.now = this.step;
    const problem = chainProblem(chain, this.judgeView);
    if (!problem) return undefined;
    if (problem.kind !== "widened" && problem.kind !== "expired" && problem.kind !== "revoked") return { message: problem.kind };
    const c = this.caps[chain[problem.hop].id];
    const at = (message: string) => ({ message, hop: c.index });
    if (problem.kind === "revoked") return at(`${this.name(viewer)} knows ${c.name} was revoked (at step ${this.notices[view.revoked.get(c.index)!].step})`);
    if (problem.kind === "expired") return at(`${c.name} expired after step ${c.expiresAt}`);
    const p = this.caps[chain[problem.hop - 1].id];
    const w = problem.widening;
    switch (w.kind) {
      case "issuer": return at(`${this.name(c.issuer)} does not hold ${p.name}, so cannot delegate it as ${c.name}`);
      case "not-delegable": return at(`${p.name} is not delegable${p.delegable ? " any further (depth used up)" : ""}, so ${c.name} is void`);
      case "depth": return at(`${c.name} may be delegated deeper than ${p.name} allows (${w.left} left): delegation may only narrow`);
      case "expiry": return at(`${c.name} outlives ${p.name}: delegation may only shorten expiry`);
      case "grant": return at(`${c.name} grants ${(w.grant as BodyKey).text}, which ${p.name} does not: delegation may only narrow`);
    }
  }

  evalCond(c: Cond, viewer: number, token: number | undefined, why: string[]): boolean {
    switch (c.kind) {
      case "false": why.push(c.why); return false;
      case "holds": {
        if (token === undefined) { why.push(`the requester bears no token of ${this.caps[c.cap].name}`); return false; }
        const problem = this.chainProblem(viewer, token, c.cap);
        if (problem) { why.push(problem); return false; }
        return true;
      }
      case "kept": {
        const a = this.assessment(viewer, c.promise);
        if (a === "broken") { why.push(`${this.name(viewer)} sees ${this.world.promises[c.promise].label} broken`); return false; }
        return true;
      }
      case "not": {
        const inner: string[] = [];
        if (this.evalCond(c.operand, viewer, token, inner)) { why.push("a 'not' condition holds"); return false; }
        return true;
      }
      case "and": return this.evalCond(c.left, viewer, token, why) && this.evalCond(c.right, viewer, token, why);
      case "or": {
        const inner: string[] = [];
        if (this.evalCond(c.left, viewer, token, inner) || this.evalCond(c.right, viewer, token, inner)) return true;
        why.push(inner.join("; and "));
        return false;
      }
    }
  }

  /** A condition in `viewer`'s view, with a fast path for the common `holds(C)` presented by C's own holder: its kept verdict. */
  private conditionHolds(c: Cond, viewer: number, token: number | undefined, why: string[]): boolean {
    if (c.kind === "holds" && token === c.cap && this.verdictEpoch[token] === this.views[viewer].epoch && this.step < this.validUntil[token]) return true;
    return this.evalCond(c, viewer, token, why);
  }

  /** The first `+` promise of `at` to `agent` whose body meets a grant of `cap`; -1 if none. */
  private candidate(agent: number, cap: number, at: number): number {
    // A capability is nearly always invoked by the same agent at the same place: remember the last answer per capability.
    if (this.lastAgent[cap] === agent && this.lastAt[cap] === at) return this.lastFound[cap];
    const key = `${at}:${agent}:${cap}`;
    let found = this.candidates.get(key);
    if (found === undefined) {
      found = -1;
      const grants = this.world.caps[cap].grants;
      for (const pi of this.promisesOf[at]) {
        const p = this.world.promises[pi];
        if (!p.anyone && !p.promisees.includes(agent)) continue;
        if (grants.some((g) => meets(g, p.body))) { found = pi; break; }
      }
      this.candidates.set(key, found);
    }
    this.lastAgent[cap] = agent; this.lastAt[cap] = at; this.lastFound[cap] = found;
    return found;
  }

  private invoke(agent: number, cap: number, at: number): EventResult {
    const outcome = this.evaluate(agent, cap, at);
    const s = this.scratch;
    const r: EventResult = { outcome, reason: s.reason, notices: s.notice >= 0 ? [s.notice] : NONE };
    if (s.promise >= 0) r.promise = s.promise;
    if (s.paid > 0) r.transfer = { from: agent, to: at, amount: s.paid, currency: s.currency };
    return r;
  }

  /**
   * One promise evaluation: `agent` invokes `cap` at `at`. Finds the promise, checks its
   * condition in the promiser's view, charges the price and records the outcome.
   * Details (reason, notice, payment) are left in `scratch` so the hot path allocates nothing.
   */
  evaluate(agent: number, cap: number, at: number): Outcome {
    // Reasons are text for people: built only when a trace is recorded.
    const explain = this.record;
    const scratch = this.scratch;
    scratch.reason = ""; scratch.notice = -1; scratch.promise = -1; scratch.paid = 0;
    // An invocation that cannot reach its promiser is not evaluated: nothing moves, nobody is told.
    if (!this.reachable(agent, at)) {
      if (explain) scratch.reason = this.unreachable(agent, at);
      return "unavailable";
    }
    const pi = this.candidate(agent, cap, at);
    if (pi < 0) {
      if (explain) scratch.reason = `${this.name(at)} promises ${this.name(agent)} nothing that ${this.caps[cap].name} grants`;
      return "refused";
    }
    scratch.promise = pi;
    const p = this.world.promises[pi];
    let outcome: Outcome, reason = "";
    {
      const why = this.why;
      if (why.length) why.length = 0;
      if (p.condition && !this.conditionHolds(p.condition, at, this.tokenOf(agent, cap), why)) {
        outcome = "refused";
        if (explain) reason = `${this.name(at)} refuses: ${why.join("; ")}`;
      } else if (this.brokenSince[pi] >= 0) {
        outcome = "broken";
        if (explain) reason = `${this.name(at)} broke ${p.label} at step ${this.brokenSince[pi]}`;
      } else if (p.price !== undefined && this.balance(agent, p.price.currency) < p.price.amount) {
        outcome = "refused";
        if (explain) reason = `${this.name(agent)} has ${this.amount(this.balance(agent, p.price.currency), p.price.currency)}, the price is ${this.amount(p.price.amount, p.price.currency)}`;
      } else {
        outcome = "kept";
        if (explain) reason = `${this.name(at)} ${p.body.text} for ${this.name(agent)}`;
        if (p.price !== undefined && p.price.amount > 0 && agent !== at) {
          this.transfer(agent, at, p.price.amount, p.price.currency);
          scratch.paid = p.price.amount; scratch.currency = p.price.currency;
          if (explain) reason += `, paid ${this.amount(p.price.amount, p.price.currency)}`;
        }
      }
    }
    // A new notice only when it tells a witness (the requester, and the promiser if present) something new.
    if (this.assessment(agent, pi) !== outcome || (agent !== at && this.assessment(at, pi) !== outcome)) {
      scratch.notice = this.notice(outcome as Notice["kind"], agent !== at ? [agent, at] : [agent], pi, undefined);
    }
    scratch.reason = reason;
    return outcome;
  }

  private revoke(agent: number, cap: number): EventResult {
    const c = this.caps[cap];
    if (!this.present[agent]) return this.result("refused", `${this.name(agent)} is not present`);
    const targets: number[] = [];
    const chain = this.chainOf(cap);
    if (mayRevoke(chain, chain.length - 1, agent)) targets.push(cap);
    // Tokens this agent delegated at run time under the same name.
    for (let t = this.world.caps.length; t < this.caps.length; t++) {
      if (this.caps[t].name === c.name && this.caps[t].issuer === agent) targets.push(t);
    }
    if (!targets.length) return this.result("refused", `only ${this.name(c.issuer)}, who issued ${c.name}${chain.length > 1 ? ", or an issuer above it" : ""}, can revoke it`);
    const standing = targets.filter((t) => this.revokedAt[t] < 0);
    if (!standing.length) return this.result("refused", `${c.name} was already revoked at step ${this.revokedAt[targets[0]]}`);
    const notices = standing.map((t) => {
      this.revokedAt[t] = this.step;
      return this.notice("revoked", [agent], undefined, t);
    });
    return this.result("kept", `${this.name(agent)} revoked ${c.name}; others learn it by gossip`, { notices });
  }

  private breakPromise(agent: number, promise: number): EventResult {
    const p = this.world.promises[promise];
    if (!this.present[agent]) return this.result("refused", `${this.name(agent)} is not present`);
    if (p.promiser !== agent) return this.result("refused", `only ${this.name(p.promiser)} can break ${p.label}`);
    if (this.brokenSince[promise] >= 0) return this.result("refused", `${p.label} was already broken at step ${this.brokenSince[promise]}`);
    this.brokenSince[promise] = this.step;
    const notices = [this.notice("broken", [agent], promise, undefined)];
    return this.result("kept", `${this.name(agent)} breaks ${p.label} on purpose`, { promise, notices });
  }

  private pay(agent: number, amount: number, currency: number, to: number): EventResult {
    const who = this.name(agent);
    // A payment that cannot reach its payee does not happen: no money moves.
    if (!this.reachable(agent, to)) return this.result("unavailable", this.unreachable(agent, to));
    const has = this.balance(agent, currency);
    if (has < amount) return this.result("refused", `${who} has ${this.amount(has, currency)}, cannot pay ${this.amount(amount, currency)}`);
    if (agent !== to && amount > 0) this.transfer(agent, to, amount, currency);
    return this.result("kept", `${who} paid ${this.amount(amount, currency)} to ${this.name(to)}`,
      { transfer: { from: agent, to, amount, currency } });
  }

  private delegate(agent: number, cap: number, to: number): EventResult {
    const c = this.caps[cap];
    const who = this.name(agent);
    // A token must be handed over: across a partition or to an absent agent it cannot be.
    if (!this.reachable(agent, to)) return this.result("unavailable", this.unreachable(agent, to));
    const token = this.tokenOf(agent, cap);
    if (token === undefined) return this.result("refused", `${who} holds no ${c.name} to delegate`);
    const t = this.caps[token];
    // The new token: the same grants and expiry, one delegation less.
    const parent = hopOf(t);
    const child = { ...parent, issuer: agent, holder: to, depth: t.depth - 1 };
    if (widenings(parent, child).length) return this.result("refused", t.delegable ? `${c.name} may not be delegated any further (depth used up)` : `${c.name} is not delegable`);
    const problem = this.chainProblem(agent, token);
    if (problem) return this.result("refused", problem);
    if (this.tokenOf(to, cap) !== undefined) return this.result("refused", `${this.name(to)} already holds ${c.name}`);
    const index = this.caps.length;
    this.caps.push({
      index, name: c.name, kind: "runtime", issuer: agent, holder: to, parent: token, grants: t.grants,
      delegable: t.delegable, depth: t.depth - 1, issuedAt: this.step, expiresAt: t.expiresAt,
    });
    this.revokedAt.push(-1);
    this.verdictEpoch.push(-1); this.verdictUntil.push(-Infinity); this.validUntil.push(-Infinity); this.verdictOf.push(undefined);
    this.heldTokens.set(`${c.name}:${to}`, index);
    return this.result("kept", `${who} delegated ${c.name} to ${this.name(to)} (same grants, same expiry)`, { token: index });
  }

  /** One hop: every active link passes on what each end heard since its last round. */
  private gossip(): Delivery[] {
    const round = ++this.round;
    const n = this.views.length;
    const start = this.roundStart, end = this.roundEnd;
    for (let a = 0; a < n; a++) { start[a] = this.views[a].frontier; end[a] = this.views[a].list.length; }
    // Decide every send from the state at the start of the round, then deliver: one hop per round.
    const sends = this.sends;
    let count = 0;
    for (let i = 0; i < this.links.length; i++) {
      if (!this.linkActive(i)) continue;
      const fresh = this.linkRound[i] !== round - 1;
      this.linkRound[i] = round;
      const [a, b] = this.links[i];
      sends[count++] = a; sends[count++] = b; sends[count++] = fresh ? 0 : start[a]; sends[count++] = end[a];
      sends[count++] = b; sends[count++] = a; sends[count++] = fresh ? 0 : start[b]; sends[count++] = end[b];
    }
    const deliveries: Delivery[] = [];
    for (let x = 0; x < count; x += 4) {
      const from = sends[x], to = sends[x + 1], s = sends[x + 2], e = sends[x + 3];
      const list = this.views[from].list;
      let got: number[] | undefined;
      for (let k = s; k < e; k++) {
        if (this.learn(to, list[k])) (got ??= []).push(list[k]);
      }
      if (got && this.record) deliveries.push({ from, to, notices: got });
    }
    for (let a = 0; a < n; a++) this.views[a].frontier = end[a];
    return deliveries;
  }
}
