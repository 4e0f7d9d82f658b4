// The driver registry the node uses. Each sandbox kind has one driver; a driver
// says whether it can run here (checked once, cached) and why not.
import type { Availability, Driver, SandboxKind } from "./driver.ts";
import { WasmDriver } from "./wasm/index.ts";
import { ContainerDriver } from "./container/index.ts";
import { VmDriver } from "./vm/index.ts";
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** Where a node's drivers keep their state; empty for drivers made outside a node. */
export interface DriverContext {
  /** Unpacked images, VM files, bundles: `$PROMISEGRID_SANDBOX_DIR`, else `<dataDir>/sandboxes`. */
  stateDir?: string;
  /** The node's data dir: the container driver makes it searchable (not listable) so the container's user reaches its rootfs. */
  dataDir?: string;
  /** Where runs are recorded before they start (`<dataDir>/sandbox-runs`), for reapOrphans. */
  runsDir?: string;
}

export type DriverFactory = (ctx: DriverContext) => Driver;

/**
 * The context for a node whose data dir is `dataDir`. The container's user must
 * be able to search every directory above its rootfs; where one above the data
 * dir is closed (a home of mode 0700), the state goes under /var/lib/promisegrid.
 */
export function nodeDriverContext(dataDir: string): DriverContext {
  const dir = resolve(dataDir);
  let open = true;
  for (let d = dirname(dir); d !== dirname(d) || d === "/"; d = dirname(d)) {
    try {
      if ((statSync(d).mode & 0o001) === 0) open = false;
    } catch {
      open = false;
    }
    if (d === "/") break;
  }
  const fallback = join("/var/lib/promisegrid", createHash("sha256").update(dir).digest("hex").slice(0, 16));
  return { stateDir: process.env.PROMISEGRID_SANDBOX_DIR ?? (open ? join(dir, "sandboxes") : fallback), dataDir: dir, runsDir: runsDir(dir) };
}

export function runsDir(dataDir: string): string {
  return join(dataDir, "sandbox-runs");
}

/** Every known driver kind and how to make it. Container and VM drivers add themselves here. */
export const driverFactories: Partial<Record<SandboxKind, DriverFactory>> = {
  wasm: () => new WasmDriver(),
  container: (ctx) => new ContainerDriver(ctx),
  vm: (ctx) => new VmDriver(ctx),
};

export class DriverRegistry {
  private readonly drivers = new Map<SandboxKind, Driver>();
  private readonly availability = new Map<SandboxKind, Promise<Availability>>();

  constructor(factories: Partial<Record<SandboxKind, DriverFactory>> = driverFactories, ctx: DriverContext = {}) {
    for (const [kind, make] of Object.entries(factories) as [SandboxKind, DriverFactory][]) {
      this.drivers.set(kind, make(ctx));
    }
  }

  get(kind: SandboxKind): Driver | undefined {
    return this.drivers.get(kind);
  }

  /** Whether `kind` can run here; unknown kinds are unavailable with a reason. */
  async check(kind: SandboxKind): Promise<Availability> {
    const driver = this.drivers.get(kind);
    if (!driver) return { ok: false, reason: `no ${kind} driver is built into this node` };
    let a = this.availability.get(kind);
    if (!a) {
      a = driver.available().catch((e) => ({ ok: false, reason: `${kind} driver check failed: ${e instanceof Error ? e.message : e}` }));
      this.availability.set(kind, a);
    }
    return a;
  }

  async report(): Promise<Record<string, Availability>> {
    const out: Record<string, Availability> = {};
    for (const kind of ["wasm", "container", "vm"] as SandboxKind[]) out[kind] = await this.check(kind);
    return out;
  }

  async close(): Promise<void> {
    for (const d of this.drivers.values()) {
      const c = (d as { close?: () => Promise<void> }).close;
      if (c) await c.call(d);
    }
  }
}
