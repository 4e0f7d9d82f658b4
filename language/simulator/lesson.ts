// A lesson deck: one self-contained HTML file (no network) with a slide per
// step of a scenario: a one-line summary, the events, the graph as each agent
// sees it, the timeline so far and the expectations. Arrow keys move; printed,
// one slide per page.
import type { World } from "./model.ts";
import type { ScenarioRun, Trace, TraceEvent, TraceStep } from "./run.ts";
import { renderGraphSvg } from "./graph.ts";
import { noticeText, renderTimelineSvg } from "./spacetime.ts";
import { colourOf, esc } from "./svg.ts";

export interface LessonInput {
  world: World;
  /** A fresh run of the scenario (at step 0); the deck drives it to the end. */
  run: ScenarioRun;
  /** The file as the reader knows it, for the slides' headers. */
  source: string;
}

/** Slides past this many are refused: a deck is for people to page through. */
export const MAX_SLIDES = 500;

interface Slide { step: number; last?: number; quiet?: boolean; summary: string; detail: string; events: TraceEvent[]; expectations: TraceStep["expectations"]; views: string[]; timeline: string }

export async function renderLesson(input: LessonInput): Promise<string> {
  const { world, run, source } = input;
  const snap = async (step: number): Promise<{ views: string[]; timeline: string }> => {
    const when = step === 0 ? "before step 1" : `end of step ${step}`;
    const views: string[] = [];
    for (const a of world.agents) {
      views.push(await renderGraphSvg({ world, engine: run.engine, as: a.name, title: `${a.name}, ${when}`, legend: a.index === 0 }));
    }
    return { views, timeline: "" };
  };
  const slides: Slide[] = [];
  const first = await snap(0);
  slides.push({ step: 0, summary: openingSummary(run.trace()), detail: "", events: [], expectations: run.results.filter((r) => r.step === 0), ...first });
  while (!run.done) {
    const s = run.next();
    const prev = slides[slides.length - 1];
    if (!s.events.length && !s.gossip.length && !s.expectations.length) {
      // Nothing happens: a run of such steps is one slide, and the views stay those of the slide before.
      if (prev.quiet) { prev.last = s.step; continue; }
      slides.push({ ...prev, step: s.step, last: s.step, quiet: true, summary: "", detail: "", events: [], expectations: [] });
      continue;
    }
    if (slides.length >= MAX_SLIDES) throw new RangeError(`"${run.plan.title}" has more than ${MAX_SLIDES} steps where something happens; a lesson deck holds at most ${MAX_SLIDES} slides`);
    const pictures = await snap(s.step);
    slides.push({ step: s.step, summary: "", detail: "", events: s.events, expectations: s.expectations, ...pictures });
  }
  const trace = run.trace();
  const summaries = summarize(run, trace);
  for (const slide of slides) {
    const upTo = slide.last ?? slide.step;
    if (upTo > 0) slide.timeline = renderTimelineSvg({ world, plan: run.plan, trace, upTo, title: `The timeline so far: steps 1 to ${upTo}` });
    if (slide.quiet) slide.summary = slide.last === slide.step ? `Step ${slide.step}: nothing happens` : `Steps ${slide.step}–${slide.last}: nothing happens`;
    else if (slide.step > 0) Object.assign(slide, summaries[slide.step - 1]);
  }
  return page(trace, source, slides);
}

function openingSummary(t: Trace): string {
  const links = t.links.length ? `${t.links.map(([a, b]) => `${a} and ${b}`).join(", ")} gossip` : "nobody gossips";
  return `Before step 1: ${t.agents.map((a) => a.name).join(", ")}; ${links}; nobody has heard anything yet`;
}

/** One line per step (the thing a student should notice, most telling first), and the rest of the news. */
function summarize(run: ScenarioRun, trace: Trace): { summary: string; detail: string }[] {
  const e = run.engine, w = run.world;
  const known = w.agents.map(() => new Set<number>());
  const learnedBy = (s: TraceStep, agent: string, id: number) => s.learned[agent]?.includes(id) ?? false;
  let planIndex = 0;
  return trace.timeline.map((s) => {
    const clauses: { rank: number; text: string }[] = [];
    const existing = new Set<number>();
    for (const n of e.notices) if (n.step < s.step) existing.add(n.id);
    const revokedNow = new Map<number, { by: string; clause: { rank: number; text: string } }>();
    const told = new Set<string>();
    for (const ev of s.events) {
      const p = run.plan.events[planIndex++]?.event;
      if (p?.kind === "invoke") {
        const actor = w.agents[p.agent].name, at = w.agents[p.at].name;
        if (ev.outcome === "kept") {
          // A revocation up the chain of the token presented that has happened, and that `at` has not heard.
          const token = e.tokenOf(p.agent, p.cap) ?? p.cap;
          const chain = new Set<number>();
          for (let t: number | undefined = token; t !== undefined; t = e.caps[t].parent) chain.add(t);
          const stale = [...existing].map((id) => e.notices[id]).find((n) => n.kind === "revoked" && n.cap !== undefined && chain.has(n.cap) && !known[p.at].has(n.id));
          if (stale) {
            const cap = e.caps[stale.cap!].name;
            const now = revokedNow.get(stale.cap!);
            // Revoked in this very step: one sentence tells both.
            if (now) clauses.splice(clauses.indexOf(now.clause), 1);
            clauses.push({ rank: 0, text: `${now ? `${now.by} revokes ${cap}, but ` : ""}${at} still serves ${actor}: it has not heard${now ? "" : ` that ${cap} was revoked`}` });
            if (learnedBy(s, at, stale.id)) { clauses.push({ rank: 3, text: `gossip at the end of step ${s.step} tells ${at}` }); told.add(at); }
          } else {
            clauses.push({ rank: 5, text: `${at} keeps its promise to ${actor}${ev.transfer ? ` and is paid ${ev.transfer.amount} ${ev.transfer.currency}` : ""}` });
          }
        } else if (ev.outcome === "unavailable") {
          clauses.push({ rank: 1, text: `${actor} cannot reach ${at} (${ev.reason}): nothing happens, nobody is told` });
        } else if (ev.reason.startsWith(`${at} refuses: `)) {
          const why = ev.reason.slice(`${at} refuses: `.length);
          clauses.push({ rank: 1, text: `${at} refuses ${actor}: ${why.startsWith(`${at} `) ? "it " + why.slice(at.length + 1) : why}` });
        } else {
          clauses.push({ rank: 1, text: ev.outcome === "refused" && p.agent !== p.at ? `${at} refuses ${actor}: ${ev.reason}` : ev.reason });
        }
      } else if (p?.kind === "revoke" && ev.outcome === "kept") {
        const actor = w.agents[p.agent].name;
        const others = w.agents.filter((a) => a.index !== p.agent && ev.notices.some((id) => learnedBy(s, a.name, id))).map((a) => a.name);
        const clause = { rank: 2, text: `${actor} revokes ${w.caps[p.cap].name}: only ${actor} knows${others.length ? `; gossip tells ${others.join(", ")} at the end of the step` : ", until gossip carries it"}` };
        clauses.push(clause);
        others.forEach((a) => told.add(a));
        for (const id of ev.notices) revokedNow.set(e.notices[id].cap!, { by: actor, clause });
      } else {
        clauses.push({ rank: ev.outcome === "kept" ? 4 : 1, text: ev.reason });
      }
      for (const id of ev.notices) existing.add(id);
      for (const id of ev.notices) for (const wit of e.notices[id].witnesses) known[wit].add(id);
    }
    for (const x of s.expectations) {
      if (!x.passed) clauses.push({ rank: -1, text: `expectation fails: ${x.text} (saw: ${x.saw})` });
      else if (!s.events.some((ev) => ev.line === x.line)) clauses.push({ rank: 6, text: `${x.text.replace(/^expect /, "as expected, ")}` });
    }
    for (const g of s.gossip) {
      const news = g.notices.map((id) => trace.notices[id]).filter((n) => n.kind === "revoked" || n.kind === "broken");
      if (news.length && !told.has(g.to)) {
        clauses.push({ rank: 3, text: `${g.to} hears by gossip from ${g.from}: ${news.map(noticeText).join(", ")}` });
      }
    }
    for (const [agent, ids] of Object.entries(s.learned)) for (const id of ids) known[w.agentIndex.get(agent)!].add(id);
    if (!clauses.length) return { summary: s.gossip.length ? `Step ${s.step}: only gossip moves` : `Step ${s.step}: nothing happens`, detail: "" };
    clauses.sort((a, b) => a.rank - b.rank);
    const [best, ...rest] = clauses;
    return { summary: best.text, detail: rest.filter((c) => c.rank <= 4).map((c) => c.text).join("; ") };
  });
}

/** Makes one SVG's ids (markers) its own, so many SVGs can share a page. */
function ownIds(svg: string, prefix: string): string {
  return svg.replace(/ id="([^"]+)"/g, ` id="${prefix}-$1"`).replace(/url\(#([^)]+)\)/g, `url(#${prefix}-$1)`);
}

function page(t: Trace, source: string, slides: Slide[]): string {
  let k = 0;
  const body = slides.map((s, i) => {
    const where = s.step === 0 ? "the start" : s.last !== undefined && s.last > s.step ? `steps ${s.step}–${s.last} of ${t.lastStep}` : `step ${s.step} of ${t.lastStep}`;
    const events = s.events.length
      ? `<ul class="events">${s.events.map((e) => `<li><span class="outcome" style="color:${colourOf(e.outcome)}">${esc(e.outcome)}</span> <b>${esc(e.text)}</b><br><span class="why">${esc(e.reason)}</span></li>`).join("")}</ul>`
      : `<p class="none">${s.step === 0 ? "Nothing has happened yet." : "No events at this step."}</p>`;
    const expectations = s.expectations.length
      ? `<ul class="expectations">${s.expectations.map((x) => `<li class="${x.passed ? "pass" : "fail"}">${x.passed ? "✓" : "✗"} ${esc(x.text)}<br><span class="why">saw: ${esc(x.saw)}</span></li>`).join("")}</ul>`
      : `<p class="none">No expectation is checked at this step.</p>`;
    const views = s.views.map((svg) => `<figure class="view">${ownIds(svg, `s${k++}`)}</figure>`).join("");
    const timeline = s.timeline ? `<figure class="timeline">${ownIds(s.timeline, `s${k++}`)}</figure>` : "";
    return `<section class="slide" id="slide-${i}" data-step="${s.step}">
<header><div class="where">${esc(source)} · “${esc(t.scenario)}” · ${where}</div><h1 class="summary">${esc(s.summary)}</h1>${s.detail ? `<p class="detail">${esc(s.detail)}</p>` : ""}</header>
<div class="facts"><div><h2>Events</h2>${events}</div><div><h2>Expectations</h2>${expectations}</div></div>
<div class="pictures"><div class="each"><h2>As each agent sees it</h2><div class="views">${views}</div></div>
${timeline ? `<div class="so-far"><h2>Who learned what, when</h2>${timeline}</div>` : ""}</div>
<footer>${i + 1} / ${slides.length} <span class="keys">· ← → to move, Home / End</span></footer>
</section>`;
  }).join("\n");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(t.scenario)}: a lesson</title>
<style>${STYLE}</style></head>
<body>
${body}
<script>${SCRIPT}</script>
</body></html>
`;
}

const STYLE = `
body{margin:0;font-family:sans-serif;color:#24292f;background:#f6f8fa}
.slide{display:none;box-sizing:border-box;min-height:100vh;padding:20px 28px;background:#fff}
.slide.current{display:block}
header .where{color:#57606a;font-size:14px}
h1.summary{font-size:26px;margin:6px 0 4px}.detail{margin:0 0 10px;color:#57606a;font-size:16px}
h2{font-size:15px;margin:14px 0 6px;color:#57606a;text-transform:uppercase;letter-spacing:.04em}
.facts{display:flex;gap:32px;flex-wrap:wrap}.facts>div{flex:1 1 320px}
ul{margin:0;padding-left:18px}li{margin:4px 0}
.outcome{font-weight:bold}.why{color:#57606a;font-size:13px}.none{color:#8c959f;margin:4px 0}
li.pass{color:#1a7f37}li.fail{color:#cf222e}
.views{display:flex;gap:12px;flex-wrap:wrap;align-items:flex-start}
figure{margin:0}.view{flex:1 1 300px;max-width:480px}
svg{max-width:100%;height:auto;display:block}
footer{margin-top:14px;color:#8c959f;font-size:13px}
@page{size:A4 landscape;margin:8mm}
@media print{
  body{background:#fff}
  .slide{display:block!important;height:190mm;overflow:hidden;min-height:0;padding:0;break-after:page;break-inside:avoid}
  .slide:last-of-type{break-after:auto}
  h1.summary{font-size:19px}.detail{font-size:12px;margin-bottom:4px}
  h2{font-size:10px;margin:5px 0 3px}
  .facts{font-size:11px;gap:16px}.why{font-size:10px}li{margin:1px 0}
  .pictures{display:flex;gap:5mm;align-items:flex-start}.each{flex:3 1 0;min-width:0}.so-far{flex:2 1 0;min-width:0}
  .views{flex-wrap:nowrap;gap:2mm}.view{flex:1 1 0;min-width:0}
  .view svg{max-height:128mm;width:auto}
  .timeline svg{max-height:134mm;width:auto}
  .keys{display:none}
}`;

const SCRIPT = `
(function(){
  var slides=[].slice.call(document.querySelectorAll('.slide'));
  var at=0;
  function show(i){
    at=Math.max(0,Math.min(slides.length-1,i));
    slides.forEach(function(s,k){s.classList.toggle('current',k===at);});
    document.body.setAttribute('data-current',String(at));
    if(location.hash!=='#slide-'+at)history.replaceState(null,'','#slide-'+at);
    window.scrollTo(0,0);
  }
  var m=/^#slide-(\\d+)$/.exec(location.hash);
  show(m?Number(m[1]):0);
  document.addEventListener('keydown',function(e){
    var k=e.key;
    if(k==='ArrowRight'||k==='PageDown'||k===' ')show(at+1);
    else if(k==='ArrowLeft'||k==='PageUp')show(at-1);
    else if(k==='Home')show(0);
    else if(k==='End')show(slides.length-1);
    else return;
    e.preventDefault();
  });
})();`;
