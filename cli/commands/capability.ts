// `promisegrid capability issue CAP FILE.pg`: the local node signs the root
// token the file declares (its issuer must be the node's agent), to the
// holder's key; the token is kept in the token store and its CID printed.
import { parseArgs } from "node:util";
import { equals } from "multiformats/bytes";
import { UsageError, type Command, type Io } from "../command.ts";
import { DiagnosticPrinter } from "../diagnostics.ts";
import { FileError, loadChecked } from "../load.ts";
import { closest, type CapabilityDecl } from "../../grammar/index.ts";
import { declaredDepth, grantOf } from "../../language/index.ts";
import { durationText } from "../../language/checker.ts";
import { ApiError } from "../../grid/api-client.ts";
import { decodeToken, nodeDataDir, userKey } from "../../grid/deploy.ts";
import { keyId, publicKeyOf } from "../../grid/keys.ts";
import { agentKeys } from "../../grid/policy.ts";
import { TokenStore, writeChain } from "../../grid/tokens.ts";
import { nodeClient } from "./deploy.ts";

/** Loads FILE.pg; prints its errors and returns undefined when it has any. */
export function checkedProgram(file: string, io: Io, command: string) {
  let loaded;
  try {
    loaded = loadChecked(file);
  } catch (e) {
    if (e instanceof FileError) throw new UsageError(e.message);
    throw e;
  }
  const { program, diagnostics } = loaded;
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (!errors.length) return program;
  const printer = new DiagnosticPrinter(io.cwd);
  for (const d of errors) io.err(printer.human(program, d) + "\n");
  io.err(`promisegrid ${command}: ${file} has ${errors.length} error${errors.length === 1 ? "" : "s"}; nothing was written\n`);
  return undefined;
}

async function issue(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { to: { type: "string" }, o: { type: "string", short: "o" }, node: { type: "string" }, "token-file": { type: "string" }, "data-dir": { type: "string" }, json: { type: "boolean" } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 2 || !positionals[1].endsWith(".pg")) throw new UsageError("expected CAP FILE.pg");
  const [name, file] = positionals;
  const to = values.to !== undefined ? parseKey(values.to, "--to") : undefined;
  const program = checkedProgram(file, io, "capability issue");
  if (!program) return 1;
  const sym = program.lookup("capability", name);
  if (!sym) {
    if (program.lookup("delegate", name)) throw new UsageError(`'${name}' is a delegation, signed by its holder: use \`promisegrid delegate ${name} ${file}\``);
    const names = program.declarations("capability").map(({ decl }) => decl.name.text);
    const near = closest(name, names);
    throw new UsageError(`${file} declares no capability '${name}'${near ? `; did you mean '${near}'?` : names.length ? ` (it declares ${names.join(", ")})` : ""}`);
  }
  const decl = sym.decl as CapabilityDecl;
  const dataDir = nodeDataDir(values["data-dir"]);
  const client = await nodeClient(values.node, values["token-file"], dataDir);
  if (!client) {
    io.err(`promisegrid capability issue: no node is running for ${dataDir}; start one with \`promisegrid node start\`\n`);
    return 1;
  }
  const fail = (message: string) => {
    io.err(`promisegrid capability issue: ${message}; nothing was issued\n`);
    return 1;
  };
  try {
    const status = await client.status();
    const nodeKey = new Uint8Array(Buffer.from(status.publicKey, "hex"));
    const keys = agentKeys(program);
    const issuer = decl.issuer?.text ?? "";
    // The node signs only as its own agent.
    if (status.agent && issuer !== status.agent) return fail(`${name} is issued by ${issuer}, but this node is ${status.agent}`);
    const issuerKey = keys.get(issuer);
    if (issuerKey && !equals(issuerKey, nodeKey)) return fail(`${name} is issued by ${issuer}, whose key is ${keyId(issuerKey)}; this node's key is ${status.key}`);
    const holderName = decl.holder?.text ?? "";
    // A holder the file gives no key is the person at this CLI, as for `run` and `deploy`.
    const holder = to ?? keys.get(holderName) ?? (await userKey()).publicKey.raw;
    const e = decl.expiresAfter;
    if (e && e.ms === undefined) return fail(`${name} expires after ${e.steps} steps, the simulator's clock, which a node cannot measure: write a duration, e.g. 'expires after 30m'`);
    const grants = decl.grants.map(grantOf);
    const depth = declaredDepth(decl.delegable, undefined);
    const token = decodeToken(await client.issue({
      holder: Buffer.from(holder).toString("hex"), grants, name, depth, expires: e?.ms === undefined ? null : Date.now() + e.ms,
    }));
    const store = new TokenStore();
    // Issued to you: it becomes the token `run`/`deploy` present for this capability on this node.
    const mine = equals(holder, (await userKey()).publicKey.raw);
    const cid = mine ? await store.setRoot({ node: nodeKey, name, holder, grants, depth }, [token]) : await store.keep([token]);
    if (values.o) await writeChain(values.o, [token]);
    if (values.json) io.out(JSON.stringify({ token: cid.toString(), capability: name, issuer: status.key, holder: keyId(holder), exp: token.payload.exp, file: values.o ?? null }) + "\n");
    else {
      io.out(cid.toString() + "\n");
      io.err(`issued ${name} from ${issuer} (${status.key}) to ${keyId(holder)}${e?.ms !== undefined ? `, expiring in ${durationText(e.ms)}` : ""}${values.o ? `; written to ${values.o}` : ""}\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof ApiError) return fail(err.message);
    throw err;
  }
}

export function parseKey(text: string, flag: string): Uint8Array {
  try {
    return publicKeyOf(text);
  } catch (e) {
    throw new UsageError(`${flag}: ${(e as Error).message}`);
  }
}

export const capability: Command = {
  name: "capability",
  summary: "issue the capability token a .pg file declares, signed by the local node",
  help: `usage: promisegrid capability issue CAP FILE.pg [--to did:key:…] [-o FILE] [--json]

The local node signs the root token that FILE.pg declares as CAP (grants,
delegable depth, and 'expires after' as a duration from now). CAP's issuer must
be the node's agent (\`node start --as\`), or, without a policy, an agent whose
key, if given, is the node's. The holder is --to, else CAP's holder's key in
FILE.pg, else (a holder without a key) yours. Prints the token's CID (what \`revoke\` and \`delegate\` take); the token is
kept in ~/.promisegrid/tokens, and a token issued to your own key becomes the
one \`run\` and \`deploy\` present for CAP on this node.
  --to did:key:…   the holder's key (default: CAP's holder's key in FILE.pg, else yours)
  -o FILE          also write the token to FILE (a token file, for --token)
  --node URL, --token-file F, --data-dir D   which node (default: the local one)
  --json           print {"token", "capability", "issuer", "holder", "exp", "file"}`,
  async run(argv, io) {
    const [sub, ...rest] = argv;
    if (sub !== "issue") throw new UsageError(`expected 'issue', got '${sub ?? ""}'`);
    return issue(rest, io);
  },
};
