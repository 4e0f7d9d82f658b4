// Compiles the in-editor test entry and every suite (test/vscode/suite/*.test.ts) to out/test/ as CommonJS.
import { build } from "esbuild";
import * as fs from "node:fs";
import * as path from "node:path";

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, "../..");
const out = path.join(root, "out/test");
fs.rmSync(out, { recursive: true, force: true });
const suites = fs.readdirSync(path.join(here, "suite")).filter((f) => f.endsWith(".test.ts"));
const common = { bundle: true, platform: "node", target: "node20", format: "cjs", sourcemap: "inline", logLevel: "warning",
  external: ["vscode", "mocha"] };
await build({ ...common, entryPoints: [path.join(here, "index.ts")], outfile: path.join(out, "index.cjs") });
await Promise.all(suites.map((f) => build({ ...common, entryPoints: [path.join(here, "suite", f)],
  outfile: path.join(out, "suite", f.replace(/\.ts$/, ".cjs")) })));
console.log(`built the in-editor test entry and ${suites.length} suite(s) in ${path.relative(root, out)}`);
