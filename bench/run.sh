#!/usr/bin/env bash
# `make bench`: every benchmark, figures printed. Bounded: each part stops by itself.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
for b in "$BUILD"/bench/bench_*; do
    [ -x "$b" ] || continue
    echo
    echo "== $(basename "$b")"
    "$b" || echo "$(basename "$b") failed"
done
for s in bench/bench_*.sh; do
    [ -x "$s" ] || continue
    echo
    echo "== $(basename "$s" .sh)"
    BUILD=$BUILD "$s" || echo "$(basename "$s") failed"
done
