// Tokens you hold, on disk: a token file is one chain (root first) as DAG-CBOR
// `{ type: "promisegrid/chain", v: 0, chain }`; its CID is its last hop's. The
// token store ($PROMISEGRID_HOME/tokens, default ~/.promisegrid/tokens) keeps
// every chain the CLI got or made (so `revoke CID` finds it) and, per node,
// capability and holder, the one root token `run`/`deploy` use: issued once,
// never silently re-minted.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as dagCbor from "@ipld/dag-cbor";
import type { CID } from "multiformats/cid";
import { DURATION_UNITS } from "../grammar/index.ts";
import { writeFileAtomic } from "./files.ts";
import { DEFAULT_HOME } from "./local.ts";
import { asSigned, recordCid, type Body, type Signed, type TokenPayload } from "./records.ts";

export type Chain = Signed<TokenPayload>[];

/** A token file that cannot be read as a chain; the message says what and where. */
export class TokenFileError extends Error {}

export function encodeChain(chain: Chain): Uint8Array {
  return dagCbor.encode({ type: "promisegrid/chain", v: 0, chain });
}

export function decodeChain(bytes: Uint8Array, what: string): Chain {
  let v: unknown;
  try {
    v = dagCbor.decode(bytes);
  } catch (e) {
    throw new TokenFileError(`${what} is not a token file (not DAG-CBOR: ${e instanceof Error ? e.message : e})`);
  }
  const c = v as { type?: unknown; chain?: unknown };
  if (!c || c.type !== "promisegrid/chain" || !Array.isArray(c.chain) || c.chain.length === 0) throw new TokenFileError(`${what} is not a token file (expected a promisegrid/chain of at least one token)`);
  c.chain.forEach((t, i) => {
    if (!asSigned(t, "promisegrid/capability")) throw new TokenFileError(`${what}: hop ${i} is not a signed capability token`);
  });
  return c.chain as Chain;
}

export function readChain(file: string): Chain {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new TokenFileError(`cannot read token file ${file}: ${(e as Error).message}`);
  }
  return decodeChain(bytes, file);
}

export async function writeChain(file: string, chain: Chain): Promise<void> {
  await writeFileAtomic(file, encodeChain(chain), 0o600);
}

/** The CID of a chain: its last hop's (what `revoke` takes). */
export function chainCid(chain: Chain): Promise<CID> {
  return recordCid(chain[chain.length - 1]);
}

export function homeDir(): string {
  return process.env.PROMISEGRID_HOME ?? DEFAULT_HOME;
}

export class TokenStore {
  constructor(readonly dir = join(homeDir(), "tokens")) {}

  /** Keeps a chain under its CID; returns the CID. */
  async keep(chain: Chain): Promise<CID> {
    const cid = await chainCid(chain);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    await writeChain(join(this.dir, `${cid}.token`), chain);
    return cid;
  }

  /** The chain ending at `cid`, when the store has it. */
  find(cid: string): Chain | undefined {
    try {
      return decodeChain(readFileSync(join(this.dir, `${cid}.token`)), cid);
    } catch {
      return undefined;
    }
  }

  /** Every kept chain whose last hop has this name. */
  named(name: string): { cid: string; chain: Chain }[] {
    let files: string[];
    try {
      files = readdirSync(this.dir).filter((f) => f.endsWith(".token") && !f.startsWith("root-"));
    } catch {
      return [];
    }
    return files.map((f) => ({ cid: f.slice(0, -".token".length), chain: this.find(f.slice(0, -".token".length)) }))
      .filter((x): x is { cid: string; chain: Chain } => !!x.chain && x.chain[x.chain.length - 1].payload.name === name);
  }

  /** Where the one root token for this node, capability and holder lives. */
  private rootPath(o: RootSlot): string {
    const h = createHash("sha256").update(dagCbor.encode({ node: o.node, name: o.name, holder: o.holder, grants: o.grants, depth: o.depth })).digest("hex").slice(0, 16);
    return join(this.dir, `root-${o.name.replace(/[^A-Za-z0-9_]/g, "_")}-${h}.token`);
  }

  root(o: RootSlot): Chain | undefined {
    try {
      return decodeChain(readFileSync(this.rootPath(o)), this.rootPath(o));
    } catch {
      return undefined;
    }
  }

  /** Makes `chain` (one root token) the slot's token; also keeps it under its CID. */
  async setRoot(o: RootSlot, chain: Chain): Promise<CID> {
    const cid = await this.keep(chain);
    await writeChain(this.rootPath(o), chain);
    return cid;
  }
}

/** One root token per node key, capability, holder key, grants and depth. */
export interface RootSlot {
  node: Uint8Array;
  name: string;
  holder: Uint8Array;
  grants: Body[];
  depth: number;
}

/** A chain named on the command line: a token file, or the CID of a token the store keeps. */
export function resolveChain(arg: string, store: TokenStore): { chain: Chain; from: string } | undefined {
  if (existsSync(arg)) return { chain: readChain(arg), from: arg };
  const kept = store.find(arg);
  return kept ? { chain: kept, from: `${arg} (kept in ${store.dir})` } : undefined;
}

/** `30m`, `2h`, `90s`: milliseconds; undefined when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([a-z]+)$/.exec(text.trim());
  if (!m || !Object.hasOwn(DURATION_UNITS, m[2])) return undefined;
  return Number(m[1]) * DURATION_UNITS[m[2]];
}
