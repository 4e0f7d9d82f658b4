// Validates --json documents against their JSON Schemas in docs/schemas/ (ajv, draft 2020-12).
import * as fs from "node:fs";
import * as path from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { ROOT } from "./built-cli.ts";

const DIR = path.join(ROOT, "docs/schemas");
const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
for (const f of fs.readdirSync(DIR)) ajv.addSchema(JSON.parse(fs.readFileSync(path.join(DIR, f), "utf8")));

/** Throws, naming each violation, unless `doc` matches docs/schemas/NAME. */
export function assertSchema(name: string, doc: unknown): void {
  const validate = ajv.getSchema(name);
  if (!validate) throw new Error(`no schema ${name}`);
  if (!validate(doc)) throw new Error(`${name}: ${ajv.errorsText(validate.errors, { separator: "\n" })}\n${JSON.stringify(doc).slice(0, 2000)}`);
}

/** Parses stdout as exactly one JSON document and validates it. */
export function jsonOutput(name: string, stdout: string): any {
  const doc = JSON.parse(stdout);
  assertSchema(name, doc);
  return doc;
}
