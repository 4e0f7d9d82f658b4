// The same content as a .pg file and as YAML checked against a JSON Schema, for comparing the language server
// with yaml-language-server: A agents, 4A promises (half of the offers conditional on a capability), A
// capabilities, one declaration per line in both forms. `error` puts one undefined capability (in .pg) and one
// schema violation (in YAML) on the same promise near the middle.
export interface Content { pg: string; yaml: string; json: string; schema: object }

export function peerContent(lines: number, error = false): Content {
  const agents = Math.max(3, Math.round(lines / 6));
  const name = (i: number) => `a${(i % agents) + 1}`;
  const bad = Math.floor(agents / 2);
  const pg: string[] = [], yaml: string[] = ["agents:"];
  const doc = { agents: [] as object[], promises: [] as object[], capabilities: [] as object[] };
  for (let i = 0; i < agents; i++) {
    pg.push(`agent ${name(i)} "Agent ${i + 1}"`);
    yaml.push(`  - {name: ${name(i)}, description: "Agent ${i + 1}"}`);
    doc.agents.push({ name: name(i), description: `Agent ${i + 1}` });
  }
  yaml.push("promises:");
  for (let i = 0; i < agents; i++) {
    const [me, next, after] = [name(i), name(i + 1), name(i + 2)];
    const promises = [
      { promiser: me, promisees: [next], polarity: "+", body: ["serve", `x${i}`], holds: `cap${i}` },
      { promiser: next, promisees: [me], polarity: "-", body: ["serve", `x${i}`] },
      { promiser: me, promisees: [next, after], polarity: "+", body: ["report", `r${i}`] },
      { promiser: after, promisees: [me], polarity: "-", body: ["report", `r${i}`] },
    ];
    for (const [k, p] of promises.entries()) {
      const wrong = error && i === bad && k === 0;
      const holds = p.holds && (wrong ? `kap${i}` : p.holds);
      pg.push(`promise ${p.promiser} -> ${p.promisees.join(", ")} ${p.polarity}${p.body[0]}(${p.body[1]})${holds ? ` if holds(${holds})` : ""}`);
      const polarity = wrong ? "*" : p.polarity;
      yaml.push(`  - {promiser: ${p.promiser}, promisees: [${p.promisees.join(", ")}], polarity: '${polarity}', body: {type: ${p.body[0]}, args: [${p.body[1]}]}${p.holds ? `, condition: {holds: ${p.holds}}` : ""}}`);
      doc.promises.push({ promiser: p.promiser, promisees: p.promisees, polarity, body: { type: p.body[0], args: [p.body[1]] }, ...(p.holds ? { condition: { holds: p.holds } } : {}) });
    }
  }
  yaml.push("capabilities:");
  for (let i = 0; i < agents; i++) {
    pg.push(`capability cap${i} from ${name(i)} to ${name(i + 1)} { grants serve(x${i}) }`);
    yaml.push(`  - {name: cap${i}, from: ${name(i)}, to: ${name(i + 1)}, grants: [{type: serve, args: [x${i}]}]}`);
    doc.capabilities.push({ name: `cap${i}`, from: name(i), to: name(i + 1), grants: [{ type: "serve", args: [`x${i}`] }] });
  }
  return { pg: pg.join("\n") + "\n", yaml: yaml.join("\n") + "\n", json: JSON.stringify(doc, null, 2), schema: SCHEMA };
}

const NAME = { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]*$" };
const BODY = {
  type: "object", additionalProperties: false, required: ["type", "args"],
  properties: { type: NAME, args: { type: "array", items: { type: "string", pattern: "^(\\*|[A-Za-z_][A-Za-z0-9_]*)$" } } },
};

/** What the checker knows of the shape, as a JSON Schema (names, polarity, required fields; not the references). */
const SCHEMA = {
  $schema: "http://json-schema.org/draft-07/schema#",
  type: "object", additionalProperties: false, required: ["agents", "promises", "capabilities"],
  properties: {
    agents: { type: "array", items: { type: "object", additionalProperties: false, required: ["name"], properties: { name: NAME, description: { type: "string", description: "Free text." } } } },
    promises: {
      type: "array",
      items: {
        type: "object", additionalProperties: false, required: ["promiser", "promisees", "polarity", "body"],
        properties: {
          promiser: { ...NAME, description: "The agent that promises." },
          promisees: { type: "array", minItems: 1, uniqueItems: true, items: NAME },
          polarity: { type: "string", enum: ["+", "-"], description: "+ offers, - accepts." },
          body: BODY,
          condition: { type: "object", additionalProperties: false, required: ["holds"], properties: { holds: NAME } },
        },
      },
    },
    capabilities: {
      type: "array",
      items: { type: "object", additionalProperties: false, required: ["name", "from", "to", "grants"], properties: { name: NAME, from: NAME, to: NAME, grants: { type: "array", minItems: 1, items: BODY } } },
    },
  },
};
