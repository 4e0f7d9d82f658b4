// Small helpers shared by the pictures (graph.ts, spacetime.ts): escaping,
// wrapping labels to a width, and the colours of states and outcomes.

/** One colour per state, so the graph, the timeline and the lesson agree. */
export const STATE_COLOURS: Record<string, string> = {
  kept: "#1a7f37",
  broken: "#cf222e",
  refused: "#bc4c00",
  unavailable: "#6639ba",
  pending: "#0969da",
  unknown: "#8c959f",
  revoked: "#cf222e",
  standing: "#8250df",
};

export const colourOf = (state: string): string => STATE_COLOURS[state] ?? STATE_COLOURS.unknown;

export const FONT = 12;
/** Average glyph width at 12px sans-serif, to size label boxes without a font engine. */
export const CHAR = 7;
export const LINE = FONT + 3;

export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Splits text into lines of at most `max` characters, at spaces; a longer word gets a line of its own. */
export function wrap(text: string, max: number): string[] {
  if (text.length <= max) return [text];
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (!line) line = word;
    else if (line.length + 1 + word.length <= max) line += " " + word;
    else { lines.push(line); line = word; }
  }
  if (line) lines.push(line);
  return lines;
}

/** Text lines as one <text> with a <tspan> per line; (x, y) is the first line's baseline. */
export function textLines(lines: string[], x: number, y: number, attrs = ""): string {
  if (lines.length === 1) return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${attrs}>${esc(lines[0])}</text>`;
  const spans = lines.map((l, i) => `<tspan x="${x.toFixed(1)}" dy="${i === 0 ? 0 : LINE}">${esc(l)}</tspan>`).join("");
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${attrs}>${spans}</text>`;
}

export const textWidth = (lines: string[]): number => Math.max(...lines.map((l) => l.length)) * CHAR;
