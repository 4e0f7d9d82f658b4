// Every diagnostic code in docs/diagnostics.md fires on its wrong example, on a
// range that starts and ends on a token's edge, and is silent on its right one;
// every code the parser and checker can report is documented, the simulator has
// none of its own, and retired codes are reported nowhere.
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

  const read = (dir: string) => fs.readdirSync(new URL(`../../${dir}/`, import.meta.url)).filter((f) => f.endsWith(".ts"))
    .map((f) => fs.readFileSync(new URL(`../../${dir}/${f}`, import.meta.url), "utf8")).join("\n");
  const codesIn = (text: string) => new Set([...text.matchAll(/"(PG\d{3})"/g)].map((m) => m[1]));

  it("lists every code the parser and checker can report", () => {
    const reported = codesIn(read("grammar") + read("language"));
    const documented = new Set(sections.map((s) => s.code));
    for (const code of reported) assert.ok(documented.has(code), `${code} is reported but not documented`);
    assert.deepEqual([...codesIn(read("language/simulator"))], [], "the simulator reports the checker's codes, none of its own");
  });

  it("reports no retired code, and gives no two codes one title", () => {
    const retired = doc.slice(doc.indexOf("## Retired codes"));
    const codes = new Set([...retired.matchAll(/PG\d{3}/g)].map((m) => m[0]).filter((c) => !sections.some((s) => s.code === c)));
    assert.ok(codes.size >= 10, `retired codes listed: ${[...codes]}`);
    const reported = codesIn(read("grammar") + read("language") + read("language/simulator"));
    for (const code of codes) assert.ok(!reported.has(code), `${code} is retired but still reported`);
    const titles = sections.map((s) => s.title.replace(/ \(warning\)$/, ""));
    assert.equal(new Set(titles).size, titles.length, "two codes share a title");
  });
});

for (const s of sections) {
  describe(`${s.code} ${s.title}`, () => {
    it("fires on the wrong example", () => {
      const found = checkText(s.wrong!);
      const hit = found.filter((d) => d.code === s.code);
      assert.ok(hit.length >= 1, `expected ${s.code}, got ${JSON.stringify(codes(found))}`);
      assert.equal(hit[0].severity, s.warning ? "warning" : "error");
      const text = s.wrong!;
      const word = (i: number) => /[A-Za-z0-9_]/.test(text[i] ?? "");
      // A token's edge: not between two word characters, except where a unit follows its number (64MiB).
      const edge = (i: number) => !(word(i - 1) && word(i)) || (/[A-Za-z]/.test(text[i]) && /(^|[^A-Za-z0-9_.])[0-9.]+$/.test(text.slice(0, i)));
      for (const d of hit) {
        assert.ok(d.span.end >= d.span.start && d.span.end <= text.length, `bad span ${JSON.stringify(d.span)}`);
        assert.ok(d.message.length > 10, "message says what is wrong");
        // A range one character off cuts a token or takes in a blank.
        const covered = text.slice(d.span.start, d.span.end);
        if (d.code === "PG100" || !covered) continue;
        assert.equal(covered.trim(), covered, `${d.code}'s range ${JSON.stringify(covered)} starts or ends on a blank`);
        assert.ok(edge(d.span.start), `${d.code}'s range starts inside a word: ${JSON.stringify(covered)}`);
        assert.ok(edge(d.span.end), `${d.code}'s range ends inside a word: ${JSON.stringify(covered)}`);
      }
    });
    it("is silent on the right example", () => {
      const found = checkText(s.right!);
      assert.deepEqual(found.filter((d) => d.code === s.code || d.severity === "error").map((d) => `${d.code} ${d.message}`), []);
    });
  });
}
