// The program's symbol tables and references, and the checker rules that read them by name: duplicates across the
// capability namespace, the declaration a duplicated promise name stands for in condition cycles, which symbol a
// wrong-kind reference names, suggestions per kind, and references listed on demand.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { check, loadProgram, type Diagnostic } from "../../language/index.ts";
import { checkText, memoryHost, VIRTUAL_DIR } from "./helpers.ts";

const MAIN = `${VIRTUAL_DIR}/main.pg`;

/** Each diagnostic of `codes` as its code, the text it marks, its related texts and its fixes' new texts. */
function seen(src: string, ds: Diagnostic[], ...codes: string[]) {
  const text = (s: { start: number; end: number }) => src.slice(s.start, s.end);
  return ds.filter((d) => codes.includes(d.code)).map((d) => ({
    code: d.code, at: text(d.span), line: src.slice(0, d.span.start).split("\n").length, message: d.message,
    related: d.related?.map((r) => `${text(r.span)}@${src.slice(0, r.span.start).split("\n").length}`),
    fixes: d.fixes?.map((f) => f.edits.map((e) => e.newText).join()),
  }));
}

describe("program and checker: names", () => {
  it("PG201: a delegation and a capability share one namespace, and the later one is the duplicate, whichever kind it is", () => {
    const src = `agent a
agent b
promise a -> * +run(x) if holds(root)
promise b -> a -run(x)
capability root from a to b { grants run(x) delegable }
delegate dup of root by b to a { grants run(x) }
capability dup from a to b { grants run(x) }
`;
    assert.deepEqual(seen(src, checkText(src), "PG201"), [
      { code: "PG201", at: "dup", line: 7, message: "capability 'dup' is already declared", related: ["dup@6"], fixes: undefined },
    ]);
  });

  it("PG303: a promise name declared twice stands for its last declaration, placed where the name first appears", () => {
    // The last q2 waits on q1: a cycle, marked on that q2.
    const cycle = `agent a
agent b
promise q1: a -> b +serve(x) if kept(q2)
promise q2: b -> a +serve(y)
promise q2: b -> a +serve(z) if kept(q1)
`;
    const found = seen(cycle, checkText(cycle), "PG303");
    assert.deepEqual(found.map((d) => [d.at, d.line, d.related]), [["q1", 3, ["q2@5"]], ["q2", 5, ["q1@3"]]]);
    assert.equal(found[0].message, "deadlock: the conditions of q1 -> q2 -> q1 wait on each other, so none can ever be kept");
    // The first q2 waits on q1, the last does not: no cycle.
    const none = `agent a
agent b
promise q1: a -> b +serve(x) if kept(q2)
promise q2: b -> a +serve(y) if kept(q1)
promise q2: b -> a +serve(z)
`;
    assert.deepEqual(seen(none, checkText(none), "PG303"), []);
  });

  it("PG205: a reference to a name of another kind names the first declaration of that name", () => {
    const src = `agent a
agent b
currency x issued by a
workload x { sandbox wasm module "hello.wasm" limits { memory 1MiB time 1s } }
promise a -> b +run(y) if holds(x)
`;
    assert.deepEqual(seen(src, checkText(src), "PG205").map((d) => [d.at, d.message, d.related]), [
      ["x", "'x' is a currency, not a capability", ["x@3"]],
    ]);
  });

  it("suggests for each reference's kind, for every use of an unknown name", () => {
    const src = `agent alice
agent bob
promise bob -> alice +run(y) if holds(alicx)
promise bob -> alice +run(z) if holds(alicx)
capability alicq from bob to alice { grants run(y) }
promise alicx -> bob -run(y)
promise alicx -> bob -run(z)
promise bob -> alice +run(w) if holds(zzzzzz)
promise bob -> alice +run(v) if holds(zzzzzz)
`;
    const ds = checkText(src);
    assert.deepEqual(seen(src, ds, "PG200").map((d) => [d.line, d.message, d.fixes]), [
      [3, "undefined capability 'alicx'; did you mean 'alicq'?", ["alicq"]],
      [4, "undefined capability 'alicx'; did you mean 'alicq'?", ["alicq"]],
      [6, "undefined agent 'alicx'; did you mean 'alice'?", ["alice"]],
      [7, "undefined agent 'alicx'; did you mean 'alice'?", ["alice"]],
      [8, "undefined capability 'zzzzzz'", undefined],
      [9, "undefined capability 'zzzzzz'", undefined],
    ]);
  });

  it("lists references when asked, and a check says the same whether or not they were listed first", () => {
    // `lunch` may name a workload but need not; `nobody` must name an agent.
    const src = `agent a
agent b
promise a -> b +serve(lunch)
promise b -> a -serve(lunch)
promise nobody -> a +serve(tea)
`;
    const host = memoryHost({ "main.pg": src });
    const listed = loadProgram([MAIN], host);
    assert.deepEqual(listed.references.map((r) => [r.name, r.kind, r.symbol?.kind, r.optional]), [
      ["a", "agent", "agent", undefined], ["b", "agent", "agent", undefined], ["lunch", "workload", undefined, true],
      ["b", "agent", "agent", undefined], ["a", "agent", "agent", undefined], ["lunch", "workload", undefined, true],
      ["nobody", "agent", undefined, undefined], ["a", "agent", "agent", undefined], ["tea", "workload", undefined, true],
    ]);
    const fresh = check(loadProgram([MAIN], host));
    assert.deepEqual(check(listed), fresh);
    assert.deepEqual(fresh.filter((d) => d.severity === "error").map((d) => [d.code, src.slice(d.span.start, d.span.end)]), [["PG200", "nobody"]]);
  });
});
