#!/usr/bin/env bash
# firmware/packaging/deb/build.sh [OUT_DIR] - Debian packages with dpkg-deb, no other tool:
#
#   mtpbur_<version>_<arch>.deb       the device: /usr/bin/mtpbur, the systemd unit,
#                                     /etc/mtpbur/profile.toml (a conffile: the Pi Zero
#                                     example, to be edited), the example profiles and the
#                                     docs in /usr/share/doc/mtpbur, the owner directory
#                                     /usr/lib/mtpbur/owners, the group mtpbur-owners
#   mtpbur-host_<version>_<arch>.deb  the PC: /usr/bin/mtpbur-host and its docs
#
# The binaries are built static (glibc's static libc, +crt-static, as for the VM image),
# so the packages depend on nothing. Environment:
#   DEB_TARGET=triple   cross build (default: the build machine's, x86_64-unknown-linux-gnu
#                       on amd64); see docs/real-board.md for aarch64 and armv7
#   DEB_ARCH=arch       Debian architecture of the packages (default: dpkg's own, or the
#                       one DEB_TARGET implies)
#   MTPBUR_BIN_DIR=dir  take mtpbur and mtpbur-host from here instead of building
# Tested by tests/check-deb.sh (built, listed, installed, run, removed and purged in CI).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
OUT=${1:-$REPO/target/deb}
TARGET=${DEB_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
case "$TARGET" in
    x86_64-*) ARCH_OF_TARGET=amd64 ;;
    aarch64-*) ARCH_OF_TARGET=arm64 ;;
    armv7-*) ARCH_OF_TARGET=armhf ;;
    *) ARCH_OF_TARGET=$(dpkg --print-architecture) ;;
esac
ARCH=${DEB_ARCH:-$ARCH_OF_TARGET}
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/Cargo.toml" | sed -n 1p)
log() { echo "[deb] $*" >&2; }

if [ -n "${MTPBUR_BIN_DIR:-}" ]; then
    BIN=$MTPBUR_BIN_DIR
else
    log "building static mtpbur and mtpbur-host for $TARGET"
    (cd "$REPO" && RUSTFLAGS="-C target-feature=+crt-static" \
        cargo build --release --locked --target "$TARGET" -p firmware --bin mtpbur \
            -p mtpbur-host --bin mtpbur-host)
    BIN=${CARGO_TARGET_DIR:-$REPO/target}/$TARGET/release
fi
for b in mtpbur mtpbur-host; do
    [ -x "$BIN/$b" ] || { log "$BIN/$b missing"; exit 1; }
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

# --- mtpbur (the device) ---------------------------------------------------------------
R=$WORK/mtpbur
install -D -m 755 "$BIN/mtpbur" "$R/usr/bin/mtpbur"
install -D -m 644 "$REPO/firmware/mtpbur.service" "$R/lib/systemd/system/mtpbur.service"
install -D -m 644 "$REPO/board/profiles/raspberry-pi-zero.toml" "$R/etc/mtpbur/profile.toml"
install -d -m 755 "$R/usr/lib/mtpbur/owners" "$R/usr/share/doc/mtpbur/examples"
install -m 644 "$REPO"/board/profiles/*.toml "$R/usr/share/doc/mtpbur/examples/"
install -m 644 "$REPO/README.md" "$REPO"/docs/*.md "$R/usr/share/doc/mtpbur/"
mkdir -p "$R/DEBIAN"
cat > "$R/DEBIAN/control" <<CONTROL
Package: mtpbur
Version: $VERSION
Architecture: $ARCH
Maintainer: mtpbur developers <mtpbur@example.org>
Section: admin
Priority: optional
Installed-Size: $(du -sk "$R" | cut -f1)
Description: MTP device with a Backup storage for embedded Linux boards
 mtpbur makes the board a USB MTP device through FunctionFS. Next to ordinary file
 storages it serves a Backup storage: a PC starts backups and restores of the
 board's applications (data owners) with stock MTP tools or mtpbur-host.
 Edit /etc/mtpbur/profile.toml (USB ids, UDC, drives), then
 systemctl enable --now mtpbur.
CONTROL
echo /etc/mtpbur/profile.toml > "$R/DEBIAN/conffiles"
cat > "$R/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    # Data owners connect to the engine's socket as members of this group (the profile's
    # owner_group; docs/board-profiles.md).
    getent group mtpbur-owners >/dev/null || groupadd --system mtpbur-owners
    install -d -m 0755 /var/lib/mtpbur
    if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
fi
exit 0
POSTINST
cat > "$R/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    systemctl stop mtpbur.service 2>/dev/null || true
fi
exit 0
PRERM
cat > "$R/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
# Purging removes the configuration; backup sets and owners' data in /var/lib/mtpbur stay.
if [ "$1" = purge ]; then rm -rf /etc/mtpbur; fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
exit 0
POSTRM
chmod 755 "$R/DEBIAN/postinst" "$R/DEBIAN/prerm" "$R/DEBIAN/postrm"
dpkg-deb --root-owner-group -Zxz --build "$R" "$OUT/mtpbur_${VERSION}_${ARCH}.deb" >/dev/null

# --- mtpbur-host (the PC) ---------------------------------------------------------------
H=$WORK/mtpbur-host
install -D -m 755 "$BIN/mtpbur-host" "$H/usr/bin/mtpbur-host"
install -D -m 644 "$REPO/docs/host-program.md" "$H/usr/share/doc/mtpbur-host/host-program.md"
install -m 644 "$REPO/docs/host-guide.md" "$H/usr/share/doc/mtpbur-host/"
mkdir -p "$H/DEBIAN"
cat > "$H/DEBIAN/control" <<CONTROL
Package: mtpbur-host
Version: $VERSION
Architecture: $ARCH
Maintainer: mtpbur developers <mtpbur@example.org>
Section: utils
Priority: optional
Installed-Size: $(du -sk "$H" | cut -f1)
Description: back up and restore mtpbur devices from a PC
 mtpbur-host backs up, restores, lists, verifies and extracts the application data
 of an mtpbur device over USB, into a repository of sets on the PC.
CONTROL
dpkg-deb --root-owner-group -Zxz --build "$H" "$OUT/mtpbur-host_${VERSION}_${ARCH}.deb" >/dev/null
log "$OUT/mtpbur_${VERSION}_${ARCH}.deb"
log "$OUT/mtpbur-host_${VERSION}_${ARCH}.deb"
