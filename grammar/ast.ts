// The abstract syntax tree of a .pg file. Every node carries its exact source
// span (UTF-16 offsets, end exclusive); `LineIndex` turns spans into LSP ranges.

export interface Span { start: number; end: number }

/** A name as written, with where it was written. */
export interface Name { text: string; span: Span }

export interface DocComment { text: string; span: Span }

interface DeclBase { span: Span; doc?: DocComment }

/** A value in a `key value` field: `wasm`, `"hello.wasm"`, `64MiB`, `3 taco`, `[...]`, `{...}`. */
export type Value =
  | { kind: "ident"; name: Name; span: Span }
  | { kind: "string"; value: string; span: Span }
  | { kind: "number"; value: number; raw: string; unit?: Name; span: Span }
  | { kind: "list"; items: Value[]; span: Span }
  | { kind: "block"; fields: Field[]; span: Span };

export interface Field { key: Name; value?: Value; span: Span }

/** `serve(lunch)`, `run(*)`, `pay(2 taco)`. */
export interface Body { type: Name; args: BodyArg[]; span: Span }
export type BodyArg =
  | { kind: "any"; span: Span }
  | Value;

export type Condition =
  | { kind: "holds"; capability: Name; span: Span }
  | { kind: "kept"; promise: Name; span: Span }
  | { kind: "ref"; promise: Name; span: Span }
  | { kind: "not"; operand: Condition; span: Span }
  | { kind: "and" | "or"; left: Condition; right: Condition; span: Span };

export interface ImportDecl extends DeclBase { kind: "import"; path: string; pathSpan: Span }
export interface GridDecl extends DeclBase { kind: "grid"; name: Name; fields: Field[] }
export interface AgentDecl extends DeclBase { kind: "agent"; name: Name; description?: string; fields: Field[] }
export interface CurrencyDecl extends DeclBase { kind: "currency"; name: Name; issuer?: Name; fields: Field[] }
export interface PromiseDecl extends DeclBase {
  kind: "promise";
  /** Set when written `promise NAME: ...`; otherwise the promise is anonymous. */
  name?: Name;
  promiser?: Name;
  /** `*` is a promisee named "*". */
  promisees: Name[];
  polarity?: "+" | "-";
  body?: Body;
  condition?: Condition;
  constraints: Field[];
}
/**
 * `expires after 10 steps` (the simulator's clock) or `expires after 30m` (the
 * grid's wall clock: `ms`, and `steps` is Infinity, since a scenario has no wall time).
 */
export interface Expiry { steps: number; ms?: number; span: Span }
export interface CapabilityDecl extends DeclBase {
  kind: "capability";
  name: Name;
  issuer?: Name;
  holder?: Name;
  grants: Body[];
  delegable?: { depth?: number; span: Span };
  expiresAfter?: Expiry;
}
export interface DelegateDecl extends DeclBase {
  kind: "delegate";
  name: Name;
  parent?: Name;
  by?: Name;
  to?: Name;
  grants: Body[];
  delegable?: { depth?: number; span: Span };
  expiresAfter?: Expiry;
}
export interface WorkloadDecl extends DeclBase { kind: "workload"; name: Name; fields: Field[] }
export interface ScenarioDecl extends DeclBase { kind: "scenario"; title: string; titleSpan: Span; items: ScenarioItem[] }

export type Declaration =
  | ImportDecl | GridDecl | AgentDecl | CurrencyDecl | PromiseDecl
  | CapabilityDecl | DelegateDecl | WorkloadDecl | ScenarioDecl;

export interface Amount { value: number; raw: string; unit?: Name; span: Span }

export type Event =
  | { kind: "invoke"; agent: Name; capability: Name; at: Name; span: Span }
  | { kind: "revoke"; agent: Name; capability: Name; span: Span }
  | { kind: "break"; agent: Name; promise: Name; span: Span }
  | { kind: "pay"; agent: Name; amount: Amount; to: Name; span: Span }
  | { kind: "delegate"; agent: Name; capability: Name; to: Name; span: Span }
  | { kind: "leave" | "join"; agent: Name; span: Span }
  | { kind: "partition"; groups: Name[][]; span: Span }
  | { kind: "heal"; span: Span };

export type Outcome = "kept" | "refused" | "broken" | "unavailable";

export type Expectation =
  | { kind: "knows"; agent: Name; capability: Name; byStep?: { step: number; span: Span }; span: Span }
  | { kind: "balance"; agent: Name; amount: Amount; span: Span }
  | { kind: "promise"; promise: Name; outcome: "kept" | "broken"; forAgent?: Name; span: Span };

export type ScenarioItem =
  | { kind: "link"; agents: Name[]; span: Span }
  | { kind: "gossip"; every: number; span: Span }
  | { kind: "balance"; agent: Name; amount: Amount; span: Span }
  | { kind: "step"; step: number; stepSpan: Span; event?: Event; expect?: { outcome: Outcome; span: Span }; span: Span }
  | { kind: "expect"; expectation: Expectation; span: Span };

export interface Comment { text: string; span: Span; doc: boolean; block: boolean }

export interface SyntaxError { message: string; span: Span; code: string }

export interface SourceFile {
  declarations: Declaration[];
  comments: Comment[];
  errors: SyntaxError[];
  text: string;
}
