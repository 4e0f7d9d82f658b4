// The language reference and the diagnostics catalogue, for `explain CODE` and the
// MCP server. The build bundles their text (scripts/build.mjs defines
// PROMISEGRID_DOCS); run from source, they are read from docs/.
import * as fs from "node:fs";

declare const PROMISEGRID_DOCS: Record<string, string> | undefined;

export const DOCS = {
  "language.md": "The .pg language reference: declarations, conditions, capabilities, scenarios.",
  "diagnostics.md": "Every diagnostic code the checker reports, each with a wrong and a right example.",
} as const;
export type DocName = keyof typeof DOCS;

export function docText(name: DocName): string {
  if (typeof PROMISEGRID_DOCS !== "undefined") return PROMISEGRID_DOCS[name];
  return fs.readFileSync(new URL(`../docs/${name}`, import.meta.url), "utf8");
}

export interface DiagnosticEntry {
  code: string;
  title: string;
  severity: "error" | "warning";
  /** The section as written, in Markdown. */
  text: string;
  /** What the section says, without its examples. */
  description: string;
  wrong: string | null;
  right: string | null;
}

/** The catalogue's section for CODE (`## PG401 title`), or undefined. */
export function diagnosticEntry(code: string): DiagnosticEntry | undefined {
  const sections = docText("diagnostics.md").split(/^(?=## )/m);
  const section = sections.find((s) => s.startsWith(`## ${code.toUpperCase()} `));
  if (!section) return undefined;
  const heading = section.slice(3, section.indexOf("\n")).trim();
  const example = (kind: string) => new RegExp("```pg " + kind + "\\n([\\s\\S]*?)```").exec(section)?.[1] ?? null;
  const title = heading.slice(heading.indexOf(" ") + 1).replace(/\s*\((warning)\)$/, "");
  return {
    code: code.toUpperCase(), title, severity: /\(warning\)$/.test(heading) ? "warning" : "error", text: section.trimEnd() + "\n",
    description: section.slice(section.indexOf("\n") + 1).replace(/```[\s\S]*?```/g, "").trim(),
    wrong: example("wrong"), right: example("right"),
  };
}

/** Every code the catalogue lists. */
export function diagnosticCodes(): string[] {
  return [...docText("diagnostics.md").matchAll(/^## (PG\d{3}) /gm)].map((m) => m[1]);
}
