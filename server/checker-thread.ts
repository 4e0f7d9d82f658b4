// Checking runs in a worker thread, so a long check of a large file never holds up hover, completion or the next
// edit. The worker gets the texts of the program's files, parses them (incrementally, per file) and checks;
// only the newest request per file is run, and a result is used only if it is for the version still open.
import * as fs from "node:fs";
import { Worker, parentPort } from "node:worker_threads";
import type { SourceFile } from "../grammar/index.ts";
import { check, loadProgram, type Diagnostic } from "../language/index.ts";
import { idle } from "./idle-gc.ts";
import { IncrementalParser } from "./incremental-parse.ts";

export interface CheckRequest { id: number; entry: string; files: [string, string][] }
/** `files`: the files of the checked program (the entry and what it imports). */
export type CheckResponse = { id: number; diagnostics: Diagnostic[]; files: string[] } | { id: number; error: string };

/** The worker's side: answers CheckRequests. */
export function serveChecks(): void {
  const parsers = new Map<string, IncrementalParser>();
  const cache = new Map<string, SourceFile>();
  parentPort!.on("message", (req: CheckRequest) => {
    try {
      const texts = new Map(req.files);
      for (const [p, text] of texts) {
        if (cache.get(p)?.text === text) continue;
        let parser = parsers.get(p);
        if (!parser) parsers.set(p, (parser = new IncrementalParser()));
        cache.set(p, parser.parse(text));
      }
      const host = {
        readText: (p: string) => texts.get(p) ?? readFile(p),
        exists: (p: string) => texts.has(p) || isFile(p),
      };
      const program = loadProgram([req.entry], host, cache);
      for (const p of [...cache.keys()]) if (!program.files.has(p) && !texts.has(p)) cache.delete(p);
      parentPort!.postMessage({ id: req.id, diagnostics: check(program), files: [...program.files.keys()] } satisfies CheckResponse);
      idle();
    } catch (e) {
      parentPort!.postMessage({ id: req.id, error: (e as Error).stack ?? String(e) } satisfies CheckResponse);
    }
  });
}

function readFile(p: string): string | undefined {
  try {
    return fs.readFileSync(p, "utf8");
  } catch {
    return undefined;
  }
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The server's side: one worker, one check at a time, the newest request per file kept while it is busy. */
export class CheckerThread {
  private worker: Worker | undefined;
  private nextId = 1;
  private running: { req: CheckRequest; resolve: (r: CheckResponse) => void } | undefined;
  private queue = new Map<string, { req: CheckRequest; resolve: (r: CheckResponse) => void }[]>();

  constructor(private readonly script: string, private readonly log: (m: string) => void) {}

  private start(): Worker {
    const w = new Worker(this.script, { workerData: { role: "checker" } });
    w.on("message", (res: CheckResponse) => this.done(res));
    w.on("error", (e) => this.log(`checker thread failed: ${e.stack ?? e}`));
    w.on("exit", (code) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      const lost = this.running;
      this.running = undefined;
      if (lost) lost.resolve({ id: lost.req.id, error: `the checker thread stopped (exit code ${code})` });
      this.pump();
    });
    w.unref();
    return w;
  }

  /** Checks the program rooted at `entry`; a request superseded by a newer one for the same entry gets undefined. */
  check(entry: string, files: [string, string][]): Promise<CheckResponse | undefined> {
    return new Promise((resolve) => {
      const req = { id: this.nextId++, entry, files };
      for (const old of this.queue.get(entry) ?? []) old.resolve({ id: old.req.id, error: "superseded" });
      this.queue.set(entry, [{ req, resolve: (r) => resolve(r.id === req.id && "error" in r && r.error === "superseded" ? undefined : r) }]);
      this.pump();
    });
  }

  private pump(): void {
    if (this.running) return;
    const next = this.queue.entries().next();
    if (next.done) return;
    const [entry, [job]] = next.value;
    this.queue.delete(entry);
    this.running = job;
    (this.worker ??= this.start()).postMessage(job.req);
  }

  /** Checks the thread has answered. */
  completed = 0;

  private done(res: CheckResponse): void {
    this.completed++;
    const job = this.running;
    this.running = undefined;
    if (job && job.req.id === res.id) job.resolve(res);
    this.pump();
  }

  async dispose(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
