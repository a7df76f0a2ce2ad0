#!/usr/bin/env bash
# Coverage-guided fuzzing of the byte-level decoders, bounded in time.
#
#   fuzz/run.sh                  every target, 20 s each (what CI runs)
#   fuzz/run.sh packet 600       one target for 10 minutes
#   fuzz/run.sh all 20 --seed 7  reproducible mutation sequence
#   fuzz/run.sh --repro packet fuzz/.work/crashes/packet/crash-<sha1>
#
# Exits non-zero when a target crashed, hung or ran out of memory; the input
# is saved under fuzz/.work/crashes/<target>/. See fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node --import tsx fuzz/lib/main.ts "$@"
