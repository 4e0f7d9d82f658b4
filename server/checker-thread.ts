// Checking and simulating run in worker threads, so a long check of a large file or a long scenario never holds up
// hover, completion or the next edit. A worker keeps the open documents' texts (the server sends a text only when
// its version changed), parses them incrementally, and answers one request at a time; only the newest request per
// file is run, and a result is used only if it is for the version still open. A request can be cancelled: a
// running one stops its worker, which the next request starts again.
import * as path from "node:path";
import { Worker, parentPort, receiveMessageOnPort } from "node:worker_threads";
import { parse, type SourceFile } from "../grammar/index.ts";
import { check, diagnosticOrder, loadProgram, type Diagnostic } from "../language/index.ts";
import { revocationTimelines, type RevocationTimeline } from "../language/simulator/timeline.ts";
import { OverlayHost } from "./host.ts";
import { idle } from "./idle-gc.ts";
import { CheckState } from "./incremental-check.ts";
import { IncrementalParser } from "./incremental-parse.ts";
import { warmUp, warmUpText } from "./warm-up.ts";

/** The warm-up's sample and its size: small slices (a few ms each), enough of them for V8 to optimize the hot
 * functions (the first check of 10,000 lines took about 200 ms of CPU after 10 of them, about 100 ms after 30). A
 * request ends the warm-up, so it never makes one wait longer than a slice. The sample's path is one no file has,
 * absolute as a program resolves its entries: a relative one was read as a missing file, so the warm-up parsed the
 * sample but checked an empty program, and the first document's check ran unoptimized. */
const WARM_UP_PATH = path.resolve("\0warm-up.pg");
const WARM_UP_GROUPS = 40;
const WARM_UP_RUNS = 30;

/** One run of the warm-up: a sample (server/warm-up.ts) checked as an open document. */
export function warmUpRequest(groups = WARM_UP_GROUPS, plain = false): WorkerRequest {
  return { id: 0, job: { kind: "check", entry: WARM_UP_PATH }, files: [[WARM_UP_PATH, warmUpText(groups, plain)]], open: [WARM_UP_PATH], generation: 0 };
}

export type Job =
  | { kind: "check"; entry: string }
  /** The revocation timelines of the scenarios of `entry` that overlap [from, to]. */
  | { kind: "timeline"; entry: string; from: number; to: number };

/** `generation` goes up when files on disk change (a workload file that appears or goes is a new diagnostic). */
export interface WorkerRequest { id: number; job: Job; files: [string, string][]; open: string[]; generation: number }
/** `files`: the files of the checked program (the entry and what it imports). */
export type WorkerResponse =
  | { id: number; diagnostics: Diagnostic[]; files: string[] }
  | { id: number; timelines: RevocationTimeline[] }
  | { id: number; error: string };

/** What a worker does, as a class of its own (tests drive it in-process). */
export class CheckService {
  private readonly parsers = new Map<string, IncrementalParser>();
  private readonly cache = new Map<string, SourceFile>();
  private readonly texts = new Map<string, string>();
  private readonly host = new OverlayHost((p) => this.texts.get(p));
  /** The last check of each entry, with the texts and meanings it saw. */
  private readonly checked = new Map<string, Checked>();
  private generation = 0;
  /** Checks answered from the last check (for tests). */
  reused = 0;
  /** Checks that checked again only the declarations an edit could change (for tests and benchmarks). */
  partial = 0;
  /** Declarations the last partial check checked again. */
  rechecked = 0;

  /** `minChunk`: the least length of the chunks each open file is parsed in (server/incremental-parse.ts). */
  constructor(private readonly minChunk?: number) {}

  handle(req: WorkerRequest): WorkerResponse {
    const { parsers, cache, texts, host, checked } = this;
    for (const [p, text] of req.files) texts.set(p, text);
    const open = new Set(req.open);
    for (const p of texts.keys()) {
      if (open.has(p)) continue;
      texts.delete(p); parsers.delete(p); cache.delete(p);
      // A check that read it as an open document would be taken, when it opens again, for one of the new parse.
      for (const [entry, last] of checked) if (last.files.includes(p)) checked.delete(entry);
    }
    for (const [p, text] of texts) {
      if (cache.get(p)?.text === text) continue;
      let parser = parsers.get(p);
      if (!parser) parsers.set(p, (parser = new IncrementalParser(this.minChunk)));
      cache.set(p, parser.parse(text));
    }
    if (req.generation !== this.generation) { this.generation = req.generation; checked.clear(); }
    const { job } = req;
    const known = job.kind === "check" ? reuseCheck(checked.get(job.entry), host, parsers) : undefined;
    if (known) {
      this.reused++;
      if (known.state) {
        const files = new Map(known.files.map((f) => [f, cache.get(f)!]));
        if (known.files.some((f) => !cache.has(f)) || !known.state.moved(files, known.diagnostics)) known.state = undefined;
      }
      return { id: req.id, diagnostics: known.diagnostics, files: known.files };
    }
    const last = job.kind === "check" ? checked.get(job.entry) : undefined;
    const partial = last && recheck(last, host, cache, parsers);
    if (partial) {
      this.partial++;
      this.rechecked = last.state!.rechecked;
      return { id: req.id, diagnostics: partial, files: last.files };
    }
    const program = loadProgram([job.entry], host, cache);
    for (const p of [...cache.keys()]) if (!program.files.has(p) && !texts.has(p)) cache.delete(p);
    if (job.kind === "check") {
      const diagnostics = check(program);
      const files = [...program.files.keys()];
      // A copy: diagnostics share span objects with the tree, which the next incremental parse moves in place.
      checked.set(job.entry, {
        texts: new Map(files.map((f) => [f, program.files.get(f)!.text])),
        meanings: new Map(files.map((f) => [f, parsers.get(f)?.meaning])), parses: new Map(files.map((f) => [f, parsers.get(f)?.parses])),
        diagnostics: structuredClone(diagnostics), files, state: CheckState.from(program, diagnostics),
      });
      return { id: req.id, diagnostics, files };
    }
    const timelines = revocationTimelines(program, job.entry, (d) => d.span.end >= job.from && d.span.start <= job.to);
    return { id: req.id, timelines };
  }

  /** Does the next part of the work an edit will need (each open file cut into pieces, the dependency index of each
   * checked program), between requests; true while some is left. */
  prepare(slice?: number): boolean {
    for (const parser of this.parsers.values()) parser.prepare();
    for (const last of this.checked.values()) if (last.state?.prepare(slice)) return true;
    return false;
  }
}

/** The worker's side. */
export function serveChecks(): void {
  const service = new CheckService();
  const serve = (req: WorkerRequest) => {
    let res: WorkerResponse;
    try {
      res = service.handle(req);
    } catch (e) {
      res = { id: req.id, error: (e as Error).stack ?? String(e) };
    }
    parentPort!.postMessage(res);
    idle();
    if (!preparing) { preparing = true; setImmediate(ahead); }
  };
  // In slices between requests: a message that comes is delivered before the next slice runs.
  let preparing = false;
  const ahead = () => {
    try {
      preparing = service.prepare();
    } catch {
      preparing = false; // the next edit builds what it needs itself, and reports what fails
    }
    if (preparing) setImmediate(ahead);
    else idle(); // the collection after the work, prepared too
  };
  // Build both parsers and optimize the parse and the check now, while the server waits for its first document; a
  // request that comes meanwhile is taken at once (between two slices) and ends the warm-up. No full collection
  // after it: the heap it shrinks must grow again for the first document, whose open then takes an eighth longer.
  parse("agent a");
  parse("agent");
  let requested = false;
  // Runs take the full sample and the plain one in turn, so that the code is optimized for both shapes.
  const samples = [warmUpRequest(), warmUpRequest(WARM_UP_GROUPS, true)];
  let run = 0;
  const waiting = () => {
    const pending = requested ? undefined : receiveMessageOnPort(parentPort!);
    if (pending) { requested = true; serve(pending.message as WorkerRequest); }
    return requested;
  };
  warmUp(() => new CheckService().handle(samples[run++ % 2]), WARM_UP_RUNS, waiting, () => {});
  parentPort!.on("message", (req: WorkerRequest) => {
    requested = true;
    serve(req);
  });
}

interface Checked {
  texts: Map<string, string>; meanings: Map<string, number | undefined>; parses: Map<string, number | undefined>; diagnostics: Diagnostic[]; files: string[];
  /** The diagnostics by owner, for checking again only what an edit changed (undefined: check everything). */
  state?: CheckState;
}

/** After an edit of one file of the last check's program (parsed once since), the diagnostics with only the
 * declarations it can have changed checked again; undefined: check everything. */
function recheck(last: Checked, host: OverlayHost, cache: Map<string, SourceFile>, parsers: Map<string, IncrementalParser>): Diagnostic[] | undefined {
  if (!last.state) return undefined;
  // The program's files as last checked (an edit of an import is checked whole).
  const files = new Map<string, SourceFile>();
  let edited: string | undefined;
  for (const f of last.files) {
    const source = cache.get(f);
    if (!source || host.readText(f) !== source.text) return undefined;
    files.set(f, source);
    const parser = parsers.get(f);
    if (!parser) { if (source.text !== last.texts.get(f)) return undefined; continue; }
    if (parser.parses === last.parses.get(f)) continue;
    if (edited || parser.parses !== last.parses.get(f)! + 1 || !parser.edit) return undefined;
    edited = f;
  }
  if (!edited) return undefined;
  const diagnostics = last.state.update(edited, parsers.get(edited)!.edit!, files, host);
  if (!diagnostics) { last.state = undefined; return undefined; }
  last.texts.set(edited, files.get(edited)!.text);
  last.parses.set(edited, parsers.get(edited)!.parses);
  last.meanings.set(edited, parsers.get(edited)!.meaning);
  last.diagnostics = diagnostics;
  return diagnostics;
}

/** The last check's diagnostics, moved to where they now are, when no file of the program changed meaning since, and
 * one file was parsed once since (the parser knows exactly where each span went) and the others not at all. A
 * diagnostic at an offset the parser cannot place (a fix at a line's end, inside the re-cut chunks) means: check
 * again. */
function reuseCheck(last: Checked | undefined, host: OverlayHost, parsers: Map<string, IncrementalParser>): Checked | undefined {
  if (!last) return undefined;
  let edited: string | undefined;
  for (const f of last.files) {
    const parser = parsers.get(f);
    if (!parser) {
      if (host.readText(f) !== last.texts.get(f)) return undefined;
      continue;
    }
    if (parser.meaning !== last.meanings.get(f)) return undefined;
    if (parser.parses === last.parses.get(f)) continue;
    if (edited || parser.parses !== last.parses.get(f)! + 1 || !parser.moved) return undefined;
    edited = f;
  }
  if (!edited) return last;
  const { from, to, delta, at } = parsers.get(edited)!.moved!;
  let lost = false;
  const place = (x: number) => {
    const y = x < from ? x : x >= to ? x + delta : at.get(x);
    if (y === undefined || Number.isNaN(y)) lost = true;
    return y ?? x;
  };
  const move = <T extends { path: string; span: { start: number; end: number } }>(o: T): T =>
    o.path === edited ? { ...o, span: { start: place(o.span.start), end: place(o.span.end) } } : o;
  const diagnostics = last.diagnostics.map((d) => {
    const out = move(d);
    if (d.related) out.related = d.related.map(move);
    if (d.fixes) out.fixes = d.fixes.map((f) => ({ ...f, edits: f.edits.map(move) }));
    return out;
  });
  if (lost) return undefined;
  // An edit can move one span past others (a nesting error that now starts further on): check's order again.
  for (let i = 1; i < diagnostics.length; i++) if (diagnosticOrder(diagnostics[i - 1], diagnostics[i]) > 0) { diagnostics.sort(diagnosticOrder); break; }
  last.texts.set(edited, host.readText(edited)!);
  last.parses.set(edited, parsers.get(edited)!.parses);
  last.diagnostics = diagnostics;
  return last;
}

export interface OpenText { path: string; version: number; text(): string }

interface Pending { req: WorkerRequest; resolve: (r: WorkerResponse | undefined) => void; timer?: NodeJS.Timeout }

/** The server's side: one worker, one request at a time, the newest request per key kept while it is busy. */
export class CheckerThread {
  private worker: Worker | undefined;
  private nextId = 1;
  private running: Pending | undefined;
  private queue = new Map<string, Pending>();
  /** Goes up when files on disk change: the worker then checks afresh. */
  generation = 0;
  /** The versions the worker has, by path (cleared when it is started again). */
  private sent = new Map<string, number>();

  /** `limitMs`: a request running longer is stopped and answered with an error. `takeFirst`: a worker already
   * started for `script` (server/early-checker.ts), used once as the first one. */
  constructor(
    private readonly script: string,
    private readonly log: (m: string) => void,
    private readonly limitMs = 0,
    private takeFirst?: (script: string) => { worker?: Worker; failures: Error[] } | undefined,
  ) {}

  /** Whether a worker started with the process served (server/early-checker.ts). */
  startedEarly = false;

  /** A document closed: if it opens again, at whatever version, its text is sent again. */
  closed(path: string): void {
    this.sent.delete(path);
  }

  /** Starts the worker ahead of the first request (loading it is most of a first check's time). */
  warm(): void {
    this.worker ??= this.start();
  }

  private start(): Worker {
    this.sent.clear();
    const early = this.takeFirst?.(this.script);
    this.takeFirst = undefined;
    const w = early?.worker ?? new Worker(this.script, { workerData: { role: "checker" } });
    w.on("message", (res: WorkerResponse) => this.done(res));
    w.on("error", (e) => this.log(`worker thread failed: ${e.stack ?? e}`));
    for (const e of early?.failures ?? []) this.log(`worker thread failed: ${e.stack ?? e}`);
    if (early?.worker) this.startedEarly = true;
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
      const req: WorkerRequest = { id: this.nextId++, job, files: [], open: [], generation: this.generation };
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
