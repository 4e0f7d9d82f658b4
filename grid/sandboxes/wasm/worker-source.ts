// The worker's code, run with `eval: true` so the bundled node needs no extra
// file. Plain CommonJS: it only uses Node built-ins. A worker runs one job at a
// time and can be reused after a job that ended by itself. Output waits (the
// module blocks in fd_write) while more than `maxInFlight` bytes are unread.
export const workerSource = String.raw`
// WASI is marked experimental; its warning is noise in a sandbox worker.
process.emitWarning = () => {};
const { parentPort } = require("node:worker_threads");
const { WASI } = require("node:wasi");
parentPort.on("message", (job) => {
  let memory;
  try {
    const wasi = new WASI({ version: "preview1", args: job.args, env: job.env, preopens: {}, returnOnExit: true });
    const base = wasi.getImportObject().wasi_snapshot_preview1;
    const fdWrite = (fd, iovs, iovsLen, nwritten) => {
      if (fd !== 1 && fd !== 2) return base.fd_write(fd, iovs, iovsLen, nwritten);
      const view = new DataView(memory.buffer);
      const parts = [];
      let total = 0;
      for (let i = 0; i < iovsLen; i++) {
        const ptr = view.getUint32(iovs + i * 8, true);
        const len = view.getUint32(iovs + i * 8 + 4, true);
        if (ptr + len > memory.buffer.byteLength) return 21; // EFAULT
        parts.push(new Uint8Array(memory.buffer, ptr, len).slice());
        total += len;
      }
      view.setUint32(nwritten, total, true);
      // Backpressure: wait while the node has not taken the output already sent.
      while (Atomics.load(job.flow, 0) > job.maxInFlight) Atomics.wait(job.flow, 0, Atomics.load(job.flow, 0), 100);
      Atomics.add(job.flow, 0, total);
      const data = Buffer.concat(parts);
      parentPort.postMessage({ type: "out", fd, data }, [data.buffer]);
      return 0;
    };
    const instance = new WebAssembly.Instance(job.module, { wasi_snapshot_preview1: { ...base, fd_write: fdWrite } });
    memory = instance.exports.memory;
    if (!(memory instanceof WebAssembly.Memory)) throw new Error("the module does not export its memory as 'memory'");
    const code = wasi.start(instance);
    parentPort.postMessage({ type: "exit", code: code ?? 0 });
  } catch (e) {
    const bytes = memory instanceof WebAssembly.Memory ? memory.buffer.byteLength : 0;
    parentPort.postMessage({ type: "trap", message: String(e && e.message || e), memoryBytes: bytes });
  }
});
`;
