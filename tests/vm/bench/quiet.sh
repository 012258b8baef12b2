#!/bin/sh
# The quiet-run experiment (guest side; injected as /scenarios/bench-quiet.sh by
# tests/vm/bench.sh, sourced by bench/guest.sh). With BENCH_QUIET=1 the bench boot runs
# only this: `mtp-files` over the same flat folder, timed twice under each condition,
# against each daemon:
#   BENCH DAEMON quiet_alone_s     nothing else runs
#   BENCH DAEMON quiet_usbmon_s    a reader of usbmon beside it (it wakes at every URB)
#   BENCH DAEMON quiet_busy_s      a busy loop taking one CPU
#   BENCH DAEMON quiet_apart_s     the daemon's main thread on CPU 1, the tool on CPU 0
#   BENCH DAEMON quiet_together_s  both on CPU 0
# and, between the first two conditions, one listing traced by the kernel (bench/sched.sh).
# What it tells (docs/BENCHMARKS.md, "One libmtp transaction on the wire"): whether a
# daemon's listing uses the second CPU, and whether it waits on something other than its
# own work when it runs alone with the tool.
quiet_timed() { # LABEL DAEMON [PREFIX...]: two timed listings
    _l=$1; _d=$2; shift 2
    for _k in 1 2; do
        t0=$(now)
        run "$@" mtp-files || fail "$_d: mtp-files ($_l) failed"
        bench "$_d" "quiet_${_l}_s" "$(elapsed "$t0")"
    done
}
quiet_experiment() { # DAEMON (running, its pid in DAEMON_PID)
    quiet_timed alone "$1"
    sched_listing "$1"
    grep -q ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs none /sys/kernel/debug
    cat /sys/kernel/debug/usb/usbmon/0u > /dev/null &
    _c=$!
    sleep 0.5
    quiet_timed usbmon "$1"
    kill "$_c"; wait "$_c" 2> /dev/null
    ( while :; do :; done ) &
    _c=$!
    quiet_timed busy "$1"
    kill "$_c"; wait "$_c" 2> /dev/null
    taskset -p 2 "$DAEMON_PID" > /dev/null || fail "taskset"
    quiet_timed apart "$1" taskset 1
    taskset -p 1 "$DAEMON_PID" > /dev/null
    quiet_timed together "$1" taskset 1
    taskset -p 3 "$DAEMON_PID" > /dev/null
}
