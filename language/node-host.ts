// A SourceHost over the real file system, for the CLI and the grid.
import * as fs from "node:fs";
import type { SourceHost } from "./program.ts";

export const nodeHost: SourceHost = {
  readText(path) {
    try {
      return fs.readFileSync(path, "utf8");
    } catch {
      return undefined;
    }
  },
  exists(path) {
    try {
      return fs.statSync(path).isFile();
    } catch {
      return false;
    }
  },
};
