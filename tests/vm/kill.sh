#!/usr/bin/env bash
# tests/vm/kill.sh - the daemon killed (SIGKILL) at random moments of backups and restores
# and started again, in one boot of the VM (scenario 97-kill: what is checked after each
# kill is described there).
#
# Usage: tests/vm/kill.sh [ROUNDS] [SEED]    (default 4 rounds, a random seed)
#
# The seed is printed; `tests/vm/kill.sh ROUNDS SEED` repeats the same kill moments.
# tests/all.sh runs 2 rounds.
set -euo pipefail
VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROUNDS=${1:-4}
SEED=${2:-$((RANDOM * 32768 + RANDOM))}
echo "[kill] $ROUNDS rounds, seed $SEED (repeat: tests/vm/kill.sh $ROUNDS $SEED)" >&2
VM_OUT=${VM_OUT:-$VM_DIR/out}/kill \
    VM_TIMEOUT=$((900 + ROUNDS * 180)) \
    VM_APPEND="kill.rounds=$ROUNDS kill.seed=$SEED" \
    "$VM_DIR/run.sh" kill
