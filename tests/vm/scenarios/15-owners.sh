#!/bin/sh
# Scenario owners: the image holds the reference data owners and the ref-data fixture,
# and the fixture works in the guest: install + seed, two dumps of the same data are
# equal, a change and a destroy each change the dump; verify_set accepts a well-formed set
# and names a damaged unit and an unlisted file (no daemon, no MTP).
# timeout: 120
. /scenarios/lib.sh
for b in ref-record-store ref-sqlite-app ref-hybrid ref-settings-store; do
    [ -x /usr/lib/mtpbur/owners/$b ] || fail "owner $b missing in /usr/lib/mtpbur/owners"
done
# an owner started outside the engine runs (static) and refuses for lack of SBE_* variables
/usr/lib/mtpbur/owners/ref-record-store > /tmp/work/owner.out 2>&1
rc=$?; cat /tmp/work/owner.out >> "$LOG"
[ $rc -eq 1 ] && grep -q "SBE_" /tmp/work/owner.out || fail "ref-record-store does not run (status $rc)"

owners_install_seed || fail "ref-data install + seed failed"
owners_dump /tmp/work/seeded || fail "dump failed"
owners_dump /tmp/work/seeded2 || fail "second dump failed"
cmp /tmp/work/seeded /tmp/work/seeded2 >> "$LOG" 2>&1 || fail "two dumps of the same data differ"
n=$(grep -c ' record ' /tmp/work/seeded); [ "$n" = 300 ] || fail "$n records seeded, expected 300"
n=$(grep -c ' row notes ' /tmp/work/seeded); [ "$n" = 200 ] || fail "$n rows seeded, expected 200"
n=$(grep -c ' public ' /tmp/work/seeded); [ "$n" = 3 ] || fail "$n public files seeded, expected 3"
owners_install_seed || fail "second install + seed failed"
owners_dump /tmp/work/reseeded || fail "dump failed"
cmp /tmp/work/seeded /tmp/work/reseeded >> "$LOG" 2>&1 || fail "seed is not deterministic"

owners_change || fail "ref-data change failed"
owners_dump /tmp/work/changed || fail "dump after change failed"
cmp -s /tmp/work/seeded /tmp/work/changed && fail "change left the dump as it was"
n=$(diff /tmp/work/seeded /tmp/work/changed | grep -c '^[-+][^-+]')
say "change: $n dump lines differ"
[ "$n" -gt 0 ] && [ "$n" -lt 40 ] || fail "change altered $n dump lines, expected a few"

owners_destroy || fail "ref-data destroy failed"
owners_dump /tmp/work/destroyed || fail "dump after destroy failed"
cmp -s /tmp/work/changed /tmp/work/destroyed && fail "destroy left the dump as it was"
grep -v ' key 20000030 device\.' /tmp/work/destroyed >> "$LOG" &&
    fail "data left after destroy (besides the device-only keys)"
[ -f $OWNERS_DRIVE/private/20000001/backup_registration.xml ] || fail "destroy removed a registration"

# verify_set on a hand-made set (two units of the engine's manifest format)
set=/tmp/work/set; mkdir -p $set/20000001/c $set/20000020/c
randfile $set/20000001/c/active-base.unit 3000
randfile $set/20000020/c/public.unit 100
{
    printf 'format = 1\nsession = "s"\n\n[[owners]]\nsid = "20000001"\noutcome = "ok"\n'
    for u in 20000001/c/active-base 20000020/c/public; do
        printf '\n[[units]]\nsid = "%s"\ndrive = "c"\nkind = "%s"\nsize = %s\n' \
            "${u%%/*}" "${u##*/}" "$(size_of $set/$u.unit)"
        printf 'raw_size = 1\nsha256 = "%s"\ncompressed = true\n' "$(sha256sum < $set/$u.unit | cut -d' ' -f1)"
    done
} > $set/manifest.toml
echo "not a unit" > $set/README.txt
verify_set $set || fail "verify_set refused a good set: $VERIFY_ERR"
printf x | dd of=$set/20000020/c/public.unit bs=1 seek=5 conv=notrunc 2>/dev/null
verify_set $set && fail "verify_set accepted a damaged unit"
case $VERIFY_ERR in *"20000020/c/public.unit has SHA-256"*) ;; *) fail "verify_set: '$VERIFY_ERR'" ;; esac
randfile $set/20000020/c/public.unit 100; sed -i '/^\[\[units\]\]/,$d' $set/manifest.toml
verify_set $set && fail "verify_set accepted unlisted unit files"
case $VERIFY_ERR in *"is not listed"*) ;; *) fail "verify_set: '$VERIFY_ERR'" ;; esac
pass
