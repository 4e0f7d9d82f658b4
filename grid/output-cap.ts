// Bounds on what a node holds of a deployment's output: the first
// MAX_KEPT_OUTPUT bytes are kept (for the logs API and the assessment), a line
// says so when the rest is dropped, and a log follower that falls more than
// MAX_FOLLOWER_BACKLOG behind is told so and disconnected instead of buffered for.

/** Output bytes kept per deployment (stdout and stderr together). */
export const MAX_KEPT_OUTPUT = 1024 * 1024;
/** Bytes a log follower may have unsent before it is disconnected. */
export const MAX_FOLLOWER_BACKLOG = 4 * 1024 * 1024;

export interface KeptEntry {
  stream: "stdout" | "stderr";
  data: string;
}

export const droppedNotice = (): KeptEntry => ({
  stream: "stderr",
  data: `\n[promisegrid: output past the first ${MAX_KEPT_OUTPUT} bytes was not kept]\n`,
});

export const slowFollowerNotice = (): KeptEntry => ({
  stream: "stderr",
  data: `\n[promisegrid: this log follower fell ${MAX_FOLLOWER_BACKLOG} bytes behind and was disconnected; the first ${MAX_KEPT_OUTPUT} bytes are kept: read them with follow=0]\n`,
});

/**
 * Keeps `chunk` (already decoded as `entry`) if there is room: the kept bytes
 * go to `output`, the entries to `d.logs`. A chunk that crosses the cap is cut.
 */
export function keepOutput(d: { logs: KeptEntry[]; logBytes: number }, output: Uint8Array[], entry: KeptEntry, chunk: Uint8Array): void {
  const room = MAX_KEPT_OUTPUT - d.logBytes;
  d.logBytes += chunk.length;
  if (room <= 0) {
    // The first chunk past a cap filled exactly: say so once.
    if (room === 0 && chunk.length > 0) d.logs.push(droppedNotice());
    return;
  }
  if (chunk.length <= room) {
    output.push(chunk);
    d.logs.push(entry);
    return;
  }
  const part = chunk.subarray(0, room);
  output.push(part);
  d.logs.push({ stream: entry.stream, data: new TextDecoder().decode(part) }, droppedNotice());
}
