// A picture of agents, promises and capabilities, laid out by ELK (elkjs) and
// drawn as SVG. Edges are styled by polarity (+ solid, - dashed) and coloured by
// the promise's state in its promiser's view at the chosen step.
import ElkModule from "elkjs/lib/elk.bundled.js";
import type { ElkExtendedEdge, ElkNode } from "elkjs/lib/elk-api.js";

// elkjs is CommonJS: its constructor is the module itself or its `default`, depending on the loader.
type ElkConstructor = new () => { layout(graph: ElkNode): Promise<ElkNode> };
const ELK = ((ElkModule as unknown as { default?: ElkConstructor }).default ?? ElkModule) as unknown as ElkConstructor;
import type { Assessment, Engine } from "./engine.ts";
import type { World } from "./model.ts";

export const STATE_COLOURS: Record<Assessment | "revoked" | "standing", string> = {
  kept: "#1a7f37",
  broken: "#cf222e",
  refused: "#bc4c00",
  pending: "#0969da",
  unknown: "#8c959f",
  revoked: "#cf222e",
  standing: "#8250df",
};

export interface GraphInput {
  world: World;
  /** When given, states come from this engine at its current step. */
  engine?: Engine;
  title: string;
}

const FONT = 12;
const CHAR = 7; // average glyph width at 12px, for label boxes

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

interface EdgeInfo { colour: string; dashed: boolean; dotted: boolean; label: string; arrow: boolean }

/** Builds the ELK graph and renders it; deterministic for the same input. */
export async function renderGraphSvg(input: GraphInput): Promise<string> {
  const { world, engine } = input;
  const nodes: ElkNode[] = [];
  const edges: ElkExtendedEdge[] = [];
  const info = new Map<string, EdgeInfo>();
  const label = (text: string) => ({ text, width: text.length * CHAR + 4, height: FONT + 4 });
  for (const a of world.agents) {
    nodes.push({ id: `agent:${a.index}`, width: Math.max(70, a.name.length * CHAR + 24), height: 36, labels: [{ text: a.name }] });
  }
  const anyone = world.promises.some((p) => p.anyone);
  if (anyone) nodes.push({ id: "anyone", width: 70, height: 36, labels: [{ text: "* (anyone)" }] });
  for (const p of world.promises) {
    const state: Assessment = engine ? engine.assessment(p.promiser, p.index) : "pending";
    const targets = p.anyone ? ["anyone"] : p.promisees.map((x) => `agent:${x}`);
    targets.forEach((target, k) => {
      const id = `promise:${p.index}:${k}`;
      const text = `${p.name ? p.name + ": " : ""}${p.polarity}${p.body.text}${engine ? ` [${state}]` : ""}`;
      edges.push({ id, sources: [`agent:${p.promiser}`], targets: [target], labels: [label(text)] });
      info.set(id, { colour: STATE_COLOURS[state], dashed: p.polarity === "-", dotted: false, label: text, arrow: true });
    });
  }
  for (const c of world.caps) {
    // Revoking a parent cuts its children: mark the first revoked token up the chain.
    let cutBy: number | undefined;
    for (let t: number | undefined = c.index; engine && t !== undefined && cutBy === undefined; t = world.caps[t].parent) {
      if (engine.revokedStep(t) >= 0) cutBy = t;
    }
    const revoked = cutBy !== undefined;
    const id = `cap:${c.index}`;
    const mark = !revoked ? "" : cutBy === c.index ? " [revoked]" : ` [cut: ${world.caps[cutBy!].name} revoked]`;
    const text = `${c.kind === "delegate" ? "delegate" : "capability"} ${c.name}${mark}`;
    edges.push({ id, sources: [`agent:${c.issuer}`], targets: [`agent:${c.holder}`], labels: [label(text)] });
    info.set(id, { colour: STATE_COLOURS[revoked ? "revoked" : "standing"], dashed: false, dotted: true, label: text, arrow: true });
  }
  if (engine) {
    engine.links.forEach(([a, b], i) => {
      const id = `link:${i}`;
      edges.push({ id, sources: [`agent:${a}`], targets: [`agent:${b}`], labels: [label(engine.linkActive(i) ? "gossip" : "gossip (cut)")] });
      info.set(id, { colour: engine.linkActive(i) ? "#6e7781" : "#d0d7de", dashed: true, dotted: false, label: engine.linkActive(i) ? "gossip" : "gossip (cut)", arrow: false });
    });
  }
  const elk = new ELK();
  const laid = await elk.layout({
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.edgeRouting": "POLYLINE",
      "elk.spacing.nodeNode": "40",
      "elk.layered.spacing.nodeNodeBetweenLayers": "90",
      "elk.edgeLabels.placement": "CENTER",
      "elk.randomSeed": "1",
    },
    children: nodes,
    edges,
  });
  const pad = 16, header = 28, legendHeight = engine ? 20 : 0;
  const width = Math.ceil((laid.width ?? 0) + 2 * pad), height = Math.ceil((laid.height ?? 0) + 2 * pad + header + legendHeight);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="${FONT}">`);
  out.push(`<defs>${Object.entries(STATE_COLOURS).map(([k, c]) => `<marker id="arrow-${k}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="${c}"/></marker>`).join("")}</defs>`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="${pad}" y="${pad + 8}" font-size="14" font-weight="bold">${esc(input.title)}</text>`);
  out.push(`<g transform="translate(${pad},${pad + header})">`);
  for (const e of laid.edges ?? []) {
    const i = info.get(e.id)!;
    const marker = Object.entries(STATE_COLOURS).find(([, c]) => c === i.colour)?.[0] ?? "unknown";
    for (const s of e.sections ?? []) {
      const pts = [s.startPoint, ...(s.bendPoints ?? []), s.endPoint];
      const d = `M${pts.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join("L")}`;
      const dash = i.dotted ? ` stroke-dasharray="2 4"` : i.dashed ? ` stroke-dasharray="7 4"` : "";
      out.push(`<path class="edge" data-id="${esc(e.id)}" d="${d}" fill="none" stroke="${i.colour}" stroke-width="1.6"${dash}${i.arrow ? ` marker-end="url(#arrow-${marker})"` : ""}/>`);
    }
    for (const l of e.labels ?? []) {
      out.push(`<text x="${((l.x ?? 0) + 2).toFixed(1)}" y="${((l.y ?? 0) + FONT).toFixed(1)}" fill="${i.colour}">${esc(l.text ?? "")}</text>`);
    }
  }
  for (const n of laid.children ?? []) {
    const agent = n.id.startsWith("agent:") ? Number(n.id.slice(6)) : -1;
    const absent = engine && agent >= 0 && !engine.present[agent];
    out.push(`<g class="node" data-id="${esc(n.id)}"><rect x="${n.x}" y="${n.y}" width="${n.width}" height="${n.height}" rx="6" fill="${absent ? "#f6f8fa" : "#ddf4ff"}" stroke="#24292f"${absent ? ` stroke-dasharray="4 3"` : ""}/>`);
    out.push(`<text x="${(n.x ?? 0) + (n.width ?? 0) / 2}" y="${(n.y ?? 0) + (n.height ?? 0) / 2 + 4}" text-anchor="middle">${esc(n.labels?.[0]?.text ?? "")}${absent ? " (absent)" : ""}</text></g>`);
  }
  out.push(`</g>`);
  if (engine) {
    let x = pad;
    const y = height - 6;
    for (const k of ["kept", "broken", "refused", "pending"] as const) {
      out.push(`<text x="${x}" y="${y}" fill="${STATE_COLOURS[k]}">${k}</text>`);
      x += k.length * CHAR + 16;
    }
  }
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
