#!/bin/sh
# Scenario existing: the board's init owns the gadget (as on boards with a composite
# gadget). The shell creates the configfs gadget and mounts a FunctionFS; mtpbur, with
# `usb.existing_functionfs` in its profile, only writes the descriptors and serves the
# endpoints; the shell binds the UDC once ep1 appears. Then mtp-detect and a round trip.
# timeout: 180
. /scenarios/lib.sh
G=/sys/kernel/config/usb_gadget/boardinit
FFS=/dev/ffs-boardinit
PROFILE=/tmp/work/existing.toml

teardown() {
    echo "" > $G/UDC 2>/dev/null
    stop_daemon
    umount $FFS 2>/dev/null
    rm -f $G/configs/c.1/ffs.mtp
    rmdir $G/configs/c.1/strings/0x409 $G/configs/c.1 $G/functions/ffs.mtp \
        $G/strings/0x409 $G 2>/dev/null
}
fail_clean() { teardown; fail "$1"; }

mkdir -p $G && cd $G || fail "configfs gadget"
echo 0x1d6b > idVendor; echo 0x0100 > idProduct
mkdir -p strings/0x409 configs/c.1/strings/0x409 functions/ffs.mtp
echo BOARD0001 > strings/0x409/serialnumber
echo "board init" > strings/0x409/manufacturer
echo "board-owned gadget" > strings/0x409/product
echo "MTP" > configs/c.1/strings/0x409/configuration
ln -s functions/ffs.mtp configs/c.1/
cd /
mkdir -p $FFS && mount -t functionfs mtp $FFS || fail_clean "mount functionfs"
sed 's|^gadget_name = .*|&\nexisting_functionfs = "'$FFS'"|' $MTPBUR_PROFILE > $PROFILE
grep -q existing_functionfs $PROFILE || fail_clean "profile edit"

echo "=== $NAME: existing FunctionFS" >> "$DAEMON_LOG"
/bin/mtpbur --profile $PROFILE >> "$DAEMON_LOG" 2>&1 &
DAEMON_PID=$!
n=200
while [ ! -e $FFS/ep1 ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
[ -e $FFS/ep1 ] || fail_clean "mtpbur did not write the descriptors (no ep1)"
ls /sys/class/udc | head -n1 > $G/UDC || fail_clean "bind UDC"
wait_enumerated || fail_clean "board-owned gadget not enumerated"
[ "$(cat $usb_dev/serial 2>/dev/null)" = BOARD0001 ] || fail_clean "host sees another gadget"

run mtp-detect
out_has "^Device info:" || fail_clean "mtp-detect: no device info"
out_has "^Storage Devices:" || fail_clean "mtp-detect: no storages"
cd /tmp/work
randfile ext.bin 70000
sendfile /tmp/work/ext.bin || fail_clean "mtp-sendfile failed"
same ext.bin $STORE/ext.bin || fail_clean "uploaded file differs"
id=$(mtp_id ext.bin)
getfile "$id" /tmp/work/back.bin || fail_clean "mtp-getfile failed"
same ext.bin back.bin || fail_clean "downloaded file differs"
teardown
pass
