#!/bin/sh
# Scenario folders: mtp-folders lists folders created on the device side, nested ones included.
# timeout: 120
. /scenarios/lib.sh
mkdir -p $STORE/Music/Rock $STORE/Pictures $STORE/empty-folder
randfile $STORE/Music/Rock/song.mp3 5000
start_daemon
run mtp-folders
for d in Music Rock Pictures empty-folder; do
    tr '\r' '\n' < /tmp/work/out | grep -Eq "^[0-9]+	 *$d\$" || fail "mtp-folders does not list $d"
done
# Rock is nested in Music: printed after it with a deeper indent
tr '\r' '\n' < /tmp/work/out | awk -F'\t' '$2 ~ /^Music$/ { m = 1; next } m && $2 ~ /^  +Rock$/ { ok = 1 } END { exit !ok }' ||
    fail "Rock is not shown inside Music"
pass
