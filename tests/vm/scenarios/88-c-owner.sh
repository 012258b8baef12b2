#!/bin/sh
# Scenario c-owner: the C reference owner (c-journal, data-owners/c/reference/c-journal.c,
# linked statically against libmtpbur_owner) takes part in backup and restore over USB as
# the Rust reference owners do, running as a uid of its own (10007):
# - installed beside the six reference owners, owners.toml lists it;
# - a base and an increment with mtpbur-host: the increment carries only the appended
#   lines, not the journal;
# - after every owner's data is destroyed, a restore of the chain brings back the
#   increment's journal and the other owners' data, every owner ok;
# - its watcher thread saw each operation's mode (it confirms readiness, so without it
#   the engine would have timed the owner out) and Normal after it.
# timeout: 600
. /scenarios/lib.sh
. /scenarios/backup-lib.sh
H=/usr/local/bin/mtpbur-host
REPO=/tmp/work/repo
CAGE=$OWNERS_DRIVE/private/20000060
[ -x /usr/lib/mtpbur/owners/c-journal ] || fail "c-journal is not in the image"
[ -x $H ] || fail "mtpbur-host is not in the image"
unit_bytes() { cat "$1"/20000060/c/*.unit | wc -c; }

owners_install_seed || fail "reference owners could not be installed"
mkdir -p $CAGE
cp /usr/share/mtpbur/owners/c-journal/backup_registration.xml $CAGE/ || fail "no c-journal registration in the image"
# random bytes as hex lines: a journal that LZ4 cannot shrink much (about 120 KB)
head -c 40000 /dev/urandom | od -An -tx1 > $CAGE/journal.log
chown -R 10007:10007 $CAGE && chmod 700 $CAGE
start_daemon

$H info > /tmp/work/info.out 2>&1 || fail "info failed: $(cat /tmp/work/info.out)"
grep -q 20000060 /tmp/work/info.out || fail "owners.toml does not list c-journal: $(cat /tmp/work/info.out)"

t=$(now)
$H backup $REPO > /tmp/work/base.out 2>&1 || fail "base backup failed: $(cat /tmp/work/base.out)"
BASE=$(ls $REPO/VM0001 | grep -v index.toml | sort | tail -n1)
base=$(unit_bytes $REPO/VM0001/$BASE)
[ "$base" -gt 30000 ] || fail "c-journal's base units hold $base B"
report "c-journal (C owner) base backup" ok "$base" "$(elapsed $t)"

i=0
while [ $i -lt 20 ]; do echo "appended $i"; i=$((i + 1)); done >> $CAGE/journal.log
owners_change || fail "ref-data change failed"
cp $CAGE/journal.log /tmp/work/journal.expected
owners_dump /tmp/work/dump-changed || fail "dump failed"
t=$(now)
$H backup $REPO > /tmp/work/inc.out 2>&1 || fail "incremental backup failed: $(cat /tmp/work/inc.out)"
INC=$(ls $REPO/VM0001 | grep -v index.toml | sort | tail -n1)
[ "$INC" != "$BASE" ] || fail "no increment in the repository"
grep -q "previous = \"$BASE\"" $REPO/VM0001/$INC/manifest.toml || fail "$INC does not build on $BASE"
inc=$(unit_bytes $REPO/VM0001/$INC)
[ $((inc * 10)) -lt "$base" ] || fail "c-journal's increment units hold $inc B against the base's $base B"
report "c-journal (C owner) increment: only the appended lines" ok "$inc" "$(elapsed $t)"

owners_destroy || fail "ref-data destroy failed"
echo lost > $CAGE/journal.log
t=$(now)
$H restore $REPO > /tmp/work/restore.out 2>&1 || fail "restore failed: $(cat /tmp/work/restore.out)"
grep -q "20000060: ok" /tmp/work/restore.out || fail "c-journal not restored: $(cat /tmp/work/restore.out)"
grep -q FAILED /tmp/work/restore.out && fail "an owner failed: $(cat /tmp/work/restore.out)"
cmp -s $CAGE/journal.log /tmp/work/journal.expected || fail "restored journal differs from the increment's"
owners_dump /tmp/work/dump-restored || fail "dump failed"
dumps_equal /tmp/work/dump-changed /tmp/work/dump-restored || fail "the Rust owners' data differs after the restore"
[ ! -e $CAGE/journal.log.restore ] || fail "c-journal left its staged file"
[ "$(stat -c %u $CAGE/journal.log)" = 10007 ] || fail "the restored journal is not the owner's"
report "c-journal (C owner) restore of base + increment" ok "$((base + inc))" "$(elapsed $t)"

modes=$(cat $CAGE/modes.log)
for m in "part=2 inc=256" "part=2 inc=512" "part=8 inc=0" "part=1 inc=0"; do
    echo "$modes" | grep -q "^$m " || fail "c-journal's watcher never saw $m: $modes"
done
note "base $base B, increment $inc B, journal restored, other owners equal, modes seen"
stop_daemon
pass
