// `promisegrid mcp`, driven by the MCP SDK's own client over stdio against the
// built server (node dist/cli.js mcp): tools, resources, errors, and a
// test-first loop that reaches green from structured output alone.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { CLI, ensureBuiltCli, ROOT } from "./built-cli.ts";
import { assertSchema } from "./schemas.ts";

const TRUCKS = fs.readFileSync(path.join(ROOT, "examples/food-trucks.pg"), "utf8");
const TOOLS = ["check", "fix", "format", "explain", "simulate", "test", "compile", "graph"];
let dir: string;
let stderr = "";
const protocolErrors: Error[] = [];
const write = (name: string, text: string) => { fs.writeFileSync(path.join(dir, name), text); return name; };

async function connect(...args: string[]): Promise<Client> {
  const client = new Client({ name: "promisegrid-test", version: "1.0.0" });
  const transport = new StdioClientTransport({
    command: process.execPath, args: [CLI, "mcp", ...args], cwd: dir, stderr: "pipe",
    env: { ...process.env, PROMISEGRID_NODE_DIR: path.join(dir, "no-node") } as Record<string, string>,
  });
  transport.stderr?.on("data", (d) => { stderr += d; });
  // Anything on stdout that is not the protocol shows up here.
  client.onerror = (e) => { protocolErrors.push(e); };
  await client.connect(transport);
  return client;
}

/** Calls a tool; its structured result, checked against the docs/schemas file the tool promises. */
async function call(client: Client, name: string, args: Record<string, unknown>, schema?: string) {
  const r = await client.callTool({ name, arguments: args });
  const doc = r.structuredContent as any;
  assert.ok(doc, `${name} returned no structured content`);
  assert.deepEqual(JSON.parse((r.content as { text: string }[])[0].text), doc, "the text content is the same document");
  if (r.isError) assertSchema("failure.schema.json", doc);
  else if (schema) assertSchema(schema, doc);
  return { doc, isError: !!r.isError };
}

let client: Client;
before(async () => {
  ensureBuiltCli();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-mcp-"));
  client = await connect();
});
after(async () => {
  await client?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("mcp: tools and resources", () => {
  it("lists the tools, each with an input and an output schema; deploy and revoke only with --allow-deploy", async () => {
    assert.equal(client.getServerVersion()?.name, "promisegrid");
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name), TOOLS);
    for (const t of tools) {
      assert.equal(t.inputSchema.type, "object", t.name);
      assert.equal(t.outputSchema?.type, "object", t.name);
      // Some clients refuse a combinator at the top of an input schema.
      assert.ok(!("anyOf" in t.inputSchema || "oneOf" in t.inputSchema || "allOf" in t.inputSchema), t.name);
    }
    const deployer = await connect("--allow-deploy");
    try {
      assert.deepEqual((await deployer.listTools()).tools.map((t) => t.name), [...TOOLS, "deploy", "revoke"]);
      // No node runs for this data dir: a clear tool error, not a crash.
      write("hello.pg", fs.readFileSync(path.join(ROOT, "examples/hello-wasm.pg"), "utf8"));
      fs.copyFileSync(path.join(ROOT, "examples/hello.wasm"), path.join(dir, "hello.wasm"));
      const d = await call(deployer, "deploy", { path: "hello.pg" });
      assert.equal(d.isError, true);
      assert.match(d.doc.error, /no node is running/);
      const r = await call(deployer, "revoke", { token: "bafyfake" });
      assert.match(r.doc.error, /no node is running/);
    } finally {
      await deployer.close();
    }
  });

  it("with --allow-deploy, deploy and revoke run on a real local node", async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "pg-mcp-home-"));
    const env = { ...process.env, PROMISEGRID_HOME: home, PROMISEGRID_NODE_DIR: path.join(home, "node") } as Record<string, string>;
    const start = spawnSync(process.execPath, [CLI, "node", "start", "--api", "127.0.0.1:0"], { env, encoding: "utf8" });
    assert.equal(start.status, 0, start.stderr);
    const deployer = new Client({ name: "promisegrid-test", version: "1.0.0" });
    try {
      await deployer.connect(new StdioClientTransport({ command: process.execPath, args: [CLI, "mcp", "--allow-deploy"], cwd: ROOT, env, stderr: "pipe" }));
      const d = await call(deployer, "deploy", { path: "examples/hello-wasm.pg" }, "deploy.schema.json");
      assert.equal(d.isError, false, JSON.stringify(d.doc));
      assert.equal(d.doc.output, "hello, grid\n");
      assert.equal(d.doc.assessment.kept, true);
      const r = await call(deployer, "revoke", { token: d.doc.token }, "revoke.schema.json");
      assert.match(r.doc.revocation, /^bafy/);
      assert.equal(r.doc.token, d.doc.token);
      const bad = await call(deployer, "deploy", { path: "examples/nope.pg" });
      assert.equal(bad.isError, true);
      assert.match(bad.doc.error, /no such file/);
    } finally {
      await deployer.close();
      spawnSync(process.execPath, [CLI, "node", "stop"], { env });
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it("serves the language reference and the diagnostics catalogue", async () => {
    const { resources } = await client.listResources();
    const uris = resources.map((r) => r.uri);
    assert.ok(uris.includes("promisegrid://docs/language.md") && uris.includes("promisegrid://docs/diagnostics.md"), uris.join(" "));
    assert.ok(uris.includes("promisegrid://schemas/check.schema.json"));
    for (const name of ["language.md", "diagnostics.md"]) {
      const r = await client.readResource({ uri: `promisegrid://docs/${name}` });
      assert.equal((r.contents[0] as { text: string }).text, fs.readFileSync(path.join(ROOT, "docs", name), "utf8"));
    }
    await assert.rejects(client.readResource({ uri: "promisegrid://docs/../../etc/passwd" }), (e) => e instanceof McpError && /unknown resource/.test(e.message));
  });

  it("malformed calls get MCP errors, and the server stays up", async () => {
    const invalid = (e: unknown) => e instanceof McpError && e.code === -32602;
    await assert.rejects(client.callTool({ name: "nope", arguments: {} }), invalid);
    await assert.rejects(client.callTool({ name: "deploy", arguments: { path: "x.pg" } }), (e) => invalid(e) && /--allow-deploy/.test((e as Error).message));
    await assert.rejects(client.callTool({ name: "check", arguments: { files: "x.pg" } }), (e) => invalid(e) && /files must be array/.test((e as Error).message));
    await assert.rejects(client.callTool({ name: "explain", arguments: { path: "x.pg" } }), (e) => invalid(e) && /give path and step, or code/.test((e as Error).message));
    await assert.rejects(client.callTool({ name: "explain", arguments: { code: "PG401", path: "x.pg", step: 1 } }), invalid);
    await assert.rejects(client.callTool({ name: "check", arguments: { path: "x.pg" } }), (e) => invalid(e) && /give files, or path and text/.test((e as Error).message));
    await assert.rejects(client.callTool({ name: "simulate", arguments: { path: "x.pg", step: -1 } }), invalid);
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name), TOOLS);
  });
});

describe("mcp: each tool on a good and a bad input", () => {
  it("check: files, and the unsaved text of a buffer", async () => {
    write("trucks.pg", TRUCKS);
    const good = await call(client, "check", { files: ["trucks.pg"] }, "check.schema.json");
    assert.equal(good.doc.errors, 0);
    const unsaved = await call(client, "check", { path: "trucks.pg", text: TRUCKS.replace("from truck1 to alice", "from truck1 to alcie") }, "check.schema.json");
    const d = unsaved.doc.files[0].diagnostics.find((x: any) => x.code === "PG200");
    assert.equal(d.fixes[0].edits[0].newText, "alice");
    assert.equal(fs.readFileSync(path.join(dir, "trucks.pg"), "utf8"), TRUCKS, "the file on disk is untouched");
    const missing = await call(client, "check", { files: ["missing.pg"] }, "check.schema.json");
    assert.equal(missing.doc.files[0].diagnostics[0].code, "PG000");
  });

  it("fix: the edits and the text after them; nothing to fix leaves the text", async () => {
    const broken = TRUCKS.replace("from truck1 to alice", "from truck1 to alcie").replace("at truck1 expect kept", "at truk1 expect kept");
    write("typos.pg", broken);
    const r = await call(client, "fix", { path: "typos.pg" }, "fix.schema.json");
    assert.deepEqual(r.doc.applied.map((a: any) => a.title).sort(), ["Change to 'alice'", "Change to 'truck1'"]);
    assert.equal(r.doc.text, TRUCKS);
    assert.deepEqual(r.doc.remaining.filter((x: any) => x.severity === "error"), []);
    assert.equal(fs.readFileSync(path.join(dir, "typos.pg"), "utf8"), broken, "not written without write: true");
    await call(client, "fix", { path: "typos.pg", write: true }, "fix.schema.json");
    assert.equal(fs.readFileSync(path.join(dir, "typos.pg"), "utf8"), TRUCKS);
    const none = await call(client, "fix", { path: "typos.pg" }, "fix.schema.json");
    assert.deepEqual([none.doc.applied, none.doc.changed], [[], false]);
    assert.equal((await call(client, "fix", { path: "gone.pg" })).isError, true);
  });

  it("format: formatted text, or the syntax errors", async () => {
    const r = await call(client, "format", { path: "x.pg", text: "agent   alice\n" }, "fmt.schema.json");
    assert.deepEqual(r.doc, { path: "x.pg", formatted: "agent alice\n", changed: true });
    const bad = await call(client, "format", { path: "x.pg", text: "agnet alice\n" });
    assert.equal(bad.isError, true);
    assert.equal(bad.doc.diagnostics[0].code, "PG101");
  });

  it("explain: a step as truck5 saw it, a code, and a step past the end", async () => {
    write("trucks.pg", TRUCKS);
    const r = await call(client, "explain", { path: "trucks.pg", step: 4, agent: "truck5" }, "explain.schema.json");
    assert.equal(r.doc.events[0].condition.hops[0].revocationHeard.from, "truck1");
    const code = await call(client, "explain", { code: "PG401" }, "explain-code.schema.json");
    assert.match(code.doc.right, /delegate helper/);
    const past = await call(client, "explain", { path: "trucks.pg", step: 40 });
    assert.equal(past.isError, true);
    assert.match(past.doc.error, /step 40 is not in it/);
  });

  it("simulate: the whole trace, one step in one agent's view, and a file that cannot run", async () => {
    write("trucks.pg", TRUCKS);
    const whole = await call(client, "simulate", { path: "trucks.pg" }, "simulation.schema.json");
    assert.equal(whole.doc.traces[0].passed, true);
    assert.equal(whole.doc.steps, undefined);
    const one = await call(client, "simulate", { path: "trucks.pg", step: 2, agent: "truck5" }, "simulation.schema.json");
    assert.deepEqual(Object.keys(one.doc.steps[0].views), ["truck5"]);
    write("broken.pg", TRUCKS.replace("truck1 revokes", "truck9 revokes"));
    const bad = await call(client, "simulate", { path: "broken.pg" });
    assert.equal(bad.isError, true);
    assert.equal(bad.doc.diagnostics[0].code, "PG200");
  });

  it("test, compile and graph", async () => {
    write("trucks.pg", TRUCKS);
    const t = await call(client, "test", { files: ["trucks.pg"] }, "test.schema.json");
    assert.deepEqual([t.doc.passed, t.doc.failed], [1, 0]);
    const tbad = await call(client, "test", { files: ["trucks.pg", "gone.pg"] }, "test.schema.json");
    assert.deepEqual([tbad.doc.passed, tbad.doc.failed], [1, 1]);
    assert.deepEqual(tbad.doc.files.map((f: any) => [f.path, f.ran, f.diagnostics.map((d: any) => d.code)]), [["trucks.pg", true, []], ["gone.pg", false, ["PG000"]]]);
    const c = await call(client, "compile", { path: path.join(ROOT, "examples/hello-wasm.pg") }, "compile.schema.json");
    assert.match(c.doc.root, /^b/);
    const cbad = await call(client, "compile", { path: "trucks.pg", text: "agent a\nagent a\n" });
    assert.equal(cbad.isError, true);
    assert.equal(cbad.doc.diagnostics[0].code, "PG201");
    const g = await call(client, "graph", { path: "trucks.pg", step: 2 }, "graph.schema.json");
    assert.match(g.doc.svg, /^<svg[\s\S]*truck5[\s\S]*<\/svg>/);
    assert.match(g.doc.svg, /data-view="truth"/);
    const as = await call(client, "graph", { path: "trucks.pg", step: 2, as: "truck5" }, "graph.schema.json");
    assert.match(as.doc.svg, /data-view="truck5"/);
    const tl = await call(client, "graph", { path: "trucks.pg", timeline: true }, "graph.schema.json");
    assert.match(tl.doc.svg, /^<svg[^>]*class="spacetime"/);
    const gnobody = await call(client, "graph", { path: "trucks.pg", step: 2, as: "nobody" });
    assert.match(gnobody.doc.error, /names no agent/);
    const gbad = await call(client, "graph", { path: "trucks.pg", step: 99 });
    assert.match(gbad.doc.error, /past its end/);
  });
});

/** Applies LSP TextEdits to a file, as an agent's editor would. */
function applyEdits(file: string, edits: { range: { start: { line: number; character: number }; end: { line: number; character: number } }; newText: string }[]): void {
  let text = fs.readFileSync(file, "utf8");
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") starts.push(i + 1);
  const offset = (p: { line: number; character: number }) => starts[p.line] + p.character;
  for (const e of [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start))) {
    text = text.slice(0, offset(e.range.start)) + e.newText + text.slice(offset(e.range.end));
  }
  fs.writeFileSync(file, text);
}

/**
 * A deterministic agent: run the tests; if the file cannot run, apply the checker's
 * fixes; else explain the first failure's step and apply the edit the explanation
 * offers for that line. Reads structured output only. Returns the transcript.
 */
async function testFirstLoop(file: string, rounds = 5): Promise<string[]> {
  const log: string[] = [];
  for (let round = 1; round <= rounds; round++) {
    const t = (await call(client, "test", { files: [file] }, "test.schema.json")).doc;
    log.push(`test: ${t.passed} passed, ${t.failed} failed`);
    if (t.failed === 0) return log;
    const unrunnable = t.files.find((f: any) => !f.ran);
    if (unrunnable) {
      log.push(`  cannot run: ${unrunnable.diagnostics.map((d: any) => `${d.code} line ${d.range.start.line + 1}`).join(", ")}`);
      const fix = (await call(client, "fix", { path: file, write: true }, "fix.schema.json")).doc;
      assert.ok(fix.applied.length, `no fix offered for ${JSON.stringify(unrunnable.diagnostics)}`);
      for (const a of fix.applied) log.push(`  fix ${a.code}: ${a.title}`);
      continue;
    }
    const scenario = t.scenarios.find((s: any) => !s.passed);
    const f = scenario.failures[0];
    log.push(`  ${f.path}:${f.line}: step ${f.step}, ${f.agent}: expected ${f.expected}, seen ${f.seen}`);
    const x = (await call(client, "explain", { path: file, scenario: scenario.title, step: f.step }, "explain.schema.json")).doc;
    const at = [...x.events, ...x.expectations].find((e: any) => e.line === f.line && e.fixes.length);
    assert.ok(at, `the explanation of step ${f.step} offers no edit for line ${f.line}: ${JSON.stringify(x.events.map((e: any) => e.reason))}`);
    if (at.reason) log.push(`  explain step ${f.step}: ${at.reason}`);
    log.push(`  edit: ${at.fixes[0].title}`);
    applyEdits(path.join(dir, file), at.fixes[0].edits);
  }
  throw new Error(`not green after ${rounds} rounds:\n${log.join("\n")}`);
}

describe("mcp: a test-first loop reaches green from structured output alone", () => {
  it("a widened delegation (and a typo): the checker's fixes", async () => {
    write("widened.pg", `agent vault
agent ann
agent ben
promise vault -> * +read(files) if holds(account)
promise ann -> vault -read(files)
promise ben -> vault -read(files)
capability account from vault to ann { grants read(files) delegable expires after 10 steps }
delegate helper of account by ann to ben { grants read(*) expires after 5 steps }
scenario "ben reads with his delegation" {
  step 1: ben invokes helper at vualt expect kept
}
`);
    const log = await testFirstLoop("widened.pg");
    assert.ok(log.some((l) => /fix PG401: Narrow to 'read\(files\)'/.test(l)), log.join("\n"));
    assert.equal(log.at(-1), "test: 1 passed, 0 failed");
  });

  it("a missing promise: the explanation declares it", async () => {
    write("missing.pg", TRUCKS.replace("promise truck5 -> * +serve(lunch) if holds(lunch_pass) { price 3 taco }\n", "")
      .replace("expect balance alice 4 taco", "expect balance alice 7 taco"));
    const log = await testFirstLoop("missing.pg");
    assert.ok(log.some((l) => /edit: Declare the promise: promise truck5 -> alice \+serve\(lunch\) if holds\(lunch_pass\)/.test(l)), log.join("\n"));
    assert.equal(log.at(-1), "test: 1 passed, 0 failed");
  });

  it("a wrong price: the explanation lowers it", async () => {
    write("price.pg", TRUCKS.replace("balance alice 10 taco", "balance alice 2 taco")
      .replace(/\{ price 3 taco \}/g, "{ price 5 taco }")
      .replace("expect balance alice 4 taco", "expect balance alice 0 taco"));
    const log = await testFirstLoop("price.pg");
    assert.ok(log.some((l) => /edit: Lower the price of truck1_lunch to 2 taco/.test(l)), log.join("\n"));
    assert.equal(log.at(-1), "test: 1 passed, 0 failed");
  });

  it("a missing gossip link: the explanation links the revoker", async () => {
    write("link.pg", TRUCKS.replace("  link truck1 <-> truck5  // who gossips with whom (default: nobody)\n", ""));
    const log = await testFirstLoop("link.pg");
    assert.ok(log.some((l) => /edit: Link truck1 and truck5/.test(l)), log.join("\n"));
    assert.equal(log.at(-1), "test: 1 passed, 0 failed");
    assert.doesNotMatch(stderr, /internal error/);
    // Logs go to stderr, and stdout carries the protocol alone.
    assert.match(stderr, /promisegrid mcp: serving without deploy over stdio/);
    assert.match(stderr, /promisegrid mcp: test: ok/);
    assert.deepEqual(protocolErrors, []);
  });
});
