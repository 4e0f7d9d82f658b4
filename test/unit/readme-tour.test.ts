// The README's tour, as a new user runs it: on a fresh copy of the repository
// (the files git would commit: no .cache/, no sandbox images, no dist/), after
// the README's main command, every command of the tour exits 0.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";

const root = path.resolve(new URL("../..", import.meta.url).pathname);
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");

/** The first ```sh block after a heading, as command lines without their trailing comments. */
function commands(heading: string): string[] {
  const section = readme.slice(readme.indexOf(`## ${heading}\n`));
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1];
  return block.split("\n").map((l) => l.replace(/\s{2,}#.*$/, "").trim()).filter(Boolean);
}

describe("the README's tour on a fresh clone", () => {
  const clone = fs.mkdtempSync(path.join(os.tmpdir(), "pg-tour-"));
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "pg-tour-home-"));
  const env = { ...process.env, HOME: home, PROMISEGRID_NODE_DIR: path.join(home, "node"), PROMISEGRID_DEBUG: "" };
  const sh = (command: string) => spawnSync("bash", ["-c", command], { cwd: clone, env, encoding: "utf8", timeout: 180_000 });

  before(() => {
    const files = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" }).stdout.split("\0").filter(Boolean);
    for (const f of files) {
      const from = path.join(root, f);
      if (!fs.existsSync(from) || fs.lstatSync(from).isSymbolicLink()) continue;
      fs.mkdirSync(path.dirname(path.join(clone, f)), { recursive: true });
      fs.copyFileSync(from, path.join(clone, f));
    }
    // `npm ci` needs the registry; the installed packages stand in for it.
    fs.symlinkSync(path.join(root, "node_modules"), path.join(clone, "node_modules"));
  });
  after(() => {
    sh("node dist/cli.js node stop");
    fs.rmSync(clone, { recursive: true, force: true });
    fs.rmSync(home, { recursive: true, force: true });
  });

  it("the main command, then every tour command, succeeds", () => {
    assert.deepEqual(commands("Set up")[0], "npm ci && npm run main");
    assert.equal(fs.existsSync(path.join(clone, ".cache")), false, "a fresh clone has no sandbox images");
    const main = sh("npm run main");
    assert.equal(main.status, 0, main.stdout + main.stderr);
    const tour = commands("A tour");
    assert.ok(tour.length >= 8, tour.join("\n"));
    for (const command of tour) {
      const r = sh(command);
      assert.equal(r.status, 0, `${command}\n${r.stdout}${r.stderr}`);
      if (/ check /.test(command)) assert.match(r.stderr, / 0 errors, 0 warnings/, command);
      if (/ test /.test(command)) assert.match(r.stdout, /\b0 failed$/m, command);
    }
    for (const out of ["trucks.svg", "truck5.svg", "window.svg", "lesson.html", "hello.car"]) {
      assert.ok(fs.statSync(path.join(clone, out)).size > 0, out);
    }
  });
});
