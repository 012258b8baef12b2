#!/bin/sh
# One libmtp transaction on the wire (guest side; injected as /scenarios/bench-usbmon.sh
# by tests/vm/bench.sh, sourced by bench/guest.sh after /scenarios/lib.sh).
#
# usbmon_listing DAEMON: runs mtp-files once more (untimed) while the kernel's usbmon
# traces every bulk URB on the bus (/sys/kernel/debug/usb/usbmon/0u: submission and
# completion with microsecond stamps), then splits each transaction into its phases and
# prints their mean per transaction:
#   BENCH DAEMON wire_tx      transactions (command containers sent)
#   BENCH DAEMON wire_in      IN transfers per transaction
#   BENCH DAEMON wire_cmd_us  command: submitted until the device took it
#   BENCH DAEMON wire_gap1_us the tool, from the command's completion to its next IN
#   BENCH DAEMON wire_data_us data: submitted until it completed
#   BENCH DAEMON wire_gap2_us the tool, from the data to its next IN (the response's)
#   BENCH DAEMON wire_resp_us response: submitted until it completed
#   BENCH DAEMON wire_gap3_us the tool, from the response to its next command
#   BENCH DAEMON wire_total_us all of it, first command to last completion, per transaction
#   BENCH DAEMON wire_ctrl    control transfers (the tool's probe and open, the daemon's ep0)
#   BENCH DAEMON wire_pre_ms  from the tool's first URB to its first command (ms)
#   BENCH DAEMON wire_post_ms from its last bulk completion to its last URB (ms)
# A completion's kind comes from its container type (bytes 4-5: 2 data, 3 response);
# an IN transfer that starts with neither (the rest of a long data phase, a zero-length
# packet) counts as data.
usbmon_listing() {
    grep -q ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs none /sys/kernel/debug 2> /dev/null
    _mon=/sys/kernel/debug/usb/usbmon/0u
    if [ ! -r $_mon ]; then
        note "$1: no usbmon (module not loaded?): the wire rows are missing"
        return 0
    fi
    cat $_mon > /tmp/work/usbmon.txt &
    _cat=$!
    sleep 0.5
    timeout 300 mtp-files > /dev/null 2>&1 || fail "$1: mtp-files (usbmon) failed"
    sleep 0.5
    kill "$_cat"
    wait "$_cat" 2> /dev/null
    awk -v d="$1" '
        # every URB: the tool opening and closing the device around its transactions
        $3 == "S" || $3 == "C" { if (first_any == "") first_any = $2; last_any = $2 }
        $3 == "C" && $4 ~ /^C[io]:/ { ctrl++ }
        $4 !~ /^B[io]:/ { next }
        $3 == "S" {
            if (last != "") gap[last] += $2 - lastc
            start[$1] = $2
            if ($4 ~ /^Bo/) { if (tx == 0) first = $2; tx++ }
            last = ""
            next
        }
        $3 == "C" && ($1 in start) {
            lat = $2 - start[$1]; delete start[$1]
            if ($4 ~ /^Bo/) kind = "cmd"
            else {
                nin++
                kind = (substr($9, 1, 4) == "0300") ? "resp" : "data"
            }
            t[kind] += lat; lastc = $2; end = $2
            # the tool time after it: up to the next submission
            last = (kind == "cmd") ? "gap1" : (kind == "data") ? "gap2" : "gap3"
        }
        END {
            if (tx == 0) exit
            printf "BENCH %s wire_tx %d\n", d, tx
            printf "BENCH %s wire_in %.2f\n", d, nin / tx
            printf "BENCH %s wire_cmd_us %.0f\n", d, t["cmd"] / tx
            printf "BENCH %s wire_gap1_us %.0f\n", d, gap["gap1"] / tx
            printf "BENCH %s wire_data_us %.0f\n", d, t["data"] / tx
            printf "BENCH %s wire_gap2_us %.0f\n", d, gap["gap2"] / tx
            printf "BENCH %s wire_resp_us %.0f\n", d, t["resp"] / tx
            printf "BENCH %s wire_gap3_us %.0f\n", d, gap["gap3"] / tx
            printf "BENCH %s wire_total_us %.0f\n", d, (end - first) / tx
            printf "BENCH %s wire_ctrl %d\n", d, ctrl
            printf "BENCH %s wire_pre_ms %.1f\n", d, (first - first_any) / 1000
            printf "BENCH %s wire_post_ms %.1f\n", d, (last_any - end) / 1000
        }' /tmp/work/usbmon.txt > /tmp/work/wire.txt
    [ -s /tmp/work/wire.txt ] || { note "$1: usbmon saw no bulk transfer"; return 0; }
    while read -r _b _d _m _v; do bench "$_d" "$_m" "$_v"; done < /tmp/work/wire.txt
}
