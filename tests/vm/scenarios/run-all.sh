#!/bin/sh
# tests/vm/scenarios/run-all.sh - run the guest-side scenarios (busybox sh).
#
# Usage: run-all.sh [all | NAME[,NAME...]]
# Runs /scenarios/NN-NAME.sh in file-name order (NAME is the part after the number),
# each in its own shell with the timeout from its "# timeout: SECONDS" header line
# (default 300). Between scenarios it kills a leftover daemon, unmounts jmtpfs and empties
# the storage directories and the backup drive /var/lib/mtpbur/c. Prints every verdict
# (`PASS name` / `FAIL name: reason`), the scenario's log tail and the daemon log tail on
# failure, a timing table, and writes "N passed, M failed" to /tmp/suite.result.
SEL=${1:-all}
DIR=/scenarios
[ -f /etc/vm-suite.env ] && . /etc/vm-suite.env
mkdir -p /tmp/logs
passed=0; failed=0; timings=

selected() {
    [ "$SEL" = all ] && return 0
    case ",$SEL," in *",$1,"*) return 0 ;; esac
    return 1
}

# Leave no state behind for the next scenario.
cleanup() {
    if [ -f /run/vm-daemon.pid ]; then
        kill -KILL "$(cat /run/vm-daemon.pid)" 2>/dev/null; rm -f /run/vm-daemon.pid
    fi
    grep -q " /mnt/mtp " /proc/mounts && umount -l /mnt/mtp
    rm -rf /srv/mtp/internal/* /srv/mtp/internal/.[!.]* /srv/mtp/docs/* /tmp/work
    rm -rf /var/lib/mtpbur/c /var/lib/mtpbur/spool /var/lib/mtpbur/state   # backup drive, sets, BUR state
    mkdir -p /tmp/work /var/lib/mtpbur/c
}

found=0
for f in $DIR/[0-9][0-9]-*.sh; do
    name=$(basename "$f" .sh); name=${name#[0-9][0-9]-}
    selected "$name" || continue
    # Scenarios marked "# explicit" (the power-cut halves) run only when named.
    [ "$SEL" = all ] && grep -q '^# explicit' "$f" && continue
    found=$((found + 1))
    cleanup
    limit=$(sed -n 's/^# timeout: *\([0-9]*\).*/\1/p' "$f" | head -n1)
    rm -f /tmp/logs/$name.verdict
    t0=$(cut -d' ' -f1 /proc/uptime)
    echo "--- $name (timeout ${limit:-300} s)"
    timeout "${limit:-300}" sh "$f"
    rc=$?
    secs=$(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%.1f", b - a }')
    if [ $rc -eq 0 ] && grep -q "^PASS" /tmp/logs/$name.verdict 2>/dev/null; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        # A scenario that ended without its own verdict (timeout, crash) still gets a FAIL line.
        grep -q "^FAIL" /tmp/logs/$name.verdict 2>/dev/null ||
            echo "FAIL $name: no verdict (exit status $rc; timed out after ${limit:-300} s?)"
        echo "    --- last lines of the $name log:"
        tail -n 40 /tmp/logs/$name.log 2>/dev/null | sed 's/^/    | /'
        echo "    --- last lines of the daemon log:"
        tail -n 25 /tmp/logs/daemon.log 2>/dev/null | sed 's/^/    | /'
    fi
    timings="$timings$name $secs
"
    [ -n "$VM_VERBOSE" ] && sed 's/^/    | /' /tmp/logs/$name.log
done
cleanup

if [ $found -eq 0 ]; then
    echo "FAIL suite: no scenario matches '$SEL'"
    failed=1
fi
echo "--- scenario times (s)"
printf "%s" "$timings" | awk '{ printf "    %-12s %8s\n", $1, $2 }'
echo "$passed passed, $failed failed" > /tmp/suite.result
