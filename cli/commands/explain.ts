// `promisegrid explain`: why a step came out as it did, or what a diagnostic code means.
import * as path from "node:path";
import { UsageError, type Command } from "../command.ts";
import { DiagnosticPrinter, fileDiagnostic, type JsonFailure, type JsonTextEdit } from "../diagnostics.ts";
import { diagnosticEntry, type DiagnosticEntry } from "../docs.ts";
import { FileError } from "../files.ts";
import {
  explainStep, ExplainError, type ConditionNode, type ExplainedEvent, type Explanation, type HeardNotice, type SpanFix, type UnheardNotice,
} from "../../language/simulator/explain.ts";
import { loadScenarios, runFailure, stepArgs } from "./simulate.ts";

/** An explanation with display paths and fixes as LSP TextEdits (docs/schemas/explain.schema.json). */
export type JsonFix = { title: string; edits: JsonTextEdit[] };
export type JsonExplanation = Omit<Explanation, "events" | "expectations"> & {
  events: (Omit<ExplainedEvent, "fixes"> & { fixes: JsonFix[] })[];
  expectations: (Omit<Explanation["expectations"][number], "fixes"> & { fixes: JsonFix[] })[];
};

/** Explains step `step` of a scenario of FILE, or returns why it cannot. */
export function explainReport(file: string, cwd: string, options: { scenario?: string; step: number; agent?: string }): JsonExplanation | JsonFailure {
  let loaded;
  try {
    loaded = loadScenarios(file, cwd, options.scenario);
  } catch (e) {
    if (e instanceof FileError) return { error: e.message, diagnostics: [fileDiagnostic(file, e.message)] };
    throw e;
  }
  const failure = runFailure(loaded);
  if (failure) return { error: failure.error, diagnostics: failure.diagnostics };
  let x: Explanation;
  try {
    x = explainStep(loaded.program, loaded.file, options.scenario, options.step, options.agent);
  } catch (e) {
    if (e instanceof ExplainError) return { error: e.message, diagnostics: [] };
    throw e;
  }
  const printer = new DiagnosticPrinter(cwd);
  const fixes = (list: SpanFix[]): JsonFix[] => list.map((f) => ({
    title: f.title,
    edits: f.edits.map((e) => ({ path: printer.display(e.path), range: printer.range(loaded.program, e.path, e.span), newText: e.newText })),
  }));
  return {
    ...x, path: loaded.display,
    events: x.events.map((e) => ({ ...e, promise: e.promise && { ...e.promise, path: printer.display(e.promise.path) }, fixes: fixes(e.fixes) })),
    expectations: x.expectations.map((e) => ({ ...e, fixes: fixes(e.fixes) })),
  };
}

function noticeText(n: HeardNotice | UnheardNotice): string {
  return n.kind === "revoked" ? `#${n.id} revoked(${n.about}) at step ${n.step}` : `#${n.id} ${n.about} ${n.kind} at step ${n.step}`;
}

function heardText(n: HeardNotice): string {
  return `${noticeText(n)}, heard at step ${n.heardAt} ${n.how === "gossip" ? `from ${n.from} by gossip` : "as a witness"}`;
}

function conditionLines(c: ConditionNode, viewer: string, indent: string, label = ""): string[] {
  const out = [`${indent}${label}${c.text}: ${c.holds ? "holds" : "fails"}${c.holds || !c.why.length ? "" : `: ${c.why.join("; ")}`}`];
  if (c.assessment) out[0] += ` (${viewer} sees it ${c.assessment})`;
  if (c.kind === "holds" && c.hops && !c.hops.length) out.push(`${indent}  the requester bears no token for it`);
  for (const h of c.hops ?? []) {
    let line = `${indent}  token ${h.token} (${h.kind}, ${h.issuer} -> ${h.holder}, grants ${h.grants.join(", ")}${h.validUntil === null ? "" : `, valid to step ${h.validUntil}`}): `;
    line += h.ok ? "ok" : `fails: ${h.problem}`;
    if (h.revokedAt !== null) {
      line += h.revocationHeard
        ? `; revoked at step ${h.revokedAt}, and ${viewer} had heard it at step ${h.revocationHeard.heardAt} ${h.revocationHeard.how === "gossip" ? `from ${h.revocationHeard.from}` : "as a witness"}`
        : `; revoked at step ${h.revokedAt}, but ${viewer} had not heard of it yet`;
    }
    out.push(line);
  }
  for (const child of c.children) out.push(...conditionLines(child, viewer, indent + "  "));
  return out;
}

export function renderExplanation(x: JsonExplanation): string {
  const out = [`scenario "${x.scenario}" (${x.path}), step ${x.step} of ${x.lastStep}${x.agent ? `, as ${x.agent} saw it` : ""}`];
  if (!x.events.length) out.push(`  no event${x.agent ? ` involving ${x.agent}` : ""} at this step`);
  for (const e of x.events) {
    out.push("", `line ${e.line}: ${e.text}`);
    if (e.promise) {
      out.push(`  promise exercised: ${e.promise.label} (${e.promise.path}:${e.promise.line})${e.promise.condition ? ` if ${e.promise.condition}` : ""}${e.promise.price ? `, price ${e.promise.price}` : ""}`);
    }
    if (e.viewer) {
      out.push(`  as ${e.viewer} saw it then:`);
      out.push(e.heard.length ? `    had heard ${e.heard.map(heardText).join("; ")}` : "    had heard nothing");
      if (e.unheard.length) out.push(`    had not heard ${e.unheard.map((n) => `${noticeText(n)} (known to ${n.witnesses.join(", ")})`).join("; ")}`);
    }
    if (e.condition) out.push(...conditionLines(e.condition, e.viewer ?? "?", "  ", "condition "));
    if (e.price) {
      const reached = !e.condition || e.condition.holds;
      out.push(`  price ${e.price.price}: ${e.agent} has ${e.price.balance}: ${e.price.enough ? "enough" : "not enough"}${reached ? "" : " (not reached: the condition failed)"}`);
    }
    out.push(`  outcome: ${e.outcome}: ${e.reason}` + (e.expected === undefined ? "" : e.passed ? ` (expected ${e.expected}: ok)` : ` (expected ${e.expected}: FAIL)`));
    for (const f of e.fixes) out.push(`  fix: ${f.title}`);
  }
  for (const x2 of x.expectations.filter((x2) => !x.events.some((e) => e.expected !== undefined && e.line === x2.line))) {
    out.push("", `line ${x2.line}: ${x2.text}: ${x2.passed ? "ok" : "FAIL"}: ${x2.saw}`);
    for (const f of x2.fixes) out.push(`  fix: ${f.title}`);
  }
  for (const k of x.knowledge) {
    out.push("", `by the end of step ${x.step}, ${k.agent} had heard ${k.heard.length ? k.heard.map(heardText).join("; ") : "nothing"}`);
    if (k.unheard.length) out.push(`  and not ${k.unheard.map(noticeText).join("; ")}`);
  }
  return out.join("\n") + "\n";
}

export function renderEntry(e: DiagnosticEntry): string {
  return e.text.replace(/^## /, "");
}

export const explain: Command = {
  name: "explain",
  summary: "explain a scenario step (who knew what, which check failed) or a diagnostic code",
  help: `usage: promisegrid explain FILE --step N [--scenario TITLE] [--agent A] [--json]
       promisegrid explain CODE [--json]

For each event of step N: the promise exercised, its condition as the promiser
saw it (the notices it had heard and from whom, each token hop it checked and
why one failed), the price, the outcome, and an edit that would change it when
an obvious one exists; then what each agent had heard by the end of the step.
--agent A keeps the events A took part in and A's knowledge. --scenario is
needed when FILE has several scenarios.
With CODE (e.g. PG401), prints the diagnostic's entry from the catalogue
(docs/diagnostics.md) with its wrong and right examples.
--json prints docs/schemas/explain.schema.json (or explain-code.schema.json), or
{"error","diagnostics"} when the step cannot be explained (exit 1).`,
  async run(argv, io) {
    const values = stepArgs(argv, "explain", "FILE or CODE");
    const print = (doc: unknown) => io.out(JSON.stringify(doc, null, 2) + "\n");
    const target = values.target;
    if (/^pg\d+$/i.test(target)) {
      const entry = diagnosticEntry(target);
      if (!entry) {
        const message = `no diagnostic ${target.toUpperCase()} in the catalogue (docs/diagnostics.md)`;
        if (values.json) print({ error: message, diagnostics: [] });
        else io.err(`promisegrid explain: ${message}\n`);
        return 1;
      }
      if (values.json) print(entry); else io.out(renderEntry(entry));
      return 0;
    }
    if (values.step === undefined) throw new UsageError("explain FILE needs --step N");
    const report = explainReport(path.normalize(target), io.cwd, { scenario: values.scenario, step: values.step, agent: values.agent });
    if ("error" in report) {
      if (values.json) { print(report); return 1; }
      for (const d of report.diagnostics) io.err(`${d.path}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.severity} ${d.code} ${d.message}\n`);
      io.err(`promisegrid explain: ${report.error}\n`);
      return 1;
    }
    if (values.json) print(report); else io.out(renderExplanation(report));
    return 0;
  },
};
