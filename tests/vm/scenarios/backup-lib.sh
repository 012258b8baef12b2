# tests/vm/scenarios/backup-lib.sh - host-side helpers for the Backup storage scenarios
# (busybox sh; source after lib.sh). Everything goes through libmtp's stock tools:
# mtp-files, mtp-filetree, mtp-folders, mtp-getfile, mtp-sendfile, mtp-newfolder,
# mtp-delfile. See docs/host-guide.md for the same steps by hand.
#
#   bk_init                      find the Backup storage and its status.toml
#   bk_request FILE              send a request file into /requests (mtp-sendfile)
#   bk_status                    fetch status.toml to /tmp/work/status.toml
#   bk_field KEY                 a value from the fetched status.toml (quotes removed)
#   bk_wait [SECONDS]            poll status.toml until state is done or failed
#   bk_run TEXT                  write TEXT (printf format) as backup.request, send it,
#                                wait; BK_SET is the new folder, BK_STATE the end state
#   bk_restore SET               a full restore of SET to its end; 1 unless it ended done
#                                without an error (the reason in BK_WHY)
#   bk_restore_begin SET         request a full restore of SET and return once the engine
#                                reports `restoring` (at most 20 s); 1 if refused
#   bk_tree                      list the storage: /tmp/work/tree.txt "depth id name"
#                                and the folder ids (bk_tree_only: the tree alone)
#   bk_id NAME                   id of the top-level object NAME
#   bk_copy_set NAME DEST        copy a set folder to DEST (BK_BYTES: bytes copied)
#   bk_stream_set DEST [LABEL]   copy the running backup's set as its files appear, a
#                                batch per mtp-connect run (BK_SET, BK_BYTES, BK_FILES,
#                                BK_EARLY)
#   bk_upload_set SRC NAME       upload a set directory as folder NAME (mtp-newfolder +
#                                mtp-sendfile; BK_BYTES: bytes sent)
#   bk_delete NAME               delete a top-level folder (mtp-delfile)
#   dumps_equal EXPECTED GOT    two ref-data dumps are identical (diff in the log)
#   units_bytes DIR [SID]        total size of the *.unit files below DIR (of one owner)
#   report STEP RESULT BYTES SECONDS   one line of the readable report (console + file)

BK_REPORT=/tmp/logs/report.txt

report() {
    printf '    %-58s %-6s %10s B %7s s\n' "$1" "$2" "$3" "$4" | tee -a "$BK_REPORT"
    say "report: $1 | $2 | $3 B | $4 s"
}

bk_tree() {
    bk_tree_only
    run mtp-folders > /dev/null 2>&1
    tr '\r' '\n' < /tmp/work/out | awk -F'\t' '$1 ~ /^[0-9]+$/ { print $1 }' > /tmp/work/folder-ids.txt
}
bk_tree_only() {
    run mtp-filetree > /dev/null 2>&1
    tr '\r' '\n' < /tmp/work/out | awk '
        /^Storage: / { inb = ($0 == "Storage: Backup"); next }
        inb && /^ *[0-9]+ / {
            match($0, /^ */); d = RLENGTH / 2
            s = $0; sub(/^ */, "", s); id = s; sub(/ .*/, "", id)
            nm = s; sub(/^[0-9]+ /, "", nm); print d, id, nm
        }' > /tmp/work/tree.txt
}
bk_id() { awk -v n="$1" '$1 == 0 && $3 == n { print $2; exit }' /tmp/work/tree.txt; }

bk_init() {
    bk_tree
    BK_STATUS_ID=$(bk_id status.toml)
    [ -n "$BK_STATUS_ID" ] || { say "no status.toml in a storage named Backup"; return 1; }
    run mtp-files > /dev/null 2>&1
    BK_STORAGE=$(tr '\r' '\n' < /tmp/work/out | awk -v id="$BK_STATUS_ID" '
        /^File ID:/ { f = ($3 == id) } f && /Storage ID:/ { print $3; exit }')
    [ -n "$BK_STORAGE" ] || { say "no storage id for status.toml"; return 1; }
    say "Backup storage $BK_STORAGE, status.toml is object $BK_STATUS_ID"
}

bk_status() { getfile "$BK_STATUS_ID" /tmp/work/status.toml < /dev/null; }
bk_field() { sed -n "s/^$1 = //p" /tmp/work/status.toml | tr -d '"'; }

bk_wait() {
    _n=$(( ${1:-120} * 2 ))   # polls every BK_POLL seconds (default 0.5)
    while [ $_n -gt 0 ]; do
        bk_status || { say "status.toml could not be read"; return 1; }
        BK_STATE=$(bk_field state)
        case $BK_STATE in done | failed)
            cat /tmp/work/status.toml >> "$LOG"; return 0 ;;
        esac
        sleep "${BK_POLL:-0.5}"; _n=$((_n - 1))
    done
    say "still $BK_STATE after ${1:-120} s"; return 1
}

bk_request() { sendfile "$1" requests < /dev/null; }

bk_run() {
    mkdir -p /tmp/work/req
    printf "$1" > /tmp/work/req/backup.request
    cat /tmp/work/req/backup.request >> "$LOG"
    bk_request /tmp/work/req/backup.request || { say "backup.request refused"; return 1; }
    bk_wait || return 1
    BK_SET=$(bk_field session)
    [ "$BK_STATE" = done ] && [ -n "$BK_SET" ]
}

bk_restore_begin() {
    mkdir -p /tmp/work/req
    printf 'source = "%s"\nscope = "full"\n' "$1" > /tmp/work/req/restore.request
    bk_request /tmp/work/req/restore.request || return 1
    _n=400
    while [ $_n -gt 0 ]; do
        bk_status && [ "$(bk_field state)" = restoring ] && return 0
        sleep 0.05; _n=$((_n - 1))
    done
}

bk_restore() {
    mkdir -p /tmp/work/req
    printf 'source = "%s"\nscope = "full"\n' "$1" > /tmp/work/req/restore.request
    bk_request /tmp/work/req/restore.request || { BK_WHY="restore.request refused"; return 1; }
    bk_wait 300 || { BK_WHY="the restore did not finish"; return 1; }
    [ "$BK_STATE" = done ] && [ -z "$(bk_field last_error)" ] ||
        { BK_WHY="$BK_STATE $(bk_field last_error)"; return 1; }
}

bk_copy_set() {
    bk_tree
    rm -rf "$2"; mkdir -p "$2"; BK_BYTES=0
    awk -v n="$1" '
        $1 == 0 { inset = ($3 == n); next }
        inset {
            path[$1] = $3; p = path[1]
            for (i = 2; i <= $1; i++) p = p "/" path[i]
            print $2, p
        }' /tmp/work/tree.txt > /tmp/work/set-objects.txt
    [ -s /tmp/work/set-objects.txt ] || { say "set $1 not found or empty"; return 1; }
    while read -r _id _rel; do
        if grep -qx "$_id" /tmp/work/folder-ids.txt; then
            mkdir -p "$2/$_rel"
        else
            mkdir -p "$(dirname "$2/$_rel")"
            getfile "$_id" "$2/$_rel" < /dev/null || { say "mtp-getfile $_id ($_rel) failed"; return 1; }
            BK_BYTES=$((BK_BYTES + $(size_of "$2/$_rel")))
        fi
    done < /tmp/work/set-objects.txt
}

# bk_stream_set DEST [LABEL]: copy the running backup's set while it is captured.
# mtp-filetree finds its files; all the new ones are fetched in one `mtp-connect
# --getfile ID,DEST ...` run (one device open for the batch; a unit still being written
# is listed with its final size and read as it grows), until manifest.toml, which the
# engine writes last, has been copied. The set is the folder named *-LABEL, or the
# session status.toml names. Sets BK_SET, BK_BYTES, BK_FILES and BK_EARLY (files copied
# before the manifest existed, i.e. while the backup was still running).
bk_stream_set() {
    rm -rf "$1"; mkdir -p "$1"; BK_BYTES=0; BK_FILES=0; BK_EARLY=0; BK_SET=
    : > /tmp/work/fetched.txt
    if [ -z "${2:-}" ]; then
        bk_status || { say "status.toml could not be read"; return 1; }
        BK_SET=$(bk_field session)
        [ -n "$BK_SET" ] || { say "status.toml names no session"; return 1; }
    fi
    _tries=600
    while [ $_tries -gt 0 ]; do
        _tries=$((_tries - 1))
        bk_tree_only
        [ -n "$BK_SET" ] || BK_SET=$(awk -v l="-$2" '$1 == 0 && substr($3, length($3) - length(l) + 1) == l { print $3; exit }' /tmp/work/tree.txt)
        # the set's leaves (files): "id relative/path"
        awk -v n="$BK_SET" '
            function out() { if (have && !child) print pid, prel; have = 0 }
            $1 == 0 { child = 0; out(); inset = ($3 == n); next }
            inset {
                child = ($1 > pd); out()
                path[$1] = $3; p = path[1]
                for (i = 2; i <= $1; i++) p = p "/" path[i]
                have = 1; pd = $1; pid = $2; prel = p
            }
            END { child = 0; out() }' /tmp/work/tree.txt > /tmp/work/set-leaves.txt
        _last=no
        grep -qx '[0-9]* manifest.toml' /tmp/work/set-leaves.txt && _last=yes
        # the files not copied yet (few processes: each one costs under TCG)
        awk 'FILENAME == ARGV[1] { done[$0] = 1; next } !($2 in done)' \
            /tmp/work/fetched.txt /tmp/work/set-leaves.txt > /tmp/work/batch.txt
        if [ -s /tmp/work/batch.txt ]; then
            awk -v d="$1" '{ p = d "/" $2; sub(/\/[^\/]*$/, "", p); print p }' /tmp/work/batch.txt | xargs mkdir -p
            set -- "$1" "${2:-}"
            while read -r _id _rel; do set -- "$@" --getfile "$_id,$1/$_rel"; done < /tmp/work/batch.txt
            _dest=$1; _label=$2; shift 2
            run mtp-connect "$@" < /dev/null
            set -- "$_dest" "$_label"
            out_has "Error" && { say "mtp-connect reported an error"; return 1; }
            while read -r _id _rel; do
                [ -f "$1/$_rel" ] || { say "$_rel was not copied"; return 1; }
                echo "$_rel" >> /tmp/work/fetched.txt
                BK_FILES=$((BK_FILES + 1))
                [ $_last = no ] && BK_EARLY=$((BK_EARLY + 1))
            done < /tmp/work/batch.txt
        else
            bk_status && [ "$(bk_field state)" = failed ] && { say "backup failed: $(bk_field last_error)"; return 1; }
            sleep "${BK_STREAM_POLL:-0.3}"
        fi
        if [ $_last = yes ]; then
            BK_BYTES=$(find "$1" -type f -exec stat -c %s {} + | awk '{ s += $1 } END { print s + 0 }')
            return 0
        fi
    done
    say "set ${BK_SET:-*-$2}: no manifest after 600 listings"; return 1
}

bk_upload_set() {
    _st=$(printf '%d' "$BK_STORAGE")
    run mtp-newfolder "$2" 0 "$_st" < /dev/null
    _top=$(tr '\r' '\n' < /tmp/work/out | sed -n 's/.*New folder created with ID: \([0-9]*\).*/\1/p')
    [ -n "$_top" ] || { say "mtp-newfolder $2 failed"; return 1; }
    echo ". $_top" > /tmp/work/upload-ids.txt
    (cd "$1" && find . -mindepth 1 -type d | sed 's|^\./||' | sort) > /tmp/work/upload-dirs.txt
    while read -r _rel; do
        _pid=$(awk -v p="$(dirname "$_rel")" '$1 == p { print $2; exit }' /tmp/work/upload-ids.txt)
        run mtp-newfolder "$(basename "$_rel")" "$_pid" "$_st" < /dev/null
        _id=$(tr '\r' '\n' < /tmp/work/out | sed -n 's/.*New folder created with ID: \([0-9]*\).*/\1/p')
        [ -n "$_id" ] || { say "mtp-newfolder $_rel failed"; return 1; }
        echo "$_rel $_id" >> /tmp/work/upload-ids.txt
    done < /tmp/work/upload-dirs.txt
    BK_BYTES=0
    (cd "$1" && find . -type f | sed 's|^\./||' | sort) > /tmp/work/upload-files.txt
    while read -r _rel; do
        _d=$(dirname "$_rel")
        if [ "$_d" = . ]; then _to=$2; else _to=$2/$_d; fi
        sendfile "$1/$_rel" "$_to" < /dev/null || { say "mtp-sendfile $_rel failed"; return 1; }
        BK_BYTES=$((BK_BYTES + $(size_of "$1/$_rel")))
    done < /tmp/work/upload-files.txt
}

bk_delete() {
    bk_tree
    _id=$(bk_id "$1")
    [ -n "$_id" ] || { say "no folder $1 to delete"; return 1; }
    run mtp-delfile -n "$_id" < /dev/null
    bk_tree
    [ -z "$(bk_id "$1")" ]
}

# dumps_equal EXPECTED GOT: two ref-data dumps are identical (the diff goes to the log).
dumps_equal() {
    cmp -s "$1" "$2" && return 0
    diff "$1" "$2" >> "$LOG"
    return 1
}

units_bytes() {
    find "$1/${2:-}" -name '*.unit' -type f 2>/dev/null | while read -r _f; do size_of "$_f"; done |
        awk '{ s += $1 } END { print s + 0 }'
}
