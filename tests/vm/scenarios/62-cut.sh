#!/bin/sh
# Scenario cut: a local user who may write a file cuts it while the host reads it.
# GetObject hands the kernel mapped file pages (mtp/src/mapped.rs): a page past the new
# end would kill the daemon with SIGBUS if the daemon touched it, and makes the kernel's
# copy fail with EFAULT instead. First the file is cut once in the middle of a 128 MiB
# mtp-getfile: the transfer must fail (short data phase, IncompleteTransfer) and the
# device must keep its link. Then the file's length flaps (cut to 0 and grown back, as
# fast as the shell can) under three transfers, which may also hit the window between
# the daemon's length check and the kernel's copy (the note counts both outcomes;
# tests/tests/robustness.rs forces the second). Each time the daemon must live, keep
# its link and serve the next transfer whole.
# timeout: 600
. /scenarios/lib.sh
SIZE=$((128 << 20))
TOOL_TIMEOUT=150
patternfile $STORE/big.bin $SIZE
randfile $STORE/small.bin 300000
start_daemon

# works WHAT: the device answers on the same link and sends a file whole
works() {
    kill -0 "$DAEMON_PID" 2>/dev/null || fail "daemon died when the file was cut ($1)"
    getfile "$(mtp_id small.bin)" /tmp/work/small.bin || fail "mtp-getfile after the cut ($1) failed"
    same $STORE/small.bin /tmp/work/small.bin || fail "small file differs after the cut ($1)"
    rm -f /tmp/work/small.bin
}
lost() { grep -c "endpoint lost" "$DAEMON_LOG"; }

id=$(mtp_id big.bin)
[ -n "$id" ] || fail "big.bin not listed"
lost0=$(lost)
during_transfer $((8 << 20)) "truncate -s 1048576 $STORE/big.bin" /tmp/work/bg.out \
    mtp-getfile "$id" /tmp/work/partial.bin
[ -f /tmp/work/fired ] || fail "mtp-getfile did not get going or ended before 8 MiB"
awk -v s="$TOOL_SECS" -v t=$TOOL_TIMEOUT 'BEGIN { exit !(s < t - 1) }' ||
    fail "mtp-getfile hung after the cut"
[ "$(size_of /tmp/work/partial.bin)" != "$SIZE" ] || ! interrupted /tmp/work/bg.out ||
    fail "a whole file arrived from a file cut to 1 MiB"
note "cut at $(cat /tmp/work/fired) of $SIZE bytes; the tool ended after $TOOL_SECS s"
rm -f /tmp/work/partial.bin
works "cut once"
[ "$(lost)" = "$lost0" ] || fail "the device dropped its link when the file was cut"
grep -q "file shrank while being read\|could not be read" "$DAEMON_LOG" ||
    fail "the daemon did not notice the cut"

# Once a transfer is under way, the length flaps: cut to 0 and grown back as fast as
# the shell can, three transfers in a row.
flap() {
    ( while [ ! -f /tmp/work/stop-flap ]; do
          truncate -s 0 $STORE/big.bin; truncate -s $SIZE $STORE/big.bin
      done ) > /dev/null 2>&1 &
    echo $! > /tmp/work/flap.pid
}
# Stops the flapping loop and waits until it is gone (a slow guest may not have seen the
# flag yet when the next round starts and removes it).
stop_flap() {
    touch /tmp/work/stop-flap
    if [ -f /tmp/work/flap.pid ]; then
        pid=$(cat /tmp/work/flap.pid)
        n=0
        while kill -0 "$pid" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
        kill "$pid" 2>/dev/null || true
        rm -f /tmp/work/flap.pid
    fi
}
for round in 1 2 3; do
    rm -f /tmp/work/stop-flap
    patternfile $STORE/big.bin $SIZE
    id=$(mtp_id big.bin)
    [ -n "$id" ] || fail "big.bin not listed again"
    during_transfer $((4 << 20)) flap /tmp/work/bg.out mtp-getfile "$id" /tmp/work/partial.bin
    stop_flap
    [ -f /tmp/work/fired ] || fail "mtp-getfile did not get going before the flapping (round $round)"
    rm -f /tmp/work/partial.bin
    works "flapping length, round $round"
done
faults=$(grep -c "could not be read" "$DAEMON_LOG")
shrank=$(grep -c "file shrank while being read" "$DAEMON_LOG")
note "3 transfers under a flapping length: $shrank refused before mapping, $faults failed in the kernel's copy (EFAULT)"
[ "$(lost)" = "$lost0" ] || fail "the device dropped its link while the length flapped"
pass
