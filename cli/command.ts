// What every `promisegrid` subcommand provides. Each lives in cli/commands/NAME.ts
// and is listed once in cli/main.ts.

export interface Io {
  out(text: string): void;
  err(text: string): void;
  cwd: string;
}

export interface Command {
  name: string;
  /** One line, shown in `promisegrid --help`. */
  summary: string;
  /** Full help text, shown by `promisegrid NAME --help`. */
  help: string;
  /** Returns the exit code. Throw UsageError for bad arguments. */
  run(argv: string[], io: Io): Promise<number>;
}

/** Bad command-line input: printed without a stack trace, exit code 2. */
export class UsageError extends Error {}
