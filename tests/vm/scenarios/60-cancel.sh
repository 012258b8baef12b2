#!/bin/sh
# Scenario cancel: a transfer aborted by the host is followed by working ones.
#   1. mtp-getfile of a 128 MiB file, interrupted (SIGINT) after 4 MiB;
#   2. a small and the full 128 MiB mtp-getfile must then work (compared);
#   3. mtp-sendfile of 128 MiB killed (SIGKILL) after 4 MiB;
#   4. a small mtp-sendfile + mtp-getfile round trip must then work (compared).
# timeout: 600
. /scenarios/lib.sh
SIZE=$((128 << 20))
patternfile $STORE/big.bin $SIZE
randfile $STORE/small.bin 300000
start_daemon
id=$(mtp_id big.bin)
[ -n "$id" ] || fail "big.bin not listed"

during_transfer $((4 << 20)) 'kill -INT $TOOL_PID' /tmp/work/bg.out mtp-getfile "$id" /tmp/work/partial.bin
[ -f /tmp/work/fired ] || fail "mtp-getfile did not get going or ended before 4 MiB"
interrupted /tmp/work/bg.out || fail "mtp-getfile completed before it could be interrupted (make the file bigger)"
note "mtp-getfile interrupted (SIGINT) at $(cat /tmp/work/fired) of $(progress_total /tmp/work/bg.out) bytes"

getfile "$(mtp_id small.bin)" /tmp/work/small.bin || fail "mtp-getfile after the cancelled transfer failed"
same $STORE/small.bin /tmp/work/small.bin || fail "small file differs after the cancelled transfer"
getfile "$id" /tmp/work/full.bin || fail "full mtp-getfile after the cancelled transfer failed"
same $STORE/big.bin /tmp/work/full.bin || fail "big file differs after the cancelled transfer"
rm -f /tmp/work/full.bin /tmp/work/partial.bin

ln -s $STORE/big.bin /tmp/work/upload.bin
during_transfer $((4 << 20)) 'kill -KILL $TOOL_PID' /tmp/work/bg.out mtp-sendfile /tmp/work/upload.bin upload.bin
[ -f /tmp/work/fired ] || fail "mtp-sendfile did not get going or ended before 4 MiB"
interrupted /tmp/work/bg.out || fail "mtp-sendfile completed before it could be killed (make the file bigger)"
note "mtp-sendfile killed (SIGKILL) at $(cat /tmp/work/fired) of $(progress_total /tmp/work/bg.out) bytes"

randfile /tmp/work/after.bin 400000
sendfile /tmp/work/after.bin || fail "mtp-sendfile after the killed upload failed"
same /tmp/work/after.bin $STORE/after.bin || fail "file sent after the killed upload differs"
getfile "$(mtp_id after.bin)" /tmp/work/after-back.bin || fail "mtp-getfile after the killed upload failed"
same /tmp/work/after.bin /tmp/work/after-back.bin || fail "round trip after the killed upload differs"
pass
