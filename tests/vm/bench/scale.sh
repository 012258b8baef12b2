#!/bin/sh
# Scale rows of the benchmark (guest side; sourced by bench/guest.sh at its end, injected
# as /scenarios/bench-scale.sh by tests/vm/bench.sh only).
#
# 1. A storage of SCALE_FILES files in SCALE_FILES/100 folders, plus a 64 MiB file in
#    the middle folder. With a daemon that has seen none of it: mtp-detect, mtp-folders
#    and mtp-files (each a libmtp tool run that walks every object: GetObjectHandles,
#    then GetObjectInfo per object), then mtp-getfile of the file in the middle (its time
#    includes the tool's walk), then the daemon's peak RSS.
# 2. On an ext4 file system on /dev/vda (bench.sh attaches a sparse image): the reference
#    owners, the passive one holding SCALE_SMALL small files in SCALE_SMALL/100 folders;
#    `mtpbur-host backup --full` with a fresh daemon; its time, set size, peak RSS.
# 3. The same owners with the small files replaced by one SCALE_MB file: the time to read
#    it and write a copy on the same file system (what the device's side of a backup
#    does to the disk at the least), the same backup; then the raw ceiling of the same USB path for the same number of bytes
#    (`mtpbur ceiling` + `mtpbur-host bench-raw`).
# Prints `BENCH scale <metric> <value>` lines; bench.sh computes the ratios.
# With BENCH_PROFILE set (bench.sh then puts perf into the image), each backup also runs
# under a system-wide sampling profile and prints `PROFILE <label> ...` lines (below).
SCALE_FILES=${BENCH_SCALE_FILES:-100000}
SCALE_SMALL=${BENCH_SCALE_SMALL:-100000}
SCALE_MB=${BENCH_SCALE_MB:-4096}
# libmtp's walks of 100 000 objects take minutes under TCG
RUN_TIMEOUT=2400

# fill_folders DIR FILES: FILES small files (a line each) in FILES/100 folders d0...
fill_folders() {
    _d=0
    while [ $((_d * 100)) -lt "$2" ]; do
        mkdir -p "$1/d$_d"
        _f=0
        while [ $_f -lt 100 ]; do echo "file $_f of folder $_d" > "$1/d$_d/f$_f.txt"; _f=$((_f + 1)); done
        _d=$((_d + 1))
    done
}

# backup_once LABEL: a full backup with a fresh daemon; BENCH backup_LABEL_s, _bytes, _rss_kib
backup_once() {
    start_daemon
    rm -rf "$REPO"
    profile_start
    _t=$(now)
    /usr/local/bin/mtpbur-host --json backup --full "$REPO" > /tmp/work/scale.json 2>> "$LOG" ||
        fail "scale: mtpbur-host backup ($1) failed: $(cat /tmp/work/scale.json)"
    bench scale "backup_$1_s" "$(elapsed "$_t")"
    profile_stop "$1"
    bench scale "backup_$1_bytes" "$(sed -n 's/.*"bytes":\([0-9]*\).*/\1/p' /tmp/work/scale.json)"
    bench scale "backup_$1_rss_kib" "$(rss_peak_kib "$DAEMON_PID")"
    stop_daemon
    rm -rf "$REPO"
}

if [ "$SCALE_FILES" -gt 0 ]; then
    rm -rf "${STORE:?}"/*
    t0=$(now)
    fill_folders "$STORE/scale" "$SCALE_FILES"
    patternfile "$STORE/scale/d$((SCALE_FILES / 200))/middle.bin" $((64 * 1048576))
    say "scale: $SCALE_FILES files made in $(elapsed "$t0") s"
    objects=$(find "$STORE" | wc -l)
    bench scale objects $((objects - 1))
    start_daemon
    for tool in mtp-detect mtp-folders mtp-files; do
        t0=$(now)
        run $tool || fail "scale: $tool failed"
        bench scale "${tool#mtp-}_s" "$(elapsed "$t0")"
    done
    n=$(tr '\r' '\n' < /tmp/work/out | grep -c '^File ID:')
    [ "$n" -ge "$SCALE_FILES" ] || fail "scale: mtp-files listed $n files of $SCALE_FILES"
    id=$(tr '\r' '\n' < /tmp/work/out | awk '/^File ID:/ { id = $3 } /^ *Filename: middle.bin/ { print id; exit }')
    [ -n "$id" ] || fail "scale: middle.bin not listed"
    t0=$(now)
    getfile "$id" /tmp/work/middle.bin || fail "scale: mtp-getfile of middle.bin failed"
    bench scale getfile_s "$(elapsed "$t0")"
    same "$STORE/scale/d$((SCALE_FILES / 200))/middle.bin" /tmp/work/middle.bin || fail "scale: middle.bin differs"
    bench scale rss_kib "$(rss_peak_kib "$DAEMON_PID")"
    stop_daemon
    rm -rf "${STORE:?}"/* /tmp/work/middle.bin
fi

if [ "$SCALE_MB" -gt 0 ] || [ "$SCALE_SMALL" -gt 0 ]; then
    DATA=/var/lib/mtpbur
    [ -b /dev/vda ] || fail "scale: no /dev/vda (tests/vm/bench.sh attaches one)"
    rm -rf $DATA/c $DATA/spool $DATA/state
    mount -t ext4 /dev/vda $DATA || fail "scale: cannot mount /dev/vda"
    mkdir -p $DATA/c
    REPO=$DATA/bench-repo
    owners_install_seed || fail "scale: reference owners could not be installed"
    DOCS=$OWNERS_DRIVE/private/20000020/docs
    cage_owner=$(stat -c %u:%g "$DOCS")
    if [ "$SCALE_SMALL" -gt 0 ]; then
        t0=$(now)
        fill_folders "$DOCS/many" "$SCALE_SMALL"
        chown -R "$cage_owner" "$DOCS/many"
        sync
        say "scale: $SCALE_SMALL owner files made in $(elapsed "$t0") s"
        bench scale small_files "$SCALE_SMALL"
        backup_once small
        rm -rf "$DOCS/many"
    fi
    if [ "$SCALE_MB" -gt 0 ]; then
        patternfile "$DOCS/big.bin" $((SCALE_MB * 1048576))
        chown "$cage_owner" "$DOCS/big.bin"
        sync
        bench scale big_mb "$SCALE_MB"
        # What the file system alone takes for the bytes a backup moves on the device:
        # one read of the owner's file and one write of a copy (the spool's), synced.
        sync; echo 3 > /proc/sys/vm/drop_caches
        t0=$(now)
        cat "$DOCS/big.bin" > $DATA/copy.bin && sync
        bench scale copy_big_s "$(elapsed "$t0")"
        rm -f $DATA/copy.bin; sync; echo 3 > /proc/sys/vm/drop_caches
        backup_once big
        rm -f "$DOCS/big.bin"
        MTPBUR_CMD="/bin/mtpbur ceiling --profile $MTPBUR_PROFILE"
        start_daemon
        /usr/local/bin/mtpbur-host --json bench-raw --mb "$SCALE_MB" --rounds 10 --data 0 \
            > /tmp/work/raw.json 2> /tmp/work/raw.err || fail "scale: bench-raw failed: $(cat /tmp/work/raw.err)"
        stop_daemon
        MTPBUR_CMD=$MTPBUR_CMD_MTP
        bench scale raw_big_s "$(num source_s /tmp/work/raw.json)"
    fi
    umount $DATA
fi
