#!/usr/bin/env bash
# valgrind memcheck of the daemon (and the CLI) under real integration tests.
#
#   tests/valgrind.sh [TEST_FILE[:test_name,...] ...]
#
# The harness runs $IWR_BUILD/influx-wal-relay and $IWR_BUILD/influx-wal; this script points
# IWR_BUILD at a directory of two wrappers that exec the real binaries (from $BUILD, default
# build) under
#   valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
# with one log per process, then runs the tests and sums up every log: "ERROR SUMMARY" and
# "definitely lost" per process. exec keeps the PID, so the harness's checks (the port is owned
# by the PID it started, stop by PID) hold. A process with errors exits 99, which the tests see
# as a failed clean stop too. Exit status: 0 when every process had 0 errors and every test
# passed. Not part of `make test` (it takes minutes; see RELIABILITY.md for the timing).
# Tests that SIGKILL the daemon are not in the default set: a killed process writes no summary.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
PY=/usr/bin/python3
command -v valgrind >/dev/null || { echo "not ok - valgrind is not installed (apt-get install valgrind)"; exit 1; }
for b in influx-wal-relay influx-wal; do
    [ -x "$BUILD/$b" ] || { echo "not ok - $BUILD/$b missing: make binaries BUILD=$BUILD"; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/iwr-valgrind.XXXXXX")
mkdir -p "$work/bin" "$work/logs"
for b in influx-wal-relay influx-wal; do
    cat >"$work/bin/$b" <<EOF
#!/bin/sh
exec valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \\
    --errors-for-leak-kinds=definite --track-origins=yes --num-callers=30 \\
    --suppressions="$PWD/tests/valgrind.supp" \\
    --log-file="$work/logs/$b.%p.log" "$BUILD/$b" "\$@"
EOF
    chmod +x "$work/bin/$b"
done

if [ $# -eq 0 ]; then
    set -- tests/integ/test_ingest.py \
        tests/integ/test_faults.py:test_backend_faults,test_one_bad_line,test_reload_under_load,test_sigterm_under_load \
        tests/integ/test_hostile.py:test_broken_requests,test_connection_limit,test_auth
fi
start=$SECONDS
trc=0
for spec in "$@"; do
    file=${spec%%:*}
    names=
    [ "$file" != "$spec" ] && names=$(echo "${spec#*:}" | tr ',' ' ')
    echo "# --- $file ${names}"
    # shellcheck disable=SC2086
    IWR_BUILD="$work/bin" timeout 3600 "$PY" "$file" $names >"$work/$(basename "$file").out" 2>&1
    rc=$?
    grep -E '^(not ok|[0-9]+ passed)' "$work/$(basename "$file").out" | sed 's/^/#   /'
    [ $rc -ne 0 ] && trc=1
done

procs=0
bad=0
for log in "$work"/logs/*.log; do
    [ -e "$log" ] || continue
    procs=$((procs + 1))
    errs=$(grep -o 'ERROR SUMMARY: [0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    lost=$(grep -o 'definitely lost: [0-9,]* bytes' "$log" | tail -1)
    if [ -z "$errs" ]; then
        # No summary: the process was killed (a test SIGKILLed it or a deadline ran out).
        echo "# $(basename "$log"): no summary (killed)"
        continue
    fi
    if [ "$errs" != 0 ]; then
        bad=$((bad + 1))
        echo "not ok - $(basename "$log"): $errs errors${lost:+, $lost}"
        grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall param|Mismatched|Source and|Argument|[0-9,]+ bytes in)' "$log" |
            sort | uniq -c | sort -rn | head -10 | sed 's/^/#   /'
    fi
done
elapsed=$((SECONDS - start))
if [ $bad -eq 0 ] && [ $procs -gt 0 ]; then
    echo "ok - valgrind: $procs processes, 0 memcheck errors, no definite leaks (${elapsed}s)"
    [ $trc -eq 0 ] && rm -rf "$work"
else
    echo "not ok - valgrind: $bad of $procs processes with errors (${elapsed}s; logs in $work/logs)"
fi
[ $trc -ne 0 ] && echo "not ok - some tests failed under valgrind (outputs in $work)"
[ $bad -eq 0 ] && [ $procs -gt 0 ] && [ $trc -eq 0 ]
