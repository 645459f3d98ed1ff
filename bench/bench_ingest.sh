#!/usr/bin/env bash
# Ingest benchmark: wrk posting 1000-point bodies (every point unique), -t2 at -c8 and -c64 for
# 10 s, against the relay with durable commits and its only backend down (replay idle), and the
# same load posted straight to a real influxd in the same run. Prints acknowledged points/s,
# p50/p99 latency, and the relay's peak RSS; then -c64 through /api/v2/write and
# /api/v3/write_lp. Loopback only; everything it starts it stops.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-10}
. bench/lib.sh
bench_begin ingest

# A real influxd, for the direct figures.
bench_influxd_config "$work/influxd"
influxd run -config "$work/influxd/influxd.conf" >"$work/influxd.log" 2>&1 &
pids+=($!)
bench_wait_ping "$BENCH_INFLUXD_URL" || exit 1
curl -s -XPOST "$BENCH_INFLUXD_URL/query" --data-urlencode 'q=CREATE DATABASE bench' >/dev/null

# The relay: durable commits, its backend a closed port so the senders stay idle; a fresh log
# for each run, large enough that the run never fills it.
start_relay() { # port
    rm -rf "$work/wal"
    cat >"$work/relay.toml" <<CONF
[http]
listen = ["127.0.0.1:$1"]
[wal]
dir = "$work/wal"
max-size = "16GiB"
[log]
level = "warn"
[[backend]]
name = "down"
url = "http://127.0.0.1:$dead"
CONF
    "$BUILD/influx-wal-relay" --config "$work/relay.toml" >>"$work/relay.log" 2>&1 &
    relay=$!
    pids+=($relay)
    bench_wait_ping "http://127.0.0.1:$1" || exit 1
}

dead=$(bench_free_port)
echo "relay: durable log (fsync on every commit), backend down; $(influxd version | head -1)"
for c in 8 64; do
    rp=$(bench_free_port)
    start_relay "$rp"
    bench_wrk relay "http://127.0.0.1:$rp" $c "$relay"
    echo "         relay peak RSS $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$relay/status), log $(du -sh "$work/wal" | cut -f1)"
    kill "$relay"; wait "$relay" 2>/dev/null
done
# The same load through 2.x's and 3.x's write APIs (issue 16): what their parameters cost.
for api in "v2write /api/v2/write?org=o&bucket=bench" "v3write /api/v3/write_lp?db=bench"; do
    rp=$(bench_free_port)
    start_relay "$rp"
    WRK_PATH=${api#* } bench_wrk "${api%% *}" "http://127.0.0.1:$rp" 64 "$relay"
    kill "$relay"; wait "$relay" 2>/dev/null
done
for c in 8 64; do bench_wrk influxd "$BENCH_INFLUXD_URL" $c; done
