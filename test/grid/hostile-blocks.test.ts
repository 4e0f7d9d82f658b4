// Who may fetch which block: a peer that shows no deploy of a manifest, or a
// deploy it made up, or one meant for another node, gets "missing" for every
// block but the public file chunks; outputs are never served, and assessments gossip no output CID.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import * as dagCbor from "@ipld/dag-cbor";
import { BLOCKS_PROTOCOL } from "../../grid/node.ts";
import { decodeEnvelope, encodeEnvelope } from "../../grid/envelope.ts";
import { issueToken } from "../../grid/capabilities.ts";
import { signRecord, type DeployPayload, type Signed, type TokenPayload } from "../../grid/records.ts";
import { readFileSync } from "node:fs";
import { cleanupDirs, closeAll, compileWorkload, deployHello, issueVia, newKey, startNodes, waitFor } from "./helpers.ts";
import type { Compiled } from "../../language/index.ts";
import { connectTo, exchange, hostilePeer } from "./hostile-peer.ts";

after(() => cleanupDirs());

function request(key: Awaited<ReturnType<typeof newKey>>, manifest: CID, chain: Signed<TokenPayload>[]): Promise<Signed<DeployPayload>> {
  return signRecord(key, { type: "promisegrid/deploy", v: 0, manifest, workload: "hello", holder: key.publicKey.raw, chain, at: Date.now(), nonce: new Uint8Array(randomBytes(8)) });
}

test("blocks go only to a peer deploying that manifest for a holder who deployed it here; outputs to no peer", { timeout: 60_000 }, async () => {
  const [a, b] = await startNodes(2);
  const malloryKey = await newKey();
  const h = await hostilePeer(malloryKey);
  try {
    const module = new Uint8Array(readFileSync(new URL("../../examples/hello.wasm", import.meta.url)));
    const compiled = await compileWorkload({ name: "hello", module, args: ["secret-arg"], env: { TOKEN: "s3cret" } });
    const dev = await newKey();
    const devChain = [await issueVia(b, dev)];
    const info = await deployHello(b, dev, devChain, compiled);
    assert.ok(info.assessment?.output, "the deployer sees the output's CID");
    const output = CID.parse(info.assessment!.output!);
    const wanted = [...compiled.blocks.map((x) => x.cid), output];
    const to = (await connectTo(h, b.node.addrs()[0]));
    const ask = async (req: unknown) => {
      const replies = await exchange(h, to, BLOCKS_PROTOCOL, [encodeEnvelope(["want", wanted, req])], wanted.length);
      return replies.map((r) => decodeEnvelope(r)[0]);
    };
    // Only the workload's file chunks are public (raw blocks of the manifest); the root, the workload block (args, env) and the output are not.
    const chunks = new Set(compiled.blocks.filter((x) => x.cid.code === 0x55).map((x) => String(x.cid)));
    await waitFor("the chunks to be public", async () => (await ask(null)).some((r) => r === "block"));
    const allMissing = wanted.map((c) => (chunks.has(String(c)) ? "block" : "missing"));
    // No deploy shown.
    assert.deepEqual(await ask(null), allMissing);
    // A deploy mallory made up: its own chain, its own key as holder.
    const selfChain = [await issueToken(malloryKey, { name: "self", audience: malloryKey.publicKey.raw, grants: [{ type: "run", args: ["hello"] }] })];
    assert.deepEqual(await ask(await request(malloryKey, compiled.root, selfChain)), allMissing);
    // dev's real request to B, replayed by mallory: it is not addressed to mallory.
    assert.deepEqual(await ask(await request(dev, compiled.root, devChain)), allMissing);
    // dev's deploy addressed to mallory (as if dev deployed on mallory's node): the manifest, never the output.
    const toMallory = [await issueToken(malloryKey, { name: "m", audience: dev.publicKey.raw, grants: [{ type: "run", args: ["hello"] }] })];
    const served = await ask(await request(dev, compiled.root, toMallory));
    assert.deepEqual(served, [...compiled.blocks.map(() => "block"), "missing"]);
    // The assessment gossiped to A names no output.
    await waitFor("the assessment on A", () => a.node.state.assessments.has(info.assessment!.cid));
    assert.equal(a.node.state.assessments.get(info.assessment!.cid)!.payload.output, null);
  } finally {
    await h.stop();
    await closeAll([a, b]);
  }
});

test("a manifest that lists another deployment's output as a file chunk does not make it fetchable", { timeout: 60_000 }, async () => {
  const [b] = await startNodes(1);
  const h = await hostilePeer(await newKey());
  try {
    const module = new Uint8Array(readFileSync(new URL("../../examples/hello.wasm", import.meta.url)));
    const compiled = await compileWorkload({ name: "hello", module });
    const dev = await newKey();
    const info = await deployHello(b, dev, [await issueVia(b, dev)], compiled);
    const output = CID.parse(info.assessment!.output!);
    await waitFor("the output to be stored", async () => !!(await b.node.store.get(output)));
    const outputBytes = (await b.node.store.get(output))!;
    // Mallory, who may deploy on B, writes a manifest whose module is dev's output (this node holds its bytes).
    const root = dagCbor.decode(compiled.blocks[0].bytes) as { workloads: Record<string, CID> };
    const wBlock = compiled.blocks.find((x) => x.cid.equals(root.workloads.hello))!;
    const w = dagCbor.decode(wBlock.bytes) as { files: Record<string, { name: string; size: number; chunks: CID[] }> };
    w.files.module = { name: "hello.wasm", size: outputBytes.length, chunks: [output] };
    const wBytes = dagCbor.encode(w);
    const wCid = CID.createV1(dagCbor.code, await sha256.digest(wBytes));
    const rootBytes = dagCbor.encode({ ...root, workloads: { hello: wCid } });
    const forged = { root: CID.createV1(dagCbor.code, await sha256.digest(rootBytes)), blocks: [] as { cid: CID; bytes: Uint8Array }[] };
    forged.blocks.push({ cid: forged.root, bytes: rootBytes }, { cid: wCid, bytes: wBytes });
    const mallory = await newKey();
    await deployHello(b, mallory, [await issueVia(b, mallory)], forged as Compiled);
    // Its own chunks became public by now: the public list is written once the deploy is accepted.
    const to = await connectTo(h, b.node.addrs()[0]);
    const chunk = compiled.blocks.find((x) => x.cid.code === 0x55)!.cid;
    await waitFor("dev's chunk to be public", async () => decodeEnvelope((await exchange(h, to, BLOCKS_PROTOCOL, [encodeEnvelope(["want", [chunk], null])], 1))[0])[0] === "block");
    await new Promise((r) => setTimeout(r, 500)); // mallory's deploy had the same time to be provided
    const replies = await exchange(h, to, BLOCKS_PROTOCOL, [encodeEnvelope(["want", [output], null])], 1);
    assert.deepEqual(replies.map((r) => decodeEnvelope(r)[0]), ["missing"]);
  } finally {
    await h.stop();
    await closeAll([b]);
  }
});
