;; hello.wasm: prints "hello, NAME" where NAME is its first argument ("world" without one).
;; Build: wat2wasm examples/hello.wat -o examples/hello.wasm
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "hello, ")
  (data (i32.const 16) "world")
  (data (i32.const 24) "\n")
  ;; 32: argc, 36: argv buffer size, 4096: argv pointers, 8192: argv buffer, 256: iovecs
  (func $strlen (param $p i32) (result i32) (local $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $n))
  (func (export "_start") (local $name i32) (local $len i32)
    (drop (call $args_sizes_get (i32.const 32) (i32.const 36)))
    ;; arguments that do not fit the fixed buffers: exit 2
    (if (i32.or (i32.gt_u (i32.load (i32.const 32)) (i32.const 1024))
                (i32.gt_u (i32.load (i32.const 36)) (i32.const 57344)))
      (then (call $proc_exit (i32.const 2))))
    (drop (call $args_get (i32.const 4096) (i32.const 8192)))
    (local.set $name (i32.const 16))
    (local.set $len (i32.const 5))
    (if (i32.gt_u (i32.load (i32.const 32)) (i32.const 1))
      (then
        (local.set $name (i32.load (i32.const 4100)))
        (local.set $len (call $strlen (local.get $name)))))
    (i32.store (i32.const 256) (i32.const 0))
    (i32.store (i32.const 260) (i32.const 7))
    (i32.store (i32.const 264) (local.get $name))
    (i32.store (i32.const 268) (local.get $len))
    (i32.store (i32.const 272) (i32.const 24))
    (i32.store (i32.const 276) (i32.const 1))
    (drop (call $fd_write (i32.const 1) (i32.const 256) (i32.const 3) (i32.const 300)))))
