#!/usr/bin/env bash
# A software GPU for the WebGPU execution-provider tests on CPU-only machines (CI, laptops without a
# GPU): Mesa's lavapipe Vulkan driver, which onnxruntime-node's bundled WebGPU EP (Dawn) drives like any
# GPU. Writes `${XDG_CACHE_HOME:-~/.cache}/tessera/lavapipe/lvp_icd.json`, a Vulkan ICD manifest with
# an absolute driver path that the tests hand to the loader (VK_ICD_FILENAMES); nothing is installed
# system-wide beyond what ensure-system.sh installs from the distribution (libvulkan1,
# mesa-vulkan-drivers), so it runs as any user, without sudo.
# Dawn needs Mesa >= 23: Debian 12's 22.3.6 lavapipe lacks shaderUniform*ArrayDynamicIndexing ("No
# supported adapters"), so on Debian 12 the driver package from bookworm-backports (25.0.x, Debian's own
# archive, built against the system's libLLVM-15) is unpacked into the cache with dpkg -x; its libraries
# resolve against the system's (pulled in by mesa-vulkan-drivers). Idempotent: a manifest whose driver
# is present is kept. Any failure exits non-zero with the reason (test-all.sh stops there).
set -euo pipefail
dir="${XDG_CACHE_HOME:-$HOME/.cache}/tessera/lavapipe"
icd="$dir/lvp_icd.json"
fail() {
  echo "[tessera] WebGPU tests: cannot set up Mesa's lavapipe (software Vulkan): $*" >&2
  echo "[tessera] fix that, or run the tests on a GPU with TESSERA_EXECUTION_PROVIDER=webgpu" >&2
  exit 1
}
driver_of() { sed -n 's/.*"library_path":"\([^"]*\)".*/\1/p' "$1"; }
if [ -f "$icd" ] && [ -f "$(driver_of "$icd")" ]; then exit 0; fi
write_icd() { # $1: absolute path of libvulkan_lvp.so
  local missing
  missing="$(ldd "$1" | grep 'not found' || true)"
  [ -z "$missing" ] || fail "$1 needs libraries this system lacks: $(echo "$missing" | awk '{print $1}' | tr '\n' ' ')"
  mkdir -p "$dir"
  printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$1" > "$icd.tmp"
  mv "$icd.tmp" "$icd"
  echo "[tessera] WebGPU tests: lavapipe at $1"
}
mesa="$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo 0)"
system_lvp="$(ls /usr/lib/*/libvulkan_lvp.so 2>/dev/null | head -1 || true)"
if [ -n "$system_lvp" ] && [ "${mesa%%.*}" -ge 23 ] 2>/dev/null; then
  write_icd "$system_lvp"
  exit 0
fi
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || fail "it needs Mesa >= 23's lavapipe (mesa-vulkan-drivers); found ${mesa} on ${PRETTY_NAME:-this system}: install a newer mesa-vulkan-drivers"
echo "[tessera] WebGPU tests: unpacking Mesa's lavapipe from bookworm-backports into $dir" >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
echo "deb http://deb.debian.org/debian bookworm-backports main" > "$work/sources.list"
# A private source list, package lists and cache: the system's apt state is only read (works as non-root).
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)")
apt-get "${apt_opts[@]}" update -qq || fail "apt-get update of bookworm-backports failed (network?)"
(cd "$work/debs" && apt-get "${apt_opts[@]}" download -qq mesa-vulkan-drivers/bookworm-backports) || fail "apt-get download mesa-vulkan-drivers/bookworm-backports failed"
rm -rf "$dir/root"
mkdir -p "$dir/root"
dpkg -x "$work/debs"/mesa-vulkan-drivers_*.deb "$dir/root" || fail "dpkg -x of the downloaded mesa-vulkan-drivers failed"
lvp="$(ls "$dir"/root/usr/lib/*/libvulkan_lvp.so 2>/dev/null | head -1 || true)"
[ -n "$lvp" ] || fail "the bookworm-backports mesa-vulkan-drivers package has no libvulkan_lvp.so"
write_icd "$lvp"
