#!/usr/bin/env bash
# Checks the systemd unit (firmware/mtpbur.service) offline: its `systemd-analyze
# security` exposure must not exceed the recorded figure (docs/security-systemd.md), and
# `systemd-analyze verify` must find nothing wrong with it. No running systemd is needed.
# Installs systemd with apt-get if systemd-analyze is missing (root or sudo).
#
# Usage: tests/check-unit.sh [unit-file]
# MTPBUR_UNIT_THRESHOLD: the limit in tenths (25 = 2.5); lower it when the unit improves.
set -euo pipefail
cd "$(dirname "$0")/.."
UNIT=${1:-firmware/mtpbur.service}
THRESHOLD=${MTPBUR_UNIT_THRESHOLD:-25}

if ! command -v systemd-analyze >/dev/null; then
    echo "== installing systemd (for systemd-analyze)"
    SUDO=
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd
fi

echo "== systemd-analyze security --offline=true --threshold=$THRESHOLD $UNIT"
if ! out=$(systemd-analyze security --offline=true --threshold="$THRESHOLD" "$UNIT" 2>&1); then
    printf '%s\n' "$out"
    echo "FAIL: exposure above $THRESHOLD/10 (see the table above)" >&2
    exit 1
fi
printf '%s\n' "$out" | tail -n 1

echo "== systemd-analyze verify $UNIT"
# The executables are not installed on a build machine: those complaints are expected.
out=$(systemd-analyze verify "$UNIT" 2>&1) || true
rest=$(printf '%s\n' "$out" | grep -v 'is not executable: No such file or directory' |
    grep -v '^$' || true)
if [ -n "$rest" ]; then
    printf '%s\n' "$rest"
    echo "FAIL: systemd-analyze verify reported problems" >&2
    exit 1
fi
echo "ok"
