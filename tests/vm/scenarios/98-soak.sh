#!/bin/sh
# Scenario soak: soak.rounds backup/restore cycles of the reference owners in one daemon
# run (tests/vm/soak.sh runs it; tests/all.sh a short version). Each cycle changes the
# owners' data (the changed state and the seed state alternate), takes a full backup,
# destroys the data, restores the set, and compares the restored data byte for byte with
# what was backed up; then deletes the set. After each cycle it records the daemon's
# resident memory (VmRSS), open descriptors and threads; after the last one they may
# not have grown past the warm-up (the first three cycles): descriptors not at all,
# memory by at most 2 MiB.
# explicit
# timeout: 86400
. /scenarios/lib.sh
. /scenarios/backup-lib.sh
rounds=5
for a in $(cat /proc/cmdline); do
    case $a in soak.rounds=*) rounds=${a#soak.rounds=} ;; esac
done
# usage PID: "rss_kib fds threads" of the daemon.
usage() {
    printf '%s %s %s\n' "$(awk '/^VmRSS:/ { print $2 }' /proc/$1/status)" \
        "$(ls /proc/$1/fd | wc -l)" "$(awk '/^Threads:/ { print $2 }' /proc/$1/status)"
}
owners_install_seed || fail "reference owners could not be installed"
start_daemon
bk_init || fail "no Backup storage"
pid=$DAEMON_PID
mkdir -p /tmp/work/req
say "soak: $rounds cycles; at start: $(usage $pid)"
base_rss=0; base_fds=0; t0=$(now)
i=1
while [ "$i" -le "$rounds" ]; do
    if [ $((i % 2)) -eq 1 ]; then owners_change || fail "change failed"
    else ref_data seed >> "$LOG" 2>&1 || fail "seed failed"; fi
    owners_dump /tmp/work/dump-before || fail "dump failed"
    bk_run 'scope = "full"\ntype = "base"\nlabel = "soak"\n' ||
        fail "cycle $i: backup: $BK_STATE $(bk_field last_error)"
    [ -z "$(bk_field last_error)" ] || fail "cycle $i: backup: $(bk_field last_error)"
    set_name=$BK_SET
    owners_destroy || fail "destroy failed"
    bk_restore "$set_name" || fail "cycle $i: restore: $BK_WHY"
    owners_dump /tmp/work/dump-after || fail "dump failed"
    dumps_equal /tmp/work/dump-before /tmp/work/dump-after ||
        fail "cycle $i: the restored data differs from what was backed up"
    bk_delete "$set_name" || fail "cycle $i: the set could not be deleted"
    kill -0 "$pid" 2>/dev/null || fail "cycle $i: the daemon is gone"
    u=$(usage $pid); set -- $u
    echo "SOAK-CYCLE $i rss_kib $1 fds $2 threads $3"
    say "cycle $i: rss $1 KiB, fds $2, threads $3"
    if [ "$i" -le 3 ]; then
        [ "$1" -gt "$base_rss" ] && base_rss=$1
        [ "$2" -gt "$base_fds" ] && base_fds=$2
    fi
    last_rss=$1; last_fds=$2
    i=$((i + 1))
done
# One sample can catch a descriptor or a buffer in passing (a connection being closed):
# the end values are the least of up to five samples a second apart. A leak stays.
n=0
while { [ "$last_fds" -gt "$base_fds" ] || [ "$last_rss" -gt $((base_rss + 2048)) ]; } &&
    [ $n -lt 5 ]; do
    sleep 1
    u=$(usage $pid); set -- $u
    [ "$1" -lt "$last_rss" ] && last_rss=$1
    [ "$2" -lt "$last_fds" ] && last_fds=$2
    n=$((n + 1))
done
secs=$(elapsed "$t0")
note "$rounds cycles in $secs s; after warm-up rss $base_rss KiB fds $base_fds; at the end rss $last_rss KiB fds $last_fds"
echo "SOAK-RESULT cycles $rounds seconds $secs warmup_rss_kib $base_rss warmup_fds $base_fds last_rss_kib $last_rss last_fds $last_fds"
[ "$last_fds" -le "$base_fds" ] || fail "open descriptors grew: $base_fds after warm-up, $last_fds at the end"
[ "$last_rss" -le $((base_rss + 2048)) ] || fail "memory grew: $base_rss KiB after warm-up, $last_rss KiB at the end"
stop_daemon
pass
