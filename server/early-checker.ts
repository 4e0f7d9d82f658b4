// The checker thread started with the server's process, before the rest of the server loads (server/early-start.ts,
// main.ts's first import, so it runs first): the thread's own start and warm-up then overlap the server's loading,
// and a document opened soon after initialize finds it further along.
import * as fs from "node:fs";
import * as path from "node:path";
import { isMainThread, Worker } from "node:worker_threads";

/** The checker thread's bundle next to this one (server/checker-main.ts); without it, the server's own file serves as
 * both. */
const bundled = path.join(path.dirname(process.argv[1] ?? ""), "server-checker.cjs");
export const checkerScript = fs.existsSync(bundled) ? bundled : process.argv[1];

let early: Worker | undefined;
const failures: Error[] = [];
let exited = false;

export function startEarlyWorker(): void {
  if (!isMainThread || !checkerScript || early) return;
  early = new Worker(checkerScript, { workerData: { role: "checker" } });
  // Kept until the server takes the worker (an 'error' without a listener would end the process).
  early.on("error", (e) => failures.push(e));
  early.once("exit", () => (exited = true));
  early.unref();
}

/** The worker started early, once (none after that, when none was started, or when it has ended), and what it
 * failed with so far (for the log, also when it has ended). */
export function takeEarlyWorker(script: string): { worker?: Worker; failures: Error[] } | undefined {
  const w = early;
  early = undefined;
  if (!w) return undefined;
  w.removeAllListeners("error");
  if (exited || script !== checkerScript) { void w.terminate(); return { failures }; }
  return { worker: w, failures };
}
