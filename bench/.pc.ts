import { parse } from "../grammar/index.ts";
import { check, loadProgram } from "../language/index.ts";
import { peerContent } from "./peer-content.ts";
import { generateSource } from "./generate.ts";
const lines = Number(process.env.LINES ?? 10000);
const text = process.env.GEN ? generateSource(lines) : peerContent(lines).pg;
const host = { readText: () => text, exists: () => true };
const sf = parse(text);
const runs = Number(process.env.RUNS ?? 40);
const P: number[] = [], C: number[] = [];
let n = 0;
for (let r = 0; r < runs; r++) {
  const cache = new Map([["/x.pg", sf]]);
  let t = performance.now();
  const prog = loadProgram(["/x.pg"], host, cache);
  P.push(performance.now() - t);
  t = performance.now();
  n = check(prog).length;
  C.push(performance.now() - t);
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1].toFixed(2);
console.log(`program ${med(P)} check ${med(C)} diags ${n}`);
