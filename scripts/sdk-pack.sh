#!/usr/bin/env bash
# Packs the three reactor SDKs for use outside this repository, into one
# directory (default .cache/sdk; `npm run sdk:pack` runs this):
#
#   switchboard-client-VERSION.tgz              TypeScript: npm install ./switchboard-client-VERSION.tgz
#   switchboard_reactor-VERSION-py3-none-any.whl Python:     pip install ./switchboard_reactor-VERSION-py3-none-any.whl
#   switchboard_reactor-VERSION.tar.gz          Python sdist (python -m build)
#   switchboard-client-go-VERSION.tar.gz        Go: unpack, then `replace` the module path with its directory
#
# Needs `npm ci` at the repository root first (TypeScript compiles the TS SDK);
# installs the Python `build` package with pip when it is missing.
# Usage: scripts/sdk-pack.sh [OUT_DIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$repo/.cache/sdk}
mkdir -p "$out"
out=$(cd "$out" && pwd)
python=${PYTHON:-python3}

if [[ ! -x $repo/node_modules/.bin/tsc ]]; then
  echo "sdk-pack: run \`npm ci\` at the repository root first" >&2
  exit 1
fi
rm -rf "$out"/switchboard-client-*.tgz "$out"/switchboard_reactor-* "$out"/switchboard-client-go-*

echo "== TypeScript: npm pack of client/ (its prepare script builds dist/)"
(cd "$repo" && npm pack --workspace client --pack-destination "$out" --loglevel warn >/dev/null)

echo "== Python: sdist and wheel of client/python"
if ! "$python" -m build --version >/dev/null 2>&1; then
  "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore build
fi
# The sdist first, then the wheel built from the unpacked sdist (build's
# default), so an incomplete sdist fails here. Build output goes to a log.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "$python" -m build --outdir "$out" "$repo/client/python" >"$log" 2>&1; then
  cat "$log" >&2
  echo "sdk-pack: python -m build failed" >&2
  exit 1
fi

echo "== Go: the module in client/go"
# The module's own files: nested modules (client/go/cometbft has its own
# go.mod, so it is not part of this one) and the local tool bin/ are left out,
# as `go mod vendor` or the module proxy would.
version=$(node -p 'require(process.argv[1]).version' "$repo/client/package.json")
stage=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$stage"' EXIT
excludes=(--exclude=./bin)
while IFS= read -r gomod; do
  excludes+=("--exclude=./$(dirname "${gomod#"$repo/client/go/"}")")
done < <(find "$repo/client/go" -mindepth 2 -name go.mod)
mkdir "$stage/switchboard-client-go"
tar -C "$repo/client/go" "${excludes[@]}" -cf - . | tar -C "$stage/switchboard-client-go" -xf -
tar -C "$stage" -czf "$out/switchboard-client-go-$version.tar.gz" switchboard-client-go

echo "== SDK packages in $out:"
(cd "$out" && ls -1 switchboard-client-*.tgz switchboard_reactor-* switchboard-client-go-*)
