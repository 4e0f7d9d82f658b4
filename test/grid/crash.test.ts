// A node killed with SIGKILL while receiving blocks restarts with an intact store.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BlockStore } from "../../grid/store.ts";
import { decodeToken, deployCar } from "../../grid/deploy.ts";
import { startNodeProcess } from "../sandboxes/node-process.ts";
import { ROOT, cleanupDirs, closeAll, compileWorkload, deployHello, issueVia, newKey, startNode, tempDir, waitFor, withCustomSection } from "./helpers.ts";

after(cleanupDirs);


test("SIGKILL in the middle of receiving blocks, then restart: the store is intact", async () => {
  const source = await startNode();
  const dataDir = tempDir();
  let child: ChildProcess | undefined;
  try {
    const hello = new Uint8Array(readFileSync(join(ROOT, "examples/hello.wasm")));
    const compiled = await compileWorkload({ name: "big", module: withCustomSection(hello, 48 * 1024 * 1024), memory: "64MiB" });
    // dev deployed it on the source before, so the source gives its blocks to a node deploying it for dev.
    const dev = await newKey();
    await deployHello(source, dev, [await issueVia(source, dev, [{ type: "run", args: ["big"] }])], compiled, { workload: "big" });
    const started = await startNodeProcess(dataDir, ["--peer", source.node.addrs()[0]]);
    child = started.child;
    const token = decodeToken(await started.client.issue({ holder: Buffer.from(dev.publicKey.raw).toString("hex"), grants: [{ type: "run", args: ["big"] }] }));
    const car = await deployCar({ key: dev, manifest: compiled.root, workload: "big", chain: [token], blocks: [] });
    const deploying = started.client.deploy(car, { wait: true }).catch((e) => e);
    const blocksDir = join(dataDir, "blocks");
    const count = () => readdirSync(blocksDir).filter((n) => !n.startsWith(".")).length;
    const before = count();
    await waitFor("the first fetched blocks", () => count() >= before + 3, 20_000);
    child.kill("SIGKILL");
    await new Promise((r) => child!.once("exit", r));
    const atKill = count() - before;
    assert.ok(atKill < compiled.blocks.length, `killed after ${atKill} of ${compiled.blocks.length} blocks`);
    await deploying;

    // Every block on disk is whole and matches its CID; leftovers are only in .tmp.
    const store = new BlockStore(blocksDir);
    assert.deepEqual((await store.verifyAll()).map(String), []);

    const restarted = await startNodeProcess(dataDir, ["--peer", source.node.addrs()[0]]);
    child = restarted.child;
    assert.deepEqual(readdirSync(join(blocksDir, ".tmp")), [], "restart clears temp files");
    assert.deepEqual((await store.verifyAll()).map(String), []);
    const again = await deployCar({ key: dev, manifest: compiled.root, workload: "big", chain: [token], blocks: [] });
    const info = await restarted.client.deploy(again, { wait: true });
    assert.equal(info.assessment?.kept, true, "the restarted node fetches the rest and runs");
    for (const b of compiled.blocks) assert.ok(await store.has(b.cid));
  } finally {
    child?.kill("SIGKILL");
    await closeAll([source]);
  }
});
