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

/** A file under docs/ (e.g. "diagnostics.md", "schemas/check.schema.json"). */
export function docText(name: DocName | `schemas/${string}.schema.json`): string {
  if (typeof PROMISEGRID_DOCS !== "undefined") {
    const text = PROMISEGRID_DOCS[name];
    if (text === undefined) throw new Error(`docs/${name} is not bundled`);
    return text;
  }
  return fs.readFileSync(new URL(`../docs/${name}`, import.meta.url), "utf8");
}

/** The files of docs/schemas/. */
export function schemaNames(): string[] {
  if (typeof PROMISEGRID_DOCS !== "undefined") return Object.keys(PROMISEGRID_DOCS).filter((k) => k.startsWith("schemas/")).map((k) => k.slice(8)).sort();
  return fs.readdirSync(new URL("../docs/schemas/", import.meta.url)).filter((f) => f.endsWith(".schema.json")).sort();
}

/** A JSON Schema of docs/schemas/ with every schema it refers to embedded, so it stands alone (MCP output schemas). */
export function standaloneSchema(...names: string[]): Record<string, unknown> {
  const defs: Record<string, unknown> = {};
  const embed = (name: string) => {
    if (name in defs) return;
    const schema = JSON.parse(docText(`schemas/${name}` as `schemas/${string}.schema.json`)) as Record<string, unknown>;
    delete schema.$schema;
    defs[name] = schema;
    for (const ref of JSON.stringify(schema).matchAll(/"\$ref":"([a-z-]+\.schema\.json)/g)) embed(ref[1]);
  };
  names.forEach(embed);
  const anyOf = names.map((n) => ({ $ref: n }));
  return { type: "object", ...(anyOf.length === 1 ? anyOf[0] : { anyOf }), $defs: defs };
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
