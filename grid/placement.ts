// Placement: which peer runs a deploy sent `--to any`. Pure: the offers a
// node knows, the workload and the capability presented give the peers that
// may run it, least loaded first, and every other peer with why it was left
// out. The node (node.ts) tries the candidates in that order over the deploy
// protocol (remote.ts) and moves on when one refuses.
import { equals } from "multiformats/bytes";
import { publicKeyFromRaw } from "@libp2p/crypto/keys";
import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import { isLinkLocal, isLoopback, isPrivate, tryGetNetConfig } from "@libp2p/utils";
import { covers, grantText } from "../language/authority.ts";
import { keyId } from "./keys.ts";
import { byLoad, isLive, OFFER_TTL_MS, type OfferCondition, type OfferedPromise, type SignedOffer } from "./offers.ts";
import type { SandboxKind } from "./sandboxes/driver.ts";

/** What is to be placed: the workload as its manifest declares it, and the capability presented. */
export interface PlacementAsk {
  workload: string;
  sandbox: SandboxKind;
  memoryBytes: number;
  timeMs: number;
  /** The deployer's key (the deploy request's holder). */
  holder: Uint8Array;
  /** The issuer of the chain's root token: the key a `holds` condition names (undefined: no chain). */
  root: Uint8Array | undefined;
}

export interface Considered {
  /** The node's key and libp2p peer id. */
  node: Uint8Array;
  peer: string;
  offer: SignedOffer;
  why: string;
}

export interface Plan {
  /** Peers that may run it, least loaded first (then by key). */
  candidates: Considered[];
  /** Every other known peer, with why it was left out. */
  skipped: Considered[];
}

/** What a placed deploy reports: where it ran, why there, and what else was considered. */
export interface PlacementReport {
  peer: string;
  because: string;
  considered: { peer: string; outcome: "chosen" | "refused" | "skipped" | "not tried"; why: string }[];
}

/** The peer id of a node key (libp2p names a peer by its ed25519 key). */
export function peerIdOfKey(key: Uint8Array): string {
  return publicKeyFromRaw(key).toString();
}

const MiB = 1024 * 1024;
const size = (n: number) => (n >= MiB ? `${Math.round((n / MiB) * 10) / 10} MiB` : `${n} bytes`);

function conditionText(c: OfferCondition): string {
  if ("holds" in c) return `holds(a capability issued by ${keyId(c.holds.iss)})`;
  if ("not" in c) return `not ${conditionText(c.not)}`;
  const [op, xs] = "and" in c ? ["and", c.and] : ["or", c.or];
  if (xs.length === 0) return op === "and" ? "true" : "false";
  return xs.length === 1 ? conditionText(xs[0]) : `(${xs.map(conditionText).join(` ${op} `)})`;
}

/** A condition of an offered promise, for the capability presented (a chain rooted at `root`). */
export function conditionHolds(c: OfferCondition, root: Uint8Array | undefined): boolean {
  if ("holds" in c) return !!root && equals(c.holds.iss, root);
  if ("not" in c) return !conditionHolds(c.not, root);
  if ("and" in c) return c.and.every((x) => conditionHolds(x, root));
  return c.or.some((x) => conditionHolds(x, root));
}

function promiseText(p: OfferedPromise): string {
  const to = p.to === "*" ? "*" : p.to.map(keyId).join(", ");
  return `+${grantText(p.body)} to ${to}${p.if ? ` if ${conditionText(p.if)}` : ""}`;
}

/**
 * Which of the node's offered promises accept this deploy: one that covers
 * run(WORKLOAD), made to `*` or to the deployer, whose condition holds for
 * the chain presented. Returns why it accepts, or why none does.
 */
export function accepts(promises: OfferedPromise[], ask: PlacementAsk): { ok: true; because: string } | { ok: false; why: string } {
  const want = { type: "run", args: [ask.workload] };
  const forRun = promises.filter((p) => covers(p.body, want));
  if (forRun.length === 0) return { ok: false, why: `it promises run(${ask.workload}) to nobody` };
  const toMe = forRun.filter((p) => p.to === "*" || p.to.some((k) => equals(k, ask.holder)));
  if (toMe.length === 0) return { ok: false, why: `it promises run(${ask.workload}) only to ${forRun.map((p) => (p.to as Uint8Array[]).map(keyId).join(", ")).join("; ")}, not to ${keyId(ask.holder)}` };
  const held = toMe.find((p) => !p.if || conditionHolds(p.if, ask.root));
  if (held) return { ok: true, because: `it promises ${promiseText(held)}` };
  const root = ask.root ? `the capability presented is issued by ${keyId(ask.root)}` : "no capability is presented";
  return { ok: false, why: `it promises run(${ask.workload}) only ${toMe.map((p) => `if ${conditionText(p.if!)}`).join(" or ")}; ${root}` };
}

/** The candidates for `ask` among `offers` (never `self`), least loaded first, and the rest with reasons. */
export function plan(offers: SignedOffer[], ask: PlacementAsk, o: { self: Uint8Array; now: number }): Plan {
  const candidates: Considered[] = [];
  const skipped: Considered[] = [];
  for (const offer of [...offers].sort(byLoad)) {
    const p = offer.payload;
    if (equals(p.node, o.self)) continue;
    const c = { node: p.node, peer: peerIdOfKey(p.node), offer };
    const skip = (why: string) => void skipped.push({ ...c, why });
    if (!isLive(offer, o.now)) {
      skip(`its offer was signed ${Math.round((o.now - p.at) / 1000)} s ago (an offer counts for ${OFFER_TTL_MS / 1000} s): it is gone`);
      continue;
    }
    const sandbox = p.sandboxes.find((s) => s.kind === ask.sandbox);
    if (!sandbox) {
      skip(`it offers ${p.sandboxes.map((s) => s.kind).join(", ") || "no sandbox"}, not ${ask.sandbox}`);
      continue;
    }
    if (ask.memoryBytes > sandbox.memoryBytes) {
      skip(`${ask.workload} asks for ${size(ask.memoryBytes)}; its ${ask.sandbox} sandbox offers at most ${size(sandbox.memoryBytes)}`);
      continue;
    }
    if (sandbox.timeMs !== null && ask.timeMs > sandbox.timeMs) {
      skip(`${ask.workload} may run ${ask.timeMs / 1000} s; its ${ask.sandbox} sandbox allows ${sandbox.timeMs / 1000} s`);
      continue;
    }
    const a = accepts(p.promises, ask);
    if (!a.ok) {
      skip(a.why);
      continue;
    }
    candidates.push({ ...c, why: `it runs ${ask.sandbox}, ${a.because}, load ${p.load.running} running on ${p.load.cpus} CPU${p.load.cpus === 1 ? "" : "s"}` });
  }
  return { candidates, skipped };
}

/** Where an address points: this host, a link (169.254/16, fe80::/10: cloud metadata lives there), a private network (LAN, CGNAT, ULA), or the public internet. */
type Reach = "loopback" | "link-local" | "private" | "public";

function reachOf(ma: Multiaddr): Reach | undefined {
  const net = tryGetNetConfig(ma);
  // Only IP addresses: a name may resolve to anything, so no rule over it would hold.
  if (!net || (net.type !== "ip4" && net.type !== "ip6")) return undefined;
  // The unspecified address is where a node listens, never where it is reached.
  if (net.host === "::" || net.host.startsWith("0.")) return undefined;
  if (net.type === "ip6") return reachOf6(net.host);
  // Multicast and reserved (224/4, 240/4) reach no one node.
  if (Number(net.host.split(".")[0]) >= 224) return undefined;
  return isLoopback(ma) ? "loopback" : isLinkLocal(ma) ? "link-local" : isPrivate(ma) ? "private" : "public";
}

/** IPv6 by its first 16 bits: global unicast (2000::/3) is public, fe80::/10 a link, fc00::/7 private, ::1 this host;
 * every other kind (an IPv4 address mapped into IPv6 or translated by NAT64, multicast, ...) is never dialed, since
 * it may name this host or its network in a form the rules above do not see. */
function reachOf6(host: string): Reach | undefined {
  if (host === "::1") return "loopback";
  if (host.startsWith("::")) return undefined;
  const first = parseInt(host.split(":")[0], 16);
  if ((first & 0xe000) === 0x2000) return "public";
  if ((first & 0xffc0) === 0xfe80) return "link-local";
  if ((first & 0xfe00) === 0xfc00) return "private";
  return undefined;
}

/**
 * The addresses of `peer`'s signed offer that this node may dial: public ones; loopback,
 * link-local and private ones only when this node itself listens on such an address (`own`), so a
 * stranger's offer cannot make it dial services of its own host or network. Names, the
 * unspecified address and addresses of another peer are left out.
 */
export function dialableAddrs(offered: string[], own: string[], peer: string): Multiaddr[] {
  const mine = new Set(own.flatMap((a) => {
    try {
      return [reachOf(multiaddr(a))];
    } catch {
      return [];
    }
  }));
  return offered.flatMap((a) => {
    let ma: Multiaddr;
    try {
      ma = multiaddr(a);
    } catch {
      return [];
    }
    const named = ma.getComponents().filter((c) => c.name === "p2p").map((c) => c.value);
    if (named.some((id) => id !== peer)) return [];
    const reach = reachOf(ma);
    return reach === "public" || (reach !== undefined && mine.has(reach)) ? [ma] : [];
  });
}
