#!/bin/sh
# Scenario lifecycle: SIGTERM unbinds and removes the gadget cleanly (no configfs gadget,
# no FunctionFS mount left, host sees the device go); after a SIGKILL the stale gadget
# is cleaned up by the next start, which enumerates and answers mtp-detect.
# timeout: 120
. /scenarios/lib.sh
CFG=/sys/kernel/config/usb_gadget
start_daemon
run mtp-detect; out_has "^Device info:" || fail "mtp-detect failed"
pid=$DAEMON_PID
kill -TERM $pid
wait_exit $pid 10 || fail "daemon still running 10 s after SIGTERM"
DAEMON_PID=
wait_gone 10 || fail "host still sees the device after SIGTERM"
[ -z "$(ls $CFG)" ] || fail "gadget left in configfs after SIGTERM: $(ls $CFG)"
grep -q functionfs /proc/mounts && fail "FunctionFS still mounted after SIGTERM"

start_daemon
kill -KILL $DAEMON_PID; wait_exit $DAEMON_PID 5; DAEMON_PID=
wait_gone 10 || fail "host still sees the device after SIGKILL"
say "after SIGKILL: configfs [$(ls $CFG | tr '\n' ' ')] functionfs mounts $(grep -c functionfs /proc/mounts)"
start_daemon
run mtp-detect; out_has "^Device info:" || fail "mtp-detect after a restart over a stale gadget failed"
pass
