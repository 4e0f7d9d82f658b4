// The one place where the server reads a file: the open document's text when the editor has it open, else the
// disk's, read once and kept while the file's size and modification time stay the same (a request that asks for a
// closed file's ranges a thousand times reads it once). Files over MAX_DOCUMENT_BYTES are not read at all.
import * as fs from "node:fs";
import type { SourceHost } from "../language/index.ts";

/** Larger documents are neither parsed nor checked: the server says so in one diagnostic instead. */
export const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;

export function tooLarge(text: string): boolean {
  // UTF-16 length is at most the UTF-8 byte count; only near the limit is the exact count needed.
  return text.length > MAX_DOCUMENT_BYTES || (text.length * 3 > MAX_DOCUMENT_BYTES && Buffer.byteLength(text) > MAX_DOCUMENT_BYTES);
}

export class OverlayHost implements SourceHost {
  private readonly disk = new Map<string, { size: number; mtimeMs: number; text: string }>();

  /** `open`: the text of an open document, or undefined for a file the editor does not have open. */
  constructor(private readonly open: (path: string) => string | undefined) {}

  readText(p: string): string | undefined {
    const text = this.open(p);
    if (text !== undefined) return tooLarge(text) ? undefined : text;
    let stat: fs.Stats;
    try {
      stat = fs.statSync(p);
    } catch {
      this.disk.delete(p);
      return undefined;
    }
    if (!stat.isFile() || stat.size > MAX_DOCUMENT_BYTES) return undefined;
    const cached = this.disk.get(p);
    if (cached && cached.size === stat.size && cached.mtimeMs === stat.mtimeMs) return cached.text;
    try {
      const read = fs.readFileSync(p, "utf8");
      this.disk.set(p, { size: stat.size, mtimeMs: stat.mtimeMs, text: read });
      return read;
    } catch {
      return undefined;
    }
  }

  exists(p: string): boolean {
    if (this.open(p) !== undefined) return true;
    try {
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  }

  forget(p: string): void {
    this.disk.delete(p);
  }
}
