#!/usr/bin/env bash
# Runs every test: formatting and lints, the workspace's cargo tests, the systemd unit's
# offline check, a short fuzzing run, then the VM suite (the real gadget stack under
# QEMU, driven by libmtp's tools and mtpbur-host), the Debian packages, two power cuts on ext4 in the VM, two SIGKILLs of the
# daemon mid-session and a four-cycle soak (the long runs: docs/RELIABILITY.md). This is
# the README's test command; .ci/run calls it. The VM suite installs its own Debian packages (root or sudo needed the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test --workspace"
cargo test --workspace --locked
echo "== the systemd unit (tests/check-unit.sh: systemd-analyze security and verify)"
tests/check-unit.sh
echo "== fuzzing, short run (FUZZ_SEED=${FUZZ_SEED:-1} fuzz/run.sh 30: every target 30 s; fuzz/run.sh 600 for a long run)"
fuzz/run.sh 30
echo "== VM suite (tests/vm/run.sh)"
tests/vm/run.sh
echo "== Debian packages (tests/check-deb.sh: built from the VM suite's static binaries, installed, run, purged)"
MTPBUR_BIN_DIR=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release tests/check-deb.sh
echo "== power cuts (tests/vm/powercut.sh 2: one during a backup, one during a restore)"
tests/vm/powercut.sh 2
echo "== SIGKILL mid-session (tests/vm/kill.sh 2: one backup, one restore; 100 rounds by hand)"
tests/vm/kill.sh 2
echo "== soak (tests/vm/soak.sh 4: backup/restore cycles, memory and descriptors flat; 100 by hand)"
tests/vm/soak.sh 4
