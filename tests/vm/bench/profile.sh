#!/bin/sh
# Profiles for the benchmarks (guest side; injected as /scenarios/bench-profile.sh by
# tests/vm/bench.sh and tests/vm/bench-backup.sh, sourced by their guest scripts, which
# source /scenarios/lib.sh first). Without BENCH_PROFILE both functions do nothing.
#
# profile_start / profile_stop LABEL: with BENCH_PROFILE=1, `perf record` samples both
# CPUs (199 per second each: every process, thread and the kernel) between the two, and
# profile_stop prints the share of the samples per command name (`PROFILE LABEL command`:
# a thread named by its program is counted with it, e.g. an unnamed usb-gadget thread
# under mtpbur) and the symbols that take the most (`PROFILE LABEL symbol`, with their
# command and binary).
# BENCH_PROFILE=callers also records the kernel's call chains (the release binaries keep
# their symbols but no frame pointers, so user-space chains end at the first frame) and
# prints the callers of the symbols above 2 % (`PROFILE LABEL callers`).
profile_start() {
    case ${BENCH_PROFILE:-0} in 1) _g= ;; callers) _g=-g ;; *) return 0 ;; esac
    command -v perf > /dev/null || fail "BENCH_PROFILE set but no perf in the image"
    perf record -a -N -F 199 $_g -o /tmp/work/perf.data > /tmp/work/perf.log 2>&1 &
    PERF_PID=$!
    sleep 2
    kill -0 "$PERF_PID" 2> /dev/null || fail "perf record did not start: $(cat /tmp/work/perf.log)"
}
profile_stop() {
    [ -n "${PERF_PID:-}" ] || return 0
    kill -INT "$PERF_PID"
    wait "$PERF_PID" || true
    PERF_PID=
    for _sort in command:comm symbol:comm,dso,sym; do
        perf report -i /tmp/work/perf.data --stdio --no-children --percent-limit 0.5 -g none \
            --sort "${_sort#*:}" 2> /dev/null | grep -v '^#' | grep -v '^ *$' | head -40 |
            sed "s/^/PROFILE $1 ${_sort%%:*} /"
    done
    [ -z "$_g" ] || perf report -i /tmp/work/perf.data --stdio --no-children --percent-limit 2 \
        --sort comm,sym -g graph,0.5,callee,function,percent 2> /dev/null | grep -v '^#' |
        grep -v '^ *$' | head -400 | sed "s/^/PROFILE $1 callers /"
    rm -f /tmp/work/perf.data
}
