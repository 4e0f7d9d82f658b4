// Deployments: a signed deploy request checked (chain, replay), its job
// assembled from the manifest's blocks (cached), run in a sandbox with its
// output kept for the logs API, and assessed (kept or broken) by a signed record.
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import * as raw from "multiformats/codecs/raw";
import * as dagCbor from "@ipld/dag-cbor";
import { randomBytes } from "node:crypto";
import type { BlockStore } from "./store.ts";
import type { BlockExchange } from "./blocks.ts";
import { keyId, type PrivateKey } from "./keys.ts";
import type { GridState, ReplayGuard, TokenBook } from "./state.ts";
import type { BlockAccess } from "./access.ts";
import { signRecord, type AssessmentPayload, type DeployPayload, type Signed } from "./records.ts";
import type { Policy } from "./policy.ts";
import { decodeManifest, decodeWorkload, ManifestError } from "./manifest.ts";
import type { DriverRegistry } from "./sandboxes/index.ts";
import { jobProblem } from "./sandboxes/limits.ts";
import { keepOutput } from "./output-cap.ts";
import type { Job, JobFile, RunResult, SandboxKind } from "./sandboxes/driver.ts";

/** How far a deploy request's signing time may be from the node's clock; each request is used once. */
export const REPLAY_WINDOW_MS = 5 * 60 * 1000;
/** Deployment records kept in memory for the API. */
const MAX_DEPLOYMENTS = 1000;
/** Resolved jobs kept, by the bytes of their files. */
const JOB_CACHE_BYTES = 256 * 1024 * 1024;

export interface LogEntry {
  stream: "stdout" | "stderr";
  data: string;
}

/** exited: ran to its end (any exit code); failed: killed at a limit or errored; stopped: on request. */
export type DeploymentState = "running" | "exited" | "failed" | "stopped";

export interface DeploymentInfo {
  id: string;
  manifest: string;
  workload: string;
  workloadCid: string | null;
  sandbox: SandboxKind | null;
  holder: string;
  state: DeploymentState;
  createdAt: number;
  result: RunResult | null;
  assessment: { cid: string; kept: boolean; message: string; output: string | null } | null;
}

export interface Deployment {
  info: DeploymentInfo;
  logs: LogEntry[];
  logBytes: number;
  listeners: Set<(e: LogEntry | null) => void>;
  abort: AbortController;
  done: Promise<void>;
}

/** A deploy refused before it ran; `status` is the HTTP status the API answers with. */
export class DeployError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** What deployments need from the node they run on. */
export interface DeploymentHost {
  key: PrivateKey;
  state: GridState;
  store: BlockStore;
  blocks: BlockExchange;
  drivers: DriverRegistry;
  /** Deploy requests already used (survives restarts). */
  replays: ReplayGuard;
  /** Chains this node can prove, to revoke any hop under its key. */
  tokens: TokenBook;
  /** Who may fetch which block: a holder's accepted deploys. */
  access: BlockAccess;
  /** Judges each deploy request. */
  policy: Policy;
  /** Stores a block (and, when `indexed`, lists it in the state index), in write order. */
  persist(cid: CID, bytes: Uint8Array, indexed: boolean): Promise<void>;
  /** Gossips a signed assessment to the peers. */
  publishAssessment(record: Signed): Promise<void>;
}

export class Deployments {
  readonly all = new Map<string, Deployment>();

  constructor(private readonly host: DeploymentHost) {}

  private get publicKey(): Uint8Array {
    return this.host.key.publicKey.raw;
  }

  /**
   * Checks a signed deploy request, stores the blocks sent with it (only once
   * the request is accepted, so a refused deploy changes nothing), fetches what
   * is still missing from peers, and starts the run.
   */
  async deploy(request: Signed<DeployPayload>, blocks: { cid: CID; bytes: Uint8Array }[] = []): Promise<DeploymentInfo> {
    const now = Date.now();
    // The node's policy judges (grid/policy.ts): without one, its own key is the only root.
    const verdict = await this.host.policy.judge(request, { now, isRevoked: (cid, issuers) => this.host.state.isRevoked(cid, issuers) });
    if (!verdict.ok) throw new DeployError(403, verdict.refusal.code, `deploy refused: ${verdict.refusal.message}`);
    const p = request.payload;
    // A signed request is good once, within REPLAY_WINDOW_MS of when it was signed.
    if (typeof p.at !== "number" || Math.abs(now - p.at) > REPLAY_WINDOW_MS) {
      throw new DeployError(403, "stale", `deploy refused: the request was signed at ${new Date(Number(p.at)).toISOString()}, more than ${REPLAY_WINDOW_MS / 1000} s from this node's clock`);
    }
    if (!(await this.host.replays.use(request.sig, p.at, now))) throw new DeployError(403, "replayed", "deploy refused: this signed request was already used; sign a new one");
    await this.host.tokens.remember(p.chain);
    for (const b of blocks) await this.host.store.put(b.cid, b.bytes);
    const manifestCid = CID.asCID(p.manifest);
    if (!manifestCid) throw new DeployError(400, "malformed", "the deploy request's manifest is not a CID");
    await this.host.access.deployed(manifestCid, p.holder);
    const job = { ...(await this.cachedJob(manifestCid, p.workload, request)), id: randomBytes(6).toString("hex") };
    const refusal = jobProblem(job);
    if (refusal) throw new DeployError(422, "refused-job", `deploy refused: workload '${p.workload}': ${refusal}`);
    const availability = await this.host.drivers.check(job.sandbox);
    if (!availability.ok) throw new DeployError(503, "driver-unavailable", `the ${job.sandbox} sandbox is not available on this node: ${availability.reason}`);
    const driver = this.host.drivers.get(job.sandbox)!;
    const info: DeploymentInfo = {
      id: job.id,
      manifest: manifestCid.toString(),
      workload: p.workload,
      workloadCid: job.workloadCid,
      sandbox: job.sandbox,
      holder: keyId(p.holder),
      state: "running",
      createdAt: Date.now(),
      result: null,
      assessment: null,
    };
    const d: Deployment = { info, logs: [], logBytes: 0, listeners: new Set(), abort: new AbortController(), done: Promise.resolve() };
    this.all.set(info.id, d);
    // Forget the oldest finished deployments beyond MAX_DEPLOYMENTS (their assessments stay in the state).
    if (this.all.size > MAX_DEPLOYMENTS) {
      for (const [id, old] of this.all) {
        if (this.all.size <= MAX_DEPLOYMENTS) break;
        if (old.info.result) this.all.delete(id);
      }
    }
    const dec = { stdout: new TextDecoder(), stderr: new TextDecoder() };
    const output: Uint8Array[] = [];
    const push = (stream: "stdout" | "stderr", chunk: Uint8Array) => {
      const entry = { stream, data: dec[stream].decode(chunk, { stream: true }) };
      keepOutput(d, output, entry, chunk);
      for (const l of d.listeners) l(entry);
    };
    d.done = (async () => {
      const started = performance.now();
      // Drivers do not throw for workload faults; a driver bug still ends the deployment.
      const result = await driver.run(job, { stdout: (c) => push("stdout", c), stderr: (c) => push("stderr", c) }, d.abort.signal).catch(
        (e): RunResult => ({ exitCode: null, reason: "error", message: `the ${job.sandbox} driver failed: ${e instanceof Error ? e.message : e}`, durationMs: performance.now() - started }),
      );
      info.assessment = await this.assess(info, manifestCid, output, result).catch(() => null);
      info.result = result;
      info.state = result.reason === "exit" ? "exited" : result.reason === "stopped" ? "stopped" : "failed";
      for (const l of d.listeners) l(null);
      d.listeners.clear();
    })();
    return info;
  }

  private async assess(info: DeploymentInfo, manifest: CID, output: Uint8Array[], result: RunResult): Promise<DeploymentInfo["assessment"]> {
    const bytes = Buffer.concat(output);
    let outputCid: CID | null = null;
    if (bytes.length) {
      outputCid = CID.createV1(raw.code, await sha256.digest(bytes));
      await this.host.access.markOutput(outputCid);
      void this.host.persist(outputCid, bytes, false).catch(() => {});
    }
    const kept = result.reason === "exit" && result.exitCode === 0;
    const payload: AssessmentPayload = {
      type: "promisegrid/assessment",
      v: 0,
      node: this.publicKey,
      deployment: info.id,
      manifest,
      workload: info.workload,
      kept,
      exitCode: result.exitCode,
      reason: result.reason,
      message: result.message,
      // The output's CID stays on this node (its deployer reads it through the API): gossip goes to everyone.
      output: null,
      at: Date.now(),
    };
    const record = await signRecord(this.host.key, payload);
    const cid = await this.host.state.add(record);
    if (!cid) throw new Error("assessment already recorded");
    // Persisted in the background: the deployment's end need not wait for the disk.
    void this.host.persist(cid, dagCbor.encode(record), true).catch(() => {});
    void this.host.publishAssessment(record);
    const verdict = kept ? `kept: ${info.workload} ${result.message}` : `broken: ${info.workload} ${result.message}`;
    return { cid: cid.toString(), kept, message: verdict, output: outputCid?.toString() ?? null };
  }

  // Manifests are immutable (content-addressed), so a resolved job (its files assembled
  // and verified) can be reused. Least recently used jobs go first past the byte budget.
  private readonly jobs = new Map<string, { job: Promise<Job>; bytes: number }>();

  private cachedJob(manifestCid: CID, workload: string, request: Signed<DeployPayload>): Promise<Job> {
    const key = `${manifestCid}/${workload}`;
    const hit = this.jobs.get(key);
    if (hit) {
      this.jobs.delete(key);
      this.jobs.set(key, hit);
      return hit.job;
    }
    const entry = { job: this.resolveJob(manifestCid, workload, request), bytes: 0 };
    this.jobs.set(key, entry);
    entry.job.then((j) => {
      entry.bytes = Object.values(j.files).reduce((n, f) => n + f.bytes.length, 0);
      let total = [...this.jobs.values()].reduce((n, e) => n + e.bytes, 0);
      for (const [k, e] of this.jobs) {
        if (total <= JOB_CACHE_BYTES || k === key) break;
        this.jobs.delete(k);
        total -= e.bytes;
      }
      if (entry.bytes > JOB_CACHE_BYTES) this.jobs.delete(key);
    }, () => this.jobs.delete(key));
    return entry.job;
  }

  private async resolveJob(manifestCid: CID, workload: string, request: Signed<DeployPayload>): Promise<Job> {
    const decoded = <T>(decode: () => T): T => {
      try {
        return decode();
      } catch (e) {
        if (e instanceof ManifestError) throw new DeployError(422, "bad-manifest", `manifest ${manifestCid}: ${e.message}`);
        throw e;
      }
    };
    const fetch = async (cid: CID, what: string): Promise<Uint8Array> => {
      try {
        return await this.host.blocks.get(cid, request);
      } catch (e) {
        throw new DeployError(422, "missing-blocks", `cannot get ${what}: ${e instanceof Error ? e.message : e}`);
      }
    };
    const rootBytes = await fetch(manifestCid, "the manifest");
    const root = decoded(() => decodeManifest(rootBytes));
    const wcid = Object.hasOwn(root.workloads, workload) ? root.workloads[workload] : undefined;
    if (!wcid) throw new DeployError(422, "bad-manifest", `manifest ${manifestCid}: it has no workload named '${workload}'`);
    const wBytes = await fetch(wcid, `workload '${workload}'`);
    const w = decoded(() => decodeWorkload(wBytes, workload));
    const files: Record<string, JobFile> = {};
    for (const [role, f] of Object.entries(w.files)) {
      try {
        await this.host.blocks.ensure(f.chunks, request);
      } catch (e) {
        throw new DeployError(422, "missing-blocks", `cannot get ${f.name}: ${e instanceof Error ? e.message : e}`);
      }
      const parts: Uint8Array[] = [];
      for (const c of f.chunks) parts.push((await this.host.store.get(c))!);
      const bytes = new Uint8Array(Buffer.concat(parts));
      if (f.size !== bytes.length) throw new DeployError(422, "bad-manifest", `manifest ${manifestCid}: ${f.name} is ${bytes.length} bytes, the manifest says ${f.size}`);
      files[role] = { name: f.name, cid: f.chunks.length === 1 ? String(f.chunks[0]) : `${wcid}/files/${role}`, bytes };
    }
    return {
      id: randomBytes(6).toString("hex"),
      workloadCid: wcid.toString(),
      name: w.name,
      sandbox: w.sandbox,
      files,
      args: w.args,
      env: w.env,
      command: w.command,
      append: w.append,
      network: w.network,
      limits: w.limits,
    };
  }

  get(id: string): Deployment | undefined {
    return this.all.get(id);
  }

  stop(id: string): boolean {
    const d = this.all.get(id);
    if (!d) return false;
    d.abort.abort();
    return true;
  }

  /** Stops every run and waits for all to end. */
  async stopAll(): Promise<void> {
    for (const d of this.all.values()) d.abort.abort();
    await Promise.all([...this.all.values()].map((d) => d.done.catch(() => {})));
  }
}
