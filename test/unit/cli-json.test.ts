// Every --json output is one JSON document on stdout, also on failure, and matches
// its schema in docs/schemas/. Runs the built CLI as a real process.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { cli, ensureBuiltCli, ROOT } from "./built-cli.ts";
import { jsonOutput } from "./schemas.ts";

const TRUCKS = fs.readFileSync(path.join(ROOT, "examples/food-trucks.pg"), "utf8");
const lineOf = (text: string, needle: string) => text.slice(0, text.indexOf(needle)).split("\n").length;
let dir: string;
const write = (name: string, text: string) => { fs.writeFileSync(path.join(dir, name), text); return name; };
const run = (...args: string[]) => cli(args, dir);
/** `command NAME ...args --json` on NAME written with `text`: the run, and its stdout read against `schema`. */
const json = (schema: string, command: string, name: string, text: string, ...args: string[]) => {
  const r = run(command, write(name, text), ...args, "--json");
  return { ...r, doc: jsonOutput(schema, r.out) };
};

before(() => {
  ensureBuiltCli();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-json-"));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("check --json", () => {
  it("carries related locations and quick fixes as LSP TextEdits", () => {
    const { doc, ...r } = json("check.schema.json", "check", "typo.pg", "agent alice\nagent alice\nagent truck1\npromise truck1 -> alcie +serve(lunch)\npromise alice -> truck1 -serve(lunch)\n");
    assert.equal(r.code, 1);
    assert.equal(doc.errors, 2);
    const code = (c: string) => doc.files[0].diagnostics.find((d: any) => d.code === c);
    const dup = code("PG201"), typo = code("PG200");
    assert.equal(dup.code, "PG201");
    assert.deepEqual(dup.related, [{ path: "typo.pg", range: { start: { line: 0, character: 6 }, end: { line: 0, character: 11 } }, message: "first declaration of 'alice'" }]);
    assert.equal(typo.code, "PG200");
    assert.deepEqual(typo.fixes, [{
      title: "Change to 'alice'",
      edits: [{ path: "typo.pg", range: { start: { line: 3, character: 18 }, end: { line: 3, character: 23 } }, newText: "alice" }],
    }]);
  });

  it("a file that cannot be read is a PG000 diagnostic in the same document", () => {
    const r = run("check", "missing.pg", "--json");
    assert.equal(r.code, 1);
    const doc = jsonOutput("check.schema.json", r.out);
    assert.equal(doc.files[0].diagnostics[0].code, "PG000");
    assert.match(doc.files[0].diagnostics[0].message, /missing\.pg: no such file/);
  });
});

describe("test --json", () => {
  it("a file with errors is reported with the checker's diagnostic objects", () => {
    const { doc, ...r } = json("test.schema.json", "test", "broken.pg", TRUCKS.replace("step 4: alice invokes lunch_pass at truck5", "step 4: alice invokes lunch_pass at truk5"));
    assert.equal(r.code, 1);
    assert.equal(doc.failed, 1);
    assert.deepEqual(doc.scenarios, []);
    const [file] = doc.files;
    assert.equal(file.ran, false);
    const d = file.diagnostics.find((x: any) => x.code === "PG200");
    assert.equal(d.range.start.line, lineOf(TRUCKS, "step 4:") - 1);
    assert.equal(d.fixes[0].edits[0].newText, "truck5");
    assert.match(r.err, /0 passed, 1 failed/);
  });

  it("a failing expectation carries its location, step, agent, expected and seen as fields", () => {
    const { doc, code } = json("test.schema.json", "test", "wrong.pg", TRUCKS.replace("expect balance alice 4 taco", "expect balance alice 5 taco"));
    assert.equal(code, 1);
    const [f] = doc.scenarios[0].failures;
    const line = lineOf(TRUCKS, "expect balance alice");
    assert.deepEqual(
      { path: f.path, line: f.line, startLine: f.range.start.line, step: f.step, agent: f.agent, expected: f.expected, seen: f.seen },
      { path: "wrong.pg", line, startLine: line - 1, step: 4, agent: "alice", expected: "5 taco", seen: "4 taco" },
    );
    assert.ok(f.range.end.character > 0);
  });

  it("an outcome expectation carries the outcome expected and seen", () => {
    const { doc } = json("test.schema.json", "test", "outcome.pg", TRUCKS.replace("step 4: alice invokes lunch_pass at truck5 expect refused", "step 4: alice invokes lunch_pass at truck5 expect kept"));
    const f = doc.scenarios[0].failures.find((x: any) => x.step === 4 && x.agent === "alice" && x.expected === "kept");
    assert.equal(f.seen, "refused");
  });

  it("a scenario that cannot run carries its diagnostics as objects", () => {
    const { doc, ...r } = json("test.schema.json", "test", "steps.pg", TRUCKS.replace("step 4: alice", "step 200000: alice"));
    const diagnostics = [...doc.files.flatMap((f: any) => f.diagnostics), ...doc.scenarios.flatMap((s: any) => s.diagnostics)];
    assert.ok(diagnostics.length > 0, r.out);
    assert.ok(diagnostics.every((d: any) => /^PG\d{3}$/.test(d.code) && d.range.start.line > 0), r.out);
  });
});

describe("simulate --json", () => {
  it("on a file with errors prints one JSON error document on stdout", () => {
    const { doc, ...r } = json("failure.schema.json", "simulate", "broken.pg", TRUCKS.replace("truck1 revokes lunch_pass", "truck1 revokes lunch_pas"));
    assert.equal(r.code, 1);
    assert.match(doc.error, /broken\.pg has errors/);
    assert.equal(doc.diagnostics[0].fixes[0].edits[0].newText, "lunch_pass");
    jsonOutput("simulate.schema.json", r.out);
  });

  it("a missing file and an unknown scenario are JSON too", () => {
    assert.match(jsonOutput("failure.schema.json", run("simulate", "nope.pg", "--json").out).error, /no such file/);
    assert.match(json("failure.schema.json", "simulate", "trucks.pg", TRUCKS, "--scenario", "other").doc.error, /no scenario titled "other"/);
  });

  it("the trace and one step in one agent's view match their schemas", () => {
    const trace = json("trace.schema.json", "simulate", "trucks.pg", TRUCKS).doc;
    assert.equal(trace.passed, true);
    const r = run("simulate", "trucks.pg", "--step", "2", "--agent", "truck5", "--json");
    assert.equal(r.code, 0, r.err);
    const step = jsonOutput("step.schema.json", r.out);
    assert.deepEqual(Object.keys(step.views), ["truck5"]);
    assert.deepEqual(step.views.truck5.heard, [0, 2, 1]);
    assert.deepEqual(step.learned, { truck5: [2, 1] });
    const past = run("simulate", "trucks.pg", "--step", "9", "--json");
    assert.equal(past.code, 1);
    assert.match(jsonOutput("failure.schema.json", past.out).error, /step 9 is past its end/);
  });
});

describe("every --json failure is one document", () => {
  it("bad arguments print the error as JSON on stdout, and usage on stderr (exit 2)", () => {
    for (const args of [["check", "--json"], ["compile", "x.pg", "--hash", "md5", "--json"], ["simulate", "x.pg", "--step", "two", "--json"], ["test", "--bogus", "--json"]]) {
      const r = run(...args);
      assert.equal(r.code, 2, args.join(" "));
      jsonOutput("failure.schema.json", r.out);
      assert.match(r.err, /--help/);
    }
  });

  it("the trace of every example matches the trace schema", () => {
    for (const f of fs.readdirSync(path.join(ROOT, "examples")).filter((f) => f.endsWith(".pg"))) {
      const r = cli(["simulate", `examples/${f}`, "--json"]);
      if (r.code !== 0) { jsonOutput("failure.schema.json", r.out); continue; }
      jsonOutput("simulate.schema.json", r.out);
      for (const t of [JSON.parse(r.out)].flat()) jsonOutput("trace.schema.json", JSON.stringify(t));
    }
  });
});

describe("compile --json and fmt --json", () => {
  it("compile: the manifest, or the errors, as one document", () => {
    const ok = cli(["compile", "examples/hello-wasm.pg", "--json"]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(jsonOutput("compile.schema.json", ok.out).root, /^b/);
    const bad = json("compile.schema.json", "compile", "bad.pg", "agent alice\nagent alice\n");
    assert.equal(bad.code, 1);
    assert.equal(bad.doc.diagnostics[0].code, "PG201");
  });

  it("fmt: the formatted text, or the syntax errors, as one document", () => {
    assert.deepEqual(json("fmt.schema.json", "fmt", "messy.pg", "agent   alice\n").doc, { path: "messy.pg", formatted: "agent alice\n", changed: true });
    const bad = json("fmt.schema.json", "fmt", "syntax.pg", "agnet alice\n");
    assert.equal(bad.code, 1);
    assert.equal(bad.doc.diagnostics[0].code, "PG101");
    assert.equal(fs.readFileSync(path.join(dir, "syntax.pg"), "utf8"), "agnet alice\n");
  });
});
