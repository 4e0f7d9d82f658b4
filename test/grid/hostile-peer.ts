// A bare libp2p peer that speaks the node's transports and gossip but none of
// its rules: it sends whatever a test tells it to (the attacker in hostile tests).
import "../../grid/polyfill.ts";
import { createLibp2p, type Libp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify } from "@libp2p/identify";
import { ping } from "@libp2p/ping";
import { gossipsub, type GossipSub } from "@libp2p/gossipsub";
import { lpStream } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import type { PeerId } from "@libp2p/interface";
import * as dagCbor from "@ipld/dag-cbor";
import { dhtService } from "../../grid/discovery.ts";
import { issueToken } from "../../grid/capabilities.ts";
import { recordCid, signRecord, type RevocationPayload, type Signed } from "../../grid/records.ts";
import type { PrivateKey } from "../../grid/keys.ts";

export type HostilePeer = Libp2p<{ pubsub: GossipSub; identify: unknown }>;

/** With `dht`, it also speaks the grid's DHT, so the node's lookups of providers reach it (and end soon, not at their timeout). */
export async function hostilePeer(privateKey?: PrivateKey, o: { dht?: boolean } = {}): Promise<HostilePeer> {
  return (await createLibp2p({
    privateKey,
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      ...(o.dht ? { dht: dhtService() } : {}),
      // No validation of its own: it forwards and publishes anything.
      pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, floodPublish: true, emitSelf: false, heartbeatInterval: 200 }),
    },
  })) as unknown as HostilePeer;
}

export async function connectTo(peer: HostilePeer, addr: string): Promise<PeerId> {
  return (await peer.dial(multiaddr(addr))).remotePeer;
}

/** Sends `messages` (raw bytes, each length-prefixed) on a new stream; returns the replies until the peer closes (at most `max`). */
export async function exchange(peer: HostilePeer, to: PeerId, protocol: string, messages: Uint8Array[], max = 1000): Promise<Uint8Array[]> {
  let stream;
  try {
    stream = await peer.dialProtocol(to, protocol, { signal: AbortSignal.timeout(5000) });
  } catch {
    // The node refused the stream or the connection: it drops a peer that sent it wrong blocks.
    return [];
  }
  const lp = lpStream(stream, { maxDataLength: 16 * 1024 * 1024 });
  const replies: Uint8Array[] = [];
  try {
    for (const m of messages) await lp.write(m);
    while (replies.length < max) replies.push((await lp.read({ signal: AbortSignal.timeout(5000) })).subarray());
  } catch {
    // closed or reset by the node: that ends the exchange
  } finally {
    stream.abort(new Error("done"));
  }
  return replies;
}

/** A revocation by `key` of a token it issued itself, padded with `pad` characters of grant arguments. */
export async function selfRevocation(key: PrivateKey, i: number, pad = 0): Promise<Signed<RevocationPayload>> {
  const args = Array.from({ length: Math.ceil(pad / 1000) }, (_, j) => `${i}-${j}-`.padEnd(Math.min(1000, pad - j * 1000), "x"));
  const grants = Array.from({ length: Math.ceil(args.length / 16) }, (_, g) => ({ type: "pad", args: args.slice(g * 16, g * 16 + 16) }));
  const token = await issueToken(key, { name: `t${i}`, audience: key.publicKey.raw, grants });
  return signRecord(key, { type: "promisegrid/revocation", v: 0, token: await recordCid(token), by: key.publicKey.raw, chain: [token], at: i });
}

export function encoded(record: unknown): number {
  return dagCbor.encode(record).length;
}
