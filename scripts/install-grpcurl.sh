#!/usr/bin/env bash
# Builds grpcurl (github.com/fullstorydev/grpcurl) from the Go module proxy into <repo>/.cache/bin, for the test
# that drives a running node with server reflection only (server/test/interop/grpcurl.test.ts).
#
#   bash scripts/install-grpcurl.sh        # prints the binary's absolute path on stdout
#
# Idempotent: does nothing when the wanted version is installed.
set -euo pipefail

log() { printf '[install-grpcurl] %s\n' "$*" >&2; }
die() { printf '[install-grpcurl] ERROR: %s\n' "$*" >&2; exit 1; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${repo_root}/.cache/bin/grpcurl"
version="${GRPCURL_VERSION:-v1.9.3}"

if [[ -x "$bin" ]] && "$bin" -version 2>&1 | grep -q "${version#v}"; then
  log "grpcurl ${version} already installed"
  printf '%s\n' "$bin"
  exit 0
fi
command -v go >/dev/null 2>&1 || die "Go toolchain not found in PATH. Install Go >= 1.22 and re-run."
mkdir -p "$(dirname "$bin")"
GOBIN="$(dirname "$bin")" CGO_ENABLED=0 \
  go install -ldflags "-X main.version=${version}" "github.com/fullstorydev/grpcurl/cmd/grpcurl@${version}" \
  || die "go install github.com/fullstorydev/grpcurl/cmd/grpcurl@${version} failed (see the output above)"
log "installed grpcurl ${version}"
printf '%s\n' "$bin"
