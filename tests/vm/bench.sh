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
# and the scale rows (bench/scale.sh): 100 000 files in 1 000 folders, full backups of
# 100 000 small files and of 4 GiB, with the daemon's peak RSS:
#   listing RSS < 16 MiB                   backup RSS < 32 MiB
# Usage: tests/vm/bench.sh            (BENCH_MB=256 BENCH_FILES=1000 by default;
#        BENCH_SCALE_FILES=100000 BENCH_SCALE_SMALL=100000 BENCH_SCALE_MB=4096, 0 skips;
#        the scale disk image is removed after the boot unless BENCH_KEEP_DISK=1;
#        BENCH_PROFILE=1: the listings, the first round against the ceiling and each
#        scale backup under `perf record`, their profiles printed; =callers: with the
#        kernel's call chains; BENCH_QUIET=1: only the listing beside other load,
#        bench/quiet.sh)
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
export VM_EXTRA_FILES="$UMTP=/usr/bin/umtprd $VM_DIR/bench/guest.sh=/scenarios/95-bench.sh $VM_DIR/bench/scale.sh=/scenarios/bench-scale.sh $VM_DIR/bench/profile.sh=/scenarios/bench-profile.sh $VM_DIR/bench/usbmon.sh=/scenarios/bench-usbmon.sh $VM_DIR/bench/quiet.sh=/scenarios/bench-quiet.sh $VM_DIR/bench/sched.sh=/scenarios/bench-sched.sh ${VM_EXTRA_FILES:-}"
export VM_APPEND="${VM_APPEND:-} "
export VM_TIMEOUT=${VM_TIMEOUT:-7200}
# BENCH_ROUNDS (default 3): alternating rounds of mtpbur-host bench-mtp and bench-raw
mkdir -p "$VM_OUT"
printf 'BENCH_MB=%s\nBENCH_FILES=%s\nBENCH_ROUNDS=%s\n' "${BENCH_MB:-256}" "${BENCH_FILES:-1000}" "${BENCH_ROUNDS:-3}" > "$VM_OUT/bench.env"
SCALE_MB=${BENCH_SCALE_MB:-4096}
printf 'BENCH_SCALE_FILES=%s\nBENCH_SCALE_SMALL=%s\nBENCH_SCALE_MB=%s\n' "${BENCH_SCALE_FILES:-100000}" \
    "${BENCH_SCALE_SMALL:-100000}" "$SCALE_MB" >> "$VM_OUT/bench.env"
# The scale backups run on ext4 on a block device (owner data, spool and the host's
# repository: three times the big file, and room for the small files).
if [ "${BENCH_REPORT_ONLY:-0}" != 1 ] && { [ "$SCALE_MB" -gt 0 ] || [ "${BENCH_SCALE_SMALL:-100000}" -gt 0 ]; }; then
    command -v mkfs.ext4 > /dev/null || { apt-get install -y e2fsprogs > /dev/null || exit 1; }
    rm -f "$VM_OUT/scale.img"
    truncate -s $((3 * SCALE_MB + 3072))M "$VM_OUT/scale.img"
    mkfs.ext4 -q -F "$VM_OUT/scale.img"
    export VM_DISK=$VM_OUT/scale.img
fi
printf 'BENCH_PROFILE=%s\n' "${BENCH_PROFILE:-0}" >> "$VM_OUT/bench.env"
printf 'BENCH_QUIET=%s\n' "${BENCH_QUIET:-0}" >> "$VM_OUT/bench.env"
if [ "${BENCH_PROFILE:-0}" != 0 ] && [ "${BENCH_REPORT_ONLY:-0}" != 1 ]; then
    command -v perf > /dev/null || { apt-get install -y linux-perf > /dev/null || exit 1; }
    VM_EXTRA_FILES="$VM_EXTRA_FILES $(command -v perf)=/usr/bin/perf"
fi
export VM_EXTRA_FILES="$VM_EXTRA_FILES $VM_OUT/bench.env=/etc/bench.env"
# BENCH_REPORT_ONLY=1: print the tables of the last run in VM_OUT again, without a boot
set +e
rc=0
[ "${BENCH_REPORT_ONLY:-0}" = 1 ] || { "$VM_DIR/run.sh" bench; rc=$?; }
set -e
# The scale disk holds up to three copies of the big file: give the space back (the
# engine tests keep 5 % of the file system free for the spool and fail on a full disk).
[ -z "${VM_DISK:-}" ] || [ "${BENCH_KEEP_DISK:-0}" = 1 ] || rm -f "$VM_DISK"

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
            # mtp-files: its requests as the USB debug of libmtp counted them (an untimed second
            # run), else 2 per file (GetObjectInfo and a single-object GetObjectPropList).
            ntx = (v["mtpbur list_requests"] > 0) ? v["mtpbur list_requests"] : 2 * files
            tx = v["mtpbur list_s"] * 1e6 / ntx
            printf "%-26s %10.0f %10.0f %10.2f %s\n", "listing, us per transaction", tx, v["raw rtt_us"], tx / v["raw rtt_us"], "<= 1.2 x raw round trip"
            printf "%-26s %10s %10.0f\n", "raw round trip, no data (us)", "", v["raw rtt0_us"]
            if (v["host get_s"] > 0) {
                printf "%-26s %10s %10s %10s %s\n", "mtpbur-host (both ends ours)", "", "", "", ""
                printf "%-26s %10.2f %10.2f %10.3f %s\n", "  GetObject (s)", v["host get_s"], v["raw get_s"], v["raw get_s"] / v["host get_s"], ">= 0.9"
                printf "%-26s %10.2f %10.2f %10.3f %s\n", "  SendObject (s)", v["host send_s"], v["raw send_s"], v["raw send_s"] / v["host send_s"], ">= 0.9"
                htx = v["host list_s"] * 1e6 / v["host list_tx"]
                printf "%-26s %10.0f %10.0f %10.2f %s\n", "  listing, us per transaction", htx, v["raw rtt_us"], htx / v["raw rtt_us"], "<= 1.2 x raw round trip"
                # The listing as mtp-files asks for it (GetObjectInfo + a single-object
                # GetObjectPropList per file): what the device spends on the libmtp listing.
                if (v["host pair_tx"] > 0) {
                    ptx = v["host pair_s"] * 1e6 / v["host pair_tx"]
                    printf "%-26s %10.0f %10.0f %10.2f %s\n", "  as mtp-files, us per tx", ptx, v["raw rtt_us"], ptx / v["raw rtt_us"], "<= 1.2 x raw round trip"
                    if (v["umtprd list_s"] > 0)
                        printf "%-26s %10.2f %10.2f %10.3f %s\n", "  as mtp-files, s (umtprd)", v["host pair_s"], v["umtprd list_s"], v["host pair_s"] / v["umtprd list_s"], "(comparison: umtprd through libmtp)"
                }
                # umtprd through the same client (listings only): device against device.
                if (v["uhost list_tx"] > 0) {
                    utx = v["uhost list_s"] * 1e6 / v["uhost list_tx"]
                    printf "%-26s %10.0f %10.0f %10.3f %s\n", "  umtprd listing, us per tx", utx, htx, htx / utx, "(mtpbur / umtprd, 1 per file each)"
                    if (v["host pair_tx"] > 0)
                        printf "%-26s %10.2f %10.2f %10.3f %s\n", "  2 per file / umtprd 1, s", v["host pair_s"], v["uhost list_s"], v["host pair_s"] / v["uhost list_s"], "(mtpbur as mtp-files asks / umtprd as it gets asked)"
                    if (v["uhost pair_tx"] > 0)
                        printf "%-26s %10.2f %10.2f %10.3f %s\n", "  2 per file each, s", v["host pair_s"], v["uhost pair_s"], v["host pair_s"] / v["uhost pair_s"], "(mtpbur / umtprd)"
                }
                if (v["copy read_s"] > 0)
                    printf "%-26s %10s %10.2f %10s %s\n", "  file read into 128 KiB (s)", "", v["copy read_s"], "", "(dd: the copy GetObject adds to the raw path)"
            }
            # The same listing again with the daemon warm (its second run).
            if (v["mtpbur list2_s"] > 0 && v["umtprd list2_s"] > 0)
                printf "%-26s %10.2f %10.2f %10.3f %s\n", "mtp-files again (s)", v["mtpbur list2_s"], v["umtprd list2_s"], v["mtpbur list2_s"] / v["umtprd list2_s"], "(mtpbur / umtprd: the second run of each)"
            untx = (v["umtprd list_requests"] > 0) ? v["umtprd list_requests"] : files
            utx_lib = v["umtprd list_s"] * 1e6 / untx
            if (v["umtprd list_s"] > 0)
                printf "%-26s %10.0f %10s %10.2f %s\n", "umtprd, us per transaction", utx_lib, "", utx_lib / v["raw rtt_us"], "(" untx " requests, counted)"
            # The same path with the host in the lockstep of libmtp (bench-raw --lockstep: one
            # 16 KiB transfer at a time): the limit for a libmtp tool, whatever the device.
            if (v["lock get_s"] > 0) {
                printf "%-26s %10s %10s %10s %s\n", "libmtp against lockstep raw", "libmtp", "lockstep", "fraction", ""
                printf "%-26s %10.2f %10.2f %10.3f %s\n", "  mtp-getfile (s)", v["mtpbur get_s"], v["lock get_s"], v["lock get_s"] / v["mtpbur get_s"], "(the tool walk included)"
                printf "%-26s %10.2f %10.2f %10.3f %s\n", "  mtp-sendfile (s)", v["mtpbur send_s"], v["lock send_s"], v["lock send_s"] / v["mtpbur send_s"], "(the tool walk included)"
                printf "%-26s %10.0f %10.0f %10.2f %s\n", "  mtp-files, us per request", tx, v["lock rtt_us"], tx / v["lock rtt_us"], "(x lockstep round trip, " ntx " requests)"
                if (v["umtprd list_s"] > 0)
                    printf "%-26s %10.0f %10.0f %10.2f %s\n", "  umtprd, us per request", utx_lib, v["lock rtt_us"], utx_lib / v["lock rtt_us"], "(x lockstep round trip, " untx " requests)"
            }
        }
        # One mtp-files transaction on the wire (bench/usbmon.sh): where the time of a
        # libmtp transaction goes, for each daemon.
        if (v["mtpbur wire_tx"] > 0) {
            print ""
            printf "%-34s %10s %10s\n", "mtp-files on the wire (usbmon)", "mtpbur", "umtprd"
            split("tx in cmd_us gap1_us data_us gap2_us resp_us gap3_us total_us ctrl pre_ms post_ms", w, " ")
            split("transactions|IN transfers per transaction|command: submitted to taken (us)|tool: command to next IN (us)|data: submitted to done (us)|tool: data to next IN (us)|response: submitted to done (us)|tool: response to next command|all, per transaction (us)|control transfers|first URB to first command (ms)|last completion to last URB (ms)", label, "|")
            for (i = 1; i <= 12; i++)
                printf "  %-32s %10s %10s\n", label[i], v["mtpbur wire_" w[i]], v["umtprd wire_" w[i]]
        }
        # The scale rows (bench/scale.sh): the same tools over 100 000 objects, per object
        # against the 1000-file listing above (1.0: linear), and the big backups.
        if (v["scale objects"] > 0) {
            n = v["scale objects"]
            print ""
            printf "%-34s %10s %12s %10s %s\n", "scale: " n " objects", "s", "us/object", "vs 1000", "target"
            split("detect folders files", tool, " ")
            for (i = 1; i <= 3; i++) {
                sec = v["scale " tool[i] "_s"]; per = sec * 1e6 / n
                r = (tool[i] == "files" && v["mtpbur list_s"] > 0) ? sprintf("%.2f", per / (v["mtpbur list_s"] * 1e6 / (files + 1))) : ""
                printf "%-34s %10.1f %12.0f %10s %s\n", "  mtp-" tool[i], sec, per, r, (r != "") ? "linear: about 1" : ""
            }
            printf "%-34s %10.1f %12s %10s %s\n", "  mtp-getfile, 64 MiB in the middle", v["scale getfile_s"], "", "", "(includes the tool walk)"
            printf "%-34s %10s %12s %10s %s\n", "  daemon peak RSS (KiB)", v["scale rss_kib"], "", "", (v["scale rss_kib"] < 16384) ? "< 16384: met" : "< 16384: MISSED"
        }
        if (v["scale small_files"] > 0) {
            n = v["scale small_files"]
            printf "%-34s %10.1f %12.0f %10s %s\n", "backup of " n " small files", v["scale backup_small_s"], v["scale backup_small_s"] * 1e6 / n, "", "(s, us per file)"
            printf "%-34s %10s %12s %10s %s\n", "  set bytes, daemon peak RSS (KiB)", v["scale backup_small_bytes"], v["scale backup_small_rss_kib"], "", (v["scale backup_small_rss_kib"] < 32768) ? "< 32768: met" : "< 32768: MISSED"
        }
        if (v["scale big_mb"] > 0) {
            mb = v["scale big_mb"]; b = v["scale backup_big_s"]; raw = v["scale raw_big_s"] + 0
            printf "%-34s %10.1f %12s %10.3f %s\n", "backup of one " mb " MiB file", b, sprintf("raw %.1f", raw), (b > 0) ? raw / b : 0, "(fraction of the raw source, same bytes)"
            cp = v["scale copy_big_s"] + 0
            if (cp > 0)
                printf "%-34s %10.1f %12s %10.3f %s\n", "  file read + copy written, synced", cp, "", cp / b, "(fraction: the disk work of the device alone)"
            printf "%-34s %10s %12s %10s %s\n", "  set bytes, daemon peak RSS (KiB)", v["scale backup_big_bytes"], v["scale backup_big_rss_kib"], "", (v["scale backup_big_rss_kib"] < 32768) ? "< 32768: met" : "< 32768: MISSED"
        }
    }' files="${BENCH_FILES:-1000}" "$CONSOLE"
# BENCH_QUIET=1: the listing beside other load (bench/quiet.sh), best of two each
if grep -q '^BENCH [a-z]* quiet_' "$CONSOLE"; then
    echo
    echo "===== mtp-files beside other load (BENCH_QUIET=1), s"
    awk '/^BENCH [a-z]* quiet_/ { k = $2 " " $3; if (!(k in v) || $4 + 0 < v[k] + 0) v[k] = $4 }
        END {
            printf "%-12s %8s %8s %8s\n", "condition", "mtpbur", "umtprd", "ratio"
            split("alone usbmon busy apart together", c, " ")
            for (i = 1; i <= 5; i++) {
                a = v["mtpbur quiet_" c[i] "_s"]; b = v["umtprd quiet_" c[i] "_s"]
                printf "%-12s %8s %8s %8s\n", c[i], a, b, (b > 0) ? sprintf("%.3f", a / b) : "n/a"
            }
        }' "$CONSOLE"
fi
# BENCH_QUIET=1: one listing traced by the kernel (bench/sched.sh), per transaction
if grep -q '^BENCH [a-z]* sched_' "$CONSOLE"; then
    echo
    echo "===== mtp-files traced by ftrace, per transaction (bench/sched.sh)"
    tr -d '\r' < "$CONSOLE" | awk '/^BENCH [a-z]* sched_/ { v[$2 " " $3] = $4; if (!($3 in seen)) { seen[$3] = 1; m[++n] = $3 } }
        END {
            printf "%-16s %10s %10s %8s\n", "figure", "mtpbur", "umtprd", "ratio"
            for (i = 1; i <= n; i++) {
                a = v["mtpbur " m[i]]; b = v["umtprd " m[i]]
                printf "%-16s %10s %10s %8s\n", m[i], a, b, (b > 0) ? sprintf("%.2f", a / b) : ""
            }
        }'
    echo "task, per transaction: run µs, wake-ups, mean wake-up latency µs"
    tr -d '\r' < "$CONSOLE" | awk '/^SCHED / { printf "  %-8s %-18s %8s %6s %6s\n", $2, $3, $4, $5, $6 }'
    echo "system calls per transaction: task, call, calls, µs from entry to exit (sleeps included)"
    tr -d '\r' < "$CONSOLE" | awk '/^SYSCALL / { printf "  %-8s %-10s %-14s %6s %6s\n", $2, $3, $4, $5, $6 }' | sort -k1,2 -k5,5nr
    echo "one transaction in the middle of the listing: µs since the command arrived, CPU, task, event"
    tr -d '\r' < "$CONSOLE" | sed -n 's/^SCHEDLINE /  /p'
fi
# What each daemon's mtp-files listing asked (libmtp's USB debug, the untimed run)
if grep -q 'mtp-files sent' "$CONSOLE"; then
    echo
    echo "===== mtp-files requests (LIBMTP_DEBUG=4)"
    sed -n 's/^ *note [^:]*: \(.*mtp-files sent .*\)/\1/p' "$CONSOLE" | tr -d '\r' | sort -u
fi
# BENCH_PROFILE: where the listings, the first ceiling round and the scale backups spend
# the two CPUs (perf, both ends and the kernel)
if grep -q '^PROFILE ' "$CONSOLE"; then
    echo
    echo "===== profiles, BENCH_PROFILE (share of all samples on both CPUs)"
    sed -n 's/^PROFILE //p' "$CONSOLE"
fi
exit $rc
