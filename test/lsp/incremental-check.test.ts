// The checker thread's service answers a check after an edit that changes no meaning (spaces within a line, a
// plain comment) from its last check, with the diagnostics moved; after thousands of seeded random edits, each
// answer equals a fresh check of the same text, and many were answered that way. After an edit that changes meaning
// it checks again only the declarations the edit can have changed (server/incremental-check.ts), and each answer
// equals a fresh check too, however far the dependency (a delegation below a renamed capability, a cycle's far end).
import { it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { check, loadProgram } from "../../language/index.ts";
import { CheckService, warmUpRequest, type WorkerRequest } from "../../server/checker-thread.ts";
import { MIN_CHUNK } from "../../server/incremental-parse.ts";
import { warmUpText } from "../../server/warm-up.ts";

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");

// Each file parsed in chunks of a declaration each, and in the server's chunks (of at least MIN_CHUNK characters).
for (const minChunk of [0, MIN_CHUNK]) it(`answers each check after 3,000 random edits exactly as a fresh check, reusing the last one where nothing changed meaning (chunks of at least ${minChunk} characters)`, () => {
  let seed = 11;
  const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x80000000; };
  // Mostly edits that keep the meaning; some that change it, open or close a comment, or add lines.
  const pieces = [" ", " ", "  ", "\t", " ", "(", " (", "// note", "/* c */", "x", "\n", "\r\n", "/*", "*/", "truck1", "9", "{", "}", "\"", "///"];
  const entry = path.join(fixtures, "broken.pg");
  const other = path.join(fixtures, "food.pg");
  // Units written against their number (`3nope`): a space put between them moves the unit's start and not the
  // number's end, and a diagnostic sits on the unit.
  let text = fs.readFileSync(entry, "utf8") + "promise truck1 -> alice +pay(3nope)\npromise alice -> truck1 -pay(4zork)\n";
  const otherText = fs.readFileSync(other, "utf8");
  const service = new CheckService(minChunk);
  let id = 0;
  for (let i = 0; i < 3000; i++) {
    const a = Math.floor(rand() * (text.length + 1));
    const b = rand() < 0.7 ? a : Math.min(text.length, a + 1 + Math.floor(rand() * 3));
    text = (text.slice(0, a) + pieces[Math.floor(rand() * pieces.length)] + text.slice(b)).slice(0, 4000);
    const req: WorkerRequest = { id: ++id, job: { kind: "check", entry }, files: [[entry, text], [other, otherText]], open: [entry, other], generation: 0 };
    const res = service.handle(req);
    assert.ok("diagnostics" in res, JSON.stringify(res));
    // Part of the dependency index built between requests, as the worker does.
    if (rand() < 0.3) service.prepare(1 + Math.floor(rand() * 5));
    const host = { readText: (p: string) => (p === entry ? text : fs.existsSync(p) ? fs.readFileSync(p, "utf8") : undefined), exists: (p: string) => p === entry || fs.existsSync(p) };
    const fresh = check(loadProgram([entry], host));
    assert.deepEqual(JSON.parse(JSON.stringify(res.diagnostics)), JSON.parse(JSON.stringify(fresh)), `edit ${i}: ${JSON.stringify(text)}`);
  }
  console.log(`${service.reused} of 3000 checks answered from the last one`);
  assert.ok(service.reused > 500, `checks answered from the last one: ${service.reused}`);
});

for (const plain of [false, true]) it(`warms up on a check of its ${plain ? "plain " : ""}sample, as a fresh check of the same text reports it (not on an empty program)`, () => {
  const res = new CheckService().handle(warmUpRequest(3, plain));
  assert.ok("diagnostics" in res, JSON.stringify(res));
  const entry = path.join(fixtures, "warm-up-sample.pg");
  const text = warmUpText(3, plain);
  const fresh = check(loadProgram([entry], { readText: (p) => (p === entry ? text : undefined), exists: (p) => p === entry }));
  const what = (ds: { code: string; message: string; span: object }[]) => ds.map(({ code, message, span }) => ({ code, message, span }));
  // The sample is free of errors but for its last declaration, cut short.
  assert.deepEqual(fresh.map((d) => d.code), ["PG101"]);
  assert.deepEqual(what(res.diagnostics), what(fresh));
});

it("answers from the last check when a space before a declaration's keyword joins two chunks into one", () => {
  const entry = path.join(fixtures, "broken.pg");
  const text = fs.readFileSync(entry, "utf8");
  const service = new CheckService();
  const request = (t: string, id: number): WorkerRequest => ({ id, job: { kind: "check", entry }, files: [[entry, t]], open: [entry], generation: 0 });
  service.handle(request(text, 1));
  const at = text.indexOf("\npromise") + 1;
  const edited = text.slice(0, at) + " " + text.slice(at);
  const res = service.handle(request(edited, 2));
  assert.equal(service.reused, 1, "no check again");
  const fresh = check(loadProgram([entry], { readText: (p) => (p === entry ? edited : undefined), exists: (p) => p === entry || fs.existsSync(p) }));
  assert.deepEqual("diagnostics" in res && JSON.parse(JSON.stringify(res.diagnostics)), JSON.parse(JSON.stringify(fresh)));
});

for (const minChunk of [0, MIN_CHUNK]) it(`checks again only what 1,000 meaning-changing edits (renames, typos, deleted and copied declarations) can change, answering each exactly as a fresh check (chunks of at least ${minChunk} characters)`, () => {
  let seed = 23;
  const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x80000000; };
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const entry = path.join(fixtures, "delegation.pg");
  // Every kind of whole-program rule: duplicates, two grids, unbound pairs, offers behind capabilities, delegation
  // chains four deep, a cycle of five conditions, a workload's network promise, a scenario's balances and breaks.
  const base = fs.readFileSync(entry, "utf8") + fs.readFileSync(path.join(fixtures, "food.pg"), "utf8") + [
    "promise q1: ann -> ben +ask(x) if kept(q2)",
    "promise q2: ben -> ann -ask(x) if kept(q3) and holds(assistant)",
    "promise q3: cy -> ann +ask(y) if kept(q4)",
    "promise q4: ann -> cy +ask(z) if kept(q5) or kept(q3)",
    "promise q5: ben -> cy +ask(z) if not kept(q1)",
    "promise ann -> cy -ask(y)",
    "agent ben \"a second ben\"",
    "workload job { sandbox wasm module \"job.wasm\" limits { memory 1MiB time 1s } network open }",
    "promise vault -> * +network(job)",
    "delegate deeper of intern by cy to ann { grants read(files) }",
    "scenario \"s2\" {\n  balance alice 3 taco\n  step 1: ann breaks q1\n}",
    "",
  ].join("\n");
  const service = new CheckService(minChunk);
  let text = base;
  let id = 0, rechecked = 0;
  const names = () => [...new Set(text.match(/\b[a-z_][a-z0-9_]*\b/g) ?? [])];
  for (let i = 0; i < 1000; i++) {
    if (i % 250 === 0) text = base;
    const lines = text.split("\n");
    const r = rand();
    if (r < 0.45) {
      // Rename one use or definition of a name: a typo, a shorter name, another name of the file.
      const words = [...text.matchAll(/\b[a-z_][a-z0-9_]*\b/g)];
      const w = pick(words);
      const to = pick([w[0] + "x", w[0].slice(0, -1) || "z", pick(names()), pick(names())]);
      text = text.slice(0, w.index) + to + text.slice(w.index! + w[0].length);
    } else if (r < 0.65) {
      lines.splice(Math.floor(rand() * lines.length), 1);
      text = lines.join("\n");
    } else if (r < 0.85) {
      lines.splice(Math.floor(rand() * lines.length), 0, pick(lines));
      text = lines.join("\n");
    } else {
      const a = Math.floor(rand() * (text.length + 1));
      text = text.slice(0, a) + pick(["x", "(", "}", "{", "\n", "9", " if kept(q1)", " and not kept(q2)", "promise ", "agent zed\n"]) + text.slice(a);
    }
    const req: WorkerRequest = { id: ++id, job: { kind: "check", entry }, files: [[entry, text]], open: [entry], generation: 0 };
    const partialBefore = service.partial;
    const res = service.handle(req);
    if (service.partial > partialBefore) rechecked += service.rechecked;
    assert.ok("diagnostics" in res, JSON.stringify(res));
    // The worker builds the dependency index between requests, a few declarations at a time: an edit may come
    // before it is done.
    for (let k = Math.floor(rand() * 3); k > 0; k--) service.prepare(1 + Math.floor(rand() * 5));
    const fresh = check(loadProgram([entry], { readText: (p) => (p === entry ? text : fs.existsSync(p) ? fs.readFileSync(p, "utf8") : undefined), exists: (p) => p === entry || fs.existsSync(p) }));
    assert.deepEqual(JSON.parse(JSON.stringify(res.diagnostics)), JSON.parse(JSON.stringify(fresh)), `edit ${i}: ${JSON.stringify(text)}`);
  }
  console.log(`${service.partial} of 1000 checks checked again only what the edit could change (${(rechecked / Math.max(1, service.partial)).toFixed(1)} declarations each)`);
  assert.ok(service.partial > 500, `partial checks: ${service.partial}`);
});

it("checks again what depends on an edited declaration at any distance: a delegation three levels below a renamed or deleted capability, the far end of a cycle of conditions", () => {
  const entry = path.join(fixtures, "delegation.pg");
  const base = fs.readFileSync(entry, "utf8") + [
    "delegate deeper of intern by cy to ann { grants read(files) }",
    // Each of another body type, so that only the conditions join them.
    "promise q1: ann -> ben +t1(x) if kept(q2)",
    "promise q2: ben -> ann -t2(x) if kept(q3)",
    "promise q3: cy -> ann +t3(y) if kept(q4)",
    "promise q4: ann -> cy -t4(y) if kept(q5)",
    "promise q5: ben -> cy +t5(z)",
    "",
  ].join("\n");
  const edits: [string, string][] = [
    ["capability account", "capability accounts"],
    ["capability accounts", "capability account"],
    ["capability account from vault to ann { grants read(files), write(files) delegable depth 2 expires after 20 steps }\n", ""],
    ["promise q5: ben -> cy +t5(z)", "promise q5: ben -> cy +t5(z) if kept(q1)"],
    ["q1: ann", "q1x: ann"],
    ["agent ben", "agent bent"],
  ];
  const service = new CheckService();
  let text = base;
  const request = (id: number): WorkerRequest => ({ id, job: { kind: "check", entry }, files: [[entry, text]], open: [entry], generation: 0 });
  service.handle(request(0));
  for (const [i, [from, to]] of edits.entries()) {
    assert.ok(text.includes(from), from);
    text = text.replace(from, to);
    const res = service.handle(request(i + 1));
    assert.equal(service.partial, i + 1, `edit ${i} checked again in part`);
    const fresh = check(loadProgram([entry], { readText: (p) => (p === entry ? text : undefined), exists: (p) => p === entry || fs.existsSync(p) }));
    assert.deepEqual("diagnostics" in res && JSON.parse(JSON.stringify(res.diagnostics)), JSON.parse(JSON.stringify(fresh)), `edit ${i}: ${from} -> ${to}`);
  }
});

it("checks an edit that comes while the dependency index is half built as a fresh check would", () => {
  const entry = "/edit/half.pg";
  let text = "agent a\nagent b\npromise p1: a -> b +serve(x) if holds(c1)\ncapability c1 from a to b { grants serve(x) }\n";
  const service = new CheckService();
  let id = 0;
  const fresh = () => check(loadProgram([entry], { readText: (p) => (p === entry ? text : undefined), exists: (p) => p === entry }));
  const answer = () => {
    const res = service.handle({ id: ++id, job: { kind: "check", entry }, files: [[entry, text]], open: [entry], generation: 0 });
    assert.ok("diagnostics" in res, JSON.stringify(res));
    return JSON.parse(JSON.stringify(res.diagnostics));
  };
  answer();
  assert.equal(service.prepare(1), true, "one declaration of four indexed: more is left");
  // A space within the promise (no meaning changes: its declaration is parsed again), then a rename of what it
  // depends on, and then of its own condition.
  text = text.replace("-> b +serve", "-> b  +serve");
  answer();
  service.prepare(1);
  text = text.replace("capability c1", "capability c2");
  assert.deepEqual(answer(), JSON.parse(JSON.stringify(fresh())));
  assert.equal(service.partial, 1, "checked again in part");
  text = text.replace("holds(c1)", "holds(c2)");
  assert.deepEqual(answer(), JSON.parse(JSON.stringify(fresh())));
});

it("checks a document closed and opened again with other text afresh, not from the check of its old text", () => {
  const [a, b] = ["/edit/closed.pg", "/edit/other.pg"];
  const service = new CheckService();
  const answer = (entry: string, files: [string, string][]) => {
    const res = service.handle({ id: 1, job: { kind: "check", entry }, files, open: files.map(([p]) => p), generation: 0 });
    assert.ok("diagnostics" in res, JSON.stringify(res));
    return res.diagnostics.map((d) => d.message);
  };
  assert.match(answer(a, [[a, "agent a\npromise a -> zz +x(y)\n"]]).join("\n"), /zz/);
  answer(b, [[b, "agent b\n"]]); // a is closed
  assert.deepEqual(answer(a, [[a, "agent a\n"], [b, "agent b\n"]]), [], "the reopened text has no error");
});
