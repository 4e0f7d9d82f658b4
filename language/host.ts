// Reading .pg source, written once for the CLI, the grid and the language server: the text of an open document
// (an editor's buffer, a text not yet saved) when there is one, else the file on disk, read only as a regular
// UTF-8 text file within a size limit, and kept while its size and modification time stay the same (a request
// that asks for a closed file a thousand times reads it once).
import * as fs from "node:fs";
import type { SourceHost } from "./program.ts";

/** Source files larger than this are refused rather than parsed. */
export const MAX_SOURCE_BYTES = 32 * 1024 * 1024;

/** Whether `text` takes more than `maxBytes` bytes as UTF-8. */
export function overLimit(text: string, maxBytes: number): boolean {
  // UTF-16 length is at most the UTF-8 byte count; only near the limit is the exact count needed.
  return text.length > maxBytes || (text.length * 3 > maxBytes && Buffer.byteLength(text) > maxBytes);
}

/** A file's text, or why it is not .pg source (without the path: the caller names it). */
export type SourceRead = { text: string } | { problem: string };

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

export class OverlayHost implements SourceHost {
  private readonly disk = new Map<string, { size: number; mtimeMs: number; text: string }>();

  /** `open`: the text of an open document, or undefined for a file that is not open. */
  constructor(private readonly open: (path: string) => string | undefined = () => undefined, private readonly maxBytes = MAX_SOURCE_BYTES) {}

  readText(p: string): string | undefined {
    const r = this.read(p);
    return "text" in r ? r.text : undefined;
  }

  read(p: string): SourceRead {
    const tooLarge = (bytes: number) => ({ problem: `file is ${mib(bytes)} MiB; source files are limited to ${this.maxBytes / 1024 / 1024} MiB` });
    const open = this.open(p);
    if (open !== undefined) return overLimit(open, this.maxBytes) ? tooLarge(Buffer.byteLength(open)) : { text: open };
    let stat: fs.Stats;
    try {
      stat = fs.statSync(p);
    } catch {
      this.disk.delete(p);
      return { problem: "no such file" };
    }
    if (stat.isDirectory()) return { problem: "is a directory, not a .pg file" };
    if (!stat.isFile()) return { problem: "not a regular file" };
    if (stat.size > this.maxBytes) return tooLarge(stat.size);
    const cached = this.disk.get(p);
    if (cached && cached.size === stat.size && cached.mtimeMs === stat.mtimeMs) return { text: cached.text };
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(p);
    } catch (e) {
      return { problem: `cannot be read: ${(e as Error).message}` };
    }
    const nul = bytes.indexOf(0);
    if (nul >= 0) return { problem: `looks like a binary file (NUL byte at offset ${nul}), not .pg source` };
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      return { problem: `is not valid UTF-8 text (byte ${firstInvalidUtf8(bytes)})` };
    }
    this.disk.set(p, { size: stat.size, mtimeMs: stat.mtimeMs, text });
    return { text };
  }

  exists(p: string): boolean {
    if (this.open(p) !== undefined) return true;
    try {
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  }

  /** Drops what was read of `p` (the file changed on disk). */
  forget(p: string): void {
    this.disk.delete(p);
  }
}

/** Byte offset of the first byte that is not valid UTF-8 (decoding replaces it with U+FFFD). */
function firstInvalidUtf8(bytes: Uint8Array): number {
  const text = Buffer.from(bytes).toString("utf8");
  return Buffer.byteLength(text.slice(0, text.indexOf("\ufffd")));
}

/** The disk alone (no open documents): the CLI's and the grid's host. */
export const diskHost = new OverlayHost();
