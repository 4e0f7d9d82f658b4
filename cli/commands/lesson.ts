// `promisegrid lesson FILE`: a scenario as a self-contained HTML slide deck.
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { UsageError, type Command } from "../command.ts";
import { FileError, requireFiles } from "../files.ts";
import { prepareScenarios } from "../../language/simulator/index.ts";
import { renderLesson } from "../../language/simulator/lesson.ts";
import { loadScenarios, printProblems } from "./simulate.ts";

export const lesson: Command = {
  name: "lesson",
  summary: "make a scenario into a lesson: one HTML slide deck, a slide per step",
  help: `usage: promisegrid lesson FILE [--scenario TITLE] [-o OUT.html]

Runs the scenario (the file's only one, or the one titled TITLE) and writes one
self-contained HTML file (no network): a slide per step, from the start to the
last step, each with a one-line summary ("truck5 still serves alice: it has not
heard ..."), the step's events and their outcomes, the promise graph as each
agent sees it, the space-time diagram so far and the expectations checked.
Open it in a browser: the arrow keys (or Page Up / Page Down, Home, End) move;
printed, it gives one slide per page. Writes OUT.html, or prints the HTML.`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: { output: { type: "string", short: "o" }, scenario: { type: "string" } },
    });
    requireFiles(positionals, "FILE");
    if (positionals.length > 1) throw new UsageError("lesson takes one FILE");
    const file = path.resolve(io.cwd, positionals[0]);
    let html: string;
    try {
      const loaded = loadScenarios(file, io.cwd, values.scenario);
      if (printProblems(loaded, io)) return 1;
      if (loaded.results.length > 1) {
        throw new UsageError(`${loaded.display} has ${loaded.results.length} scenarios; pick one with --scenario TITLE`);
      }
      const { world, scenarios } = prepareScenarios(loaded.program, (t, p) => t === loaded.results[0].title && p === file);
      html = await renderLesson({ world, run: scenarios[0].run!, source: loaded.display });
    } catch (e) {
      if (e instanceof FileError || e instanceof RangeError) { io.err(`promisegrid lesson: ${e.message}\n`); return 1; }
      throw e;
    }
    if (values.output === undefined) { io.out(html); return 0; }
    try {
      fs.writeFileSync(path.resolve(io.cwd, values.output), html);
    } catch (e) {
      io.err(`promisegrid lesson: cannot write ${values.output}: ${(e as Error).message}\n`);
      return 1;
    }
    io.err(`wrote ${values.output}\n`);
    return 0;
  },
};
