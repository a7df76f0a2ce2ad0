#!/usr/bin/env bash
# Builds cometbft-switchboard (client/go/cometbft/cmd/cometbft-switchboard: a CometBFT v0.38 node whose reactors
# attach to a Switchboard node) into <repo>/.cache/bin.
#
#   bash scripts/install-cometbft-switchboard.sh
#
# Go's build cache makes a rebuild with no change take a second or two; a cold build (empty module and build
# caches) takes a few minutes. Progress goes to stderr; the only line on stdout is the absolute path of the
# binary, so
#   COMETBFT_SWITCHBOARD_BIN="$(bash scripts/install-cometbft-switchboard.sh)"
# works.
set -euo pipefail

log() { printf '[install-cometbft-switchboard] %s\n' "$*" >&2; }
die() { printf '[install-cometbft-switchboard] ERROR: %s\n' "$*" >&2; exit 1; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${repo_root}/.cache/bin/cometbft-switchboard"

command -v go >/dev/null 2>&1 \
  || die "Go toolchain not found in PATH. Install Go >= 1.22 (https://go.dev/dl/) and re-run."

mkdir -p "$(dirname "$bin")"
start=$(date +%s)
# CGO is not needed (goleveldb is pure Go); without it no C compiler is required.
(cd "${repo_root}/client/go/cometbft" && CGO_ENABLED="${CGO_ENABLED:-0}" go build -o "$bin" ./cmd/cometbft-switchboard) \
  || die "go build of client/go/cometbft/cmd/cometbft-switchboard failed (see the output above)"
log "built ${bin} in $(( $(date +%s) - start ))s"
printf '%s\n' "$bin"
