// `promisegrid mcp`: the CLI's tools and docs for AI agents, over the Model Context
// Protocol (stdio). stdout carries only the protocol; logs go to stderr.
import { Ajv } from "ajv";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema, ErrorCode, ListResourcesRequestSchema, ListToolsRequestSchema, McpError, ReadResourceRequestSchema,
  type CallToolResult,
} from "@modelcontextprotocol/sdk/types.js";
import { UsageError } from "../command.ts";
import { DOCS, docText, schemaNames, type DocName } from "../docs.ts";
import { TOOLS, type ToolContext } from "./tools.ts";

export interface ServerOptions {
  /** Offer deploy and revoke, which run code on a node. */
  allowDeploy: boolean;
  cwd: string;
  version: string;
  log(line: string): void;
}

const DOC_URI = "promisegrid://docs/";
const SCHEMA_URI = "promisegrid://schemas/";

export function createServer(options: ServerOptions): Server {
  const tools = TOOLS.filter((t) => options.allowDeploy || !t.deploys);
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validators = new Map(tools.map((t) => [t.name, ajv.compile(t.inputSchema)]));
  const ctx: ToolContext = { cwd: options.cwd };
  const server = new Server(
    { name: "promisegrid", version: options.version },
    {
      capabilities: { tools: {}, resources: {} },
      instructions: "Tools for the PromiseGrid .pg language. Read promisegrid://docs/language.md before writing .pg; " +
        "check a file, apply fix, then test; explain a failing step to see why an agent refused.",
    },
  );

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: tools.map((t) => ({ name: t.name, title: t.title, description: t.description, inputSchema: t.inputSchema, outputSchema: t.outputSchema })),
  }));

  server.setRequestHandler(CallToolRequestSchema, async (request): Promise<CallToolResult> => {
    const { name, arguments: args = {} } = request.params;
    const tool = tools.find((t) => t.name === name);
    if (!tool) {
      const hint = TOOLS.some((t) => t.name === name) ? " (start the server with --allow-deploy to offer it)" : "";
      throw new McpError(ErrorCode.InvalidParams, `unknown tool '${name}'${hint}; the tools are ${tools.map((t) => t.name).join(", ")}`);
    }
    const validate = validators.get(name)!;
    if (!validate(args)) {
      const problems = (validate.errors ?? []).map((e) => `${e.instancePath || "arguments"} ${e.message}`).join("; ");
      throw new McpError(ErrorCode.InvalidParams, `invalid arguments for ${name}: ${problems}`);
    }
    const malformed = tool.malformed?.(args);
    if (malformed) throw new McpError(ErrorCode.InvalidParams, `invalid arguments for ${name}: ${malformed}`);
    const started = Date.now();
    try {
      const { doc, failed } = await tool.call(args, ctx);
      options.log(`${name}: ${failed ? "failed" : "ok"} (${Date.now() - started} ms)`);
      return { content: [{ type: "text", text: JSON.stringify(doc, null, 2) }], structuredContent: doc, isError: failed };
    } catch (e) {
      // Bad values the schema cannot see (a wrong --node URL) are the caller's; anything else is ours.
      const message = e instanceof UsageError ? e.message : `internal error: ${(e as Error)?.message ?? e}`;
      options.log(`${name}: ${message}`);
      const doc = { error: message, diagnostics: [] };
      return { content: [{ type: "text", text: JSON.stringify(doc, null, 2) }], structuredContent: doc, isError: true };
    }
  });

  server.setRequestHandler(ListResourcesRequestSchema, async () => ({
    resources: [
      ...Object.entries(DOCS).map(([file, description]) => ({ uri: DOC_URI + file, name: file, description, mimeType: "text/markdown" })),
      ...schemaNames().map((file) => ({ uri: SCHEMA_URI + file, name: file, description: `JSON Schema ${file}`, mimeType: "application/schema+json" })),
    ],
  }));

  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    const uri = request.params.uri;
    if (uri.startsWith(DOC_URI) && Object.hasOwn(DOCS, uri.slice(DOC_URI.length))) {
      return { contents: [{ uri, mimeType: "text/markdown", text: docText(uri.slice(DOC_URI.length) as DocName) }] };
    }
    if (uri.startsWith(SCHEMA_URI) && schemaNames().includes(uri.slice(SCHEMA_URI.length))) {
      return { contents: [{ uri, mimeType: "application/schema+json", text: docText(`schemas/${uri.slice(SCHEMA_URI.length)}` as `schemas/${string}.schema.json`) }] };
    }
    throw new McpError(ErrorCode.InvalidParams, `unknown resource '${uri}'`);
  });
  return server;
}
