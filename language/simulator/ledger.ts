// A scenario's setup balances, once: the checker judges them (PG912) and the
// simulator starts from them. Keys are whatever the caller names agents by.

/** Amounts are kept as integers of this many micro-units so sums stay exact. */
export const UNIT = 1_000_000;

export function toMicro(v: number): number { return Math.round(v * UNIT); }

/** A currency as setup sees it; `supply` in micro-units, undefined when the issuer mints. */
export interface SetupCurrency<K> { name: string; issuer: K; supply?: number }

/** Every holding of one currency at the start: the issuer holds its whole supply. */
export function initialHoldings<K>(c: SetupCurrency<K>): Map<K, number> {
  return new Map(c.supply ? [[c.issuer, c.supply]] : []);
}

/**
 * `balance A N unit` sets A's balance to N. With a declared supply the difference
 * comes from (or goes back to) the issuer, so the supply is conserved; without one
 * the issuer mints it. Returns what was minted, or the problem (and changes nothing).
 */
export function setupBalance<K>(c: SetupCurrency<K>, held: Map<K, number>, agent: K, amount: number, name: (k: K) => string): { minted: number } | { problem: string } {
  const delta = amount - (held.get(agent) ?? 0);
  if (c.supply === undefined) {
    held.set(agent, amount);
    return { minted: delta };
  }
  if (agent === c.issuer) {
    return { problem: `${name(agent)} issues ${c.name} and starts with its whole supply (${c.supply / UNIT}); set other agents' balances instead, they are transferred from it` };
  }
  const issuerHas = held.get(c.issuer) ?? 0;
  if (delta > issuerHas) {
    return { problem: `${name(c.issuer)} has only ${issuerHas / UNIT} ${c.name} left of its supply of ${c.supply / UNIT}; cannot give ${name(agent)} ${amount / UNIT}` };
  }
  held.set(c.issuer, issuerHas - delta);
  held.set(agent, amount);
  return { minted: 0 };
}
