// The WASM sandbox: WASI preview1 in a worker thread, no preopened directories,
// stdout/stderr captured through fd_write, memory capped by rewriting the
// module's limits, wall time enforced with worker.terminate(). Compiled modules
// are cached by CID (and cap), and one warm worker is kept ready.
import { Worker } from "node:worker_threads";
import type { Availability, Driver, Job, RunOutput, RunResult } from "../driver.ts";
import { capMemory, ModuleError } from "./memory.ts";
import { limitsProblem, longTimeout } from "../limits.ts";
import { workerSource } from "./worker-source.ts";

type WorkerMessage =
  | { type: "out"; fd: number; data: Uint8Array }
  | { type: "exit"; code: number }
  | { type: "trap"; message: string; memoryBytes: number };

const PAGE = 65536;
/** Output the worker may have sent that the node has not yet taken. */
const MAX_OUTPUT_IN_FLIGHT = 1 << 20;

function formatTime(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

export class WasmDriver implements Driver {
  readonly kind = "wasm" as const;
  private readonly modules = new Map<string, Promise<WebAssembly.Module>>();
  private idle: Worker[] = [];
  /** How many modules were compiled (the cache's misses), for tests and benchmarks. */
  compiled = 0;

  async available(): Promise<Availability> {
    return { ok: true };
  }

  private spawn(): Worker {
    const w = new Worker(workerSource, { eval: true, stdout: false, stderr: false });
    w.unref();
    return w;
  }

  /** Keeps one warm worker so a deploy does not pay for starting a thread. */
  warm(): void {
    if (this.idle.length === 0) this.idle.push(this.spawn());
  }

  private module(job: Job): Promise<WebAssembly.Module> {
    const file = job.files.module;
    if (!file) return Promise.reject(new ModuleError("the workload has no `module` file"));
    const key = `${file.cid}:${job.limits.memoryBytes}`;
    let m = this.modules.get(key);
    if (!m) {
      m = (async () => {
        const capped = capMemory(file.bytes, job.limits.memoryBytes);
        this.compiled++;
        return WebAssembly.compile(capped as Uint8Array<ArrayBuffer>);
      })();
      m.catch(() => this.modules.delete(key));
      this.modules.set(key, m);
    }
    return m;
  }

  async run(job: Job, out: RunOutput, signal: AbortSignal): Promise<RunResult> {
    const started = performance.now();
    const elapsed = () => performance.now() - started;
    const bad = limitsProblem(job.limits);
    if (bad) return { exitCode: null, reason: "error", message: `refused: ${bad}`, durationMs: elapsed() };
    let module: WebAssembly.Module;
    try {
      module = await this.module(job);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const reason = /initial memory/.test(message) ? "memory" : "error";
      return { exitCode: null, reason, message: `module refused: ${message}`, durationMs: elapsed() };
    }
    if (signal.aborted) return { exitCode: null, reason: "stopped", message: "stopped before it started", durationMs: elapsed() };
    const worker = this.idle.pop() ?? this.spawn();
    worker.ref();
    // Output bytes posted by the worker and not yet handed on: the worker waits above MAX_OUTPUT_IN_FLIGHT.
    const flow = new Int32Array(new SharedArrayBuffer(4));
    return new Promise<RunResult>((resolve) => {
      let done = false;
      const finish = (result: Omit<RunResult, "durationMs">, reusable: boolean) => {
        if (done) return;
        done = true;
        timer.clear();
        signal.removeEventListener("abort", onAbort);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        if (reusable && this.idle.length < 2) {
          worker.unref();
          this.idle.push(worker);
        } else {
          void worker.terminate();
        }
        this.warm();
        resolve({ ...result, durationMs: elapsed() });
      };
      const onMessage = (m: WorkerMessage) => {
        if (m.type === "out") {
          (m.fd === 1 ? out.stdout : out.stderr)(new Uint8Array(m.data));
          Atomics.sub(flow, 0, m.data.byteLength);
          Atomics.notify(flow, 0);
        }
        else if (m.type === "exit") finish({ exitCode: m.code, reason: "exit", message: `exited with code ${m.code}` }, true);
        else {
          const cap = Math.floor(job.limits.memoryBytes / PAGE) * PAGE;
          if (m.memoryBytes + PAGE > cap) {
            finish({ exitCode: null, reason: "memory", message: `stopped at its memory limit of ${job.limits.memoryBytes} bytes (${m.message})` }, true);
          } else {
            finish({ exitCode: null, reason: "error", message: `trapped: ${m.message}` }, true);
          }
        }
      };
      const onError = (e: Error) => finish({ exitCode: null, reason: "error", message: `sandbox worker failed: ${e.message}` }, false);
      const onExit = () => finish({ exitCode: null, reason: "error", message: "sandbox worker exited unexpectedly" }, false);
      const onAbort = () => finish({ exitCode: null, reason: "stopped", message: "stopped on request" }, false);
      const timer = longTimeout(
        () => finish({ exitCode: null, reason: "time", message: `killed at the ${formatTime(job.limits.timeMs)} time limit` }, false),
        job.limits.timeMs,
      );
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      signal.addEventListener("abort", onAbort);
      worker.postMessage({ module, args: [job.name, ...job.args], env: job.env, flow, maxInFlight: MAX_OUTPUT_IN_FLIGHT });
    });
  }

  /** Ends the idle workers (the node calls this on shutdown). */
  async close(): Promise<void> {
    const idle = this.idle;
    this.idle = [];
    await Promise.all(idle.map((w) => w.terminate()));
  }
}
