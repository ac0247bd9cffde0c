#!/bin/sh
# ENTRYPOINT of every Tessera image (deploy/Dockerfile): runs the compiled service the image was built
# for (TESSERA_SERVICE, from the SERVICE build argument) with plain node: no TypeScript loader, every
# @tessera/* package resolved to its dist/ through the "tessera-dist" export condition.
set -eu
case "${TESSERA_SERVICE:?TESSERA_SERVICE is not set (build with --build-arg SERVICE=<name>)}" in
  # Decoded images are tens of MB that glibc maps fresh per image; with transparent huge pages (madvise)
  # a 12 MP JPEG decodes ~2.5x faster (docs/decisions.md, issue 19). Read by glibc at process start.
  # The combined image runs the slicer in-process (TESSERA_STAGES), so it takes the same setting.
  slicer|combined) export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}" ;;
esac
# exec: node is PID 1's only child-free process, so SIGTERM reaches the service's graceful shutdown.
exec node --conditions=tessera-dist --enable-source-maps "services/${TESSERA_SERVICE}/dist/main.js" "$@"
