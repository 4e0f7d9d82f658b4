// `promisegrid explain`, as a real process: a step's derivation and a code's catalogue entry.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { cli, ensureBuiltCli, ROOT } from "./built-cli.ts";
import { jsonOutput } from "./schemas.ts";

const TRUCKS = "examples/food-trucks.pg";
let dir: string;
const write = (name: string, text: string) => { fs.writeFileSync(path.join(dir, name), text); return name; };

before(() => {
  ensureBuiltCli();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-explain-"));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const explainJson = (...args: string[]) => {
  const r = cli(["explain", ...args, "--json"], args[0].startsWith("examples/") ? ROOT : dir);
  return { code: r.code, doc: r.code === 0 ? jsonOutput("explain.schema.json", r.out) : jsonOutput("failure.schema.json", r.out) };
};

describe("explain FILE --step N: the food trucks, as truck5 saw them", () => {
  it("at step 2 truck5 had not yet heard of the revocation, so it served", () => {
    const { code, doc } = explainJson(TRUCKS, "--step", "2", "--agent", "truck5");
    assert.equal(code, 0);
    assert.equal(doc.events.length, 1, "only the event truck5 took part in");
    const [e] = doc.events;
    assert.equal(e.viewer, "truck5");
    assert.equal(e.promise.label, "truck5 -> * +serve(lunch)");
    assert.equal(e.outcome, "kept");
    const [hop] = e.condition.hops;
    assert.deepEqual({ token: hop.token, ok: hop.ok, revokedAt: hop.revokedAt, heard: hop.revocationHeard }, { token: "lunch_pass", ok: true, revokedAt: 2, heard: null });
    assert.ok(e.unheard.some((n: any) => n.kind === "revoked" && n.about === "lunch_pass" && n.witnesses.includes("truck1")), JSON.stringify(e.unheard));
    assert.ok(!e.heard.some((n: any) => n.kind === "revoked"));
    const text = cli(["explain", TRUCKS, "--step", "2", "--agent", "truck5"]).out;
    assert.match(text, /token lunch_pass .*: ok; revoked at step 2, but truck5 had not heard of it yet/);
  });

  it("at step 4 it had heard, from truck1 at step 2, and refused", () => {
    const { doc } = explainJson(TRUCKS, "--step", "4", "--agent", "truck5");
    const [e] = doc.events;
    assert.equal(e.outcome, "refused");
    assert.equal(e.condition.holds, false);
    const [hop] = e.condition.hops;
    assert.equal(hop.ok, false);
    assert.match(hop.problem, /truck5 knows lunch_pass was revoked/);
    assert.deepEqual({ how: hop.revocationHeard.how, from: hop.revocationHeard.from, heardAt: hop.revocationHeard.heardAt },
      { how: "gossip", from: "truck1", heardAt: 2 });
    const text = cli(["explain", TRUCKS, "--step", "4", "--agent", "truck5"]).out;
    assert.match(text, /revoked at step 2, and truck5 had heard it at step 2 from truck1/);
    assert.match(text, /outcome: refused/);
  });

  it("without --agent, every event and every agent's knowledge", () => {
    const { doc } = explainJson(TRUCKS, "--step", "2");
    assert.deepEqual(doc.events.map((e: any) => e.text), ["truck1 revokes lunch_pass", "alice invokes lunch_pass at truck5"]);
    assert.deepEqual(doc.knowledge.map((k: any) => k.agent), ["truck1", "truck5", "alice"]);
  });

  it("a delegation chain: each hop checked, the revoked root fails", () => {
    const { doc } = explainJson("examples/delegation.pg", "--step", "2", "--agent", "cy");
    const invoke = doc.events.find((e: any) => e.kind === "invoke");
    assert.deepEqual(invoke.condition.hops.map((h: any) => [h.token, h.ok]), [["intern", true], ["assistant", true], ["account", false]]);
  });
});

describe("explain FILE --step N: edits that would change the outcome", () => {
  const SHOP = `agent shop
agent ann
currency coin issued by shop { supply 10 }
promise lunch: shop -> * +serve(lunch) if holds(pass) { price 5 coin }
promise ann -> shop -serve(lunch)
capability pass from shop to ann { grants serve(lunch) }
scenario "ann buys lunch" {
  balance ann 3 coin
  step 1: ann invokes pass at shop expect kept
}
`;
  it("a price the requester cannot pay: lower it to what it has", () => {
    write("price.pg", SHOP);
    const { doc } = explainJson("price.pg", "--step", "1");
    const [e] = doc.events;
    assert.deepEqual(e.price, { price: "5 coin", balance: "3 coin", enough: false });
    const [edit] = e.fixes[0].edits;
    const line = SHOP.split("\n")[edit.range.start.line];
    assert.equal(line.slice(edit.range.start.character, edit.range.end.character), "5 coin");
    assert.equal(edit.newText, "3 coin");
  });

  it("a promise nobody made: declare it", () => {
    write("missing.pg", SHOP.replace("price 5 coin", "price 1 coin").replace("ann invokes pass at shop", "ann invokes pass at ann"));
    const { doc } = explainJson("missing.pg", "--step", "1");
    const [e] = doc.events;
    assert.equal(e.promise, null);
    assert.equal(e.fixes[0].edits[0].newText, "promise ann -> ann +serve(lunch) if holds(pass)\n");
  });
});

describe("explain: bad input", () => {
  it("a step past the end, an unknown agent and a file with errors are JSON errors, exit 1", () => {
    assert.match(explainJson(TRUCKS, "--step", "9").doc.error, /runs to step 4; step 9 is not in it/);
    assert.match(explainJson(TRUCKS, "--step", "1", "--agent", "truck9").doc.error, /no agent is named 'truck9'/);
    write("broken.pg", fs.readFileSync(path.join(ROOT, TRUCKS), "utf8").replace("truck1 revokes", "truck7 revokes"));
    const broken = explainJson("broken.pg", "--step", "1");
    assert.equal(broken.code, 1);
    assert.equal(broken.doc.diagnostics[0].code, "PG200");
    const usage = cli(["explain", TRUCKS]);
    assert.equal(usage.code, 2);
    assert.match(usage.err, /needs --step N/);
  });
});

describe("explain CODE", () => {
  it("prints the catalogue's entry with its wrong and right examples", () => {
    const r = cli(["explain", "PG401"]);
    assert.equal(r.code, 0);
    assert.match(r.out, /^PG401 delegation widens authority\n/);
    assert.match(r.out, /```pg wrong\n[\s\S]*grants write\(files\)[\s\S]*```pg right\n/);
    const doc = jsonOutput("explain-code.schema.json", cli(["explain", "pg301", "--json"]).out);
    assert.equal(doc.severity, "warning");
    assert.equal(doc.title, "unbound promise");
    assert.match(doc.wrong, /promise/);
    assert.match(doc.right, /promise/);
    const none = cli(["explain", "PG999", "--json"]);
    assert.equal(none.code, 1);
    assert.match(jsonOutput("failure.schema.json", none.out).error, /no diagnostic PG999/);
  });
});
