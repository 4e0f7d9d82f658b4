// Offers: each node's signed statement of what it runs (sandboxes and their
// limits), its load, and what its agent promises. Offers gossip on their own
// topic and form a CRDT: one current offer per node key, the highest `seq`
// wins, ties go to the larger record CID, so any merge order gives one state.
// Spec: docs/protocol/offers-v0.md (its CID is these messages' pCID).
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { TopicValidatorResult, type GossipSub, type Message } from "@libp2p/gossipsub";
import type { Libp2p } from "libp2p";
import type { PeerId } from "@libp2p/interface";
import { totalmem, availableParallelism } from "node:os";
import { keyId, sign, verify, type PrivateKey } from "./keys.ts";
import { decodeEnvelope, encodeEnvelope } from "./envelope.ts";
import type { Body } from "./records.ts";
import type { DriverRegistry } from "./sandboxes/index.ts";
import type { SandboxKind } from "./sandboxes/driver.ts";

/** CID (raw, sha2-256) of docs/protocol/offers-v0.md; a test keeps the two in step. */
export const OFFERS_PROTOCOL_CID = CID.parse("bafkreifkyxis5f5raepnwuzokenzytsdxuqrgleohz2nbiezdho6ebjrx4");
export const OFFERS_TOPIC = "/promisegrid/offers/0";
/** Largest offer record, DAG-CBOR bytes. */
export const MAX_OFFER_BYTES = 16 * 1024;
/** A node signs a fresh offer at least this often (and on every change of its load). */
export const REPUBLISH_MS = 15_000;
/** Readers ignore an offer this long after it was signed (a node that went away). */
export const OFFER_TTL_MS = 4 * REPUBLISH_MS;

const SANDBOXES: readonly SandboxKind[] = ["wasm", "container", "vm"];

/** When a promise holds: a capability issued by `iss`, or a combination. */
export type OfferCondition =
  | { holds: { iss: Uint8Array } }
  | { and: OfferCondition[] }
  | { or: OfferCondition[] }
  | { not: OfferCondition };

/** One of the node agent's promises, as its policy holds it. */
export interface OfferedPromise {
  body: Body;
  /** Promisees: "*" for anyone, else their public keys. */
  to: "*" | Uint8Array[];
  if: OfferCondition | null;
}

export interface OfferedSandbox {
  kind: SandboxKind;
  /** The most memory a workload may ask for here. */
  memoryBytes: number;
  /** The longest run allowed here; null: no cap beyond the workload's own. */
  timeMs: number | null;
}

export interface OfferPayload {
  type: "promisegrid/offer";
  v: 0;
  node: Uint8Array;
  /** The offer's version: a node's newer offer has a larger seq. */
  seq: number;
  at: number;
  addrs: string[];
  sandboxes: OfferedSandbox[];
  load: { running: number; cpus: number };
  promises: OfferedPromise[];
}

export interface SignedOffer {
  payload: OfferPayload;
  sig: Uint8Array;
}

export class OfferError extends Error {}

const isRecord = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isKey = (v: unknown): v is Uint8Array => v instanceof Uint8Array && v.length === 32;

function checkCondition(c: unknown, depth: number): void {
  if (depth > 8) throw new OfferError("a promise's condition is nested more than 8 deep");
  if (!isRecord(c) || Object.keys(c).length !== 1) throw new OfferError("a promise's condition is not one of holds, and, or, not");
  if ("holds" in c) {
    if (!isRecord(c.holds) || !isKey(c.holds.iss)) throw new OfferError("holds needs iss, a 32-byte public key");
  } else if ("and" in c || "or" in c) {
    const xs = (c.and ?? c.or) as unknown;
    if (!Array.isArray(xs) || xs.length > 16) throw new OfferError("and/or takes a list of at most 16 conditions");
    for (const x of xs) checkCondition(x, depth + 1);
  } else if ("not" in c) checkCondition(c.not, depth + 1);
  else throw new OfferError(`unknown condition '${Object.keys(c)[0]}'`);
}

/** Checks an untrusted value's shape, size and signature; returns it as an offer or throws saying what is wrong. */
export async function validateOffer(value: unknown): Promise<SignedOffer> {
  if (!isRecord(value) || !(value.sig instanceof Uint8Array) || !isRecord(value.payload)) throw new OfferError("not a signed record {payload, sig}");
  const size = dagCbor.encode(value).length;
  if (size > MAX_OFFER_BYTES) throw new OfferError(`the offer is ${size} bytes, over the ${MAX_OFFER_BYTES}-byte limit`);
  const p = value.payload;
  if (p.type !== "promisegrid/offer" || p.v !== 0) throw new OfferError("not a promisegrid/offer v0");
  if (!isKey(p.node)) throw new OfferError("node must be a 32-byte public key");
  if (!isCount(p.seq) || !isCount(p.at)) throw new OfferError("seq and at must be non-negative integers");
  if (!Array.isArray(p.addrs) || p.addrs.length > 16 || !p.addrs.every((a) => typeof a === "string" && a.length <= 256)) throw new OfferError("addrs must be at most 16 strings");
  if (!Array.isArray(p.sandboxes) || p.sandboxes.length > SANDBOXES.length) throw new OfferError("sandboxes must be a list of at most 3");
  const kinds = new Set<string>();
  for (const s of p.sandboxes) {
    if (!isRecord(s) || !SANDBOXES.includes(s.kind as SandboxKind) || kinds.has(s.kind as string)) throw new OfferError("a sandbox must be one of wasm, container, vm, each once");
    if (!isCount(s.memoryBytes) || !(s.timeMs === null || isCount(s.timeMs))) throw new OfferError(`sandbox ${s.kind}: memoryBytes and timeMs must be non-negative integers (timeMs may be null)`);
    kinds.add(s.kind as string);
  }
  if (!isRecord(p.load) || !isCount(p.load.running) || !isCount(p.load.cpus)) throw new OfferError("load must be {running, cpus}, non-negative integers");
  if (!Array.isArray(p.promises) || p.promises.length > 64) throw new OfferError("promises must be a list of at most 64");
  for (const pr of p.promises) {
    if (!isRecord(pr) || !isRecord(pr.body) || typeof pr.body.type !== "string" || !Array.isArray(pr.body.args)) throw new OfferError("a promise needs a body {type, args}");
    if (!(pr.to === "*" || (Array.isArray(pr.to) && pr.to.length <= 64 && pr.to.every(isKey)))) throw new OfferError("a promise's to must be \"*\" or a list of public keys");
    if (pr.if !== null) checkCondition(pr.if, 0);
  }
  const offer = value as unknown as SignedOffer;
  if (!(await verify(offer.payload.node, dagCbor.encode(offer.payload), offer.sig))) throw new OfferError("the offer's signature does not match its node key");
  return offer;
}

export async function signOffer(key: PrivateKey, payload: OfferPayload): Promise<SignedOffer> {
  return { payload, sig: await sign(key, dagCbor.encode(payload)) };
}

export async function offerCid(offer: SignedOffer): Promise<CID> {
  return CID.createV1(dagCbor.code, await sha256.digest(dagCbor.encode(offer)));
}

/** Whether `a` supersedes `b` (same node): higher seq, else the larger record CID. */
function newer(a: { offer: SignedOffer; cid: string }, b: { offer: SignedOffer; cid: string }): boolean {
  if (a.offer.payload.seq !== b.offer.payload.seq) return a.offer.payload.seq > b.offer.payload.seq;
  return a.cid > b.cid;
}

/** The offers CRDT: a last-writer-wins register per node key, merged by `newer`. */
export class OfferSet {
  private readonly byNode = new Map<string, { offer: SignedOffer; cid: string }>();

  /** Validates and adds an offer; true when it became its node's current offer. Throws OfferError for a bad one. */
  async add(value: unknown): Promise<boolean> {
    const offer = await validateOffer(value);
    const entry = { offer, cid: (await offerCid(offer)).toString() };
    const node = Buffer.from(offer.payload.node).toString("hex");
    const cur = this.byNode.get(node);
    if (cur && !newer(entry, cur)) return false;
    this.byNode.set(node, entry);
    return true;
  }

  /** Whether a valid offer would be stored (used to forward only news). */
  supersedes(offer: SignedOffer, cid: string): boolean {
    const cur = this.byNode.get(Buffer.from(offer.payload.node).toString("hex"));
    return !cur || newer({ offer, cid }, cur);
  }

  async merge(other: OfferSet): Promise<void> {
    for (const o of other.all()) await this.add(o);
  }

  all(): SignedOffer[] {
    return [...this.byNode.values()].map((e) => e.offer);
  }

  get(nodeKey: Uint8Array): SignedOffer | undefined {
    return this.byNode.get(Buffer.from(nodeKey).toString("hex"))?.offer;
  }

  /** Canonical summary: node key -> current record CID, sorted. Equal states give equal summaries. */
  summary(): string[] {
    return [...this.byNode].map(([k, e]) => `${k}=${e.cid}`).sort();
  }
}

/** Whether an offer still counts: signed within OFFER_TTL_MS (older: the node went away). */
export function isLive(o: SignedOffer, now = Date.now()): boolean {
  return now - o.payload.at <= OFFER_TTL_MS;
}

/** A node's load as its offer states it: deployments running per CPU. */
export function loadOf(o: SignedOffer): number {
  return o.payload.load.running / Math.max(1, o.payload.load.cpus);
}

/** Least loaded first, then by node key (so every node orders the same offers the same way). */
export function byLoad(a: SignedOffer, b: SignedOffer): number {
  return loadOf(a) - loadOf(b) || Buffer.compare(a.payload.node, b.payload.node);
}

/** What the default node promises: run(*) to whoever holds a capability its own key issued (its operator). */
export function defaultPromises(nodeKey: Uint8Array): OfferedPromise[] {
  return [{ body: { type: "run", args: ["*"] }, to: "*", if: { holds: { iss: nodeKey } } }];
}

/** An offer as JSON for the API and the CLI (keys as peer ids). */
export function offerJson(o: SignedOffer, now = Date.now()) {
  const p = o.payload;
  const cond = (c: OfferCondition): unknown =>
    "holds" in c ? { holds: { iss: keyId(c.holds.iss) } } : "and" in c ? { and: c.and.map(cond) } : "or" in c ? { or: c.or.map(cond) } : { not: cond(c.not) };
  return {
    node: keyId(p.node),
    seq: p.seq,
    at: p.at,
    live: isLive(o, now),
    addrs: p.addrs,
    sandboxes: p.sandboxes,
    load: p.load,
    promises: p.promises.map((pr) => ({ body: pr.body, to: pr.to === "*" ? "*" : pr.to.map(keyId), if: pr.if ? cond(pr.if) : null })),
  };
}

export interface OffersHost {
  libp2p: Libp2p;
  key: PrivateKey;
  drivers: DriverRegistry;
  /** Deployments running now. */
  running(): number;
  /** The node agent's promises; the default node's when absent. */
  promises?(): OfferedPromise[];
}

/** This node's offer and everyone's, kept current over gossip. */
export class Offers {
  readonly set = new OfferSet();
  private seq = 0;
  private timer?: NodeJS.Timeout;
  private pending?: NodeJS.Timeout;
  private stopped = false;
  constructor(private readonly host: OffersHost) {}

  private get pubsub(): GossipSub {
    return (this.host.libp2p.services as { pubsub: GossipSub }).pubsub;
  }

  async start(): Promise<void> {
    const pubsub = this.pubsub;
    // Only valid, signed offers newer than the current one are stored and forwarded.
    pubsub.topicValidators.set(OFFERS_TOPIC, async (_peer: PeerId, msg: Message) => {
      try {
        const payload = decodeEnvelope(msg.data, OFFERS_PROTOCOL_CID);
        if (payload[0] !== "offer") return TopicValidatorResult.Reject;
        const offer = await validateOffer(payload[1]);
        if (!this.set.supersedes(offer, (await offerCid(offer)).toString())) return TopicValidatorResult.Ignore;
        await this.set.add(offer);
        return TopicValidatorResult.Accept;
      } catch {
        return TopicValidatorResult.Reject;
      }
    });
    pubsub.subscribe(OFFERS_TOPIC);
    // A new neighbour learns this node's offer without waiting for the next round.
    this.host.libp2p.addEventListener("peer:connect", () => this.changed());
    this.timer = setInterval(() => void this.publish(), REPUBLISH_MS);
    this.timer.unref();
    await this.publish();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.pending);
  }

  /** Something in the offer changed (load, peers): publish a new one soon. */
  changed(): void {
    if (this.stopped || this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.publish();
    }, 200);
    this.pending.unref();
  }

  private async current(): Promise<OfferPayload> {
    const report = await this.host.drivers.report();
    const sandboxes = SANDBOXES.filter((k) => report[k]?.ok).map((kind): OfferedSandbox => ({ kind, memoryBytes: totalmem(), timeMs: null }));
    const now = Date.now();
    this.seq = Math.max(this.seq + 1, now);
    return {
      type: "promisegrid/offer",
      v: 0,
      node: this.host.key.publicKey.raw,
      seq: this.seq,
      at: now,
      addrs: this.host.libp2p.getMultiaddrs().map(String).slice(0, 16),
      sandboxes,
      load: { running: this.host.running(), cpus: availableParallelism() },
      promises: this.host.promises?.() ?? defaultPromises(this.host.key.publicKey.raw),
    };
  }

  /** Signs a fresh offer, stores it and gossips it. */
  async publish(): Promise<SignedOffer | undefined> {
    if (this.stopped) return undefined;
    const offer = await signOffer(this.host.key, await this.current());
    await this.set.add(offer);
    try {
      await this.pubsub.publish(OFFERS_TOPIC, encodeEnvelope(["offer", offer], OFFERS_PROTOCOL_CID));
    } catch {
      // no peers yet: the next round or connection carries it
    }
    return offer;
  }

  mine(): SignedOffer | undefined {
    return this.set.get(this.host.key.publicKey.raw);
  }
}
