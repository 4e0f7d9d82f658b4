// Reads LSP frames from a byte stream like vscode-jsonrpc's reader, but survives bad frames: a header without a
// Content-Length, a body that is not JSON, or a header that never ends is reported and skipped, and reading resumes
// at the next "Content-Length:" header. (The library's reader, given a frame without a header, reads every later
// body as a header and never answers again.)
import { AbstractMessageReader, type DataCallback, type Disposable, type MessageReader } from "vscode-languageserver/node.js";

/** Larger frames are skipped (a 50 MB document in one didOpen still fits). */
const MAX_FRAME = 256 * 1024 * 1024;
/** A header longer than this is garbage. */
const MAX_HEADER = 8 * 1024;
const HEADER_END = Buffer.from("\r\n\r\n");
const CONTENT_LENGTH = Buffer.from("content-length:");

export class ResyncingReader extends AbstractMessageReader implements MessageReader {
  private chunks: Buffer[] = [];
  private size = 0;
  /** The body length once a header was read. */
  private bodyLength = -1;

  constructor(private readonly stream: NodeJS.ReadableStream, private readonly log: (message: string) => void) {
    super();
  }

  listen(callback: DataCallback): Disposable {
    const onData = (chunk: Buffer) => this.onData(chunk, callback);
    const onError = (e: Error) => this.fireError(e);
    const onClose = () => this.fireClose();
    this.stream.on("data", onData);
    this.stream.on("error", onError);
    this.stream.on("end", onClose);
    this.stream.on("close", onClose);
    return { dispose: () => { this.stream.off("data", onData); this.stream.off("error", onError); this.stream.off("end", onClose); this.stream.off("close", onClose); } };
  }

  private take(): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
    this.chunks = [all];
    return all;
  }

  private keep(rest: Buffer): void {
    this.chunks = rest.length ? [rest] : [];
    this.size = rest.length;
  }

  private onData(chunk: Buffer, callback: DataCallback): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    for (;;) {
      if (this.bodyLength < 0) {
        const buf = this.take();
        const end = buf.indexOf(HEADER_END);
        if (end < 0) {
          if (buf.length > MAX_HEADER) this.skip(buf, 1, "a header without an end");
          return;
        }
        const length = contentLength(buf.subarray(0, end).toString("ascii"));
        if (length === undefined || length > MAX_FRAME) {
          this.skip(buf, 1, length === undefined ? `a frame without a valid Content-Length header (${JSON.stringify(buf.subarray(0, Math.min(end, 80)).toString("latin1"))})` : `a frame of ${length} bytes`);
          continue;
        }
        this.keep(buf.subarray(end + HEADER_END.length));
        this.bodyLength = length;
      }
      if (this.size < this.bodyLength) return;
      const buf = this.take();
      const body = buf.subarray(0, this.bodyLength);
      this.keep(buf.subarray(this.bodyLength));
      this.bodyLength = -1;
      let message: unknown;
      try {
        message = JSON.parse(body.toString("utf8"));
      } catch (e) {
        this.log(`skipped a frame whose body is not JSON: ${(e as Error).message}`);
        continue;
      }
      if (!message || typeof message !== "object") {
        this.log("skipped a frame whose body is not a JSON-RPC message");
        continue;
      }
      callback(message as never);
    }
  }

  /** Drops bytes up to the next Content-Length header at or after `from` (all of them but a short tail if none). */
  private skip(buf: Buffer, from: number, what: string): void {
    this.log(`skipped ${what}`);
    const lower = Buffer.from(buf.toString("latin1").toLowerCase(), "latin1");
    const next = lower.indexOf(CONTENT_LENGTH, from);
    this.keep(next >= 0 ? buf.subarray(next) : buf.subarray(Math.max(from, buf.length - CONTENT_LENGTH.length)));
  }
}

function contentLength(header: string): number | undefined {
  for (const line of header.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon < 0 || line.slice(0, colon).trim().toLowerCase() !== "content-length") continue;
    const value = line.slice(colon + 1).trim();
    return /^\d+$/.test(value) ? Number(value) : undefined;
  }
  return undefined;
}
