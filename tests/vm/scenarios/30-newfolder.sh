#!/bin/sh
# Scenario newfolder: mtp-newfolder creates a folder in the root and one inside it; both
# appear on the device side and in mtp-folders.
# timeout: 120
. /scenarios/lib.sh
start_daemon
run mtp-newfolder made-by-host 0 0
out_has "New folder created with ID: [1-9]" || fail "mtp-newfolder in the root failed"
[ -d $STORE/made-by-host ] || fail "no directory $STORE/made-by-host on the device side"
parent=$(mtp_id made-by-host)
[ -n "$parent" ] || fail "mtp-folders does not list made-by-host"
run mtp-newfolder child "$parent" 0
out_has "New folder created with ID: [1-9]" || fail "mtp-newfolder inside made-by-host failed"
[ -d $STORE/made-by-host/child ] || fail "no directory made-by-host/child on the device side"
[ -n "$(mtp_id child)" ] || fail "mtp-folders does not list child"
pass
