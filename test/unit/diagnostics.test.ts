// Every diagnostic code in docs/diagnostics.md fires on its wrong example and is
// silent on its right one; every code the checker can report is documented.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import { checkText, codes } from "./helpers.ts";

const doc = fs.readFileSync(new URL("../../docs/diagnostics.md", import.meta.url), "utf8");
const sections = [...doc.matchAll(/^## (PG\d{3}) ([^\n]*)\n([\s\S]*?)(?=^## |(?![\s\S]))/gm)].map((m) => {
  const wrong = m[3].match(/```pg wrong\n([\s\S]*?)```/)?.[1];
  const right = m[3].match(/```pg right\n([\s\S]*?)```/)?.[1];
  return { code: m[1], title: m[2], wrong, right, warning: /\(warning\)/.test(m[2]) };
});

describe("docs/diagnostics.md", () => {
  it("has a wrong and a right example for every code", () => {
    assert.ok(sections.length >= 25, `only ${sections.length} sections found`);
    for (const s of sections) {
      assert.ok(s.wrong, `${s.code} has no wrong example`);
      assert.ok(s.right, `${s.code} has no right example`);
    }
  });

  it("lists every code the parser and checker can report", () => {
    const sources = ["grammar/parser.ts", "language/checker.ts"].map((f) => fs.readFileSync(new URL(`../../${f}`, import.meta.url), "utf8")).join("\n");
    const reported = new Set([...sources.matchAll(/"(PG\d{3})"/g)].map((m) => m[1]));
    const documented = new Set(sections.map((s) => s.code));
    for (const code of reported) assert.ok(documented.has(code), `${code} is reported but not documented`);
  });
});

for (const s of sections) {
  describe(`${s.code} ${s.title}`, () => {
    it("fires on the wrong example", () => {
      const found = checkText(s.wrong!);
      const hit = found.filter((d) => d.code === s.code);
      assert.ok(hit.length >= 1, `expected ${s.code}, got ${JSON.stringify(codes(found))}`);
      assert.equal(hit[0].severity, s.warning ? "warning" : "error");
      for (const d of hit) {
        assert.ok(d.span.end >= d.span.start && d.span.end <= s.wrong!.length, `bad span ${JSON.stringify(d.span)}`);
        assert.ok(d.message.length > 10, "message says what is wrong");
      }
    });
    it("is silent on the right example", () => {
      const found = checkText(s.right!);
      assert.deepEqual(found.filter((d) => d.code === s.code || d.severity === "error").map((d) => `${d.code} ${d.message}`), []);
    });
  });
}
