#!/bin/sh
# Scenario kill: the daemon is killed (SIGKILL, nothing cleaned up) at random moments of
# backups and restores and started again at once, in one boot (tests/vm/kill.sh runs it;
# tests/all.sh a short version). Odd rounds kill a full backup, even rounds a restore of
# the base set after the owners' data changed; the moment is a random 0-3 s after the
# session starts writing, from the seed kill.seed (printed), kill.rounds rounds.
# After each kill the daemon starts again and must: say in status.toml that the session
# was interrupted (if its journal was there), leave no staging folder, commit or session
# journal, partial unit or set without manifest; leave every owner's data unchanged
# (backup) or the passive owner's cage entirely old or entirely restored (restore); and
# a full restore of the base must then give back the base data exactly.
# explicit
# timeout: 86400
. /scenarios/lib.sh
. /scenarios/backup-lib.sh
DATA=/var/lib/mtpbur
PASSIVE_CAGE=$DATA/c/private/20000020
rounds=4; seed=1
for a in $(cat /proc/cmdline); do
    case $a in
    kill.rounds=*) rounds=${a#kill.rounds=} ;;
    kill.seed=*) seed=${a#kill.seed=} ;;
    esac
done
echo "KILL-SEED $seed ($rounds rounds)"
say "kill test: $rounds rounds, seed $seed"
# cage_state: the passive owner's cage as one line (owner, mode, every file's hash).
cage_state() {
    stat -c '%u:%g %a' $PASSIVE_CAGE
    (cd $PASSIVE_CAGE && find . -type f | sort | xargs sha256sum) | sha256sum
}
# delay_for N: the N-th delay (0.0-3.0 s) of the sequence the seed gives.
delay_for() {
    awk -v s="$seed" -v n="$1" 'BEGIN { srand(s); for (i = 0; i < n; i++) r = rand(); printf "%.1f", r * 3 }'
}
# private_dump FILE: the dump without `public` lines (the passive app's registration does
# not name its public folder: no restore touches it, and ref-data change changes it).
private_dump() { owners_dump /tmp/work/dump-all && awk '$3 != "public"' /tmp/work/dump-all > "$1"; }
# leftovers: fail if recovery left anything of the killed session.
leftovers() {
    [ -f $DATA/spool/.session.toml ] && fail "round $1: the session journal is still there"
    ls -a $DATA/spool | grep -q '^\.commit-' && fail "round $1: a commit journal is left"
    ls -a $DATA/c/private | grep -q '\.staging$' && fail "round $1: a staging folder is left"
    find $DATA/spool -name '*.part' | grep -q . && fail "round $1: a partial unit is left"
    for d in $DATA/spool/*/; do
        s=$(basename "$d"); [ "$s" = requests ] && continue
        [ -f "$d/manifest.toml" ] || fail "round $1: set $s has no manifest after recovery"
    done
}
# back_to_base ROUND: delete every set but the base, restore the base, compare the data.
back_to_base() {
    bk_tree_only
    for s in $(awk '$1 == 0 { print $3 }' /tmp/work/tree.txt); do
        case $s in "$BASE" | requests | *.toml | *.txt) continue ;; esac
        bk_delete "$s" || fail "round $1: set $s could not be deleted"
    done
    bk_restore "$BASE" || fail "round $1: restore of the base: $BK_WHY"
    private_dump /tmp/work/dump-now || fail "dump failed"
    dumps_equal /tmp/work/dump-base /tmp/work/dump-now ||
        fail "round $1: the data restored from the base differs from the base"
}

owners_install_seed || fail "reference owners could not be installed"
dd if=/dev/urandom of=$PASSIVE_CAGE/big.bin bs=1M count=64 2>> "$LOG" || fail "big file"
chown "$(stat -c %u:%g $PASSIVE_CAGE)" $PASSIVE_CAGE/big.bin
start_daemon
bk_init || fail "no Backup storage"
bk_run 'scope = "full"\ntype = "base"\nlabel = "base"\n' ||
    fail "the base backup did not finish: $(bk_field last_error)"
BASE=$BK_SET
private_dump /tmp/work/dump-base || fail "dump failed"
cage_state > /tmp/work/cage-base
mkdir -p /tmp/work/req
i=1; reported=0; old=0; new=0; idle=0
while [ "$i" -le "$rounds" ]; do
    delay=$(delay_for "$i")
    if [ $((i % 2)) -eq 1 ]; then mode=backup; else mode=restore; fi
    if [ $mode = restore ]; then
        owners_change || fail "ref-data change failed"
        cage_state > /tmp/work/cage-changed
        bk_restore_begin "$BASE" || fail "round $i: restore.request refused"
    else
        printf 'scope = "full"\ntype = "base"\nlabel = "k%s"\n' "$i" > /tmp/work/req/backup.request
        bk_request /tmp/work/req/backup.request || fail "round $i: backup.request refused"
        _n=400
        while ! ls $DATA/spool | grep -q -- "-k$i\$" && [ $_n -gt 0 ]; do
            sleep 0.05; _n=$((_n - 1))
        done
    fi
    sleep "$delay"
    journal=no
    kill -KILL "$DAEMON_PID"; wait_exit "$DAEMON_PID" 5 || fail "round $i: SIGKILL did not end the daemon"
    DAEMON_PID=; rm -f /run/vm-daemon.pid
    [ -f $DATA/spool/.session.toml ] && journal=yes
    say "round $i: $mode killed ${delay} s after it started writing; journal $journal"
    wait_gone 10 || fail "round $i: the host still sees the device after SIGKILL"
    start_daemon
    bk_init || fail "round $i: no Backup storage after the restart"
    bk_status || fail "round $i: no status.toml after the restart"
    state=$(bk_field state); err=$(bk_field last_error)
    if [ $journal = yes ]; then
        [ "$state" = failed ] && echo "$err" | grep -q interrupted ||
            fail "round $i: the killed $mode is not reported: $state / $err"
        reported=$((reported + 1))
    else
        idle=$((idle + 1))   # the session had ended before the kill
    fi
    leftovers "$i"
    if [ $mode = restore ]; then
        cage_state > /tmp/work/cage-now
        if cmp -s /tmp/work/cage-base /tmp/work/cage-now; then new=$((new + 1))
        elif cmp -s /tmp/work/cage-changed /tmp/work/cage-now; then old=$((old + 1))
        else fail "round $i: the passive owner's cage is neither its old nor its restored data"
        fi
    else
        private_dump /tmp/work/dump-now || fail "dump failed"
        dumps_equal /tmp/work/dump-base /tmp/work/dump-now ||
            fail "round $i: the owners' data changed when a backup was killed"
    fi
    back_to_base "$i"
    echo "KILL-ROUND $i $mode delay ${delay} s journal $journal: ok"
    i=$((i + 1))
done
note "$rounds kills (seed $seed): $reported reported interrupted, $idle after the session ended; restores left the cage old $old, new $new times"
stop_daemon
pass
