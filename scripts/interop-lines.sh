#!/usr/bin/env bash
# The interop matrix: the line-parameterised suites (vitest.lines.config.ts: wire interop and PEX) against a real
# CometBFT node of every release line in server/test/interop/cometbft-lines.txt, one vitest process per line, the
# lines in parallel (they mostly wait: on the 60 s ping interval and on PEX's 30 s rounds).
#
#   bash scripts/interop-lines.sh                 # every line (npm run test:interop:lines)
#   bash scripts/interop-lines.sh v0.34 v1.0      # some lines
#   INTEROP_LINES_JOBS=2 bash scripts/interop-lines.sh   # at most 2 lines at a time (default: all at once)
#
# Installs the binaries first (scripts/install-cometbft.sh --line; cached in .cache/cometbft). Each line's output
# goes to .cache/interop-logs/lines-<line>.log and is printed when the line fails; a summary with each line's
# result and wall time comes last. Exits non-zero if any line failed.
set -euo pipefail
cd "$(dirname "$0")/.."

lines_file="server/test/interop/cometbft-lines.txt"
if [[ $# -gt 0 ]]; then lines=("$@"); else mapfile -t lines < <(grep -v '^[[:space:]]*\(#\|$\)' "$lines_file" | awk '{print $1}'); fi
jobs_max="${INTEROP_LINES_JOBS:-${#lines[@]}}"
log_dir=".cache/interop-logs"
mkdir -p "$log_dir"

for line in "${lines[@]}"; do bash scripts/install-cometbft.sh --line "$line" > /dev/null; done

# Each line should be its newest release: say so when the module proxy serves a newer one (a note, not a failure:
# a new upstream release is not a regression of ours; update cometbft-lines.txt and the README's table).
if released="$(go list -m -versions github.com/cometbft/cometbft 2>/dev/null)"; then
  while read -r line version _; do
    newest="$(tr ' ' '\n' <<< "$released" | grep -E "^${line//./\\.}\.[0-9]+$" | sort -V | tail -1)"
    if [[ -n "$newest" && "$newest" != "$version" ]]; then
      printf '[interop-lines] note: %s is tested at %s, but the module proxy serves %s\n' "$line" "$version" "$newest"
    fi
  done < <(grep -v '^[[:space:]]*\(#\|$\)' "$lines_file")
else
  printf '[interop-lines] note: could not list CometBFT releases (go list -m -versions failed); newest not checked\n'
fi

declare -A pid_of=() start_of=() result_of=() took_of=()
run_line() {
  local line="$1"
  COMETBFT_LINE="$line" npx vitest run --config vitest.lines.config.ts > "$log_dir/lines-$line.log" 2>&1
}
reap() {
  local line
  for line in "${!pid_of[@]}"; do
    if ! kill -0 "${pid_of[$line]}" 2>/dev/null; then
      if wait "${pid_of[$line]}"; then result_of[$line]=pass; else result_of[$line]=FAIL; fi
      took_of[$line]=$(( $(date +%s) - start_of[$line] ))
      printf '[interop-lines] %s: %s in %ss\n' "$line" "${result_of[$line]}" "${took_of[$line]}"
      unset "pid_of[$line]"
    fi
  done
}

started=$(date +%s)
for line in "${lines[@]}"; do
  while [[ ${#pid_of[@]} -ge $jobs_max ]]; do sleep 1; reap; done
  printf '[interop-lines] %s: started\n' "$line"
  start_of[$line]=$(date +%s)
  run_line "$line" &
  pid_of[$line]=$!
done
while [[ ${#pid_of[@]} -gt 0 ]]; do sleep 1; reap; done

failed=0
for line in "${lines[@]}"; do
  if [[ "${result_of[$line]}" != pass ]]; then
    failed=1
    printf '\n--- %s: %s ---\n' "$line" "$log_dir/lines-$line.log"
    cat "$log_dir/lines-$line.log"
  fi
done
printf '\n[interop-lines] summary (%ss in all):\n' "$(( $(date +%s) - started ))"
for line in "${lines[@]}"; do
  # The vitest summary line, without colours: "Tests  13 passed (13)".
  tests="$(sed 's/\x1b\[[0-9;]*m//g' "$log_dir/lines-$line.log" | grep -E '^ +Tests ' | tail -1 | sed 's/^ *//')"
  printf '  %-6s %-4s %4ss  %s\n' "$line" "${result_of[$line]}" "${took_of[$line]}" "$tests"
done
exit "$failed"
