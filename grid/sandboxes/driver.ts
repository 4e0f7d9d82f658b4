// The one interface every sandbox driver (wasm, container, vm) implements.
// The node resolves a manifest's workload block into a Job; a driver runs it.

export type SandboxKind = "wasm" | "container" | "vm";

export interface Limits {
  memoryBytes: number;
  timeMs: number;
  pids?: number;
  /** Fraction of one CPU, e.g. 0.5. */
  cpu?: number;
}

/** A workload file, content-addressed: the bytes are already verified against `cid`. */
export interface JobFile {
  name: string;
  cid: string;
  bytes: Uint8Array;
}

export interface Job {
  /** Deployment id, unique per run. */
  id: string;
  /** CID of the workload block. */
  workloadCid: string;
  name: string;
  sandbox: SandboxKind;
  /** wasm: module; container: image; vm: kernel, initrd. */
  files: Record<string, JobFile>;
  args: string[];
  env: Record<string, string>;
  command?: string[];
  append?: string;
  /** "none" unless a promise grants more. */
  network: string;
  limits: Limits;
}

export interface RunOutput {
  stdout(chunk: Uint8Array): void;
  stderr(chunk: Uint8Array): void;
}

/** Why a run ended. Anything but "exit" with code 0 is a broken promise. */
export type EndReason = "exit" | "time" | "memory" | "pids" | "stopped" | "error";

export interface RunResult {
  exitCode: number | null;
  reason: EndReason;
  /** Human-readable, says what happened ("killed at the 2 s time limit"). */
  message: string;
  durationMs: number;
}

export interface Availability {
  ok: boolean;
  /** When not ok: what is missing and what to install. */
  reason?: string;
}

export interface Driver {
  readonly kind: SandboxKind;
  /** Whether this driver can run on this machine, checked once and cached by the caller. */
  available(): Promise<Availability>;
  /** Runs the job to its end; `signal` aborts it (reason "stopped"). Never throws for workload faults. */
  run(job: Job, out: RunOutput, signal: AbortSignal): Promise<RunResult>;
}

export type Finish = (exitCode: number | null, reason: EndReason, message: string) => RunResult;

/** Starts a run's clock: the returned function makes its RunResult, timed from now. */
export function startRun(): Finish {
  const started = Date.now();
  return (exitCode, reason, message) => ({ exitCode, reason, message, durationMs: Date.now() - started });
}
