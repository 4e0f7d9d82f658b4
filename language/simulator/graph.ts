// A picture of agents, promises and capabilities, laid out by ELK (elkjs) and
// drawn as SVG. Edges are styled by polarity (+ solid, - dashed) and coloured by
// the promise's state at the chosen step: the truth (every outcome, whoever
// knows it), or one agent's view (only what it has heard).
import ElkModule from "elkjs/lib/elk.bundled.js";
import type { ElkExtendedEdge, ElkNode } from "elkjs/lib/elk-api.js";

// elkjs is CommonJS: its constructor is the module itself or its `default`, depending on the loader.
type ElkConstructor = new () => { layout(graph: ElkNode): Promise<ElkNode> };
const ELK = ((ElkModule as unknown as { default?: ElkConstructor }).default ?? ElkModule) as unknown as ElkConstructor;
import type { Engine } from "./engine.ts";
import { UNIT, type World } from "./model.ts";
import { CHAR, FONT, LINE, STATE_COLOURS, colourOf, esc, textLines, textWidth, wrap } from "./svg.ts";

export { STATE_COLOURS } from "./svg.ts";

export interface GraphInput {
  world: World;
  /** When given, states come from this engine at its current step. */
  engine?: Engine;
  title: string;
  /** Draw the graph as this agent sees it (its assessments, the tokens it knows revoked, its balances); without it, the truth. */
  as?: string;
  /** "narrow" (the default): top to bottom with wrapped labels, for a side panel; "wide": left to right on one line each. */
  layout?: "narrow" | "wide";
  /** Draw the legend (default true); pictures shown side by side need it once. */
  legend?: boolean;
}

/** Labels wrap at this many characters in the narrow layout. */
const NARROW_CHARS = 16;

interface EdgeInfo { colour: string; dashed: boolean; dotted: boolean; label: string; arrow: boolean; lines: string[] }

/** What the picture shows at the engine's step, for the truth or for one viewer. */
interface Seen {
  promise(p: number): string;
  /** Undefined when standing; else the token whose revocation is known (itself, or one above it). */
  revokedBy(token: number): number | undefined;
  balances(agent: number): string[] | undefined;
}

function seen(world: World, engine: Engine, viewer: number | undefined): Seen {
  const latest = new Map<number, string>();
  if (viewer === undefined) for (const n of engine.notices) if (n.promise !== undefined) latest.set(n.promise, n.kind);
  const balances = (agent: number) => world.currencies
    .map((c) => ({ c, b: engine.balance(agent, c.index) }))
    .filter(({ c, b }) => b !== 0 || c.issuer === agent)
    .map(({ c, b }) => `${b / UNIT} ${c.name}`);
  const knows = (token: number) => viewer === undefined ? engine.revokedStep(token) >= 0 : engine.views[viewer].revoked.has(token);
  return {
    promise: (p) => viewer === undefined ? latest.get(p) ?? "pending" : engine.assessment(viewer, p),
    revokedBy(token) {
      // Revoking a parent cuts its children: the first revoked token up the chain.
      for (let t: number | undefined = token; t !== undefined; t = engine.caps[t].parent) if (knows(t)) return t;
      return undefined;
    },
    // An agent knows its own balances; the truth knows everyone's.
    balances: (agent) => viewer === undefined || viewer === agent ? balances(agent) : undefined,
  };
}

/** Builds the ELK graph and renders it; deterministic for the same input. */
export async function renderGraphSvg(input: GraphInput): Promise<string> {
  const { world, engine } = input;
  const narrow = (input.layout ?? "narrow") === "narrow";
  let viewer: number | undefined;
  if (input.as !== undefined) {
    viewer = world.agentIndex.get(input.as);
    if (viewer === undefined) throw new Error(`no agent named '${input.as}'; the agents are ${world.agents.map((a) => a.name).join(", ")}`);
  }
  const view = engine ? seen(world, engine, viewer) : undefined;
  const split = (text: string) => (narrow ? wrap(text, NARROW_CHARS) : [text]);
  const nodes: ElkNode[] = [];
  const edges: ElkExtendedEdge[] = [];
  const info = new Map<string, EdgeInfo>();
  const nodeLines = new Map<string, string[]>();
  const drawn = new Set<string>();
  const label = (lines: string[]) => ({ text: lines.join(" "), width: textWidth(lines) + 4, height: lines.length * LINE + 2 });
  const addNode = (id: string, lines: string[]) => {
    nodeLines.set(id, lines);
    nodes.push({ id, width: Math.max(70, textWidth(lines) + 20), height: 14 + lines.length * LINE, labels: [{ text: lines[0] }] });
  };
  for (const a of world.agents) {
    const lines = [a.name];
    if (engine && !engine.present[a.index]) lines.push("(absent)");
    if (viewer === a.index) lines.push("(this view)");
    lines.push(...(view?.balances(a.index) ?? []));
    addNode(`agent:${a.index}`, lines);
  }
  if (world.promises.some((p) => p.anyone)) addNode("anyone", ["* (anyone)"]);
  for (const p of world.promises) {
    const state = view ? view.promise(p.index) : "pending";
    drawn.add(state);
    const targets = p.anyone ? ["anyone"] : p.promisees.map((x) => `agent:${x}`);
    targets.forEach((target, k) => {
      const id = `promise:${p.index}:${k}`;
      const text = `${p.name ? p.name + ": " : ""}${p.polarity}${p.body.text}${view ? ` [${state}]` : ""}`;
      const lines = split(text);
      edges.push({ id, sources: [`agent:${p.promiser}`], targets: [target], labels: [label(lines)] });
      info.set(id, { colour: colourOf(state), dashed: p.polarity === "-", dotted: false, label: text, arrow: true, lines });
    });
  }
  // Declared capabilities and delegations, then tokens delegated at run time.
  const caps = engine ? engine.caps : world.caps;
  for (const c of caps) {
    const cutBy = view?.revokedBy(c.index);
    const revoked = cutBy !== undefined;
    const id = `cap:${c.index}`;
    const mark = !revoked ? "" : cutBy === c.index ? " [revoked]" : ` [cut: ${caps[cutBy].name} revoked]`;
    const kind = c.kind === "capability" ? "capability" : "delegate";
    const text = `${kind} ${c.name}${c.kind === "runtime" ? ` (at step ${c.issuedAt})` : ""}${mark}`;
    const lines = split(text);
    edges.push({ id, sources: [`agent:${c.issuer}`], targets: [`agent:${c.holder}`], labels: [label(lines)] });
    info.set(id, { colour: STATE_COLOURS[revoked ? "revoked" : "standing"], dashed: false, dotted: true, label: text, arrow: true, lines });
  }
  if (engine) {
    engine.links.forEach(([a, b], i) => {
      const id = `link:${i}`;
      const text = engine.linkActive(i) ? "gossip" : "gossip (cut)";
      edges.push({ id, sources: [`agent:${a}`], targets: [`agent:${b}`], labels: [label([text])] });
      info.set(id, { colour: engine.linkActive(i) ? "#6e7781" : "#d0d7de", dashed: true, dotted: false, label: text, arrow: false, lines: [text] });
    });
  }
  const elk = new ELK();
  const laid = await elk.layout({
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": narrow ? "DOWN" : "RIGHT",
      "elk.edgeRouting": "POLYLINE",
      "elk.spacing.nodeNode": narrow ? "24" : "40",
      "elk.spacing.edgeLabel": "4",
      "elk.spacing.edgeEdge": "8",
      "elk.layered.spacing.nodeNodeBetweenLayers": narrow ? "36" : "90",
      "elk.layered.spacing.edgeNodeBetweenLayers": "12",
      "elk.edgeLabels.placement": "CENTER",
      // SIMPLE placement stacks long edges closer together: the narrowest of ELK's placements here.
      ...(narrow ? { "elk.layered.nodePlacement.strategy": "SIMPLE" } : {}),
      "elk.randomSeed": "1",
    },
    children: nodes,
    edges,
  });
  const pad = 16;
  const graphWidth = Math.ceil((laid.width ?? 0) + 2 * pad);
  const width = Math.max(graphWidth, narrow ? 300 : 420);
  // The title wraps to the picture's width (about 8 px a glyph at 14 px), never the other way round.
  const titleLines = titleOf(input, viewer).flatMap((t) => wrap(t, Math.floor((width - 2 * pad) / 8)));
  const header = titleLines.length * 17 + 8;
  const legend = input.legend === false ? [] : legendItems(engine !== undefined, viewer !== undefined, drawn);
  const legendRows = layoutLegend(legend, width - 2 * pad);
  const legendTop = pad + header + Math.ceil(laid.height ?? 0) + 12;
  const height = legendTop + legendRows.rows * 20 + (legendRows.rows ? pad : 0);
  const offsetX = pad + Math.floor((width - graphWidth) / 2);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" class="promise-graph" data-view="${viewer === undefined ? "truth" : esc(world.agents[viewer].name)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="${FONT}">`);
  out.push(`<title>${esc(titleOf(input, viewer).join(": "))}</title>`);
  const markers = Object.entries(STATE_COLOURS).concat([["ink", "#24292f"]]);
  out.push(`<defs>${markers.map(([k, c]) => `<marker id="arrow-${k}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="${c}"/></marker>`).join("")}</defs>`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  titleLines.forEach((t, i) => out.push(`<text class="title" x="${pad}" y="${pad + 8 + i * 17}" font-size="14" font-weight="${i === 0 ? "bold" : "normal"}">${esc(t)}</text>`));
  out.push(`<g transform="translate(${offsetX},${pad + header})">`);
  for (const e of laid.edges ?? []) {
    const i = info.get(e.id)!;
    const marker = Object.entries(STATE_COLOURS).find(([, c]) => c === i.colour)?.[0] ?? "unknown";
    for (const s of e.sections ?? []) {
      const pts = [s.startPoint, ...(s.bendPoints ?? []), s.endPoint];
      const d = `M${pts.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join("L")}`;
      const dash = i.dotted ? ` stroke-dasharray="2 4"` : i.dashed ? ` stroke-dasharray="7 4"` : "";
      out.push(`<path class="edge" data-id="${esc(e.id)}" d="${d}" fill="none" stroke="${i.colour}" stroke-width="1.6"${dash}${i.arrow ? ` marker-end="url(#arrow-${marker})"` : ""}><title>${esc(i.label)}</title></path>`);
    }
    for (const l of e.labels ?? []) {
      // A white backing keeps a label readable where edges cross it.
      out.push(`<rect class="label-bg" x="${(l.x ?? 0).toFixed(1)}" y="${(l.y ?? 0).toFixed(1)}" width="${(l.width ?? 0).toFixed(1)}" height="${(l.height ?? 0).toFixed(1)}" fill="#ffffff" fill-opacity="0.85"/>`);
      out.push(textLines(i.lines, (l.x ?? 0) + 2, (l.y ?? 0) + FONT, ` class="label" data-for="${esc(e.id)}" fill="${i.colour}"`));
    }
  }
  for (const n of laid.children ?? []) {
    const agent = n.id.startsWith("agent:") ? Number(n.id.slice(6)) : -1;
    const absent = engine && agent >= 0 && !engine.present[agent];
    const self = agent >= 0 && agent === viewer;
    const lines = nodeLines.get(n.id)!;
    const x = n.x ?? 0, y = n.y ?? 0, w = n.width ?? 0, h = n.height ?? 0;
    out.push(`<g class="node" data-id="${esc(n.id)}"><rect x="${x}" y="${y}" width="${w}" height="${h}" rx="6" fill="${absent ? "#f6f8fa" : self ? "#fff8c5" : "#ddf4ff"}" stroke="#24292f" stroke-width="${self ? 2.5 : 1}"${absent ? ` stroke-dasharray="4 3"` : ""}/>`);
    const top = y + (h - lines.length * LINE) / 2 + FONT;
    lines.forEach((t, k) => out.push(`<text x="${x + w / 2}" y="${(top + k * LINE).toFixed(1)}" text-anchor="middle"${k === 0 ? ` font-weight="bold"` : ` fill="#57606a"`}>${esc(t)}</text>`));
    out.push(`</g>`);
  }
  out.push(`</g>`);
  out.push(`<g class="legend">`);
  legendRows.placed.forEach(({ item, x, row }) => out.push(legendSwatch(item, pad + x, legendTop + row * 20)));
  out.push(`</g>`);
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

function titleOf(input: GraphInput, viewer: number | undefined): string[] {
  if (!input.engine) return [input.title];
  if (viewer === undefined) return [input.title, "the truth: every outcome, whoever knows it"];
  return [input.title, `as ${input.world.agents[viewer].name} sees it: only what it has heard`];
}

interface LegendItem { text: string; kind: "line" | "box"; colour: string; dash?: string; arrow?: boolean; fill?: string; width?: number }

function legendItems(states: boolean, asViewer: boolean, drawn: Set<string>): LegendItem[] {
  const items: LegendItem[] = [
    { text: "+ promise (gives)", kind: "line", colour: "#24292f", arrow: true },
    { text: "- promise (uses)", kind: "line", colour: "#24292f", dash: "7 4", arrow: true },
    { text: "capability, delegation", kind: "line", colour: STATE_COLOURS.standing, dash: "2 4", arrow: true },
  ];
  if (!states) return items;
  for (const s of ["kept", "broken", "refused", "unavailable", "pending", "unknown"]) {
    if (s !== "unavailable" || drawn.has(s)) items.push({ text: s === "unknown" ? "unknown (not its business)" : s, kind: "line", colour: colourOf(s) });
  }
  for (const s of drawn) if (!(s in STATE_COLOURS)) items.push({ text: s, kind: "line", colour: colourOf(s) });
  items.push(
    { text: asViewer ? "revoked, as this agent has heard" : "revoked (or cut: a parent revoked)", kind: "line", colour: STATE_COLOURS.revoked, dash: "2 4", arrow: true },
    { text: "gossip link", kind: "line", colour: "#6e7781", dash: "7 4" },
    { text: "gossip link cut", kind: "line", colour: "#d0d7de", dash: "7 4" },
    { text: "absent agent", kind: "box", colour: "#24292f", dash: "4 3", fill: "#f6f8fa" },
  );
  if (asViewer) items.push({ text: "the agent whose view this is", kind: "box", colour: "#24292f", fill: "#fff8c5", width: 2.5 });
  return items;
}

const SWATCH = 26;

function layoutLegend(items: LegendItem[], width: number): { placed: { item: LegendItem; x: number; row: number }[]; rows: number } {
  const placed: { item: LegendItem; x: number; row: number }[] = [];
  let x = 0, row = 0;
  for (const item of items) {
    const w = SWATCH + 6 + item.text.length * CHAR + 14;
    if (x > 0 && x + w > width) { x = 0; row++; }
    placed.push({ item, x, row });
    x += w;
  }
  return { placed, rows: items.length ? row + 1 : 0 };
}

function legendSwatch(item: LegendItem, x: number, y: number): string {
  const mid = y + 10;
  const dash = item.dash ? ` stroke-dasharray="${item.dash}"` : "";
  const marker = item.arrow ? ` marker-end="url(#arrow-${Object.entries(STATE_COLOURS).find(([, c]) => c === item.colour)?.[0] ?? "ink"})"` : "";
  const swatch = item.kind === "box"
    ? `<rect x="${x + 2}" y="${mid - 6}" width="${SWATCH - 4}" height="12" rx="3" fill="${item.fill}" stroke="${item.colour}" stroke-width="${item.width ?? 1}"${dash}/>`
    : `<path d="M${x},${mid}L${x + SWATCH},${mid}" stroke="${item.colour}" stroke-width="1.6" fill="none"${dash}${marker}/>`;
  return `<g class="legend-item">${swatch}<text x="${x + SWATCH + 6}" y="${mid + 4}" fill="${item.kind === "line" ? item.colour : "#24292f"}">${esc(item.text)}</text></g>`;
}
