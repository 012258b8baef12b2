#!/bin/sh
# Backup benchmark (guest side; injected as /scenarios/96-bench-backup.sh by
# tests/vm/bench-backup.sh only).
#
# The reference owners are seeded (ref-data) and the passive app gets BENCH_MB MiB more
# in one file (incompressible: photos, videos), so the backup is big enough for
# throughput to mean something. In one boot:
#   backup+getfile  backup.request -> state done -> every file of the set copied out with
#                   mtp-getfile (one tool run per file, as README.txt tells a user)
#   backup+stream   the same, but the files are copied as soon as they are listed, all
#                   those of one listing in one mtp-connect run (units of known size are
#                   listed while written and stream as they grow)
#   backup+cp       the same with the copy done by `cp -r` on a jmtpfs mount
#   raw             mtp-getfile of one file of the set's total size from the Internal
#                   storage (the comparison point)
#   mtpbur-host     `mtpbur-host backup --full REPO`: the host program (request, copy
#                   while captured, every unit checked, atomic set in the repository,
#                   set deleted from the device)
# backup+stream, mtpbur-host and raw alternate BENCH_REPEAT times, each reported as the
# best of its runs (with BENCH_PROFILE, the first mtpbur-host runs, plain and encrypted,
# under perf: bench/profile.sh). BENCH_QUICK=1 runs only those three. Then, once: `mtpbur-host restore`
# of that set (upload + restore on the device) against raw mtp-sendfile of the same size.
# Prints BENCH lines: `BENCH backup <metric> <value>`; the host computes the ratios.
# timeout: 3000
. /scenarios/lib.sh
. /scenarios/backup-lib.sh
[ -f /etc/bench.env ] && . /etc/bench.env
MB=${BENCH_MB:-256}
# The host tools share the VM's two CPUs with the device: poll status.toml every 2 s
# (on real hardware the PC's polling costs the device nothing).
BK_POLL=${BENCH_POLL:-2}
C=${BENCH_COMPRESS:-true}
bench() { echo "BENCH backup $1 $2"; say "BENCH backup $1 $2"; }
# profile_start / profile_stop LABEL (BENCH_PROFILE): bench/profile.sh
. /scenarios/bench-profile.sh
# BENCH_TRACE=1: CPU ticks per firmware thread (name utime stime minflt) and of the VM
cpu_snap() {
    for _t in /proc/$DAEMON_PID/task/*; do
        sed 's/^[0-9]* (\(.*\)) /\1 /' "$_t/stat" 2>/dev/null | awk -v t="${_t##*/}" '{ print "T" t "-" $1, $13, $14, $9 }'
    done
    sed 's/^[0-9]* (\(.*\)) /\1 /' /proc/$DAEMON_PID/stat | awk '{ print "process", $13, $14, $9 }'
    awk '$1 == "cpu" { print "VM-busy/idle", $2 + $3 + $4 + $7 + $8, $5 + $6, 0 }' /proc/stat
}
# threads come and go: sample every second, keep each thread's last figures
cpu_watch() {
    _w0=$(now)
    while :; do
        cpu_snap >> /tmp/work/cpu-samples
        # bytes of the big unit captured (spool) and copied (host) so far
        _sp=$(find /var/lib/mtpbur/spool -name passive-base.unit -path '*20000020*' 2>/dev/null | head -1)
        _ho=/tmp/work/set-s/20000020/c/passive-base.unit
        echo "GROW $(elapsed $_w0) $([ -n "$_sp" ] && size_of "$_sp" || echo 0) $([ -f $_ho ] && size_of $_ho || echo 0)" >> /tmp/work/grow
        sleep 1
    done
}
cpu_diff() {
    awk 'NR == FNR { u[$1] = $2; s[$1] = $3; f[$1] = $4; next }
        { last[$1] = $0 } END { for (k in last) print last[k] }' "$1" "$2" | sort > /tmp/work/cpu-last
    awk 'NR == FNR { u[$1] = $2; s[$1] = $3; f[$1] = $4; next }
        { printf "CPU %-28s user %6.2f s  sys %6.2f s  minflt %d\n", $1, ($2 - u[$1]) / 100, ($3 - s[$1]) / 100, $4 - f[$1] }' "$1" /tmp/work/cpu-last
}

owners_install_seed || fail "reference owners could not be installed"
patternfile "$OWNERS_DRIVE/private/20000020/docs/video.bin" $((MB * 1048576))
start_daemon
# BENCH_PIN=N: the engine's threads (and the hashing threads they start) on CPU N only
if [ -n "${BENCH_PIN:-}" ]; then
    for _t in /proc/$DAEMON_PID/task/*; do
        case $(cat "$_t/comm") in engine*) taskset -p -c "$BENCH_PIN" "${_t##*/}" >> "$LOG" 2>&1 ;; esac
    done
fi
bk_init || fail "no Backup storage"

# 1. backup, copied with mtp-getfile
if [ "${BENCH_QUICK:-0}" != 1 ]; then
t=$(now)
bk_run "scope = \"full\"\ntype = \"base\"\nlabel = \"g\"\ncompress = $C\n" || fail "backup failed: $(bk_field last_error)"
capture=$(elapsed $t)
bk_copy_set "$BK_SET" /tmp/work/set-g || fail "copy failed"
total_g=$(elapsed $t)
verify_set /tmp/work/set-g || fail "set: $VERIFY_ERR"
SET_BYTES=$BK_BYTES
SET_FILES=$(find /tmp/work/set-g -type f | wc -l)
bench set_bytes "$SET_BYTES"
bench set_files "$SET_FILES"
bench capture_s "$capture"
bench getfile_total_s "$total_g"
bk_delete "$BK_SET" || fail "delete failed"
rm -rf /tmp/work/set-g
fi

# 3. backup, copied with cp -r on a jmtpfs mount
if [ "${BENCH_QUICK:-0}" != 1 ]; then
t=$(now)
bk_run "scope = \"full\"\ntype = \"base\"\nlabel = \"j\"\ncompress = $C\n" || fail "backup failed: $(bk_field last_error)"
SET=$BK_SET
run jmtpfs $MNT < /dev/null
mounted $MNT || fail "jmtpfs did not mount"
cp -r "$MNT/Backup/$SET" /tmp/work/set-j || fail "cp -r failed"
fusermount -u $MNT
total_j=$(elapsed $t)
verify_set /tmp/work/set-j || fail "set: $VERIFY_ERR"
bench cp_total_s "$total_j"
rm -rf /tmp/work/set-j
fi

# 2. backup, every file copied as soon as it is listed, a batch per mtp-connect run (a
#    unit still being written streams as the engine writes it): capture and transfer
#    overlap
stream_once() {
    t=$(now)
    mark=$(wc -l < "$LOG")
    mkdir -p /tmp/work/req
    if [ "${BENCH_TRACE:-0}" = 1 ]; then
        cpu_snap > /tmp/work/cpu0; : > /tmp/work/cpu-samples
        cpu_watch & WATCH=$!
    fi
    printf "scope = \"full\"\ntype = \"base\"\nlabel = \"s$1\"\ncompress = $C\n" > /tmp/work/req/backup.request
    bk_request /tmp/work/req/backup.request || fail "backup.request refused"
    bk_stream_set /tmp/work/set-s "s$1" || fail "streamed copy failed"
    total_s=$(elapsed $t)
    [ "${BENCH_TRACE:-0}" = 1 ] && {
        kill $WATCH; cpu_snap >> /tmp/work/cpu-samples
        cpu_diff /tmp/work/cpu0 /tmp/work/cpu-samples | sed 's/^/TRACE /'
        awk '{ printf "TRACE grow %6.1f s  captured %5d MiB  copied %5d MiB\n", $2, $3 / 1048576, $4 / 1048576 }' /tmp/work/grow
        rm -f /tmp/work/grow
    }
    verify_set /tmp/work/set-s || fail "streamed set: $VERIFY_ERR"
    [ -n "${SET_BYTES:-}" ] || { SET_BYTES=$BK_BYTES; bench set_bytes "$SET_BYTES"; bench set_files "$BK_FILES"; }
    [ "$BK_BYTES" = "$SET_BYTES" ] || note "streamed set holds $BK_BYTES bytes, the first $SET_BYTES"
    bench "stream_total_s_$1" "$total_s"
    bench stream_early_files "$BK_EARLY"
    # BENCH_TRACE=1: the streamed copy's tool runs with their times, on the console
    [ "${BENCH_TRACE:-0}" = 1 ] && tail -n +"$mark" "$LOG" | grep -E '^\[[0-9.]+s\] (run: |exit status)' | sed 's/^/TRACE /'
    bk_wait || fail "streamed backup did not end"
    bk_delete "$BK_SET" || fail "delete failed"
    rm -rf /tmp/work/set-s
    echo "$total_s" >> /tmp/work/stream-times
}

# 4. raw: one file of the same size from the Internal storage
raw_once() {
    [ -f $STORE/raw.bin ] || patternfile $STORE/raw.bin "$SET_BYTES"
    id=$(mtp_id raw.bin)
    [ "${BENCH_TRACE:-0}" = 1 ] && cpu_snap > /tmp/work/cpu0
    t=$(now)
    getfile "$id" /tmp/work/raw.bin || fail "raw getfile failed"
    raw_s=$(elapsed $t)
    bench "raw_getfile_s_$1" "$raw_s"
    [ "${BENCH_TRACE:-0}" = 1 ] && { cpu_snap > /tmp/work/cpu-samples; cpu_diff /tmp/work/cpu0 /tmp/work/cpu-samples | sed 's/^/TRACE raw /'; }
    [ "$(size_of /tmp/work/raw.bin)" = "$SET_BYTES" ] || fail "raw file has the wrong size"
    rm -f /tmp/work/raw.bin
    echo "$raw_s" >> /tmp/work/raw-times
}

# 5. the host program: one command, one session
host_once() {
    rm -rf /tmp/work/repo
    [ "$1" = 1 ] && profile_start
    t=$(now)
    /usr/local/bin/mtpbur-host --json backup --full /tmp/work/repo > /tmp/work/host.json 2>> "$LOG" ||
        fail "mtpbur-host backup failed: $(cat /tmp/work/host.json)"
    host_s=$(elapsed $t)
    profile_stop plain
    say "mtpbur-host: $(cat /tmp/work/host.json)"
    hb=$(sed -n 's/.*"bytes":\([0-9]*\).*/\1/p' /tmp/work/host.json)
    [ "$hb" = "$SET_BYTES" ] || note "mtpbur-host copied $hb bytes, the first set $SET_BYTES"
    bench "host_total_s_$1" "$host_s"
    echo "$host_s" >> /tmp/work/host-times
}

# 6. the same with a backup password set: every unit age-encrypted on the device
host_enc_once() {
    echo "bench password" | /usr/local/bin/mtpbur-host encryption on >> "$LOG" 2>&1 || fail "encryption on failed"
    rm -rf /tmp/work/repo-enc
    [ "$1" = 1 ] && profile_start
    t=$(now)
    /usr/local/bin/mtpbur-host --json backup --full /tmp/work/repo-enc > /tmp/work/host-enc.json 2>> "$LOG" ||
        fail "encrypted mtpbur-host backup failed: $(cat /tmp/work/host-enc.json)"
    enc_s=$(elapsed $t)
    profile_stop encrypted
    echo "bench password" | /usr/local/bin/mtpbur-host encryption off >> "$LOG" 2>&1 || fail "encryption off failed"
    head -c 22 "$(find /tmp/work/repo-enc -name passive-base.unit | head -1)" | grep -q age-encryption ||
        fail "the encrypted backup's units are not age files"
    bench "host_enc_total_s_$1" "$enc_s"
    echo "$enc_s" >> /tmp/work/host-enc-times
    rm -rf /tmp/work/repo-enc
}

# 7. the device alone: request to done, nothing copied (the host only polls status.toml
#    with mtpbur-host), plain and then encrypted: can the device keep up with USB?
capture_only() { # $1: label; prints the seconds
    mkdir -p /tmp/work/req
    printf 'scope = "full"\ntype = "base"\nlabel = "%s"\ncompress = %s\n' "$1" "$C" > /tmp/work/req/backup.request
    _t=$(now)
    bk_request /tmp/work/req/backup.request || fail "capture request refused"
    while :; do
        /usr/local/bin/mtpbur-host --json info > /tmp/work/cap.json 2>> "$LOG" || true
        grep -q '"state":"done"' /tmp/work/cap.json && break
        grep -q '"state":"failed"' /tmp/work/cap.json && fail "capture failed: $(cat /tmp/work/cap.json)"
        sleep 0.2
    done
    _s=$(elapsed $_t)
    _set=$(sed -n 's/.*"session":"\([^"]*\)".*/\1/p' /tmp/work/cap.json)
    bk_tree; bk_delete "$_set" || fail "delete $_set failed"
    echo "$_s"
}
capture_pair() {
    bench "capture_plain_s_$1" "$(capture_only p$1)"
    echo "bench password" | /usr/local/bin/mtpbur-host encryption on >> "$LOG" 2>&1 || fail "encryption on failed"
    bench "capture_enc_s_$1" "$(capture_only e$1)"
    echo "bench password" | /usr/local/bin/mtpbur-host encryption off >> "$LOG" 2>&1 || fail "encryption off failed"
}

# Warm the VM's memory first: the first time the guest touches a page, the machine that
# runs QEMU has to back it, which a later run gets for free. Without this, the first
# streamed backup (1.5 GiB of fresh pages: spool and host copy) pays for it and raw, which
# reuses pages freed before it, does not.
dd if=/dev/zero of=/tmp/work/warm bs=1M count=$((MB * 2 + 256)) 2>/dev/null
rm -f /tmp/work/warm

# 2 and 4 alternate BENCH_REPEAT times (the host machine's speed drifts from minute to
# minute); each figure is the best of its runs
: > /tmp/work/stream-times; : > /tmp/work/raw-times; : > /tmp/work/host-times; : > /tmp/work/host-enc-times
i=1
while [ $i -le "${BENCH_REPEAT:-1}" ]; do
    stream_once $i
    host_once $i
    host_enc_once $i
    capture_pair $i
    raw_once $i
    i=$((i + 1))
done
best() { sort -n "$1" | head -1; }
bench stream_total_s "$(best /tmp/work/stream-times)"
bench host_total_s "$(best /tmp/work/host-times)"
bench host_enc_total_s "$(best /tmp/work/host-enc-times)"
bench raw_getfile_s "$(best /tmp/work/raw-times)"

# Restore with the host program (the last repository: upload, verify, restore on the
# device) against raw mtp-sendfile of one file of the set's size.
t=$(now)
/usr/local/bin/mtpbur-host --json restore /tmp/work/repo > /tmp/work/restore.json 2>> "$LOG" ||
    fail "mtpbur-host restore failed: $(cat /tmp/work/restore.json)"
bench host_restore_s "$(elapsed $t)"
bench host_restore_upload_s "$(sed -n 's/.*"upload_seconds":\([0-9.]*\).*/\1/p' /tmp/work/restore.json)"
grep -q '"outcome":"failed"' /tmp/work/restore.json && fail "an owner failed: $(cat /tmp/work/restore.json)"
patternfile /tmp/work/raw-up.bin "$SET_BYTES"
t=$(now)
sendfile /tmp/work/raw-up.bin || fail "raw sendfile failed"
bench raw_sendfile_s "$(elapsed $t)"
# What the emulated CPU does per byte, for the encrypted figure: ChaCha20-Poly1305 (the
# age tool, Go's assembly) and SHA-256 (sha256sum) over the set's size, against a copy.
head -c "$SET_BYTES" /tmp/work/raw-up.bin > /dev/null 2>&1
t=$(now); cat /tmp/work/raw-up.bin > /dev/null; bench cpu_copy_s "$(elapsed $t)"
t=$(now); age -r age1c8gfxlqsg20vjnvh0fd8dtnd5p9ay3nhrzpmtyd33gr93qk6jexq5ktj4w < /tmp/work/raw-up.bin > /dev/null
bench cpu_chacha_s "$(elapsed $t)"
t=$(now); sha256sum /tmp/work/raw-up.bin > /dev/null; bench cpu_sha256_s "$(elapsed $t)"
rm -f /tmp/work/raw-up.bin $STORE/raw.bin $STORE/raw-up.bin
pass
