#!/usr/bin/env bash
# Installs npm dependencies from the committed lockfile: `npm ci` on a fresh checkout (CI, a new
# clone), an incremental `npm install` when node_modules exists but is older than the lockfile (a
# developer tree after a merge). Neither rewrites package-lock.json, so `git status` stays clean.
# onnxruntime-node's postinstall downloads CUDA libraries from outside the npm registry and fails
# offline; the CPU build is bundled in the package, so the download is skipped. CUDA nodes get the
# provider libraries from the CUDA container image instead (deploy/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip
# The registry these machines reach lacks some other platforms' optional binaries (e.g.
# @lancedb/lancedb-darwin-arm64 is a 404), so npm leaves them out of the lockfile and `npm ci` would
# refuse it; scripts/complete-lockfile.mjs adds those entries (idempotent; a no-op on a complete lock).
if ! node scripts/complete-lockfile.mjs --check >/dev/null 2>&1; then
  node scripts/complete-lockfile.mjs
  echo "[tessera] package-lock.json lacked optional platform entries; commit the completed lockfile" >&2
fi
if [ ! -d node_modules ]; then
  echo "[tessera] npm ci (from package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
elif [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[tessera] npm install (node_modules older than package-lock.json)"
  npm install --no-audit --no-fund --loglevel=error
fi
