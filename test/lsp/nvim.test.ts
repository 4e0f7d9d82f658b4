// A real third-party LSP client: headless Neovim 0.7 (Debian) with the shipped editors/neovim files opens a
// broken file through the bundled server and reports its filetype, the diagnostics and a hover it received,
// and the lspconfig entry the plugin registers.
import { it } from "node:test";
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { SERVER, workspaceCopy } from "./client.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const plugin = path.join(here, "../../editors/neovim");

it("neovim with editors/neovim: the filetype, the diagnostics, a hover and the lspconfig entry", async () => {
  const root = workspaceCopy();
  const file = path.join(root, "broken.pg");
  const out = await new Promise<string>((resolve, reject) => execFile("nvim",
    ["--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", `luafile ${path.join(here, "nvim-client.lua")}`],
    { env: { ...process.env, LSP_FILE: file, PLUGIN_DIR: plugin, LSP_CMD: `${process.execPath} ${SERVER} --stdio`, HOVER_LINE: "3", HOVER_COL: "9" }, timeout: 60_000 },
    (err, stdout, stderr) => (err ? reject(new Error(`nvim failed: ${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout))));
  const lines = out.split(/\r?\n/);
  const tagged = (tag: string) => lines.filter((l) => l.startsWith(tag + " ")).map((l) => JSON.parse(l.slice(tag.length + 1)));
  // ftdetect named the buffer's filetype, ftplugin its comments, and setup() attached the server.
  assert.deepEqual(tagged("FILETYPE"), [{ filetype: "promisegrid", commentstring: "// %s", clients: 1 }]);
  const diags = lines.filter((l) => l.startsWith("DIAG ")).map((l) => JSON.parse(l.slice(5)));
  // neovim 0.7 sorts nothing; compare as a set ordered by position
  diags.sort((a, b) => a.line - b.line || a.col - b.col);
  assert.deepEqual(diags, [
    { line: 5, col: 0, end_line: 5, end_col: 38, severity: 2, code: "PG301", message: "unbound promise: nobody accepts (-) what truck9 offers (+serve(dinner))" },
    { line: 5, col: 8, end_line: 5, end_col: 14, severity: 1, code: "PG200", message: "undefined agent 'truck9'; did you mean 'truck1'?" },
  ]);
  const hovers = lines.filter((l) => l.startsWith("HOVER ")).map((l) => JSON.parse(l.slice(6)));
  assert.deepEqual(hovers, [{
    contents: { kind: "markdown", value: "```promisegrid\nagent truck1 \"Taco truck, east end\"\n```" },
    range: { start: { line: 3, character: 8 }, end: { line: 3, character: 14 } },
  }]);
  // The lspconfig entry: the repository's server, the filetype, the project root of the file.
  assert.deepEqual(tagged("LSPCONFIG"), [{
    cmd: ["node", "--max-semi-space-size=2", path.resolve(here, "../../dist/server.cjs"), "--stdio"],
    filetypes: ["promisegrid"], root, single: true, setups: [{ name: "promisegrid", opts: { autostart: false } }],
  }]);
});
