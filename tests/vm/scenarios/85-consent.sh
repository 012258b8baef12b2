#!/bin/sh
# Scenario consent: under access = "consent" the Backup storage shows a host only
# README.txt and status.toml (access = "consent required") and refuses a request, until
# `mtpbur ctl allow` runs on the device; then the host backs up as usual; when the
# consent ends (a short one here) the storage is closed again, and `mtpbur ctl status`
# says so.
# timeout: 300
. /scenarios/lib.sh
. /scenarios/backup-lib.sh
PROFILE=/tmp/work/consent.toml
sed 's/^access = "open".*/access = "consent"/' "$MTPBUR_PROFILE" > $PROFILE
grep -q '^access = "consent"' $PROFILE || fail "the profile has no access line to change"
MTPBUR_CMD="/bin/mtpbur --profile $PROFILE"
top_names() { bk_tree_only; awk '$1 == 0 { print $3 }' /tmp/work/tree.txt | sort | tr '\n' ' '; }

owners_install_seed || fail "reference owners could not be installed"
start_daemon
names=$(top_names)
[ "$names" = "README.txt status.toml " ] || fail "before consent the host sees: $names"
bk_init || fail "no status.toml in the locked Backup storage"
bk_status || fail "status.toml cannot be read"
[ "$(bk_field access)" = "consent required" ] || fail "status.toml: access = $(bk_field access)"
grep -q session /tmp/work/status.toml && fail "the locked status.toml names a session"
mkdir -p /tmp/work/req
printf 'scope = "full"\ntype = "base"\n' > /tmp/work/req/backup.request
bk_request /tmp/work/req/backup.request
[ -z "$(ls /var/lib/mtpbur/spool | grep -v requests)" ] || fail "a request started a session without consent"
/bin/mtpbur ctl status --profile $PROFILE > /tmp/work/ctl.out 2>&1 || fail "ctl status failed: $(cat /tmp/work/ctl.out)"
grep -q "consent required" /tmp/work/ctl.out || fail "ctl status: $(cat /tmp/work/ctl.out)"
say "before consent: host sees [$names], request refused"

t0=$(now)
/bin/mtpbur ctl allow --for 40s --profile $PROFILE > /tmp/work/ctl.out 2>&1 ||
    fail "ctl allow failed: $(cat /tmp/work/ctl.out)"
grep -q "allowed until" /tmp/work/ctl.out || fail "ctl allow: $(cat /tmp/work/ctl.out)"
names=$(top_names)
case $names in *owners.toml*requests*) ;; *) fail "after consent the host sees: $names" ;; esac
bk_run 'scope = "full"\ntype = "base"\nlabel = "allowed"\n' ||
    fail "the backup did not finish while allowed: $(bk_field last_error)"
[ "$(bk_field access)" = allowed ] || fail "status.toml while allowed: access = $(bk_field access)"
[ -n "$(bk_field access_until)" ] || fail "status.toml while allowed has no access_until"
say "allowed: backup $BK_SET done after $(elapsed $t0) s"

# Wait out the 40 s.
while [ "$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print (b - a < 42) }')" = 1 ]; do sleep 1; done
names=$(top_names)
[ "$names" = "README.txt status.toml " ] || fail "after the consent ended the host sees: $names"
/bin/mtpbur ctl status --profile $PROFILE > /tmp/work/ctl.out 2>&1
grep -q "consent required" /tmp/work/ctl.out || fail "ctl status after expiry: $(cat /tmp/work/ctl.out)"
/bin/mtpbur ctl allow --for 2d --profile $PROFILE > /tmp/work/ctl.out 2>&1 &&
    fail "ctl allow --for 2d was accepted"
note "locked: README.txt and status.toml only, request refused; allowed 40 s: backup done; expired: locked again"
stop_daemon
pass
