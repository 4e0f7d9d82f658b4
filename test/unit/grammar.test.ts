// Every grammar construct, exact spans, doc comments, and recovery on broken input.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LineIndex, MAX_NESTING, parse, type Declaration, type ScenarioDecl } from "../../grammar/index.ts";
import { validateGrammar } from "../../grammar/parser.ts";

function only<K extends Declaration["kind"]>(text: string, kind: K): Extract<Declaration, { kind: K }> {
  const file = parse(text);
  assert.deepEqual(file.errors, []);
  assert.equal(file.declarations.length, 1);
  assert.equal(file.declarations[0].kind, kind);
  return file.declarations[0] as Extract<Declaration, { kind: K }>;
}

const at = (text: string, span: { start: number; end: number }) => text.slice(span.start, span.end);

// The parsers in use skip chevrotain's checks of the grammar (they cost startup time): here they run.
it("the grammar passes chevrotain's own checks (no ambiguity, no left recursion, valid tokens)", () => {
  validateGrammar();
});

describe("declarations", () => {
  it("import", () => {
    const d = only('import "trucks.pg"', "import");
    assert.equal(d.path, "trucks.pg");
  });

  it("grid with a dashed hash name", () => {
    const text = "grid food_trucks { hash sha2-256 }";
    const d = only(text, "grid");
    assert.equal(d.name.text, "food_trucks");
    assert.equal(d.fields[0].key.text, "hash");
    assert.equal(d.fields[0].value?.kind === "ident" && d.fields[0].value.name.text, "sha2-256");
    assert.equal(at(text, d.span), text);
  });

  it("agent with description and kind", () => {
    const d = only('agent laptop "My laptop" { kind node }', "agent");
    assert.equal(d.name.text, "laptop");
    assert.equal(d.description, "My laptop");
    assert.equal(d.fields[0].value?.kind === "ident" && d.fields[0].value.name.text, "node");
  });

  it("string escapes", () => {
    const d = only('agent a "say \\"hi\\"\\n\\\\"', "agent");
    assert.equal(d.description, 'say "hi"\n\\');
  });

  it("currency", () => {
    const d = only("currency taco issued by truck1 { supply 100 }", "currency");
    assert.equal(d.issuer?.text, "truck1");
    assert.equal(d.fields[0].value?.kind === "number" && d.fields[0].value.value, 100);
  });

  it("named promise with condition and constraints", () => {
    const text = "promise truck1_lunch: truck1 -> * +serve(lunch) if holds(lunch_pass) { price 3 taco  within 2 steps }";
    const d = only(text, "promise");
    assert.equal(d.name?.text, "truck1_lunch");
    assert.equal(d.promiser?.text, "truck1");
    assert.deepEqual(d.promisees.map((p) => p.text), ["*"]);
    assert.equal(d.polarity, "+");
    assert.equal(d.body?.type.text, "serve");
    assert.equal(at(text, d.body!.span), "serve(lunch)");
    assert.equal(d.condition?.kind, "holds");
    const price = d.constraints[0].value;
    assert.ok(price?.kind === "number" && price.value === 3 && price.unit?.text === "taco");
    const within = d.constraints[1].value;
    assert.ok(within?.kind === "number" && within.value === 2 && within.unit?.text === "steps");
  });

  it("anonymous promise to several promisees, with - polarity", () => {
    const d = only("promise alice -> truck1, truck5 -serve(lunch)", "promise");
    assert.equal(d.name, undefined);
    assert.deepEqual(d.promisees.map((p) => p.text), ["truck1", "truck5"]);
    assert.equal(d.polarity, "-");
  });

  it("body arguments: names, *, amounts, strings, numbers", () => {
    const d = only('promise a -> b +pay(2 taco, *, "x", 7, lunch)', "promise");
    assert.deepEqual(d.body!.args.map((a) => a.kind), ["number", "any", "string", "number", "ident"]);
    const amount = d.body!.args[0];
    assert.ok(amount.kind === "number" && amount.unit?.text === "taco");
  });

  it("conditions: and binds tighter than or; not; parentheses; kept; a bare promise name", () => {
    const d = only("promise a -> b +x(y) if not holds(c) or kept(p) and q", "promise");
    const c = d.condition!;
    assert.equal(c.kind, "or");
    assert.ok(c.kind === "or" && c.left.kind === "not" && c.right.kind === "and");
    assert.ok(c.kind === "or" && c.right.kind === "and" && c.right.left.kind === "kept" && c.right.right.kind === "ref");
    const grouped = only("promise a -> b +x(y) if (holds(c) or q) and kept(p)", "promise").condition!;
    assert.ok(grouped.kind === "and" && grouped.left.kind === "or");
  });

  it("capability: grants, delegable depth, expiry", () => {
    const d = only("capability pass from truck1 to alice { grants serve(lunch), pay(*) delegable depth 2 expires after 10 steps }", "capability");
    assert.equal(d.issuer?.text, "truck1");
    assert.equal(d.holder?.text, "alice");
    assert.deepEqual(d.grants.map((g) => g.type.text), ["serve", "pay"]);
    assert.equal(d.delegable?.depth, 2);
    assert.equal(d.expiresAfter?.steps, 10);
  });

  it("delegate", () => {
    const d = only("delegate sub of pass by alice to bob { grants serve(lunch) expires after 1 step }", "delegate");
    assert.equal(d.parent?.text, "pass");
    assert.equal(d.by?.text, "alice");
    assert.equal(d.to?.text, "bob");
    assert.equal(d.expiresAfter?.steps, 1);
  });

  it("workload fields: words, strings, lists, blocks, attached and spaced units", () => {
    const d = only('workload hello { sandbox wasm module "hello.wasm" args ["a", "b"] env { K "v" } limits { memory 64MiB time 250 ms pids 10 cpu 0.5 } }', "workload");
    const keys = d.fields.map((f) => f.key.text);
    assert.deepEqual(keys, ["sandbox", "module", "args", "env", "limits"]);
    const limits = d.fields[4].value;
    assert.ok(limits?.kind === "block");
    const l = limits.fields.map((f) => (f.value?.kind === "number" ? `${f.key.text}=${f.value.value}${f.value.unit?.text ?? ""}` : "?"));
    assert.deepEqual(l, ["memory=64MiB", "time=250ms", "pids=10", "cpu=0.5"]);
  });
});

describe("scenarios", () => {
  const text = `scenario "all events" {
  link a <-> b <-> c
  gossip every 2 steps
  balance a 10 taco
  step 1: a invokes pass at b expect kept
  step 2: a revokes pass
  step 3: b breaks p
  step 4: a pays 2 taco to b
  step 5: a delegates pass to c
  step 6: c leaves
  step 7: c joins
  step 8: partition a, b | c
  step 9: heal
  expect b knows revoked(pass) by step 3
  expect c knows revoked(pass)
  expect balance a 8 taco
  expect p broken for b
  expect p kept
}`;
  it("parses every item, event and expectation", () => {
    const s = only(text, "scenario") as ScenarioDecl;
    assert.equal(s.title, "all events");
    const kinds = s.items.map((i) => (i.kind === "step" ? `step:${i.event?.kind}` : i.kind === "expect" ? `expect:${i.expectation.kind}` : i.kind));
    assert.deepEqual(kinds, [
      "link", "gossip", "balance", "step:invoke", "step:revoke", "step:break", "step:pay", "step:delegate",
      "step:leave", "step:join", "step:partition", "step:heal",
      "expect:knows", "expect:knows", "expect:balance", "expect:promise", "expect:promise",
    ]);
    const link = s.items[0];
    assert.ok(link.kind === "link" && link.agents.length === 3);
    const invoke = s.items[3];
    assert.ok(invoke.kind === "step" && invoke.expect?.outcome === "kept" && invoke.step === 1);
    const partition = s.items[10];
    assert.ok(partition.kind === "step" && partition.event?.kind === "partition");
    assert.deepEqual(partition.kind === "step" && partition.event?.kind === "partition" && partition.event.groups.map((g) => g.map((n) => n.text)), [["a", "b"], ["c"]]);
    const knows = s.items[12];
    assert.ok(knows.kind === "expect" && knows.expectation.kind === "knows" && knows.expectation.byStep?.step === 3);
    const forB = s.items[15];
    assert.ok(forB.kind === "expect" && forB.expectation.kind === "promise" && forB.expectation.forAgent?.text === "b");
  });
});

describe("comments and spans", () => {
  it("attaches /// doc comments to the declaration below, and keeps all comments", () => {
    const file = parse("/// First line.\n/// Second line.\nagent a // trailing\n/* block */\n\n/// Not attached\n\nagent b\n");
    assert.equal(file.declarations[0].doc?.text, "First line.\nSecond line.");
    assert.equal(file.declarations[1].doc, undefined);
    assert.equal(file.comments.length, 5);
  });

  it("spans map to exact LSP ranges", () => {
    const text = "agent a\n\npromise p: a -> a +x(y)\n";
    const file = parse(text);
    const p = file.declarations[1];
    const range = new LineIndex(text).range(p.kind === "promise" ? p.name!.span : p.span);
    assert.deepEqual(range, { start: { line: 2, character: 8 }, end: { line: 2, character: 9 } });
  });

  it("LineIndex round-trips offsets, including CRLF", () => {
    const text = "ab\r\ncd\ne";
    const index = new LineIndex(text);
    for (let i = 0; i <= text.length; i++) {
      if (text[i - 1] === "\r") continue; // between \r and \n is not a position
      assert.equal(index.offset(index.position(i)), i);
    }
    assert.deepEqual(index.position(4), { line: 1, character: 0 });
  });

  it("LineIndex finds the lines of random texts of \\n, \\r\\n and lone \\r as a walk over the characters does", () => {
    let seed = 5;
    const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x80000000; };
    const parts = ["a", "bc", "\n", "\r", "\r\n", "\n\r", "\u2028"];
    for (let t = 0; t < 300; t++) {
      const text = Array.from({ length: Math.floor(rand() * 40) }, () => parts[Math.floor(rand() * parts.length)]).join("");
      // The oracle: a line ends at \n, at \r\n (one end), at \r alone.
      let line = 0, character = 0;
      const index = new LineIndex(text);
      for (let i = 0; i <= text.length; i++) {
        if (text[i - 1] !== "\r" || text[i] !== "\n") assert.deepEqual(index.position(i), { line, character }, `offset ${i} of ${JSON.stringify(text)}`);
        const c = text[i];
        if (c === "\n" || (c === "\r" && text[i + 1] !== "\n")) { line++; character = 0; } else character++;
      }
      assert.equal(index.lineCount, line + 1, JSON.stringify(text));
    }
  });
});

describe("recovery", () => {
  it("one typo gives one diagnostic and the rest of the file is understood", () => {
    const file = parse('agent alice\nagent truck1\npromise truck1 -> alice +serve(lunch if holds(pass)\npromise alice -> truck1 -serve(lunch)\ncapability pass from truck1 to alice { grants serve(lunch) }\n');
    assert.equal(file.errors.length, 1);
    assert.match(file.errors[0].message, /expected .*'\)'/);
    assert.deepEqual(file.declarations.map((d) => d.kind), ["agent", "agent", "promise", "promise", "capability"]);
  });

  it("a misspelt keyword suggests the right one", () => {
    const file = parse("agnet alice\nagent bob\n");
    assert.equal(file.errors.length, 1);
    assert.match(file.errors[0].message, /did you mean 'agent'/);
    assert.deepEqual(file.declarations.map((d) => d.kind === "agent" && d.name.text), ["bob"]);
  });

  it("an unclosed brace does not swallow the next declarations", () => {
    const file = parse('workload w { sandbox wasm\nagent a\nagent b\n');
    assert.equal(file.errors.length, 1);
    assert.deepEqual(file.declarations.map((d) => d.kind), ["workload", "agent", "agent"]);
  });

  it("a declaration cut short is still in the tree, with what was parsed", () => {
    const file = parse("promise p: truck1 -> alice +serve(");
    assert.equal(file.errors.length, 1);
    const d = file.declarations[0];
    assert.ok(d.kind === "promise" && d.name?.text === "p" && d.promiser?.text === "truck1");
  });

  it("unterminated strings and comments are reported, not thrown", () => {
    assert.match(parse('agent a "oops\nagent b').errors[0].message, /unterminated string/);
    assert.match(parse("agent a /* never closed").errors[0].message, /unexpected character|unterminated/);
  });

  it("errors say where: spans point at the offending token", () => {
    const text = "agent a\ncapability c from a to a { grants serve(x) expires after 3 days }";
    const file = parse(text);
    assert.equal(file.errors.length, 1);
    assert.equal(at(text, file.errors[0].span), "days");
    assert.match(file.errors[0].message, /expected 'steps' but found 'days'/);
  });
});

describe("nesting limit", () => {
  // Each text nests `n` levels deep (brackets), or holds `n` condition operators.
  const deep = (n: number) => ({
    braces: `agent a {${" k {".repeat(n - 1)}${" }".repeat(n - 1)} }`,
    lists: `agent a { k ${"[".repeat(n - 1)}${"]".repeat(n - 1)} }`,
    parens: `promise p: a -> b +x(y) if ${"(".repeat(n - 1)}holds(c)${")".repeat(n - 1)}`,
    nots: `promise p: a -> b +x(y) if ${"not ".repeat(n)}holds(c)`,
    ands: `promise p: a -> b +x(y) if holds(c)${" and holds(c)".repeat(n)}`,
  });

  it("parses nesting up to the limit", () => {
    for (const [name, text] of Object.entries(deep(MAX_NESTING))) {
      const file = parse(text + "\nagent later");
      assert.deepEqual(file.errors, [], name);
      assert.equal(file.declarations.length, 2, name);
    }
  });

  it("skips a declaration nested deeper, says where, and parses the rest", () => {
    for (const [name, text] of Object.entries(deep(MAX_NESTING + 1))) {
      const file = parse(text + "\nagent later");
      assert.equal(file.errors.length, 1, name);
      const e = file.errors[0];
      assert.equal(e.code, "PG101");
      const bracket = name === "braces" || name === "lists" || name === "parens";
      assert.equal(e.message, bracket ? "brackets nest more than 100 deep: this declaration is skipped"
        : "more than 100 'and', 'or' and 'not' in one declaration: this declaration is skipped", name);
      // The error is on the token past the limit: the 101st level's bracket, or the 101st operator.
      let at = -1, length = 1;
      if (bracket) {
        for (let i = 0, depth = 0; at < 0; i++) {
          if ("{[(".includes(text[i])) depth++;
          else if ("}])".includes(text[i])) depth--;
          if (depth > MAX_NESTING) at = i;
        }
      } else {
        const word = name === "nots" ? "not " : " and ";
        for (let i = 0; i <= MAX_NESTING; i++) at = text.indexOf(word, at + 1);
        if (word === " and ") at++;
        length = word.trim().length;
      }
      assert.deepEqual(e.span, { start: at, end: at + length }, name);
      assert.deepEqual(file.declarations.map((d) => d.kind === "agent" && d.name.text), ["later"], name);
    }
  });

  it("parses 100,000 levels of each in time proportional to the text, without exhausting the stack", () => {
    for (const [name, text] of Object.entries(deep(100_000))) {
      const file = parse(`agent earlier\n${text}\nagent later`);
      assert.equal(file.errors.length, 1, name);
      assert.deepEqual(file.declarations.map((d) => d.kind === "agent" && d.name.text), ["earlier", "later"], name);
    }
  });
});
