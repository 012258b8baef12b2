#!/usr/bin/env bash
# tests/vm/demo.sh - the product's story on a fresh machine, in one command.
#
# Installs what the VM needs (Debian packages, the cached Debian kernel), builds the
# firmware and the reference data owners, boots the emulated USB gadget (dummy_hcd) in
# QEMU and, with nothing but libmtp's stock tools and a jmtpfs mount as the "PC":
#   backup          full base backup, copied out and checked against its SHA-256s;
#                   data changed; incremental backup; data destroyed; both sets
#                   uploaded again; restore of base + increment; data compared
#   backup-partial  backup and restore of one owner; the others untouched
#   backup-refusals garbage request, unknown SID, missing folder, tampered set: refused
#                   with the reason in status.toml, nothing changed
#   backup-jmtpfs   the same backup and restore with cp / cp -r on a FUSE mount
#   backup-stream   a backup with 48 MiB of video copied out while it is captured
# then with the project's host program, mtpbur-host:
#   host            backup into a repository, increment, restore, extract, refusals
#   encryption      a backup password: age ciphertext, the age tool, forged sets refused
#   c-owner         a data owner written in C (libmtpbur_owner) beside the Rust ones
# and prints a report: each step, its result, the bytes moved and the time.
# Usage: tests/vm/demo.sh    (same environment variables as tests/vm/run.sh)
set -euo pipefail
VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export VM_OUT=${VM_OUT:-$VM_DIR/out/demo}
mkdir -p "$VM_OUT"
set +e
"$VM_DIR/run.sh" backup backup-partial backup-refusals backup-jmtpfs backup-stream host encryption c-owner > "$VM_OUT/demo.log" 2>&1
rc=$?
set -e
echo "===== mtpbur demo: backup and restore through MTP with stock host tools and mtpbur-host"
echo "(full output: $VM_OUT/demo.log; guest console: $VM_OUT/console.log)"
echo
awk '
    /^--- [a-z-]+ \(timeout/ {
        printf "\n%s\n    %-58s %-6s %12s %9s\n", $2, "step", "result", "bytes", "time"; next
    }
    /^    [a-zA-Z].* (ok|FAIL) +[0-9]+ B +[0-9.]+ s/ { print; next }
    /^(PASS|FAIL) / { print "  => " $0 }
' "$VM_OUT/console.log" 2>/dev/null || true
echo
tail -n 1 "$VM_OUT/demo.log"
exit $rc
