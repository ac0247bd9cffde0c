#!/usr/bin/env bash
# Static checks that run before the tests: contracts (buf lint, generated code up to date), types.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f scripts/gen-proto.sh ] && [ -f buf.yaml ]; then
  bash scripts/gen-proto.sh --check
fi
echo "[tessera] typecheck"
npx tsc -p tsconfig.json --noEmit
# The playground's browser code has its own tsconfig (DOM lib, no Node types).
npx tsc -p libs/web/app/tsconfig.json --noEmit
