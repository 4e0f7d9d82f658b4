// The one atomic writer (grid/files.ts): a reader sees the old bytes or the new,
// never a part; a failed write leaves no temp file; fmt keeps a file's mode.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic, writeFileAtomicSync } from "../../grid/files.ts";
import { cleanupDirs, tempDir } from "./helpers.ts";

after(cleanupDirs);

test("replaces the file whole, with the mode asked for, and leaves no temp file", async () => {
  const dir = tempDir();
  const file = join(dir, "api-token");
  await writeFileAtomic(file, "one\n", 0o600);
  await writeFileAtomic(file, "two\n", 0o600);
  assert.equal(readFileSync(file, "utf8"), "two\n");
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir), ["api-token"]);
});

test("a write that fails leaves neither the target nor a temp file", async () => {
  const dir = tempDir();
  const tmp = join(dir, "tmp");
  await assert.rejects(writeFileAtomic(join(dir, "missing", "x"), "data", 0o600, tmp), /ENOENT/);
  // The target is a folder: the rename fails after the temp file was written.
  const target = join(dir, "taken");
  writeFileSync(join(dir, "keep"), "");
  await import("node:fs/promises").then((fs) => fs.mkdir(join(target, "inside"), { recursive: true }));
  await assert.rejects(writeFileAtomic(target, "data"));
  assert.throws(() => writeFileAtomicSync(target, "data"));
  assert.deepEqual(readdirSync(dir).sort(), ["keep", "taken"]);
});

test("the blocking form keeps an existing file's mode", () => {
  const file = join(tempDir(), "script.pg");
  writeFileSync(file, "old");
  chmodSync(file, 0o640);
  writeFileAtomicSync(file, "new");
  assert.equal(readFileSync(file, "utf8"), "new");
  assert.equal(statSync(file).mode & 0o777, 0o640);
  const fresh = join(tempDir(), "fresh.car");
  writeFileAtomicSync(fresh, new Uint8Array([1, 2, 3]));
  assert.equal(statSync(fresh).mode & 0o777, 0o644 & ~process.umask());
});
