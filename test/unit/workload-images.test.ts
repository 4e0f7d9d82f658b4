// PG600 for a missing sandbox image says what is missing and how to get it:
// the examples' images under .cache/sandboxes are built by
// `npm run setup:sandboxes`, not written by hand.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { check, loadProgram } from "../../language/index.ts";
import { memoryHost } from "./helpers.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** The PG600 messages of an example's text checked where none of its files exist. */
function missing(example: string, edit: (t: string) => string = (t) => t): string[] {
  const text = edit(fs.readFileSync(path.join(ROOT, "examples", example), "utf8"));
  const program = loadProgram(["/virtual/w.pg"], memoryHost({ "w.pg": text }, []));
  return check(program).filter((d) => d.code === "PG600").map((d) => d.message);
}

describe("PG600: a missing sandbox image is reported as that", () => {
  it("the container example before the images are built: the image, and npm run setup:sandboxes", () => {
    assert.deepEqual(missing("hello-container.pg"), [
      "container image '../.cache/sandboxes/busybox-oci.tar' is not built yet (looked for /.cache/sandboxes/busybox-oci.tar): run 'npm run setup:sandboxes' to build the sandbox images",
    ]);
  });

  it("the VM example: its kernel and its initrd, each named", () => {
    const m = missing("hello-vm.pg");
    assert.equal(m.length, 2);
    assert.match(m[0], /^VM kernel '\.\.\/\.cache\/sandboxes\/vmlinux' is not built yet .*npm run setup:sandboxes/);
    assert.match(m[1], /^VM initrd '\.\.\/\.cache\/sandboxes\/initramfs\.cpio\.gz' is not built yet .*npm run setup:sandboxes/);
  });

  it("an image of one's own elsewhere is named as an image; a missing module stays a missing file", () => {
    assert.deepEqual(missing("hello-container.pg", (t) => t.replace("../.cache/sandboxes/busybox-oci.tar", "mine.tar")), [
      "container image 'mine.tar' does not exist (looked for /virtual/mine.tar): build it, or copy it there",
    ]);
    assert.deepEqual(missing("hello-wasm.pg"), ["workload file 'hello.wasm' does not exist (looked for /virtual/hello.wasm)"]);
  });
});
