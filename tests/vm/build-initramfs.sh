#!/usr/bin/env bash
# tests/vm/build-initramfs.sh - pack the VM suite's initramfs.
#
# Usage: build-initramfs.sh <firmware-binary> <out.cpio.gz> [SRC[=GUEST_PATH] ...]
#
# The rootfs (staged in a temporary tests/vm/out/rootfs.XXXXXX) holds:
#   /bin            static busybox and its applet links, the firmware as /bin/mtpbur
#   /usr/bin        libmtp's mtp-tools, jmtpfs, fusermount3 (+ fusermount link)
#   /lib*, /usr/lib every shared library `ldd` lists for them, the dynamic loader,
#                   iconv's gconv-modules + UNICODE.so + UTF-16.so, libmagic's magic.mgc,
#                   the C.UTF-8 locale
#   /lib/modules/vm the kernel modules collected by setup.sh, plus their load order
#   /init           tests/vm/init; /scenarios: tests/vm/scenarios/*
#   /etc/mtpbur/profile.toml   board/profiles/dummy_hcd.toml, if the repository has it
#   /usr/lib/mtpbur/owners     the reference owner binaries (ref-record-store, ref-sqlite-app,
#                              ref-hybrid, ref-settings-store: the engine starts an owner's
#                              process_name from this directory, the profile's owners_dir)
#   /usr/local/bin/ref-data    the reference-data fixture (see scenarios/lib.sh, owners_*)
#                              Both come from OWNERS_BIN_DIR (a cargo release directory); when
#                              it is unset the image has no owners (a warning is printed).
#   /usr/local/bin/mtpbur-host the host program (from OWNERS_BIN_DIR too), for 86-host
#   /usr/lib/mtpbur/owners/c-journal, /usr/share/mtpbur/owners/c-journal/
#                              the C reference owner (OWNERS_BIN_DIR) and its registration
#   /etc/vm-suite.env          guest settings passed through from the environment:
#                              MTPBUR_CMD (daemon command line), VM_STORAGE_DESC,
#                              VM_BIG_MB, VM_VERBOSE, RUST_LOG
# Extra files are copied to GUEST_PATH (default /usr/local/bin/<name>), with their
# libraries when they are dynamic executables. Compressed with gzip -1.
set -euo pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$VM_DIR/../.." && pwd)
[ $# -ge 2 ] || { sed -n '2,20s/^# \{0,1\}//p' "$0"; exit 2; }
FW=$1; OUT=$2; shift 2
[ -f "$FW" ] || { echo "firmware binary $FW not found" >&2; exit 1; }
# shellcheck source=/dev/null
. "$VM_DIR/cache/kernel.env"   # KERNEL_MODULES, from setup.sh

# staging directory, unique so that parallel builds do not collide; removed on exit
mkdir -p "$VM_DIR/out"
ROOT=$(mktemp -d "$VM_DIR/out/rootfs.XXXXXX")
# The guest's / (mktemp makes it 0700): data owners run as their own uids and must reach
# their programs and cages.
chmod 755 "$ROOT"
trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/local/bin,lib64,lib/modules/vm,etc/mtpbur,proc,sys,dev,tmp,run,mnt/mtp,srv/mtp,var/lib,scenarios}

# put SRC DEST: copy a file (following symlinks) to DEST inside the rootfs.
put() { mkdir -p "$ROOT$(dirname "$2")"; cp -L "$1" "$ROOT$2"; }
# put_libs BINARY: copy every library ldd lists (and the loader) to the same path.
put_libs() {
    local lib
    for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*' || true); do
        [ -e "$ROOT$lib" ] || put "$lib" "$lib"
    done
}

# busybox (static) with links for all applets that are not real files already
put /bin/busybox /bin/busybox
for a in $(/bin/busybox --list); do
    [ -e "$ROOT/bin/$a" ] || ln -s busybox "$ROOT/bin/$a"
done

# libmtp tools: mtp-getfile & co. are symlinks to mtp-connect (it dispatches on argv[0])
for t in mtp-detect mtp-files mtp-folders mtp-filetree mtp-connect; do
    put /usr/bin/$t /usr/bin/$t; put_libs /usr/bin/$t
done
for t in mtp-newfolder mtp-sendfile mtp-getfile mtp-delfile; do
    ln -s mtp-connect "$ROOT/usr/bin/$t"
done
# age (the standard tool a user decrypts a unit with) and script (a terminal for its
# passphrase prompt), for the encryption scenario
for t in age script; do
    [ -x /usr/bin/$t ] && { put /usr/bin/$t /usr/bin/$t; put_libs /usr/bin/$t; }
done
# FUSE client and its helper
put /usr/bin/jmtpfs /usr/bin/jmtpfs; put_libs /usr/bin/jmtpfs
put /usr/bin/fusermount3 /usr/bin/fusermount3; put_libs /usr/bin/fusermount3
ln -s fusermount3 "$ROOT/usr/bin/fusermount"
ln -s /proc/self/mounts "$ROOT/etc/mtab"
# iconv converters libmtp needs (UCS-2/UTF-16), and libmagic's database for jmtpfs
GCONV=/usr/lib/x86_64-linux-gnu/gconv
for f in gconv-modules UNICODE.so UTF-16.so; do put "$GCONV/$f" "$GCONV/$f"; done
put /usr/lib/file/magic.mgc /usr/lib/file/magic.mgc
# a UTF-8 locale, so the tools handle non-ASCII file names without warnings (LANG=C.UTF-8)
[ -d /usr/lib/locale/C.utf8 ] && mkdir -p "$ROOT/usr/lib/locale" && cp -r /usr/lib/locale/C.utf8 "$ROOT/usr/lib/locale/"
mkdir -p "$ROOT/usr/share/misc"; ln -s ../../lib/file/magic.mgc "$ROOT/usr/share/misc/magic.mgc"
echo "root:x:0:0:root:/:/bin/sh" > "$ROOT/etc/passwd"
echo "root:x:0:" > "$ROOT/etc/group"

# kernel modules in load order
cp "$KERNEL_MODULES"/*.ko "$KERNEL_MODULES/order" "$ROOT/lib/modules/vm/"

# the firmware (static; if it is not, its libraries come along). ldd's output is
# captured first: it exits 1 on a static binary, which pipefail would count as a failure.
is_static() {
    local out
    out=$(ldd "$1" 2>&1 || true)
    grep -qE 'not a dynamic|statically linked' <<< "$out"
}
put "$FW" /bin/mtpbur; chmod 755 "$ROOT/bin/mtpbur"
if ! is_static "$FW"; then
    echo "warning: $FW is dynamically linked; copying its libraries" >&2
    put_libs "$FW"
fi
# the reference data owners and the ref-data fixture (static like the firmware)
OWNER_BINS="ref-record-store ref-sqlite-app ref-hybrid ref-settings-store"
if [ -n "${OWNERS_BIN_DIR:-}" ]; then
    for b in $OWNER_BINS ref-data; do
        [ -f "$OWNERS_BIN_DIR/$b" ] || { echo "$OWNERS_BIN_DIR/$b not found (OWNERS_BIN_DIR)" >&2; exit 1; }
        dst=/usr/lib/mtpbur/owners/$b
        [ $b = ref-data ] && dst=/usr/local/bin/ref-data
        put "$OWNERS_BIN_DIR/$b" "$dst"; chmod 755 "$ROOT$dst"
        if ! is_static "$OWNERS_BIN_DIR/$b"; then
            echo "warning: $OWNERS_BIN_DIR/$b is dynamically linked; copying its libraries" >&2
            put_libs "$OWNERS_BIN_DIR/$b"
        fi
    done
    # the C reference owner (static, see run.sh) and its registration, for 88-c-owner
    if [ -f "$OWNERS_BIN_DIR/c-journal" ]; then
        put "$OWNERS_BIN_DIR/c-journal" /usr/lib/mtpbur/owners/c-journal
        chmod 755 "$ROOT/usr/lib/mtpbur/owners/c-journal"
    else
        echo "warning: $OWNERS_BIN_DIR/c-journal not found: the C owner scenario will fail" >&2
    fi
    put "$REPO/data-owners/owners/c-journal/backup_registration.xml" \
        /usr/share/mtpbur/owners/c-journal/backup_registration.xml
    # the host program, for the host scenario (the guest is also the USB host)
    if [ -f "$OWNERS_BIN_DIR/mtpbur-host" ]; then
        put "$OWNERS_BIN_DIR/mtpbur-host" /usr/local/bin/mtpbur-host
        chmod 755 "$ROOT/usr/local/bin/mtpbur-host"
    else
        echo "warning: $OWNERS_BIN_DIR/mtpbur-host not found: the host scenario will fail" >&2
    fi
else
    echo "warning: OWNERS_BIN_DIR unset: no reference owners or ref-data in the image" >&2
fi
[ -f "$REPO/board/profiles/dummy_hcd.toml" ] &&
    put "$REPO/board/profiles/dummy_hcd.toml" /etc/mtpbur/profile.toml

# guest settings from the environment (single-quoted for sh)
q() { printf "'%s'" "$(printf %s "$1" | sed "s/'/'\\\\''/g")"; }
{
    echo "# written by build-initramfs.sh"
    [ -n "${MTPBUR_CMD:-}" ] && echo "MTPBUR_CMD=$(q "$MTPBUR_CMD")"
    [ -n "${VM_STORAGE_DESC:-}" ] && echo "STORAGE_DESC=$(q "$VM_STORAGE_DESC")"
    [ -n "${VM_BIG_MB:-}" ] && echo "BIG_MB=$(q "$VM_BIG_MB")"
    [ -n "${VM_VERBOSE:-}" ] && echo "VM_VERBOSE=1"
    [ -n "${RUST_LOG:-}" ] && echo "export RUST_LOG=$(q "$RUST_LOG")"
    true
} > "$ROOT/etc/vm-suite.env"

# extra files: SRC[=GUEST_PATH]
for x in "$@"; do
    src=${x%%=*}; dst=/usr/local/bin/$(basename "$src")
    [ "$x" != "$src" ] && dst=${x#*=}
    put "$src" "$dst"
    ldd "$src" >/dev/null 2>&1 && put_libs "$src"
done

# init and scenarios
install -m 755 "$VM_DIR/init" "$ROOT/init"
cp "$VM_DIR"/scenarios/*.sh "$ROOT/scenarios/"

mkdir -p "$(dirname "$OUT")"
(cd "$ROOT" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$OUT"
echo "[initramfs] $OUT: $(du -h "$OUT" | cut -f1) ($(du -sh "$ROOT" | cut -f1) unpacked)" >&2
