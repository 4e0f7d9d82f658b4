#!/usr/bin/env bash
# Runs the extension in REAL VS Code: code-server's bundled VS Code server and its Node extension host, with the
# workbench opened in Debian's headless Chromium. 1) the in-editor Mocha suites (test/vscode/suite/*.test.ts) with the
# extension loaded from this tree; 2) `npm run package`, its .vsix installed into the server, and a screenshot of an
# open .pg file with a squiggle, saved to .test-artifacts/, checking the hover text on the page.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
bash scripts/setup-editor.sh >/dev/null
node scripts/build.mjs extension server grid-node
node test/vscode/build.mjs
T=$ROOT/.cache/code-server
SERVER_MAIN=$T/cs/node_modules/code-server/lib/vscode/out/server-main.js
RUN=$(mktemp -d /tmp/pg-vscode-XXXXXX)
mkdir -p "$RUN/data/User" "$ROOT/.test-artifacts"
echo '{"workbench.startupEditor":"none","extensions.autoCheckUpdates":false,"extensions.autoUpdate":false,"telemetry.telemetryLevel":"off","workbench.tips.enabled":false,"security.workspace.trust.enabled":false,"update.mode":"none","workbench.enableExperiments":false,"extensions.ignoreRecommendations":true,"workbench.settings.enableNaturalLanguageSearch":false}' > "$RUN/data/User/settings.json"
PID=
cleanup() { [ -n "$PID" ] && kill -- -"$PID" 2>/dev/null || true; rm -rf "$RUN"; }
trap cleanup EXIT

fresh() {   # stop the VS Code server; a fresh copy of the workspace (the tests edit files) and empty server dirs
  [ -n "$PID" ] && { kill -- -"$PID" 2>/dev/null || true; sleep 0.5; PID=; }
  rm -rf "$RUN/ws" "$RUN/server-data" "$RUN/exts"; cp -r "$ROOT/test/vscode/workspace" "$RUN/ws"
}
start_server() {   # no extension gallery (EXTENSIONS_GALLERY): nothing but loopback traffic
  PORT=$((20000 + RANDOM % 20000))
  setsid env EXTENSIONS_GALLERY='{}' node "$SERVER_MAIN" --host 127.0.0.1 --port "$PORT" --without-connection-token --accept-server-license-terms \
    --enable-smoke-test-driver --disable-telemetry --user-data-dir "$RUN/data" --server-data-dir "$RUN/server-data" \
    --extensions-dir "$RUN/exts" >"$RUN/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 150); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/" && return 0; sleep 0.2; done
  cat "$RUN/server.log"; echo "the VS Code server did not start" >&2; exit 1
}

fresh
start_server
PORT=$PORT EXT_DIR=$ROOT WS=$RUN/ws TESTS=$ROOT/out/test/index.cjs MODE=tests node test/vscode/run-in-vscode.mjs

# 2. The packaged extension: build the .vsix, check what it carries, install it into the VS Code server's extensions
#    dir, and take the screenshot with that installed copy (no development path).
npm run --silent package >/dev/null
unzip -l dist/promisegrid.vsix > "$RUN/vsix.txt"
# Every file the manifest names (main, grammars, snippets, language configuration, walkthrough media), the language
# server, its checker thread's and its graph layout's bundles, and the grid node the client starts.
needed=$(node -e '
  const p = require("./package.json"), c = p.contributes ?? {}, out = [p.main, "dist/server.cjs", "dist/server-checker.cjs", "dist/server-elk.cjs", "dist/grid-node.js"];
  for (const l of c.languages ?? []) if (l.configuration) out.push(l.configuration);
  for (const g of [...(c.grammars ?? []), ...(c.snippets ?? [])]) out.push(g.path);
  for (const w of c.walkthroughs ?? []) for (const s of w.steps ?? []) for (const m of Object.values(s.media ?? {})) if (typeof m === "string") out.push(m);
  console.log(out.map((f) => "extension/" + f.replace(/^\.\//, "")).join("\n"));')
for f in $needed; do
  grep -q " $f\$" "$RUN/vsix.txt" || { cat "$RUN/vsix.txt"; echo "FAIL: the .vsix lacks $f" >&2; exit 1; }
done
if grep -E " extension/(node_modules|test|server/|client/|\.cache)" "$RUN/vsix.txt"; then echo "FAIL: the .vsix carries sources or dependencies" >&2; exit 1; fi
fresh
EXTENSIONS_GALLERY='{}' node "$SERVER_MAIN" --extensions-dir "$RUN/exts" --install-extension "$ROOT/dist/promisegrid.vsix" >"$RUN/install.log" 2>&1 \
  || { cat "$RUN/install.log"; exit 1; }
ls "$RUN/exts" | grep -q '^promisegrid\.promisegrid-' || { cat "$RUN/install.log"; echo "FAIL: the .vsix did not install" >&2; exit 1; }
echo "ok: dist/promisegrid.vsix carries the bundles and installs into the VS Code server ($(ls "$RUN/exts" | grep '^promisegrid'))"
start_server
PORT=$PORT EXT_DIR= WS=$RUN/ws MODE=screenshot FILE=broken.pg SHOT=$ROOT/.test-artifacts/vscode-squiggle.png \
  EXPECT_HOVER="${EXPECT_HOVER:-undefined agent 'truck9'; did you mean 'truck1'?}" node test/vscode/run-in-vscode.mjs
