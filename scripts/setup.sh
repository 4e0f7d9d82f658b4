#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine (Debian packages and tools outside npm). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-editor.sh
# grid: wat2wasm (Debian wabt) builds the WebAssembly test modules
command -v wat2wasm >/dev/null || { apt-get update -qq && apt-get install -y -qq wabt; }
# sandboxes: runc, qemu-system-x86, busybox-static, cpio; builds the test images into .cache/sandboxes/
bash scripts/setup-sandboxes.sh
