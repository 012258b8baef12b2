#!/bin/sh
# Scenario unplug: "pull the cable" (write "" to the gadget's configfs UDC file) in the
# middle of a 128 MiB mtp-getfile and then of a 128 MiB mtp-sendfile, plug it in again
# (write the UDC name back); the daemon must survive, re-enumerate and serve working
# transfers (cmp) each time.
# timeout: 600
. /scenarios/lib.sh
SIZE=$((128 << 20))
patternfile $STORE/big.bin $SIZE
randfile $STORE/small.bin 300000
start_daemon
udc_file=$(gadget_udc_file); udc=$(cat "$udc_file" 2>/dev/null)
[ -n "$udc" ] || fail "no bound gadget in configfs"
say "gadget UDC file $udc_file = $udc"

# unplug TOOL-PID OUTFILE WHAT: unbind after 4 MiB, wait for the tool to give up, rebind.
unplug() {
    wait_progress "$2" "$1" $((4 << 20)) || fail "$3 did not get going (or finished too early)"
    echo "" > "$udc_file" || fail "cannot unbind the UDC"
    wait_gone 10 || fail "host still sees the device 10 s after the unbind"
    wait_exit "$1" 60 || { kill -KILL "$1"; fail "$3 still hangs 60 s after the unplug"; }
    note "$3 unplugged at $(progress_of "$2") of $SIZE bytes"
    kill -0 "$DAEMON_PID" 2>/dev/null || fail "daemon died on the unplug during $3"
    sleep 0.5
    echo "$udc" > "$udc_file" || fail "cannot bind the UDC again"
    wait_enumerated 20 || fail "no re-enumeration after the replug"
}
# works: a device that answers after the replug
works() {
    run mtp-detect
    out_has "^Device info:" || fail "mtp-detect after the replug ($1) fails"
    getfile "$(mtp_id small.bin)" /tmp/work/small.bin || fail "mtp-getfile after the replug ($1) failed"
    same $STORE/small.bin /tmp/work/small.bin || fail "small file differs after the replug ($1)"
    rm -f /tmp/work/small.bin
}

id=$(mtp_id big.bin)
[ -n "$id" ] || fail "big.bin not listed"
mtp-getfile "$id" /tmp/work/partial.bin > /tmp/work/bg.out 2>&1 &
unplug $! /tmp/work/bg.out mtp-getfile
rm -f /tmp/work/partial.bin
works getfile

ln -s $STORE/big.bin /tmp/work/upload.bin
mtp-sendfile /tmp/work/upload.bin upload.bin > /tmp/work/bg.out 2>&1 &
unplug $! /tmp/work/bg.out mtp-sendfile
works sendfile
randfile /tmp/work/after.bin 400000
sendfile /tmp/work/after.bin || fail "mtp-sendfile after the replug failed"
same /tmp/work/after.bin $STORE/after.bin || fail "file sent after the replug differs"
pass
