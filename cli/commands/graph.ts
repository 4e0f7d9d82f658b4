import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { UsageError, type Command } from "../command.ts";
import { FileError, readSource, requireFiles } from "../files.ts";
import { LineIndex } from "../../grammar/index.ts";
import { loadProgram } from "../../language/index.ts";
import { prepareScenarios } from "../../language/simulator/index.ts";
import { renderGraphSvg } from "../../language/simulator/graph.ts";
import { renderTimelineSvg } from "../../language/simulator/spacetime.ts";
import { cliHost } from "../load.ts";
import { displayPath, loadScenarios, printProblems } from "./simulate.ts";

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
    const file = path.resolve(io.cwd, positionals[0]);
    let svg: string;
    try {
      if (values.scenario === undefined && step === undefined && values.as === undefined && !values.timeline) {
        readSource(file);
        const program = loadProgram([file], cliHost);
        const errors = [...program.files].flatMap(([p, source]) => source.errors.map((e) => {
          const at = new LineIndex(source.text).position(e.span.start);
          return `${displayPath(p, io.cwd)}:${at.line + 1}:${at.character + 1}: error ${e.code} ${e.message}`;
        }));
        if (errors.length) { io.err(errors.join("\n") + "\n"); return 1; }
        const { world } = prepareScenarios(program, () => false);
        svg = await renderGraphSvg({ world, title: displayPath(file, io.cwd), layout });
      } else {
        const loaded = loadScenarios(file, io.cwd, values.scenario);
        if (printProblems(loaded, io)) return 1;
        if (loaded.results.length > 1) {
          throw new UsageError(`${loaded.display} has ${loaded.results.length} scenarios; pick one with --scenario TITLE`);
        }
        const { world, scenarios } = prepareScenarios(loaded.program, (t, p) => t === loaded.results[0].title && p === file);
        const run = scenarios[0].run!;
        const last = run.plan.lastStep;
        const target = step ?? last;
        if (target > last) {
          io.err(`promisegrid graph: scenario "${run.plan.title}" runs to step ${last}; --step ${target} is past its end\n`);
          return 1;
        }
        if (values.as !== undefined && !world.agentIndex.has(values.as)) {
          throw new UsageError(`--as names no agent of ${loaded.display}: '${values.as}'; the agents are ${world.agents.map((a) => a.name).join(", ")}`);
        }
        while (run.step < target) run.next();
        const title = `${loaded.display}: "${run.plan.title}" at step ${target}`;
        svg = values.timeline
          ? renderTimelineSvg({ world, plan: run.plan, trace: run.trace(), title: `${loaded.display}: "${run.plan.title}", steps 1 to ${target}` })
          : await renderGraphSvg({ world, engine: run.engine, title, as: values.as, layout });
      }
    } catch (e) {
      if (e instanceof FileError) { io.err(`promisegrid graph: ${e.message}\n`); return 1; }
      throw e;
    }
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
