#!/bin/sh
# Scenario ceiling: `mtpbur ceiling` (board::ceiling: a raw source and sink on the
# responder's own FunctionFS endpoints, what tests/vm/bench.sh measures the USB path
# with) answers `mtpbur-host bench-raw` over the real USB path, with the host's
# transfers queued ahead (4 x 256 KiB, the host program's way) and in libmtp's lockstep
# (--lockstep: one 16 KiB transfer at a time, submitted when the host waits for it).
# Each run moves 8 MiB each way and 200 round trips; the data phase of a round trip is
# 200 bytes, exactly 16 KiB (a packet multiple: the transfer ends with a zero-length
# packet, which a lockstep host reads in a transfer of its own) or none. bench-raw fails
# when a transfer carries a byte count other than the one asked for or the sink reports
# another count than was sent.
# timeout: 240
. /scenarios/lib.sh
H=/usr/local/bin/mtpbur-host
[ -x $H ] || fail "mtpbur-host is not in the image"
num() { sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p" "$2"; }

MTPBUR_CMD="/bin/mtpbur ceiling --profile $MTPBUR_PROFILE"
start_daemon
for mode in --queued --lockstep; do
    for data in 200 16384 0; do
        flag=; [ $mode = --lockstep ] && flag=--lockstep
        # shellcheck disable=SC2086 # flag is empty or one word
        $H --json bench-raw $flag --mb 8 --rounds 200 --data $data \
            > /tmp/work/raw.json 2> /tmp/work/raw.err \
            || fail "bench-raw $mode --data $data: $(cat /tmp/work/raw.err /tmp/work/raw.json)"
        [ "$(num bytes /tmp/work/raw.json)" = 8388608 ] && [ "$(num rounds /tmp/work/raw.json)" = 200 ] \
            || fail "bench-raw $mode --data $data reported: $(cat /tmp/work/raw.json)"
        say "bench-raw $mode --data $data: $(cat /tmp/work/raw.json)"
    done
done
kill -0 "$DAEMON_PID" 2>/dev/null || fail "mtpbur ceiling exited"
stop_daemon || fail "mtpbur ceiling ignored SIGTERM"
pass
