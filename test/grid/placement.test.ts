// Placement (grid/placement.ts): from the offers a node knows, the peers that
// may run a workload, least loaded first, and every other peer with why not.
// Offers are real signed records; a policy's promises come from a real .pg file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { defaultPromises, loadOf, signOffer, type OfferedPromise, type OfferPayload, type SignedOffer } from "../../grid/offers.ts";
import { accepts, dialableAddrs, peerIdOfKey, plan, type PlacementAsk } from "../../grid/placement.ts";
import { loadPolicy } from "../../grid/policy.ts";
import { keyId, type PrivateKey } from "../../grid/keys.ts";
import type { SandboxKind } from "../../grid/sandboxes/driver.ts";
import { rng } from "../unit/helpers.ts";
import { cleanupDirs, tempDir } from "./helpers.ts";

const NOW = 1_000_000_000;
const GiB = 1 << 30;

async function offer(key: PrivateKey, o: { sandboxes?: SandboxKind[]; running?: number; cpus?: number; at?: number; promises?: OfferedPromise[]; memoryBytes?: number; timeMs?: number | null }): Promise<SignedOffer> {
  const payload: OfferPayload = {
    type: "promisegrid/offer", v: 0, node: key.publicKey.raw, seq: 1, at: o.at ?? NOW, addrs: [],
    sandboxes: (o.sandboxes ?? ["wasm", "container"]).map((kind) => ({ kind, memoryBytes: o.memoryBytes ?? GiB, timeMs: o.timeMs ?? null })),
    load: { running: o.running ?? 0, cpus: o.cpus ?? 2 }, promises: o.promises ?? defaultPromises(key.publicKey.raw),
  };
  return signOffer(key, payload);
}

const keys = (n: number) => Promise.all(Array.from({ length: n }, () => generateKeyPair("Ed25519")));

test("placement keeps only live offers that run the sandbox, fit the limits and promise to honour the chain's issuer; the reasons say why not", async () => {
  const [self, ops, dev, a, b, c, d, e, f, g] = await keys(10);
  // A fleet that honours capabilities ops issues.
  const fleet: OfferedPromise[] = [{ body: { type: "run", args: ["*"] }, to: "*", if: { holds: { iss: ops.publicKey.raw } } }];
  const offers = [
    await offer(self, { promises: fleet }),
    await offer(a, { promises: fleet, running: 3 }),
    await offer(b, { promises: fleet, running: 1 }),
    await offer(c, { promises: fleet, sandboxes: ["wasm"] }),
    await offer(d, { promises: fleet, at: NOW - 61_000 }),
    await offer(e, {}),
    await offer(f, { promises: fleet, memoryBytes: 32 << 20 }),
    await offer(g, { promises: [{ body: { type: "run", args: ["other"] }, to: "*", if: null }] }),
  ];
  const ask: PlacementAsk = { workload: "hello_container", sandbox: "container", memoryBytes: 64 << 20, timeMs: 10_000, holder: dev.publicKey.raw, root: ops.publicKey.raw };
  const p = plan(offers, ask, { self: self.publicKey.raw, now: NOW });
  assert.deepEqual(p.candidates.map((x) => x.peer), [b, a].map((k) => peerIdOfKey(k.publicKey.raw)), "b (1 running) before a (3 running); never this node");
  assert.match(p.candidates[0].why, new RegExp(`it runs container, it promises \\+run\\(\\*\\) to \\* if holds\\(a capability issued by ${keyId(ops.publicKey.raw)}\\), load 1 running on 2 CPUs`));
  const why = Object.fromEntries(p.skipped.map((x) => [x.peer, x.why]));
  assert.equal(Object.keys(why).length, 5);
  assert.equal(why[peerIdOfKey(c.publicKey.raw)], "it offers wasm, not container");
  assert.match(why[peerIdOfKey(d.publicKey.raw)], /signed 61 s ago .*it is gone/);
  assert.match(why[peerIdOfKey(e.publicKey.raw)], new RegExp(`only if holds\\(a capability issued by ${keyId(e.publicKey.raw)}\\); the capability presented is issued by ${keyId(ops.publicKey.raw)}`));
  assert.equal(why[peerIdOfKey(f.publicKey.raw)], "hello_container asks for 64 MiB; its container sandbox offers at most 32 MiB");
  assert.equal(why[peerIdOfKey(g.publicKey.raw)], "it promises run(hello_container) to nobody");
  // Without a chain nothing that needs one is a candidate.
  assert.deepEqual(plan(offers, { ...ask, root: undefined }, { self: self.publicKey.raw, now: NOW }).candidates, []);
});

test("promises: made to the deployer or to *, conditions combined with and, or, not", async () => {
  const [ops, other, dev, bob] = await keys(4);
  const ask: PlacementAsk = { workload: "w", sandbox: "wasm", memoryBytes: 1, timeMs: 1, holder: dev.publicKey.raw, root: ops.publicKey.raw };
  const run = { type: "run", args: ["w"] };
  const holds = (k: PrivateKey) => ({ holds: { iss: k.publicKey.raw } });
  assert.equal(accepts([{ body: run, to: [dev.publicKey.raw], if: null }], ask).ok, true);
  const notToMe = accepts([{ body: run, to: [bob.publicKey.raw], if: null }], ask);
  assert.equal(notToMe.ok, false);
  assert.match((notToMe as { why: string }).why, new RegExp(`only to ${keyId(bob.publicKey.raw)}, not to ${keyId(dev.publicKey.raw)}`));
  assert.equal(accepts([{ body: run, to: "*", if: { or: [holds(other), holds(ops)] } }], ask).ok, true);
  assert.equal(accepts([{ body: run, to: "*", if: { and: [holds(other), holds(ops)] } }], ask).ok, false);
  assert.equal(accepts([{ body: run, to: "*", if: { not: holds(ops) } }], ask).ok, false);
  assert.equal(accepts([{ body: run, to: "*", if: { not: holds(other) } }], ask).ok, true);
  assert.equal(accepts([{ body: { type: "run", args: ["v"] }, to: "*", if: null }], ask).ok, false);
});

test("property: the candidates are exactly the eligible offers, least loaded first, whatever the order of the offers", async () => {
  const ks = await keys(8);
  const [self, ops, dev] = ks;
  const kinds: SandboxKind[] = ["wasm", "container", "vm"];
  for (let seed = 1; seed <= 60; seed++) {
    const r = rng(seed);
    const offers: SignedOffer[] = [];
    for (const k of ks) {
      offers.push(await offer(k, {
        sandboxes: kinds.filter(() => r.chance(0.6)),
        running: r.int(0, 6), cpus: r.int(1, 4),
        at: NOW - r.int(0, 90_000),
        memoryBytes: r.pick([16 << 20, GiB]),
        promises: r.chance(0.7) ? [{ body: { type: "run", args: ["*"] }, to: "*", if: { holds: { iss: r.pick([ops, dev]).publicKey.raw } } }] : [],
      }));
    }
    const ask: PlacementAsk = { workload: "w", sandbox: r.pick(kinds), memoryBytes: 64 << 20, timeMs: 1000, holder: dev.publicKey.raw, root: ops.publicKey.raw };
    const got = plan(offers, ask, { self: self.publicKey.raw, now: NOW });
    const shuffled = plan([...offers].sort(() => r.next() - 0.5), ask, { self: self.publicKey.raw, now: NOW });
    assert.deepEqual(shuffled.candidates.map((c) => c.peer), got.candidates.map((c) => c.peer), `seed ${seed}: the order of the offers does not matter`);
    const eligible = offers.filter((o) => {
      const p = o.payload;
      const s = p.sandboxes.find((x) => x.kind === ask.sandbox);
      return p.node !== self.publicKey.raw && NOW - p.at <= 60_000 && !!s && s.memoryBytes >= ask.memoryBytes &&
        p.promises.some((pr) => pr.if && "holds" in pr.if && Buffer.from(pr.if.holds.iss).equals(ops.publicKey.raw));
    });
    assert.deepEqual(new Set(got.candidates.map((c) => c.peer)), new Set(eligible.map((o) => peerIdOfKey(o.payload.node))), `seed ${seed}: candidates`);
    assert.equal(got.candidates.length + got.skipped.length, offers.length - 1, `seed ${seed}: every other offer is a candidate or skipped`);
    for (let i = 1; i < got.candidates.length; i++) {
      assert.ok(loadOf(got.candidates[i - 1].offer) <= loadOf(got.candidates[i].offer), `seed ${seed}: least loaded first`);
    }
  }
});

test("a policy's +run promises are its node's offered promises: holds(CAP) names CAP's issuer key; what a node cannot observe is never offered as holding", async () => {
  const [node, ops, alice] = await keys(3);
  const dir = tempDir("pg-policy-offer-");
  writeFileSync(join(dir, "hello.wasm"), new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
  const file = join(dir, "fleet.pg");
  writeFileSync(file, `agent fleet_node { kind node }
agent ops { kind person key "${keyId(ops.publicKey.raw)}" }
agent alice { kind person key "${keyId(alice.publicKey.raw)}" }
agent nobody { kind person }
workload w { sandbox wasm module "hello.wasm" limits { memory 16MiB time 2s } }
promise fleet_node -> * +run(*) if holds(fleet_pass)
promise fleet_node -> alice +run(w) if holds(fleet_pass) and not kept(paid)
promise fleet_node -> nobody +run(w)
promise alice -> fleet_node -run(w)
promise paid: ops -> fleet_node +pay(w)
promise ops -> alice +run(*)
capability fleet_pass from ops to alice { grants run(*) }
`);
  try {
    const policy = loadPolicy(file, "fleet_node", node.publicKey.raw);
    const offered = policy.promises();
    assert.equal(offered.length, 2, "the promise to an agent without a key cannot apply to anyone");
    assert.deepEqual(offered[0], { body: { type: "run", args: ["*"] }, to: "*", if: { holds: { iss: ops.publicKey.raw } } });
    assert.deepEqual(offered[1], { body: { type: "run", args: ["w"] }, to: [alice.publicKey.raw], if: { and: [{ holds: { iss: ops.publicKey.raw } }, { not: { or: [] } }] } });
    // The offer built from it is valid and reads as the policy does.
    const signed = await offer(node, { promises: offered });
    const ask: PlacementAsk = { workload: "w", sandbox: "wasm", memoryBytes: 1, timeMs: 1, holder: alice.publicKey.raw, root: ops.publicKey.raw };
    assert.equal(plan([signed], ask, { self: ops.publicKey.raw, now: NOW }).candidates.length, 1);
    assert.equal(plan([signed], { ...ask, root: alice.publicKey.raw }, { self: ops.publicKey.raw, now: NOW }).candidates.length, 0);
  } finally {
    cleanupDirs();
  }
});

test("an offer's addresses: public ones are dialled; loopback and private ones only by a node listening on such an address itself; names, the unspecified address and other peers' addresses never", async () => {
  const [k, other] = await keys(2);
  const peer = peerIdOfKey(k.publicKey.raw);
  const offered = [
    "/ip4/8.8.4.4/tcp/4001", `/ip4/1.2.3.4/tcp/4001/p2p/${peer}`, "/ip6/2606:4700::1111/tcp/4001",
    "/ip4/127.0.0.1/tcp/22", "/ip4/127.0.0.9/tcp/4001", "/ip6/::1/tcp/4001",
    "/ip4/10.1.2.3/tcp/4001", "/ip4/192.168.1.20/tcp/4001", "/ip4/172.16.0.5/tcp/80", "/ip6/fd00::5/tcp/4001", "/ip4/169.254.169.254/tcp/80",
    "/ip4/0.0.0.0/tcp/4001", "/ip6/::/tcp/4001", "/dns4/localhost/tcp/4001", "/dns4/example.com/tcp/4001",
    `/ip4/5.6.7.8/tcp/4001/p2p/${peerIdOfKey(other.publicKey.raw)}`, "not an address", "/ip4/999.1.1.1/tcp/1",
    // This host or a link in other forms (IPv4 mapped into IPv6, NAT64), multicast: never; a link in fe80::/10 beyond
    // fe80::/16: as a link.
    "/ip6/::ffff:7f00:1/tcp/22", "/ip6/::ffff:a9fe:a9fe/tcp/80", "/ip6/64:ff9b::a9fe:a9fe/tcp/80", "/ip4/224.0.0.1/tcp/4001",
    "/ip6/ff02::1/tcp/4001", "/ip6/fe90::1/tcp/4001",
  ];
  const dial = (own: string[]) => dialableAddrs(offered, own, peer).map(String);
  const pub = ["/ip4/8.8.4.4/tcp/4001", `/ip4/1.2.3.4/tcp/4001/p2p/${peer}`, "/ip6/2606:4700::1111/tcp/4001"];
  const loop = ["/ip4/127.0.0.1/tcp/22", "/ip4/127.0.0.9/tcp/4001", "/ip6/::1/tcp/4001"];
  const lan = ["/ip4/10.1.2.3/tcp/4001", "/ip4/192.168.1.20/tcp/4001", "/ip4/172.16.0.5/tcp/80", "/ip6/fd00::5/tcp/4001"];
  // A node on the public internet only.
  assert.deepEqual(dial(["/ip4/203.1.113.7/tcp/4001"]), pub);
  // One on a LAN: the LAN's addresses too, not this host's nor a link's (a cloud's metadata service).
  assert.deepEqual(dial(["/ip4/192.168.1.7/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"]), [...pub, ...lan]);
  // A loopback grid (the tests'): its peers are on this host.
  assert.deepEqual(dial(["/ip4/127.0.0.10/tcp/4001"]), [...pub, ...loop]);
  // Listening everywhere (libp2p reports the interfaces' addresses): each kind it is on.
  assert.deepEqual(dial(["/ip4/127.0.0.1/tcp/4001", "/ip4/10.0.0.2/tcp/4001"]), [...pub, ...loop, ...lan]);
  assert.deepEqual(dial(["/ip4/169.254.3.4/tcp/4001"]), [...pub, "/ip4/169.254.169.254/tcp/80", "/ip6/fe90::1/tcp/4001"]);
  // Nothing known of this node's own addresses: public ones only.
  assert.deepEqual(dial([]), pub);
});
