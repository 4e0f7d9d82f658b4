// docs/architecture.md is the map of the code: every source file of each folder is named in that folder's section,
// and every subfolder too, so a file added without a line there fails here rather than going unmapped.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, it } from "node:test";

const root = new URL("../../", import.meta.url);
const doc = fs.readFileSync(new URL("docs/architecture.md", root), "utf8");

/** The text of the `### \`folder/\`` section. */
function section(folder: string): string {
  const start = doc.indexOf(`### \`${folder}/\``);
  assert.ok(start >= 0, `docs/architecture.md has no section for ${folder}/`);
  const next = doc.indexOf("\n### ", start + 1);
  return doc.slice(start, next < 0 ? undefined : next);
}

const FOLDERS: Record<string, string[]> = {
  grammar: ["grammar"],
  language: ["language"],
  server: ["server"],
  client: ["client"],
  cli: ["cli"],
  grid: ["grid", "grid/sandboxes"],
};

describe("the architecture map", () => {
  for (const [heading, folders] of Object.entries(FOLDERS)) {
    it(`names every file and subfolder of ${folders.join(" and ")} in its section`, () => {
      const text = section(heading);
      const missing: string[] = [];
      for (const folder of folders) {
        for (const entry of fs.readdirSync(new URL(`${folder}/`, root), { withFileTypes: true })) {
          const name = entry.isDirectory() ? `${entry.name}/` : entry.name;
          if (!entry.isDirectory() && (!entry.name.endsWith(".ts") || entry.name.endsWith(".d.ts") || entry.name === "index.ts")) continue;
          if (folders.includes(`${folder}/${entry.name}`)) continue;
          if (!text.includes(`\`${name}`) && !text.includes(`\`${folder}/${name}`)) missing.push(`${folder}/${name}`);
        }
      }
      assert.deepEqual(missing, [], `named nowhere in the ${heading}/ section of docs/architecture.md`);
    });
  }
});
