#!/bin/sh
# Scenario delfile: mtp-delfile removes a file created on the device side and one sent by
# the host; the others stay.
# timeout: 120
. /scenarios/lib.sh
randfile $STORE/keep.txt 100
randfile $STORE/delete-me.txt 200
start_daemon
id=$(mtp_id delete-me.txt)
[ -n "$id" ] || fail "delete-me.txt not listed"
run mtp-delfile -n "$id"
out_has "Failed|Error" && fail "mtp-delfile reported an error"
[ -e $STORE/delete-me.txt ] && fail "delete-me.txt still exists on the device side"
[ -n "$(mtp_id delete-me.txt)" ] && fail "delete-me.txt still listed"
[ -f $STORE/keep.txt ] || fail "keep.txt vanished"
randfile /tmp/work/sent.txt 300
sendfile /tmp/work/sent.txt || fail "mtp-sendfile failed"
id=$(mtp_id sent.txt)
run mtp-delfile -n "$id"
[ -e $STORE/sent.txt ] && fail "sent.txt still exists after mtp-delfile"
pass
