#!/usr/bin/env bash
# Command 1 of the README: set up a fresh machine and run the main job — a local Tessera stack
# (nats-server + six services as processes, tiny generated MiniCPM-V checkpoint) answering an image
# and a question. Pass --serve to keep it running; TESSERA_CHECKPOINT=DIR to use real weights.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-node.sh
bash scripts/ensure-system.sh
bash scripts/ensure-deps.sh
exec node --import tsx libs/local-stack/src/demo.ts "$@"
