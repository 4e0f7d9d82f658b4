// Loading .pg files for the CLI: each entry file with what it imports, read through the one source host
// (language/host.ts), so the CLI reads files by the same rule as the editor and the grid.
import * as path from "node:path";
import { check, loadProgram, type Diagnostic, type Program, type SourceHost } from "../language/index.ts";
import { diskHost, OverlayHost } from "../language/host.ts";
import { FileError, readSource } from "./files.ts";

/** The disk, refusing what is not a readable UTF-8 .pg text (see readSource). */
export const cliHost: SourceHost = diskHost;

export interface Loaded { program: Program; diagnostics: Diagnostic[] }

/** Loads and checks one entry file; throws FileError when the file itself cannot be read. */
export function loadChecked(file: string): Loaded {
  readSource(file);
  const program = loadProgram([path.resolve(file)], cliHost);
  return { program, diagnostics: check(program) };
}

/** Like loadChecked, but `file` has `text` (an unsaved buffer, an open document); the files it imports are read from disk. */
export function loadCheckedText(file: string, text: string): Loaded {
  const entry = path.resolve(file);
  const host = new OverlayHost((p) => (p === entry ? text : undefined));
  const read = host.read(entry);
  if ("problem" in read) throw new FileError(`${file}: ${read.problem}`);
  const program = loadProgram([entry], host);
  return { program, diagnostics: check(program) };
}

export { FileError };
