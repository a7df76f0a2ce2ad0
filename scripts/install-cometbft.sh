#!/usr/bin/env bash
# Installs the CometBFT binary used by the interop tests (server/test/interop) into <repo>/.cache/bin.
#
#   bash scripts/install-cometbft.sh            # installs v0.38.25
#   COMETBFT_VERSION=v0.38.20 bash scripts/install-cometbft.sh
#
# The interop matrix (scripts/interop-lines.sh) needs one binary per CometBFT release line, as listed in
# server/test/interop/cometbft-lines.txt; each goes to <repo>/.cache/cometbft/<version>/cometbft:
#
#   bash scripts/install-cometbft.sh --line v0.37     # one line of the list
#   bash scripts/install-cometbft.sh --lines          # every line
#
# Lines marked `proxy` are built with `go install ...@VERSION`; lines marked `source` (v0.34: its go.mod
# replaces dependencies with forks, which `go install` refuses) from the module's source as the proxy serves it,
# with the go.mod `replace` block removed (the forks are of dependencies off the wire: go-kit's metrics counters,
# afero under viper's config loading, and a SQL schema helper and gonum, which only tests and tools use), built by
# `go build`. A line is installed once: a stamp file beside the binary records
# the version, and the cache (.cache/) survives between CI runs on the same machine.
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
lines_file="${repo_root}/server/test/interop/cometbft-lines.txt"

# Prints "line version build p2p" for the lines of the list (comments and blank lines left out).
list_lines() { grep -v '^[[:space:]]*\(#\|$\)' "$lines_file"; }

# Installs one line of the list into .cache/cometbft/<version>/cometbft and prints the binary's path.
install_line() {
  local want_line="$1" line version build found=""
  while read -r line version build _; do
    if [[ "$line" == "$want_line" ]]; then found=1; break; fi
  done < <(list_lines)
  [[ -n "$found" ]] || die "no line ${want_line} in ${lines_file} (lines: $(list_lines | awk '{print $1}' | tr '\n' ' '))"
  local dir="${repo_root}/.cache/cometbft/${version}"
  local line_bin="${dir}/cometbft" stamp="${dir}/installed"
  if [[ -x "$line_bin" && -f "$stamp" && "$(cat "$stamp")" == "${version} ${build}" ]]; then
    log "cometbft ${version} (${line}, ${build}) already installed"
    printf '%s\n' "$line_bin"
    return 0
  fi
  command -v go >/dev/null 2>&1 || die "Go toolchain not found in PATH (needed to build cometbft ${version})."
  mkdir -p "$dir"
  rm -f "$stamp"
  local start; start=$(date +%s)
  case "$build" in
    proxy)
      log "installing github.com/cometbft/cometbft/cmd/cometbft@${version} into ${dir} with $(go version)"
      GOBIN="$dir" CGO_ENABLED="${CGO_ENABLED:-0}" go install "github.com/cometbft/cometbft/cmd/cometbft@${version}" \
        || die "go install github.com/cometbft/cometbft/cmd/cometbft@${version} failed (see the output above)"
      ;;
    source)
      local src_dir work
      src_dir="$(go mod download -json "github.com/cometbft/cometbft@${version}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
      [[ -d "$src_dir" ]] || die "go mod download github.com/cometbft/cometbft@${version} gave no source directory"
      work="$(mktemp -d)"
      # shellcheck disable=SC2064 # expand now: the directory is this call's
      trap "rm -rf '$work'" RETURN
      cp -r "$src_dir/." "$work/"
      chmod -R u+w "$work"
      log "building cometbft ${version} from ${src_dir} without its go.mod replace block:"
      awk '/^replace \(/{skip=1} skip{print > "/dev/stderr"} !skip{print} skip&&/^\)/{skip=0}' "$work/go.mod" > "$work/go.mod.new" 2> >(sed 's/^/    /' >&2)
      mv "$work/go.mod.new" "$work/go.mod"
      ! grep -q '^replace' "$work/go.mod" || die "go.mod of ${version} still has a replace directive outside a block"
      (cd "$work" && CGO_ENABLED="${CGO_ENABLED:-0}" GOFLAGS=-mod=mod go build -o "$line_bin" ./cmd/cometbft) \
        || die "building cometbft ${version} from source without its replace block failed (see the output above)"
      ;;
    *) die "unknown build '${build}' for ${line} in ${lines_file} (proxy or source)" ;;
  esac
  log "built cometbft ${version} in $(( $(date +%s) - start ))s: $("$line_bin" version)"
  printf '%s %s\n' "$version" "$build" > "$stamp"
  printf '%s\n' "$line_bin"
}

case "${1:-}" in
  --line)
    [[ -n "${2:-}" ]] || die "--line needs a line name, e.g. --line v0.37"
    install_line "$2"
    exit 0
    ;;
  --lines)
    while read -r line _; do install_line "$line"; done < <(list_lines)
    exit 0
    ;;
  "") ;;
  *) die "unknown argument '$1' (no argument, --line LINE or --lines)" ;;
esac

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
