// The server's memory policy. A full garbage collection once the server has been idle for a while: parsing and
// checking leave much garbage, and V8 gives the memory back to the system only after a full collection. Each thread
// calls idle() after work. And how far each heap may grow between V8's own full collections (see fitHeapGrowth).
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

/** Open documents up to this many characters in all (some 25,000 lines) are small. */
const SMALL_DOCUMENTS = 1_000_000;
/** How much each old generation may grow before V8's next full collection: for small documents, and for larger ones
 * (where each collection marks hundreds of MB). At 100,000 lines, 100% let the server hold 470-560 MB after 20 edits
 * (each leaves a 4 MB text and the lists of a parse in each thread) and 50% 405-440, with edits' medians the same;
 * 35% held 423-440 but made full-document edits some 20 ms slower. */
const SMALL_GROWTH_PERCENT = 20;
const LARGE_GROWTH_PERCENT = 50;
/** A document's first check. */
const OPENING_GROWTH_PERCENT = 100;
let growth: number | undefined;

/** Each edit leaves a copy of the text in each thread (large objects, freed only by a full collection) and a new
 * parse, and V8 starts a full collection when the heap has grown up to 4x since the last one. Cutting that growth
 * (V8 still lets a heap grow by some MB at least) brings collections sooner, each one short (most of its marking runs
 * concurrently), and keeps memory near what the server holds. While a
 * document opens (`opening`), its first check is mostly allocation that stays: the growth is 100%, so that the limit
 * the edits start from is not 4x. (V8's own, once used for large documents, left the checker thread a limit that let
 * 100,000 lines hold 650-740 MB after 40 edits in most runs, against 440-470 at 100%, with opens no slower.) The
 * setting is the process's (both threads): the main thread sets it around each check. */
export function fitHeapGrowth(openChars: number, opening = false): void {
  const small = openChars <= SMALL_DOCUMENTS;
  const percent = opening ? OPENING_GROWTH_PERCENT : small ? SMALL_GROWTH_PERCENT : LARGE_GROWTH_PERCENT;
  if (percent === growth) return;
  growth = percent;
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
