// parse + check time for generated files of 1,000, 10,000 and 100,000 lines.
import { parse } from "../grammar/index.ts";
import { check, loadProgram } from "../language/index.ts";
import { generateSource } from "./generate.ts";
import { peerContent } from "./peer-content.ts";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function parseAndCheck(text: string): number {
  const host = { readText: () => text, exists: () => true };
  const program = loadProgram(["/bench/main.pg"], host);
  return check(program).length;
}

const results: { lines: number; ms: number; parseMs: number }[] = [];
for (const [lines, runs] of [[1_000, 30], [10_000, 15], [100_000, 5]] as const) {
  const text = generateSource(lines);
  const errors = check(loadProgram(["/bench/main.pg"], { readText: () => text, exists: () => true })).filter((d) => d.severity === "error");
  if (errors.length) throw new Error(`generated file has errors: ${errors[0].message}`);
  for (let w = 0; w < 3; w++) parseAndCheck(text); // warm up the JIT
  const total: number[] = [];
  const parseOnly: number[] = [];
  for (let r = 0; r < runs; r++) {
    let t = performance.now();
    parse(text);
    parseOnly.push(performance.now() - t);
    t = performance.now();
    parseAndCheck(text);
    total.push(performance.now() - t);
  }
  const ms = median(total);
  results.push({ lines, ms, parseMs: median(parseOnly) });
  const mb = Buffer.byteLength(text) / 1e6;
  console.log(`language ${lines.toLocaleString("en")} lines (${mb.toFixed(2)} MB): parse+check median ${ms.toFixed(2)} ms (parse ${median(parseOnly).toFixed(2)} ms) over ${runs} runs, ${(mb / (ms / 1000)).toFixed(1)} MB/s`);
}
const [small, mid, large] = results;
console.log(
  `language growth: 10k/1k ${(mid.ms / small.ms).toFixed(1)}x, 100k/10k ${(large.ms / mid.ms).toFixed(1)}x (linear is 10x); ` +
  `target 10,000 lines <= 15 ms: ${mid.ms <= 15 ? "met" : "NOT met"}`,
);

// The same content as JSON (bench/peer-content.ts): parse+check against JSON.parse, in this run.
for (const lines of [10_000, 100_000]) {
  const content = peerContent(lines);
  const host = { readText: () => content.pg, exists: () => true };
  for (let w = 0; w < 3; w++) check(loadProgram(["/bench/peer.pg"], host));
  // Wall time, and CPU time (on a shared machine, the time the process was not running is not in it).
  const ours: number[] = [], json: number[] = [], oursCpu: number[] = [], jsonCpu: number[] = [];
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
  for (let r = 0; r < (lines > 10_000 ? 5 : 15); r++) {
    let t = performance.now(), c = cpu();
    check(loadProgram(["/bench/peer.pg"], host));
    ours.push(performance.now() - t);
    oursCpu.push(cpu() - c);
    t = performance.now();
    c = cpu();
    JSON.parse(content.json);
    json.push(performance.now() - t);
    jsonCpu.push(cpu() - c);
  }
  console.log(`language ${lines.toLocaleString("en")} lines as .pg (${(content.pg.length / 1e6).toFixed(2)} MB) and as JSON (${(content.json.length / 1e6).toFixed(2)} MB): parse+check median ${median(ours).toFixed(1)} ms, JSON.parse ${median(json).toFixed(1)} ms: ${(median(ours) / median(json)).toFixed(1)}x; CPU time ${median(oursCpu).toFixed(1)} ms and ${median(jsonCpu).toFixed(1)} ms: ${(median(oursCpu) / median(jsonCpu)).toFixed(1)}x (target <= 5x)`);
}
