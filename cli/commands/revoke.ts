// `promisegrid revoke TOKEN`: a revocation signed by the key that issued the
// token (the node's, through its API, or yours), handed to the node, which
// gossips it. Every node counts it only from the hop's issuer or one above.
import { parseArgs } from "node:util";
import { CID } from "multiformats/cid";
import { equals } from "multiformats/bytes";
import * as dagCbor from "@ipld/dag-cbor";
import { UsageError, type Command } from "../command.ts";
import { ApiError } from "../../grid/api-client.ts";
import { nodeDataDir, userKey } from "../../grid/deploy.ts";
import { keyId } from "../../grid/keys.ts";
import { signRecord } from "../../grid/records.ts";
import { chainCid, resolveChain, TokenStore, type Chain } from "../../grid/tokens.ts";
import { nodeClient } from "./deploy.ts";

function isCid(s: string): boolean {
  try {
    CID.parse(s);
    return true;
  } catch {
    return false;
  }
}

export const revoke: Command = {
  name: "revoke",
  summary: "revoke a capability token you or your node issued (gossiped to the node's peers)",
  help: `usage: promisegrid revoke TOKEN [--node URL] [--token-file F] [--data-dir D] [--json]

TOKEN is a token file, a token's CID (as \`deploy\`, \`capability issue\` and
\`delegate\` print it), or a capability's name (the one token of that name
kept in ~/.promisegrid/tokens and not yet revoked). The revocation is signed by
the key that issued that token: the node's (through its API) for a token it
issued, yours for a hop you delegated. The node gossips it; every node then
refuses deploys whose chain holds that token. A revocation by a key that issued
neither the token nor a hop above it would count nowhere, so it is refused
here. Revoking twice is one revocation.
  --node URL       the node's control API (default: the local node)
  --token-file F   the node's API token (default: its data dir's api-token)
  --json           print {"token", "revocation"}`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { node: { type: "string" }, "token-file": { type: "string" }, "data-dir": { type: "string" }, json: { type: "boolean" } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length !== 1) throw new UsageError("expected exactly one TOKEN (a token file, a token CID or a capability name)");
    const arg = positionals[0];
    const dataDir = nodeDataDir(values["data-dir"]);
    const client = await nodeClient(values.node, values["token-file"], dataDir);
    const fail = (message: string) => {
      if (values.json) io.out(JSON.stringify({ error: message, code: "refused", diagnostics: [] }) + "\n");
      io.err(`promisegrid revoke: ${message}\n`);
      return 1;
    };
    if (!client) return fail(`no node is running for ${dataDir}; pass --node URL`);
    const done = (token: string, revocation: string, again: boolean) => {
      if (values.json) io.out(JSON.stringify({ token, revocation }) + "\n");
      else io.out(`${again ? "already revoked" : "revoked"} ${token} (revocation ${revocation})\n`);
      return 0;
    };
    try {
      const state = await client.state();
      const store = new TokenStore();
      let chain: Chain | undefined = resolveChain(arg, store)?.chain;
      if (!chain && !isCid(arg)) {
        // A capability's name: the one kept token of that name not yet revoked.
        const named = store.named(arg);
        if (!named.length) return fail(`'${arg}' is neither a token file, a token CID, nor the name of a token kept in ${store.dir}`);
        const live = named.filter((x) => !state.revocations.some((r) => r.token === x.cid));
        if (!live.length) return done(named[0].cid, state.revocations.find((r) => r.token === named[0].cid)!.cid, true);
        if (live.length > 1) return fail(`${live.length} tokens named ${arg} are kept (${live.map((x) => x.cid).join(", ")}): revoke one by its CID`);
        chain = live[0].chain;
      }
      if (!chain) {
        // A CID the CLI does not keep: only the node can know it (a token it issued).
        try {
          return done(arg, await client.revoke(arg), false);
        } catch (e) {
          if (e instanceof ApiError && e.code === "unknown-token") return fail(`${arg} is not a known token: not kept in ${store.dir}, and the node did not issue it`);
          throw e;
        }
      }
      const token = (await chainCid(chain)).toString();
      const status = await client.status();
      const nodeKey = new Uint8Array(Buffer.from(status.publicKey, "hex"));
      const key = await userKey();
      const me = key.publicKey.raw;
      // The key that issued this hop, else the nearest issuer above it that is the node's or yours.
      const signer = [...chain].reverse().map((t) => t.payload.iss).find((iss) => equals(iss, me) || equals(iss, nodeKey));
      if (!signer) {
        return fail(`${token} was issued by ${keyId(chain[chain.length - 1].payload.iss)}; neither your key (${keyId(me)}) nor the node's (${status.key}) issued it or a hop above it, so a revocation by either would count nowhere`);
      }
      const signerHex = Buffer.from(signer).toString("hex");
      const existing = state.revocations.find((r) => r.token === token && r.by === signerHex);
      if (existing) return done(token, existing.cid, true);
      if (equals(signer, nodeKey)) {
        return done(token, await client.revoke(token, chain.map((t) => Buffer.from(dagCbor.encode(t)).toString("base64"))), false);
      }
      const record = await signRecord(key, { type: "promisegrid/revocation", v: 0, token: CID.parse(token), by: me, chain, at: Date.now() });
      return done(token, await client.publishRevocation(Buffer.from(dagCbor.encode(record)).toString("base64")), false);
    } catch (e) {
      if (e instanceof ApiError) return fail(e.message);
      throw e;
    }
  },
};

