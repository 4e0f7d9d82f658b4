// Parsing and checking a sample program before the first document comes: the first parse of a large file runs
// mostly in V8's interpreter while its functions get optimized (three times slower than the next), so each thread
// that parses does its first one on this text instead, in slices that a real request can come between.

/** A program of `n` groups of declarations of every kind, with and without their optional parts (a description,
 * a block, a condition, more than one promisee), free of errors but for one declaration cut short (so that recovery
 * gets optimized too). `plain`: only agents, promises and capabilities, without comments or promises to everyone, as
 * many files are. A shape the warm-up never made (of a tree, or of a list that stays empty), met first in a large
 * file, deoptimizes the code optimized without it, there and then. */
export function warmUpText(n: number, plain = false): string {
  const out = plain ? [] : ["grid warm { hash sha2-256 }", "currency coin issued by w0 { supply 1000 }"];
  for (let i = 0; i < n; i++) {
    const [me, next] = [`w${i}`, `w${i + 1}`];
    if (!plain) out.push(`/// Agent ${i}.`);
    out.push(
      `agent ${me} "Agent ${i}" { kind service }`,
      `agent ${me}x "Agent ${i}, plain"`,
      `agent ${me}y`,
      `promise p${i}: ${me} -> ${next}${plain ? "" : ", *"} +serve(x${i}) if holds(c${i}) and not kept(q${i})${plain ? "" : " { price 2 coin }"}`,
      `promise q${i}: ${next} -> ${me} -serve(x${i})`,
      `promise ${me} -> ${next} +report(r${i}) if (holds(c${i}) or p${i})`,
      `promise ${next} -> ${me} -report(r${i})`,
      `promise ${me} -> ${next} +serve(z${i})`,
      `promise ${next} -> ${me} -serve(z${i})`,
      `promise ${me} -> ${me}x, ${me}y +notify(n${i}) if holds(k${i})`,
      `promise ${me}y -> ${me} -notify(n${i})`,
      `capability c${i} from ${me} to ${next} { grants serve(x${i}), report(r${i}) delegable depth 1 expires after 10 steps }`,
      `capability k${i} from ${me} to ${me}x { grants notify(n${i}) }`,
    );
    if (!plain) out.push(`delegate d${i} of c${i} by ${next} to ${me} { grants serve(x${i}) expires after 5 steps }`);
  }
  out.push(`agent w${n}`);
  if (!plain) out.push(`scenario "warm" {`, "  link w0 <-> w1", "  step 1: w1 invokes c0 at w0 expect kept", "  expect p0 kept", "}");
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
