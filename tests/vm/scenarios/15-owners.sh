#!/bin/sh
# Scenario owners: the image holds the reference data owners and the ref-data fixture,
# and the fixture works in the guest: install + seed, two dumps of the same data are
# equal, a change and a destroy each change the dump (no daemon, no MTP).
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
pass
