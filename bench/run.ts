// `npm run bench`: every benchmark, one after another (each prints its own figures);
// `npm run bench -- simulator lsp` runs only those named.
// The language and simulator benchmarks run bundled by esbuild, as the CLI and server ship:
// under tsx every closure is wrapped to keep its name, which triples parse time.
import { build } from "esbuild";
import * as path from "node:path";

const all = ["language", "simulator", "lsp", "grid", "sandboxes"];
const named = process.argv.slice(2);
const unknown = named.filter((n) => !all.includes(n));
if (unknown.length) {
  console.error(`unknown bench ${unknown.join(", ")}: the benches are ${all.join(", ")}`);
  process.exit(2);
}
const benches = named.length ? named : all;
const bundled = new Set(["language", "simulator"]);

for (const name of benches) {
  const source = new URL(`./${name}.bench.ts`, import.meta.url);
  try {
    let file = source.href;
    if (bundled.has(name)) {
      const out = path.join(path.dirname(source.pathname), `.${name}.bench.mjs`);
      await build({ entryPoints: [source.pathname], outfile: out, bundle: true, platform: "node", format: "esm", packages: "external", logLevel: "warning" });
      file = `file://${out}?${Date.now()}`;
    }
    await import(file);
  } catch (e) {
    console.error(`bench ${name} failed: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}

