// The parser's passes: what a declaration cut short keeps of its lists, what the one-pass parse hands on to the
// declaration-by-declaration one when it meets an error, and what a parse leaves behind in the parser.
import assert from "node:assert/strict";
import { setImmediate } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { it } from "node:test";
import { parse, type CapabilityDecl, type PromiseDecl } from "../../grammar/index.ts";

it("a grant block's `grants` lines make one list", () => {
  const file = parse("capability c from a to b { grants x(), y() delegable grants z(*) }");
  assert.deepEqual(file.errors, []);
  assert.deepEqual((file.declarations[0] as CapabilityDecl).grants.map((g) => g.type.text), ["x", "y", "z"]);
});

it("a declaration cut short in a list keeps the items before the error", () => {
  const promise = parse("promise p: a -> b, *, }").declarations[0] as PromiseDecl;
  assert.deepEqual(promise.promisees.map((n) => n.text), ["b", "*"]);
  assert.equal(promise.name?.text, "p");

  const grants = parse("capability c from a to b { grants x() grants y(), ]").declarations[0] as CapabilityDecl;
  assert.deepEqual(grants.grants.map((g) => g.type.text), ["x", "y"]);
  assert.match(parse("capability c from a to b { grants x() grants y(), ]").errors[0].message, /expected a name but found '\]'/);
});

it("an error after a declaration with a wrong 'steps' reports both", () => {
  const text = "agent a\nagent b\ncapability c from a to b { grants x() expires after 3 stepz }\nagent d\nagent e\npromise a ->\n";
  const file = parse(text);
  assert.deepEqual(file.errors.map((e) => [e.message.split(" (")[0], text.slice(e.span.start, e.span.end)]), [
    ["expected 'steps' but found 'stepz'", "stepz"],
    ["expected a name or '*' but found the end of the file", ""],
  ]);
  assert.deepEqual(file.declarations.map((d) => d.kind), ["agent", "agent", "capability", "agent", "agent", "promise"]);
});

it("a parse leaves nothing of its tree in the parser", async () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const texts = [
    "agent a\nagent b\ncapability c from a to b { grants x(y) }\npromise a -> b, a +x([z, w]) if holds(c) { k 1 }\n",
    "agent a\ncapability c from a to b { grants x(y) }\npromise a -> b, +x(z)\n", // with an error: declaration by declaration
  ];
  for (const text of texts) {
    const refs = (() => {
      const file = parse(text);
      const nodes: object[] = [];
      const walk = (n: unknown): void => {
        if (!n || typeof n !== "object") return;
        nodes.push(n);
        for (const v of Object.values(n)) walk(v);
      };
      walk(file.declarations);
      return nodes.map((n) => new WeakRef(n));
    })();
    await setImmediate(); // WeakRefs hold their targets until the end of the job that made them
    gc();
    assert.deepEqual(refs.filter((r) => r.deref() !== undefined).map((r) => r.deref()), [], text);
  }
});
