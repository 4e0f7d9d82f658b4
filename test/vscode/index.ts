// The in-editor test entry (the `run()` that VS Code's test runner calls, in code-server's extension host or under
// @vscode/test-electron): runs every compiled suite beside it, out/test/suite/*.test.cjs, with Mocha.
import * as fs from "node:fs";
import * as path from "node:path";
import type MochaType from "mocha";

// Mocha is loaded at run time from the project's node_modules (bundling it breaks its file loading).
const mochaModule = require("mocha");
const Mocha: typeof MochaType = mochaModule.default ?? mochaModule.Mocha ?? mochaModule;

export async function run(): Promise<void> {
  const mocha = new Mocha({ ui: "bdd", color: false, timeout: 60_000, reporter: "spec" });
  const dir = path.join(__dirname, "suite");
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".test.cjs")).sort();
  if (files.length === 0) throw new Error(`no in-editor test suites in ${dir}`);
  for (const f of files) mocha.addFile(path.join(dir, f));
  await mocha.loadFilesAsync();
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const passed = runner.stats?.passes ?? 0;
      console.log(`in-editor: ${passed} passed, ${failures} failed`);
      if (failures > 0) reject(new Error(`${failures} in-editor test(s) failed`));
      else if (passed === 0) reject(new Error("no in-editor test ran"));
      else resolve();
    });
  });
}
