// The window as a picture: a space-time diagram of a scenario's trace. Agents
// are columns (their lifelines), steps are rows, events are marks on the acting
// agent's line (an arrow to the agent acted upon), each gossip delivery is a
// slanted arrow, and the right-hand column says what happened and who learned
// what. The picture distributed-systems courses draw.
import type { ScenarioPlan, SimEvent, World } from "./model.ts";
import type { Trace, TraceNotice, TraceStep } from "./run.ts";
import { CHAR, FONT, LINE, colourOf, esc, textLines, wrap } from "./svg.ts";

export interface TimelineInput {
  world: World;
  plan: ScenarioPlan;
  /** The trace so far (a run's trace() at its current step, or the finished trace). */
  trace: Trace;
  title: string;
  /** Draw steps 1..upTo only (default: every step in the trace). */
  upTo?: number;
}

const LEFT = 76;
const TEXT_CHARS = 46;
const GOSSIP_DROP = 30;

export function noticeText(n: TraceNotice): string {
  return n.kind === "revoked" ? `revoked(${n.capability})` : `${n.promise} ${n.kind}`;
}

/** The agent acting in an event and the one it acts upon, as agent indexes. */
function ends(e: SimEvent): { actor?: number; target?: number } {
  switch (e.kind) {
    case "invoke": return { actor: e.agent, target: e.at };
    case "pay": case "delegate": return { actor: e.agent, target: e.to };
    case "revoke": case "break": case "leave": case "join": return { actor: e.agent };
    default: return {};
  }
}

export function renderTimelineSvg(input: TimelineInput): string {
  const { world, plan, trace } = input;
  const n = world.agents.length;
  const colW = Math.max(96, ...world.agents.map((a) => a.name.length * CHAR + 24));
  const textX = LEFT + n * colW + 16;
  const width = textX + TEXT_CHARS * CHAR + 16;
  const colX = (a: number) => LEFT + a * colW + colW / 2;
  const upTo = input.upTo ?? trace.timeline.length;
  const steps = trace.timeline.filter((s) => s.step <= upTo);
  // Trace events come in plan order, one per planned event: pair them to know who acted on whom.
  let eventIndex = 0;
  const planEvents = plan.events;
  const body: string[] = [];
  const marks: string[] = [];
  const present = world.agents.map((a) => trace.initial[a.name]?.present !== false);
  /** Lifeline segments: [agent, fromY, toY, present]. */
  const segments: [number, number, number, boolean][] = [];
  const segStart = world.agents.map(() => 0);
  let y = 0;
  const header: string[] = [];
  const titleLines = wrap(input.title, Math.floor((width - 32) / 8));
  titleLines.forEach((t, i) => header.push(`<text class="title" x="16" y="${24 + i * 17}" font-size="14" font-weight="bold">${esc(t)}</text>`));
  y = 24 + titleLines.length * 17 + 6;
  header.push(`<text x="16" y="${y + 12}" fill="#57606a">${esc(`gossip every ${trace.gossipEvery} step${trace.gossipEvery === 1 ? "" : "s"}; links: ${trace.links.length ? trace.links.map(([a, b]) => `${a} <-> ${b}`).join(", ") : "none"}`)}</text>`);
  y += 24;
  world.agents.forEach((a, i) => {
    header.push(`<text class="agent" x="${colX(i)}" y="${y + 12}" text-anchor="middle" font-weight="bold">${esc(a.name)}</text>`);
    const start = trace.initial[a.name];
    const money = start ? Object.entries(start.balances).map(([c, v]) => `${v} ${c}`).join(", ") : "";
    if (money) header.push(`<text x="${colX(i)}" y="${y + 12 + LINE}" text-anchor="middle" fill="#57606a" font-size="11">${esc(money)}</text>`);
  });
  header.push(`<text x="${textX}" y="${y + 12}" font-weight="bold">what happened, who learned what</text>`);
  y += 2 * LINE + 10;
  const lifeTop = y - 4;
  segStart.fill(lifeTop);
  let quiet: number[] = [];
  const flushQuiet = () => {
    if (!quiet.length) return;
    const label = quiet.length === 1 ? `step ${quiet[0]}` : `steps ${quiet[0]}–${quiet.at(-1)}`;
    body.push(`<text class="quiet" x="${textX}" y="${y + FONT}" fill="#8c959f">${esc(`${label}: nothing happens`)}</text>`);
    body.push(`<text x="8" y="${y + FONT}" fill="#8c959f">${quiet.length === 1 ? quiet[0] : `${quiet[0]}–${quiet.at(-1)}`}</text>`);
    y += LINE + 6;
    quiet = [];
  };
  for (const s of steps) {
    const stepEvents = s.events.map((e) => ({ e, p: planEvents[eventIndex++] }));
    if (!s.events.length && !s.gossip.length && !s.expectations.length) { quiet.push(s.step); continue; }
    flushQuiet();
    const rowTop = y;
    body.push(`<line x1="0" y1="${rowTop - 3}" x2="${width}" y2="${rowTop - 3}" stroke="#eaeef2"/>`);
    body.push(`<text class="step" data-step="${s.step}" x="8" y="${y + FONT + 2}" font-weight="bold">step ${s.step}</text>`);
    y += 4;
    for (const { e, p } of stepEvents) {
      const colour = colourOf(e.outcome);
      const { actor, target } = p ? ends(p.event) : {};
      const lines = wrap(`${e.text} → ${e.outcome}`, TEXT_CHARS);
      const why = wrap(e.reason, TEXT_CHARS + 6);
      const h = Math.max(22, (lines.length + why.length) * LINE + 6);
      const cy = y + 10;
      if (actor !== undefined) {
        if (target !== undefined && target !== actor) {
          const x1 = colX(actor), x2 = colX(target);
          const dir = x2 > x1 ? -1 : 1;
          // An unavailable event never arrives: its arrow stops halfway, dashed.
          const cut = e.outcome === "unavailable";
          const end = cut ? (x1 + x2) / 2 : x2 + dir * 6;
          marks.push(`<path class="event-arrow" data-outcome="${e.outcome}" d="M${x1},${cy}L${end},${cy}" stroke="${colour}" stroke-width="2"${cut ? ' stroke-dasharray="5 3"' : ""} fill="none" marker-end="url(#tl-${e.outcome})"/>`);
        }
        marks.push(`<circle class="event" data-outcome="${e.outcome}" cx="${colX(actor)}" cy="${cy}" r="5" fill="${colour}"><title>${esc(`${e.text}: ${e.outcome}`)}</title></circle>`);
      } else {
        // Partition and heal concern the whole network: a band across every lifeline.
        marks.push(`<rect class="event network" x="${LEFT + 4}" y="${cy - 5}" width="${n * colW - 8}" height="10" rx="5" fill="#fff1e5" stroke="${colour}"><title>${esc(e.text)}</title></rect>`);
      }
      if (e.expected !== undefined) {
        marks.push(`<text class="expectation" x="${LEFT - 16}" y="${cy + 4}" fill="${e.passed ? colourOf("kept") : colourOf("broken")}" font-weight="bold">${e.passed ? "✓" : "✗"}</text>`);
      }
      body.push(textLines(lines, textX, y + FONT, ` fill="${colour}"`));
      body.push(textLines(why, textX + 8, y + FONT + lines.length * LINE, ` fill="#57606a" font-size="11"`));
      if (p && (p.event.kind === "leave" || p.event.kind === "join") && e.outcome === "kept") {
        const a = p.event.agent;
        segments.push([a, segStart[a], cy, present[a]]);
        segStart[a] = cy;
        present[a] = p.event.kind === "join";
      }
      y += h;
    }
    if (s.gossip.length) {
      const top = y + 4, bottom = top + GOSSIP_DROP;
      for (const g of s.gossip) {
        const from = world.agentIndex.get(g.from)!, to = world.agentIndex.get(g.to)!;
        const x1 = colX(from), x2 = colX(to);
        const what = g.notices.map((id) => noticeText(trace.notices[id])).join(", ");
        marks.push(`<path class="gossip" data-from="${esc(g.from)}" data-to="${esc(g.to)}" d="M${x1},${top}L${x2 + (x2 > x1 ? -4 : 4)},${bottom - 3}" stroke="#57606a" stroke-width="1.4" stroke-dasharray="5 3" fill="none" marker-end="url(#tl-gossip)"><title>${esc(`gossip ${g.from} → ${g.to}: ${what}`)}</title></path>`);
      }
      const lines = s.gossip.flatMap((g) => wrap(`gossip ${g.from} → ${g.to}: ${g.notices.map((id) => noticeText(trace.notices[id])).join(", ")}`, TEXT_CHARS));
      body.push(textLines(lines, textX, top + FONT, ` fill="#57606a"`));
      y = Math.max(bottom, top + lines.length * LINE) + 6;
    }
    // Who learned what: the revocations and broken promises each agent first heard this step.
    const news = learnedNews(s, trace);
    if (news.length) {
      const lines = news.flatMap((t) => wrap(t, TEXT_CHARS));
      body.push(textLines(lines, textX, y + FONT, ` class="learned" fill="${colourOf("revoked")}"`));
      for (const [agent] of Object.entries(s.learned)) {
        const a = world.agentIndex.get(agent)!;
        if (s.learned[agent].some((id) => important(trace.notices[id]))) {
          marks.push(`<rect class="heard" data-agent="${esc(agent)}" x="${colX(a) - 5}" y="${y + 2}" width="10" height="10" fill="${colourOf("revoked")}"><title>${esc(`${agent} knows it now`)}</title></rect>`);
        }
      }
      y += lines.length * LINE + 4;
    }
    for (const x of s.expectations.filter((x) => !s.events.some((e) => e.expected !== undefined && e.line === x.line))) {
      const colour = x.passed ? colourOf("kept") : colourOf("broken");
      const lines = wrap(`${x.passed ? "✓" : "✗"} ${x.text}`, TEXT_CHARS);
      const saw = wrap(x.saw, TEXT_CHARS + 6);
      marks.push(`<text class="expectation" x="${LEFT - 16}" y="${y + FONT}" fill="${colour}" font-weight="bold">${x.passed ? "✓" : "✗"}</text>`);
      body.push(textLines(lines, textX, y + FONT, ` fill="${colour}"`));
      body.push(textLines(saw, textX + 8, y + FONT + lines.length * LINE, ` fill="#57606a" font-size="11"`));
      y += (lines.length + saw.length) * LINE + 6;
    }
    y = Math.max(y, rowTop + 24) + 6;
  }
  flushQuiet();
  const bottom = y + 4;
  world.agents.forEach((_, a) => segments.push([a, segStart[a], bottom, present[a]]));
  const lifelines = segments.map(([a, y1, y2, here]) =>
    `<line class="lifeline" data-agent="${esc(world.agents[a].name)}" x1="${colX(a)}" y1="${y1}" x2="${colX(a)}" y2="${y2}" stroke="${here ? "#8c959f" : "#d0d7de"}" stroke-width="${here ? 2 : 1.5}"${here ? "" : ` stroke-dasharray="3 4"`}/>`);
  const legendY = bottom + 14;
  const legend = [
    `<g class="legend" font-size="11">`,
    `<circle cx="20" cy="${legendY}" r="5" fill="${colourOf("kept")}"/><text x="30" y="${legendY + 4}">event, its outcome's colour</text>`,
    `<path d="M270,${legendY}L300,${legendY}" stroke="${colourOf("kept")}" stroke-width="2" marker-end="url(#tl-kept)"/><text x="306" y="${legendY + 4}">acts on</text>`,
    `<path d="M370,${legendY - 6}L396,${legendY + 6}" stroke="#57606a" stroke-dasharray="5 3" stroke-width="1.4" marker-end="url(#tl-gossip)"/><text x="402" y="${legendY + 4}">gossip delivery</text>`,
    `<rect x="15" y="${legendY + 14}" width="10" height="10" fill="${colourOf("revoked")}"/><text x="30" y="${legendY + 23}">first hears a revocation or a break</text>`,
    `<line x1="270" y1="${legendY + 19}" x2="300" y2="${legendY + 19}" stroke="#d0d7de" stroke-width="1.5" stroke-dasharray="3 4"/><text x="306" y="${legendY + 23}">absent</text>`,
    `<text x="370" y="${legendY + 23}"><tspan fill="${colourOf("kept")}" font-weight="bold">✓</tspan> / <tspan fill="${colourOf("broken")}" font-weight="bold">✗</tspan> expectation holds / fails</text>`,
    `<path d="M270,${legendY + 37}L290,${legendY + 37}" stroke="${colourOf("unavailable")}" stroke-width="2" stroke-dasharray="5 3" marker-end="url(#tl-unavailable)"/><text x="306" y="${legendY + 41}">unavailable: cannot reach (absent, partitioned)</text>`,
    `</g>`,
  ];
  const height = legendY + 54;
  const svgWidth = Math.max(width, 560);
  const defs = ["kept", "refused", "broken", "unavailable"].map((k) => marker(`tl-${k}`, colourOf(k))).join("") + marker("tl-gossip", "#57606a");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="spacetime" width="${svgWidth}" height="${height}" viewBox="0 0 ${svgWidth} ${height}" font-family="sans-serif" font-size="${FONT}">`,
    `<defs>${defs}</defs>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...header, ...lifelines, ...body, ...marks, ...legend,
    `</svg>`,
  ].join("\n") + "\n";
}

function marker(id: string, colour: string): string {
  return `<marker id="${id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="${colour}"/></marker>`;
}

/** Notices worth a mark: revocations and broken promises change what agents do. */
const important = (n: TraceNotice) => n.kind === "revoked" || n.kind === "broken";

function learnedNews(s: TraceStep, trace: Trace): string[] {
  const out: string[] = [];
  for (const [agent, ids] of Object.entries(s.learned)) {
    const heard = ids.map((id) => trace.notices[id]).filter(important);
    if (heard.length) out.push(`${agent} now knows ${heard.map(noticeText).join(", ")}`);
  }
  return out;
}
