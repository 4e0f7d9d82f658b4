// The checker thread's service answers a check after an edit that changes no meaning (spaces within a line, a
// plain comment) from its last check, with the diagnostics moved; after thousands of seeded random edits, each
// answer equals a fresh check of the same text, and many were answered that way.
import { it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { check, loadProgram } from "../../language/index.ts";
import { CheckService, type WorkerRequest } from "../../server/checker-thread.ts";

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");

it("answers each check after 3,000 random edits exactly as a fresh check, reusing the last one where nothing changed meaning", () => {
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
  const service = new CheckService();
  let id = 0;
  for (let i = 0; i < 3000; i++) {
    const a = Math.floor(rand() * (text.length + 1));
    const b = rand() < 0.7 ? a : Math.min(text.length, a + 1 + Math.floor(rand() * 3));
    text = (text.slice(0, a) + pieces[Math.floor(rand() * pieces.length)] + text.slice(b)).slice(0, 4000);
    const req: WorkerRequest = { id: ++id, job: { kind: "check", entry }, files: [[entry, text], [other, otherText]], open: [entry, other], generation: 0 };
    const res = service.handle(req);
    assert.ok("diagnostics" in res, JSON.stringify(res));
    const host = { readText: (p: string) => (p === entry ? text : fs.existsSync(p) ? fs.readFileSync(p, "utf8") : undefined), exists: (p: string) => p === entry || fs.existsSync(p) };
    const fresh = check(loadProgram([entry], host));
    assert.deepEqual(JSON.parse(JSON.stringify(res.diagnostics)), JSON.parse(JSON.stringify(fresh)), `edit ${i}: ${JSON.stringify(text)}`);
  }
  console.log(`${service.reused} of 3000 checks answered from the last one`);
  assert.ok(service.reused > 500, `checks answered from the last one: ${service.reused}`);
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
