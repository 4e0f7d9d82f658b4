// `promisegrid delegate TOKEN --to did:key:…` or `promisegrid delegate NAME
// FILE.pg`: you hand on a token you hold, signed with your key. Attenuation
// (language/authority.ts) is checked before anything is written.
import { parseArgs } from "node:util";
import { equals } from "multiformats/bytes";
import { UsageError, type Command, type Io } from "../command.ts";
import { parse, type DelegateDecl } from "../../grammar/index.ts";
import { declaredDepth, grantOf, grantText, widenings, type Grant, type Hop, type Widening } from "../../language/index.ts";
import { durationText } from "../../language/checker.ts";
import { delegateToken } from "../../grid/capabilities.ts";
import { userKey } from "../../grid/deploy.ts";
import { keyId } from "../../grid/keys.ts";
import { agentKeys } from "../../grid/policy.ts";
import { parseDuration, resolveChain, TokenStore, writeChain, type Chain } from "../../grid/tokens.ts";
import { checkedProgram, parseKey } from "./capability.ts";

/** The checker's words (PG401-PG403) for a delegation that does not narrow its parent. */
export function wideningMessage(w: Widening, parent: string, parentHop: Hop<Uint8Array>): string {
  switch (w.kind) {
    case "issuer": return `only the holder of '${parent}' (${keyId(parentHop.holder)}) can delegate it`;
    case "not-delegable": return parentHop.depth === 0 ? `'${parent}' is not delegable: it allows no further delegation` : `delegating '${parent}' again exceeds its delegation depth`;
    case "depth": return `delegation widens authority: at most depth ${w.left} is left`;
    case "expiry": return `delegation widens authority: '${parent}' expires at ${new Date(parentHop.exp!).toISOString()}, so this delegation must expire no later`;
    case "grant": return `delegation widens authority: '${parent}' does not grant ${grantText(w.grant)}`;
  }
}

/** Grants as the language writes them (`run(lunch), run(x)`), read by the language's own grammar. */
function parseGrants(text: string): Grant[] {
  const src = `capability c from a to b { grants ${text} }`;
  const f = parse(src);
  const d = f.declarations[0];
  if (f.errors.length || d?.kind !== "capability" || d.grants.length === 0) throw new UsageError(`--grants '${text}' is not a list of grants, e.g. 'run(lunch), run(hello)'`);
  return d.grants.map(grantOf);
}

async function delegate(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      to: { type: "string" }, grants: { type: "string" }, expires: { type: "string" }, depth: { type: "string" },
      token: { type: "string" }, o: { type: "string", short: "o" }, json: { type: "boolean" },
    },
    allowPositionals: true,
    strict: true,
  });
  const fail = (message: string) => {
    io.err(`promisegrid delegate: ${message}; nothing was written\n`);
    return 1;
  };
  const store = new TokenStore();
  const key = await userKey();
  const me = key.publicKey.raw;
  const fromFile = positionals.length === 2 && positionals[1].endsWith(".pg");
  if (!fromFile && positionals.length !== 1) throw new UsageError("expected TOKEN --to did:key:…, or DELEGATION FILE.pg");

  let chain: Chain;
  let child: { holder: Uint8Array; grants: Grant[]; depth: number; exp: number | null; name: string };
  const mine = (c: Chain) => equals(c[c.length - 1].payload.aud, me);
  if (fromFile) {
    const [name, file] = positionals;
    // The checker judges the declaration first: its PG401-PG403 are the messages for a widening.
    const program = checkedProgram(file, io, "delegate");
    if (!program) return 1;
    const decl = program.lookup("delegate", name)?.decl as DelegateDecl | undefined;
    if (!decl) throw new UsageError(`${file} declares no delegation '${name}'`);
    const keys = agentKeys(program);
    const by = decl.by?.text ?? "", parent = decl.parent?.text ?? "";
    const byKey = keys.get(by);
    if (byKey && !equals(byKey, me)) return fail(`${name} is delegated by ${by}, whose key is ${keyId(byKey)}; yours is ${keyId(me)}`);
    let found: Chain | undefined;
    if (values.token) found = resolveChain(values.token, store)?.chain;
    else {
      const held = store.named(parent).filter((x) => mine(x.chain));
      if (held.length > 1) return fail(`you hold ${held.length} tokens named ${parent} (${held.map((x) => x.cid).join(", ")}): pick one with --token`);
      found = held[0]?.chain;
    }
    if (!found) return fail(`no token of ${parent} held by your key ${keyId(me)}${values.token ? ` in ${values.token}` : ""}: get one issued to you (\`promisegrid capability issue\`), or pass --token FILE`);
    chain = found;
    const holder = values.to !== undefined ? parseKey(values.to, "--to") : keys.get(decl.to?.text ?? "");
    if (!holder) return fail(`${name}'s holder ${decl.to?.text} has no key in ${file}: give it one or pass --to did:key:…`);
    const e = decl.expiresAfter;
    if (e && e.ms === undefined) return fail(`${name} expires after ${e.steps} steps, the simulator's clock, which a node cannot measure: write a duration, e.g. 'expires after 30m'`);
    const parentHop = chain[chain.length - 1].payload;
    child = { name, holder, grants: decl.grants.map(grantOf), depth: declaredDepth(decl.delegable, parentHop.depth), exp: e?.ms !== undefined ? Date.now() + e.ms : parentHop.exp };
  } else {
    const r = resolveChain(positionals[0], store);
    if (!r) return fail(`'${positionals[0]}' is neither a token file nor the CID of a token kept in ${store.dir}`);
    chain = r.chain;
    if (values.to === undefined) throw new UsageError("--to did:key:… is required (whom you delegate to)");
    const parentHop = chain[chain.length - 1].payload;
    let exp = parentHop.exp;
    if (values.expires !== undefined) {
      const ms = parseDuration(values.expires);
      if (ms === undefined || ms <= 0) throw new UsageError(`--expires '${values.expires}' is not a duration (e.g. 30m, 2h; units ms, s, m, h, d)`);
      exp = Date.now() + ms;
    }
    const depth = values.depth === undefined ? 0 : Number(values.depth);
    if (!Number.isInteger(depth) || depth < 0) throw new UsageError(`--depth '${values.depth}' is not a whole number`);
    child = { name: parentHop.name, holder: parseKey(values.to, "--to"), grants: values.grants ? parseGrants(values.grants) : parentHop.grants, depth, exp };
  }
  const parent = chain[chain.length - 1];
  if (!mine(chain)) return fail(`you do not hold ${parent.payload.name}: it is held by ${keyId(parent.payload.aud)}, and your key is ${keyId(me)}`);
  // Attenuation, by the authority rule, before anything is signed or written.
  const parentHop = { issuer: parent.payload.iss, holder: parent.payload.aud, grants: parent.payload.grants, depth: parent.payload.depth, exp: parent.payload.exp };
  const w = widenings(parentHop, { issuer: me, ...child }, equals);
  if (w.length) return fail(w.map((x) => wideningMessage(x, parent.payload.name, parentHop)).join("; "));
  const token = await delegateToken(key, parent, { name: child.name, audience: child.holder, grants: child.grants, depth: child.depth, expires: child.exp });
  const out = [...chain, token];
  const cid = await store.keep(out);
  if (values.o) await writeChain(values.o, out);
  if (values.json) io.out(JSON.stringify({ token: cid.toString(), holder: keyId(child.holder), exp: child.exp, file: values.o ?? null }) + "\n");
  else {
    io.out(cid.toString() + "\n");
    const left = child.exp === null ? "" : `, expiring in ${durationText(Math.max(0, Math.round((child.exp - Date.now()) / 1000)) * 1000)}`;
    io.err(`delegated ${parent.payload.name} as ${child.name} to ${keyId(child.holder)}${left}${values.o ? `; written to ${values.o}` : ""}\n`);
  }
  return 0;
}

export const delegateCommand: Command = {
  name: "delegate",
  summary: "hand on a capability token you hold, narrowed, signed with your key",
  help: `usage: promisegrid delegate TOKEN --to did:key:… [--grants G] [--expires D] [--depth N] [-o FILE]
       promisegrid delegate DELEGATION FILE.pg [--token TOKEN] [--to did:key:…] [-o FILE]

Signs, with your key (~/.promisegrid/key), a token under TOKEN (a token file or
a kept token's CID) that you hold. A delegation may only narrow: fewer grants,
no later expiry, less depth; one that widens is refused with the reason and
nothing is written. The second form takes the delegation FILE.pg declares (its
holder's key, grants, depth and duration); its parent is --token or the one
token of that name you hold. Prints the new token's CID; the chain is kept in
~/.promisegrid/tokens, and with -o written to FILE (for \`deploy --token\`).
  --grants G    e.g. 'run(lunch)' (default: the parent's grants)
  --expires D   a duration from now, e.g. 30m (default: the parent's expiry)
  --depth N     further delegations allowed (default 0)
  --json        print {"token", "holder", "exp", "file"}`,
  run: delegate,
};
