// Checking and simulating run in worker threads, so a long check of a large file or a long scenario never holds up
// hover, completion or the next edit. A worker keeps the open documents' texts (the server sends a text only when
// its version changed), parses them incrementally, and answers one request at a time; only the newest request per
// file is run, and a result is used only if it is for the version still open. A request can be cancelled: a
// running one stops its worker, which the next request starts again.
import { Worker, parentPort } from "node:worker_threads";
import type { SourceFile } from "../grammar/index.ts";
import { check, loadProgram, type Diagnostic } from "../language/index.ts";
import { revocationTimelines, type RevocationTimeline } from "../language/simulator/timeline.ts";
import { OverlayHost } from "./host.ts";
import { idle } from "./idle-gc.ts";
import { IncrementalParser } from "./incremental-parse.ts";

export type Job =
  | { kind: "check"; entry: string }
  /** The revocation timelines of the scenarios of `entry` that overlap [from, to]. */
  | { kind: "timeline"; entry: string; from: number; to: number };

export interface WorkerRequest { id: number; job: Job; files: [string, string][]; open: string[] }
/** `files`: the files of the checked program (the entry and what it imports). */
export type WorkerResponse =
  | { id: number; diagnostics: Diagnostic[]; files: string[] }
  | { id: number; timelines: RevocationTimeline[] }
  | { id: number; error: string };

/** The worker's side. */
export function serveChecks(): void {
  const parsers = new Map<string, IncrementalParser>();
  const cache = new Map<string, SourceFile>();
  const texts = new Map<string, string>();
  const host = new OverlayHost((p) => texts.get(p));
  parentPort!.on("message", (req: WorkerRequest) => {
    try {
      for (const [p, text] of req.files) texts.set(p, text);
      const open = new Set(req.open);
      for (const p of texts.keys()) if (!open.has(p)) { texts.delete(p); parsers.delete(p); cache.delete(p); }
      for (const [p, text] of texts) {
        if (cache.get(p)?.text === text) continue;
        let parser = parsers.get(p);
        if (!parser) parsers.set(p, (parser = new IncrementalParser()));
        cache.set(p, parser.parse(text));
      }
      const program = loadProgram([req.job.entry], host, cache);
      for (const p of [...cache.keys()]) if (!program.files.has(p) && !texts.has(p)) cache.delete(p);
      const { job } = req;
      if (job.kind === "check") {
        parentPort!.postMessage({ id: req.id, diagnostics: check(program), files: [...program.files.keys()] } satisfies WorkerResponse);
      } else {
        const timelines = revocationTimelines(program, job.entry, (d) => d.span.end >= job.from && d.span.start <= job.to);
        parentPort!.postMessage({ id: req.id, timelines } satisfies WorkerResponse);
      }
      idle();
    } catch (e) {
      parentPort!.postMessage({ id: req.id, error: (e as Error).stack ?? String(e) } satisfies WorkerResponse);
    }
  });
}

export interface OpenText { path: string; version: number; text(): string }

interface Pending { req: WorkerRequest; resolve: (r: WorkerResponse | undefined) => void; timer?: NodeJS.Timeout }

/** The server's side: one worker, one request at a time, the newest request per key kept while it is busy. */
export class CheckerThread {
  private worker: Worker | undefined;
  private nextId = 1;
  private running: Pending | undefined;
  private queue = new Map<string, Pending>();
  /** The versions the worker has, by path (cleared when it is started again). */
  private sent = new Map<string, number>();

  /** `limitMs`: a request running longer is stopped and answered with an error. */
  constructor(private readonly script: string, private readonly log: (m: string) => void, private readonly limitMs = 0) {}

  /** Starts the worker ahead of the first request (loading it is most of a first check's time). */
  warm(): void {
    this.worker ??= this.start();
  }

  private start(): Worker {
    this.sent.clear();
    const w = new Worker(this.script, { workerData: { role: "checker" } });
    w.on("message", (res: WorkerResponse) => this.done(res));
    w.on("error", (e) => this.log(`worker thread failed: ${e.stack ?? e}`));
    w.on("exit", (code) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      const lost = this.running;
      this.running = undefined;
      if (lost) this.finish(lost, { id: lost.req.id, error: `the worker thread stopped (exit code ${code})` });
      this.pump();
    });
    w.unref();
    return w;
  }

  /** Runs `job` over the open documents; a request superseded by a newer one for the same key, or cancelled, gets
   * undefined. */
  run(job: Job, docs: OpenText[], key = `${job.kind}:${job.entry}`, cancel?: { onCancellationRequested(f: () => void): unknown }): Promise<WorkerResponse | undefined> {
    return new Promise((resolve) => {
      const req: WorkerRequest = { id: this.nextId++, job, files: [], open: [] };
      const pending: Pending = { req, resolve };
      // The texts are taken when the request is sent (the newest then).
      (pending as Pending & { docs: OpenText[] }).docs = docs;
      this.queue.get(key)?.resolve(undefined);
      this.queue.set(key, pending);
      cancel?.onCancellationRequested(() => this.cancel(pending, key));
      this.pump();
    });
  }

  check(entry: string, docs: OpenText[]): Promise<WorkerResponse | undefined> {
    return this.run({ kind: "check", entry }, docs);
  }

  /** Running requests stopped because they were cancelled. */
  cancelled = 0;

  private cancel(p: Pending, key: string): void {
    if (this.queue.get(key) === p) {
      this.queue.delete(key);
      p.resolve(undefined);
    } else if (this.running === p) {
      this.cancelled++;
      this.running = undefined;
      this.finish(p, undefined);
      this.restart();
    }
  }

  private restart(): void {
    const w = this.worker;
    this.worker = undefined;
    void w?.terminate();
    this.pump();
  }

  private pump(): void {
    if (this.running) return;
    const next = this.queue.entries().next();
    if (next.done) return;
    const [key, job] = next.value;
    this.queue.delete(key);
    this.running = job;
    const worker = (this.worker ??= this.start());
    const docs = (job as Pending & { docs: OpenText[] }).docs;
    for (const d of docs) {
      if (this.sent.get(d.path) === d.version) continue;
      this.sent.set(d.path, d.version);
      job.req.files.push([d.path, d.text()]);
    }
    job.req.open = docs.map((d) => d.path);
    for (const p of [...this.sent.keys()]) if (!job.req.open.includes(p)) this.sent.delete(p);
    if (this.limitMs) {
      job.timer = setTimeout(() => {
        if (this.running !== job) return;
        this.running = undefined;
        this.finish(job, { id: job.req.id, error: `stopped after ${this.limitMs / 1000} s` });
        this.restart();
      }, this.limitMs);
    }
    worker.postMessage(job.req);
  }

  private finish(p: Pending, r: WorkerResponse | undefined): void {
    clearTimeout(p.timer);
    p.resolve(r);
  }

  /** Requests the worker has answered. */
  completed = 0;

  private done(res: WorkerResponse): void {
    this.completed++;
    const job = this.running;
    if (!job || job.req.id !== res.id) return; // cancelled or stopped meanwhile
    this.running = undefined;
    this.finish(job, res);
    this.pump();
  }

  async dispose(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
