#!/bin/sh
# Scenario powercut-check: the second boot of the power-cut test (tests/vm/powercut.sh),
# on the disk the first boot lost power with.
#   after a cut backup: the owners' data is byte for byte what it was before;
#   after a cut restore: the passive owner's cage is entirely as before the restore or
#     entirely as restored (never a mix), with its owner and mode;
# in both: the daemon starts and says in status.toml that the session was interrupted
# (if it was), no incomplete set, staging folder, session or commit journal or partial
# unit is left, every
# set left verifies, and a new backup and a restore from it give back the data as it was
# before the first boot's session.
# explicit
# timeout: 900
. /scenarios/lib.sh
. /scenarios/backup-lib.sh
DATA=/var/lib/mtpbur
PASSIVE_CAGE=$DATA/c/private/20000020
HOST=/tmp/work/host
# The owners whose data the engine itself writes on restore: the passive app (files and
# public files) and the SQLite app (its database).
ENGINE_HELD="20000020 20000010"
# owner_states OLD NEW NOW: per owner (SID), "old", "new" or "mixed": its lines of the
# ref-data dump NOW equal its lines of OLD, of NEW (both, when they are equal: "new"), or
# neither. `public` lines are left out: the passive app's registration does not name its
# public folder, so no restore touches it (ref-data change changes it all the same).
owner_states() {
    awk '
        $3 == "public" { next }
        { sid = $2; text[FILENAME, sid] = text[FILENAME, sid] $0 "\n"; sids[sid] = 1 }
        END {
            for (sid in sids) {
                o = text[ARGV[1], sid]; n = text[ARGV[2], sid]; c = text[ARGV[3], sid]
                print sid, (c == n ? "new" : c == o ? "old" : "mixed")
            }
        }' "$1" "$2" "$3" | sort
}
cage_state() {
    stat -c '%u:%g %a' $PASSIVE_CAGE
    (cd $PASSIVE_CAGE && find . -type f | sort | xargs sha256sum) | sha256sum
}
[ -b /dev/vda ] || fail "no /dev/vda: run this through tests/vm/powercut.sh"
mount -t ext4 /dev/vda $DATA || fail "cannot mount /dev/vda (journal replay failed?)"
[ -f $DATA/dump-before ] || fail "the first boot never got to its dump"
mode=$(cat $DATA/mode)
journal=no; [ -f $DATA/spool/.session.toml ] && journal=yes
say "after the cut ($mode): journal $journal; spool: $(ls -a $DATA/spool 2>/dev/null | tr '\n' ' ')"
ls -la $DATA/c/private >> "$LOG"

start_daemon
bk_init || fail "no Backup storage"
bk_status || fail "no status.toml"
state=$(bk_field state); err=$(bk_field last_error)
say "status at start: $state / $err"
if [ $journal = yes ]; then
    [ "$state" = failed ] && echo "$err" | grep -q interrupted ||
        fail "an interrupted $mode is not reported: state $state, last_error $err"
fi
cage_state > /tmp/work/cage-after
if [ "$mode" = restore ]; then
    if cmp -s $DATA/cage-before /tmp/work/cage-after; then cage=restored
    elif cmp -s $DATA/cage-changed /tmp/work/cage-after; then cage=old
    else
        cat $DATA/cage-before $DATA/cage-changed /tmp/work/cage-after >> "$LOG"
        fail "the passive owner's cage is neither its old nor its restored data"
    fi
    # Every owner whose data the engine holds (passive files with public files, a
    # database) is entirely old or entirely restored; the owners that restore their own
    # (active) data are reported.
    owners_dump /tmp/work/dump-after || fail "dump failed"
    owner_states $DATA/dump-changed $DATA/dump-before /tmp/work/dump-after > /tmp/work/states
    cat /tmp/work/states >> "$LOG"
    for sid in $ENGINE_HELD; do
        grep -q "^$sid mixed" /tmp/work/states &&
            fail "owner $sid has a mix of its old and its restored data"
    done
    owners=$(tr '\n' ' ' < /tmp/work/states)
else
    cage=unchanged
    owners_dump /tmp/work/dump-after || fail "dump failed"
    dumps_equal $DATA/dump-before /tmp/work/dump-after ||
        fail "the owners' data changed across a power cut during a backup"
fi
[ -f $DATA/spool/.session.toml ] && fail "the journal is still there"
ls -a $DATA/c/private | grep -q '\.staging$' && fail "a staging folder is left"
ls -a $DATA/spool | grep -q '^\.commit-' && fail "an owner's commit journal is left"
find $DATA/spool -name '*.part' | grep -q . && fail "a partial unit is left"
sets=0
for d in $DATA/spool/*/; do
    s=$(basename "$d"); [ "$s" = requests ] && continue
    [ -f "$d/manifest.toml" ] || fail "set $s has no manifest after recovery"
    bk_tree
    bk_copy_set "$s" $HOST/$s || fail "copying $s out failed"
    verify_set $HOST/$s || fail "set $s left by the cut: $VERIFY_ERR"
    sets=$((sets + 1))
done

if [ "$mode" = restore ]; then
    SET=$(cat $DATA/base-set)
else
    bk_run 'scope = "full"\ntype = "base"\nlabel = "after"\n' ||
        fail "a backup after the power cut did not finish: $(bk_field last_error)"
    SET=$BK_SET
    [ -z "$(bk_field last_error)" ] || fail "backup after the cut: $(bk_field last_error)"
fi
owners_destroy || fail "ref-data destroy failed"
bk_restore "$SET" || fail "restore after the cut: $BK_WHY"
owners_dump /tmp/work/dump-restored || fail "dump failed"
dumps_equal $DATA/dump-before /tmp/work/dump-restored ||
    fail "restored data differs from the data before the cut"
note "$mode cut: interrupted $journal, passive cage $cage${owners:+, owners: $owners}, complete sets left $sets, status $state"
stop_daemon
sync
umount $DATA || fail "cannot unmount /dev/vda"
pass
