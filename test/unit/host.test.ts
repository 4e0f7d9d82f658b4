// The one source host (language/host.ts) that the CLI, the grid and the language server read .pg files through:
// an open document over the disk, the disk read as UTF-8 text within a limit, and kept while it is unchanged.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { firstInvalidUtf8, OverlayHost } from "../../language/host.ts";
import { check, loadProgram } from "../../language/index.ts";
import { cliHost } from "../../cli/load.ts";
import { OverlayHost as ServerHost } from "../../server/host.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-host-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string, bytes: string | Buffer) => (fs.writeFileSync(path.join(dir, name), bytes), path.join(dir, name));

describe("the source host", () => {
  it("gives an open document's text over the disk's; a file not open comes from the disk", () => {
    const p = file("a.pg", "agent disk\n");
    const host = new OverlayHost((q) => (q === p ? "agent open\n" : undefined));
    assert.equal(host.readText(p), "agent open\n");
    assert.equal(new OverlayHost().readText(p), "agent disk\n");
    assert.equal(host.exists(path.join(dir, "open-only.pg")), false);
    assert.equal(new OverlayHost((q) => (q.endsWith("open-only.pg") ? "" : undefined)).exists(path.join(dir, "open-only.pg")), true);
  });

  it("keeps a read while the file's size and modification time stay the same", () => {
    const p = file("b.pg", "agent one\n");
    const mtime = new Date(Date.UTC(2026, 0, 1));
    fs.utimesSync(p, mtime, mtime);
    const host = new OverlayHost();
    assert.equal(host.readText(p), "agent one\n");
    fs.writeFileSync(p, "agent two\n"); // same size
    fs.utimesSync(p, mtime, mtime);
    assert.equal(host.readText(p), "agent one\n", "unchanged size and time: the kept text");
    fs.utimesSync(p, mtime, new Date(mtime.getTime() + 5000));
    assert.equal(host.readText(p), "agent two\n");
  });

  it("refuses what is not .pg text, saying why", () => {
    const host = new OverlayHost(undefined, 64);
    assert.deepEqual(host.read(path.join(dir, "nope.pg")), { problem: "no such file" });
    assert.deepEqual(host.read(dir), { problem: "is a directory, not a .pg file" });
    assert.deepEqual(host.read(file("bin.pg", Buffer.from([0x61, 0, 0x62]))), { problem: "looks like a binary file (NUL byte at offset 1), not .pg source" });
    assert.deepEqual(host.read(file("latin1.pg", Buffer.from("// caf\xe9\n", "latin1"))), { problem: "is not valid UTF-8 text (byte 6)" });
    assert.match((host.read(file("big.pg", "x".repeat(65))) as { problem: string }).problem, /^file is 0\.0 MiB; source files are limited to /);
    assert.equal(new OverlayHost(() => "y".repeat(65), 64).readText("/any.pg"), undefined, "an open document over the limit too");
  });

  it("names the byte where UTF-8 breaks, past any U+FFFD the file itself holds", () => {
    const host = new OverlayHost();
    assert.deepEqual(host.read(file("fffd.pg", Buffer.concat([Buffer.from("// a\ufffdb "), Buffer.from([0xff])]))), { problem: "is not valid UTF-8 text (byte 9)" });
    assert.equal(firstInvalidUtf8(Uint8Array.from([0x41, 0xe2, 0x82, 0x41])), 1, "a sequence cut short: where it began");
    assert.equal(firstInvalidUtf8(Uint8Array.from([0x41, 0x42, 0xf0, 0x9f, 0x98])), 2, "unfinished at the end of the file");
    assert.equal(firstInvalidUtf8(Uint8Array.from([0x80])), 0, "a continuation byte with no lead");
    assert.equal(firstInvalidUtf8(Uint8Array.from([0xed, 0xa0, 0x80])), 0, "an encoded surrogate");
  });

  it("keeps disk files up to a total size, dropping the least recently read first", () => {
    const [a, b, c] = ["a", "b", "c"].map((n) => file(`lru-${n}.pg`, `agent ${n}${"x".repeat(40)}\n`));
    const host = new OverlayHost(undefined, 1024, 100); // room for two 49-character files
    host.readText(a);
    host.readText(b);
    host.readText(a); // a is now the most recent
    host.readText(c);
    assert.deepEqual(host.cachedFiles, [a, c], "b, the least recently read, was dropped");
    assert.equal(host.readText(b), `agent b${"x".repeat(40)}\n`, "and is read again from disk");
    assert.deepEqual(host.cachedFiles, [c, b]);
    const huge = file("lru-huge.pg", `agent h${"x".repeat(200)}\n`);
    assert.ok(host.readText(huge), "a file larger than the whole cache is still read");
    assert.deepEqual(host.cachedFiles, [c, b], "but not kept, and it drops nothing");
  });

  it("says why an imported file is not .pg source, at the import (not as names it would have declared)", () => {
    const main = file("imports-binary.pg", 'import "blob.pg"\nagent a\npromise p: a -> a pay(1 t)\n');
    file("blob.pg", Buffer.from([0x61, 0x67, 0, 0x01]));
    const program = loadProgram([main], new OverlayHost());
    const pg202 = check(program).filter((d) => d.code === "PG202");
    assert.equal(pg202.length, 1);
    assert.equal(pg202[0].message, `imported file '${path.join(dir, "blob.pg")}': looks like a binary file (NUL byte at offset 2), not .pg source`);
    assert.equal(pg202[0].path, main);
  });

  it("is the host of the CLI and of the server alike", () => {
    assert.ok(cliHost instanceof OverlayHost);
    assert.ok(new ServerHost(() => undefined) instanceof OverlayHost);
  });
});
