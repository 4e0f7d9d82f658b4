// Bundles every entry point with esbuild. Add an entry here when you add a program.
import { readdirSync, readFileSync } from "node:fs";
import { build } from "esbuild";

// `.pg` files imported by the extension (the walkthrough's lesson) are bundled as text.
const common = { bundle: true, platform: "node", target: "node20", sourcemap: true, logLevel: "warning", loader: { ".pg": "text" } };

// The CLI (and, later, the grid node) are ESM; `require` is defined for CJS dependencies.
const esmBanner = { js: "import { createRequire as __pgCreateRequire } from 'node:module'; const require = __pgCreateRequire(import.meta.url);" };

// The CLI carries the docs it serves (`explain CODE`, the MCP server's resources).
const schemas = readdirSync(new URL("../docs/schemas/", import.meta.url)).map((f) => `schemas/${f}`);
const docs = Object.fromEntries(["language.md", "diagnostics.md", ...schemas].map((f) => [f, readFileSync(new URL(`../docs/${f}`, import.meta.url), "utf8")]));

// The graph layout engine (elkjs: most of the server's code, some 5 MB of memory once loaded) is loaded when a graph
// is first drawn, not with the server: the server's bundle gets a constructor that loads dist/server-elk.cjs (bundled
// apart, below) on first use.
const lazyElk = {
  name: "lazy-elk",
  setup(b) {
    b.onResolve({ filter: /^elkjs\/lib\/elk\.bundled\.js$/ }, () => ({ path: "elk", namespace: "lazy-elk" }));
    b.onLoad({ filter: /.*/, namespace: "lazy-elk" }, () => ({
      loader: "js",
      contents: "module.exports = function ELK(options) { const Real = require(require('node:path').join(__dirname, 'server-elk.cjs')); return new Real(options); };",
    }));
  },
};

const entries = [
  {
    entryPoints: ["cli/main.ts"], outfile: "dist/cli.js", format: "esm", banner: { js: "#!/usr/bin/env node\n" + esmBanner.js },
    define: { PROMISEGRID_DOCS: JSON.stringify(docs) },
  },
  // The VS Code extension and its language server are CommonJS (.cjs: the package is "type": "module").
  { entryPoints: ["client/extension.ts"], outfile: "dist/extension.cjs", format: "cjs", external: ["vscode"] },
  { entryPoints: ["server/main.ts"], outfile: "dist/server.cjs", format: "cjs", plugins: [lazyElk] },
  { entryPoints: ["node_modules/elkjs/lib/elk.bundled.js"], outfile: "dist/server-elk.cjs", format: "cjs" },
  // The server's checker thread: only what checking needs (a smaller worker, started sooner).
  { entryPoints: ["server/checker-main.ts"], outfile: "dist/server-checker.cjs", format: "cjs" },
  // The grid node as its own process (the extension starts it as a child).
  { entryPoints: ["grid/main.ts"], outfile: "dist/grid-node.js", format: "esm", banner: esmBanner },
];

// `node scripts/build.mjs extension server` builds only the entries whose outfile contains one of the words.
const only = process.argv.slice(2);
const chosen = entries.filter((e) => only.length === 0 || only.some((w) => e.outfile.includes(w)));
await Promise.all(chosen.map((e) => build({ ...common, ...e })));
