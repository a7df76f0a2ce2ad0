#!/usr/bin/env bash
# Regenerates the Go code in client/go/gen from proto/ with buf and pinned,
# locally installed plugins (remote buf plugins are not used).
#
#   client/go/generate.sh                  install the plugins if needed, regenerate client/go/gen
#   client/go/generate.sh --out DIR        write DIR/client/go/gen instead (used by the drift test)
#   client/go/generate.sh --no-install     fail instead of installing missing or mismatched plugins
#   client/go/generate.sh --install-only   install the plugins, generate nothing (CI, before `go test`)
#
# Plugins go to client/go/bin (git-ignored). buf is the repository's
# node_modules/.bin/buf (run `npm ci` at the repository root), or env BUF.
set -euo pipefail

# The plugin versions: change them here only.
PROTOC_GEN_GO_VERSION=v1.36.6
PROTOC_GEN_GO_GRPC_VERSION=v1.5.1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out=""
install=1
generate=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --no-install) install=0; shift ;;
    --install-only) generate=0; shift ;;
    *) echo "generate.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

buf="${BUF:-$root/node_modules/.bin/buf}"
if [ ! -x "$buf" ]; then
  echo "generate.sh: buf not found at $buf: run 'npm ci' at the repository root (or set BUF)" >&2
  exit 1
fi

bin="$here/bin"
# want NAME VERSION MODULE: checks "NAME --version" and installs MODULE@VERSION when it differs.
want() {
  local name="$1" version="$2" module="$3" have=""
  if [ -x "$bin/$name" ]; then have="$("$bin/$name" --version 2>/dev/null || true)"; fi
  # protoc-gen-go prints "protoc-gen-go v1.36.6", protoc-gen-go-grpc "protoc-gen-go-grpc 1.5.1".
  if [ "$have" = "$name $version" ] || [ "$have" = "$name ${version#v}" ]; then return 0; fi
  if [ "$install" = 0 ]; then
    echo "generate.sh: $bin/$name is ${have:-missing}, want $version: run client/go/generate.sh (it installs the plugins)" >&2
    exit 1
  fi
  echo "generate.sh: installing $module@$version into $bin" >&2
  (cd "$here" && GOBIN="$bin" GOFLAGS=-mod=mod go install "$module@$version")
}
want protoc-gen-go "$PROTOC_GEN_GO_VERSION" google.golang.org/protobuf/cmd/protoc-gen-go
want protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION" google.golang.org/grpc/cmd/protoc-gen-go-grpc

[ "$generate" = 1 ] || exit 0

cd "$root"
args=(generate --template client/go/buf.gen.go.yaml --path proto/switchboard/gateway --path proto/switchboard/cometbft)
if [ -n "$out" ]; then
  "$buf" "${args[@]}" -o "$out"
else
  rm -rf client/go/gen
  "$buf" "${args[@]}"
fi
