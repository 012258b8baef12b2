#!/bin/sh
# Scenario filetree: mtp-filetree shows the storage with its folders and files.
# timeout: 120
. /scenarios/lib.sh
mkdir -p $STORE/docs/deep/deeper
randfile $STORE/top.txt 10
randfile $STORE/docs/readme.txt 20
randfile $STORE/docs/deep/deeper/leaf.bin 30
start_daemon
run mtp-filetree
for n in top.txt docs readme.txt deep deeper leaf.bin; do
    tr '\r' '\n' < /tmp/work/out | grep -Eq "^ *[0-9]+ $n\$" || fail "mtp-filetree does not show $n"
done
# leaf.bin is three levels deep: more indented than 'deep'
tr '\r' '\n' < /tmp/work/out | awk '
    $2 == "deep" { d = index($0, $1) } $2 == "leaf.bin" { l = index($0, $1) }
    END { exit !(d > 0 && l > d) }' || fail "leaf.bin is not shown below deep"
pass
