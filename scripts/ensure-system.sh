#!/usr/bin/env bash
# Installs what Tessera needs from outside npm on a fresh Debian/Ubuntu machine, only when missing:
# nats-server (JetStream) for the bus, chromium for the playground's browser test (e2e, headless;
# Playwright's own browser download cannot run here), postgresql for the feedback PostgreSQL store
# tests (each suite runs its own server: initdb + pg_ctl on a free port), the Vulkan loader and
# Mesa's drivers for the WebGPU execution-provider tests (scripts/ensure-lavapipe.sh: a software GPU on
# CPU-only machines). Idempotent; safe to run on every test and demo.
set -euo pipefail
need=()
/sbin/ldconfig -p | grep -q "libvulkan.so.1 " || need+=(libvulkan1)
ls /usr/share/vulkan/icd.d/lvp_icd.* >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  echo "[tessera] installing system packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
bash "$(dirname "$0")/ensure-lavapipe.sh"
