// The MCP server's tools: each one the CLI's own --json document, with an input
// schema here and its output schema from docs/schemas/.
import * as path from "node:path";
import { LineIndex } from "../../grammar/index.ts";
import type { Io } from "../command.ts";
import { checkReport } from "../commands/check.ts";
import { compileReport } from "../commands/compile.ts";
import { deployAndFollow, nodeClient } from "../commands/deploy.ts";
import { explainReport } from "../commands/explain.ts";
import { graphReport } from "../commands/graph.ts";
import { formatReport } from "../commands/fmt.ts";
import { simulateReport } from "../commands/simulate.ts";
import { testReport } from "../commands/test.ts";
import { fileDiagnostic, type JsonFailure, type JsonTextEdit } from "../diagnostics.ts";
import { diagnosticEntry, standaloneSchema } from "../docs.ts";
import { FileError, readSource, writeAtomic } from "../files.ts";
import { DeployFailure, nodeDataDir } from "../../grid/deploy.ts";
import { ApiError } from "../../grid/api-client.ts";

export interface ToolContext { cwd: string }
/** A tool's result: its document, and whether it is a failure ({error, diagnostics}). */
export interface ToolResult { doc: Record<string, unknown>; failed: boolean }
export interface Tool {
  name: string;
  title: string;
  description: string;
  inputSchema: Record<string, unknown>;
  outputSchema: Record<string, unknown>;
  /** Runs code on a node: offered only with --allow-deploy. */
  deploys?: boolean;
  /**
   * Which arguments go together, when the schema cannot say it at its top level
   * (some clients refuse anyOf/oneOf there): a message when the call is malformed.
   */
  malformed?(args: Record<string, unknown>): string | undefined;
  call(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult>;
}

const str = (description: string) => ({ type: "string", minLength: 1, description });
const step = { type: "integer", minimum: 0, description: "The step number (0: after setup)." };
const input = (properties: Record<string, unknown>, required: string[] = []) =>
  ({ type: "object", properties, required, additionalProperties: false });

function result(doc: object): ToolResult {
  return { doc: doc as Record<string, unknown>, failed: "error" in doc && "diagnostics" in doc };
}

/** Unsaved text for a path, when the call gives `text`. */
function buffers(ctx: ToolContext, file: string, text: unknown): Map<string, string> {
  return typeof text === "string" ? new Map([[path.resolve(ctx.cwd, file), text]]) : new Map();
}

/** The file's text: the unsaved `text` if given, else what is on disk. */
function sourceOf(ctx: ToolContext, file: string, text: unknown): string | JsonFailure {
  if (typeof text === "string") return text;
  try {
    return readSource(path.resolve(ctx.cwd, file));
  } catch (e) {
    if (e instanceof FileError) return { error: e.message, diagnostics: [fileDiagnostic(file, e.message)] };
    throw e;
  }
}

/** Applies edits to one text, last first; edits that overlap an earlier one are left out. */
export function applyEdits(text: string, edits: JsonTextEdit[]): { text: string; applied: JsonTextEdit[] } {
  const lines = new LineIndex(text);
  const spans = edits.map((e) => ({ e, start: lines.offset(e.range.start), end: lines.offset(e.range.end) }))
    .sort((a, b) => a.start - b.start || a.end - b.end);
  const kept: typeof spans = [];
  for (const s of spans) if (!kept.length || s.start >= kept[kept.length - 1].end) kept.push(s);
  let out = text;
  for (const s of [...kept].reverse()) out = out.slice(0, s.start) + s.e.newText + out.slice(s.end);
  return { text: out, applied: kept.map((s) => s.e) };
}

/** The checker's first fix of each error of FILE (or of each diagnostic with a code asked for), applied. */
function fixReport(ctx: ToolContext, file: string, text: unknown, codes: string[] | undefined, write: boolean): ToolResult {
  const source = sourceOf(ctx, file, text);
  if (typeof source !== "string") return result(source);
  const display = checkReport([file], ctx.cwd, buffers(ctx, file, source));
  const own = display.files[0];
  // By default only errors: a warning's fix (e.g. adding a counterpart promise) is a design choice.
  const chosen = own.diagnostics.filter((d) => d.fixes.length && (codes ? codes.includes(d.code) : d.severity === "error"));
  const edits = chosen.flatMap((d) => d.fixes[0].edits.filter((e) => e.path === own.path));
  const after = applyEdits(source, edits);
  const applied = chosen.map((d) => ({ code: d.code, title: d.fixes[0].title, edits: d.fixes[0].edits.filter((e) => after.applied.includes(e)) }))
    .filter((a) => a.edits.length);
  if (write && after.text !== source) {
    try {
      writeAtomic(path.resolve(ctx.cwd, file), after.text);
    } catch (e) {
      if (e instanceof FileError) return result({ error: e.message, diagnostics: [fileDiagnostic(file, e.message)] });
      throw e;
    }
  }
  const remaining = checkReport([file], ctx.cwd, buffers(ctx, file, after.text)).files[0].diagnostics;
  return result({ path: own.path, applied, text: after.text, changed: after.text !== source, remaining });
}

/** An Io that keeps what a CLI function prints. */
function captureIo(cwd: string): Io & { outText: () => string; errText: () => string } {
  let out = "", err = "";
  return { cwd, out: (t) => { out += t; }, err: (t) => { err += t; }, outText: () => out, errText: () => err };
}

export const TOOLS: Tool[] = [
  {
    name: "check",
    title: "Check .pg files",
    description: "Checks .pg files (with what they import), or the unsaved text of one file, and returns every diagnostic with its LSP range, related locations and quick fixes as TextEdits.",
    inputSchema: input({
      files: { type: "array", items: { type: "string", minLength: 1 }, minItems: 1, description: "Paths of .pg files, relative to the server's working directory." },
      path: str("With text: the path the unsaved text belongs to (its imports resolve from there)."),
      text: { type: "string", description: "Unsaved text of `path`, checked instead of the file on disk." },
    }),
    outputSchema: standaloneSchema("check.schema.json"),
    malformed: (a) => (a.files === undefined && (a.path === undefined || a.text === undefined) ? "give files, or path and text" : undefined),
    async call(a, ctx) {
      if (typeof a.text === "string") {
        const file = String(a.path);
        return result(checkReport([file, ...((a.files as string[] | undefined) ?? [])], ctx.cwd, buffers(ctx, file, a.text)));
      }
      return result(checkReport(a.files as string[], ctx.cwd));
    },
  },
  {
    name: "fix",
    title: "Apply the checker's quick fixes",
    description: "Applies the first quick fix of each error of one file (or of each diagnostic with one of the given codes) and returns the edits, the text after them and the diagnostics that remain. Writes the file only with write: true.",
    inputSchema: input({
      path: str("The .pg file."),
      text: { type: "string", description: "Unsaved text of the file, used instead of what is on disk." },
      codes: { type: "array", items: { type: "string", pattern: "^PG[0-9]{3}$" }, description: "Only fix diagnostics with these codes." },
      write: { type: "boolean", description: "Write the fixed text to the file (atomically)." },
    }, ["path"]),
    outputSchema: standaloneSchema("fix.schema.json"),
    async call(a, ctx) {
      return fixReport(ctx, String(a.path), a.text, a.codes as string[] | undefined, a.write === true);
    },
  },
  {
    name: "format",
    title: "Format a .pg file",
    description: "Returns the file (or the unsaved text) formatted, and whether formatting changed it; a text with syntax errors is returned with its diagnostics instead. Writes the file only with write: true.",
    inputSchema: input({
      path: str("The .pg file."),
      text: { type: "string", description: "Unsaved text of the file, formatted instead of what is on disk." },
      write: { type: "boolean", description: "Write the formatted text to the file (atomically)." },
    }, ["path"]),
    outputSchema: standaloneSchema("fmt.schema.json"),
    async call(a, ctx) {
      const file = String(a.path);
      const source = sourceOf(ctx, file, a.text);
      if (typeof source !== "string") return result(source);
      const report = formatReport(file, source);
      if (!("error" in report) && a.write === true && report.changed) writeAtomic(path.resolve(ctx.cwd, file), report.formatted);
      return result(report);
    },
  },
  {
    name: "explain",
    title: "Explain a scenario step or a diagnostic code",
    description: "With path and step: for each event of the step, the promise exercised, its condition as the promiser saw it (notices heard and from whom, each token hop checked, which failed and why), the price, the outcome, and edits that would change it. With code (e.g. PG401): the diagnostic's catalogue entry with wrong and right examples.",
    inputSchema: input({
      path: str("The .pg file."),
      step,
      scenario: str("The scenario's title (needed when the file has several)."),
      agent: str("Only the events this agent took part in, and its knowledge."),
      code: { type: "string", pattern: "^[Pp][Gg][0-9]{3}$", description: "A diagnostic code, e.g. PG401." },
    }),
    outputSchema: standaloneSchema("explain.schema.json", "explain-code.schema.json", "failure.schema.json"),
    malformed: (a) => (a.code !== undefined
      ? (a.path !== undefined || a.step !== undefined ? "give code, or path and step, not both" : undefined)
      : (a.path === undefined || a.step === undefined ? "give path and step, or code" : undefined)),
    async call(a, ctx) {
      if (typeof a.code === "string") {
        const entry = diagnosticEntry(a.code);
        return result(entry ?? { error: `no diagnostic ${a.code.toUpperCase()} in the catalogue`, diagnostics: [] });
      }
      return result(explainReport(String(a.path), ctx.cwd, { step: a.step as number, scenario: a.scenario as string | undefined, agent: a.agent as string | undefined }));
    },
  },
  {
    name: "simulate",
    title: "Simulate a file's scenarios",
    description: "Runs the scenarios of a .pg file and returns each trace (docs/trace.md); with step, also that step's events, gossip and expectations and each agent's whole view after it (with agent, that agent's only).",
    inputSchema: input({ path: str("The .pg file."), scenario: str("Only the scenario with this title."), step, agent: str("With step: only this agent's view.") }, ["path"]),
    outputSchema: standaloneSchema("simulation.schema.json"),
    async call(a, ctx) {
      if (a.agent !== undefined && a.step === undefined) return result({ error: "agent needs step", diagnostics: [] });
      const report = simulateReport(String(a.path), ctx.cwd, { scenario: a.scenario as string | undefined, step: a.step as number | undefined, agent: a.agent as string | undefined });
      if ("error" in report) return result({ error: report.error, diagnostics: report.diagnostics });
      return result(report.steps ? { traces: report.traces, steps: report.steps } : { traces: report.traces });
    },
  },
  {
    name: "test",
    title: "Run scenarios as tests",
    description: "Runs every scenario of the files as a test. A file that cannot run is reported with its diagnostics; each failed expectation with its path, line, range, step, agent, what was expected and what was seen.",
    inputSchema: input({ files: { type: "array", items: { type: "string", minLength: 1 }, minItems: 1, description: "Paths of .pg files." } }, ["files"]),
    outputSchema: standaloneSchema("test.schema.json"),
    async call(a, ctx) {
      return result(testReport(a.files as string[], ctx.cwd));
    },
  },
  {
    name: "compile",
    title: "Compile to a content-addressed manifest",
    description: "Checks and compiles a .pg file; returns the manifest's root CID, hash, block count and size. With out, also writes the CAR file. Nothing is written if the file has errors.",
    inputSchema: input({ path: str("The .pg file."), hash: str("Hash function, overriding grid { hash }."), out: str("Write the manifest as a CAR file here."), text: { type: "string", description: "Unsaved text of the file." } }, ["path"]),
    outputSchema: standaloneSchema("compile.schema.json"),
    async call(a, ctx) {
      const report = await compileReport(String(a.path), ctx.cwd, { hash: a.hash as string | undefined, out: a.out as string | undefined, text: a.text as string | undefined });
      return result("error" in report ? { error: report.error, diagnostics: report.diagnostics } : report);
    },
  },
  {
    name: "graph",
    title: "Draw agents and promises as SVG",
    description: "Draws agents, promises and capabilities as an SVG; with scenario or step, colours each promise by its state in its promiser's view at that step.",
    inputSchema: input({
      path: str("The .pg file."), scenario: str("The scenario to run."), step,
      as: str("Draw the graph as this agent sees it (its assessments, the tokens it knows revoked, its balances); without it, the truth."),
      layout: { enum: ["narrow", "wide"], description: "Top to bottom with wrapped labels (narrow, the default) or left to right." },
      timeline: { type: "boolean", description: "Draw the scenario as a space-time diagram instead: agents as columns, steps as rows, gossip as arrows." },
    }, ["path"]),
    outputSchema: standaloneSchema("graph.schema.json"),
    async call(a, ctx) {
      const r = await graphReport(path.resolve(ctx.cwd, String(a.path)), ctx.cwd, {
        scenario: a.scenario as string | undefined, step: a.step as number | undefined, as: a.as as string | undefined,
        layout: a.layout as "narrow" | "wide" | undefined, timeline: a.timeline === true,
      });
      return "error" in r ? result({ error: r.error, diagnostics: r.diagnostics }) : result(r);
    },
  },
  {
    name: "deploy",
    title: "Deploy to the local grid node",
    description: "Compiles a .pg file (or reads a CAR), deploys its workload to the local node (or node), waits for it and returns the deployment record with its output and assessment. Runs code.",
    deploys: true,
    inputSchema: input({ path: str("The .pg file or manifest CAR."), workload: str("Which workload, when the manifest has several."), node: str("The node's control API URL (default: the local node).") }, ["path"]),
    outputSchema: standaloneSchema("deploy.schema.json"),
    async call(a, ctx) {
      // The CLI's own deploy flow with --json, its document captured.
      const io = captureIo(ctx.cwd);
      const dataDir = nodeDataDir();
      const client = await nodeClient(a.node as string | undefined, undefined, dataDir);
      const connect = async () => {
        if (!client) throw new DeployFailure("node", `no node is running for ${dataDir}; start one with \`promisegrid node start\``);
        return client;
      };
      await deployAndFollow(path.resolve(ctx.cwd, String(a.path)), connect, { json: true, workload: a.workload as string | undefined }, io, "deploy");
      const doc = JSON.parse(io.outText()) as Record<string, unknown>;
      return result(doc);
    },
  },
  {
    name: "revoke",
    title: "Revoke a capability token on the local grid node",
    description: "The node signs a revocation of the token (its CID, as deploy returns it) and gossips it; every node then refuses deploys whose chain holds it.",
    deploys: true,
    inputSchema: input({ token: str("The token's CID."), node: str("The node's control API URL (default: the local node).") }, ["token"]),
    outputSchema: standaloneSchema("revoke.schema.json"),
    async call(a) {
      const dataDir = nodeDataDir();
      const client = await nodeClient(a.node as string | undefined, undefined, dataDir);
      if (!client) return result({ error: `no node is running for ${dataDir}; start one with \`promisegrid node start\``, diagnostics: [] });
      try {
        return result({ token: String(a.token), revocation: await client.revoke(String(a.token)) });
      } catch (e) {
        if (e instanceof ApiError) return result({ error: e.message, diagnostics: [] });
        throw e;
      }
    },
  },
];
