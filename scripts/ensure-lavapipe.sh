#!/usr/bin/env bash
# A software GPU for the WebGPU execution-provider tests on CPU-only machines (CI, laptops without a
# GPU): Mesa's lavapipe Vulkan driver, which onnxruntime-node's bundled WebGPU EP (Dawn) drives like any
# GPU. Writes `${XDG_CACHE_HOME:-~/.cache}/tessera/lavapipe/lvp_icd.json`, a Vulkan ICD manifest with
# an absolute driver path that the tests hand to the loader (VK_ICD_FILENAMES); nothing is installed
# system-wide beyond what ensure-system.sh installs from the distribution.
# Dawn needs Mesa >= 23: Debian 12's 22.3.6 lavapipe lacks shaderUniform*ArrayDynamicIndexing ("No
# supported adapters"), so on Debian 12 the driver package from bookworm-backports (25.0.x, Debian's own
# archive) is unpacked into the cache with dpkg -x; its libraries resolve against the system's
# (libLLVM-15 etc., pulled in by mesa-vulkan-drivers). Idempotent.
set -euo pipefail
dir="${XDG_CACHE_HOME:-$HOME/.cache}/tessera/lavapipe"
icd="$dir/lvp_icd.json"
[ -f "$icd" ] && exit 0
write_icd() { # $1: absolute path of libvulkan_lvp.so
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
if [ "${VERSION_CODENAME:-}" != bookworm ]; then
  echo "[tessera] WebGPU tests need Mesa >= 23's lavapipe (mesa-vulkan-drivers); found ${mesa} on ${PRETTY_NAME:-this system}: install a newer mesa-vulkan-drivers, or run the tests on a GPU with TESSERA_EXECUTION_PROVIDER=webgpu" >&2
  exit 1
fi
echo "[tessera] WebGPU tests: unpacking Mesa's lavapipe from bookworm-backports into $dir" >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/debs"
echo "deb http://deb.debian.org/debian bookworm-backports main" > "$work/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$work/lists" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update -qq
(cd "$work/debs" && apt-get "${apt_opts[@]}" download -qq mesa-vulkan-drivers/bookworm-backports 2>/dev/null)
mkdir -p "$dir/root"
dpkg -x "$work/debs"/mesa-vulkan-drivers_*.deb "$dir/root"
write_icd "$(ls "$dir"/root/usr/lib/*/libvulkan_lvp.so | head -1)"
