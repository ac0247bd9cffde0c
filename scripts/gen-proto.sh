#!/usr/bin/env bash
# Regenerates the TypeScript contracts from proto/ (ts-proto through buf, offline).
#
#   bash scripts/gen-proto.sh          regenerate libs/contracts/src/gen (= `npm run gen`)
#   bash scripts/gen-proto.sh --check  buf format + buf lint, fail if libs/contracts/src/gen is
#                                      stale, and buf breaking against the base commit's protos
#
# Base for `buf breaking` (first that applies):
#   $TESSERA_PROTO_BASE (any git revision), else
#   HEAD when on main (catches uncommitted breaking edits) or when there is no main branch, else
#   merge-base(HEAD, main or origin/main) on a feature branch.
# It is skipped (with a message) outside git or when the base has no contracts yet (first commit).
set -euo pipefail
cd "$(dirname "$0")/.."

BUF=(node_modules/.bin/buf)
GEN_DIR=libs/contracts/src/gen

say() { printf '[gen-proto] %s\n' "$*"; }
die() { printf '[gen-proto] ERROR: %s\n' "$*" >&2; exit 1; }

if [ ! -x node_modules/.bin/protoc-gen-ts_proto ] || [ ! -x node_modules/.bin/buf ]; then
  die "node_modules/.bin/protoc-gen-ts_proto or buf missing: run 'npm ci' first (ts-proto and @bufbuild/buf are devDependencies)"
fi

generate() { # $1 = output base directory (buf writes <base>/libs/contracts/src/gen)
  "${BUF[@]}" generate --template buf.gen.yaml -o "$1"
}

if [ "${1:-}" != "--check" ]; then
  generate .
  say "regenerated $GEN_DIR ($(find "$GEN_DIR" -name '*.ts' | wc -l | tr -d ' ') files)"
  exit 0
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

say "buf format"
if ! "${BUF[@]}" format --diff --exit-code >"$TMP/format.diff" 2>&1; then
  cat "$TMP/format.diff" >&2
  die "proto files are not formatted: run 'npx buf format -w'"
fi

say "buf lint"
"${BUF[@]}" lint || die "buf lint failed (rules in buf.yaml)"

say "generated code up to date"
generate "$TMP/gen"
if ! diff -r -q "$TMP/gen/$GEN_DIR" "$GEN_DIR" >"$TMP/stale.txt" 2>&1; then
  cat "$TMP/stale.txt" >&2
  die "$GEN_DIR is stale (differs from what proto/ generates): run 'npm run gen' and commit the result"
fi

say "buf breaking"
if ! git rev-parse --git-dir >/dev/null 2>&1; then
  say "not a git checkout: skipping buf breaking"
  exit 0
fi
base="${TESSERA_PROTO_BASE:-}"
if [ -z "$base" ]; then
  main_ref=""
  for ref in refs/heads/main refs/remotes/origin/main; do
    if git rev-parse -q --verify "$ref^{commit}" >/dev/null; then main_ref="$ref"; break; fi
  done
  branch="$(git symbolic-ref -q --short HEAD || true)"
  if [ -z "$main_ref" ] || [ "$branch" = "main" ]; then
    base=HEAD
  else
    base="$(git merge-base HEAD "$main_ref" 2>/dev/null || echo "$main_ref")"
  fi
fi
if ! git rev-parse -q --verify "$base^{commit}" >/dev/null; then
  say "no commit '$base' yet: skipping buf breaking"
  exit 0
fi
if ! git cat-file -e "$base:buf.yaml" 2>/dev/null || ! git cat-file -e "$base:proto/tessera" 2>/dev/null; then
  say "base $(git rev-parse --short "$base") has no contracts yet (first version): skipping buf breaking"
  exit 0
fi
mkdir -p "$TMP/base"
git archive "$base" buf.yaml proto | tar -x -C "$TMP/base"
"${BUF[@]}" breaking --against "$TMP/base" \
  || die "breaking change against $(git rev-parse --short "$base"): keep v1 compatible and add a v2 package beside it (libs/contracts/README.md)"
say "ok"
