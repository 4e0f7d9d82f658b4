// Parsing and checking a sample program before the first document comes: the first parse of a large file runs
// mostly in V8's interpreter while its functions get optimized (three times slower than the next), so each thread
// that parses does its first one on this text instead, in slices that a real request can come between.

/** A program of `n` groups of declarations of every kind, free of errors but for one declaration cut short (so
 * that recovery gets optimized too). */
export function warmUpText(n: number): string {
  const out = ["grid warm { hash sha2-256 }", "currency coin issued by w0 { supply 1000 }"];
  for (let i = 0; i < n; i++) {
    const [me, next] = [`w${i}`, `w${i + 1}`];
    out.push(
      `/// Agent ${i}.`,
      `agent ${me} "Agent ${i}" { kind service }`,
      `promise p${i}: ${me} -> ${next}, * +serve(x${i}) if holds(c${i}) and not kept(q${i}) { price 2 coin }`,
      `promise q${i}: ${next} -> ${me} -serve(x${i})`,
      `promise ${me} -> ${next} +report(r${i}) if (holds(c${i}) or p${i})`,
      `promise ${next} -> ${me} -report(r${i})`,
      `capability c${i} from ${me} to ${next} { grants serve(x${i}), report(r${i}) delegable depth 1 expires after 10 steps }`,
      `delegate d${i} of c${i} by ${next} to ${me} { grants serve(x${i}) expires after 5 steps }`,
    );
  }
  out.push(`agent w${n}`, `scenario "warm" {`, "  link w0 <-> w1", "  step 1: w1 invokes c0 at w0 expect kept", "  expect p0 kept", "}");
  out.push("promise w0 ->");
  return out.join("\n") + "\n";
}

/** Runs `work` `times` times, one run per macrotask, unless `stop` says a real request is waiting; then `done`. */
export function warmUp(work: () => void, times: number, stop: () => boolean, done: () => void): void {
  let left = times;
  const next = () => {
    if (left-- <= 0 || stop()) return done();
    try {
      work();
    } catch {
      return done(); // a warm-up that fails leaves the thread as it was: cold
    }
    setImmediate(next);
  };
  setImmediate(next);
}
