#!/usr/bin/env bash
# The test runner behind `make test`: every unit test binary, every integration test, and a short
# run of every fuzz target. Each test prints "ok ..." / "not ok ..." lines; a test that exits
# non-zero without saying "not ok" counts as one failure. Ends with "N passed, N failed".
#   BUILD   build dir (default build)     TESTS   unit|integ|fuzz|all (default all)
#   ONLY    substrings, space-separated: run only tests whose path contains one of them
#   UNIT_TIMEOUT  seconds each unit binary may run (default 300; integration tests get 900)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
TESTS=${TESTS:-all}
ONLY=${ONLY:-}
PY=/usr/bin/python3
export IWR_BUILD=$BUILD
logdir=$(mktemp -d "${TMPDIR:-/tmp}/iwr-test.XXXXXX")
passed=0
failed=0
failures=()

run_one() { # name, command...
    local name=$1
    shift
    if [ -n "$ONLY" ]; then
        local want hit=0
        for want in $ONLY; do
            [[ "$name" == *"$want"* ]] && hit=1
        done
        [ "$hit" = 1 ] || return 0
    fi
    local log="$logdir/$(echo "$name" | tr '/ ' '__').log"
    local start=$SECONDS
    "$@" >"$log" 2>&1
    local rc=$?
    local p f
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^not ok ' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name exited with status $rc" >>"$log"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    printf '%-48s %4d passed %3d failed %4ds\n' "$name" "$p" "$f" $((SECONDS - start))
    if [ "$f" -ne 0 ]; then
        failures+=("$name")
        grep -B2 -A12 '^not ok' "$log" | head -60 | sed 's/^/    /'
        echo "    (full log: $log)"
    fi
}

if [ "$TESTS" = all ] || [ "$TESTS" = unit ]; then
    for t in $(find "$BUILD/tests/unit" -type f -perm -u+x 2>/dev/null | sort); do
        run_one "unit/${t#$BUILD/tests/unit/}" timeout "${UNIT_TIMEOUT:-300}" "$t"
    done
fi
if [ "$TESTS" = all ] || [ "$TESTS" = integ ]; then
    for t in tests/integ/test_*.py; do
        [ -e "$t" ] || continue
        run_one "integ/$(basename "$t" .py)" timeout 900 "$PY" "$t"
    done
fi
if [ "$TESTS" = all ] || [ "$TESTS" = fuzz ]; then
    for t in build/fuzz/bin/fuzz_*; do
        [ -x "$t" ] || continue
        run_one "fuzz/$(basename "$t")" tests/run_fuzz.sh "$t" "${FUZZ_SMOKE_SECONDS:-5}"
    done
fi

if [ ${#failures[@]} -ne 0 ]; then
    echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
