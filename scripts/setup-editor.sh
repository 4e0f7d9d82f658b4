#!/usr/bin/env bash
# Installs what the editor tests need: Debian's chromium (headless workbench and screenshots), libkrb5-dev (VS Code's
# kerberos addon builds against it), ripgrep (seeds @vscode/ripgrep's download cache), neovim (a third-party LSP client),
# and code-server from npm into .cache/code-server (its bundled VS Code server runs the real extension host).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CS_VERSION=${CS_VERSION:-4.100.3}   # VS Code 1.100: the last code-server that runs on Node 20
T=$ROOT/.cache/code-server

need=(); for p in chromium libkrb5-dev ripgrep neovim emacs-nox elpa-eglot; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -f "$T/cs/node_modules/code-server/lib/vscode/out/server-main.js" ]; then
  mkdir -p "$T/tmp" "$T/rg" "$T/cs"
  # @vscode/ripgrep downloads a binary from GitHub at install time unless its cache already holds the tarball:
  # put Debian's rg there under the name it looks for.
  RG=$T/tmp/vscode-ripgrep-cache-1.15.11; mkdir -p "$RG" && cp /usr/bin/rg "$T/rg/rg"
  tar czf "$RG/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$T/rg" rg
  echo '{"private":true}' > "$T/cs/package.json"
  if ! (cd "$T/cs" && TMPDIR=$T/tmp npm_config_yes=true npm_config_unsafe_perm=true \
        npm install --unsafe-perm --no-save --loglevel=error "code-server@$CS_VERSION" >"$T/install.log" 2>&1); then
    tail -40 "$T/install.log"; echo "setup-editor: installing code-server@$CS_VERSION failed (log: $T/install.log)" >&2; exit 1
  fi
fi
echo "setup-editor: chromium, neovim, code-server@$CS_VERSION ready"
