#!/bin/sh
# Scenario jmtpfs: mount the device with jmtpfs (FUSE) and list, read, write, rename,
# make a folder and delete through the file system; check every step on the device side;
# unmount with fusermount -u.
# timeout: 300
. /scenarios/lib.sh
randfile $STORE/on-device.bin 200000
start_daemon
[ -c /dev/fuse ] || fail "/dev/fuse missing (fuse module not loaded)"
run jmtpfs $MNT
mounted $MNT || fail "jmtpfs did not mount $MNT"
D=$MNT/$STORAGE_DESC
say "mounted: $(ls $MNT | tr '\n' ' ')"
[ -d "$D" ] || fail "no storage folder '$STORAGE_DESC' in $MNT"
ls -l "$D" >> "$LOG" 2>&1
ls "$D" | grep -qx on-device.bin || fail "ls does not show on-device.bin"
same $STORE/on-device.bin "$D/on-device.bin" || fail "reading on-device.bin through jmtpfs gives other bytes"
randfile /tmp/work/written.bin 300001
cp /tmp/work/written.bin "$D/written.bin" || fail "cp into the mount failed"
sync
same /tmp/work/written.bin $STORE/written.bin || fail "file written through jmtpfs differs on the device side"
mv "$D/written.bin" "$D/renamed.bin" || fail "mv (rename) failed"
[ -e $STORE/written.bin ] && fail "old name still exists on the device side after rename"
same /tmp/work/written.bin $STORE/renamed.bin || fail "renamed file missing or different on the device side"
mkdir "$D/newdir" || fail "mkdir in the mount failed"
[ -d $STORE/newdir ] || fail "mkdir did not create the folder on the device side"
rm "$D/renamed.bin" || fail "rm failed"
[ -e $STORE/renamed.bin ] && fail "deleted file still exists on the device side"
ls "$D" | grep -qx renamed.bin && fail "deleted file still listed"
rmdir "$D/newdir" || fail "rmdir failed"
[ -e $STORE/newdir ] && fail "removed folder still exists on the device side"
fusermount -u $MNT >> "$LOG" 2>&1 || fail "fusermount -u failed"
mounted $MNT && fail "$MNT still mounted"
pass
