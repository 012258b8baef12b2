#!/usr/bin/env bash
# tests/vm/run.sh - the VM suite's entry point: mtpbur against libmtp on dummy_hcd.
#
# Usage: tests/vm/run.sh [SCENARIO ...]      (no argument: all scenarios)
#
#   1. setup.sh: host packages and the cached Debian 6.1 kernel + modules;
#   2. builds a static mtpbur, the reference owners and ref-data (or takes MTPBUR_BIN);
#   3. build-initramfs.sh: tests/vm/out/initramfs.cpio.gz;
#   4. boots QEMU (TCG, no network device) with test=<scenarios>, the serial console
#      teed to tests/vm/out/console.log, under an overall timeout;
#   5. prints the PASS/FAIL lines and, as the very last line, "N passed, M failed".
# Exit status 0 only if the guest's end marker says "0 failed".
#
# Environment:
#   MTPBUR_BIN=path     use this prebuilt (static) firmware binary instead of building
#   OWNERS_BIN_DIR=dir  directory with prebuilt (static) reference owners and ref-data
#                       (default: the build's release directory, or MTPBUR_BIN's directory
#                       if it holds ref-data; otherwise the image has no owners)
#   CARGO_TARGET_DIR    honoured when building (default <repo>/target)
#   VM_RUSTFLAGS="..."  more rustc flags for the guest's binaries (use a CARGO_TARGET_DIR
#                       of their own: a flag change rebuilds everything)
#   MTPBUR_CMD="..."    daemon command line inside the guest
#                       (default: /bin/mtpbur --profile /etc/mtpbur/profile.toml)
#   VM_MEM=MiB          guest RAM (default 3072: the 1 GiB scenario keeps two 1 GiB files in tmpfs)
#   VM_BIG_MB=N         size of the "bigfile" scenario in MiB (default 1024)
#   VM_TIMEOUT=seconds  overall limit for the boot (default 3600)
#   VM_APPEND="..."     extra kernel command line
#   VM_VERBOSE=1        print every scenario's log, not only the failing ones
#   VM_EXTRA_FILES="SRC[=GUEST_PATH] ..."  more files for the initramfs
#   VM_OUT=dir          where initramfs.cpio.gz and console.log go (default tests/vm/out)
#   VM_DISK=file        a raw disk image attached as /dev/vda (virtio; the power-cut test)
#   RUST_LOG            passed to the daemon (default info)
set -euo pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$VM_DIR/../.." && pwd)
OUT=${VM_OUT:-$VM_DIR/out}   # initramfs and console.log (one run at a time per directory)
mkdir -p "$OUT"
T_START=$SECONDS
log() { echo "[run] $*" >&2; }

TESTS=all
[ $# -gt 0 ] && TESTS=$(IFS=,; echo "$*")

# 1. host packages and kernel
"$VM_DIR/setup.sh"
# shellcheck source=/dev/null
. "$VM_DIR/cache/kernel.env"

# 2. firmware
if [ -n "${MTPBUR_BIN:-}" ]; then
    FW=$MTPBUR_BIN
    log "firmware: prebuilt $FW"
else
    log "building static mtpbur and the reference owners"
    (cd "$REPO" && RUSTFLAGS="-C target-feature=+crt-static ${VM_RUSTFLAGS:-}" \
        cargo build --release --target x86_64-unknown-linux-gnu -p firmware --bin mtpbur \
            -p reference-owners --bins -p mtpbur-host --bin mtpbur-host)
    # The C library on its own: with --bin/--bins above, cargo would build no library.
    (cd "$REPO" && RUSTFLAGS="-C target-feature=+crt-static ${VM_RUSTFLAGS:-}" \
        cargo build --release --target x86_64-unknown-linux-gnu -p mtpbur-owner --lib)
    RELEASE=${CARGO_TARGET_DIR:-$REPO/target}/x86_64-unknown-linux-gnu/release
    log "building the C reference owner against libmtpbur_owner.a (static)"
    "${CC:-cc}" -static -std=c11 -O2 -Wall -Wextra -Werror -I "$REPO/data-owners/c/include" \
        "$REPO/data-owners/c/reference/c-journal.c" "$RELEASE/libmtpbur_owner.a" \
        -lpthread -ldl -lm -o "$RELEASE/c-journal" 2> "$OUT/c-journal.ld.log" ||
        { cat "$OUT/c-journal.ld.log" >&2; exit 1; }
    FW=$RELEASE/mtpbur
    OWNERS_BIN_DIR=${OWNERS_BIN_DIR:-$RELEASE}
fi
[ -x "$FW" ] || { log "firmware binary $FW missing"; exit 1; }
# reference owners + ref-data: next to a prebuilt firmware if they are there
if [ -z "${OWNERS_BIN_DIR:-}" ] && [ -x "$(dirname "$FW")/ref-data" ]; then
    OWNERS_BIN_DIR=$(dirname "$FW")
fi
export OWNERS_BIN_DIR=${OWNERS_BIN_DIR:-}
log "reference owners: ${OWNERS_BIN_DIR:-none}"

# 3. initramfs
INITRD=$OUT/initramfs.cpio.gz
# shellcheck disable=SC2086
"$VM_DIR/build-initramfs.sh" "$FW" "$INITRD" ${VM_EXTRA_FILES:-}

# 4. boot; the guest powers itself off after printing its end marker
CONSOLE=$OUT/console.log
log "booting $KERNEL_VERSION, test=$TESTS (console: $CONSOLE)"
T_BOOT=$SECONDS
set +e
timeout --foreground -k 10 "${VM_TIMEOUT:-3600}" \
    qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m "${VM_MEM:-3072}" \
    -kernel "$KERNEL_IMAGE" -initrd "$INITRD" \
    ${VM_DISK:+-drive "file=$VM_DISK,format=raw,if=virtio,cache=writeback"} \
    -append "console=ttyS0 panic=-1 quiet test=$TESTS ${VM_APPEND:-}" \
    -net none -no-reboot -nographic < /dev/null 2>&1 | tr -d '\r' | tee "$CONSOLE"
QEMU_RC=${PIPESTATUS[0]}
set -e
T_END=$SECONDS

# 5. results
echo
echo "===== VM suite summary (boot $((T_END - T_BOOT)) s, total $((T_END - T_START)) s)"
grep -E '^(PASS|FAIL) ' "$CONSOLE" || true
marker=$(grep -E '^VM-SUITE-RESULT: [0-9]+ passed, [0-9]+ failed' "$CONSOLE" | tail -n1 || true)
if [ -z "$marker" ]; then
    # No end marker: the VM crashed, hung or hit VM_TIMEOUT (qemu exit status $QEMU_RC).
    npass=$(grep -c '^PASS ' "$CONSOLE" || true)
    nfail=$(( $(grep -c '^FAIL ' "$CONSOLE" || true) + 1 ))
    echo "FAIL vm: no VM-SUITE-RESULT line (qemu/timeout exit status $QEMU_RC)"
else
    npass=$(echo "$marker" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    nfail=$(echo "$marker" | sed -E 's/.*, ([0-9]+) failed.*/\1/')
fi
echo "$npass passed, $nfail failed"
[ -n "$marker" ] && [ "$nfail" -eq 0 ]
