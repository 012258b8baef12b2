#!/bin/sh
# Scenario unplug: "pull the cable" (write "" to the gadget's configfs UDC file) in the
# middle of a 128 MiB mtp-getfile and then of a 128 MiB mtp-sendfile, plug it in again
# (write the UDC name back); the daemon must survive, re-enumerate and serve working
# transfers (compared) each time.
# timeout: 600
. /scenarios/lib.sh
SIZE=$((128 << 20))
TOOL_TIMEOUT=120   # a tool still running this long after the unplug hangs
patternfile $STORE/big.bin $SIZE
randfile $STORE/small.bin 300000
start_daemon
udc_file=$(gadget_udc_file); udc=$(cat "$udc_file" 2>/dev/null)
[ -n "$udc" ] || fail "no bound gadget in configfs"
say "gadget UDC file $udc_file = $udc"

# replug WHAT: checks after the unplugged transfer by WHAT, then bind the UDC again.
replug() {
    [ -f /tmp/work/fired ] || fail "$1 did not get going or ended before 4 MiB"
    interrupted /tmp/work/bg.out || fail "$1 completed before the unplug (make the file bigger)"
    awk -v s="$TOOL_SECS" -v t=$TOOL_TIMEOUT 'BEGIN { exit !(s < t - 1) }' ||
        fail "$1 still hung $TOOL_TIMEOUT s after the unplug"
    note "$1 unplugged at $(cat /tmp/work/fired) of $(progress_total /tmp/work/bg.out) bytes; tool gave up after $TOOL_SECS s"
    wait_gone 10 || fail "host still sees the device 10 s after the unbind"
    kill -0 "$DAEMON_PID" 2>/dev/null || fail "daemon died on the unplug during $1"
    sleep 0.5
    echo "$udc" > "$udc_file" || fail "cannot bind the UDC again"
    wait_enumerated 20 || fail "no re-enumeration after the replug"
}
# works WHAT: a device that answers after the replug
works() {
    run mtp-detect
    out_has "^Device info:" || fail "mtp-detect after the replug ($1) fails"
    getfile "$(mtp_id small.bin)" /tmp/work/small.bin || fail "mtp-getfile after the replug ($1) failed"
    same $STORE/small.bin /tmp/work/small.bin || fail "small file differs after the replug ($1)"
    rm -f /tmp/work/small.bin
}

id=$(mtp_id big.bin)
[ -n "$id" ] || fail "big.bin not listed"
during_transfer $((4 << 20)) 'echo "" > $udc_file' /tmp/work/bg.out mtp-getfile "$id" /tmp/work/partial.bin
rm -f /tmp/work/partial.bin
replug mtp-getfile
works getfile

ln -s $STORE/big.bin /tmp/work/upload.bin
during_transfer $((4 << 20)) 'echo "" > $udc_file' /tmp/work/bg.out mtp-sendfile /tmp/work/upload.bin upload.bin
replug mtp-sendfile
works sendfile
randfile /tmp/work/after.bin 400000
sendfile /tmp/work/after.bin || fail "mtp-sendfile after the replug failed"
same /tmp/work/after.bin $STORE/after.bin || fail "file sent after the replug differs"
pass
