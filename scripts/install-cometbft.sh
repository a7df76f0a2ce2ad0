#!/usr/bin/env bash
# Installs the CometBFT binary used by the interop tests (server/test/interop) into <repo>/.cache/bin.
#
#   bash scripts/install-cometbft.sh            # installs v0.38.25
#   COMETBFT_VERSION=v0.38.20 bash scripts/install-cometbft.sh
#
# Idempotent: does nothing when <repo>/.cache/bin/cometbft already reports the wanted version.
# Needs a Go toolchain (cometbft v0.38.x needs go >= 1.22; with GOTOOLCHAIN=auto an older go fetches a newer one)
# and access to the Go module proxy. A cold build (empty module and build caches) takes a few minutes.
# Progress goes to stderr; the only line on stdout is the absolute path of the binary, so
#   COMETBFT_BIN="$(bash scripts/install-cometbft.sh)"
# works.
set -euo pipefail

log() { printf '[install-cometbft] %s\n' "$*" >&2; }
die() { printf '[install-cometbft] ERROR: %s\n' "$*" >&2; exit 1; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="${repo_root}/.cache/bin"
bin="${bin_dir}/cometbft"

version="${COMETBFT_VERSION:-v0.38.25}"
version="v${version#v}"     # accept both "0.38.25" and "v0.38.25"
want="${version#v}"         # `cometbft version` prints it without the "v"

installed_version() {
  # `cometbft version` prints e.g. "0.38.25" or "0.38.25+<commit>" when built with ldflags.
  local out
  out="$("$bin" version 2>/dev/null | head -n 1)" || return 1
  printf '%s' "${out%%+*}"
}

if [[ -x "$bin" ]]; then
  have="$(installed_version || true)"
  if [[ "$have" == "$want" ]]; then
    log "cometbft ${want} already installed"
    printf '%s\n' "$bin"
    exit 0
  fi
  log "found cometbft '${have:-unknown}' at ${bin}, want ${want}: reinstalling"
fi

command -v go >/dev/null 2>&1 \
  || die "Go toolchain not found in PATH. Install Go >= 1.22 (https://go.dev/dl/, or actions/setup-go in CI) and re-run."

mkdir -p "$bin_dir"
log "installing github.com/cometbft/cometbft/cmd/cometbft@${version} into ${bin_dir} with $(go version)"
start=$(date +%s)
# CGO is not needed (goleveldb is pure Go); disabling it means no C compiler is required on CI.
GOBIN="$bin_dir" CGO_ENABLED="${CGO_ENABLED:-0}" \
  go install "github.com/cometbft/cometbft/cmd/cometbft@${version}" \
  || die "go install github.com/cometbft/cometbft/cmd/cometbft@${version} failed (see the output above)"
log "go install took $(( $(date +%s) - start ))s"

[[ -x "$bin" ]] || die "go install succeeded but ${bin} does not exist"
have="$(installed_version || true)"
[[ "$have" == "$want" ]] || die "${bin} reports version '${have}', expected '${want}'"

log "installed cometbft ${have}"
printf '%s\n' "$bin"
