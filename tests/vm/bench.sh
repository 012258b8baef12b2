#!/usr/bin/env bash
# tests/vm/bench.sh - mtpbur against umtprd in one VM boot, on the same files.
#
# Boots the VM suite's image with two extra files: umtprd (from Debian's umtp-responder,
# unpacked into the cache) and bench/guest.sh as the only scenario. Prints each figure,
# the ratio ours/umtprd, and the targets of the issue:
#   GetObject  <= 0.5 x umtprd's time      SendObject <= 0.2 x umtprd's time
#   listing    <= 0.5 x umtprd's time      peak RSS   <  8 MiB
# and the same boot's raw ceiling of the USB path (mtpbur ceiling, mtpbur-host bench-raw):
#   GetObject, SendObject >= 0.9 of raw    listing <= 1.2 x the raw round trip per transaction
# Usage: tests/vm/bench.sh            (BENCH_MB=256 BENCH_FILES=1000 by default)
set -euo pipefail
VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=$VM_DIR/cache
"$VM_DIR/setup.sh"

UMTP=$CACHE/umtp-responder/usr/bin/umtprd
if [ ! -x "$UMTP" ]; then
    (cd "$CACHE" && rm -f umtp-responder_*.deb && apt-get download umtp-responder >&2)
    rm -rf "$CACHE/umtp-responder" && dpkg -x "$CACHE"/umtp-responder_*.deb "$CACHE/umtp-responder"
fi

export VM_OUT=${VM_OUT:-$VM_DIR/out/bench}
export VM_EXTRA_FILES="$UMTP=/usr/bin/umtprd $VM_DIR/bench/guest.sh=/scenarios/95-bench.sh ${VM_EXTRA_FILES:-}"
export VM_APPEND="${VM_APPEND:-} "
export VM_TIMEOUT=${VM_TIMEOUT:-3000}
# BENCH_ROUNDS (default 3): alternating rounds of mtpbur-host bench-mtp and bench-raw
mkdir -p "$VM_OUT"
printf 'BENCH_MB=%s\nBENCH_FILES=%s\nBENCH_ROUNDS=%s\n' "${BENCH_MB:-256}" "${BENCH_FILES:-1000}" "${BENCH_ROUNDS:-3}" > "$VM_OUT/bench.env"
export VM_EXTRA_FILES="$VM_EXTRA_FILES $VM_OUT/bench.env=/etc/bench.env"
set +e
"$VM_DIR/run.sh" bench
rc=$?
set -e

CONSOLE=$VM_OUT/console.log
echo
echo "===== benchmark: mtpbur vs umtprd (same boot, BENCH_MB=${BENCH_MB:-256}, BENCH_FILES=${BENCH_FILES:-1000})"
awk '
    # Repeated figures (the alternating rounds): keep the best (smallest time).
    /^BENCH / { k = $2 " " $3; if (!(k in v) || $4 + 0 < v[k] + 0) v[k] = $4 }
    END {
        split("get_s send_s list_s walk_s rss_kib", m, " ")
        split("0.5 0.2 0.5 - -", target, " ")
        printf "%-8s %12s %12s %10s %s\n", "metric", "mtpbur", "umtprd", "ratio", "target"
        for (i = 1; i <= 5; i++) {
            a = v["mtpbur " m[i]]; b = v["umtprd " m[i]]
            r = (b > 0) ? sprintf("%.3f", a / b) : "n/a"
            t = (m[i] == "rss_kib") ? "< 8192 KiB" : (target[i] == "-") ? "(no target)" : "ratio <= " target[i]
            printf "%-8s %12s %12s %10s %s\n", m[i], a, b, r, t
        }
        # The ceiling of the same path in the same boot (mtpbur ceiling + bench-raw).
        if (v["raw get_s"] > 0) {
            print ""
            printf "%-26s %10s %10s %10s %s\n", "against the raw USB path", "mtpbur", "raw", "fraction", "target"
            printf "%-26s %10s %10s %10.3f %s\n", "GetObject (s)", v["mtpbur get_s"], v["raw get_s"], v["raw get_s"] / v["mtpbur get_s"], ">= 0.9"
            printf "%-26s %10s %10s %10.3f %s\n", "SendObject (s)", v["mtpbur send_s"], v["raw send_s"], v["raw send_s"] / v["mtpbur send_s"], ">= 0.9"
            # mtp-files: GetObjectHandles, then GetObjectInfo per file (libmtp without
            # GetObjectPropList) plus its per-file property reads: counted as 2 per file.
            tx = v["mtpbur list_s"] * 1e6 / (2 * files)
            printf "%-26s %10.0f %10.0f %10.2f %s\n", "listing, us per transaction", tx, v["raw rtt_us"], tx / v["raw rtt_us"], "<= 1.2 x raw round trip"
            printf "%-26s %10s %10.0f\n", "raw round trip, no data (us)", "", v["raw rtt0_us"]
            if (v["host get_s"] > 0) {
                printf "%-26s %10s %10s %10s %s\n", "mtpbur-host (both ends ours)", "", "", "", ""
                printf "%-26s %10.2f %10.2f %10.3f %s\n", "  GetObject (s)", v["host get_s"], v["raw get_s"], v["raw get_s"] / v["host get_s"], ">= 0.9"
                printf "%-26s %10.2f %10.2f %10.3f %s\n", "  SendObject (s)", v["host send_s"], v["raw send_s"], v["raw send_s"] / v["host send_s"], ">= 0.9"
                htx = v["host list_s"] * 1e6 / v["host list_tx"]
                printf "%-26s %10.0f %10.0f %10.2f %s\n", "  listing, us per transaction", htx, v["raw rtt_us"], htx / v["raw rtt_us"], "<= 1.2 x raw round trip"
                if (v["copy read_s"] > 0)
                    printf "%-26s %10s %10.2f %10s %s\n", "  file read into 128 KiB (s)", "", v["copy read_s"], "", "(dd: the copy GetObject adds to the raw path)"
            }
            if (v["umtprd list_s"] > 0)
                printf "%-26s %10.0f %10s %10.2f %s\n", "umtprd, us per transaction", v["umtprd list_s"] * 1e6 / files, "", v["umtprd list_s"] * 1e6 / files / v["raw rtt_us"], "(1 per file: no GetObjectPropList)"
        }
    }' files="${BENCH_FILES:-1000}" "$CONSOLE"
exit $rc
