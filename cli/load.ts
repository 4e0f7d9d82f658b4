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

export { FileError };
