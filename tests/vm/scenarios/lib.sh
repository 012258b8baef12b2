# tests/vm/scenarios/lib.sh - helpers for the guest-side scenarios (busybox sh).
#
# Each scenario is a small script run by run-all.sh as `sh /scenarios/NN-name.sh`; it
# sources this file, prepares device-side files, starts the daemon, drives the libmtp
# tools / jmtpfs as the USB host and ends with `pass` or `fail "reason"`, which print
# the verdict line (`PASS name` / `FAIL name: reason`) and exit. Tool output goes to the
# scenario log ($LOG); run-all.sh prints its tail when a scenario fails.
#
# Settings may be overridden by /etc/vm-suite.env (written by build-initramfs.sh).

# --- settings ---------------------------------------------------------------
MTPBUR_PROFILE=/etc/mtpbur/profile.toml              # the daemon's board profile
MTPBUR_CMD="/bin/mtpbur --profile $MTPBUR_PROFILE"  # how the daemon is started
STORE=/srv/mtp/internal        # device-side directory of the writable storage
STORAGE_DESC=Internal          # its storage description (as mtp-detect/jmtpfs show it)
MNT=/mnt/mtp                   # jmtpfs mount point
BIG_MB=1024                    # size of the "big file each way" scenario
DAEMON_LOG=/tmp/logs/daemon.log
export RUST_LOG=${RUST_LOG:-info} NO_COLOR=1
[ -f /etc/vm-suite.env ] && . /etc/vm-suite.env

NAME=$(basename "$0" .sh); NAME=${NAME#[0-9][0-9]-}
LOG=/tmp/logs/$NAME.log
VERDICT=/tmp/logs/$NAME.verdict
mkdir -p /tmp/logs /tmp/work
DAEMON_PID=

# --- verdicts and logging ----------------------------------------------------
# say MSG: a line in the scenario log (with the guest uptime).
say() { echo "[$(cut -d' ' -f1 /proc/uptime)s] $*" >> "$LOG"; }
pass() {
    stop_daemon
    echo "PASS $NAME" | tee "$VERDICT"
    exit 0
}
fail() {
    say "FAIL: $*"
    stop_daemon
    echo "FAIL $NAME: $*" | tee "$VERDICT"
    exit 1
}
# check DESCRIPTION COMMAND...: run COMMAND (output to the log), fail with DESCRIPTION if it fails.
check() {
    _d=$1; shift
    say "check: $_d ($*)"
    "$@" >> "$LOG" 2>&1 || fail "$_d"
}
# run TOOL ARGS...: run a host tool with a timeout; its output goes to the log and to
# /tmp/work/out (for grepping). Returns the tool's exit status (the libmtp examples
# mostly exit 0 even on errors: check their output and the files).
run() {
    say "run: $*"
    timeout "${RUN_TIMEOUT:-120}" "$@" > /tmp/work/out 2>&1; _rc=$?
    # keep only the last of the tools' "Progress: N of M" lines in the log
    tr '\r' '\n' < /tmp/work/out | awk '/^Progress:/ { p = $0; next }
        { if (p != "") print p; p = ""; print } END { if (p != "") print p }' >> "$LOG"
    say "exit status $_rc"
    return $_rc
}
# out_has REGEX: the last run's output matches the extended regex.
out_has() { tr '\r' '\n' < /tmp/work/out | grep -Eq "$1"; }

# --- the daemon (USB device side) ----------------------------------------------
usb_dev=/sys/bus/usb/devices/1-1   # the gadget as seen by dummy_hcd's host side

# wait_enumerated [SECONDS]: wait until the host side has enumerated the gadget.
wait_enumerated() {
    _n=$(( ${1:-20} * 10 ))
    while [ $_n -gt 0 ]; do
        [ -e $usb_dev/idVendor ] && [ -e $usb_dev/1-1:1.0/bInterfaceClass ] && return 0
        [ -n "$DAEMON_PID" ] && ! kill -0 "$DAEMON_PID" 2>/dev/null && { say "daemon died"; return 1; }
        sleep 0.1; _n=$((_n - 1))
    done
    say "gadget not enumerated within ${1:-20} s"; return 1
}
# wait_gone [SECONDS]: wait until the host side no longer sees the gadget.
wait_gone() {
    _n=$(( ${1:-20} * 10 ))
    while [ $_n -gt 0 ]; do
        [ -e $usb_dev/idVendor ] || return 0
        sleep 0.1; _n=$((_n - 1))
    done
    return 1
}
# start_daemon: start the daemon in the background and wait for host enumeration.
start_daemon() {
    echo "=== $NAME: $MTPBUR_CMD" >> "$DAEMON_LOG"
    ( eval "exec $MTPBUR_CMD" ) >> "$DAEMON_LOG" 2>&1 &
    DAEMON_PID=$!
    echo "$DAEMON_PID" > /run/vm-daemon.pid
    say "daemon started (pid $DAEMON_PID)"
    wait_enumerated || fail "gadget not enumerated after daemon start"
    say "enumerated: $(cat $usb_dev/idVendor):$(cat $usb_dev/idProduct) '$(cat $usb_dev/product 2>/dev/null)' speed $(cat $usb_dev/speed)"
}
# stop_daemon: SIGTERM, then wait up to 10 s (SIGKILL after that); returns 1 if it had to kill.
stop_daemon() {
    [ -n "$DAEMON_PID" ] || return 0
    _pid=$DAEMON_PID; DAEMON_PID=
    mounted $MNT && { fusermount -u $MNT 2>/dev/null || umount -l $MNT; }
    kill -TERM "$_pid" 2>/dev/null || return 0
    _n=100
    while kill -0 "$_pid" 2>/dev/null && [ $_n -gt 0 ]; do sleep 0.1; _n=$((_n - 1)); done
    rm -f /run/vm-daemon.pid
    if kill -0 "$_pid" 2>/dev/null; then
        say "daemon ignored SIGTERM for 10 s: SIGKILL"
        kill -KILL "$_pid"; return 1
    fi
    say "daemon stopped"
}
# mounted DIR: DIR is a mount point.
mounted() { grep -q " $1 " /proc/mounts; }
# gadget_udc_file: the configfs UDC attribute of the (single) registered gadget.
gadget_udc_file() { ls -d /sys/kernel/config/usb_gadget/*/UDC 2>/dev/null | head -n1; }

# --- host-side MTP helpers ------------------------------------------------------
# mtp_id NAME: object id of the file or folder NAME (first match), from mtp-files/mtp-folders output.
mtp_id() {
    run mtp-files >/dev/null 2>&1
    _id=$(tr '\r' '\n' < /tmp/work/out | awk -v n="$1" '
        /^File ID:/ { id = $3 }
        /^ *Filename:/ { sub(/^ *Filename: /, ""); if ($0 == n) { print id; exit } }')
    if [ -z "$_id" ]; then
        run mtp-folders >/dev/null 2>&1
        # mtp-folders prints "ID<TAB>name", indented by depth
        _id=$(tr '\r' '\n' < /tmp/work/out | awk -v n="$1" -F'\t' '
            $1 ~ /^[0-9]+$/ { nm = $2; sub(/^ +/, "", nm); if (nm == n) { print $1; exit } }')
    fi
    echo "$_id"
}
# getfile ID DEST: mtp-getfile and check that DEST exists.
getfile() {
    rm -f "$2"
    run mtp-getfile "$1" "$2"
    ! out_has "Error" && [ -f "$2" ]
}
# sendfile LOCAL [FOLDER]: mtp-sendfile into the root or into FOLDER (a folder path like
# "inbox" or "a/b"). libmtp names the object after LOCAL's basename; the remote argument
# only picks the parent: "/FOLDER" is looked up as a folder path, a name without a
# leading "/" means the root.
sendfile() {
    if [ -n "${2:-}" ]; then _to=/$2; else _to=$(basename "$1"); fi
    run mtp-sendfile "$1" "$_to"
    out_has "New file ID: [0-9]+" && ! out_has "Error|could not be found"
}

# --- test data -------------------------------------------------------------------
# randfile FILE BYTES: random content (small files; /dev/urandom is slow under TCG).
randfile() {
    if [ "$2" -gt 0 ]; then dd if=/dev/urandom of="$1" bs="$2" count=1 2>/dev/null; else : > "$1"; fi
}
# patternfile FILE BYTES: big file made of one random block of an odd length
# (1 MiB + 4093 bytes) repeated, so that a lost, duplicated or reordered chunk of any
# power-of-two size changes the content, and it is quick to make under TCG.
patternfile() {
    _blk=/tmp/work/pattern.blk
    [ -f $_blk ] || randfile $_blk 1052669
    _n=$(( $2 / 1052669 + 1 )); _i=0
    # (not `| head -c`: busybox head copies byte by byte, 10x slower under TCG)
    while [ $_i -lt $_n ]; do cat $_blk; _i=$((_i + 1)); done > "$1"
    truncate -s "$2" "$1"
}
# same FILE1 FILE2: byte-for-byte comparison (logged). Big files are compared by size
# and md5sum (busybox cmp reads byte by byte: 20 MB/s under TCG, md5sum 80 MB/s); cmp
# then only runs to log the first difference.
same() {
    say "compare $1 $2"
    [ -f "$1" ] && [ -f "$2" ] || { say "missing: $(ls -l "$1" "$2" 2>&1)"; return 1; }
    if [ "$(size_of "$1")" -gt 4194304 ] && [ "$(size_of "$1")" = "$(size_of "$2")" ] &&
        [ "$(md5 "$1")" = "$(md5 "$2")" ]; then
        return 0
    fi
    cmp "$1" "$2" >> "$LOG" 2>&1
}
md5() { md5sum < "$1" | cut -d' ' -f1; }
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
# elapsed T0: seconds since T0 (a /proc/uptime value), with 2 decimals.
now() { cut -d' ' -f1 /proc/uptime; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# --- background transfers ----------------------------------------------------------
# note MSG: an informational line on the console (and in the log).
note() { echo "    note $NAME: $*"; say "note: $*"; }
# progress_of OUTFILE / progress_total OUTFILE: N and M of the last complete
# "Progress: N of M (P%)" line of a libmtp tool (its stdout is block-buffered in a file,
# so the last line may be cut short).
_progress() { tr '\r' '\n' < "$1" | sed -n 's/^Progress: \([0-9]*\) of \([0-9]*\) (.*/\1 \2/p' | tail -n1; }
progress_of() { _progress "$1" | cut -d' ' -f1; }
progress_total() { _progress "$1" | cut -d' ' -f2; }
# interrupted OUTFILE: the transfer had not completed (N < M)
interrupted() { [ "$(progress_of "$1")" -lt "$(progress_total "$1")" ] 2>/dev/null; }
# wait_progress OUTFILE PID BYTES [SECONDS]: wait until the tool writing OUTFILE has moved
# BYTES; fails (1) when it exits first or SECONDS (default 60) pass.
wait_progress() {
    _n=$(( ${4:-60} * 20 ))
    while [ $_n -gt 0 ]; do
        _p=$(progress_of "$1"); [ "${_p:-0}" -ge "$3" ] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05; _n=$((_n - 1))
    done
    return 1
}
# wait_exit PID [SECONDS]: wait for a background job to end (default 30 s); 1 if it did not.
wait_exit() {
    _n=$(( ${2:-30} * 10 ))
    while kill -0 "$1" 2>/dev/null && [ $_n -gt 0 ]; do sleep 0.1; _n=$((_n - 1)); done
    ! kill -0 "$1" 2>/dev/null
}
# during_transfer BYTES ACTION OUTFILE TOOL ARGS...: run a libmtp transfer tool in the
# foreground (limited to TOOL_TIMEOUT, default 180 s) and, once its progress output shows
# BYTES moved, run the shell command ACTION (TOOL_PID holds the tool's pid), e.g.
# 'kill -INT $TOOL_PID' or 'echo "" > $udc_file'. The tool runs in the foreground because
# a non-interactive shell starts background jobs with SIGINT ignored. Afterwards
# /tmp/work/fired holds the progress at which ACTION ran (missing: it never ran) and
# TOOL_SECS the tool's run time. Returns the tool's exit status.
during_transfer() {
    _bytes=$1; _action=$2; _out=$3; shift 3
    rm -f /tmp/work/tool.pid /tmp/work/fired
    (
        _n=0
        while [ ! -s /tmp/work/tool.pid ] && [ $_n -lt 200 ]; do sleep 0.05; _n=$((_n + 1)); done
        TOOL_PID=$(cat /tmp/work/tool.pid 2>/dev/null)
        [ -n "$TOOL_PID" ] || exit 1
        wait_progress "$_out" "$TOOL_PID" "$_bytes" 120 || exit 1
        progress_of "$_out" > /tmp/work/fired
        eval "$_action"
    ) &
    _watcher=$!
    say "run with '$_action' after $_bytes bytes: $*"
    _t=$(now)
    sh -c 'echo $$ > /tmp/work/tool.pid; exec timeout "$0" "$@"' "${TOOL_TIMEOUT:-180}" "$@" > "$_out" 2>&1
    _rc=$?
    TOOL_SECS=$(elapsed $_t)
    wait $_watcher
    tr '\r' '\n' < "$_out" | awk '/^Progress:/ { p = $0; next }
        { if (p != "") print p; p = ""; print } END { if (p != "") print p }' >> "$LOG"
    say "exit status $_rc after $TOOL_SECS s; action fired at $(cat /tmp/work/fired 2>/dev/null || echo never)"
    return $_rc
}

# --- reference data owners (ref-data) ------------------------------------------------
# The image holds the reference owners in /usr/lib/mtpbur/owners (the profile's owners_dir,
# where the engine starts an owner's process_name) and the fixture /usr/local/bin/ref-data.
# The helpers work on the profile's drive c (OWNERS_DRIVE); each returns non-zero after
# logging what failed, so a scenario writes e.g. `owners_install_seed || fail "seed"`.
# run-all.sh empties the drive between scenarios.
OWNERS_DRIVE=/var/lib/mtpbur/c
ref_data() {
    say "ref-data $*"
    /usr/local/bin/ref-data --drive "c=$OWNERS_DRIVE" "$@"
}
# owners_install_seed: install every reference owner (cages + registrations) and replace
# their data by the deterministic sample data (see docs/data-owners.md, "ref-data").
owners_install_seed() {
    ref_data install >> "$LOG" 2>&1 && ref_data seed >> "$LOG" 2>&1 ||
        { say "ref-data install/seed failed"; return 1; }
}
# owners_dump FILE: all owner data as sorted lines in FILE (compare two dumps with cmp).
owners_dump() {
    ref_data dump > "$1" 2>> "$LOG" || { say "ref-data dump failed"; return 1; }
    say "dump $1: $(wc -l < "$1") lines"
}
# owners_change: change a small part of the data (records, keys, rows, files; idempotent).
owners_change() { ref_data change >> "$LOG" 2>&1 || { say "ref-data change failed"; return 1; }; }
# owners_destroy: wipe the owners' data, keep their registrations (simulated data loss).
owners_destroy() { ref_data destroy >> "$LOG" 2>&1 || { say "ref-data destroy failed"; return 1; }; }

# verify_set DIR: DIR is a backup set copied from the device (manifest.toml and
# <sid>/<drive>/<kind>.unit files, engine/src/manifest.rs): every unit the manifest lists
# exists as a regular file with the listed size and SHA-256, and no file under DIR's
# subdirectories is unlisted (files directly in DIR other than manifest.toml, e.g. a
# README, are not checked). On failure it returns 1 with every problem in the log and
# the first one in VERIFY_ERR: `verify_set /tmp/work/set || fail "set: $VERIFY_ERR"`.
verify_set() {
    VERIFY_ERR=
    _set=$1; _units=/tmp/work/verify.units; _listed=/tmp/work/verify.listed
    _verr() { say "verify_set $_set: $*"; [ -n "$VERIFY_ERR" ] || VERIFY_ERR=$*; }
    [ -f "$_set/manifest.toml" ] || { _verr "no manifest.toml"; return 1; }
    # one line per [[units]] table: sid drive kind size sha256
    awk '
        function flush() {
            if (unit) print f["sid"] " " f["drive"] " " f["kind"] " " f["size"] " " f["sha256"]
            split("", f); unit = 0
        }
        /^\[\[units\]\][ \t]*$/ { flush(); unit = 1; next }
        /^\[/ { flush(); next }
        unit && /^[a-z0-9_]+ *= */ {
            k = $0; sub(/ *=.*/, "", k)
            v = $0; sub(/^[^=]*= */, "", v); sub(/[ \t]+#.*$/, "", v); gsub(/"/, "", v)
            f[k] = v
        }
        END { flush() }' "$_set/manifest.toml" > "$_units"
    : > "$_listed"
    while read -r _sid _drive _kind _size _sha; do
        _rel=$_sid/$_drive/$_kind.unit
        if ! echo "$_sid $_drive $_kind $_size $_sha" |
            grep -Eq '^[0-9a-f]{8} [a-z] [a-z0-9-]+ [0-9]+ [0-9a-f]{64}$'; then
            _verr "malformed [[units]] entry: '$_sid $_drive $_kind $_size $_sha'"; continue
        fi
        echo "$_rel" >> "$_listed"
        if [ -L "$_set/$_rel" ] || [ ! -f "$_set/$_rel" ]; then
            _verr "unit $_rel missing or not a regular file"; continue
        fi
        _got=$(stat -c %s "$_set/$_rel")
        [ "$_got" = "$_size" ] || { _verr "unit $_rel has $_got bytes, manifest says $_size"; continue; }
        _got=$(sha256sum < "$_set/$_rel" | cut -d' ' -f1)
        [ "$_got" = "$_sha" ] || _verr "unit $_rel has SHA-256 $_got, manifest says $_sha"
    done < "$_units"
    [ "$(sort "$_listed" | uniq -d)" = "" ] || _verr "units listed twice: $(sort "$_listed" | uniq -d | tr '\n' ' ')"
    (cd "$_set" && find . -mindepth 2 ! -type d | sed 's|^\./||' | sort) > /tmp/work/verify.found
    # (busybox grep -v -f with an empty pattern file prints nothing: every file is unlisted)
    if [ -s "$_listed" ]; then
        grep -vxF -f "$_listed" /tmp/work/verify.found > /tmp/work/verify.unlisted
    else
        cp /tmp/work/verify.found /tmp/work/verify.unlisted
    fi
    while read -r _f; do
        _verr "file $_f is not listed in the manifest"
    done < /tmp/work/verify.unlisted
    say "verify_set $_set: $(wc -l < "$_listed") units${VERIFY_ERR:+, FAILED}"
    [ -z "$VERIFY_ERR" ]
}
