// Generates large, valid .pg files for benchmarks: agents, promises, capabilities, scenarios.
export function generateSource(lines: number): string {
  const out: string[] = ["grid bench { hash sha2-256 }", "currency coin issued by a0 { supply 1000000 }"];
  let i = 0;
  while (out.length < lines) {
    out.push(
      `/// Agent ${i}.`,
      `agent a${i} "Agent number ${i}"`,
      `promise p${i}: a${i} -> * +serve(item${i % 50}) if holds(c${i}) { price 2 coin }`,
      `promise a${i} -> a${(i + 1) % 1_000_000} -serve(item${i % 50})`,
      `capability c${i} from a${i} to a${i + 1} { grants serve(item${i % 50}) expires after 10 steps }`,
      "",
    );
    i++;
  }
  // Every agent named above exists: close the ring.
  out.push(`agent a${i}`);
  return out.slice(0, Math.max(lines, 1)).join("\n") + "\n";
}
