#!/bin/sh
# Scenario files: mtp-files lists files created on the device side, with their sizes,
# including one in a sub folder and one with a non-ASCII name.
# timeout: 120
. /scenarios/lib.sh
randfile $STORE/alpha.txt 1000
randfile $STORE/beta.bin 70000
: > $STORE/empty.dat
mkdir -p $STORE/sub
randfile $STORE/sub/gamma.txt 12345
randfile "$STORE/sub/grüße.txt" 42
start_daemon
run mtp-files
for f in alpha.txt:1000 beta.bin:70000 empty.dat:0 gamma.txt:12345 grüße.txt:42; do
    n=${f%:*}; s=${f#*:}
    tr '\r' '\n' < /tmp/work/out | grep -A1 -E "^ +Filename: $n\$" | grep -Eq "File size $s " ||
        fail "mtp-files does not list $n with size $s"
done
pass
