// `promisegrid key`: your key as a did:key, the name other agents' policies know you by.
import { parseArgs } from "node:util";
import { join } from "node:path";
import { UsageError, type Command } from "../command.ts";
import { userKey } from "../../grid/deploy.ts";
import { keyId } from "../../grid/keys.ts";
import { homeDir } from "../../grid/tokens.ts";

export const key: Command = {
  name: "key",
  summary: "print your key as a did:key (created in ~/.promisegrid/key if missing)",
  help: `usage: promisegrid key [--json]

Prints your ed25519 public key as a did:key (did:key:z6Mk…): what you put in an
agent's \`key\` field, and what \`delegate --to\` and \`capability issue --to\` take.
The private key lives in $PROMISEGRID_HOME/key (default ~/.promisegrid/key,
mode 0600) and is created when missing.
  --json   print {"key", "path"}`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({ args: argv, options: { json: { type: "boolean" } }, allowPositionals: true, strict: true });
    if (positionals.length) throw new UsageError("expected no arguments");
    const path = join(homeDir(), "key");
    const did = keyId((await userKey(homeDir())).publicKey.raw);
    io.out(values.json ? JSON.stringify({ key: did, path }) + "\n" : did + "\n");
    return 0;
  },
};
