// When each agent learns of each revocation in a scenario, as the simulator runs it: the data behind the
// editor's "learns: ..." hints.
import { LineIndex } from "../../grammar/index.ts";
import type { ScenarioDecl } from "../../grammar/ast.ts";
import type { Program } from "../program.ts";
import { prepareRun } from "./index.ts";

export interface RevocationTimeline {
  /** The `revokes` step (its span in the file). */
  span: { start: number; end: number };
  /** Every agent of the world in order, with the step at which it first heard of the revocation (undefined: never). */
  learned: { agent: string; step?: number }[];
}

/** The revocation timelines of the scenarios in `path` that `wanted` keeps (runs them to the end). */
export function revocationTimelines(sources: Program, path: string, wanted: (decl: ScenarioDecl) => boolean): RevocationTimeline[] {
  const out: RevocationTimeline[] = [];
  // The same gate as every run: a program with errors shows no timelines.
  const { scenarios } = prepareRun(sources, { only: (_title, p) => p === path });
  for (const s of scenarios) {
    if (!s.run || !wanted(s.decl)) continue;
    const revokes = s.decl.items.filter((i) => i.kind === "step" && i.event?.kind === "revoke");
    if (!revokes.length) continue;
    const trace = s.run.finish();
    const lines = new LineIndex(sources.files.get(path)!.text);
    for (const item of revokes) {
      const line = lines.position(item.span.start).line + 1;
      const event = trace.timeline.flatMap((t) => t.events).find((e) => e.kind === "revoke" && e.line === line);
      const notice = event?.notices.find((id) => trace.notices[id]?.kind === "revoked");
      if (notice === undefined) continue;
      const learned = new Map<string, number>();
      for (const step of trace.timeline) {
        for (const [agent, ids] of Object.entries(step.learned)) if (ids.includes(notice) && !learned.has(agent)) learned.set(agent, step.step);
      }
      out.push({ span: item.span, learned: trace.agents.map((a) => ({ agent: a.name, step: learned.get(a.name) })) });
    }
  }
  return out;
}
