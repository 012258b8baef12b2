#!/bin/sh
# The quiet listing, traced by the kernel (guest side; injected as /scenarios/bench-sched.sh
# by tests/vm/bench.sh, sourced by bench/guest.sh after /scenarios/lib.sh).
#
# sched_listing DAEMON: runs mtp-files once more while ftrace records, into its ring
# buffer (no reader runs meanwhile, unlike usbmon), the scheduler's switches and wake-ups,
# the UDC core's request events (usb_ep_queue, usb_gadget_giveback_request), dummy_hcd's
# timer and the workqueue items; then reads the buffer and prints, per transaction (from
# the first command the device received to the last IN request the host took):
#   BENCH DAEMON sched_s         the traced run, s
#   BENCH DAEMON sched_tx        transactions (command containers received)
#   BENCH DAEMON sched_react_us  the device: command received until its first IN request
#   BENCH DAEMON sched_in_us     first IN request queued until the last one taken
#   BENCH DAEMON sched_host_us   last IN taken until the next command received (the tool,
#                                and the command on the bus)
#   BENCH DAEMON sched_ticks     dummy_hcd timer expiries (one per 125 µs while the host
#                                has a transfer pending)
#   BENCH DAEMON sched_idle_us   time the two CPUs spent idle (sum of both)
#   BENCH DAEMON sched_switches  context switches
#   BENCH DAEMON sched_works     workqueue items run (FunctionFS completes AIO in one)
# and per task name (kworkers and ksoftirqds under one name each), per transaction:
#   SCHED DAEMON TASK run_us wakeups wake_latency_us
# and the system calls of the daemon and the tool (raw_syscalls), per transaction:
#   SYSCALL DAEMON TASK NAME calls us (time from entry to exit, sleeps included)
# and, for one transaction in the middle, every event as it happened:
#   SCHEDLINE DAEMON +µs cpu task event details
sched_listing() {
    _tr=/sys/kernel/tracing
    [ -e $_tr/trace ] || mount -t tracefs nodev $_tr 2> /dev/null
    if [ ! -w $_tr/tracing_on ]; then
        note "$1: no tracefs: the sched rows are missing"
        return 0
    fi
    note "$1: clock source $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
    echo 0 > $_tr/tracing_on
    echo 16384 > $_tr/buffer_size_kb
    : > $_tr/set_event
    for _e in sched:sched_switch sched:sched_wakeup timer:hrtimer_expire_entry \
        workqueue:workqueue_execute_start gadget:usb_ep_queue \
        gadget:usb_gadget_giveback_request raw_syscalls:sys_enter raw_syscalls:sys_exit; do
        echo $_e >> $_tr/set_event 2> /dev/null || note "$1: no trace event $_e"
    done
    : > $_tr/trace
    t0=$(now)
    echo 1 > $_tr/tracing_on
    timeout 300 mtp-files > /dev/null 2>&1 || fail "$1: mtp-files (traced) failed"
    echo 0 > $_tr/tracing_on
    bench "$1" sched_s "$(elapsed "$t0")"
    cat $_tr/trace > /tmp/work/sched.txt
    : > $_tr/set_event
    : > $_tr/trace
    if grep -q 'LOST.*EVENTS' /tmp/work/sched.txt; then
        note "$1: the trace buffer overflowed: the sched rows are missing"
        return 0
    fi
    # Two passes: the first finds the window (first command received, last IN taken),
    # the second accounts within it.
    awk -v d="$1" '
        function fields(   i) {
            ok = 0
            for (i = 1; i <= NF; i++) if ($i ~ /^\[[0-9]+\]$/) { cpu = substr($i, 2, length($i) - 2) + 0; ok = 1; break }
            if (!ok) return 0
            for (i++; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) {
                t = substr($i, 1, length($i) - 1) * 1000000; ev = $(i + 1); a = i + 2; return 1
            }
            return 0
        }
        function arg(k,   i) {
            for (i = a; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2)
            return ""
        }
        function name(c) {
            if (c ~ /^kworker/) return "kworker"
            if (c ~ /^ksoftirqd/) return "ksoftirqd"
            if (c ~ /^swapper/) return "idle"
            return c
        }
        # a request event: ep, dir, actual; 0 for ep0 and the interrupt endpoint
        function req(   i, p) {
            ep = $(a); sub(/:$/, "", ep)
            if (ep ~ /^ep0/ || ep ~ /int/) return 0
            dir = (ep ~ /out/) ? "out" : "in"
            actual = 0
            for (i = a; i < NF; i++) if ($i == "length") { split($(i + 1), p, "/"); actual = p[1] + 0 }
            return 1
        }
        BEGIN {
            n = split("0 read 1 write 3 close 7 poll 9 mmap 10 mprotect 11 munmap 12 brk 16 ioctl " \
                "20 writev 24 sched_yield 25 mremap 28 madvise 39 getpid 202 futex 208 io_getevents " \
                "209 io_submit 210 io_cancel 213 epoll_create 228 clock_gettime 230 clock_nanosleep " \
                "232 epoll_wait 233 epoll_ctl 257 openat 262 newfstatat 270 pselect6 271 ppoll " \
                "281 epoll_pwait 290 eventfd2 291 epoll_create1 302 prlimit64 318 getrandom " \
                "332 statx 334 rseq 437 openat2 441 epoll_pwait2 17 pread64 18 pwrite64 " \
                "217 getdents64 8 lseek 5 fstat 4 stat 6 lstat 14 rt_sigprocmask 13 rt_sigaction", w, " ")
            for (i = 1; i < n; i += 2) sys[w[i]] = w[i + 1]
        }
        NR == FNR {
            if (!fields()) next
            if ((ev == "usb_gadget_giveback_request:") && req()) {
                if (dir == "out" && actual > 0 && first == "") first = t
                if (dir == "in") last = t
            }
            next
        }
        {
            if (!fields() || first == "" || t < first || t > last) next
            if (ev == "sched_switch:") {
                pc = name(arg("prev_comm")); nc = name(arg("next_comm")); np = arg("next_pid")
                if (cpu in since) run[cur[cpu]] += t - since[cpu]
                else run[pc] += t - first
                since[cpu] = t; cur[cpu] = nc; seen[nc] = 1; seen[pc] = 1
                switches++
                if (np in woke) { lat[nc] += t - woke[np]; nlat[nc]++; delete woke[np] }
                line = pc " ==> " nc
            } else if (ev == "sched_wakeup:") {
                c = name(arg("comm")); woke[arg("pid")] = t; wakes[c]++; seen[c] = 1
                line = "wake " c " on " arg("target_cpu") + 0
            } else if (ev == "hrtimer_expire_entry:") {
                if ($0 !~ /function=dummy_timer/) next
                ticks++; line = "dummy_timer"
            } else if (ev == "sys_enter:" || ev == "sys_exit:") {
                c = $1; sub(/-[0-9]+$/, "", c); p = substr($1, length(c) + 2)
                if (c !~ /^(mtpbur|umtprd|mtp-files)$/) next
                nr = $(a + 1); sn = (nr in sys) ? sys[nr] : "nr" nr; k = c " " sn
                if (ev == "sys_enter:") { entered[p] = t; calls[k]++; line = "sys " sn }
                else {
                    if (p in entered) { sysus[k] += t - entered[p]; delete entered[p] }
                    line = "ret " sn " " $NF
                }
            } else if (ev == "workqueue_execute_start:") {
                works++; line = "work " $NF
            } else if (ev == "usb_ep_queue:" || ev == "usb_gadget_giveback_request:") {
                if (!req()) next
                q = (ev == "usb_ep_queue:")
                line = (q ? "queue " : "done ") ep (q ? "" : " " actual " B")
                if (!q && dir == "out" && actual > 0) {
                    if (tx > 0) { inph += lastin - firstin; host += t - lastin }
                    tx++; cmd = t; waitin = 1; t_tx = t
                } else if (q && dir == "in" && waitin) {
                    react += t - cmd; waitin = 0; firstin = t
                } else if (!q && dir == "in") lastin = t
            } else next
            if (tx == int(total / 2)) {
                who = $1; sub(/-[0-9]+$/, "", who)
                printf "SCHEDLINE %s +%d %d %s %s\n", d, t - t_tx, cpu, who, line
            }
        }
        END {
            if (tx < 2) exit
            for (c in cur) run[cur[c]] += last - since[c]
            n = tx - 1
            printf "BENCH %s sched_tx %d\n", d, tx
            printf "BENCH %s sched_react_us %.0f\n", d, react / tx
            printf "BENCH %s sched_in_us %.0f\n", d, inph / n
            printf "BENCH %s sched_host_us %.0f\n", d, host / n
            printf "BENCH %s sched_ticks %.2f\n", d, ticks / tx
            printf "BENCH %s sched_idle_us %.0f\n", d, run["idle"] / tx
            printf "BENCH %s sched_switches %.2f\n", d, switches / tx
            printf "BENCH %s sched_works %.2f\n", d, works / tx
            for (k in calls) {
                split(k, kk, " ")
                printf "SYSCALL %s %s %s %.2f %.0f\n", d, kk[1], kk[2], calls[k] / tx, sysus[k] / tx
            }
            for (c in seen) if (c != "idle" && (run[c] + wakes[c]) > 0)
                printf "SCHED %s %s %.0f %.2f %.0f\n", d, c, run[c] / tx, wakes[c] / tx, nlat[c] ? lat[c] / nlat[c] : 0
        }' total="$(grep -c 'usb_gadget_giveback_request: ep[0-9]*out' /tmp/work/sched.txt)" \
        /tmp/work/sched.txt /tmp/work/sched.txt > /tmp/work/sched.rows
    [ -s /tmp/work/sched.rows ] || { note "$1: the trace held no transaction"; return 0; }
    while read -r _k _d _m _v; do
        case $_k in BENCH) bench "$_d" "$_m" "$_v" ;; esac
    done < /tmp/work/sched.rows
    grep -v '^BENCH' /tmp/work/sched.rows
}
