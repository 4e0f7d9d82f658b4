// Reading and writing the user's files with clear errors: what and where.
import * as fs from "node:fs";
import * as path from "node:path";
import { UsageError } from "./command.ts";
import { writeFileAtomicSync } from "../grid/files.ts";
import { diskHost, MAX_SOURCE_BYTES } from "../language/host.ts";

export { MAX_SOURCE_BYTES };

export class FileError extends Error {}

/** Reads a .pg file as text, refusing what is not a readable UTF-8 text file (the one source host's rule). */
export function readSource(file: string): string {
  const r = diskHost.read(file);
  if ("problem" in r) throw new FileError(`${file}: ${r.problem}`);
  return r.text;
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
