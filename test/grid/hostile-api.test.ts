// The control API against a hostile local client: exact credentials, every
// request field validated, sockets that stall or flood, bodies sent unasked.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { request } from "node:http";
/** The API's connection cap (grid/api.ts MAX_CONNECTIONS). */
const MAX_CONNECTIONS = 256;
import { decodeToken, tokenCid } from "../../grid/deploy.ts";
import { cleanupDirs, closeAll, hex, newKey, startNode, type TestNode } from "./helpers.ts";

let node: TestNode;
let port: number;
before(async () => {
  node = await startNode();
  port = Number(new URL(node.url).port);
});
after(async () => {
  await closeAll([node]);
  cleanupDirs();
});

interface Reply { status: number; body: { error?: string; code?: string; token?: string } }

function call(o: { path?: string; method?: string; headers?: Record<string, string>; body?: unknown }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
    const headers = { ...(data ? { "content-type": "application/json" } : {}), ...o.headers };
    const req = request({ host: "127.0.0.1", port, path: o.path ?? "/v0/status", method: o.method ?? (data ? "POST" : "GET"), headers, agent: false }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end(data);
  });
}

const auth = () => ({ authorization: `Bearer ${node.token}` });

test("the bearer token is compared exactly", async () => {
  assert.equal((await call({ headers: auth() })).status, 200);
  // (Trailing SP and HTAB are not part of an HTTP header's value; a no-break space is.)
  for (const authorization of [`Bearer ${node.token}\u00a0`, `Bearer ${node.token}\u00a0\u00a0`, `Bearer  ${node.token}`, `Bearer\u00a0${node.token}`, `bearer ${node.token}`, "Bearer ", "Bearer", `Basic ${Buffer.from(`x:${node.token}`).toString("base64")}`, `Basic ${node.token}`, node.token, ""]) {
    const r = await call({ headers: { authorization } });
    assert.equal(r.status, 401, `'${authorization}' was accepted`);
    assert.equal(r.body.code, "bad-token");
    assert.equal(r.body.error, "refused: wrong bearer token (expected exactly 'Bearer TOKEN')");
  }
  const none = await call({});
  assert.deepEqual([none.status, none.body.code], [401, "no-token"]);
  assert.match(none.body.error!, /^refused: missing bearer token \(send 'Authorization: Bearer TOKEN' with the token from the node's data dir, file api-token\)$/);
});

test("Host must be a loopback name with this API's port", async () => {
  for (const host of ["localhost", "127.0.0.1", "[::1]", `localhost:${port + 1}`, `127.0.0.1:${port}.`, `127.0.0.1:0${port}`, `evil.example:${port}`, `127.0.0.1:${port}@evil`]) {
    const r = await call({ headers: { ...auth(), host } });
    assert.equal(r.status, 421, `Host '${host}' was accepted`);
    assert.equal(r.body.code, "bad-host");
    assert.equal(r.body.error, `refused: Host '${host}' is not this node's loopback address (127.0.0.1:${port})`);
  }
  // Host names are case-insensitive.
  for (const host of [`localhost:${port}`, `LocalHost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) assert.equal((await call({ headers: { ...auth(), host } })).status, 200, host);
});

test("a path's CID is checked", async () => {
  const r = await call({ path: "/v0/blocks/not-a-cid", headers: auth() });
  assert.deepEqual([r.status, r.body.error], [400, "block 'not-a-cid' is not a CID"]);
});

test("Origin must be this API itself, port included", async () => {
  for (const origin of [`http://127.0.0.1:${port + 1}`, `http://localhost:${port + 1}`, "http://127.0.0.1", `https://127.0.0.1:${port}`, `http://127.0.0.1:${port}.evil.example`, "null"]) {
    const r = await call({ headers: { ...auth(), origin } });
    assert.equal(r.status, 403, `Origin '${origin}' was accepted`);
    assert.equal(r.body.code, "bad-origin");
    assert.equal(r.body.error, `refused: Origin '${origin}' is not allowed (browsers on other sites may not use this API)`);
  }
  assert.equal((await call({ headers: { ...auth(), origin: `http://localhost:${port}` } })).status, 200);
  assert.equal((await call({ headers: { ...auth(), origin: `HTTP://LOCALHOST:${port}` } })).status, 200, "scheme and host are case-insensitive");
});

test("POST /v0/capabilities checks every field", async () => {
  const holder = hex((await newKey()).publicKey.raw);
  const grants = [{ type: "run", args: ["hello"] }];
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["depth 1e308", { depth: 1e308 }, /'depth' must be a whole number from 0 to 32/],
    ["depth 1.5", { depth: 1.5 }, /'depth'/],
    ["depth -1", { depth: -1 }, /'depth'/],
    ["depth as text", { depth: "2" }, /'depth'/],
    ["expires -1", { expires: -1 }, /'expires' must be a time \(whole milliseconds since the epoch\) or null/],
    ["expires 1.5", { expires: Date.now() + 1000.5 }, /'expires'/],
    ["expires past what a date holds", { expires: 9e15 }, /'expires'/],
    ["an object argument", { grants: [{ type: "run", args: [{ evil: 1 }] }] }, /grant 0: grant run: argument 0 must be a string, a number or an \{amount, unit\}/],
    ["an amount with more keys", { grants: [{ type: "pay", args: [{ amount: 1, unit: "USD", pad: "x" }] }] }, /grant 0: grant \w+: argument 0/],
    ["an amount that is not a number", { grants: [{ type: "pay", args: [{ amount: "1", unit: "USD" }] }] }, /grant 0: grant \w+: argument 0/],
    ["a list argument", { grants: [{ type: "run", args: [["a"]] }] }, /grant 0: grant \w+: argument 0/],
    ["a null argument", { grants: [{ type: "run", args: [null] }] }, /grant 0: grant \w+: argument 0/],
    ["a grant with more keys", { grants: [{ type: "run", args: [], pad: 1 }] }, /grant 0 must be \{type, args\}/],
    ["an empty grant type", { grants: [{ type: "", args: [] }] }, /grant 0/],
    ["no grants", { grants: [] }, /'grants' must be a list of 1 to 64/],
    ["a holder in capitals", { holder: holder.toUpperCase() }, /'holder'/],
    ["a name that is not text", { name: 7 }, /'name'/],
    ["an unknown field", { audience: holder }, /unknown field 'audience'/],
  ];
  for (const [what, change, error] of bad) {
    const r = await call({ path: "/v0/capabilities", headers: auth(), body: { holder, grants, ...change } });
    assert.equal(r.status, 400, `${what} was accepted`);
    assert.match(r.body.error!, error, what);
  }
  const ok = await call({ path: "/v0/capabilities", headers: auth(), body: { holder, grants: [{ type: "pay", args: [{ amount: 5, unit: "USD" }, "*", 3] }], depth: 32, expires: Date.now() + 60_000, name: "pass" } });
  assert.equal(ok.status, 200, ok.body.error);
  assert.ok(ok.body.token);
});

test("the other requests check their fields and query too", async () => {
  assert.match((await call({ path: "/v0/peers", headers: auth(), body: { addr: 7 } })).body.error!, /'addr' must be a peer's multiaddr/);
  assert.match((await call({ path: "/v0/revocations", headers: auth(), body: { token: ["x"] } })).body.error!, /'token' must be the capability token's CID/);
  assert.match((await call({ path: "/v0/revocations", headers: auth(), body: { token: "x", by: "me" } })).body.error!, /unknown field 'by'/);
  const q = await call({ path: "/v0/deployments?wait=yes", headers: auth() });
  assert.equal(q.status, 400);
  assert.match(q.body.error!, /bad query parameter 'wait=yes'/);
});

/** Resolves when the server closes the socket (or rejects when the test's own timeout hits). */
function closed(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed) resolve();
    s.on("close", () => resolve());
    s.on("error", () => {});
    s.resume();
  });
}

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => resolve(s));
    s.on("error", reject);
  });
}

test("a connection that never finishes its headers is closed", { timeout: 20_000 }, async () => {
  const s = await open();
  s.write(`GET /v0/status HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${node.token}\r\n`);
  await closed(s);
});

test("a flood of stalled connections does not lock out a real client", { timeout: 30_000 }, async () => {
  const sockets: Socket[] = [];
  for (let i = 0; i < MAX_CONNECTIONS * 3; i++) {
    const s = await open();
    s.on("error", () => {});
    s.write(`GET /v0/status HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`);
    sockets.push(s);
  }
  try {
    assert.equal((await call({ headers: auth() })).status, 200);
    const open = sockets.filter((s) => !s.destroyed && !s.readableEnded).length;
    assert.ok(open <= MAX_CONNECTIONS, `${open} stalled sockets still open`);
  } finally {
    for (const s of sockets) s.destroy();
  }
});

/** Streams a chunked body without a token over a raw socket; resolves with how much went in before the server closed. */
function unauthenticatedUpload(limit: number): Promise<{ answer: string; sent: number }> {
  const chunk = Buffer.concat([Buffer.from("100000\r\n"), Buffer.alloc(0x100000, 1), Buffer.from("\r\n")]);
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answer = "";
    const s = connect(port, "127.0.0.1");
    s.on("data", (d) => (answer += d));
    const done = () => resolve({ answer, sent });
    s.on("error", done);
    s.on("close", done);
    s.write(`POST /v0/deployments HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const pump = () => {
      while (sent < limit && !s.destroyed) {
        sent += chunk.length;
        if (!s.write(chunk)) { s.once("drain", pump); return; }
      }
      if (sent >= limit) { s.destroy(); reject(new Error(`the server read ${sent} bytes of a body it refused`)); }
    };
    pump();
  });
}

test("a refused request's body is not read: the connection closes at once", { timeout: 30_000 }, async () => {
  const r = await unauthenticatedUpload(256 * 1024 * 1024);
  assert.match(r.answer, /^HTTP\/1.1 401/);
  assert.ok(r.sent < 64 * 1024 * 1024, `${r.sent} bytes went in before the close`);
  assert.equal((await call({ headers: auth() })).status, 200);
});

test("a revocation names a token this node can prove it is above", async () => {
  const unknown = await call({ path: "/v0/revocations", headers: auth(), body: { token: "bafyreiejr6yfwgrzqqjakun2yvqfxb6zjj2kx6jcibfx3i6duaw4apjvie" } });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.code, "unknown-token");
  const holder = hex((await newKey()).publicKey.raw);
  const issued = await call({ path: "/v0/capabilities", headers: auth(), body: { holder, grants: [{ type: "run", args: ["w"] }] } });
  const token = decodeToken(issued.body.token!);
  const cid = String(await tokenCid(token));
  const r = await call({ path: "/v0/revocations", headers: auth(), body: { token: cid } });
  assert.equal(r.status, 200, r.body.error);
  assert.equal(node.node.state.isRevoked(await tokenCid(token), [node.node.publicKey]), true);
  const bad = await call({ path: "/v0/revocations", headers: auth(), body: { token: cid, chain: ["not a token"] } });
  assert.match(bad.body.error!, /'chain' item 0 is not a capability token/);
});
