// The compiler: CIDs against independent computations, determinism, CAR round trip.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { CarReader } from "@ipld/car/reader";
import * as dagCbor from "@ipld/dag-cbor";
import { base32 } from "multiformats/bases/base32";
import { CID } from "multiformats/cid";
import { carBytes, check, compile, hasherForCode, loadProgram, type Compiled } from "../../language/index.ts";
import { diskHost } from "../../language/host.ts";
import { memoryHost, VIRTUAL_DIR } from "./helpers.ts";

const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n >>>= 7; }
  out.push(n);
  return out;
};

/** A CIDv1 raw-block string built by hand: version, raw codec, multihash code, length, digest. */
function rawCid(code: number, hexDigest: string): string {
  const digest = Buffer.from(hexDigest, "hex");
  return base32.encode(Uint8Array.from([0x01, 0x55, ...varint(code), digest.length, ...digest]));
}

function workloadProgram(hash: string, moduleBytes: Uint8Array) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-compile-"));
  fs.writeFileSync(path.join(dir, "m.wasm"), moduleBytes);
  fs.writeFileSync(path.join(dir, "main.pg"), `grid g { hash ${hash} }\nworkload w {\n  sandbox wasm\n  module "m.wasm"\n  limits { memory 1MiB time 1s }\n}\n`);
  const program = loadProgram([path.join(dir, "main.pg")], diskHost);
  assert.deepEqual(check(program).filter((d) => d.severity === "error"), []);
  return { dir, program };
}

async function chunkCids(compiled: Compiled): Promise<string[]> {
  const root = dagCbor.decode(compiled.blocks[0].bytes) as { workloads: Record<string, CID> };
  const workload = compiled.blocks.find((b) => b.cid.equals(root.workloads.w))!;
  const decoded = dagCbor.decode(workload.bytes) as { files: { module: { chunks: CID[]; size: number } } };
  return decoded.files.module.chunks.map((c) => c.toString());
}

// Published test vectors for "abc".
const ABC: Record<string, { code: number; hex: string }> = {
  "sha2-256": { code: 0x12, hex: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
  "sha2-512": { code: 0x13, hex: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f" },
  "sha3-256": { code: 0x16, hex: "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532" },
  "blake2b-256": { code: 0xb220, hex: "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319" },
  blake3: { code: 0x1e, hex: "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85" },
};

describe("raw block CIDs", () => {
  for (const [hash, vector] of Object.entries(ABC)) {
    it(`${hash}: matches the known vector for "abc"`, async () => {
      const { program } = workloadProgram(hash, Buffer.from("abc"));
      const compiled = await compile(program);
      assert.deepEqual(await chunkCids(compiled), [rawCid(vector.code, vector.hex)]);
    });
  }

  const tools: [string, number, string[]][] = [
    ["sha2-256", 0x12, ["sha256sum"]],
    ["sha2-512", 0x13, ["sha512sum"]],
    ["blake2b-256", 0xb220, ["b2sum", "-l", "256"]],
  ];
  for (const [hash, code, [tool, ...args]] of tools) {
    it(`${hash}: every 1 MiB chunk of a 2.5 MiB file matches ${tool}`, async () => {
      const bytes = crypto.randomBytes(2.5 * 1024 * 1024);
      const { dir, program } = workloadProgram(hash, bytes);
      const compiled = await compile(program);
      const expected: string[] = [];
      for (let i = 0; i * 1024 * 1024 < bytes.length; i++) {
        const file = path.join(dir, `chunk${i}`);
        fs.writeFileSync(file, bytes.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024));
        const hex = execFileSync(tool, [...args, file], { encoding: "utf8" }).split(/\s/)[0];
        expected.push(rawCid(code, hex));
      }
      assert.equal(expected.length, 3);
      assert.deepEqual(await chunkCids(compiled), expected);
    });
  }

  it("--hash overrides the file's hash", async () => {
    const { program } = workloadProgram("sha2-256", Buffer.from("abc"));
    const compiled = await compile(program, { hash: "blake3" });
    assert.equal(compiled.root.multihash.code, 0x1e);
    assert.deepEqual(await chunkCids(compiled), [rawCid(ABC.blake3.code, ABC.blake3.hex)]);
  });
});

const trucks = fs.readFileSync(new URL("../../examples/food-trucks.pg", import.meta.url), "utf8");

async function rootOf(text: string): Promise<string> {
  const program = loadProgram([`${VIRTUAL_DIR}/main.pg`], memoryHost({ "main.pg": text }));
  return (await compile(program, { readFile: () => new Uint8Array() })).root.toString();
}

describe("determinism", () => {
  it("same source, same root", async () => {
    assert.equal(await rootOf(trucks), await rootOf(trucks));
  });

  it("whitespace, comments and declaration order do not change the root", async () => {
    const decls = trucks.split(/\n(?=\S)/).filter((d) => !d.startsWith("scenario"));
    const reordered = [...decls].reverse().map((d) => d.replace(/ -> /g, "\n  ->\t").replace(/ \{ /g, " {\n    ").replace(/\/\/\/[^\n]*\n/g, "")).join("\n\n// moved\n");
    assert.equal(await rootOf(reordered), await rootOf(trucks));
  });

  it("a change of meaning changes the root", async () => {
    assert.notEqual(await rootOf(trucks.replace("price 3 taco", "price 4 taco")), await rootOf(trucks));
  });
});

describe("CAR files", () => {
  it("reads back with @ipld/car; every block verifies against its CID", async () => {
    const bytes = crypto.randomBytes(1.5 * 1024 * 1024);
    const { program } = workloadProgram("sha2-512", bytes);
    const compiled = await compile(program);
    const reader = await CarReader.fromBytes(await carBytes(compiled));
    const roots = await reader.getRoots();
    assert.equal(roots.length, 1);
    assert.ok(roots[0].equals(compiled.root));
    let count = 0;
    const chunks: Uint8Array[] = [];
    for await (const block of reader.blocks()) {
      const hasher = hasherForCode(block.cid.multihash.code);
      assert.ok(hasher, `no hasher for ${block.cid.multihash.code}`);
      const digest = await hasher.digest(block.bytes);
      assert.deepEqual(digest.bytes, block.cid.multihash.bytes, `block ${block.cid} does not match its CID`);
      if (block.cid.code === 0x55) chunks.push(block.bytes);
      count++;
    }
    assert.equal(count, compiled.blocks.length);
    assert.deepEqual(Buffer.concat(chunks), bytes);
    const root = dagCbor.decode((await reader.get(compiled.root))!.bytes) as Record<string, unknown>;
    assert.equal(root.type, "promisegrid/manifest");
    assert.equal(root.hash, "sha2-512");
  });
});
