#!/bin/sh
# Scenario backup-partial: a partial backup of one owner (the record store) holds only
# that owner; after every owner's data changes, a partial restore of that owner brings
# back exactly its data and leaves the others' changed data alone.
# timeout: 600
. /scenarios/lib.sh
. /scenarios/backup-lib.sh
RS=20000001
owners_install_seed || fail "reference owners could not be installed"
owners_dump /tmp/work/dump-seeded || fail "dump failed"
start_daemon
bk_init || fail "no Backup storage"

t=$(now)
bk_run "scope = \"partial\"\ntype = \"base\"\nowners = [\"0x$RS\"]\nlabel = \"rs\"\n" ||
    fail "partial backup did not finish: $(bk_field last_error)"
SET=$BK_SET
[ "$(bk_field owners_total)" = 1 ] || fail "partial backup covered $(bk_field owners_total) owners"
bk_copy_set "$SET" /tmp/work/host/$SET || fail "copying the partial set failed"
verify_set /tmp/work/host/$SET || fail "partial set: $VERIFY_ERR"
others=$(find /tmp/work/host/$SET -mindepth 1 -maxdepth 1 -type d ! -name $RS | wc -l)
[ "$others" -eq 0 ] || fail "the partial set holds $others other owners"
[ -d /tmp/work/host/$SET/$RS ] || fail "the partial set lacks owner $RS"
report "partial backup of owner 0x$RS only ($SET)" ok $BK_BYTES "$(elapsed $t)"

owners_change || fail "ref-data change failed"
owners_dump /tmp/work/dump-changed || fail "dump failed"

t=$(now)
printf 'source = "%s"\nscope = "partial"\nowners = ["0x%s"]\n' "$SET" "$RS" > /tmp/work/req/restore.request
bk_request /tmp/work/req/restore.request || fail "restore.request refused"
bk_wait || fail "partial restore did not finish"
[ "$BK_STATE" = done ] || fail "partial restore failed: $(bk_field last_error)"
owners_dump /tmp/work/dump-restored || fail "dump failed"
# The record store is back to its seeded records; every other owner keeps its change.
grep " $RS " /tmp/work/dump-seeded > /tmp/work/expect-rs
grep " $RS " /tmp/work/dump-restored > /tmp/work/got-rs
grep -v " $RS " /tmp/work/dump-changed > /tmp/work/expect-others
grep -v " $RS " /tmp/work/dump-restored > /tmp/work/got-others
cmp -s /tmp/work/expect-rs /tmp/work/got-rs || fail "owner $RS was not restored to the backed-up state"
grep " $RS " /tmp/work/dump-changed > /tmp/work/changed-rs
cmp -s /tmp/work/expect-rs /tmp/work/changed-rs &&
    fail "the change did not touch owner $RS (the test would prove nothing)"
cmp -s /tmp/work/expect-others /tmp/work/got-others || fail "a partial restore touched other owners"
report "partial restore of owner 0x$RS; other owners untouched" ok "$(bk_field bytes_done)" "$(elapsed $t)"
pass
