// What a node accepts to run, checked on every job whatever the compiler did:
// the limits (each a positive number below the node's maximum) and the network
// (nothing can grant more than `none` yet). One place for both rules; the
// drivers check the limits again before they start anything.
import type { Job, Limits } from "./driver.ts";

/** Node.js fires any setTimeout delay above this at once; longer limits are refused. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The largest limits a node accepts (docs/sandboxes.md). */
export const NODE_MAXIMA = {
  memoryBytes: 64 * 2 ** 30,
  /** About 24.8 days. */
  timeMs: MAX_TIMER_MS,
  pids: 32768,
  cpu: 64,
} as const;

const NAMES: Record<keyof Limits, string> = { memoryBytes: "memory", timeMs: "time", pids: "pids", cpu: "cpu" };

/** Why `limits` cannot be run (naming the field), or undefined when they are fine. */
export function limitsProblem(limits: Partial<Record<keyof Limits, unknown>>): string | undefined {
  for (const field of ["memoryBytes", "timeMs", "pids", "cpu"] as const) {
    const v = limits[field];
    if (v === undefined && (field === "pids" || field === "cpu")) continue;
    const name = `limit '${NAMES[field]}' (${field})`;
    if (typeof v !== "number" || !Number.isFinite(v)) return `${name} must be a finite number, got ${v === undefined ? "nothing" : JSON.stringify(v) ?? String(v)}`;
    if (v <= 0) return `${name} must be greater than 0, got ${v}`;
    if ((field === "pids" || field === "memoryBytes") && !Number.isInteger(v)) return `${name} must be a whole number, got ${v}`;
    if (v > NODE_MAXIMA[field]) return `${name} is ${v}, over this node's maximum of ${NODE_MAXIMA[field]}`;
  }
  return undefined;
}

/** Why the node refuses to run `job`, or undefined. */
export function jobProblem(job: Job): string | undefined {
  const limits = limitsProblem(job.limits);
  if (limits) return limits;
  if (job.network !== "none") {
    return `network '${job.network}' is not granted: this node grants no network to any workload (only 'none')`;
  }
  return undefined;
}

/** A timer for any delay up to NODE_MAXIMA.timeMs and beyond: long delays are chained, never overflowed. */
export function longTimeout(fn: () => void, ms: number): { clear(): void } {
  const end = Date.now() + ms;
  let timer: NodeJS.Timeout;
  const arm = () => {
    const left = end - Date.now();
    timer = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(fn, Math.max(0, left));
  };
  arm();
  return { clear: () => clearTimeout(timer) };
}
