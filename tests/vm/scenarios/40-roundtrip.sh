#!/bin/sh
# Scenario roundtrip: mtp-sendfile then mtp-getfile, content compared byte for byte with
# cmp on both sides. Sizes include exact multiples of the 512-byte packet size once the
# 12-byte container header is added (500, 1 MiB - 12: need a zero-length packet), an
# empty file, and odd sizes; one file goes into a sub folder.
# timeout: 300
. /scenarios/lib.sh
mkdir -p $STORE/inbox
start_daemon
cd /tmp/work
for size in 1 500 4096 1048564 3145851 0; do
    f=rt-$size.bin
    randfile $f $size
    sendfile /tmp/work/$f || fail "mtp-sendfile of $size bytes failed"
    same $f $STORE/$f || fail "device-side copy of $size bytes differs"
    id=$(mtp_id $f)
    [ -n "$id" ] || fail "sent file $f not listed by mtp-files"
    getfile "$id" /tmp/work/back-$f || fail "mtp-getfile of $size bytes failed"
    same $f back-$f || fail "file of $size bytes differs after the round trip"
done
randfile sub.bin 77777
sendfile /tmp/work/sub.bin inbox || fail "mtp-sendfile into folder inbox failed"
same sub.bin $STORE/inbox/sub.bin || fail "inbox/sub.bin differs on the device side"
pass
