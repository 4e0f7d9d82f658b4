// The server's memory policy. A full garbage collection once the server has been idle for a while: parsing and
// checking leave much garbage, and V8 gives the memory back to the system only after a full collection. Each thread
// calls idle() after work. And, while the open documents are small, how far each heap may grow between V8's own full
// collections (see fitHeapGrowth).
import * as v8 from "node:v8";
import * as vm from "node:vm";

let gc: (() => void) | undefined;
try {
  v8.setFlagsFromString("--expose-gc");
  gc = vm.runInNewContext("gc") as () => void;
} catch {
  gc = undefined; // not available: memory is simply returned later
}

let timer: NodeJS.Timeout | undefined;

export function idle(delayMs = 1500): void {
  if (!gc) return;
  clearTimeout(timer);
  timer = setTimeout(() => gc?.(), delayMs);
  timer.unref();
}

/** Open documents up to this many characters in all (some 25,000 lines) keep the heaps' growth small. */
const SMALL_DOCUMENTS = 1_000_000;
/** How much each old generation may grow before V8's next full collection while the documents are small. */
const SMALL_GROWTH_PERCENT = 20;
let growth: number | undefined;

/** Each edit leaves a copy of the text in each thread (large objects, freed only by a full collection) and a new
 * parse, and V8 starts a full collection when the heap has grown up to 4x since the last one. While the open
 * documents are small (`openChars`), that growth is cut to SMALL_GROWTH_PERCENT (V8 still lets a heap grow by some
 * MB at least): collections come sooner, each one short (most of its marking runs concurrently), and memory stays
 * near what the server holds. For large documents each collection marks hundreds of MB, and while a document opens
 * its first check is mostly allocation that stays: there (`Infinity`), V8's own growth, so neither gets slower. The
 * setting is the process's (both threads): the main thread sets it around each check. */
export function fitHeapGrowth(openChars: number): void {
  const percent = openChars <= SMALL_DOCUMENTS ? SMALL_GROWTH_PERCENT : 0; // 0: V8's own
  if (percent === growth) return;
  growth = percent;
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
