#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine (Debian packages and tools outside npm). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-editor.sh
