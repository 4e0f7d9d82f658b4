// Printing diagnostics: `path:line:col: severity CODE message` (1-based) or JSON (0-based LSP ranges).
import * as path from "node:path";
import { LineIndex, type Range } from "../grammar/index.ts";
import type { Diagnostic, Program } from "../language/index.ts";

export interface JsonDiagnostic { severity: string; code: string; message: string; range: Range }

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

  human(program: Program, d: Diagnostic): string {
    const { line, character } = this.index(program, d.path).position(d.span.start);
    let text = `${this.display(d.path)}:${line + 1}:${character + 1}: ${d.severity} ${d.code} ${d.message}`;
    for (const r of d.related ?? []) {
      const at = this.index(program, r.path).position(r.span.start);
      text += `\n  ${this.display(r.path)}:${at.line + 1}:${at.character + 1}: note: ${r.message}`;
    }
    return text;
  }

  json(program: Program, d: Diagnostic): JsonDiagnostic {
    return { severity: d.severity, code: d.code, message: d.message, range: this.index(program, d.path).range(d.span) };
  }
}
