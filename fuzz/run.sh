#!/usr/bin/env bash
# run.sh: run one libFuzzer target for a fixed time and print a one-line summary.
#
# Usage: fuzz/run.sh <fuzzer binary> <target name> <seconds> <work dir>
#   Seeds come from fuzz/corpus/<target>/ (read-only); what the run discovers goes to
#   <work dir>/corpus/<target>/, crash reproducers to <work dir>/artifacts/. The dictionary
#   fuzz/<target>.dict is used when present. Exits non-zero on any crash, leak, UB report,
#   timeout or out-of-memory; the reproducer's path is in the log printed then.
set -euo pipefail

bin=$1 target=$2 secs=$3 work=$4
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
seeds="$here/corpus/$target"
mkdir -p "$work/corpus/$target" "$work/artifacts" "$work/logs"
log="$work/logs/$target.log"
args=(-max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=1024
      -max_len=16384 -artifact_prefix="$work/artifacts/$target-")
[[ -f "$here/$target.dict" ]] && args+=(-dict="$here/$target.dict")

# halt_on_error: the first ASan/UBSan report ends the run with a failure.
if ! ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$bin" "${args[@]}" "$work/corpus/$target" "$seeds" >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz: $target FAILED (log $log; reproducer in $work/artifacts/)" >&2
    exit 1
fi
stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)"
cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")"
ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")"
corp="$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$done_line")"
printf 'fuzz: %-10s %4ss  %9s execs  %6s execs/s  cov %s  ft %s  corpus %s  ok\n' \
    "$target" "$secs" "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}"
