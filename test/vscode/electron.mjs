// The same in-editor test entry under @vscode/test-electron, for machines with a desktop VS Code (it downloads one
// unless VSCODE_EXECUTABLE names an installed `code`). Not used where no desktop VS Code can be had; there,
// test/vscode/run.sh runs the entry in code-server's VS Code server instead.
//   node scripts/build.mjs extension server && node test/vscode/build.mjs && node test/vscode/electron.mjs
import { runTests } from "@vscode/test-electron";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const ws = fs.mkdtempSync(path.join(os.tmpdir(), "pg-electron-ws-"));
fs.cpSync(path.join(root, "test/vscode/workspace"), ws, { recursive: true });
try {
  await runTests({
    vscodeExecutablePath: process.env.VSCODE_EXECUTABLE || undefined,
    extensionDevelopmentPath: root,
    extensionTestsPath: path.join(root, "out/test/index.cjs"),
    launchArgs: [ws, "--disable-extensions", "--skip-welcome", "--skip-release-notes"],
  });
} catch (e) {
  console.error(`in-editor tests failed: ${e instanceof Error ? e.message : e}`);
  process.exitCode = 1;
} finally {
  fs.rmSync(ws, { recursive: true, force: true });
}
