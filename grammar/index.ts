// The syntax layer: pure functions of text, no I/O.
export * from "./ast.ts";
export { parse, unquote, MAX_NESTING, MAX_OPERATORS, type ParseOptions } from "./parser.ts";
export { format } from "./formatter.ts";
export { LineIndex, type Position, type Range } from "./line-index.ts";
export { KEYWORDS, DECLARATION_KEYWORDS, SIZE_UNITS, DURATION_UNITS } from "./tokens.ts";
export { closest, editDistance } from "./suggest.ts";
