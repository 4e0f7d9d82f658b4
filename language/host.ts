// Reading .pg source, written once for the CLI, the grid and the language server: the text of an open document
// (an editor's buffer, a text not yet saved) when there is one, else the file on disk, read only as a regular
// UTF-8 text file within a size limit, and kept while its size and modification time stay the same (a request
// that asks for a closed file a thousand times reads it once), up to a total size, least recently used dropped first.
import * as fs from "node:fs";
import type { SourceHost, SourceRead } from "./program.ts";

export type { SourceRead };

/** Source files larger than this are refused rather than parsed. */
export const MAX_SOURCE_BYTES = 32 * 1024 * 1024;

/** Whether `text` takes more than `maxBytes` bytes as UTF-8. */
export function overLimit(text: string, maxBytes: number): boolean {
  // UTF-16 length is at most the UTF-8 byte count; only near the limit is the exact count needed.
  return text.length > maxBytes || (text.length * 3 > maxBytes && Buffer.byteLength(text) > maxBytes);
}

/** What one host keeps of disk files at most (UTF-16 code units, about bytes for .pg text). */
export const MAX_CACHED_CHARS = 64 * 1024 * 1024;

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

export class OverlayHost implements SourceHost {
  /** In order of use, least recent first (a Map keeps insertion order). */
  private readonly disk = new Map<string, { size: number; mtimeMs: number; text: string }>();
  private cachedChars = 0;

  /** `open`: the text of an open document, or undefined for a file that is not open. */
  constructor(private readonly open: (path: string) => string | undefined = () => undefined, private readonly maxBytes = MAX_SOURCE_BYTES, private readonly maxCachedChars = MAX_CACHED_CHARS) {}

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
      this.forget(p);
      return { problem: "no such file" };
    }
    if (stat.isDirectory()) return { problem: "is a directory, not a .pg file" };
    if (!stat.isFile()) return { problem: "not a regular file" };
    if (stat.size > this.maxBytes) return tooLarge(stat.size);
    const cached = this.disk.get(p);
    if (cached && cached.size === stat.size && cached.mtimeMs === stat.mtimeMs) {
      this.disk.delete(p);
      this.disk.set(p, cached);
      return { text: cached.text };
    }
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
    this.keep(p, { size: stat.size, mtimeMs: stat.mtimeMs, text });
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
    const cached = this.disk.get(p);
    if (!cached) return;
    this.cachedChars -= cached.text.length;
    this.disk.delete(p);
  }

  /** Files kept now (for tests). */
  get cachedFiles(): string[] {
    return [...this.disk.keys()];
  }

  private keep(p: string, entry: { size: number; mtimeMs: number; text: string }): void {
    this.forget(p);
    if (entry.text.length > this.maxCachedChars) return;
    for (const [old, { text }] of this.disk) {
      if (this.cachedChars + entry.text.length <= this.maxCachedChars) break;
      this.cachedChars -= text.length;
      this.disk.delete(old);
    }
    this.disk.set(p, entry);
    this.cachedChars += entry.text.length;
  }
}

/** Byte offset where the first invalid UTF-8 sequence starts. A streaming decoder accepts exactly the prefixes
 * that are valid UTF-8 or end in an unfinished sequence, so the longest accepted prefix stops at the first bad
 * byte, or just after the lead byte of the sequence that byte breaks. (Searching the lossy decoding for U+FFFD
 * would stop at a U+FFFD the file itself contains.) */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const decodes = (n: number, stream: boolean) => {
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, n), { stream });
      return true;
    } catch {
      return false;
    }
  };
  let lo = 0, hi = bytes.length + 1; // the longest accepted prefix is in [lo, hi)
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (decodes(mid, true)) lo = mid;
    else hi = mid;
  }
  if (decodes(lo, false)) return lo;
  let start = lo - 1; // back to the lead byte of the unfinished sequence (at most three bytes)
  while (start > 0 && (bytes[start] & 0xc0) === 0x80) start--;
  return start;
}

/** The disk alone (no open documents): the CLI's and the grid's host. */
export const diskHost = new OverlayHost();
