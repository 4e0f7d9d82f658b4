// A real third-party LSP client: headless Neovim 0.7 (Debian) opens a broken file through the bundled server and
// reports the diagnostics and a hover it received.
import { it } from "node:test";
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { SERVER, workspaceCopy } from "./client.ts";

const here = path.dirname(fileURLToPath(import.meta.url));

it("neovim receives the diagnostics and a hover", async () => {
  const root = workspaceCopy();
  const file = path.join(root, "broken.pg");
  const out = await new Promise<string>((resolve, reject) => execFile("nvim",
    ["--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", `luafile ${path.join(here, "nvim-client.lua")}`],
    { env: { ...process.env, LSP_FILE: file, LSP_CMD: `${process.execPath} ${SERVER} --stdio`, HOVER_LINE: "3", HOVER_COL: "9" }, timeout: 60_000 },
    (err, stdout, stderr) => (err ? reject(new Error(`nvim failed: ${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout))));
  const lines = out.split(/\r?\n/);
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
});
