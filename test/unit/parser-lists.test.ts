// What the parser keeps of lists cut short by an error, and what it keeps of a tree once a parse is over.
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
