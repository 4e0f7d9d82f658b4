// Reading and writing the user's files with clear errors: what and where.
import * as fs from "node:fs";
import * as path from "node:path";
import { UsageError } from "./command.ts";
import { writeFileAtomicSync } from "../grid/files.ts";

/** Source files larger than this are refused rather than parsed. */
export const MAX_SOURCE_BYTES = 32 * 1024 * 1024;

export class FileError extends Error {}

/** Reads a .pg file as text, refusing what is not a readable UTF-8 text file. */
export function readSource(file: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new FileError(`${file}: no such file`);
  }
  if (stat.isDirectory()) throw new FileError(`${file}: is a directory, not a .pg file`);
  if (!stat.isFile()) throw new FileError(`${file}: not a regular file`);
  if (stat.size > MAX_SOURCE_BYTES) {
    throw new FileError(`${file}: file is ${(stat.size / 1024 / 1024).toFixed(1)} MiB; source files are limited to ${MAX_SOURCE_BYTES / 1024 / 1024} MiB`);
  }
  const bytes = fs.readFileSync(file);
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw new FileError(`${file}: looks like a binary file (NUL byte at offset ${nul}), not .pg source`);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new FileError(`${file}: is not valid UTF-8 text (byte ${firstInvalidUtf8(bytes)})`);
  }
}

/** Byte offset of the first byte that is not valid UTF-8 (decoding replaces it with U+FFFD). */
function firstInvalidUtf8(bytes: Uint8Array): number {
  const text = Buffer.from(bytes).toString("utf8");
  return Buffer.byteLength(text.slice(0, text.indexOf("\ufffd")));
}

/** Writes a file so that no reader ever sees it half-written (grid/files.ts: temp file, fsync, rename). */
export function writeAtomic(file: string, data: Uint8Array | string): void {
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir)) throw new FileError(`${file}: directory ${dir} does not exist`);
  try {
    writeFileAtomicSync(file, data);
  } catch (e) {
    throw new FileError(`${file}: cannot write: ${(e as Error).message}`);
  }
}

export function requireFiles(files: string[], what = "FILE"): void {
  if (!files.length) throw new UsageError(`missing ${what}`);
}
