#!/bin/sh
# Scenario backup-refusals: bad input from the host is refused with a response code and
# the reason in status.toml, and nothing changes: a garbage backup.request, a partial
# backup naming an unknown SID, a restore naming a missing folder, and a restore of an
# uploaded set with one flipped byte in a unit (refused after verification, before any
# owner is touched). The service keeps working: a good backup follows.
# timeout: 600
. /scenarios/lib.sh
. /scenarios/backup-lib.sh
owners_install_seed || fail "reference owners could not be installed"
start_daemon
bk_init || fail "no Backup storage"
mkdir -p /tmp/work/req
# refused REQUEST-FILE WORDS: mtp-sendfile of the file fails, state = failed, and the
# reason in status.toml contains WORDS (an extended regex).
refused() {
    bk_request "$1" && fail "$(basename "$1") was accepted: $(cat "$1")"
    out_has "Invalid Parameter|201d|Error" || fail "no error response for $(basename "$1")"
    bk_status || fail "status.toml unreadable"
    [ "$(bk_field state)" = failed ] || fail "state is $(bk_field state) after a refused request"
    bk_field last_error | grep -Eq "$2" || fail "last_error '$(bk_field last_error)' lacks /$2/"
    say "refused as expected: $(bk_field last_error)"
}

t=$(now)
printf 'this is [not toml\n' > /tmp/work/req/backup.request
refused /tmp/work/req/backup.request "backup.request: line 1"
printf 'scope = "full"\ntype = "sideways"\n' > /tmp/work/req/backup.request
refused /tmp/work/req/backup.request 'line 2: field `type`'
bk_tree
[ -z "$(awk '$1 == 1 && $3 == "backup.request"' /tmp/work/tree.txt)" ] ||
    fail "a refused request was left in requests/"
report "garbage backup.request refused, reason in status.toml" ok 0 "$(elapsed $t)"

t=$(now)
printf 'scope = "partial"\ntype = "base"\nowners = ["0x0badf00d"]\n' > /tmp/work/req/backup.request
refused /tmp/work/req/backup.request "0x0badf00d not registered"
report "partial backup of an unknown SID refused" ok 0 "$(elapsed $t)"

t=$(now)
printf 'source = "20200101T000000Z"\nscope = "full"\n' > /tmp/work/req/restore.request
refused /tmp/work/req/restore.request 'no folder .?20200101T000000Z'
report "restore of a missing folder refused" ok 0 "$(elapsed $t)"

# A good backup, copied out; one byte of one unit flipped on the host; uploaded.
t=$(now)
bk_run 'scope = "full"\ntype = "base"\n' || fail "backup after refusals failed: $(bk_field last_error)"
SET=$BK_SET
bk_copy_set "$SET" /tmp/work/host/tampered || fail "copy out failed"
unit=$(find /tmp/work/host/tampered -name '*.unit' -size +1k | sort | head -n1)
[ -n "$unit" ] || fail "no unit to tamper with"
size=$(size_of "$unit")
printf '\377' | dd of="$unit" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
verify_set /tmp/work/host/tampered && fail "the flipped byte went unnoticed by verify_set"
bk_upload_set /tmp/work/host/tampered tampered || fail "upload of the tampered set failed"
owners_change || fail "ref-data change failed"
owners_dump /tmp/work/dump-before || fail "dump failed"
printf 'source = "tampered"\nscope = "full"\n' > /tmp/work/req/restore.request
bk_request /tmp/work/req/restore.request || fail "restore.request of the tampered set not accepted"
bk_wait || fail "restore of the tampered set did not end"
[ "$BK_STATE" = failed ] || fail "restore of a tampered set ended $BK_STATE"
bk_field last_error | grep -q "does not verify" || fail "reason: $(bk_field last_error)"
bk_field last_error | grep -Eq "[0-9a-f]{8}:c:[a-z-]+: (sha-256|block checksum) mismatch" ||
    fail "reason does not name the damaged unit: $(bk_field last_error)"
owners_dump /tmp/work/dump-after || fail "dump failed"
cmp -s /tmp/work/dump-before /tmp/work/dump-after || fail "a refused restore changed the device's data"
report "tampered set refused after verification; data untouched" ok $BK_BYTES "$(elapsed $t)"

t=$(now)
bk_run 'scope = "full"\ntype = "base"\nlabel = "after"\n' || fail "the service did not recover: $(bk_field last_error)"
report "a good backup after the refusals" ok "$(bk_field bytes_done)" "$(elapsed $t)"
pass
