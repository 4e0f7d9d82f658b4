// Seeded property test: random scenarios over random topologies, written as .pg
// text and parsed, then stepped; invariants are checked after every step against
// an independent model of who could have heard what.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadProgram } from "../../language/index.ts";
import { prepareScenarios, UNIT } from "../../language/simulator/index.ts";
import { memoryHost, rng } from "./helpers.ts";


type GenEvent =
  | { kind: "leave" | "join"; agent: number }
  | { kind: "partition"; groups: number[][] }
  | { kind: "heal" }
  | { kind: "other" };

interface Generated { text: string; agents: number; links: [number, number][]; every: number; steps: Map<number, GenEvent[]>; lastStep: number }

function generate(seed: number): Generated {
  const r = rng(seed);
  const n = r.int(2, 7);
  const a = (i: number) => `a${i}`;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(`agent ${a(i)}`);
  const supply = r.int(10, 60);
  lines.push(`currency coin issued by a0 { supply ${supply} }`);
  lines.push(`currency bead issued by a${n - 1}`);
  const bodies = ["serve(t0)", "serve(t1)", "read(*)", "read(x)"];
  const promises: { name: string; promiser: number }[] = [];
  const caps: string[] = [];
  const capCount = r.int(1, 4);
  for (let m = 0; m < capCount; m++) {
    const issuer = r.int(0, n - 1), holder = r.int(0, n - 1);
    const extra = `${r.chance(0.5) ? ` delegable depth ${r.int(1, 3)}` : ""}${r.chance(0.4) ? ` expires after ${r.int(1, 15)} steps` : ""}`;
    lines.push(`capability c${m} from ${a(issuer)} to ${a(holder)} { grants ${r.pick(bodies)}${r.chance(0.3) ? ", " + r.pick(bodies) : ""}${extra} }`);
    caps.push(`c${m}`);
  }
  for (let d = 0; d < r.int(0, 2); d++) {
    lines.push(`delegate d${d} of ${r.pick(caps)} by ${a(r.int(0, n - 1))} to ${a(r.int(0, n - 1))} { grants ${r.pick(bodies)}${r.chance(0.5) ? ` expires after ${r.int(1, 20)} steps` : ""} }`);
    caps.push(`d${d}`);
  }
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < r.int(0, 3); k++) {
      const name = `p${i}_${k}`;
      const to = r.chance(0.5) ? "*" : a(r.int(0, n - 1));
      const cond = r.chance(0.7) ? ` if holds(${r.pick(caps)})` : r.chance(0.3) && promises.length ? ` if kept(${r.pick(promises).name})` : "";
      const price = r.chance(0.5) ? ` { price ${r.int(0, 5)} ${r.pick(["coin", "bead"])} }` : "";
      lines.push(`promise ${name}: ${a(i)} -> ${to} +${r.pick(bodies)}${cond}${price}`);
      promises.push({ name, promiser: i });
    }
  }
  const links: [number, number][] = [];
  const body: string[] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (r.chance(0.35)) { links.push([i, j]); body.push(`link ${a(i)} <-> ${a(j)}`); }
  const every = r.int(1, 3);
  body.push(`gossip every ${every} steps`);
  let left = supply;
  for (let i = 1; i < n; i++) {
    if (r.chance(0.6)) { const give = r.int(0, left); left -= give; body.push(`balance ${a(i)} ${give} coin`); }
    if (r.chance(0.4) && i !== n - 1) body.push(`balance ${a(i)} ${r.int(0, 9)} bead`);
  }
  const steps = new Map<number, GenEvent[]>();
  const lastStep = r.int(1, 25);
  for (let s = 1; s <= lastStep; s++) {
    const events: GenEvent[] = [];
    for (let e = 0; e < r.int(0, 3); e++) {
      const kind = r.int(0, 9);
      const x = r.int(0, n - 1), y = r.int(0, n - 1);
      if (kind <= 2) { body.push(`step ${s}: ${a(x)} invokes ${r.pick(caps)} at ${a(y)}`); events.push({ kind: "other" }); }
      else if (kind === 3) { body.push(`step ${s}: ${a(x)} revokes ${r.pick(caps)}`); events.push({ kind: "other" }); }
      else if (kind === 4 && promises.length) { const p = r.pick(promises); body.push(`step ${s}: ${a(p.promiser)} breaks ${p.name}`); events.push({ kind: "other" }); }
      else if (kind === 5) { body.push(`step ${s}: ${a(x)} pays ${r.int(0, 8)} ${r.pick(["coin", "bead"])} to ${a(y)}`); events.push({ kind: "other" }); }
      else if (kind === 6) { body.push(`step ${s}: ${a(x)} delegates ${r.pick(caps)} to ${a(y)}`); events.push({ kind: "other" }); }
      else if (kind === 7) { const k = r.chance(0.5) ? "leave" : "join"; body.push(`step ${s}: ${a(x)} ${k}s`); events.push({ kind: k, agent: x }); }
      else if (kind === 8) {
        const groups: number[][] = [[], []];
        for (let i = 0; i < n; i++) if (r.chance(0.8)) groups[r.int(0, 1)].push(i);
        const used = groups.filter((g) => g.length);
        if (!used.length) continue;
        body.push(`step ${s}: partition ${used.map((g) => g.map(a).join(", ")).join(" | ")}`);
        events.push({ kind: "partition", groups: used });
      } else { body.push(`step ${s}: heal`); events.push({ kind: "heal" }); }
    }
    steps.set(s, events);
    // Expectations of every kind, true or not: they must be checked, never crash.
    if (r.chance(0.3)) body.push(`expect ${a(r.int(0, n - 1))} knows revoked(${r.pick(caps)})${r.chance(0.5) ? ` by step ${r.int(s, lastStep)}` : ""}`);
    if (r.chance(0.2)) body.push(`expect balance ${a(r.int(0, n - 1))} ${r.int(0, 9)} coin`);
    if (r.chance(0.2) && promises.length) body.push(`expect ${r.pick(promises).name} ${r.pick(["kept", "broken"])}${r.chance(0.5) ? ` for ${a(r.int(0, n - 1))}` : ""}`);
  }
  lines.push(`scenario "random ${seed}" {`, ...body.map((l) => "  " + l), "}");
  return { text: lines.join("\n") + "\n", agents: n, links, every, steps, lastStep };
}

describe("simulator: random scenarios keep their invariants at every step", () => {
  it("300 seeded scenarios", () => {
    let notices = 0, deliveries = 0, stepsRun = 0, expectations = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const g = generate(seed);
      const program = loadProgram(["/virtual/random.pg"], memoryHost({ "random.pg": g.text }));
      assert.deepEqual(program.files.get("/virtual/random.pg")!.errors, [], `seed ${seed} parses`);
      // The engine itself, without the checker's gate: random capabilities may widen (PG401) and still must not break invariants.
      const { scenarios } = prepareScenarios(program);
      const [s] = scenarios;
      assert.deepEqual(s.diagnostics, [], `seed ${seed}: ${g.text}`);
      const run = s.run!;
      const e = run.engine;
      const issued = run.plan.ledger.issued;
      // The independent model: who is present, the partition, and who could know each notice.
      const present = new Array(g.agents).fill(true);
      let group: number[] | undefined;
      const reach: Set<number>[] = [];
      const witnessed: { agent: number; id: number }[] = [];
      while (!run.done) {
        const record = run.next();
        const step = record.step;
        stepsRun++;
        for (const ev of g.steps.get(step) ?? []) {
          if (ev.kind === "leave" || ev.kind === "join") present[ev.agent] = ev.kind === "join";
          else if (ev.kind === "partition") { group = new Array(g.agents).fill(-1); ev.groups.forEach((m, i) => m.forEach((x) => { group![x] = i; })); }
          else if (ev.kind === "heal") group = undefined;
        }
        for (let id = reach.length; id < e.notices.length; id++) {
          const n = e.notices[id];
          assert.equal(n.step, step);
          reach.push(new Set(n.witnesses));
          for (const w of n.witnesses) witnessed.push({ agent: w, id });
        }
        if (step % g.every === 0) {
          const active = g.links.filter(([x, y]) => present[x] && present[y] && (!group || group[x] < 0 || group[y] < 0 || group[x] === group[y]));
          for (const set of reach) {
            const before = [...set];
            for (const [x, y] of active) {
              if (before.includes(x)) set.add(y);
              if (before.includes(y)) set.add(x);
            }
          }
        }
        // 1. Nobody knows a notice before a path to it exists, and gossip delivers along every path that does.
        for (let agent = 0; agent < g.agents; agent++) {
          const known = e.views[agent].known;
          for (let id = 0; id < reach.length; id++) {
            assert.equal(known.has(id), reach[id].has(agent), `seed ${seed} step ${step}: a${agent} and notice ${id}`);
          }
          deliveries += known.size;
        }
        // 2. Balances never go negative and sum to what was issued.
        for (let c = 0; c < issued.length; c++) {
          let sum = 0;
          for (let agent = 0; agent < g.agents; agent++) {
            const b = e.balance(agent, c);
            assert.ok(b >= 0, `seed ${seed} step ${step}: negative balance`);
            sum += b;
          }
          assert.equal(sum, issued[c], `seed ${seed} step ${step}: currency ${c} sums to ${sum / UNIT}, issued ${issued[c] / UNIT}`);
        }
        // 3. A view never contradicts what the agent saw itself: it knows what it witnessed from
        // that step on, and its assessment of a promise is never older than what it saw.
        for (const { agent, id } of witnessed) {
          const n = e.notices[id];
          assert.equal(e.heardAt(agent, id), n.step);
          if (n.promise !== undefined) assert.ok(e.views[agent].assess.get(n.promise)! >= id, `seed ${seed}: a${agent} forgot what it saw of promise ${n.promise}`);
          if (n.cap !== undefined) assert.notEqual(e.knowsRevoked(agent, n.cap), undefined);
        }
      }
      notices += e.notices.length;
      expectations += run.results.length;
      const written = (g.text.match(/^\s+expect /gm) ?? []).length + (g.text.match(/ expect (kept|refused|broken)$/gm) ?? []).length;
      assert.equal(run.results.length, written, `seed ${seed}: every expectation checked once`);
    }
    // The generator must actually exercise gossip, or the test proves little.
    assert.ok(notices > 300, `notices ${notices}`);
    assert.ok(deliveries > notices, `deliveries ${deliveries}`);
    assert.ok(stepsRun > 1000);
    assert.ok(expectations > 300, `expectations ${expectations}`);
  });
});
