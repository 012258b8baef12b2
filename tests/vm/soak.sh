#!/usr/bin/env bash
# tests/vm/soak.sh - backup/restore cycles of the reference owners in one daemon run,
# every restored state compared byte for byte, the daemon's memory and descriptors
# recorded per cycle and checked flat (scenario 98-soak).
#
# Usage: tests/vm/soak.sh [CYCLES]    (default 100; tests/all.sh runs 4)
#
# The SOAK-CYCLE lines of tests/vm/out/soak/console.log hold the figures per cycle.
set -euo pipefail
VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CYCLES=${1:-100}
VM_OUT=${VM_OUT:-$VM_DIR/out}/soak \
    VM_TIMEOUT=$((900 + CYCLES * 120)) \
    VM_APPEND="soak.rounds=$CYCLES" \
    "$VM_DIR/run.sh" soak
out=${VM_OUT:-$VM_DIR/out}/soak/console.log
grep -E '^SOAK-(CYCLE|RESULT)' "$out" >&2 || true
