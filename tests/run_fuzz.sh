#!/usr/bin/env bash
# Run libFuzzer targets for a bounded time each, from and into their corpus in tests/fuzz/corpus.
#   run_fuzz.sh BIN SECONDS     one target; prints one ok/not ok line with the executions done
#   run_fuzz.sh DIR             every target in DIR for $FUZZ_SECONDS (default 60)
set -u
cd "$(dirname "$0")/.."
if [ -d "$1" ]; then
    rc=0
    for t in "$1"/fuzz_*; do
        [ -x "$t" ] && { tests/run_fuzz.sh "$t" "${FUZZ_SECONDS:-60}" || rc=1; }
    done
    exit $rc
fi
bin=$1
secs=${2:-10}
name=$(basename "$bin")
seed=tests/fuzz/corpus/$name
work=$(mktemp -d "${TMPDIR:-/tmp}/iwr-fuzz.XXXXXX")
mkdir -p "$seed"
out="$work/out.log"
# New inputs go to a scratch dir: the checked-in corpus only changes by hand.
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work" "$seed" >"$out" 2>&1
rc=$?
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out" | grep -o '[0-9]*$')
[ -n "$execs" ] || execs=$(grep -Eo '#[0-9]+' "$out" | tail -1 | tr -d '#')
if [ $rc -eq 0 ]; then
    echo "ok - $name ran ${execs:-?} executions in ${secs}s"
    rm -rf "$work"
else
    tail -40 "$out"
    echo "not ok - $name found a crash (artifacts in $work)"
fi
exit $rc
