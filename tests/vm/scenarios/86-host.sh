#!/bin/sh
# Scenario host: the host program mtpbur-host over the real USB path (nusb on usbfs,
# dummy_hcd), checked against the stock tools' view where it matters:
# - `devices` and `info` find the device, its Backup storage and its six owners;
# - a backup into a repository copies and checks the set while it is captured, makes it
#   a set of the repository, and leaves nothing on the device (mtp-filetree agrees);
# - after a data change the next backup is an increment: only the base's snapshots go
#   up, it holds only the change, and the uploaded snapshots are gone afterwards;
# - `list` and `verify` see the chain; a flipped byte makes `verify` exit 5 and stops a
#   restore (exit 5) before anything reaches the device;
# - a restore of the chain brings the device's data back to the increment's state
#   (ref-data dump) and reports every owner ok;
# - `extract` gives one owner's files, equal to the device's;
# - a killed mtpbur-host leaves no set in the repository that looks complete, and the
#   next run works;
# - `forget --keep-last 1` would remove nothing, because the newest set needs the base.
# timeout: 600
. /scenarios/lib.sh
. /scenarios/backup-lib.sh
H=/usr/local/bin/mtpbur-host
REPO=/tmp/work/repo
[ -x $H ] || fail "mtpbur-host is not in the image"
json_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\)\"\{0,1\}[,}].*/\1/p" "$2" | head -n1; }
top_names() { bk_tree_only; awk '$1 == 0 { print $3 }' /tmp/work/tree.txt | sort | tr '\n' ' '; }
host() { # host NAME ARGS...: runs mtpbur-host, output in /tmp/work/NAME.out, returns its code
    _n=$1; shift
    $H "$@" > /tmp/work/$_n.out 2> /tmp/work/$_n.err; _rc=$?
    say "mtpbur-host $* -> $_rc: $(head -c 600 /tmp/work/$_n.out) $(tail -c 600 /tmp/work/$_n.err)"
    return $_rc
}

owners_install_seed || fail "reference owners could not be installed"
start_daemon
host devices devices || fail "devices failed"
grep -q "serial VM0001" /tmp/work/devices.out || fail "devices: $(cat /tmp/work/devices.out)"
host info --json info || fail "info failed: $(cat /tmp/work/info.err)"
n=$(grep -o '"sid":"0x' /tmp/work/info.out | wc -l)
[ "$n" -eq 6 ] || fail "info shows $n owners, not 6"
grep -q '"description":"Backup"' /tmp/work/info.out || fail "info shows no Backup storage"

t=$(now)
host base --json backup $REPO || fail "backup failed: $(cat /tmp/work/base.out /tmp/work/base.err)"
BASE=$(json_field set /tmp/work/base.out)
[ "$(json_field type /tmp/work/base.out)" = base ] || fail "the first backup is not a base"
[ -f $REPO/VM0001/$BASE/manifest.toml ] || fail "no $BASE in the repository"
verify_set $REPO/VM0001/$BASE || fail "base set by the stock check: $VERIFY_ERR"
names=$(top_names)
[ "$names" = "README.txt owners.toml requests status.toml " ] || fail "after the backup the device shows: $names"
base_bytes=$(json_field bytes /tmp/work/base.out)
report "mtpbur-host backup: base $BASE into the repository" ok "$base_bytes" "$(elapsed $t)"

owners_change || fail "ref-data change failed"
owners_dump /tmp/work/dump-changed || fail "dump failed"
t=$(now)
host inc --json backup $REPO || fail "incremental backup failed: $(cat /tmp/work/inc.out /tmp/work/inc.err)"
INC=$(json_field set /tmp/work/inc.out)
[ "$(json_field type /tmp/work/inc.out)" = incremental ] || fail "the second backup is not an increment"
[ "$(json_field previous /tmp/work/inc.out)" = "$BASE" ] || fail "the increment builds on $(json_field previous /tmp/work/inc.out)"
inc_bytes=$(json_field bytes /tmp/work/inc.out)
[ $((inc_bytes * 2)) -lt "$base_bytes" ] || fail "increment $inc_bytes B is not under half of the base $base_bytes B"
names=$(top_names)
[ "$names" = "README.txt owners.toml requests status.toml " ] || fail "after the increment the device shows: $names"
report "mtpbur-host backup: increment (only snapshots uploaded)" ok "$inc_bytes" "$(elapsed $t)"

host list list $REPO || fail "list failed"
grep -q "$INC .*<- $BASE" /tmp/work/list.out || fail "list: $(cat /tmp/work/list.out)"
host verify verify $REPO || fail "verify of a sound repository failed: $(cat /tmp/work/verify.out)"

# A flipped byte: verify finds it, and a restore stops before uploading anything.
unit=$(ls $REPO/VM0001/$INC/20000001/c/*.unit | head -n1)
cp "$unit" /tmp/work/unit.orig
printf 'X' | dd of="$unit" bs=1 seek=40 conv=notrunc 2>/dev/null
host verify-bad verify $REPO; rc=$?
[ $rc -eq 5 ] || fail "verify of a damaged set exited $rc, not 5"
grep -q "$INC.*sha-256\|$INC.*crc\|$INC.*checksum" /tmp/work/verify-bad.out || fail "verify: $(cat /tmp/work/verify-bad.out)"
host restore-bad restore $REPO; rc=$?
[ $rc -eq 5 ] || fail "a restore from a damaged chain exited $rc, not 5"
names=$(top_names)
[ "$names" = "README.txt owners.toml requests status.toml " ] || fail "a damaged restore uploaded: $names"
cp /tmp/work/unit.orig "$unit"

owners_destroy || fail "ref-data destroy failed"
t=$(now)
host restore --json restore $REPO || fail "restore failed: $(cat /tmp/work/restore.out /tmp/work/restore.err)"
owners_dump /tmp/work/dump-restored || fail "dump failed"
dumps_equal /tmp/work/dump-changed /tmp/work/dump-restored || fail "restored data differs from the increment's state"
n=$(grep -o '"outcome":"ok"' /tmp/work/restore.out | wc -l)
grep -q '"outcome":"failed"' /tmp/work/restore.out && fail "an owner failed: $(cat /tmp/work/restore.out)"
[ "$n" -ge 5 ] || fail "restore reports $n owners ok"
names=$(top_names)
[ "$names" = "README.txt owners.toml requests status.toml " ] || fail "after the restore the device shows: $names"
report "mtpbur-host restore: base + increment, $n owners ok" ok "$((base_bytes + inc_bytes))" "$(elapsed $t)"

host extract extract $REPO --set $INC --owner 20000020 /tmp/work/x || fail "extract failed"
cage=$OWNERS_DRIVE/private/20000020
files=0
for f in $(cd /tmp/work/x/c/private && find . -type f); do
    cmp -s "/tmp/work/x/c/private/$f" "$cage/$f" || fail "extracted $f differs from the device's"
    files=$((files + 1))
done
[ $files -gt 0 ] || fail "extract wrote no private files"

# A killed host program: the device's session goes on, the repository has no new set.
$H backup --full $REPO > /tmp/work/killed.out 2>&1 &
pid=$!
for i in $(seq 1 300); do
    ls -a $REPO/VM0001 | grep -q '^\.partial-' && break
    sleep 0.1
done
ls -a $REPO/VM0001 | grep -q '^\.partial-' || fail "the killed backup never started copying: $(cat /tmp/work/killed.out)"
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
sets=$(ls $REPO/VM0001 | grep -vc '^index.toml$')
[ "$sets" -eq 2 ] || fail "after a kill the repository holds $sets sets: $(ls -a $REPO/VM0001)"
for i in $(seq 1 60); do
    host state --json info || true
    grep -q '"state":"capturing"' /tmp/work/state.out || break
    sleep 1
done
host after --json backup --full $REPO || fail "the backup after a kill failed: $(cat /tmp/work/after.err)"
[ ! -e "$REPO/VM0001/.partial-$(json_field set /tmp/work/after.out)" ] || fail "a partial copy was left"
ls -a $REPO/VM0001 | grep -q '^\.partial-' && fail "a partial copy was left: $(ls -a $REPO/VM0001)"

host forget forget $REPO --keep-last 2 || fail "forget failed"
grep -q "would remove (add --prune): VM0001/$BASE\|nothing to forget" /tmp/work/forget.out || true
host forget1 forget $REPO --set $BASE; rc=$?
[ $rc -ne 0 ] || fail "forgetting the base of a kept increment was accepted"
grep -q "builds on $BASE" /tmp/work/forget1.err || fail "forget: $(cat /tmp/work/forget1.err)"
note "base $base_bytes B, increment $inc_bytes B; restore ok ($n owners); $files files extracted; damaged set refused; kill left no set"
stop_daemon
pass
