// The meaning layer: checker, compiler (and simulator). No editor, grid or CLI code here.
export * from "./program.ts";
export * from "./checker.ts";
export * from "./authority.ts";
export * from "./compiler.ts";
export { MAX_WORKLOAD_FILE_BYTES, readWorkloadFile } from "./confine.ts";
export { HASHES, DEFAULT_HASH, hasherForCode } from "./hashes.ts";
