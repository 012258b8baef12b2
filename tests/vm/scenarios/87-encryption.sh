#!/bin/sh
# Scenario encryption: a backup password set from the PC with mtpbur-host, checked with
# the standard age tool and the stock libmtp tools:
# - `mtpbur-host encryption on` (password on stdin): status.toml says encryption = "on";
# - a backup: every unit on the PC is an age file holding none of the owners' plaintext
#   (a marker file in the passive app, the settings store's keys);
# - `age -d -i key.age UNIT` with the password alone decrypts a unit to its plain form;
# - a restore with a wrong password is refused before anything is uploaded;
# - a set whose unit and manifest a host rewrote consistently (stock tools: new SHA-256
#   in the manifest, uploaded with mtp-sendfile) is refused with the reason in
#   status.toml, and the device's data is unchanged;
# - after the data is destroyed, a restore with the password brings it back (ref-data
#   dump);
# - no password is stored in the Backup storage's requests folder;
# - `encryption off` needs the password; after it, status.toml says "off".
# timeout: 600
. /scenarios/lib.sh
. /scenarios/backup-lib.sh
H=/usr/local/bin/mtpbur-host
REPO=/tmp/work/repo
PW='correct horse battery'
MARK="MARKER-$(cut -d' ' -f1 /proc/uptime | tr -d .)-$$"
[ -x $H ] || fail "mtpbur-host is not in the image"
[ -x /usr/bin/age ] && [ -x /usr/bin/script ] || fail "age or script is not in the image"
json_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\)\"\{0,1\}[,}].*/\1/p" "$2" | head -n1; }
top_names() { bk_tree_only; awk '$1 == 0 { print $3 }' /tmp/work/tree.txt | sort | tr '\n' ' '; }
host() {
    _n=$1; shift
    $H "$@" > /tmp/work/$_n.out 2> /tmp/work/$_n.err; _rc=$?
    say "mtpbur-host $* -> $_rc: $(head -c 400 /tmp/work/$_n.out) $(tail -c 400 /tmp/work/$_n.err)"
    return $_rc
}

owners_install_seed || fail "reference owners could not be installed"
echo "$MARK" > $OWNERS_DRIVE/private/20000020/marker.txt
start_daemon
bk_init || fail "no Backup storage"
t=$(now)
echo "$PW" | host on encryption on || fail "encryption on failed: $(cat /tmp/work/on.err)"
grep -q "encryption is on" /tmp/work/on.out || fail "encryption on: $(cat /tmp/work/on.out)"
bk_status; [ "$(bk_field encryption)" = on ] || fail "status.toml: encryption = $(bk_field encryption)"
report "mtpbur-host encryption on (password on stdin)" ok 0 "$(elapsed $t)"

host base --json backup $REPO || fail "backup failed: $(cat /tmp/work/base.err)"
SET=$(json_field set /tmp/work/base.out)
DIR=$REPO/VM0001/$SET
[ -f $DIR/key.age ] || fail "the set has no key.age"
head -c 6 $DIR/manifest.toml | grep -q '^mac = ' || fail "the manifest is not sealed"
n=0
for u in $(find $DIR -name '*.unit'); do
    head -c 22 "$u" | grep -q '^age-encryption.org/v1' || fail "$u is not an age file"
    grep -q "$MARK" "$u" && fail "$u holds the marker in plain text"
    grep -q "app.key" "$u" && fail "$u holds a settings key in plain text"
    n=$((n + 1))
done
[ $n -ge 6 ] || fail "only $n units"
report "encrypted backup: $n units, all age, no plaintext" ok "$(units_bytes $DIR)" 0
owners_dump /tmp/work/dump-backup || fail "dump failed"

# The standard age tool: the password opens key.age, which decrypts a unit. age asks on
# a terminal: script gives it one (devpts for the pseudo-terminal).
mountpoint -q /dev/pts 2>/dev/null || { mkdir -p /dev/pts; mount -t devpts devpts /dev/pts; }
unit=$DIR/20000020/c/passive-base.unit
(sleep 2; echo "$PW") | script -qec "age -d -i $DIR/key.age -o /tmp/work/plain.unit $unit" /dev/null > /tmp/work/age.log 2>&1
[ -s /tmp/work/plain.unit ] || fail "age did not decrypt the unit: $(cat /tmp/work/age.log)"
grep -q "$MARK" /tmp/work/plain.unit || fail "the decrypted unit does not hold the marker"
report "age -d -i key.age: a unit decrypted with the password" ok "$(size_of $unit)" 0

owners_change || fail "ref-data change failed"
owners_dump /tmp/work/dump-changed || fail "dump failed"
echo "wrong password" | host wrong restore $REPO; rc=$?
[ $rc -eq 1 ] || fail "a wrong password exited $rc"
grep -q "wrong backup password" /tmp/work/wrong.err || fail "wrong password: $(cat /tmp/work/wrong.err)"
[ "$(top_names)" = "README.txt owners.toml requests status.toml " ] || fail "a wrong password uploaded: $(top_names)"

# A host rewrites a unit and its manifest line consistently, and uploads the set with
# the stock tools: the manifest no longer authenticates.
rm -rf /tmp/work/forged && cp -r $DIR /tmp/work/forged
f=/tmp/work/forged/20000020/c/passive-base.unit
old=$(sha256sum $f | cut -d' ' -f1)
printf 'X' | dd of=$f bs=1 seek=200 conv=notrunc 2>/dev/null
new=$(sha256sum $f | cut -d' ' -f1)
sed -i "s/$old/$new/" /tmp/work/forged/manifest.toml
grep -q "$new" /tmp/work/forged/manifest.toml || fail "the forged manifest was not rewritten"
bk_upload_set /tmp/work/forged "$SET" || fail "uploading the forged set failed"
mkdir -p /tmp/work/req
printf 'source = "%s"\nscope = "full"\npassword = "%s"\n' "$SET" "$PW" > /tmp/work/req/restore.request
bk_request /tmp/work/req/restore.request || true
bk_wait || fail "the forged restore did not end"
[ "$BK_STATE" = failed ] || fail "the forged set was restored ($BK_STATE)"
bk_field last_error | grep -q "does not authenticate" || fail "forged set: $(bk_field last_error)"
owners_dump /tmp/work/dump-after-forged || fail "dump failed"
cmp -s /tmp/work/dump-changed /tmp/work/dump-after-forged || fail "the forged restore changed data"
report "wrong password and a forged set: refused, nothing changed" ok 0 0
bk_delete "$SET" || fail "deleting the forged set failed"

owners_destroy || fail "ref-data destroy failed"
t=$(now)
echo "$PW" | host restore --json restore $REPO || fail "restore failed: $(cat /tmp/work/restore.err)"
grep -q '"outcome":"failed"' /tmp/work/restore.out && fail "an owner failed: $(cat /tmp/work/restore.out)"
owners_dump /tmp/work/dump-restored || fail "dump failed"
dumps_equal /tmp/work/dump-backup /tmp/work/dump-restored || fail "restored data differs from the backup's"
report "encrypted restore with the password: data back" ok "$(units_bytes $DIR)" "$(elapsed $t)"

bk_tree
for rid in $(awk '$3 == "restore.request" { print $2 }' /tmp/work/tree.txt); do
    getfile "$rid" /tmp/work/stored.request || fail "stored request unreadable"
    grep -q "$PW" /tmp/work/stored.request && fail "the device stored the password: $(cat /tmp/work/stored.request)"
    grep -q 'password = "\*\*\*' /tmp/work/stored.request || fail "stored request: $(cat /tmp/work/stored.request)"
done

echo "wrong password" | host offwrong encryption off && fail "encryption off with a wrong password was accepted"
echo "$PW" | host off encryption off || fail "encryption off failed: $(cat /tmp/work/off.err)"
bk_status; [ "$(bk_field encryption)" = off ] || fail "after off, status.toml: encryption = $(bk_field encryption)"
note "$n units, all age ciphertext; age -d -i key.age decrypts with the password; wrong password and forged set refused; restore equals the backup"
stop_daemon
pass
