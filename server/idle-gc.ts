// A full garbage collection once the server has been idle for a while: parsing and checking leave much garbage,
// and V8 gives the memory back to the system only after a full collection. Each thread calls idle() after work.
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
