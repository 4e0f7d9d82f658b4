// Shared test helpers: an in-memory SourceHost and quick program checks.
import { check, loadProgram, type Diagnostic, type SourceHost } from "../../language/index.ts";

export const VIRTUAL_DIR = "/virtual";

/** Files under /virtual; `hello.wasm` exists there, as the docs' examples assume. */
export function memoryHost(files: Record<string, string>, extraFiles: string[] = ["hello.wasm"]): SourceHost {
  const all = new Map(Object.entries(files).map(([name, text]) => [`${VIRTUAL_DIR}/${name}`, text]));
  const present = new Set([...all.keys(), ...extraFiles.map((f) => `${VIRTUAL_DIR}/${f}`)]);
  return { readText: (p) => all.get(p), exists: (p) => present.has(p) };
}

export function checkText(text: string, others: Record<string, string> = {}): Diagnostic[] {
  const host = memoryHost({ "main.pg": text, ...others });
  return check(loadProgram([`${VIRTUAL_DIR}/main.pg`], host));
}

export function codes(diagnostics: Diagnostic[]): string[] {
  return diagnostics.map((d) => d.code);
}
