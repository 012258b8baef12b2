#!/bin/sh
# Scenario powercut-cut: the first boot of the power-cut test (tests/vm/powercut.sh).
# The reference owners' drive and the spool live on an ext4 file system on /dev/vda,
# with a 128 MiB passive file so that a session is long enough to be cut.
#   pc.mode=backup (default): a full backup starts;
#   pc.mode=restore: a full backup is taken, the owners' data changes, and a restore of
#     the backup starts;
# pc.delay seconds (default 0.5) after the session starts writing (a backup's set folder
# appears, or a restore reports `restoring`), the VM loses power: sysrq `b` resets it at
# once, without syncing or unmounting. The second boot (powercut-check) checks what the
# device made of it. This scenario never passes: the host looks for its POWERCUT-CUT line.
# explicit
# timeout: 600
. /scenarios/lib.sh
. /scenarios/backup-lib.sh
DATA=/var/lib/mtpbur
PASSIVE_CAGE=$DATA/c/private/20000020
mode=backup; delay=0.5
for a in $(cat /proc/cmdline); do
    case $a in
    pc.delay=*) delay=${a#pc.delay=} ;;
    pc.mode=*) mode=${a#pc.mode=} ;;
    esac
done
# cage_state: the passive owner's cage as one line (owner, mode, every file's hash).
cage_state() {
    stat -c '%u:%g %a' $PASSIVE_CAGE
    (cd $PASSIVE_CAGE && find . -type f | sort | xargs sha256sum) | sha256sum
}
[ -b /dev/vda ] || fail "no /dev/vda: run this through tests/vm/powercut.sh"
mount -t ext4 /dev/vda $DATA || fail "cannot mount /dev/vda"
mkdir -p $DATA/c
owners_install_seed || fail "reference owners could not be installed"
dd if=/dev/urandom of=$PASSIVE_CAGE/big.bin bs=1M count=128 2>> "$LOG" || fail "big file"
chown "$(stat -c %u:%g $PASSIVE_CAGE)" $PASSIVE_CAGE/big.bin
owners_dump $DATA/dump-before || fail "dump failed"
cage_state > $DATA/cage-before
echo "$mode" > $DATA/mode
sync
start_daemon
bk_init || fail "no Backup storage"
mkdir -p /tmp/work/req
if [ "$mode" = restore ]; then
    bk_run 'scope = "full"\ntype = "base"\nlabel = "base"\n' ||
        fail "the backup to restore did not finish: $(bk_field last_error)"
    echo "$BK_SET" > $DATA/base-set
    owners_change || fail "ref-data change failed"
    owners_dump $DATA/dump-changed || fail "dump failed"
    cage_state > $DATA/cage-changed
    sync
    bk_restore_begin "$BK_SET" || fail "restore.request refused"
else
    printf 'scope = "full"\ntype = "base"\nlabel = "cut"\n' > /tmp/work/req/backup.request
    bk_request /tmp/work/req/backup.request || fail "backup.request refused"
    # The moment the engine starts writing: its set folder appears in the spool.
    _n=400
    while [ -z "$(ls $DATA/spool | grep -v requests)" ] && [ $_n -gt 0 ]; do
        sleep 0.05; _n=$((_n - 1))
    done
fi
sleep "$delay"
bk_status && say "status at the cut: $(tr '\n' ' ' < /tmp/work/status.toml)"
echo "POWERCUT-CUT $mode after ${delay} s: state $(bk_field state), spool: $(ls $DATA/spool 2>/dev/null | tr '\n' ' ')"
sleep 1   # let the serial line drain
echo b > /proc/sysrq-trigger
sleep 10
fail "still running after the power cut"
