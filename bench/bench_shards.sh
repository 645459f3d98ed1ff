#!/usr/bin/env bash
# Routing cost of shards: wrk posting 1000-point bodies (-t2 -c64, $BENCH_SECONDS s) into a relay
# with durable commits and its backends down (so only ingest runs), unsharded and with 1, 2 and
# 4 shards of one backend each. The shard key is database, measurement and tag:host, so each
# body's 1000 hosts spread over every shard and each request becomes a record with one part per
# shard. Prints acknowledged points/s and the relay's CPU per acknowledged point for each, and
# the same load posted straight to a real influxd in the same run. Loopback only; everything it
# starts it stops.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-8}
. bench/lib.sh
bench_begin shards

bench_influxd_config "$work/influxd"
influxd run -config "$work/influxd/influxd.conf" >"$work/influxd.log" 2>&1 &
pids+=($!)
bench_wait_ping "$BENCH_INFLUXD_URL" || exit 1
curl -s -XPOST "$BENCH_INFLUXD_URL/query" --data-urlencode 'q=CREATE DATABASE bench' >/dev/null

dead=$(bench_free_port)
run_relay() { # label shards (0: none)
    local port n=$2 i
    port=$(bench_free_port)
    rm -rf "$work/wal"
    {
        printf '[http]\nlisten = ["127.0.0.1:%s"]\n[wal]\ndir = "%s/wal"\nmax-size = "16GiB"\n' \
            "$port" "$work"
        printf '[log]\nlevel = "warn"\n'
        for i in $(seq 1 $((n > 0 ? n : 1))); do
            printf '[[backend]]\nname = "b%s"\nurl = "http://127.0.0.1:%s"\n' "$i" "$dead"
        done
        if [ "$n" -gt 0 ]; then
            printf '[sharding]\nkey = ["database", "measurement", "tag:host"]\n'
            for i in $(seq 1 "$n"); do
                printf '[[shard]]\nname = "s%s"\nbackends = ["b%s"]\n' "$i" "$i"
            done
        fi
    } >"$work/relay.toml"
    "$BUILD/influx-wal-relay" --config "$work/relay.toml" >>"$work/relay.log" 2>&1 &
    relay=$!
    pids+=($relay)
    bench_wait_ping "http://127.0.0.1:$port" || exit 1
    bench_wrk "$1" "http://127.0.0.1:$port" 64 "$relay"
    kill "$relay"
    wait "$relay" 2>/dev/null
}

echo "relay: durable log, backends down, key database+measurement+tag:host; $(influxd version | head -1)"
run_relay unsharded 0
for n in 1 2 4; do run_relay "${n}-shard" "$n"; done
bench_wrk influxd "$BENCH_INFLUXD_URL" 64
