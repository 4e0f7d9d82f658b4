// Loading .pg files for the CLI: each entry file with what it imports.
import * as path from "node:path";
import { check, loadProgram, type Diagnostic, type Program, type SourceHost } from "../language/index.ts";
import { nodeHost } from "../language/node-host.ts";
import { FileError, readSource } from "./files.ts";

/** Like nodeHost, but refuses what is not a readable UTF-8 .pg text (see readSource). */
export const cliHost: SourceHost = {
  readText(file) {
    try {
      return readSource(file);
    } catch {
      return undefined;
    }
  },
  exists: nodeHost.exists,
};

export interface Loaded { program: Program; diagnostics: Diagnostic[] }

/** Loads and checks one entry file; throws FileError when the file itself cannot be read. */
export function loadChecked(file: string): Loaded {
  readSource(file);
  const program = loadProgram([path.resolve(file)], cliHost);
  return { program, diagnostics: check(program) };
}

/** Like loadChecked, but `file` has `text` (an unsaved buffer); the files it imports are read from disk. */
export function loadCheckedText(file: string, text: string): Loaded {
  const entry = path.resolve(file);
  const host: SourceHost = {
    readText: (p) => (p === entry ? text : cliHost.readText(p)),
    exists: (p) => p === entry || cliHost.exists(p),
  };
  const program = loadProgram([entry], host);
  return { program, diagnostics: check(program) };
}

export { FileError };
