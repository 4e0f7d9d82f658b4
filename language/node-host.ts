// The file system as a SourceHost, for the CLI and the grid: the one source host (host.ts) with no open documents.
export { diskHost as nodeHost } from "./host.ts";
