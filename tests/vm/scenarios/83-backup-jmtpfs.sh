#!/bin/sh
# Scenario backup-jmtpfs: the same backup and restore through a file manager's view, a
# jmtpfs (FUSE) mount: cp a request into Backup/requests, read Backup/status.toml,
# cp -r the set out, cp -r it back in after the device lost its data and the set, cp
# the restore request; the device's data equals the backed-up state.
# jmtpfs caches sizes it has seen, so status.toml is read from a fresh mount each time.
# timeout: 600
. /scenarios/lib.sh
. /scenarios/backup-lib.sh
B=$MNT/Backup
owners_install_seed || fail "reference owners could not be installed"
owners_dump /tmp/work/dump-seeded || fail "dump failed"
start_daemon
[ -c /dev/fuse ] || fail "/dev/fuse missing"
mount_dev() { run jmtpfs $MNT < /dev/null; mounted $MNT && [ -d $B ]; }
umount_dev() { fusermount -u $MNT 2>> "$LOG" || umount -l $MNT; }
# mnt_wait: read status.toml through fresh mounts until done or failed (60 s).
mnt_wait() {
    _n=60
    while [ $_n -gt 0 ]; do
        mount_dev || { say "jmtpfs mount failed"; return 1; }
        cp $B/status.toml /tmp/work/status.toml 2>> "$LOG"
        umount_dev
        BK_STATE=$(bk_field state)
        case $BK_STATE in done | failed) cat /tmp/work/status.toml >> "$LOG"; return 0 ;; esac
        sleep 0.5; _n=$((_n - 1))
    done
    return 1
}
mkdir -p /tmp/work/req /tmp/work/host

t=$(now)
mount_dev || fail "jmtpfs did not mount the device with a Backup folder"
ls -la $B >> "$LOG" 2>&1
for f in README.txt owners.toml status.toml requests; do
    [ -e $B/$f ] || fail "$f missing in the mounted Backup storage"
done
printf 'scope = "full"\ntype = "base"\nlabel = "fm"\n' > /tmp/work/req/backup.request
cp /tmp/work/req/backup.request $B/requests/ || fail "cp backup.request into the mount failed"
umount_dev
mnt_wait || fail "backup did not finish"
[ "$BK_STATE" = done ] || fail "backup failed: $(bk_field last_error)"
SET=$(bk_field session)
report "backup requested with cp on a jmtpfs mount ($SET)" ok "$(bk_field bytes_done)" "$(elapsed $t)"

t=$(now)
mount_dev || fail "remount failed"
cp -r $B/$SET /tmp/work/host/ || fail "cp -r of the set out of the mount failed"
umount_dev
verify_set /tmp/work/host/$SET || fail "set copied with cp -r: $VERIFY_ERR"
bytes=$(units_bytes /tmp/work/host/$SET)
report "set copied out with cp -r, SHA-256 verified" ok "$bytes" "$(elapsed $t)"

t=$(now)
owners_destroy || fail "ref-data destroy failed"
mount_dev || fail "remount failed"
rm -r $B/$SET || fail "rm -r of the set on the mount failed"
[ -e /var/lib/mtpbur/spool/$SET ] && fail "the set is still on the device after rm -r"
cp -r /tmp/work/host/$SET $B/ || fail "cp -r of the set into the mount failed"
printf 'source = "%s"\nscope = "full"\n' "$SET" > /tmp/work/req/restore.request
cp /tmp/work/req/restore.request $B/requests/ || fail "cp restore.request into the mount failed"
umount_dev
report "data destroyed; set deleted, uploaded with cp -r; restore requested" ok "$bytes" "$(elapsed $t)"

t=$(now)
mnt_wait || fail "restore did not finish"
[ "$BK_STATE" = done ] || fail "restore failed: $(bk_field last_error)"
owners_dump /tmp/work/dump-restored || fail "dump failed"
dumps_equal /tmp/work/dump-seeded /tmp/work/dump-restored ||
    fail "data restored through the mount differs from the backed-up data"
report "restore through the mount: data equals the backup" ok "$(bk_field bytes_done)" "$(elapsed $t)"
pass
