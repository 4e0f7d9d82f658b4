// The checker's authority diagnostics (PG400-PG405, PG501 on capabilities and
// delegations), each by code, exact message, the text it marks, what it points
// to and the fix it offers.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Diagnostic } from "../../language/index.ts";
import { checkText, VIRTUAL_DIR } from "./helpers.ts";

const HEAD = `agent a
agent b
agent c
agent d
promise a -> * +run(x) if holds(p)
promise a -> * +pay(5 usd) if holds(p)
promise b -> a -run(x)
promise c -> a -run(x)
promise b -> a -pay(5 usd)
currency usd issued by a { supply 100 }
`;
const MAIN = `${VIRTUAL_DIR}/main.pg`;

/** What a diagnostic says, with the source text each span marks. */
function view(src: string, d: Diagnostic) {
  const text = (s: { start: number; end: number }) => src.slice(s.start, s.end);
  return {
    code: d.code, message: d.message, at: text(d.span),
    related: d.related?.map((r) => [r.path === MAIN ? "main" : r.path, text(r.span), r.message]),
    fixes: d.fixes?.map((f) => [f.title, f.edits.map((e) => [e.path === MAIN ? "main" : e.path, text(e.span), e.newText])]),
  };
}

function diags(body: string) {
  const src = HEAD + body;
  return checkText(src).map((d) => view(src, d));
}

const declared = [["main", "p", "'p' is declared here"]];

describe("checker: authority diagnostics", () => {
  it("a well-narrowed chain is clean", () => {
    assert.deepEqual(diags(`capability p from a to b { grants run(x), pay(5 usd) delegable depth 2 expires after 10 steps }
delegate q of p by b to c { grants pay(3 usd) delegable depth 1 expires after 10 steps }
delegate r of q by c to d { grants pay(3 usd) expires after 9 steps }
`), []);
  });

  it("PG400: a capability grants what its issuer does not promise", () => {
    assert.deepEqual(diags(`capability p from a to b { grants run(y), pay(6 usd), run(x) }\n`), [
      { code: "PG400", message: "a grants run(y) but does not itself promise it: a capability is its issuer's promise, so add 'promise a -> b +run(y)'", at: "run(y)", related: undefined, fixes: undefined },
      { code: "PG400", message: "a grants pay(6 usd) but does not itself promise it: a capability is its issuer's promise, so add 'promise a -> b +pay(6 usd)'", at: "pay(6 usd)", related: undefined, fixes: undefined },
    ]);
    // A promise by another agent, or a - promise, does not count.
    assert.deepEqual(diags(`promise b -> * +run(z)\npromise a -> b -run(z)\ncapability p from a to b { grants run(z) }\n`).map((d) => d.code), ["PG400"]);
  });

  it("PG400: an issuer with no + promise at all, and a holder left out (the fix then promises to *)", () => {
    assert.deepEqual(diags(`capability p from b to a { grants run(x) }\n`), [
      { code: "PG400", message: "b grants run(x) but does not itself promise it: a capability is its issuer's promise, so add 'promise b -> a +run(x)'", at: "run(x)", related: undefined, fixes: undefined },
    ]);
    assert.deepEqual(diags(`capability p from a to { grants run(y) }\n`).filter((d) => d.code === "PG400").map((d) => d.message), [
      "a grants run(y) but does not itself promise it: a capability is its issuer's promise, so add 'promise a -> * +run(y)'",
    ]);
  });

  it("PG303: conditions that wait on each other, each member marked once with the others related", () => {
    const cycle = `promise q1: a -> b +serve(x) if kept(q2)\npromise q2: b -> a +serve(y) if q3 and holds(p)\npromise q3: c -> a +serve(z) if not kept(q1)\npromise q4: d -> a +serve(w) if kept(q1)\n`;
    const message = "deadlock: the conditions of q1 -> q2 -> q3 -> q1 wait on each other, so none can ever be kept";
    const part = (n: string) => ["main", n, `'${n}' is part of the cycle`];
    assert.deepEqual(diags(cycle).filter((d) => d.code === "PG303"), [
      { code: "PG303", message, at: "q1", related: [part("q2"), part("q3")], fixes: undefined },
      { code: "PG303", message, at: "q2", related: [part("q1"), part("q3")], fixes: undefined },
      { code: "PG303", message, at: "q3", related: [part("q1"), part("q2")], fixes: undefined },
    ]);
    // A promise waiting on itself, reached from one that only waits on it: the cycle is the one promise.
    assert.deepEqual(diags(`promise q4: a -> b +serve(x) if kept(q5)\npromise q5: b -> a +serve(y) if kept(q5)\n`).filter((d) => d.code === "PG303"), [
      { code: "PG303", message: "deadlock: the conditions of q5 -> q5 wait on each other, so none can ever be kept", at: "q5", related: [], fixes: undefined },
    ]);
  });

  it("PG303: every promise of a knot of cycles, a long cycle named in short, and a chain as long as the file without recursion", () => {
    // qa -> qb -> qc -> qa, and qb -> qd -> qc: qd waits in a cycle too.
    const knot = `promise qa: a -> b +s(x) if kept(qb)\npromise qb: b -> a +s(x) if kept(qc) and kept(qd)\npromise qc: c -> a +s(x) if kept(qa)\npromise qd: d -> a +s(x) if kept(qc)\n`;
    const found = diags(knot).filter((d) => d.code === "PG303");
    assert.deepEqual(found.map((d) => d.at), ["qa", "qb", "qc", "qd"]);
    assert.equal(found[0].message, "deadlock: the conditions of qa, qb, qc and qd wait on each other, so none can ever be kept");
    const n = 20_000;
    const ring = Array.from({ length: n }, (_, i) => `promise p${i}: a -> b +s(x) if kept(p${(i + 1) % n})`).join("\n") + "\n";
    const long = diags(ring).filter((d) => d.code === "PG303");
    assert.equal(long.length, n);
    assert.equal(long[0].message, "deadlock: the conditions of p0 -> p1 -> p2 -> p3 -> p4 -> p5 -> p6 -> p7 -> … -> p0 (20000 promises) wait on each other, so none can ever be kept");
    assert.equal(long[0].related?.length, 8);
    const chain = Array.from({ length: n }, (_, i) => `promise c${i}: a -> b +s(x)${i + 1 < n ? ` if kept(c${i + 1})` : ""}`).join("\n") + "\n";
    assert.deepEqual(diags(chain).filter((d) => d.code === "PG303"), []);
  });

  it("PG401: a delegation keeps more depth, a later expiry, or a grant its parent lacks", () => {
    assert.deepEqual(diags(`capability p from a to b { grants run(x) delegable depth 2 }\ndelegate q of p by b to c { grants run(x) delegable depth 2 }\n`), [
      { code: "PG401", message: "delegation widens authority: at most depth 1 is left", at: "delegable depth 2", related: declared, fixes: undefined },
    ]);
    assert.deepEqual(diags(`capability p from a to b { grants run(x) delegable expires after 5 steps }\ndelegate q of p by b to c { grants run(x) expires after 6 steps }\n`), [
      { code: "PG401", message: "delegation widens authority: 'p' expires after 5 steps, so this delegation must expire no later", at: "expires after 6 steps", related: declared, fixes: undefined },
    ]);
    assert.deepEqual(diags(`capability p from a to b { grants run(x), pay(5 usd) delegable }\ndelegate q of p by b to c { grants pay(6 usd), run(y) }\ndelegate s of p by b to c { grants go(x) }\n`), [
      { code: "PG401", message: "delegation widens authority: 'p' does not grant pay(6 usd)", at: "pay(6 usd)", related: declared, fixes: [["Narrow to 'pay(5 usd)'", [["main", "pay(6 usd)", "pay(5 usd)"]]]] },
      { code: "PG401", message: "delegation widens authority: 'p' does not grant run(y)", at: "run(y)", related: declared, fixes: [["Narrow to 'run(x)'", [["main", "run(y)", "run(x)"]]]] },
      { code: "PG401", message: "delegation widens authority: 'p' does not grant go(x)", at: "go(x)", related: declared, fixes: undefined },
    ]);
  });

  it("the same expiry, an inherited expiry and the depth left are no widening", () => {
    assert.deepEqual(diags(`capability p from a to b { grants run(x) delegable depth 1 expires after 5 steps }\ndelegate q of p by b to c { grants run(x) expires after 5 steps }\ndelegate r of p by b to c { grants run(x) }\n`), []);
  });

  it("PG401 on wall-clock time: a delegation may not outlast its parent's duration, also through a hop without one", () => {
    assert.deepEqual(diags(`capability p from a to b { grants run(x) delegable depth 2 expires after 30m }
delegate q of p by b to c { grants run(x) delegable }
delegate r of q by c to d { grants run(x) expires after 31m }
delegate s of q by c to d { grants run(x) expires after 30m }
`), [
      { code: "PG401", message: "delegation widens authority: 30m is the longest a delegation of 'q' may last, so this delegation must expire no later", at: "expires after 31m", related: [["main", "q", "'q' is declared here"]], fixes: undefined },
    ]);
  });

  it("PG402: delegating what is not delegable, or past its depth", () => {
    assert.deepEqual(diags(`capability p from a to b { grants run(x) }\ndelegate q of p by b to c { grants run(x) }\n`), [
      { code: "PG402", message: "'p' is not delegable: add 'delegable' to it if its issuer allows delegation", at: "p", related: declared, fixes: undefined },
    ]);
    assert.deepEqual(diags(`capability p from a to b { grants run(x) delegable depth 0 }\ndelegate q of p by b to c { grants run(x) }\n`), [
      { code: "PG402", message: "delegating 'p' again exceeds its delegation depth: it allows no further delegation", at: "p", related: declared, fixes: undefined },
    ]);
  });

  it("PG403: only the parent's holder may delegate it, with a fix naming the holder", () => {
    assert.deepEqual(diags(`capability p from a to b { grants run(x) delegable }\ndelegate q of p by c to d { grants run(x) }\n`), [
      { code: "PG403", message: "only the holder of 'p' (b) can delegate it, not c", at: "c", related: declared, fixes: [["Change to 'b'", [["main", "c", "b"]]]] },
    ]);
  });

  it("PG404: a delegation from itself; PG405: a list or block granted", () => {
    assert.deepEqual(diags(`delegate q of r by b to c { grants run(x) }\ndelegate r of q by b to c { grants run(x) }\n`).filter((d) => d.code === "PG404").map((d) => [d.code, d.message, d.at]), [
      ["PG404", "'q' is delegated from itself through 'r': a delegation needs a capability at the root of its chain", "r"],
      ["PG404", "'r' is delegated from itself through 'q': a delegation needs a capability at the root of its chain", "q"],
    ]);
    assert.deepEqual(diags(`capability p from a to b { grants run([x]) }\n`).filter((d) => d.code === "PG405").map((d) => [d.message, d.at]), [
      ["a grant's argument is a name, *, a number, an amount or a string, not a list", "[x]"],
    ]);
  });

  it("PG501: a capability or delegation that expires after 0 steps or 0m", () => {
    assert.deepEqual(diags(`capability p from a to b { grants run(x) delegable expires after 0 steps }\n`).map((d) => [d.code, d.message, d.at]), [
      ["PG501", "a capability must expire after at least 1 step (or a duration above 0)", "expires after 0 steps"],
    ]);
    assert.deepEqual(diags(`capability p from a to b { grants run(x) delegable }\ndelegate q of p by b to c { grants run(x) expires after 0m }\n`).map((d) => [d.code, d.message, d.at]), [
      ["PG501", "a delegation must expire after at least 1 step (or a duration above 0)", "expires after 0m"],
    ]);
    assert.deepEqual(diags(`capability p from a to b { grants run(x) delegable expires after 1 steps }\ndelegate q of p by b to c { grants run(x) expires after 1 steps }\n`), []);
  });

  it("PG405 for a block too; PG501 for a delegation of 0 steps; no PG401 for a child without expiry under a duration", () => {
    assert.deepEqual(diags(`capability p from a to b { grants run({ k v }) }\n`).filter((d) => d.code === "PG405").map((d) => [d.message, d.at]), [
      ["a grant's argument is a name, *, a number, an amount or a string, not a block", "{ k v }"],
    ]);
    assert.deepEqual(diags(`capability p from a to b { grants run(x) delegable }\ndelegate q of p by b to c { grants run(x) expires after 0 steps }\n`).map((d) => [d.code, d.at]), [
      ["PG501", "expires after 0 steps"],
    ]);
    assert.deepEqual(diags(`capability p from a to b { grants run(x) delegable expires after 30m }\ndelegate q of p by b to c { grants run(x) }\n`), []);
  });

  it("half-written declarations (the editor while typing) give their own errors, never a crash or a diagnostic about what is not written yet", () => {
    // The head's `holds(p)` names p: where p is not declared, that PG200 is expected.
    const only = (body: string) => diags(body).filter((d) => !(d.code === "PG200" && d.message.startsWith("undefined capability 'p'"))).map((d) => d.code);
    assert.deepEqual(only(`capability p to b { grants run(x) }\n`), ["PG101"], "no issuer");
    assert.deepEqual(only(`capability p from zz to b { grants run(x) }\n`), ["PG200"], "an undefined issuer: no PG400 about its promises");
    assert.ok(!only(`capability p from a { grants run(x) delegable }\ndelegate q of p by b to c { grants run(x) }\n`).includes("PG403"), "no holder yet: nobody to compare 'by' with");
    assert.deepEqual(only(`delegate q by b to c { grants run(x) }\n`), ["PG101"], "no parent");
    assert.deepEqual(only(`delegate q of nothere by b to c { grants run(x) }\n`), ["PG200"], "an undefined parent");
    assert.deepEqual(only(`promise -> b +run(y)\n`), ["PG101"], "no promiser");
  });
});
