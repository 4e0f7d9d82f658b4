// The .pg parser: chevrotain, with embedded actions that build the AST directly.
// The token stream is cut into declarations at each declaration keyword, and each
// declaration is parsed on its own, so a typo costs one diagnostic and the rest
// of the file is still understood.
import { EmbeddedActionsParser, type IOrAlt, type IToken, type TokenType } from "chevrotain";
import type {
  AgentDecl, Amount, Body, BodyArg, CapabilityDecl, Comment, Condition, CurrencyDecl, Declaration, DelegateDecl,
  Event, Expectation, Field, GridDecl, ImportDecl, Name, PromiseDecl, ScenarioDecl, ScenarioItem, SourceFile, Span,
  SyntaxError, Value, WorkloadDecl,
} from "./ast.ts";
import {
  allTokens, Arrow, BiArrow, Colon, Comma, DashedName, DECLARATION_KEYWORDS, Identifier, keywordTokens as K,
  LBrace, LBracket, lexer, LParen, Minus, NumberLiteral, Pipe, Plus, RBrace, RBracket, RParen, Star,
  StringLiteral, DURATION_UNITS, validatedLexer,
} from "./tokens.ts";
import { closest } from "./suggest.ts";

const declarationStarts = new Set<TokenType>(DECLARATION_KEYWORDS.map((k) => K[k]));
/** Tokens after a number that cannot follow a unit, so an identifier before them is a field key. */
const outcomes = new Set<TokenType>([K.kept, K.refused, K.broken]);
const valueStarts = new Set<TokenType>([NumberLiteral, StringLiteral, LBracket, LBrace, Colon]);

/** consume's options for chevrotain's own message (one object, not one per name). */
const DEFAULT_MESSAGE = { ERR_MSG: undefined };

/** End offset (exclusive); the parsing lexer tracks start offsets only. */
function tokenEnd(t: IToken): number {
  return t.startOffset + t.image.length;
}

function tokenSpan(t: IToken): Span {
  return { start: t.startOffset, end: tokenEnd(t) };
}

function isReal(t: IToken | undefined): t is IToken {
  return !!t && !t.isInsertedInRecovery && Number.isFinite(t.startOffset);
}

export function unquote(image: string): string {
  const inner = image.slice(1, -1);
  // Most strings have no escapes: no pass of the pattern over them.
  return inner.includes("\\") ? inner.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c === "t" ? "\t" : c)) : inner;
}

class PgParser extends EmbeddedActionsParser {
  /** The alternatives of each OR that runs per declaration or per token, built once (chevrotain's advice: a new
   * array of closures per call is a good part of a parse); ORs whose alternatives close over a rule's locals build
   * theirs per call. */
  private readonly alts: {
    declaration?: IOrAlt<Declaration | undefined>[]; polarity?: IOrAlt<"+" | "-">[]; promisee?: IOrAlt<Name>[];
    value?: IOrAlt<Value>[]; word?: IOrAlt<IToken>[]; bodyArg?: IOrAlt<BodyArg>[]; unary?: IOrAlt<Condition>[];
    grant?: IOrAlt<void>[]; expiryUnit?: IOrAlt<IToken>[];
  } = {};

  /** The items of the running repetitions, innermost last (`top` is its length): a repetition's closure, made once
   * rather than once per call, adds here, and the items become a list of their exact length (`[]` and push would
   * make room for 17; closures and spare room were a good part of what a parse allocated). */
  private items: unknown[] = [];
  private top = 0;
  /** The declaration whose grant block is being parsed. */
  private grantTarget: Pick<CapabilityDecl, "grants" | "delegable" | "expiresAfter"> = { grants: [] };

  /** The declarations that `file` finished, also when it then failed. */
  finished: Declaration[] = [];

  /** Lets go of the last parse's tokens and nodes (a parser lives on between parses). */
  release(): void {
    this.input = [];
    this.finished = [];
    this.partial = undefined;
    this.grantTarget = { grants: [] };
  }

  /** `validate`: chevrotain's checks of the grammar (ambiguities, left recursion), a good part of building a parser:
   * a test runs them (validateGrammar), the parsers in use skip them. */
  constructor(recoveryEnabled: boolean, validate = false) {
    super(allTokens, { recoveryEnabled, maxLookahead: 3, skipValidations: !validate });
    this.performSelfAnalysis();
  }

  /** The whole file in one pass, for the common case of a file without errors. It chooses among the declarations
   * itself rather than through `declaration` (one rule call less per declaration; this parser does not recover, so
   * its rules' bounds change nothing). */
  public file = this.RULE("file", (): Declaration[] => {
    const out: Declaration[] = (this.finished = []);
    this.MANY(() => {
      const d = this.OR(this.declarations());
      if (!this.RECORDING_PHASE) out.push(d!);
    });
    return out;
  });

  /** Span from `first` to the last token consumed so far. */
  private from(first: IToken | Span): Span {
    if (this.RECORDING_PHASE) return { start: 0, end: 0 };
    // A token inserted by recovery has no position: start where the text left off.
    const start = "startOffset" in first ? (isReal(first) ? first.startOffset : this.nameOf(first).span.start) : first.start;
    const last = this.LA(0);
    const end = isReal(last) ? tokenEnd(last) : start;
    return { start, end: Math.max(start, end) };
  }

  /** The end of a node that starts at `start` and ends with the last token consumed so far. */
  private endFrom(start: number): number {
    if (this.RECORDING_PHASE) return 0;
    const last = this.LA(0);
    const end = isReal(last) ? tokenEnd(last) : start;
    return Math.max(start, end);
  }

  /** A token's span, or an empty one where the text left off for a token inserted by recovery. */
  private spanOf(t: IToken): Span {
    return isReal(t) ? tokenSpan(t) : this.nameOf(t).span;
  }

  private nameOf(t: IToken): Name {
    if (this.RECORDING_PHASE) return { text: "", span: { start: 0, end: 0 } };
    if (!isReal(t)) {
      const prev = this.LA(0);
      const at = isReal(prev) ? tokenEnd(prev) : 0;
      return { text: "", span: { start: at, end: at } };
    }
    return { text: t.image, span: tokenSpan(t) };
  }

  /** `expect unavailable` after a step's event (not `expect unavailable knows ...` nor `expect unavailable kept`, a next item about a name). */
  private unavailableFollows = (at = 2): boolean => {
    const t = this.LA(at), next = this.LA(at + 1).tokenType;
    return t.tokenType === Identifier && t.image === "unavailable" && next !== K.knows && next !== K.kept && next !== K.broken;
  };
  private name = (idx: number): Name => this.nameOf(this.consume(idx, Identifier, DEFAULT_MESSAGE));

  /** A unit follows a number when it is written attached (`64MiB`) or cannot be the next field's key. */
  private unitFollows(): boolean {
    const next = this.LA(1);
    if (next.tokenType !== Identifier) return false;
    const prev = this.LA(0);
    if (isReal(prev) && tokenEnd(prev) === next.startOffset) return true;
    return !valueStarts.has(this.LA(2).tokenType);
  }

  /** The declaration being parsed, so a declaration cut short by an error still reaches the AST. */
  partial: Declaration | undefined;
  stepsErrors: SyntaxError[] = [];

  private begin<D extends Declaration>(d: D): D {
    if (!this.RECORDING_PHASE) this.partial = d;
    return d;
  }

  public declaration = this.RULE("declaration", (): Declaration | undefined => {
    this.partial = undefined;
    return this.OR(this.declarations());
  });

  private declarations(): IOrAlt<Declaration | undefined>[] {
    return (this.alts.declaration ??= [
      { ALT: () => this.SUBRULE(this.importDecl) },
      { ALT: () => this.SUBRULE(this.gridDecl) },
      { ALT: () => this.SUBRULE(this.agentDecl) },
      { ALT: () => this.SUBRULE(this.currencyDecl) },
      { ALT: () => this.SUBRULE(this.promiseDecl) },
      { ALT: () => this.SUBRULE(this.capabilityDecl) },
      { ALT: () => this.SUBRULE(this.delegateDecl) },
      { ALT: () => this.SUBRULE(this.workloadDecl) },
      { ALT: () => this.SUBRULE(this.scenarioDecl) },
    ]);
  }

  private importDecl = this.RULE("importDecl", (): Declaration => {
    const kw = this.CONSUME(K.import);
    const path = this.CONSUME(StringLiteral);
    return this.begin<ImportDecl>({ kind: "import", path: isReal(path) ? unquote(path.image) : "", pathSpan: this.nameOf(path).span, span: this.from(kw) });
  });

  private add(item: unknown): void {
    this.items[this.top++] = item;
  }

  /** Runs a repetition whose closure adds its items (`add`), and returns them. If it fails, the items so far go to
   * `partial`, the list of the declaration that recovery keeps. */
  private collect<T, O>(repeat: (options: O) => void, options: O, partial?: T[]): T[] {
    const base = this.top;
    let list: T[] | undefined;
    try {
      repeat.call(this, options);
      list = this.items.slice(base, this.top) as T[];
      return list;
    } finally {
      if (!list && partial) for (let i = base; i < this.top; i++) partial.push(this.items[i] as T);
      for (let i = base; i < this.top; i++) this.items[i] = undefined; // not to keep a tree alive
      this.top = base;
    }
  }

  /** Sets a declaration's end once its last token is consumed (its span was made at its first). */
  private finish(d: Declaration): void {
    d.span.end = this.endFrom(d.span.start);
  }

  private optionalFields = (): Field[] => this.SUBRULE(this.fieldBlock);

  private gridDecl = this.RULE("gridDecl", (): Declaration => {
    const kw = this.CONSUME(K.grid);
    const d = this.begin<GridDecl>({ kind: "grid", name: this.name(1), fields: [], span: this.from(kw) });
    const fields = this.OPTION(this.optionalFields);
    if (fields) d.fields = fields;
    this.finish(d);
    return d;
  });

  private description = (): string => unquote(this.CONSUME(StringLiteral).image);

  private agentDecl = this.RULE("agentDecl", (): Declaration => {
    const kw = this.CONSUME(K.agent);
    const d = this.begin<AgentDecl>({ kind: "agent", name: this.name(1), fields: [], span: this.from(kw) });
    d.description = this.OPTION(this.description);
    const fields = this.OPTION2(this.optionalFields);
    if (fields) d.fields = fields;
    this.finish(d);
    return d;
  });

  private currencyDecl = this.RULE("currencyDecl", (): Declaration => {
    const kw = this.CONSUME(K.currency);
    const d = this.begin<CurrencyDecl>({ kind: "currency", name: this.name(1), fields: [], span: this.from(kw) });
    this.CONSUME(K.issued);
    this.CONSUME(K.by);
    d.issuer = this.name(2);
    const fields = this.OPTION(this.optionalFields);
    if (fields) d.fields = fields;
    this.finish(d);
    return d;
  });

  private promiseName = (): Name => {
    const n = this.name(1);
    this.CONSUME(Colon);
    return n;
  };
  private promisees = { SEP: Comma, DEF: () => this.add(this.SUBRULE(this.promisee)) };
  private ifCondition = (): Condition => {
    this.CONSUME(K.if);
    return this.SUBRULE(this.condition);
  };

  private promiseDecl = this.RULE("promiseDecl", (): Declaration => {
    const kw = this.CONSUME(K.promise);
    const d = this.begin<PromiseDecl>({ kind: "promise", promisees: [], constraints: [], span: this.from(kw) });
    d.name = this.OPTION(this.promiseName);
    d.promiser = this.name(2);
    this.CONSUME(Arrow);
    d.promisees = this.collect(this.AT_LEAST_ONE_SEP, this.promisees, d.promisees);
    d.polarity = this.OR(this.alts.polarity ??= [
      { ALT: () => (this.CONSUME(Plus), "+" as const) },
      { ALT: () => (this.CONSUME(Minus), "-" as const) },
    ]);
    d.body = this.SUBRULE(this.body);
    d.condition = this.OPTION2(this.ifCondition);
    const constraints = this.OPTION3(this.optionalFields);
    if (constraints) d.constraints = constraints;
    this.finish(d);
    return d;
  });

  private promisee = this.RULE("promisee", (): Name => {
    return this.OR(this.alts.promisee ??= [
      { ALT: () => this.nameOf(this.CONSUME(Identifier)) },
      { ALT: () => this.nameOf(this.CONSUME(Star)) },
    ]);
  });

  private capabilityDecl = this.RULE("capabilityDecl", (): Declaration => {
    const kw = this.CONSUME(K.capability);
    const d = this.begin<CapabilityDecl>({ kind: "capability", name: this.name(1), grants: [], span: this.from(kw) });
    this.CONSUME(K.from);
    d.issuer = this.name(2);
    this.CONSUME(K.to);
    d.holder = this.name(3);
    this.grantTarget = d;
    this.SUBRULE(this.grantBlock);
    this.finish(d);
    return d;
  });

  private delegateDecl = this.RULE("delegateDecl", (): Declaration => {
    const kw = this.CONSUME(K.delegate);
    const d = this.begin<DelegateDecl>({ kind: "delegate", name: this.name(1), grants: [], span: this.from(kw) });
    this.CONSUME(K.of);
    d.parent = this.name(2);
    this.CONSUME(K.by);
    d.by = this.name(3);
    this.CONSUME(K.to);
    d.to = this.name(4);
    this.grantTarget = d;
    this.SUBRULE(this.grantBlock);
    this.finish(d);
    return d;
  });

  private grants = { SEP: Comma, DEF: () => this.add(this.SUBRULE(this.body)) };
  private grantItem = (): void => {
    this.OR(this.alts.grant ??= [
      {
        ALT: () => {
          this.CONSUME(K.grants);
          const target = this.grantTarget;
          const grants = this.collect(this.AT_LEAST_ONE_SEP, this.grants, target.grants);
          if (target.grants.length) target.grants.push(...grants);
          else target.grants = grants;
        },
      },
      {
        ALT: () => {
          const kw = this.CONSUME(K.delegable);
          const depth = this.OPTION(this.delegableDepth);
          this.grantTarget.delegable = { depth, span: this.from(kw) };
        },
      },
      {
        ALT: () => {
          const kw = this.CONSUME(K.expires);
          this.CONSUME(K.after);
          const n = Number(this.CONSUME2(NumberLiteral).image);
          const unit = this.OR2(this.alts.expiryUnit ??= [{ ALT: () => this.CONSUME(K.step) }, { ALT: () => this.CONSUME2(Identifier) }]);
          // `N steps` for the simulator's clock, or a wall-clock duration (`30m`) for the grid's.
          const ms = isReal(unit) && Object.hasOwn(DURATION_UNITS, unit.image) ? n * DURATION_UNITS[unit.image] : undefined;
          if (!this.RECORDING_PHASE && isReal(unit) && ms === undefined && unit.image !== "steps" && unit.image !== "step") {
            this.stepsErrors.push({ message: `expected 'steps' but found '${unit.image}' (or write a duration, e.g. 30m: ${Object.keys(DURATION_UNITS).join(", ")})`, span: tokenSpan(unit), code: "PG101" });
          }
          this.grantTarget.expiresAfter = ms === undefined ? { steps: n, span: this.from(kw) } : { steps: Infinity, ms, span: this.from(kw) };
        },
      },
    ]);
  };
  private delegableDepth = (): number => {
    this.CONSUME(K.depth);
    return Number(this.CONSUME(NumberLiteral).image);
  };

  /** The block of a capability or delegation: its target is set by the declaration (`grantTarget`). */
  private grantBlock = this.RULE("grantBlock", () => {
    this.CONSUME(LBrace);
    this.MANY(this.grantItem);
    this.CONSUME(RBrace);
  });

  /** `step` or `steps` after a count. */
  private stepsWord = this.RULE("stepsWord", () => {
    this.OR([
      { ALT: () => this.CONSUME(K.step) },
      {
        ALT: () => {
          const t = this.CONSUME(Identifier);
          this.ACTION(() => {
            if (isReal(t) && t.image !== "steps") {
              this.stepsErrors.push({ message: `expected 'steps' but found '${t.image}'`, span: tokenSpan(t), code: "PG101" });
            }
          });
        },
      },
    ]);
  });

  private workloadDecl = this.RULE("workloadDecl", (): Declaration => {
    const kw = this.CONSUME(K.workload);
    const d = this.begin<WorkloadDecl>({ kind: "workload", name: this.name(1), fields: [], span: this.from(kw) });
    d.fields = this.SUBRULE(this.fieldBlock) ?? [];
    this.finish(d);
    return d;
  });

  private fieldItem = (): void => this.add(this.SUBRULE(this.field));

  private fieldBlock = this.RULE("fieldBlock", (): Field[] => {
    this.CONSUME(LBrace);
    const fields = this.collect<Field, () => void>(this.MANY, this.fieldItem);
    this.CONSUME(RBrace);
    return fields;
  });

  private field = this.RULE("field", (): Field => {
    const keyToken = this.CONSUME(Identifier);
    const value = this.SUBRULE(this.value);
    return { key: this.nameOf(keyToken), value, span: this.from(keyToken) };
  });

  private listItems = { SEP: Comma, DEF: () => this.add(this.SUBRULE2(this.value)) };

  private value = this.RULE("value", (): Value => {
    return this.OR(this.alts.value ??= [
      {
        ALT: () => {
          const t = this.CONSUME(StringLiteral);
          return { kind: "string" as const, value: isReal(t) ? unquote(t.image) : "", span: this.spanOf(t) };
        },
      },
      { ALT: () => this.SUBRULE(this.number) },
      {
        ALT: () => {
          const t = this.OR2(this.alts.word ??= [{ ALT: () => this.CONSUME(Identifier) }, { ALT: () => this.CONSUME(DashedName) }]);
          const name = this.nameOf(t);
          return { kind: "ident" as const, name, span: name.span };
        },
      },
      {
        ALT: () => {
          const open = this.CONSUME(LBracket);
          const items = this.collect<Value, typeof this.listItems>(this.MANY_SEP, this.listItems);
          this.CONSUME(RBracket);
          return { kind: "list" as const, items, span: this.from(open) };
        },
      },
      {
        ALT: () => {
          const open = this.LA(1);
          const fields = this.SUBRULE(this.fieldBlock);
          return { kind: "block" as const, fields, span: this.from(open) };
        },
      },
    ]);
  });

  private unit = { GATE: () => this.unitFollows(), DEF: () => this.nameOf(this.CONSUME(Identifier)) };

  /** A number with an optional unit: `64MiB`, `3 taco`, `0.5`. */
  private number = this.RULE("number", (): Value & { kind: "number" } => {
    const t = this.CONSUME(NumberLiteral);
    const unit = this.OPTION(this.unit);
    return { kind: "number", value: isReal(t) ? Number(t.image) : 0, raw: isReal(t) ? t.image : "0", unit, span: this.from(t) };
  });

  private bodyArgs = {
    SEP: Comma,
    DEF: () =>
      this.add(
        this.OR(this.alts.bodyArg ??= [
          { ALT: () => ({ kind: "any" as const, span: this.nameOf(this.CONSUME(Star)).span }) },
          { ALT: () => this.SUBRULE(this.value) },
        ]),
      ),
  };

  private body = this.RULE("body", (): Body => {
    const type = this.CONSUME(Identifier);
    this.CONSUME(LParen);
    const args = this.collect<BodyArg, typeof this.bodyArgs>(this.MANY_SEP, this.bodyArgs);
    this.CONSUME(RParen);
    return { type: this.nameOf(type), args, span: this.from(type) };
  });

  private condition = this.RULE("condition", this.leftAssociative("or", K.or, () => this.andCondition));
  private andCondition = this.RULE("andCondition", this.leftAssociative("and", K.and, () => this.unaryCondition));

  /** The left operand so far of the running `and` or `or` (so that the repetition's closure is made once). */
  private left: Condition | undefined;

  /** `operand (operator operand)*`, grouped from the left: `a or b or c` is `(a or b) or c`. */
  private leftAssociative(kind: "and" | "or", operator: TokenType, operand: () => (() => Condition)) {
    const more = (): void => {
      this.CONSUME(operator);
      const right = this.SUBRULE2(operand());
      const left = this.left;
      if (!this.RECORDING_PHASE) this.left = left && right ? { kind, left, right, span: { start: left.span.start, end: right.span.end } } : left ?? right;
    };
    return (): Condition => {
      const saved = this.left;
      try {
        this.left = this.SUBRULE(operand());
        this.MANY(more);
        return this.left!;
      } finally {
        this.left = saved;
      }
    };
  }

  private unaryCondition = this.RULE("unaryCondition", (): Condition => {
    return this.OR(this.alts.unary ??= [
      {
        ALT: () => {
          const kw = this.CONSUME(K.not);
          const operand = this.SUBRULE(this.unaryCondition);
          return { kind: "not" as const, operand, span: this.from(kw) };
        },
      },
      {
        ALT: () => {
          this.CONSUME(LParen);
          const inner = this.SUBRULE(this.condition);
          this.CONSUME(RParen);
          return inner;
        },
      },
      {
        ALT: () => {
          const kw = this.CONSUME(K.holds);
          this.CONSUME2(LParen);
          const capability = this.name(1);
          this.CONSUME2(RParen);
          return { kind: "holds" as const, capability, span: this.from(kw) };
        },
      },
      {
        ALT: () => {
          const kw = this.CONSUME(K.kept);
          this.CONSUME3(LParen);
          const promise = this.name(2);
          this.CONSUME3(RParen);
          return { kind: "kept" as const, promise, span: this.from(kw) };
        },
      },
      {
        ALT: () => {
          const promise = this.name(3);
          return { kind: "ref" as const, promise, span: promise.span };
        },
      },
    ]);
  });

  private scenarioDecl = this.RULE("scenarioDecl", (): Declaration => {
    const kw = this.CONSUME(K.scenario);
    const title = this.CONSUME(StringLiteral);
    const d = this.begin<ScenarioDecl>({
      kind: "scenario", title: isReal(title) ? unquote(title.image) : "", titleSpan: this.nameOf(title).span,
      items: [], span: this.from(kw),
    });
    this.CONSUME(LBrace);
    this.MANY(() => {
      const item = this.SUBRULE(this.scenarioItem);
      if (item) d.items.push(item);
    });
    this.CONSUME(RBrace);
    d.span = this.from(kw);
    return d;
  });

  private scenarioItem = this.RULE("scenarioItem", (): ScenarioItem => {
    return this.OR([
      {
        ALT: () => {
          const kw = this.CONSUME(K.link);
          const agents = [this.name(1)];
          this.AT_LEAST_ONE(() => {
            this.CONSUME(BiArrow);
            agents.push(this.name(2));
          });
          return { kind: "link" as const, agents, span: this.from(kw) };
        },
      },
      {
        ALT: () => {
          const kw = this.CONSUME(K.gossip);
          this.CONSUME(K.every);
          const every = Number(this.CONSUME(NumberLiteral).image);
          this.SUBRULE(this.stepsWord);
          return { kind: "gossip" as const, every, span: this.from(kw) };
        },
      },
      {
        ALT: () => {
          const kw = this.CONSUME(K.balance);
          const agent = this.name(3);
          const amount = this.SUBRULE(this.amount);
          return { kind: "balance" as const, agent, amount, span: this.from(kw) };
        },
      },
      {
        ALT: () => {
          const kw = this.CONSUME(K.step);
          const n = this.CONSUME2(NumberLiteral);
          this.CONSUME(Colon);
          const event = this.SUBRULE(this.event);
          // `expect kept` belongs to the step; `expect alice knows ...` is the next item.
          const expect = this.OPTION({ GATE: () => outcomes.has(this.LA(2).tokenType) || this.unavailableFollows(), DEF: () => {
            const e = this.CONSUME(K.expect);
            const outcome = this.OR2([
              { ALT: () => (this.CONSUME(K.kept), "kept" as const) },
              { ALT: () => (this.CONSUME(K.refused), "refused" as const) },
              { ALT: () => (this.CONSUME(K.broken), "broken" as const) },
              // `unavailable` is not reserved: an identifier in this place, so older files naming an agent so still parse.
              { GATE: () => this.unavailableFollows(1), ALT: () => (this.CONSUME(Identifier), "unavailable" as const) },
            ]);
            return { outcome, span: this.from(e) };
          } });
          return { kind: "step" as const, step: Number(n.image), stepSpan: this.nameOf(n).span, event, expect, span: this.from(kw) };
        },
      },
      {
        ALT: () => {
          const kw = this.CONSUME2(K.expect);
          const expectation = this.SUBRULE(this.expectation);
          return { kind: "expect" as const, expectation, span: this.from(kw) };
        },
      },
    ]);
  });

  private amount = this.RULE("amount", (): Amount => {
    const n = this.SUBRULE(this.number);
    return { value: n.value, raw: n.raw, unit: n.unit, span: n.span };
  });

  private event = this.RULE("event", (): Event => {
    return this.OR([
      {
        ALT: () => {
          const kw = this.CONSUME(K.partition);
          const groups: Name[][] = [];
          this.AT_LEAST_ONE_SEP({
            SEP: Pipe,
            DEF: () => {
              const group: Name[] = [];
              this.AT_LEAST_ONE_SEP2({ SEP: Comma, DEF: () => group.push(this.name(1)) });
              groups.push(group);
            },
          });
          return { kind: "partition" as const, groups, span: this.from(kw) };
        },
      },
      { ALT: () => ({ kind: "heal" as const, span: this.nameOf(this.CONSUME(K.heal)).span }) },
      {
        ALT: () => {
          const agent = this.name(2);
          return this.OR2([
            {
              ALT: () => {
                this.CONSUME(K.invokes);
                const capability = this.name(3);
                this.CONSUME(K.at);
                const at = this.name(4);
                return { kind: "invoke" as const, agent, capability, at, span: this.from(agent.span) };
              },
            },
            {
              ALT: () => {
                this.CONSUME(K.revokes);
                const capability = this.name(5);
                return { kind: "revoke" as const, agent, capability, span: this.from(agent.span) };
              },
            },
            {
              ALT: () => {
                this.CONSUME(K.breaks);
                const promise = this.name(6);
                return { kind: "break" as const, agent, promise, span: this.from(agent.span) };
              },
            },
            {
              ALT: () => {
                this.CONSUME(K.pays);
                const amount = this.SUBRULE(this.amount);
                this.CONSUME(K.to);
                const to = this.name(7);
                return { kind: "pay" as const, agent, amount, to, span: this.from(agent.span) };
              },
            },
            {
              ALT: () => {
                this.CONSUME(K.delegates);
                const capability = this.name(8);
                this.CONSUME2(K.to);
                const to = this.name(9);
                return { kind: "delegate" as const, agent, capability, to, span: this.from(agent.span) };
              },
            },
            { ALT: () => (this.CONSUME(K.leaves), { kind: "leave" as const, agent, span: this.from(agent.span) }) },
            { ALT: () => (this.CONSUME(K.joins), { kind: "join" as const, agent, span: this.from(agent.span) }) },
          ]);
        },
      },
    ]);
  });

  private expectation = this.RULE("expectation", (): Expectation => {
    return this.OR([
      {
        ALT: () => {
          const kw = this.CONSUME(K.balance);
          const agent = this.name(1);
          const amount = this.SUBRULE(this.amount);
          return { kind: "balance" as const, agent, amount, span: this.from(kw) };
        },
      },
      {
        ALT: () => {
          const subject = this.name(2);
          return this.OR2([
            {
              ALT: () => {
                this.CONSUME(K.knows);
                this.CONSUME(K.revoked);
                this.CONSUME(LParen);
                const capability = this.name(3);
                this.CONSUME(RParen);
                const byStep = this.OPTION(() => {
                  const by = this.CONSUME(K.by);
                  this.CONSUME(K.step);
                  const step = Number(this.CONSUME(NumberLiteral).image);
                  return { step, span: this.from(by) };
                });
                return { kind: "knows" as const, agent: subject, capability, byStep, span: this.from(subject.span) };
              },
            },
            {
              ALT: () => {
                const outcome = this.OR3([
                  { ALT: () => (this.CONSUME(K.kept), "kept" as const) },
                  { ALT: () => (this.CONSUME(K.broken), "broken" as const) },
                ]);
                const forAgent = this.OPTION2(() => {
                  this.CONSUME(K.for);
                  return this.name(4);
                });
                return { kind: "promise" as const, promise: subject, outcome, forAgent, span: this.from(subject.span) };
              },
            },
          ]);
        },
      },
    ]);
  });
}

let recovering: PgParser | undefined;
let strict: PgParser | undefined;
const parser = (): PgParser => (recovering ??= new PgParser(true));
const strictParser = (): PgParser => (strict ??= new PgParser(false));

/** Builds the parsers and the lexer with chevrotain's own checks of the grammar; throws what they find. */
export function validateGrammar(): void {
  new PgParser(true, true);
  new PgParser(false, true);
  const lexer = validatedLexer();
  if (lexer.lexerDefinitionErrors.length) throw new Error(lexer.lexerDefinitionErrors.map((e) => e.message).join("\n"));
}

function describe(t: IToken | undefined): string {
  if (!t || t.tokenType.name === "EOF") return "the end of the file";
  return `'${t.image}'`;
}

function comments(tokens: IToken[]): Comment[] {
  return tokens.map((t) => {
    const doc = t.tokenType.name === "DocComment";
    const block = t.tokenType.name === "BlockComment";
    const text = doc ? t.image.slice(3).trim() : block ? t.image.slice(2, -2) : t.image.slice(2);
    return { text, span: tokenSpan(t), doc, block };
  });
}

/** Attaches each run of `///` lines directly above a declaration to it. */
function attachDocs(text: string, declarations: Declaration[], all: Comment[]): void {
  const docs = all.filter((c) => c.doc);
  if (!docs.length) return;
  let i = 0;
  for (const decl of declarations) {
    while (i < docs.length && docs[i].span.end <= decl.span.start) i++;
    // The run docs[j + 1 .. i - 1], each only blanks and at most one line break from the next.
    let j = i - 1;
    let boundary = decl.span.start;
    while (j >= 0 && /^[ \t]*\r?\n?[ \t]*$/.test(text.slice(docs[j].span.end, boundary))) {
      boundary = docs[j].span.start;
      j--;
    }
    if (j < i - 1) {
      const lines = docs.slice(j + 1, i);
      decl.doc = { text: lines.map((c) => c.text).join("\n"), span: { start: lines[0].span.start, end: lines.at(-1)!.span.end } };
    }
  }
}

/** The whole file in one pass. If it has an error, the declarations before it that the declaration-by-declaration
 * parse would make alike (each but the last one finished: each of those is followed by a declaration keyword, so it
 * is a whole piece of that parse, and has no error), and the token where that parse is to resume. */
function parseStrict(tokens: IToken[]): { declarations: Declaration[]; ok: boolean; resume: number } {
  const p = strictParser();
  p.input = tokens;
  p.stepsErrors = [];
  const declarations = p.file();
  const finished = p.finished;
  const ok = !p.errors.length && !p.stepsErrors.length;
  const firstStepsError = p.stepsErrors[0]?.span.start ?? Infinity;
  p.release();
  if (ok) return { declarations, ok, resume: tokens.length };
  let keep = Math.max(0, finished.length - 1);
  while (keep > 0 && finished[keep - 1].span.end > firstStepsError) keep--;
  if (keep === 0) return { declarations: [], ok, resume: 0 };
  // The token that starts the first declaration not kept.
  const at = finished[keep].span.start;
  let lo = 0, hi = tokens.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tokens[mid].startOffset < at) lo = mid + 1; else hi = mid;
  }
  return { declarations: finished.slice(0, keep), ok, resume: lo };
}

/** Each declaration on its own from token `from` on (after `declarations`), with recovery; reports the first error
 * of each. */
function parseEachDeclaration(tokens: IToken[], errors: SyntaxError[], from = 0, declarations: Declaration[] = []): Declaration[] {
  const p = parser();
  let i = from;
  while (i < tokens.length && !declarationStarts.has(tokens[i].tokenType)) i++;
  if (i > from) errors.push(strayTokensError(tokens[from]));
  while (i < tokens.length) {
    let j = i + 1;
    while (j < tokens.length && !declarationStarts.has(tokens[j].tokenType)) j++;
    p.input = tokens.slice(i, j);
    p.stepsErrors = [];
    let decl = p.declaration();
    if (!decl && p.partial) {
      decl = p.partial;
      decl.span = { start: decl.span.start, end: tokenSpan(tokens[j - 1]).end };
    }
    if (p.stepsErrors.length && !p.errors.length) errors.push(p.stepsErrors[0]);
    if (p.errors.length) {
      if (decl) dropHoles(decl);
      const e = p.errors[0];
      if (isReal(e.token) && e.token.tokenType.name !== "EOF") {
        errors.push({ message: friendly(e.message, e.token), span: tokenSpan(e.token), code: "PG101" });
      } else {
        // Past the end of a declaration is the next declaration, or the end of the file.
        const end = tokenSpan(tokens[j - 1]).end;
        errors.push({ message: friendly(e.message, tokens[j]), span: { start: end, end }, code: "PG101" });
      }
    }
    if (decl) declarations.push(decl);
    i = j;
  }
  p.release();
  return declarations;
}

/** How deep brackets may nest, and how many `and`, `or` and `not` one declaration may hold: past these, trees
 * would be deep enough to exhaust the stack of every recursive walk (the parser's own included). */
export const MAX_NESTING = 100;
export const MAX_OPERATORS = 100;
/** What each token type is to the nesting limit, by tokenTypeIdx (a table: this runs on every token). */
const START = 1, OPEN = 2, CLOSE = 3, OPERATOR = 4;
const nestingRole = new Uint8Array(Math.max(...allTokens.map((t) => t.tokenTypeIdx!)) + 1);
for (const t of declarationStarts) nestingRole[t.tokenTypeIdx!] = START;
for (const t of [LParen, LBracket, LBrace]) nestingRole[t.tokenTypeIdx!] = OPEN;
for (const t of [RParen, RBracket, RBrace]) nestingRole[t.tokenTypeIdx!] = CLOSE;
for (const t of [K.and, K.or, K.not]) nestingRole[t.tokenTypeIdx!] = OPERATOR;

/** Drops each declaration that nests too deep (reporting where), so that no tree below is deeper than the limits. */
function limitNesting(tokens: IToken[], errors: SyntaxError[]): IToken[] {
  const skipped: [number, number][] = [];
  let start = 0, depth = 0, ops = 0;
  for (let i = 0; i < tokens.length; i++) {
    const role = nestingRole[tokens[i].tokenTypeIdx];
    if (!role) continue;
    if (role === START) { start = i; depth = 0; ops = 0; continue; }
    if (role === OPEN) depth++;
    else if (role === CLOSE) depth = Math.max(0, depth - 1);
    else ops++;
    if (depth <= MAX_NESTING && ops <= MAX_OPERATORS) continue;
    errors.push({
      message: depth > MAX_NESTING
        ? `brackets nest more than ${MAX_NESTING} deep: this declaration is skipped`
        : `more than ${MAX_OPERATORS} 'and', 'or' and 'not' in one declaration: this declaration is skipped`,
      span: tokenSpan(tokens[i]), code: "PG101",
    });
    let end = i + 1;
    while (end < tokens.length && !declarationStarts.has(tokens[end].tokenType)) end++;
    skipped.push([start, end]);
    i = end - 1;
  }
  if (!skipped.length) return tokens;
  const kept: IToken[] = [];
  let at = 0;
  for (const [a, b] of skipped) {
    for (let k = at; k < a; k++) kept.push(tokens[k]);
    at = b;
  }
  for (let k = at; k < tokens.length; k++) kept.push(tokens[k]);
  return kept;
}

export interface ParseOptions {
  /** The declaration keyword that follows the text (when it is a piece of a file, cut before a declaration): an
   * unfinished last declaration then reports "found 'agent'" as in the whole file. */
  followedBy?: string;
}

export function parse(text: string, options: ParseOptions = {}): SourceFile {
  const lexed = lexer.tokenize(text);
  const errors: SyntaxError[] = lexed.errors.map((e) => {
    const ch = text.slice(e.offset, e.offset + e.length);
    const message = ch === '"' ? "unterminated string: add the closing '\"' on the same line"
      : text.startsWith("/*", e.offset) ? "unterminated block comment: add the closing '*/'"
      : `unexpected character '${ch}'`;
    return { message, span: { start: e.offset, end: e.offset + e.length }, code: "PG100" };
  });
  const tokens = limitNesting(lexed.tokens, errors);
  // Fast path: one pass without recovery; on an error, parse again declaration by declaration from the declaration
  // before the one with the error.
  const strict = !errors.length ? parseStrict(tokens) : undefined;
  let declarations = strict?.ok ? strict.declarations : undefined;
  if (!declarations) {
    const [from, before] = strict ? [strict.resume, strict.declarations] : [0, []];
    const next = options.followedBy ? K[options.followedBy as keyof typeof K] : undefined;
    if (next) {
      // The next declaration's keyword, as the whole file would show it; its own (partial) declaration is dropped.
      const kw = { image: options.followedBy!, startOffset: text.length, tokenType: next, tokenTypeIdx: next.tokenTypeIdx! } as IToken;
      const syntactic: SyntaxError[] = [];
      declarations = parseEachDeclaration([...tokens, kw], syntactic, from, before).filter((d) => d.span.start < text.length);
      if ((syntactic.at(-1)?.span.start ?? -1) >= text.length) syntactic.pop(); // the keyword's own: always unfinished
      errors.push(...syntactic);
    } else {
      declarations = parseEachDeclaration(tokens, errors, from, before);
    }
  }
  const allComments = comments(lexed.groups.comments ?? []);
  attachDocs(text, declarations, allComments);
  return { declarations, comments: allComments, errors, text };
}

/** Recovery can leave undefined entries in lists of a declaration cut short; drop them. */
function dropHoles(node: unknown): void {
  if (Array.isArray(node)) {
    for (let i = node.length - 1; i >= 0; i--) {
      if (node[i] === undefined || node[i] === null) node.splice(i, 1);
      else dropHoles(node[i]);
    }
  } else if (node && typeof node === "object") {
    for (const value of Object.values(node)) if (value && typeof value === "object") dropHoles(value);
  }
}

function strayTokensError(t: IToken): SyntaxError {
  const suggestion = t.tokenType === Identifier ? closest(t.image, DECLARATION_KEYWORDS) : undefined;
  const message = suggestion
    ? `unknown declaration '${t.image}': did you mean '${suggestion}'?`
    : `expected a declaration (${DECLARATION_KEYWORDS.join(", ")}) but found ${describe(t)}`;
  return { message, span: tokenSpan(t), code: "PG101" };
}

/** Chevrotain's messages name token types; say it in the language's words instead. */
function friendly(message: string, token: IToken | undefined): string {
  const found = describe(token);
  const expected = [...message.split("but found")[0].matchAll(/-->\s*([^<\s]+)\s*<--/g)].map((m) => m[1]);
  const words = [...new Set(expected.map(tokenWord))];
  if (message.startsWith("Expected 'steps'")) return `expected 'steps' but found ${found}`;
  if (words.length) return `expected ${words.slice(0, 6).join(" or ")} but found ${found}`;
  const oneOf = message.match(/one of these possible Token sequences:([\s\S]*)but found/);
  if (oneOf) {
    const firsts = [...oneOf[1].matchAll(/\[([^\],\s]+)/g)].map((m) => tokenWord(m[1]));
    const unique = [...new Set(firsts)];
    if (unique.length) return `expected ${unique.slice(0, 6).join(" or ")} but found ${found}`;
  }
  return `unexpected ${found}`;
}

const PUNCTUATION: Record<string, string> = {
  Arrow: "'->'", BiArrow: "'<->'", Plus: "'+'", Minus: "'-'", Star: "'*'", Comma: "','", Colon: "':'", Pipe: "'|'",
  LParen: "'('", RParen: "')'", LBrace: "'{'", RBrace: "'}'", LBracket: "'['", RBracket: "']'",
  Identifier: "a name", DashedName: "a name", StringLiteral: "a string", NumberLiteral: "a number",
};

function tokenWord(tokenName: string): string {
  if (tokenName.startsWith("Kw_")) return `'${tokenName.slice(3)}'`;
  return PUNCTUATION[tokenName] ?? tokenName;
}
