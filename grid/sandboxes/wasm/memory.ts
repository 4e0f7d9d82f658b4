// Caps a module's memory by rewriting the limits in its memory section, since
// worker resourceLimits do not cap wasm memory. Only the memory section (id 5)
// is rewritten; every other byte is copied as is.

const PAGE = 65536;

function readU32(b: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    if (pos >= b.length) throw new Error("truncated LEB128");
    const byte = b[pos++];
    result += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) return [result, pos];
    if (shift > 35) throw new Error("LEB128 too long");
  }
}

function writeU32(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

export class ModuleError extends Error {}

/** Returns the module with every defined memory's maximum set to at most `maxBytes`. */
export function capMemory(wasm: Uint8Array, maxBytes: number): Uint8Array {
  const maxPages = Math.floor(maxBytes / PAGE);
  if (wasm.length < 8 || wasm[0] !== 0 || wasm[1] !== 0x61 || wasm[2] !== 0x73 || wasm[3] !== 0x6d) {
    throw new ModuleError("not a WebAssembly module (bad magic number)");
  }
  if (wasm[4] !== 1 || wasm[5] !== 0 || wasm[6] !== 0 || wasm[7] !== 0) {
    throw new ModuleError("unsupported WebAssembly binary version (only core module version 1)");
  }
  const parts: Uint8Array[] = [wasm.subarray(0, 8)];
  let pos = 8;
  while (pos < wasm.length) {
    const id = wasm[pos];
    const [size, bodyStart] = readU32(wasm, pos + 1);
    const end = bodyStart + size;
    if (end > wasm.length) throw new ModuleError(`section ${id} runs past the end of the module`);
    if (id === 2) checkImports(wasm.subarray(bodyStart, end));
    if (id !== 5) {
      parts.push(wasm.subarray(pos, end));
    } else {
      const body = wasm.subarray(bodyStart, end);
      let p = 0;
      let count: number;
      [count, p] = readU32(body, p);
      const out: number[] = writeU32(count);
      for (let i = 0; i < count; i++) {
        const flags = body[p++];
        if (flags & ~0x01) throw new ModuleError("shared or 64-bit memories are not supported");
        let min: number;
        [min, p] = readU32(body, p);
        let max = maxPages;
        if (flags & 1) {
          let declared: number;
          [declared, p] = readU32(body, p);
          max = Math.min(declared, maxPages);
        }
        if (min > maxPages) {
          throw new ModuleError(`the module needs ${min * PAGE} bytes of initial memory, over its ${maxBytes}-byte limit`);
        }
        out.push(0x01, ...writeU32(min), ...writeU32(max));
      }
      parts.push(Uint8Array.from([5, ...writeU32(out.length), ...out]));
    }
    pos = end;
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const result = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    result.set(p, o);
    o += p.length;
  }
  return result;
}

// An imported memory would escape the cap: refuse it.
function checkImports(body: Uint8Array): void {
  let p = 0;
  let count: number;
  [count, p] = readU32(body, p);
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < 2; k++) {
      let len: number;
      [len, p] = readU32(body, p);
      p += len;
    }
    const kind = body[p++];
    if (kind === 0x02) throw new ModuleError("the module imports its memory; only modules that define their own memory can be capped");
    if (kind === 0x00 || kind === 0x04) {
      if (kind === 0x04) p++;
      [, p] = readU32(body, p);
    } else if (kind === 0x01) {
      p++;
      const flags = body[p++];
      [, p] = readU32(body, p);
      if (flags & 1) [, p] = readU32(body, p);
    } else if (kind === 0x03) {
      p += 2;
    } else {
      throw new ModuleError(`unknown import kind ${kind}`);
    }
  }
}
