#!/bin/sh
# Benchmark (guest side; injected as /scenarios/95-bench.sh by tests/vm/bench.sh only).
#
# In one boot, runs the same host-tool workload against mtpbur and against umtprd
# (Debian's umtp-responder, the usual open-source responder), on the same files:
#   get   mtp-getfile of a BENCH_MB file
#   send  mtp-sendfile of a BENCH_MB file
#   list  mtp-files over BENCH_FILES small files (an uncached listing)
#   walk  mtp-folders over the same tree (a cached open: the walk every libmtp tool does)
# and reads each daemon's peak RSS (VmHWM); then, in alternating rounds, the workload
# through mtpbur-host's own client and the raw ceiling of the same USB path (below).
# Prints one line per figure (a figure measured in several rounds: one line each; the
# host side keeps the best):
#   BENCH <daemon> <metric> <value>
# and PASS when every run moved the right bytes (the figures are judged on the host side).
# With BENCH_PROFILE (=1 or =callers), both mtp-files runs, the first round of bench-mtp and bench-raw
# and the scale backups also run under `perf record` (profile_start below).
# timeout: 7000
. /scenarios/lib.sh
[ -f /etc/bench.env ] && . /etc/bench.env
MB=${BENCH_MB:-256}
FILES=${BENCH_FILES:-1000}
UMTP_G=/sys/kernel/config/usb_gadget/umtp

bench() { echo "BENCH $1 $2 $3"; say "BENCH $1 $2 $3"; }
rss_peak_kib() { awk '/^VmHWM:/ { print $2 }' /proc/"$1"/status; }

# profile_start / profile_stop LABEL (BENCH_PROFILE): bench/profile.sh
. /scenarios/bench-profile.sh
# usbmon_listing DAEMON: one mtp-files transaction on the wire, phase by phase
. /scenarios/bench-usbmon.sh
# quiet_experiment DAEMON: the listing timed beside other load (BENCH_QUIET=1)
. /scenarios/bench-quiet.sh
# sched_listing DAEMON: the listing traced by the kernel (scheduler, UDC requests, timer)
. /scenarios/bench-sched.sh

start_umtprd() {
    mkdir -p /etc/umtprd
    cat > /etc/umtprd/umtprd.conf <<CONF
loop_on_disconnect 1
storage "$STORE" "$STORAGE_DESC" "rw"
manufacturer "umtprd"
product "umtprd benchmark"
serial "UMTP0001"
firmware_version "1.3.10"
interface "MTP"
usb_vendor_id  0x1D6B
usb_product_id 0x0100
usb_class 0x6
usb_subclass 0x1
usb_protocol 0x1
usb_dev_version 0x3008
usb_functionfs_mode 0x1
usb_dev_path   "/dev/ffs-umtp/ep0"
usb_epin_path  "/dev/ffs-umtp/ep1"
usb_epout_path "/dev/ffs-umtp/ep2"
usb_epint_path "/dev/ffs-umtp/ep3"
usb_max_packet_size 0x200
CONF
    mkdir -p $UMTP_G && cd $UMTP_G || fail "configfs gadget for umtprd"
    echo 0x1D6B > idVendor; echo 0x0100 > idProduct
    mkdir -p strings/0x409 configs/c.1/strings/0x409 functions/ffs.umtp
    echo UMTP0001 > strings/0x409/serialnumber
    echo umtprd > strings/0x409/manufacturer
    echo "umtprd benchmark" > strings/0x409/product
    echo "Conf 1" > configs/c.1/strings/0x409/configuration
    ln -s functions/ffs.umtp configs/c.1/
    cd /
    mkdir -p /dev/ffs-umtp && mount -t functionfs umtp /dev/ffs-umtp
    /usr/bin/umtprd >> "$DAEMON_LOG" 2>&1 &
    DAEMON_PID=$!
    _n=50
    while [ ! -e /dev/ffs-umtp/ep1 ] && [ $_n -gt 0 ]; do sleep 0.1; _n=$((_n - 1)); done
    ls /sys/class/udc | head -n1 > $UMTP_G/UDC
    wait_enumerated || fail "umtprd gadget not enumerated"
}

stop_umtprd() {
    echo "" > $UMTP_G/UDC 2>/dev/null
    kill -TERM "$DAEMON_PID" 2>/dev/null; sleep 0.5; kill -KILL "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=
    umount /dev/ffs-umtp 2>/dev/null
    rm -f $UMTP_G/configs/c.1/ffs.umtp
    rmdir $UMTP_G/configs/c.1/strings/0x409 $UMTP_G/configs/c.1 $UMTP_G/functions/ffs.umtp \
        $UMTP_G/strings/0x409 $UMTP_G 2>/dev/null
    wait_gone
}

# workload DAEMON: the timed runs against the daemon now serving. The upload goes last:
# umtprd fails the GetObjectInfo after an upload (uMTP-Responder #69) and lists nothing
# afterwards in the same run.
workload() {
    profile_start
    t0=$(now)
    run mtp-files || fail "$1: mtp-files failed"
    bench "$1" list_s "$(elapsed "$t0")"
    profile_stop "$1-list"
    n=$(tr '\r' '\n' < /tmp/work/out | grep -c '^File ID:')
    [ "$n" -ge "$FILES" ] || fail "$1: mtp-files listed $n files, expected at least $FILES"
    # The same listing again, the daemon warm.
    t0=$(now)
    run mtp-files || fail "$1: mtp-files (second run) failed"
    bench "$1" list2_s "$(elapsed "$t0")"
    # What that listing asked, counted (untimed): libmtp's USB debug names each request.
    LIBMTP_DEBUG=4 timeout 300 mtp-files > /tmp/work/requests 2>&1 || fail "$1: mtp-files (debug) failed"
    bench "$1" list_requests "$(grep -c 'REQUEST: 0x' /tmp/work/requests)"
    grep -o 'REQUEST: 0x[0-9a-f]*, [A-Za-z]*' /tmp/work/requests | sort | uniq -c | sort -rn | head -n 6 \
        > /tmp/work/requests.count
    while read -r c _ code name; do note "$1: mtp-files sent $c x ${code%,} $name"; done < /tmp/work/requests.count
    usbmon_listing "$1"
    # A cached open (what mtp-getfile, mtp-sendfile, mtp-folders... do first) walks the
    # whole tree: with GetObjectPropList in one request, without it one per object.
    t0=$(now)
    run mtp-folders || fail "$1: mtp-folders failed"
    bench "$1" walk_s "$(elapsed "$t0")"
    id=$(mtp_id get.bin)
    [ -n "$id" ] || fail "$1: get.bin not listed"
    t0=$(now)
    getfile "$id" /tmp/work/got.bin || fail "$1: mtp-getfile failed"
    bench "$1" get_s "$(elapsed "$t0")"
    same /tmp/work/get.bin /tmp/work/got.bin || fail "$1: downloaded file differs"
    rm -f /tmp/work/got.bin
    t0=$(now)
    sendfile /tmp/work/send.bin || note "$1: mtp-sendfile reported an error: $(tr '\r' '\n' < /tmp/work/out | grep -m1 Error)"
    bench "$1" send_s "$(elapsed "$t0")"
    same /tmp/work/send.bin "$STORE/send.bin" || fail "$1: uploaded file differs"
    rm -f "$STORE/send.bin"
    bench "$1" rss_kib "$(rss_peak_kib "$DAEMON_PID")"
}

cd /tmp/work
patternfile /tmp/work/get.bin $((MB * 1048576))
patternfile /tmp/work/send.bin $((MB * 1048576 + 4093))
mkdir -p "$STORE/many"
i=0
while [ $i -lt "$FILES" ]; do echo "$i" > "$STORE/many/f$i.txt"; i=$((i + 1)); done
cp /tmp/work/get.bin "$STORE/get.bin"
# The listing is flat so that mtp-files finds every file with either daemon.
mv "$STORE"/many/* "$STORE"/ && rmdir "$STORE/many"

if [ "${BENCH_QUIET:-0}" = 1 ]; then
    start_daemon
    quiet_experiment mtpbur
    stop_daemon
    start_umtprd
    quiet_experiment umtprd
    stop_umtprd
    pass
fi

start_daemon
workload mtpbur
stop_daemon

# Both ends ours, against the ceiling of the same path, in alternating rounds (best of
# BENCH_ROUNDS each; the emulated machine's speed drifts over minutes):
# - mtpbur-host bench-mtp: the workload through mtpbur-host's own MTP client (a listing
#   of the root, the same listing with mtp-files' two transactions per object,
#   GetObject, SendObject); libmtp reads 16 KiB per synchronous transfer, so its
#   GetObject shows the tool, not the device;
# - mtpbur ceiling + mtpbur-host bench-raw: the same gadget, endpoints, buffers and queue
#   with a raw source and sink instead of MTP: BENCH_MB each way, the round trip of a
#   command, ROUND_DATA bytes (about a GetObjectInfo) and a response, and of a command and
#   a response; then the same with the host in libmtp's lockstep (--lockstep).
ROUND_DATA=${BENCH_ROUND_DATA:-200}
MTPBUR_CMD_MTP=$MTPBUR_CMD
num() { sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p" "$2"; }
round=0
while [ $round -lt "${BENCH_ROUNDS:-3}" ]; do
    round=$((round + 1))
    MTPBUR_CMD=$MTPBUR_CMD_MTP
    start_daemon
    [ $round = 1 ] && profile_start
    /usr/local/bin/mtpbur-host --json bench-mtp --get get.bin --send-mb "$MB" \
        > /tmp/work/host.json 2> /tmp/work/host.err || fail "bench-mtp failed: $(cat /tmp/work/host.err /tmp/work/host.json)"
    profile_stop bench-mtp
    stop_daemon
    bench host list_s "$(num list_s /tmp/work/host.json)"
    bench host list_tx "$(num list_transactions /tmp/work/host.json)"
    bench host pair_s "$(num pair_list_s /tmp/work/host.json)"
    bench host pair_tx "$(num pair_list_transactions /tmp/work/host.json)"
    bench host get_s "$(num get_s /tmp/work/host.json)"
    bench host send_s "$(num send_s /tmp/work/host.json)"
    MTPBUR_CMD="/bin/mtpbur ceiling --profile $MTPBUR_PROFILE"
    start_daemon
    [ $round = 1 ] && profile_start
    /usr/local/bin/mtpbur-host --json bench-raw --mb "$MB" --rounds 2000 --data "$ROUND_DATA" \
        > /tmp/work/raw.json 2> /tmp/work/raw.err || fail "bench-raw failed: $(cat /tmp/work/raw.err /tmp/work/raw.json)"
    profile_stop bench-raw
    /usr/local/bin/mtpbur-host --json bench-raw --mb 1 --rounds 2000 --data 0 \
        > /tmp/work/raw0.json 2> /tmp/work/raw.err || fail "bench-raw (no data) failed: $(cat /tmp/work/raw.err)"
    # The same path moved as libmtp moves it: one 16 KiB transfer at a time, each
    # submitted when the tool waits for it (the limit of the path for mtp-getfile,
    # mtp-sendfile and each of mtp-files' transactions).
    /usr/local/bin/mtpbur-host --json bench-raw --lockstep --mb "$MB" --rounds 1000 --data "$ROUND_DATA" \
        > /tmp/work/lraw.json 2> /tmp/work/raw.err || fail "bench-raw --lockstep failed: $(cat /tmp/work/raw.err)"
    stop_daemon
    bench raw get_s "$(num source_s /tmp/work/raw.json)"
    bench raw send_s "$(num sink_s /tmp/work/raw.json)"
    bench raw rtt_us "$(num round_trip_us /tmp/work/raw.json)"
    bench raw rtt0_us "$(num round_trip_us /tmp/work/raw0.json)"
    bench lock get_s "$(num source_s /tmp/work/lraw.json)"
    bench lock send_s "$(num sink_s /tmp/work/lraw.json)"
    bench lock rtt_us "$(num round_trip_us /tmp/work/lraw.json)"
    # What GetObject does that the raw source does not: copy the file from the page cache
    # into its buffers (128 KiB reads, as the files provider does).
    t0=$(now)
    dd if="$STORE/get.bin" of=/dev/null bs=128k 2>/dev/null
    bench copy read_s "$(elapsed "$t0")"
done
MTPBUR_CMD=$MTPBUR_CMD_MTP

start_umtprd
# The same client against umtprd (listings only: an upload spoils its later listings):
# its transactions against ours with libmtp taken out. One daemon for all rounds.
r=0
while [ $r -lt "${BENCH_ROUNDS:-3}" ]; do
    r=$((r + 1))
    if /usr/local/bin/mtpbur-host --json bench-mtp --get get.bin --list-only \
        > /tmp/work/uhost.json 2> /tmp/work/uhost.err; then
        bench uhost list_s "$(num list_s /tmp/work/uhost.json)"
        bench uhost list_tx "$(num list_transactions /tmp/work/uhost.json)"
        if [ "$(num pair_list_transactions /tmp/work/uhost.json)" != 0 ]; then
            bench uhost pair_s "$(num pair_list_s /tmp/work/uhost.json)"
            bench uhost pair_tx "$(num pair_list_transactions /tmp/work/uhost.json)"
        fi
    else
        note "mtpbur-host against umtprd: $(cat /tmp/work/uhost.err /tmp/work/uhost.json)"
        break
    fi
done
workload umtprd
stop_umtprd

[ -f /scenarios/bench-scale.sh ] && . /scenarios/bench-scale.sh
pass
