#!/usr/bin/env bash
# Builds the Debian packages (firmware/packaging/deb/build.sh), checks what they hold,
# installs them on this machine, runs what they installed (the profile check, the host
# program's help), then removes and purges them. Root (or sudo) for dpkg -i.
# MTPBUR_BIN_DIR: reuse built static binaries (tests/all.sh passes the VM build's).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
firmware/packaging/deb/build.sh "$OUT"
DEB=$(ls "$OUT"/mtpbur_*.deb)
HOSTDEB=$(ls "$OUT"/mtpbur-host_*.deb)
fail() { echo "check-deb: $*" >&2; exit 1; }
list=$(dpkg-deb -c "$DEB")
for f in ./usr/bin/mtpbur ./lib/systemd/system/mtpbur.service ./etc/mtpbur/profile.toml \
         ./usr/lib/mtpbur/owners/ ./usr/share/doc/mtpbur/security.md \
         ./usr/share/doc/mtpbur/examples/dummy_hcd.toml; do
    grep -q " $f\$" <<< "$list" || fail "$DEB lacks $f"
done
grep -q "root/root" <<< "$list" || fail "files are not root's"
# Each command's output is captured before grep reads it: under pipefail, grep -q
# leaving at its first match can kill the writer with SIGPIPE and fail the pipeline.
depends=$(dpkg-deb -f "$DEB" Depends)
[ -z "$depends" ] || fail "mtpbur depends on something: $depends"
info=$(dpkg-deb --info "$DEB")
grep -q "conffiles" <<< "$info" || fail "no conffiles"

$SUDO dpkg -i "$DEB" "$HOSTDEB"
version=$(/usr/bin/mtpbur --version)
grep -q mtpbur <<< "$version" || fail "mtpbur --version"
/usr/bin/mtpbur --profile /etc/mtpbur/profile.toml --check > /dev/null || fail "the installed profile does not check"
help=$(/usr/bin/mtpbur-host --help)
grep -q "backup" <<< "$help" || fail "mtpbur-host --help"
getent group mtpbur-owners > /dev/null || fail "no group mtpbur-owners"
$SUDO dpkg -r mtpbur mtpbur-host
[ -e /usr/bin/mtpbur ] && fail "mtpbur still installed after removal"
[ -e /etc/mtpbur/profile.toml ] || fail "removal took the conffile (only purge may)"
$SUDO dpkg -P mtpbur mtpbur-host
[ -e /etc/mtpbur ] && fail "purge left /etc/mtpbur"
echo "check-deb: $(basename "$DEB") and $(basename "$HOSTDEB"): contents, install, run, remove, purge ok"
