#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each; exits non-zero on a crash.
#
#   fuzz/run.sh              # CI: 30 s per target
#   fuzz/run.sh 600          # a longer run
#   fuzz/run.sh 60 mtp_responder registration
#
# Environment:
#   FUZZ_JOBS=N            targets run side by side (default: number of CPUs)
#   FUZZ_UPDATE_CORPUS=1   after the run, rewrite fuzz/corpus/<target> as the seeds plus a
#                          minimal edge cover of everything found (see fuzz/README.md)
#
# New inputs go to fuzz/target/corpus/<target> (fuzz/corpus is only read, unless
# FUZZ_UPDATE_CORPUS is set). Crashes go to fuzz/artifacts/<target>/; logs to
# fuzz/target/logs/<target>.log.
set -euo pipefail

secs=${1:-30}
[ $# -gt 0 ] && shift
case $secs in
'' | *[!0-9]*)
	echo "usage: fuzz/run.sh [seconds-per-target] [target...]" >&2
	exit 2
	;;
esac

fuzz_dir=$(cd "$(dirname "$0")" && pwd)
cd "$fuzz_dir/.."

if ! cargo +nightly --version >/dev/null 2>&1; then
	echo "fuzz/run.sh: needs a nightly toolchain: rustup toolchain install nightly" >&2
	exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
	echo "fuzz/run.sh: installing cargo-fuzz" >&2
	cargo install cargo-fuzz --locked
fi

if [ $# -gt 0 ]; then
	targets=("$@")
else
	mapfile -t targets < <(cargo +nightly fuzz list)
fi
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}

start=$(date +%s)
if [ $# -gt 0 ]; then
	for t in "${targets[@]}"; do cargo +nightly fuzz build "$t"; done
else
	cargo +nightly fuzz build
fi
echo "fuzz/run.sh: built in $(($(date +%s) - start)) s; ${#targets[@]} targets x ${secs} s, $jobs at a time"

logs=fuzz/target/logs
mkdir -p "$logs"

run_one() {
	local t=$1
	local work=fuzz/target/corpus/$t
	mkdir -p "$work" "fuzz/corpus/$t"
	# New inputs go to $work; fuzz/corpus/$t is only read. One input taking 30 s is a hang
	# (two sanitised targets share the machine's cores). FUZZ_SEED fixes libFuzzer's seed
	# (tests/all.sh sets it, so a short run in CI explores the same way each time).
	cargo +nightly fuzz run "$t" "$work" "fuzz/corpus/$t" -- \
		-max_total_time="$secs" -timeout=30 -max_len=65536 -print_final_stats=1 \
		${FUZZ_SEED:+-seed="$FUZZ_SEED"} \
		>"$logs/$t.log" 2>&1 || return 1
	if [ "${FUZZ_UPDATE_CORPUS:-0}" = 1 ]; then
		update_corpus "$t" >>"$logs/$t.log" 2>&1 || return 1
	fi
}

# Rewrites fuzz/corpus/<t> as its seed-* and regression-* files plus the fewest other
# inputs (of fuzz/corpus/<t> and the new ones) that reach every edge reached so far.
update_corpus() {
	local t=$1 new=fuzz/target/corpus-min/$t
	rm -rf "$new"
	mkdir -p "$new"
	find "fuzz/corpus/$t" -maxdepth 1 -type f \( -name 'seed-*' -o -name 'regression-*' \) \
		-exec cp {} "$new/" \;
	cargo +nightly fuzz run "$t" "$new" "fuzz/corpus/$t" "fuzz/target/corpus/$t" -- \
		-set_cover_merge=1 -use_counters=0 || return 1
	rm -rf "fuzz/corpus/$t"
	mv "$new" "fuzz/corpus/$t"
}

# Prints: target, status, coverage (edges), features, corpus size, executions per second.
summary() {
	local t=$1 status=$2 line
	line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$logs/$t.log" | tail -1 || true)
	printf '%-16s %-5s cov %-5s ft %-6s corp %-11s exec/s %s\n' "$t" "$status" \
		"$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$line")" \
		"$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$line")" \
		"$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$line")" \
		"$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log" | tail -1)"
}

for t in "${targets[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
	rm -f "$logs/$t.status"
	(if run_one "$t"; then echo ok; else echo CRASH; fi >"$logs/$t.status") &
done
wait

failed=()
for t in "${targets[@]}"; do
	status=$(cat "$logs/$t.status" 2>/dev/null || echo CRASH)
	summary "$t" "$status"
	[ "$status" = ok ] || failed+=("$t")
done
echo "fuzz/run.sh: done in $(($(date +%s) - start)) s"

for t in "${failed[@]}"; do
	echo "--- $t failed: $logs/$t.log"
	grep -E 'panicked at|^ERROR: |^SUMMARY: |^error' "$logs/$t.log" | head -5 || true
	sed -n 's/.*Test unit written to \(.*\)/\1/p' "$logs/$t.log" | while read -r a; do
		echo "artifact: $a"
		echo "reproduce: cargo +nightly fuzz run $t $a"
	done
done
[ ${#failed[@]} -eq 0 ]
