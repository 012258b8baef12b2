#!/bin/sh
# Scenario backup: the product's story with stock libmtp tools only. A full base backup
# of the reference owners is copied out with mtp-getfile and checked against the
# manifest's SHA-256 on the host and deleted from the device; data changes on the
# device; the host uploads only the base's manifest and snapshot units, and an
# incremental backup against them holds only the change; the device's data is destroyed
# and both
# sets are deleted from the device; the host uploads them again (mtp-newfolder +
# mtp-sendfile) and restores base + increment; the device's data then equals the state
# at the incremental backup (records, keys, database rows, files, public files: the
# ref-data dump). Prints a readable report (the demo shows it).
# timeout: 900
. /scenarios/lib.sh
. /scenarios/backup-lib.sh
RS=20000001   # ref-record-store (active, real increments)
HOST=/tmp/work/host
owners_install_seed || fail "reference owners could not be installed"
owners_dump /tmp/work/dump-seeded || fail "dump failed"
start_daemon
bk_init || fail "no Backup storage"
echo "    --- report (step, result, bytes over USB, seconds)" | tee -a "$BK_REPORT"

t=$(now)
bk_run 'scope = "full"\ntype = "base"\nlabel = "base"\n' ||
    fail "full base backup did not finish: $(bk_field last_error)"
BASE=$BK_SET
[ -z "$(bk_field last_error)" ] || fail "base backup: $(bk_field last_error)"
report "full base backup of $(bk_field owners_total) owners ($BASE)" ok "$(bk_field bytes_done)" "$(elapsed $t)"

t=$(now)
bk_copy_set "$BASE" $HOST/$BASE || fail "copying the base set out failed"
verify_set $HOST/$BASE || fail "base set on the host: $VERIFY_ERR"
report "base set copied out (mtp-getfile), SHA-256 verified" ok $BK_BYTES "$(elapsed $t)"

t=$(now)
owners_change || fail "ref-data change failed"
owners_dump /tmp/work/dump-changed || fail "dump failed"
cmp -s /tmp/work/dump-seeded /tmp/work/dump-changed && fail "ref-data change changed nothing"
report "device data changed ($(diff /tmp/work/dump-seeded /tmp/work/dump-changed | grep -c '^[-+][^-+]') dump lines)" ok 0 "$(elapsed $t)"

# The device keeps no set: the base goes, and for the increment only its manifest and
# snapshot units come back (docs/host-guide.md, section 4).
t=$(now)
bk_delete "$BASE" || fail "deleting $BASE on the device failed"
rm -rf /tmp/work/snaps
(cd $HOST/$BASE && find . -type f \( -name manifest.toml -o -name '*-snapshot.unit' \)) |
    while read -r f; do
        mkdir -p "/tmp/work/snaps/$(dirname "$f")" && cp "$HOST/$BASE/$f" "/tmp/work/snaps/$f"
    done
bk_upload_set /tmp/work/snaps "$BASE" || fail "uploading the snapshots of $BASE failed"
report "base deleted on the device; its manifest and snapshots uploaded" ok $BK_BYTES "$(elapsed $t)"

t=$(now)
bk_run "scope = \"full\"\ntype = \"incremental\"\nsnapshots = \"$BASE\"\nlabel = \"inc\"\n" ||
    fail "incremental backup did not finish: $(bk_field last_error)"
INC=$BK_SET
report "incremental backup against $BASE ($INC)" ok "$(bk_field bytes_done)" "$(elapsed $t)"
t=$(now)
bk_copy_set "$INC" $HOST/$INC || fail "copying the incremental set out failed"
verify_set $HOST/$INC || fail "incremental set on the host: $VERIFY_ERR"
report "incremental set copied out, SHA-256 verified" ok $BK_BYTES "$(elapsed $t)"
# The increment holds only the change: the record store's increment against its base.
base_rs=$(units_bytes $HOST/$BASE $RS); inc_rs=$(units_bytes $HOST/$INC $RS)
base_all=$(units_bytes $HOST/$BASE); inc_all=$(units_bytes $HOST/$INC)
say "record store units: base $base_rs B, increment $inc_rs B; all units: base $base_all B, increment $inc_all B"
[ "$inc_rs" -gt 0 ] && [ $((inc_rs * 100)) -lt $((base_rs * 10)) ] ||
    fail "record store increment $inc_rs B is not under 10 % of its base $base_rs B"
[ $((inc_all * 100)) -lt $((base_all * 50)) ] ||
    fail "incremental set $inc_all B is not under half of the base $base_all B"
report "increment size: record store $inc_rs / $base_rs B, all units $inc_all / $base_all B" ok 0 0

t=$(now)
owners_destroy || fail "ref-data destroy failed"
owners_dump /tmp/work/dump-destroyed || fail "dump failed"
cmp -s /tmp/work/dump-changed /tmp/work/dump-destroyed && fail "ref-data destroy destroyed nothing"
bk_delete "$BASE" || fail "deleting $BASE on the device failed"
bk_delete "$INC" || fail "deleting $INC on the device failed"
report "device data destroyed, both sets deleted on the device" ok 0 "$(elapsed $t)"

t=$(now)
bk_upload_set $HOST/$BASE "$BASE" || fail "uploading $BASE failed"
up=$BK_BYTES
bk_upload_set $HOST/$INC "$INC" || fail "uploading $INC failed"
report "both sets uploaded again (mtp-newfolder + mtp-sendfile)" ok $((up + BK_BYTES)) "$(elapsed $t)"

t=$(now)
printf 'source = "%s"\nincrements = ["%s"]\nscope = "full"\n' "$BASE" "$INC" > /tmp/work/req/restore.request
bk_request /tmp/work/req/restore.request || fail "restore.request refused: $(bk_status; bk_field last_error)"
bk_wait || fail "restore did not finish"
[ "$BK_STATE" = done ] || fail "restore failed: $(bk_field last_error)"
[ -z "$(bk_field last_error)" ] || fail "restore: $(bk_field last_error)"
owners_dump /tmp/work/dump-restored || fail "dump failed"
dumps_equal /tmp/work/dump-changed /tmp/work/dump-restored ||
    fail "restored data differs from the data at the incremental backup"
report "restore of base + increment: data equals the incremental state" ok "$(bk_field bytes_done)" "$(elapsed $t)"

bk_tree
awk '$3 == "restore-result.toml"' /tmp/work/tree.txt > /tmp/work/result-id
rid=$(cut -d' ' -f2 /tmp/work/result-id | head -n1)
[ -n "$rid" ] || fail "no restore-result.toml in $INC"
getfile "$rid" /tmp/work/restore-result.toml || fail "restore-result.toml unreadable"
cat /tmp/work/restore-result.toml >> "$LOG"
grep -q 'outcome = "failed"' /tmp/work/restore-result.toml && fail "an owner failed: see restore-result.toml"
n=$(grep -c 'outcome = "ok"' /tmp/work/restore-result.toml)
report "restore-result.toml: $n owners ok" ok 0 0
pass
