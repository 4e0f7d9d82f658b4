// Shared test helpers: an in-memory SourceHost and quick program checks.
import * as fs from "node:fs";
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

/** A seeded random source (mulberry32), so a property test's failure can be run again from its seed. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
    chance: (p: number) => next() < p,
  };
}

/** The food-trucks example (LANGUAGE.md), as written in examples/. */
export const FOOD_TRUCKS = fs.readFileSync(new URL("../../examples/food-trucks.pg", import.meta.url), "utf8");

/** The food trucks' agents, currency, promises and pass with `scenario` in place of the example's own. */
export function foodTrucksWith(scenario: string): string {
  return FOOD_TRUCKS.replace(/scenario "revocation[\s\S]*$/, scenario);
}
