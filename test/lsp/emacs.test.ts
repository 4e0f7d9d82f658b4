// A real third-party LSP client: Emacs (Debian's emacs-nox, batch mode) with eglot and
// editors/emacs/promisegrid-mode.el opens a broken file through the bundled server and
// reports the diagnostics it received, the mode's keywords and a keyword's face.
import { it } from "node:test";
import * as assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { KEYWORDS } from "../../grammar/tokens.ts";
import { SERVER, workspaceCopy } from "./client.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const mode = path.join(here, "../../editors/emacs");

it("emacs with eglot receives the diagnostics; the mode highlights the grammar's keywords", async () => {
  const root = workspaceCopy();
  // eglot serves a project: a git repository is one.
  execFileSync("git", ["init", "-q"], { cwd: root });
  const out = await new Promise<string>((resolve, reject) => execFile("emacs",
    // -q, not -Q: Debian's site-start puts elpa-eglot on the load path.
    ["--batch", "-q", "-L", mode, "--eval", `(setq promisegrid-server-command '("${process.execPath}" "${SERVER}" "--stdio"))`,
      "-l", path.join(here, "emacs-client.el")],
    { env: { ...process.env, LSP_FILE: path.join(root, "broken.pg"), KEYWORD_AT: "2" }, timeout: 60_000 },
    (err, stdout, stderr) => (err ? reject(new Error(`emacs failed: ${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout))));
  const lines = out.split(/\r?\n/);
  const diags = lines.filter((l) => l.startsWith("DIAG ")).map((l) => JSON.parse(l.slice(5)));
  assert.deepEqual(diags, [
    { line: 6, col: 0, type: "eglot-warning", message: "promisegrid [PG301]: unbound promise: nobody accepts (-) what truck9 offers (+serve(dinner))" },
    { line: 6, col: 8, type: "eglot-error", message: "promisegrid [PG200]: undefined agent 'truck9'; did you mean 'truck1'?" },
  ]);
  // One keyword list: the mode's is the grammar's.
  const keywords = lines.find((l) => l.startsWith("KEYWORDS "));
  assert.deepEqual(JSON.parse(keywords!.slice(9)), [...KEYWORDS]);
  // "agent" on line 1 is a keyword, in a buffer the mode took over from the file name.
  assert.ok(lines.includes("MODE promisegrid-mode FACE font-lock-keyword-face"), out);
});
