// The control API refuses bad requests with a clear error and keeps serving.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { CarWriter } from "@ipld/car";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { ApiServer } from "../../grid/api.ts";
import { GridClient, ApiError } from "../../grid/api-client.ts";
import { cleanupDirs, closeAll, startNode, type TestNode } from "./helpers.ts";

let node: TestNode;
before(async () => {
  node = await startNode({ maxBodyBytes: 16 * 1024 * 1024 });
});
after(async () => {
  await closeAll([node]);
  cleanupDirs();
});

interface Reply { status: number; body: { error?: string; code?: string } }

function call(o: { path?: string; method?: string; headers?: Record<string, string>; body?: Uint8Array }): Promise<Reply> {
  const url = new URL(node.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: url.port, path: o.path ?? "/v0/status", method: o.method ?? "GET", headers: o.headers }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end(o.body);
  });
}

const auth = () => ({ authorization: `Bearer ${node.token}` });

async function stillServing(): Promise<void> {
  const r = await call({ headers: auth() });
  assert.equal(r.status, 200);
}

test("a request with the token is served", async () => {
  const r = await call({ headers: auth() });
  assert.equal(r.status, 200);
});

test("a missing token is refused", async () => {
  const r = await call({});
  assert.equal(r.status, 401);
  assert.match(r.body.error!, /missing bearer token/);
  await stillServing();
});

test("a wrong token is refused", async () => {
  const r = await call({ headers: { authorization: "Bearer " + "0".repeat(node.token.length) } });
  assert.equal(r.status, 401);
  assert.match(r.body.error!, /wrong bearer token/);
  const short = await call({ headers: { authorization: "Bearer nope" } });
  assert.equal(short.status, 401);
  await stillServing();
});

test("a non-loopback Host is refused", async () => {
  const r = await call({ headers: { ...auth(), host: `evil.example:${new URL(node.url).port}` } });
  assert.equal(r.status, 421);
  assert.match(r.body.error!, /Host 'evil.example:\d+' is not this node's loopback address/);
  const otherPort = await call({ headers: { ...auth(), host: "127.0.0.1:1" } });
  assert.equal(otherPort.status, 421);
  await stillServing();
});

test("a foreign Origin is refused", async () => {
  const r = await call({ headers: { ...auth(), origin: "https://evil.example" } });
  assert.equal(r.status, 403);
  assert.match(r.body.error!, /Origin 'https:\/\/evil.example' is not allowed/);
  await stillServing();
});

test("the API will not listen on a non-loopback address", async () => {
  const api = new ApiServer(node.node, { host: "0.0.0.0", token: "x" });
  await assert.rejects(api.listen(), /loopback only/);
});

test("a CAR whose blocks do not match their CIDs is refused and nothing is stored", async () => {
  const good = new TextEncoder().encode("good bytes");
  const cid = CID.createV1(raw.code, await sha256.digest(good));
  const { writer, out } = CarWriter.create([cid]);
  const parts: Uint8Array[] = [];
  const done = (async () => { for await (const p of out) parts.push(p); })();
  await writer.put({ cid, bytes: new TextEncoder().encode("evil bytes") });
  await writer.close();
  await done;
  const r = await call({ method: "POST", path: "/v0/deployments", headers: { ...auth(), "content-type": "application/vnd.ipld.car" }, body: Buffer.concat(parts) });
  assert.equal(r.status, 400);
  assert.equal(r.body.code, "bad-block");
  assert.match(r.body.error!, new RegExp(`CAR block ${cid} does not match its CID`));
  assert.equal(await node.node.store.has(cid), false);
  const garbage = await call({ method: "POST", path: "/v0/deployments", headers: auth(), body: new TextEncoder().encode("not a car") });
  assert.equal(garbage.status, 400);
  assert.match(garbage.body.error!, /not a CAR file/);
  await stillServing();
});

/** Streams up to `total` bytes from one reused 1 MiB buffer; returns the reply and how much was sent. */
function hugeUpload(total: number, declareLength: boolean): Promise<{ status: number; error: string; sent: number }> {
  const url = new URL(node.url);
  const chunk = Buffer.alloc(1024 * 1024, 7);
  return new Promise((resolve, reject) => {
    let sent = 0;
    let finished = false;
    const headers: Record<string, string | number> = { ...auth(), "content-type": "application/vnd.ipld.car" };
    if (declareLength) headers["content-length"] = total;
    const req = request({ host: "127.0.0.1", port: url.port, path: "/v0/deployments", method: "POST", headers }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => {
        finished = true;
        req.destroy();
        resolve({ status: res.statusCode!, error: JSON.parse(text).error, sent });
      });
    });
    req.on("error", (e) => { if (!finished) reject(e); });
    const pump = () => {
      while (!finished && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) { req.once("drain", pump); return; }
      }
      if (!finished) req.end();
    };
    pump();
  });
}

test("a 1 GB body is refused without reading it all (declared length)", async () => {
  const r = await hugeUpload(1024 ** 3, true);
  assert.equal(r.status, 413);
  assert.match(r.error, /request body of 1073741824 bytes is over the 16777216-byte limit/);
  assert.ok(r.sent < 1024 ** 3 / 4, `sent ${r.sent} bytes before the refusal`);
  await stillServing();
});

test("a 1 GB body is refused while streaming (no declared length)", async () => {
  const r = await hugeUpload(1024 ** 3, false);
  assert.equal(r.status, 413);
  assert.match(r.error, /over the 16777216-byte limit/);
  assert.ok(r.sent < 1024 ** 3 / 4, `sent ${r.sent} bytes before the refusal`);
  await stillServing();
});

test("the typed client reports API errors with status and code", async () => {
  const bad = new GridClient(node.url, "wrong");
  await assert.rejects(bad.status(), (e: unknown) => e instanceof ApiError && e.status === 401 && e.code === "bad-token");
  await assert.rejects(node.client.deployment("nope"), (e: unknown) => e instanceof ApiError && e.status === 404);
  const unreachable = new GridClient("http://127.0.0.1:1", "x");
  await assert.rejects(unreachable.status(), /cannot reach the node/);
});

test("POST /v0/shutdown stops an in-process node too", async () => {
  const other = await startNode();
  await other.client.shutdown();
  await other.closed;
  await assert.rejects(other.client.status(), /cannot reach the node/);
});
