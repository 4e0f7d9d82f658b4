// The meaning layer: checker, compiler (and simulator). No editor, grid or CLI code here.
export * from "./program.ts";
export * from "./checker.ts";
export * from "./authority.ts";
export * from "./compiler.ts";
export { HASHES, DEFAULT_HASH, hasherForCode } from "./hashes.ts";
