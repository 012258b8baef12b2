#!/usr/bin/env bash
# tests/vm/powercut.sh - the power-cut test: a real power cut during a backup, on ext4
# on a block device, and what the next boot makes of it.
#
# Usage: tests/vm/powercut.sh [CYCLES]    (default 1; tests/all.sh runs 1)
#
# Cycles alternate between a cut during a backup and one during a restore (PC_MODE=backup
# or restore fixes it). Each cycle makes a fresh 1 GiB ext4 image and boots the VM suite
# twice with it as
# /dev/vda (virtio, write-back cache: what the guest flushed is on the image, what it did
# not may be lost, as on a device whose power fails):
#   1. powercut-cut: reference owners and a 128 MiB file on the disk, a full backup (or
#      a backup, a change and a restore), and pc.delay seconds after the session starts
#      writing a reset without sync (sysrq b);
#   2. powercut-check: the owners' data unchanged (backup) or the passive owner's cage
#      entirely old or entirely restored (restore), the interruption reported, nothing
#      half-written left, every set left verifies, backup and restore work again;
# then `e2fsck -fn` on the image must find nothing wrong. The cut falls at a different
# moment in each cycle: PC_DELAY fixes it (seconds; the first cycle uses 0.5, later
# ones a random 0-4 s, 0-10 s for a restore, from the seed PC_SEED, printed: `PC_SEED=S tests/vm/powercut.sh N`
# repeats a run).
set -euo pipefail
VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${VM_OUT:-$VM_DIR/out}/powercut
CYCLES=${1:-1}
mkdir -p "$OUT"
log() { echo "[powercut] $*" >&2; }
command -v mkfs.ext4 >/dev/null && command -v e2fsck >/dev/null || {
    log "installing e2fsprogs"
    SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq e2fsprogs >&2
}
PATH=$PATH:/sbin:/usr/sbin

SEED=${PC_SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$SEED
log "$CYCLES cycles, seed $SEED (repeat: PC_SEED=$SEED tests/vm/powercut.sh $CYCLES)"
failed=0
for cycle in $(seq 1 "$CYCLES"); do
    mode=${PC_MODE:-}
    [ -n "$mode" ] || { [ $((cycle % 2)) -eq 1 ] && mode=backup || mode=restore; }
    # A restore of the 128 MiB cage takes longer than a backup: its cut may fall later.
    span=40; [ "$mode" = restore ] && span=100
    delay=${PC_DELAY:-}
    if [ -z "$delay" ]; then
        if [ "$cycle" -eq 1 ]; then delay=0.5; else
            delay=$(awk -v r="$RANDOM" -v s="$span" 'BEGIN { printf "%.1f", (r % (s + 1)) / 10 }'); fi
    fi
    disk=$OUT/disk.img
    rm -f "$disk"
    truncate -s 1G "$disk"
    mkfs.ext4 -q -F "$disk"
    log "cycle $cycle: power cut during a $mode, ${delay} s after it starts writing"
    VM_DISK=$disk VM_OUT=$OUT/cut VM_APPEND="pc.delay=$delay pc.mode=$mode" \
        "$VM_DIR/run.sh" powercut-cut > "$OUT/cut.log" 2>&1 || true
    if ! grep -q '^POWERCUT-CUT' "$OUT/cut/console.log"; then
        log "cycle $cycle: the first boot never reached its power cut"
        tail -n 60 "$OUT/cut/console.log" >&2
        failed=$((failed + 1)); continue
    fi
    grep '^POWERCUT-CUT' "$OUT/cut/console.log" >&2
    if ! VM_DISK=$disk VM_OUT=$OUT/check "$VM_DIR/run.sh" powercut-check > "$OUT/check.log" 2>&1; then
        log "cycle $cycle: the boot after the power cut failed"
        tail -n 80 "$OUT/check.log" >&2
        failed=$((failed + 1)); continue
    fi
    grep -E '^(PASS|FAIL|    note)' "$OUT/check/console.log" >&2 || true
    if ! e2fsck -fn "$disk" > "$OUT/fsck.log" 2>&1; then
        log "cycle $cycle: e2fsck found problems"; cat "$OUT/fsck.log" >&2
        failed=$((failed + 1)); continue
    fi
    log "cycle $cycle: ok"
done
rm -f "$OUT/disk.img"
echo "power-cut test: $((CYCLES - failed)) of $CYCLES cycles passed"
[ "$failed" -eq 0 ]
