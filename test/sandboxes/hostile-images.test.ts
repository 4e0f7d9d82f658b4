// Hostile container images, built by the tests, unpacked and run by the real
// container driver (runc). Each checks the host afterwards: the victim directory
// untouched, no setuid file or device node anywhere under the driver's state dir.
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { ContainerDriver } from "../../grid/sandboxes/container/index.ts";
import { collect, image, jobFile, makeJob } from "./helpers.ts";
import { dangerousFiles, ociImage, snapshot, tarball, type TarEntry } from "./fixtures.ts";
import { cleanupDirs, compileFile, deployHello, issueVia, newKey, startNode, tempDir } from "../grid/helpers.ts";

const state = mkdtempSync(join(tmpdir(), "pg-hostile-state-"));
const victim = mkdtempSync(join(tmpdir(), "pg-victim-"));
const driver = new ContainerDriver({ stateDir: state });
const busybox = readFileSync(image("busybox-rootfs.tar"));
const limits = { memoryBytes: 64 << 20, timeMs: 10_000, pids: 32 };
let victimBefore: string[] = [];
after(cleanupDirs);

async function runImage(bytes: Uint8Array, command = ["/bin/sh", "-c", "ls / >/dev/null; echo ran"]) {
  const out = collect();
  const r = await driver.run(makeJob("container", { image: jobFile("hostile.tar", bytes) }, limits, { command }), out, new AbortController().signal);
  return { ...r, stdout: out.out(), stderr: out.err() };
}

/** The busybox rootfs with `extra` entries appended (a plain rootfs tar). */
function rootfsWith(extra: TarEntry[]): Buffer {
  return Buffer.concat([busybox.subarray(0, endOfArchive(busybox)), tarball(extra)]);
}

/** Where the two zero blocks that end a tar begin. */
function endOfArchive(t: Buffer): number {
  let off = 0;
  while (off + 512 <= t.length && t.subarray(off, off + 512).some((b) => b !== 0)) {
    const size = parseInt(t.subarray(off + 124, off + 136).toString("latin1").replace(/\0.*$/s, "").trim() || "0", 8);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return off;
}

function hostUntouched(): void {
  assert.deepEqual(snapshot(victim), victimBefore, "the victim directory is unchanged");
  assert.equal(readFileSync(join(victim, "keep"), "utf8"), "precious");
  assert.deepEqual(dangerousFiles(state), [], "no setuid file or device node under the state dir");
}

describe("hostile container images", () => {
  before(async () => {
    assert.deepEqual(await driver.available(), { ok: true });
  });
  beforeEach(() => {
    rmSync(victim, { recursive: true, force: true });
    execFileSync("mkdir", ["-p", join(victim, "sub")]);
    writeFileSync(join(victim, "keep"), "precious");
    writeFileSync(join(victim, "sub", "also"), "precious too");
    victimBefore = snapshot(victim);
  });
  after(() => {
    rmSync(state, { recursive: true, force: true });
    rmSync(victim, { recursive: true, force: true });
  });

  test("a symlink to a host directory, then a file, a whiteout and an opaque dir through it: the host is untouched", async () => {
    const layer1 = tarball([
      { name: "evil", type: "symlink", linkname: victim },
      { name: "rel", type: "symlink", linkname: "../../../../../../../../.." + victim },
    ]);
    const layer2 = tarball([
      { name: "evil/planted", data: "pwned" },
      { name: "evil/.wh.keep", data: "" },
      { name: "rel/planted2", data: "pwned" },
      { name: "rel/sub/.wh..wh..opq", data: "" },
    ]);
    const r = await runImage(ociImage([busybox, layer1, layer2], []), ["/bin/sh", "-c", "cat /evil/planted; echo"]);
    hostUntouched();
    assert.deepEqual(readdirSync(join(victim, "sub")), ["also"]);
    // Neutralised: the writes landed inside the image, where the symlink pointed as if the rootfs were "/".
    assert.equal(r.exitCode, 0, r.message);
    assert.equal(r.stdout, "pwned\n");
  });

  test("a whiteout of a host file through a symlink deletes nothing on the host", async () => {
    const layer1 = tarball([{ name: "w", type: "symlink", linkname: victim }]);
    const layer2 = tarball([{ name: "w/.wh.keep", data: "" }, { name: "w/.wh.sub", data: "" }]);
    const r = await runImage(ociImage([busybox, layer1, layer2], ["/bin/true"]));
    assert.equal(r.exitCode, 0, r.message);
    hostUntouched();
  });

  test("setuid and setgid bits are cleared", async () => {
    const bin = readFileSync(execFileSync("sh", ["-c", "command -v busybox"], { encoding: "utf8" }).trim());
    const r = await runImage(
      rootfsWith([
        { name: "bin/suid", data: bin, mode: 0o4755 },
        { name: "bin/sgid", data: bin, mode: 0o2755 },
        { name: "sgid-dir/", type: "dir", mode: 0o2777 },
      ]),
      ["/bin/sh", "-c", "stat -c %a /bin/suid /bin/sgid"],
    );
    assert.equal(r.exitCode, 0, r.message);
    assert.equal(r.stdout, "755\n755\n");
    hostUntouched();
  });

  test("device nodes and fifos are dropped", async () => {
    const r = await runImage(
      rootfsWith([
        { name: "mem", type: "char", major: 1, minor: 1, mode: 0o666 },
        { name: "disk", type: "block", major: 8, minor: 0, mode: 0o666 },
        { name: "pipe", type: "fifo", mode: 0o666 },
      ]),
      ["/bin/sh", "-c", "ls /mem /disk /pipe 2>&1; true"],
    );
    assert.equal(r.exitCode, 0, r.message);
    assert.match(r.stdout, /mem: No such file/);
    hostUntouched();
  });

  test("absolute and '..' entry names never leave the rootfs", async () => {
    const r = await runImage(
      rootfsWith([
        { name: join(victim, "abs-planted"), data: "pwned" },
        { name: "../../../../../../../.." + join(victim, "dotdot-planted"), data: "pwned" },
      ]),
    );
    // GNU tar refuses ".." members: the image is refused with tar's reason.
    assert.equal(r.reason, "error");
    assert.match(r.message, /cannot unpack the container image .*contains '\.\.'/);
    hostUntouched();
    // An absolute name is taken as relative to the rootfs (runc's /tmp tmpfs hides it there: look on disk).
    const abs = await runImage(rootfsWith([{ name: join(victim, "abs-planted"), data: "pwned" }]));
    assert.equal(abs.exitCode, 0, abs.message);
    const images = join(state, "images");
    const landed = readdirSync(images).filter((cid) => existsSync(join(images, cid, "rootfs", victim, "abs-planted")));
    assert.equal(landed.length, 1, "the absolute entry landed inside the rootfs");
    hostUntouched();
  });

  test("a hard link to a host file is refused", async () => {
    for (const linkname of [join(victim, "keep"), "../../../../../../../.." + join(victim, "keep")]) {
      const r = await runImage(rootfsWith([{ name: "hl", type: "hardlink", linkname }]));
      assert.equal(r.reason, "error", `hard link to ${linkname}: ${r.message}`);
      assert.match(r.message, /cannot unpack the container image/);
      assert.equal(statSync(join(victim, "keep")).nlink, 1);
      hostUntouched();
    }
  });

  test("the unpacked image is readable by no other host user", async () => {
    const r = await runImage(busybox);
    assert.equal(r.exitCode, 0, r.message);
    const images = join(state, "images");
    for (const cid of readdirSync(images)) {
      const st = statSync(join(images, cid));
      assert.equal(st.mode & 0o777, 0o700, `${cid} is mode 0700`);
      assert.equal(st.uid, 100000, "owned by the uid the container's root maps to");
    }
    // As nobody, neither the list of images nor a file in one can be read.
    const asNobody = (cmd: string) => {
      try {
        execFileSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", cmd], { stdio: "pipe" });
        return "ok";
      } catch (e) {
        return String((e as { stderr: Buffer }).stderr);
      }
    };
    assert.match(asNobody(`ls ${images}`), /Permission denied/);
    assert.match(asNobody(`cat ${images}/*/rootfs/etc/passwd`), /Permission denied|No such file/);
    const cid = readdirSync(images)[0];
    assert.match(asNobody(`cat ${join(images, cid!, "rootfs/etc/passwd")}`), /Permission denied/);
  });
});

test("through a node: a hostile image deployed by a deployer leaves the host and the node's data dir clean", async () => {
  const node = await startNode();
  try {
    const victimDir = tempDir("pg-node-victim-");
    writeFileSync(join(victimDir, "keep"), "precious");
    const before = snapshot(victimDir);
    const dir = tempDir("pg-node-hostile-");
    const layer1 = tarball([{ name: "evil", type: "symlink", linkname: victimDir }]);
    const layer2 = tarball([
      { name: "evil/planted", data: "pwned" },
      { name: "evil/.wh.keep", data: "" },
      { name: "suid", data: "#!/bin/sh\nid\n", mode: 0o4755 },
      { name: "mem", type: "char", major: 1, minor: 1, mode: 0o666 },
    ]);
    writeFileSync(join(dir, "hostile.tar"), ociImage([busybox, layer1, layer2], ["/bin/sh", "-c", "ls /evil"]));
    writeFileSync(
      join(dir, "h.pg"),
      `agent n { kind node }
agent dev "The deployer"
workload hostile {
  sandbox container
  image "hostile.tar"
  limits { memory 32MiB  time 10s  pids 8 }
}
promise n -> dev +run(hostile) if holds(pass)
promise dev -> n -run(hostile)
capability pass from n to dev { grants run(hostile) }
`,
    );
    const key = await newKey();
    const d = await deployHello(node, key, [await issueVia(node, key, [{ type: "run", args: ["hostile"] }])], await compileFile(join(dir, "h.pg")), { workload: "hostile" });
    assert.equal(d.result?.exitCode, 0, d.result?.message);
    assert.deepEqual(snapshot(victimDir), before, "the victim directory is unchanged");
    assert.deepEqual(dangerousFiles(node.dataDir), [], "no setuid file or device node under the node's data dir");
    assert.ok(existsSync(join(node.dataDir, "sandboxes", "images")), "the image was unpacked under the data dir");
    const mode = (p: string) => (statSync(join(node.dataDir, p)).mode & 0o777).toString(8);
    assert.deepEqual([mode(""), mode("blocks"), mode("key")], ["711", "700", "600"], "the data dir is searchable, not listable; its blocks and key are the node's alone");
  } finally {
    await node.close();
  }
});
