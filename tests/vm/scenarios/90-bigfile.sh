#!/bin/sh
# Scenario bigfile: one BIG_MB (default 1024) MiB file each way, checked with md5sum.
# Memory: device → host goes into a FIFO hashed on the fly, and host → device sends the
# device's own file (through a symlink named up.bin), so the guest holds 2 × BIG_MB in
# tmpfs (/srv/mtp) at most: run.sh's default -m 3072 covers 1 GiB.
# timeout: 1800
. /scenarios/lib.sh
SIZE=$((BIG_MB << 20))
RUN_TIMEOUT=1200   # for each libmtp tool run
t=$(now); patternfile $STORE/big.bin $SIZE; say "pattern file made in $(elapsed $t) s"
t=$(now); sum=$(md5 $STORE/big.bin); say "md5 of $BIG_MB MiB in $(elapsed $t) s: $sum"
start_daemon
id=$(mtp_id big.bin)
[ -n "$id" ] || fail "big.bin not listed"

mkfifo /tmp/work/get.fifo
md5sum < /tmp/work/get.fifo > /tmp/work/get.md5 &
hash_pid=$!
t=$(now)
run mtp-getfile "$id" /tmp/work/get.fifo
secs=$(elapsed $t)
out_has "Error" && { kill $hash_pid 2>/dev/null; fail "mtp-getfile of $BIG_MB MiB failed"; }
wait_exit $hash_pid 120 || fail "md5sum of the received stream did not finish"
[ "$(cut -d' ' -f1 /tmp/work/get.md5)" = "$sum" ] || fail "$BIG_MB MiB received by the host differ (md5)"
note "GetObject $BIG_MB MiB in $secs s ($(awk -v m=$BIG_MB -v s=$secs 'BEGIN { printf "%.1f", m / s }') MiB/s, incl. md5 on the fly)"

ln -s $STORE/big.bin /tmp/work/up.bin
t=$(now)
sendfile /tmp/work/up.bin || fail "mtp-sendfile of $BIG_MB MiB failed"
secs=$(elapsed $t)
[ "$(size_of $STORE/up.bin)" = "$SIZE" ] || fail "device-side file has $(size_of $STORE/up.bin) bytes, not $SIZE"
[ "$(md5 $STORE/up.bin)" = "$sum" ] || fail "$BIG_MB MiB received by the device differ (md5)"
note "SendObject $BIG_MB MiB in $secs s ($(awk -v m=$BIG_MB -v s=$secs 'BEGIN { printf "%.1f", m / s }') MiB/s)"
pass
