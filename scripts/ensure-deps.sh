#!/usr/bin/env bash
# Installs npm dependencies when node_modules is missing or older than the lockfile.
# onnxruntime-node's postinstall downloads CUDA libraries from outside the npm registry and fails
# offline; the CPU build is bundled in the package, so the download is skipped. CUDA nodes get the
# provider libraries from the CUDA container image instead (deploy/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip
# `npm install` against the committed lockfile rather than `npm ci`: with the machines' global
# `omit-lockfile-registry-resolved=true`, npm 11 leaves the other platforms' optional binaries
# (@nx/nx-darwin-*, @lancedb/lancedb-win32-*, …) out of the lockfile, and `npm ci` then refuses the
# lockfile as out of sync. Root dependencies are exact, so the installed tree is the locked one.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[tessera] npm install (from package-lock.json)"
  npm install --no-audit --no-fund --loglevel=error
fi
