import type { Command } from "../command.ts";
export const mcp: Command = { name: "mcp", summary: "", help: "", async run() { return 0; } };
