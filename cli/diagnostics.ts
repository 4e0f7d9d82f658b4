// Printing diagnostics: `path:line:col: severity CODE message` (1-based) or JSON (0-based LSP ranges).
import * as path from "node:path";
import { LineIndex, type Range, type Span } from "../grammar/index.ts";
import type { Diagnostic, Program } from "../language/index.ts";

/** An LSP TextEdit with the file it applies to. */
export interface JsonTextEdit { path: string; range: Range; newText: string }
export interface JsonDiagnostic {
  path: string;
  severity: string;
  code: string;
  message: string;
  range: Range;
  /** Other places that explain this one ("'x' is declared here"). */
  related: { path: string; range: Range; message: string }[];
  /** Quick fixes: applying every edit of one fix removes the diagnostic. */
  fixes: { title: string; edits: JsonTextEdit[] }[];
}

/** What diagnostics of the checker and of the simulator have in common. */
type AnyDiagnostic = Pick<Diagnostic, "path" | "severity" | "code" | "message" | "span" | "related" | "fixes">;

export class DiagnosticPrinter {
  private readonly indexes = new Map<string, LineIndex>();
  constructor(private readonly cwd: string) {}

  private index(program: Program, file: string): LineIndex {
    let index = this.indexes.get(file);
    if (!index) this.indexes.set(file, (index = new LineIndex(program.files.get(file)?.text ?? "")));
    return index;
  }

  display(file: string): string {
    const rel = path.relative(this.cwd, file);
    return rel.startsWith("..") ? file : rel;
  }

  range(program: Program, file: string, span: Span): Range {
    return this.index(program, file).range(span);
  }

  human(program: Program, d: AnyDiagnostic): string {
    const { line, character } = this.index(program, d.path).position(d.span.start);
    let text = `${this.display(d.path)}:${line + 1}:${character + 1}: ${d.severity} ${d.code} ${d.message}`;
    for (const r of d.related ?? []) {
      const at = this.index(program, r.path).position(r.span.start);
      text += `\n  ${this.display(r.path)}:${at.line + 1}:${at.character + 1}: note: ${r.message}`;
    }
    return text;
  }

  json(program: Program, d: AnyDiagnostic): JsonDiagnostic {
    return {
      path: this.display(d.path), severity: d.severity, code: d.code, message: d.message, range: this.range(program, d.path, d.span),
      related: (d.related ?? []).map((r) => ({ path: this.display(r.path), range: this.range(program, r.path, r.span), message: r.message })),
      fixes: (d.fixes ?? []).map((f) => ({
        title: f.title,
        edits: f.edits.map((e) => ({ path: this.display(e.path), range: this.range(program, e.path, e.span), newText: e.newText })),
      })),
    };
  }
}

/** A problem with a file itself (missing, unreadable) as a diagnostic at its start. */
export function fileDiagnostic(file: string, message: string): JsonDiagnostic {
  const zero = { line: 0, character: 0 };
  return { path: file, severity: "error", code: "PG000", message, range: { start: zero, end: zero }, related: [], fixes: [] };
}

/** The JSON document a --json command prints when it cannot do its work. */
export interface JsonFailure { error: string; diagnostics: JsonDiagnostic[] }
