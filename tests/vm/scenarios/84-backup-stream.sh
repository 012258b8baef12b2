#!/bin/sh
# Scenario backup-stream: a full backup copied out while it is still being captured, with
# stock libmtp tools only. The passive app holds 48 MiB that do not compress (like
# videos), so its unit is stored uncompressed, is listed with its final size as soon as
# its capture starts and is read with mtp-getfile as the engine writes it. Every file of
# the set is fetched as soon as mtp-filetree lists it, until manifest.toml (written last)
# is on the host; the set must then verify against the manifest's SHA-256, and at least
# the growing unit must have been copied before the backup ended.
# timeout: 600
. /scenarios/lib.sh
. /scenarios/backup-lib.sh
owners_install_seed || fail "reference owners could not be installed"
patternfile "$OWNERS_DRIVE/private/20000020/docs/video.bin" $((48 * 1048576))
start_daemon
bk_init || fail "no Backup storage"
echo "    --- report (step, result, bytes over USB, seconds)" | tee -a "$BK_REPORT"

t=$(now)
mkdir -p /tmp/work/req
printf 'scope = "full"\ntype = "base"\nlabel = "stream"\n' > /tmp/work/req/backup.request
bk_request /tmp/work/req/backup.request || fail "backup.request refused"
bk_stream_set /tmp/work/set-stream || fail "copying the set while it was captured failed"
verify_set /tmp/work/set-stream || fail "streamed set: $VERIFY_ERR"
[ "$BK_EARLY" -ge 1 ] || fail "no file was copied before the backup ended"
report "full backup copied while captured ($BK_EARLY of $BK_FILES files early), SHA-256 ok" ok "$BK_BYTES" "$(elapsed $t)"

# The incompressible passive unit is stored uncompressed (LZ4 does not pay), the
# compressible ones stay compressed.
awk '/^\[\[units\]\]/ { u = 1; s = ""; k = "" } u && /^sid = / { s = $3 } u && /^kind = / { k = $3 }
     u && /^compressed = / { print s, k, $3 }' /tmp/work/set-stream/manifest.toml | tr -d '"' > /tmp/work/compression.txt
cat /tmp/work/compression.txt >> "$LOG"
grep -qx '20000020 passive-base false' /tmp/work/compression.txt || fail "the video unit was compressed"
grep -q ' true$' /tmp/work/compression.txt || fail "no unit was compressed"

bk_wait || fail "the backup did not end"
[ "$BK_STATE" = done ] || fail "backup ended $BK_STATE: $(bk_field last_error)"
[ -z "$(bk_field last_error)" ] || fail "backup: $(bk_field last_error)"
pass
