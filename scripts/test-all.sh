#!/usr/bin/env bash
# Command 2 of the README: every test. Installs what is missing, checks contracts and types, runs
# the whole suite (unit, integration against real nats-server, e2e over the real stack).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-node.sh
bash scripts/ensure-system.sh
bash scripts/ensure-lavapipe.sh # the WebGPU tests' software GPU (a download at setup, never at test time)
bash scripts/ensure-deps.sh
bash scripts/check.sh
npx vitest run "$@"
