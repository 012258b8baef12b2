#!/usr/bin/env bash
# tests/vm/setup.sh - install and cache everything the dummy_hcd VM suite needs.
#
# Idempotent; safe to run before every suite run:
#   1. installs the Debian packages below when `dpkg -s` says they are missing
#      (one `apt-get update`, then `apt-get install --no-install-recommends`);
#   2. downloads the Debian 6.1 kernel package (`linux-image-6.1.0-NN-amd64`, the
#      version `linux-image-amd64` currently depends on) with `apt-get download`
#      into tests/vm/cache/ and unpacks it with `dpkg -x`, skipped when cached;
#   3. checks the kernel config (dummy_hcd, FunctionFS), keeps vmlinuz, config and the
#      gadget/FUSE modules (decompressing .ko.xz/.ko.zst) in tests/vm/cache/kernel-<version>/
#      (about 10 MB; the unpacked tree is deleted, the .deb is kept) and writes
#      tests/vm/cache/kernel.env (KERNEL_VERSION, KERNEL_IMAGE, KERNEL_MODULES).
#
# Environment:
#   VM_KERNEL_PKG=linux-image-6.1.0-NN-amd64   use this kernel package instead of the candidate
#
# Needs root (or sudo) only when something has to be installed. Network: only the
# Debian package mirrors configured in apt.
set -euo pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=$VM_DIR/cache
mkdir -p "$CACHE"

# Host packages: emulator, guest userland, host-side MTP tools and their runtime files.
PACKAGES=(qemu-system-x86 busybox-static cpio gzip mtp-tools jmtpfs fuse3 libmagic-mgc xz-utils zstd age)
# Kernel modules the guest loads, in load order (file names without .ko).
# The virtio disk and ext4 modules are for the power-cut test (tests/vm/powercut.sh);
# usbmon traces the bus for tests/vm/bench.sh (bench/usbmon.sh).
MODULES=(configfs usb-common usbcore usbmon udc-core dummy_hcd libcomposite usb_f_fs fuse
    virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk
    crc16 mbcache jbd2 crc32c_generic ext4)

log() { echo "[setup] $*" >&2; }
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
APT_UPDATED=0
apt_update_once() {
    [ "$APT_UPDATED" -eq 1 ] && return 0
    log "apt-get update"
    $SUDO apt-get update -qq
    APT_UPDATED=1
}

# --- 1. packages -------------------------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    t0=$SECONDS
    apt_update_once
    log "installing: ${missing[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    log "packages installed in $((SECONDS - t0)) s"
else
    log "packages: all present"
fi

# --- 2. kernel package -------------------------------------------------------
# The 6.1 kernel that the `linux-image-amd64` metapackage points at (falls back to
# the highest-numbered linux-image-6.1.0-NN-amd64 that apt knows).
kernel_candidate() {
    local pkg
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-6\.1\.0-[0-9]*-amd64\)$/\1/p' | sed -n 1p)
    if [ -z "$pkg" ]; then
        pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' |
            awk '{print $1}' | sort -V | tail -n1)
    fi
    echo "$pkg"
}

KPKG=${VM_KERNEL_PKG:-}
if [ -z "$KPKG" ] && [ -f "$CACHE/kernel.env" ]; then
    # Reuse the cached kernel if it is still complete: no apt access at all.
    # shellcheck source=/dev/null
    . "$CACHE/kernel.env"
    if [ -f "${KERNEL_IMAGE:-/nonexistent}" ] && [ -f "$KERNEL_MODULES/order" ] &&
        [ "$(tr '\n' ' ' < "$KERNEL_MODULES/order")" = "${MODULES[*]} " ]; then
        log "kernel: cached $KERNEL_VERSION ($KERNEL_IMAGE)"
        exit 0
    fi
    # The module list changed: extract the same kernel again from its cached package.
    rm -f "${KERNEL_MODULES:-/nonexistent}/order"
    [ -n "${KERNEL_VERSION:-}" ] && KPKG=linux-image-$KERNEL_VERSION
fi
[ -n "$KPKG" ] || KPKG=$(kernel_candidate)
[ -n "$KPKG" ] || { apt_update_once; KPKG=$(kernel_candidate); }
[ -n "$KPKG" ] || { log "no linux-image-6.1.0-*-amd64 package known to apt"; exit 1; }
KVER=${KPKG#linux-image-}
KDIR=$CACHE/kernel-$KVER

# apt_download PKG: apt-get download into the cache (quiet; true if the .deb is there).
apt_download() {
    (cd "$CACHE" && { apt-get download -qq "$1" 2>&1 | grep -v unsandboxed >&2 || true; } &&
        ls "$1"_*.deb >/dev/null 2>&1)
}

if [ ! -f "$KDIR/modules/order" ] || [ ! -f "$KDIR/vmlinuz" ]; then
    deb=$(ls "$CACHE"/"${KPKG}"_*.deb 2>/dev/null | sed -n 1p || true)
    if [ -z "$deb" ]; then
        t0=$SECONDS
        log "downloading $KPKG"
        if ! apt_download "$KPKG"; then
            # A stale package list may name a file the mirror no longer has: update, retry.
            apt_update_once
            KPKG=${VM_KERNEL_PKG:-$(kernel_candidate)}; KVER=${KPKG#linux-image-}; KDIR=$CACHE/kernel-$KVER
            apt_download "$KPKG"
        fi
        deb=$(ls "$CACHE"/"${KPKG}"_*.deb | sed -n 1p)
        log "downloaded $(basename "$deb") ($(du -h "$deb" | cut -f1)) in $((SECONDS - t0)) s"
    fi

    # --- 3. kernel image, config check, modules --------------------------------
    log "extracting $(basename "$deb")"
    x=$CACHE/extract.tmp
    rm -rf "$x" "$KDIR"
    mkdir -p "$x" "$KDIR/modules"
    dpkg -x "$deb" "$x"
    cp "$x"/boot/vmlinuz-* "$KDIR/vmlinuz"
    cp "$x"/boot/config-* "$KDIR/config"
    for opt in CONFIG_USB_DUMMY_HCD=m CONFIG_USB_FUNCTIONFS=m CONFIG_USB_CONFIGFS_F_FS=y; do
        grep -qx "$opt" "$KDIR/config" || { log "kernel $KVER lacks $opt"; exit 1; }
    done
    : > "$KDIR/modules/order.tmp"
    for m in "${MODULES[@]}"; do
        src=$(find "$x/lib/modules" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" | sed -n 1p)
        if [ -z "$src" ]; then
            # Not shipped as a module: the guest init skips it (fine if built in).
            log "warning: module $m not found in $KPKG (built in?)"
            continue
        fi
        case $src in
        *.ko.xz) xz -dc "$src" > "$KDIR/modules/$m.ko" ;;
        *.ko.zst) zstd -qdc "$src" > "$KDIR/modules/$m.ko" ;;
        *) cp "$src" "$KDIR/modules/$m.ko" ;;
        esac
        echo "$m" >> "$KDIR/modules/order.tmp"
    done
    mv "$KDIR/modules/order.tmp" "$KDIR/modules/order"
    rm -rf "$x"   # keep only what the VM needs (and the .deb)
fi

cat > "$CACHE/kernel.env" <<EOF
KERNEL_VERSION=$KVER
KERNEL_IMAGE=$KDIR/vmlinuz
KERNEL_MODULES=$KDIR/modules
EOF
log "kernel: $KVER ready (modules: $(tr '\n' ' ' < "$KDIR/modules/order"))"
