// Dumps diagnostics for many inputs, to compare builds.
import * as fs from "node:fs";
import * as path from "node:path";
import { check, loadProgram } from "../language/index.ts";
import { peerContent } from "./peer-content.ts";
import { generateSource } from "./generate.ts";
const out: unknown[] = [];
const files = process.argv.slice(2);
for (const f of files) {
  const p = loadProgram([f], { readText: (x) => { try { return fs.readFileSync(x, "utf8"); } catch { return undefined; } }, exists: (x) => fs.existsSync(x) });
  out.push([f, check(p), p.references.map((r) => [r.path, r.span, r.name, r.kind, r.symbol?.name, r.symbol?.kind, r.optional]), p.symbols.map((s) => [s.kind, s.name, s.path, s.nameSpan])]);
}
for (const t of [peerContent(3000).pg, peerContent(3000, true).pg, generateSource(3000)]) {
  const p = loadProgram(["/x.pg"], { readText: () => t, exists: () => true });
  out.push(check(p));
}
process.stdout.write(JSON.stringify(out));
