#!/usr/bin/env bash
# Reshard copy rate: one shard (s1 = one influxd) holding $BENCH_RESHARD_POINTS points over 20
# measurements (2 fields, the last 2 hours), a second shard (s2 = another influxd) added to the
# config, then `influx-wal reshard --apply` moves the measurements the ring gives s2. Prints the
# points copied per second (the CLI's own copy_points_per_second), the CLI's CPU per copied point
# (user + system from the kernel's accounting of the child, as /proc/PID/stat has it) and, as the
# same-run reference, the rate at which the same points were written straight to influxd.
# Twice: with the default [sharding] key (whole measurements move) and with
# ["database", "measurement", "tag:host"] (100 hosts per measurement: series move, selected by
# their hosts). Loopback only; everything it starts it stops.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
POINTS=${BENCH_RESHARD_POINTS:-200000}
. bench/lib.sh
bench_begin reshard

start_influxd() { # dir -> sets url
    bench_influxd_config "$work/$1"
    influxd run -config "$work/$1/influxd.conf" >"$work/$1.log" 2>&1 &
    pids+=($!)
    rpids+=($!)
    bench_wait_ping "$BENCH_INFLUXD_URL" || exit 1
    url=$BENCH_INFLUXD_URL
}
round() { # $1: a name for its files, $2: the [sharding] key's TOML value, or "" (the default)
name=$1
key=$2
rpids=()
start_influxd $name-a1
a1=$url
start_influxd $name-b1
b1=$url
port=$(bench_free_port)
write_config() { # with s2 or not
    {
        printf '[http]\nlisten = ["127.0.0.1:%s"]\n[wal]\ndir = "%s/%s-wal"\n[log]\nlevel = "warn"\n' \
            "$port" "$work" "$name"
        [ -n "$key" ] && printf '[sharding]\nkey = %s\n' "$key"
        printf '[[backend]]\nname = "a1"\nurl = "%s"\n' "$a1"
        [ "$1" = 2 ] && printf '[[backend]]\nname = "b1"\nurl = "%s"\n' "$b1"
        printf '[[shard]]\nname = "s1"\nbackends = ["a1"]\n'
        [ "$1" = 2 ] && printf '[[shard]]\nname = "s2"\nbackends = ["b1"]\n'
    } >"$work/$name.toml"
}
start_relay() {
    "$BUILD/influx-wal-relay" --config "$work/$name.toml" >>"$work/relay.log" 2>&1 &
    relay=$!
    pids+=($relay)
    rpids+=($relay)
    bench_wait_ping "http://127.0.0.1:$port" || exit 1
}
write_config 1
start_relay
kill "$relay"
wait "$relay" 2>/dev/null
write_config 2
start_relay

curl -s -XPOST "$a1/query" --data-urlencode 'q=CREATE DATABASE bench' >/dev/null
/usr/bin/python3 - "$work/$name-lp" "$POINTS" <<'PY'
import os, sys, time
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out)
now = int(time.time()) * 10**9
per = n // 20
chunk, k = [], 0
for m in range(20):
    for i in range(per):
        chunk.append("m%02d,host=h%d n=%di,v=%d.5 %d\n" % (m, i % 100, i, i, now - i * 36 * 10**6))
        if len(chunk) == 5000:
            open("%s/%05d" % (out, k), "w").write("".join(chunk)); chunk = []; k += 1
if chunk:
    open("%s/%05d" % (out, k), "w").write("".join(chunk))
PY
t0=$(date +%s.%N)
for f in "$work/$name-lp"/*; do
    curl -s -o /dev/null -XPOST "$a1/write?db=bench" --data-binary "@$f"
done
t1=$(date +%s.%N)

echo "reshard, key ${key:-[\"database\", \"measurement\"]}: s1 (one influxd, $POINTS points in 20 measurements of 100 hosts) -> s1, s2 (one influxd each); $(influxd version | head -1)"
TIMEFORMAT='%U %S'
{ time "$BUILD/influx-wal" reshard --apply --config "$work/$name.toml" \
    --relay "http://127.0.0.1:$port" >"$work/out.txt" 2>"$work/err.txt"; } 2>"$work/time.txt"
rc=$?
if [ "$rc" -ne 0 ]; then
    echo "reshard failed ($rc):"
    tail -5 "$work/err.txt"
    exit 1
fi
for p in "${rpids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
/usr/bin/python3 - "$work/out.txt" "$work/time.txt" "$t0" "$t1" "$POINTS" <<'PY'
import re, sys
out = open(sys.argv[1]).read().strip().splitlines()[-1]
user, sys_s = map(float, open(sys.argv[2]).read().split())
t0, t1, points = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
f = dict(kv.split("=", 1) for kv in out.split()[2:] if "=" in kv)
copied = int(f["copied"])
print("  copy      %8.0f points/s  (%d points copied in %s s)  CLI CPU %.2f us/point" %
      (float(f["copy_points_per_second"]), copied, f["copy_seconds"],
       (user + sys_s) * 1e6 / copied if copied else float("nan")))
print("  whole     %s s (copy, switch, settle, sync, verify, drop)" % f["seconds"])
print("  influxd   %8.0f points/s  (the same points written straight to s1, 5000 a request)" %
      (points / (t1 - t0)))
PY
}
round measurement ""
round series '["database", "measurement", "tag:host"]'
