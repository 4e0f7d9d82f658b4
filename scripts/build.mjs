// Bundles every entry point with esbuild. Add an entry here when you add a program.
import { build } from "esbuild";

const common = { bundle: true, platform: "node", target: "node20", sourcemap: true, logLevel: "warning" };

// The CLI (and, later, the grid node) are ESM; `require` is defined for CJS dependencies.
const esmBanner = { js: "import { createRequire as __pgCreateRequire } from 'node:module'; const require = __pgCreateRequire(import.meta.url);" };

const entries = [
  { entryPoints: ["cli/main.ts"], outfile: "dist/cli.js", format: "esm", banner: { js: "#!/usr/bin/env node\n" + esmBanner.js } },
];

await Promise.all(entries.map((e) => build({ ...common, ...e })));
