// Converts between UTF-16 offsets and LSP positions (0-based line and character).
import type { Span } from "./ast.ts";

export interface Position { line: number; character: number }
export interface Range { start: Position; end: Position }

export class LineIndex {
  private readonly starts: Int32Array;
  constructor(private readonly text: string) {
    this.starts = lineStarts(text);
  }

  position(offset: number): Position {
    offset = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0, hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid; else hi = mid - 1;
    }
    return { line: lo, character: offset - this.starts[lo] };
  }

  offset(position: Position): number {
    if (position.line < 0) return 0;
    if (position.line >= this.starts.length) return this.text.length;
    const start = this.starts[position.line];
    const next = position.line + 1 < this.starts.length ? this.starts[position.line + 1] : this.text.length;
    return Math.min(start + Math.max(0, position.character), next);
  }

  range(span: Span): Range {
    return { start: this.position(span.start), end: this.position(span.end) };
  }

  get lineCount(): number { return this.starts.length; }
}

/** Where each line starts: after a \n, a \r\n, or a \r alone. Found with indexOf (native: a loop over a large file's
 * characters took ten times as long), into an array of the exact size that is made once. */
function lineStarts(text: string): Int32Array {
  let count = 1;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) count++;
  const firstCr = text.indexOf("\r");
  for (let i = firstCr; i !== -1; i = text.indexOf("\r", i + 1)) if (text.charCodeAt(i + 1) !== 10) count++;
  const starts = new Int32Array(count);
  let k = 1;
  for (let nl = text.indexOf("\n"), cr = firstCr; nl !== -1 || cr !== -1;) {
    if (cr !== -1 && (nl === -1 || cr < nl)) {
      if (text.charCodeAt(cr + 1) !== 10) starts[k++] = cr + 1; // a \r\n's line starts after its \n
      cr = text.indexOf("\r", cr + 1);
    } else {
      starts[k++] = nl + 1;
      nl = text.indexOf("\n", nl + 1);
    }
  }
  return starts;
}
