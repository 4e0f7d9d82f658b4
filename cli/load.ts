// Loading .pg files for the CLI: each entry file with what it imports.
import * as fs from "node:fs";
import * as path from "node:path";
import { check, loadProgram, type Diagnostic, type Program, type SourceHost } from "../language/index.ts";
import { FileError, readSource } from "./files.ts";

export const cliHost: SourceHost = {
  readText(file) {
    try {
      return readSource(file);
    } catch {
      return undefined;
    }
  },
  exists(file) {
    try {
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  },
};

export interface Loaded { program: Program; diagnostics: Diagnostic[] }

/** Loads and checks one entry file; throws FileError when the file itself cannot be read. */
export function loadChecked(file: string): Loaded {
  readSource(file);
  const program = loadProgram([path.resolve(file)], cliHost);
  return { program, diagnostics: check(program) };
}

export { FileError };
