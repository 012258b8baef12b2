#!/usr/bin/env bash
# tests/vm/bench-backup.sh - a full backup of the reference owners, end to end through the
# gadget (request, capture, copy of every file to the host), against raw mtp-getfile of one
# file of the same total size, in the same boot. Target (issue 6): backup throughput at
# least 0.8 x raw, i.e. raw time / backup time >= 0.8.
# Usage: tests/vm/bench-backup.sh        (BENCH_MB=256: extra MiB in the passive app;
#        BENCH_REPEAT=N: the streamed backup and raw N times each, alternating, the best
#        of each compared; BENCH_QUICK=1: only those two; BENCH_TRACE=1: tool runs, CPU
#        per firmware thread and the big unit's captured/copied bytes each second;
#        BENCH_PIN=N: the engine's threads on CPU N only; BENCH_PROFILE=1|callers: the
#        first plain and encrypted mtpbur-host backups under perf, see bench/profile.sh;
#        BENCH_CIPHER=portable: the guest's binaries built with the chacha20 and poly1305
#        crates' portable code, the code they run on ARM boards, in target/portable-cipher)
set -euo pipefail
VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
case ${BENCH_CIPHER:-auto} in
auto) ;;
portable)
    export VM_RUSTFLAGS="--cfg chacha20_force_soft --cfg poly1305_force_soft ${VM_RUSTFLAGS:-}"
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$VM_DIR/../../target}/portable-cipher
    ;;
*) echo "BENCH_CIPHER: auto or portable" >&2; exit 2 ;;
esac
export VM_OUT=${VM_OUT:-$VM_DIR/out/bench-backup}
mkdir -p "$VM_OUT"
printf 'BENCH_MB=%s\nBENCH_POLL=%s\nBENCH_COMPRESS=%s\nBENCH_TRACE=%s\nBENCH_QUICK=%s\nBENCH_REPEAT=%s\nBENCH_PIN=%s\nBENCH_PROFILE=%s\n' "${BENCH_MB:-256}" \
    "${BENCH_POLL:-2}" "${BENCH_COMPRESS:-true}" "${BENCH_TRACE:-0}" "${BENCH_QUICK:-0}" "${BENCH_REPEAT:-1}" "${BENCH_PIN:-}" "${BENCH_PROFILE:-0}" > "$VM_OUT/bench.env"
export VM_EXTRA_FILES="$VM_DIR/bench/backup-guest.sh=/scenarios/96-bench-backup.sh $VM_DIR/bench/profile.sh=/scenarios/bench-profile.sh $VM_OUT/bench.env=/etc/bench.env ${VM_EXTRA_FILES:-}"
if [ "${BENCH_PROFILE:-0}" != 0 ]; then
    command -v perf > /dev/null || apt-get install -y linux-perf > /dev/null || exit 1
    VM_EXTRA_FILES="$VM_EXTRA_FILES $(command -v perf)=/usr/bin/perf"
fi
export VM_TIMEOUT=${VM_TIMEOUT:-3000}
set +e
"$VM_DIR/run.sh" bench-backup
rc=$?
set -e
echo
echo "===== backup benchmark (same boot, BENCH_MB=${BENCH_MB:-256}, cipher code ${BENCH_CIPHER:-auto})"
awk '
    /^BENCH backup / { v[$3] = $4 }
    /^BENCH backup (stream_total|raw_getfile)_s_[0-9]+ / { n = $3; sub(/.*_/, "", n); if (n > rounds) rounds = n }
    END {
        if (!("raw_getfile_s" in v)) { print "no figures (see the log above)"; exit 1 }
        mb = v["set_bytes"] / 1048576
        printf "set: %.1f MiB in %d files", mb, v["set_files"]
        if ("capture_s" in v) printf "; capture (request to done) %.2f s", v["capture_s"]
        printf "\n"
        printf "raw mtp-getfile of %.1f MiB: %.2f s (%.1f MiB/s)\n", mb, v["raw_getfile_s"], mb / v["raw_getfile_s"]
        split("getfile_total_s stream_total_s cp_total_s host_total_s", k, " ")
        split("backup, then mtp-getfile per file|backup + mtp-connect as files appear|backup, then cp -r on jmtpfs|mtpbur-host backup (checked, atomic)", name, "|")
        for (i = 1; i <= 4; i++) {
            if (!(k[i] in v)) continue
            r = v["raw_getfile_s"] / v[k[i]]
            printf "%-40s %.2f s (%.1f MiB/s)  ratio %.3f  (target >= 0.8: %s)\n", name[i], v[k[i]], mb / v[k[i]], r, (r >= 0.8 ? "met" : "MISSED")
        }
        printf "files copied while the backup still ran (streamed): %d\n", v["stream_early_files"]
        if ("host_enc_total_s" in v && "host_total_s" in v) {
            r = v["host_total_s"] / v["host_enc_total_s"]
            printf "mtpbur-host backup, encrypted (age): %.2f s (%.1f MiB/s); against the plain one %.3f (target >= 0.9: %s); against raw %.3f\n", v["host_enc_total_s"], mb / v["host_enc_total_s"], r, (r >= 0.9 ? "met" : "MISSED"), v["raw_getfile_s"] / v["host_enc_total_s"]
        }
        if ("host_restore_s" in v && "raw_sendfile_s" in v)
            printf "mtpbur-host restore: %.2f s (check on the PC + upload %.2f s, ratio to raw %.3f; device verify + restore %.2f s); raw mtp-sendfile of %.1f MiB: %.2f s\n", v["host_restore_s"], v["host_restore_upload_s"], v["raw_sendfile_s"] / v["host_restore_upload_s"], v["host_restore_s"] - v["host_restore_upload_s"], mb, v["raw_sendfile_s"]
        for (i = 1; ("capture_plain_s_" i) in v; i++) {
            if (!("cp" in best) || v["capture_plain_s_" i] < best["cp"]) best["cp"] = v["capture_plain_s_" i]
            if (!("ce" in best) || v["capture_enc_s_" i] < best["ce"]) best["ce"] = v["capture_enc_s_" i]
        }
        if ("cp" in best)
            printf "the device alone (request to done, nothing copied): plain %.2f s (%.1f MiB/s), encrypted %.2f s (%.1f MiB/s); encrypted against USB raw %.3f (target: keeps up, >= 0.9)\n", best["cp"], mb / best["cp"], best["ce"], mb / best["ce"], v["raw_getfile_s"] / best["ce"]
        if ("cpu_chacha_s" in v)
            printf "the emulated CPU over %.1f MiB: copy %.2f s, ChaCha20-Poly1305 (age tool) %.2f s (%.1f MiB/s), SHA-256 %.2f s (%.1f MiB/s)\n", mb, v["cpu_copy_s"], v["cpu_chacha_s"], mb / v["cpu_chacha_s"], v["cpu_sha256_s"], mb / v["cpu_sha256_s"]
        if (rounds > 1) {
            printf "best of %d rounds; each round (streamed, raw, ratio):\n", rounds
            for (i = 1; i <= rounds; i++) {
                s = v["stream_total_s_" i]; r = v["raw_getfile_s_" i]
                printf "  %d: %.2f s  %.2f s  %.3f\n", i, s, r, r / s
            }
        }
    }' "$VM_OUT/console.log"
grep -q '^PROFILE ' "$VM_OUT/console.log" && { echo; echo "===== profiles, BENCH_PROFILE (share of all samples on both CPUs)"; sed -n 's/^PROFILE //p' "$VM_OUT/console.log"; }
exit $rc
