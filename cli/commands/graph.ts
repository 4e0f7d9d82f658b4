import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { UsageError, type Command } from "../command.ts";
import { DiagnosticPrinter, fileDiagnostic, type JsonFailure } from "../diagnostics.ts";
import { FileError, readSource, requireFiles } from "../files.ts";
import { loadProgram } from "../../language/index.ts";
import { prepareRun, prepareScenarios } from "../../language/simulator/index.ts";
import { renderGraphSvg } from "../../language/simulator/graph.ts";
import { renderTimelineSvg } from "../../language/simulator/spacetime.ts";
import { cliHost } from "../load.ts";
import { displayPath, loadScenarios, runFailure } from "./simulate.ts";

export const graph: Command = {
  name: "graph",
  summary: "draw agents, promises and capabilities as SVG",
  help: `usage: promisegrid graph FILE [-o OUT.svg] [--scenario TITLE] [--step N] [--as AGENT] [--layout narrow|wide]
       promisegrid graph FILE --timeline [-o OUT.svg] [--scenario TITLE] [--step N]

Draws every agent as a box and every promise as an edge from promiser to
promisee (+ solid, - dashed; '*' goes to one "anyone" box), and capabilities as
dotted edges from issuer to holder. Laid out by ELK (elkjs), top to bottom with
wrapped labels (--layout narrow, the default) or left to right (--layout wide).
With --scenario (or --step in a file with one scenario), runs that scenario to
the end of step N (default: its last step) and colours each promise by its
state then: kept, broken, refused or pending; revoked capabilities, cut
delegations and cut gossip links are marked. Without --as that is the truth
(every outcome, whoever knows it); with --as AGENT, the graph as AGENT sees it:
its assessments, the tokens it has heard revoked, its own balances.
--timeline draws the scenario as a space-time diagram instead: agents as
columns, steps as rows, events and gossip deliveries as arrows, who learned
what and when, and the expectations (up to step N with --step).
Writes OUT.svg, or prints the SVG.`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: {
        output: { type: "string", short: "o" }, scenario: { type: "string" }, step: { type: "string" },
        as: { type: "string" }, layout: { type: "string" }, timeline: { type: "boolean" },
      },
    });
    requireFiles(positionals, "FILE");
    if (positionals.length > 1) throw new UsageError("graph takes one FILE");
    let step: number | undefined;
    if (values.step !== undefined) {
      if (!/^\d+$/.test(values.step)) throw new UsageError(`--step must be a whole number of steps, got '${values.step}'`);
      step = Number(values.step);
    }
    const layout = values.layout;
    if (layout !== undefined && layout !== "narrow" && layout !== "wide") throw new UsageError(`--layout must be narrow or wide, got '${layout}'`);
    if (values.timeline && (values.as !== undefined || layout !== undefined)) throw new UsageError("--timeline shows every agent; it takes no --as or --layout");
    const report = await graphReport(path.resolve(io.cwd, positionals[0]), io.cwd, { scenario: values.scenario, step, as: values.as, layout, timeline: values.timeline });
    if ("error" in report) {
      if (report.usage) throw new UsageError(report.error);
      io.err(report.lines.join("\n") + "\n");
      return 1;
    }
    const { svg } = report;
    if (values.output) {
      const out = path.resolve(io.cwd, values.output);
      try {
        fs.writeFileSync(out, svg);
      } catch (e) {
        io.err(`promisegrid graph: cannot write ${values.output}: ${(e as Error).message}\n`);
        return 1;
      }
      io.err(`wrote ${values.output}\n`);
    } else {
      io.out(svg);
    }
    return 0;
  },
};

export interface GraphOptions {
  scenario?: string;
  /** The end of which step (default: the scenario's last). */
  step?: number;
  as?: string;
  layout?: "narrow" | "wide";
  timeline?: boolean;
}

/** Why no graph was drawn: the JSON failure, the lines a terminal shows, and whether the request itself was wrong. */
export type GraphFailure = JsonFailure & { lines: string[]; usage?: boolean };

/**
 * The SVG for FILE, as `graph` and the MCP graph tool draw it: without a
 * scenario, step, agent or timeline, the declarations alone (only syntax errors
 * stop it); otherwise the scenario run to the end of the step, as the truth or
 * as one agent sees it, or its timeline.
 */
export async function graphReport(file: string, cwd: string, o: GraphOptions = {}): Promise<{ svg: string; title: string } | GraphFailure> {
  const fail = (error: string, extra: Partial<GraphFailure> = {}): GraphFailure => ({ error, diagnostics: [], lines: [`promisegrid graph: ${error}`], ...extra });
  try {
    if (o.scenario === undefined && o.step === undefined && o.as === undefined && !o.timeline) {
      readSource(file);
      const program = loadProgram([file], cliHost);
      const printer = new DiagnosticPrinter(cwd);
      const errors = [...program.files].flatMap(([p, source]) => source.errors.map((e) => ({ ...e, path: p, severity: "error" as const })));
      if (errors.length) {
        return { error: `${displayPath(file, cwd)} has syntax errors`, diagnostics: errors.map((d) => printer.json(program, d)), lines: errors.map((d) => printer.human(program, d)) };
      }
      const { world } = prepareScenarios(program, () => false);
      const title = displayPath(file, cwd);
      return { svg: await renderGraphSvg({ world, title, layout: o.layout }), title };
    }
    const loaded = loadScenarios(file, cwd, o.scenario);
    const failure = runFailure(loaded);
    if (failure) return failure;
    if (loaded.results.length > 1) {
      return fail(`${loaded.display} has ${loaded.results.length} scenarios; pick one with --scenario TITLE`, { usage: true });
    }
    const { world, scenarios } = prepareRun(loaded.program, { only: (t, p) => t === loaded.results[0].title && p === loaded.file });
    const run = scenarios[0].run!;
    const last = run.plan.lastStep;
    const target = o.step ?? last;
    if (target > last) return fail(`scenario "${run.plan.title}" runs to step ${last}; step ${target} is past its end`);
    if (o.as !== undefined && !world.agentIndex.has(o.as)) {
      return fail(`--as names no agent of ${loaded.display}: '${o.as}'; the agents are ${world.agents.map((a) => a.name).join(", ")}`, { usage: true });
    }
    while (run.step < target) run.next();
    if (o.timeline) {
      const title = `${loaded.display}: "${run.plan.title}", steps 1 to ${target}`;
      return { svg: renderTimelineSvg({ world, plan: run.plan, trace: run.trace(), title }), title };
    }
    const title = `${loaded.display}: "${run.plan.title}" at step ${target}`;
    return { svg: await renderGraphSvg({ world, engine: run.engine, title, as: o.as, layout: o.layout }), title };
  } catch (e) {
    if (e instanceof FileError) return fail(e.message, { diagnostics: [fileDiagnostic(file, e.message)] });
    throw e;
  }
}
