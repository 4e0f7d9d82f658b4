// The driver registry the node uses. Each sandbox kind has one driver; a driver
// says whether it can run here (checked once, cached) and why not.
import type { Availability, Driver, SandboxKind } from "./driver.ts";
import { WasmDriver } from "./wasm/index.ts";
import { ContainerDriver } from "./container/index.ts";
import { VmDriver } from "./vm/index.ts";

export type DriverFactory = () => Driver;

/** Every known driver kind and how to make it. Container and VM drivers add themselves here. */
export const driverFactories: Partial<Record<SandboxKind, DriverFactory>> = {
  wasm: () => new WasmDriver(),
  container: () => new ContainerDriver(),
  vm: () => new VmDriver(),
};

export class DriverRegistry {
  private readonly drivers = new Map<SandboxKind, Driver>();
  private readonly availability = new Map<SandboxKind, Promise<Availability>>();

  constructor(factories: Partial<Record<SandboxKind, DriverFactory>> = driverFactories) {
    for (const [kind, make] of Object.entries(factories) as [SandboxKind, DriverFactory][]) {
      this.drivers.set(kind, make());
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
