// A readable, plain-text rendering of a trace, for terminals and classrooms.
import type { Trace, TraceNotice } from "./run.ts";

function noticeText(n: TraceNotice): string {
  return n.kind === "revoked" ? `revoked(${n.capability})` : `${n.promise} ${n.kind}`;
}

function pad(s: string, n: number): string { return s.length >= n ? s : s + " ".repeat(n - s.length); }

export function renderTrace(t: Trace): string {
  const out: string[] = [];
  out.push(`scenario "${t.scenario}"  (${t.path}:${t.line})`);
  out.push(`agents: ${t.agents.map((a) => a.name).join(", ")}`);
  out.push(`links: ${t.links.length ? t.links.map(([a, b]) => `${a} <-> ${b}`).join(", ") : "none"}; gossip every ${t.gossipEvery} step${t.gossipEvery === 1 ? "" : "s"}`);
  const start = Object.entries(t.initial).filter(([, v]) => Object.keys(v.balances).length)
    .map(([a, v]) => `${a} ${Object.entries(v.balances).map(([c, n]) => `${n} ${c}`).join(", ")}`);
  if (start.length) out.push(`balances at start: ${start.join("; ")}`);
  out.push("");
  const width = Math.max(20, ...t.timeline.flatMap((s) => s.events.map((e) => e.text.length)));
  out.push(`${pad("step", 5)} ${pad("event", width)}  ${pad("outcome", 8)} why`);
  for (const s of t.timeline) {
    const quiet = !s.events.length && !s.gossip.length && !s.expectations.length;
    if (quiet) continue;
    let first = true;
    const col = () => (first ? ((first = false), pad(String(s.step), 5)) : " ".repeat(5));
    for (const e of s.events) {
      const mark = e.expected === undefined ? "" : e.passed ? " ok" : ` FAIL (expected ${e.expected})`;
      out.push(`${col()} ${pad(e.text, width)}  ${pad(e.outcome, 8)} ${e.reason}${mark}`);
    }
    for (const g of s.gossip) {
      const what = g.notices.map((id) => noticeText(t.notices[id])).join(", ");
      out.push(`${col()} ${pad(`gossip ${g.from} -> ${g.to}`, width)}  ${pad("", 8)} ${what}`);
    }
    for (const [agent, v] of Object.entries(s.views)) {
      const parts: string[] = [];
      if (v.present !== undefined) parts.push(v.present ? "present" : "absent");
      for (const [c, n] of Object.entries(v.balances ?? {})) parts.push(`${n} ${c}`);
      for (const [p, a] of Object.entries(v.promises ?? {})) parts.push(`${p}: ${a}`);
      out.push(`${col()} ${pad(`  ${agent} now sees`, width)}  ${pad("", 8)} ${parts.join("; ")}`);
    }
    for (const x of s.expectations.filter((x) => !s.events.some((e) => e.expected !== undefined && x.line === e.line))) {
      out.push(`${col()} ${pad(x.text, width)}  ${pad(x.passed ? "ok" : "FAIL", 8)} ${x.saw}`);
    }
    if (first) out.push(`${col()}`);
  }
  out.push("");
  const failed = t.expectations.filter((x) => !x.passed);
  out.push(`${t.expectations.length - failed.length} of ${t.expectations.length} expectations hold` + (failed.length ? ":" : ""));
  for (const x of failed) out.push(`  ${t.path}:${x.line}: step ${x.step}${x.agent ? `, ${x.agent}` : ""}: ${x.text} — saw: ${x.saw}`);
  return out.join("\n") + "\n";
}
