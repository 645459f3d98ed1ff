#!/usr/bin/env bash
# The cost of logged statements in the write path: wrk posting 1000-point bodies (-t2 -c8) for
# 10 s through the relay to a real influxd (durable commits, the sender live), once alone and
# once with a statement through /query every second (DELETE of a measurement that holds
# nothing: committed to the log, applied by the sender at its place, which drains the
# sender's window before it and holds the writes after it until it is answered). Prints the
# acknowledged points/s and p99 of each run, the statements' own answer times, and how long
# the backend took to catch up after each run. Loopback only; everything it starts it stops.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-10}
. bench/lib.sh
bench_begin stmt

bench_influxd_config "$work/influxd"
influxd run -config "$work/influxd/influxd.conf" >"$work/influxd.log" 2>&1 &
pids+=($!)
bench_wait_ping "$BENCH_INFLUXD_URL" || exit 1

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
name = "a"
url = "$BENCH_INFLUXD_URL"
CONF
    "$BUILD/influx-wal-relay" --config "$work/relay.toml" >>"$work/relay.log" 2>&1 &
    relay=$!
    pids+=($relay)
    bench_wait_ping "http://127.0.0.1:$1" || exit 1
}

# caught_up URL: seconds until /health says the backend is caught up (at most 120).
caught_up() {
    /usr/bin/python3 - "$1" <<'PY'
import json, sys, time, urllib.request
t0 = time.monotonic()
while time.monotonic() - t0 < 120:
    try:
        doc = json.load(urllib.request.urlopen(sys.argv[1] + "/health", timeout=5))
        if all(b.get("caught_up") for b in doc.get("backends", [])):
            break
    except Exception:
        pass
    time.sleep(0.05)
print("%.2f" % (time.monotonic() - t0))
PY
}

run() { # label with_statements (also the name of its files)
    local rp out
    rp=$(bench_free_port)
    start_relay "$rp"
    local url="http://127.0.0.1:$rp"
    curl -s -XPOST "$url/query" --data-urlencode 'q=CREATE DATABASE bench' >/dev/null
    out="$work/wrk-$2.txt"
    local spid=""
    if [ "$2" = 1 ]; then
        # One statement a second (each in the background: a slow answer does not delay the
        # next), timed from the client's side.
        (for _ in $(seq 1 "$SECS"); do
             curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -XPOST "$url/query" \
                 --data-urlencode 'db=bench' \
                 --data-urlencode 'q=DELETE FROM "bench_nothing" WHERE time < 0' &
             sleep 1
         done
         wait) >"$work/stmts-$2.txt" &
        spid=$!
    fi
    wrk -t2 -c8 -d"${SECS}s" --timeout 10s --latency -s bench/wrk_write.lua "$url" >"$out" 2>&1
    local drain
    drain=$(caught_up "$url")
    [ -n "$spid" ] && wait "$spid"
    /usr/bin/python3 - "$1" "$out" "$work/stmts-$2.txt" "$drain" <<'PY'
import os, re, sys
label, path, spath, drain = sys.argv[1:5]
t = open(path).read()
def lat(p):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % p, t, re.M)
    if not m: return float("nan")
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
reqs = int(re.search(r"(\d+) requests in", t).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
bad = int(non2xx.group(1)) if non2xx else 0
ok = rps * (reqs - bad) / reqs if reqs else 0
line = "%-16s %10.0f points/s acknowledged  p99 %7.2f ms  caught up %s s after the load" % (
    label, ok * 1000, lat(99), drain)
if os.path.exists(spath):
    rows = [l.split() for l in open(spath) if l.strip()]
    times = sorted(float(r[1]) * 1000 for r in rows if len(r) == 2)
    codes = sorted(set(r[0] for r in rows))
    if times:
        line += "\n%-16s %d statements (HTTP %s): answer p50 %.1f ms, max %.1f ms" % (
            "", len(times), ",".join(codes), times[len(times) // 2], times[-1])
print(line)
PY
    kill "$relay"
    wait "$relay" 2>/dev/null
}

echo "relay -> influxd ($(influxd version | head -1)), durable log, wrk -t2 -c8 ${SECS}s"
echo "(two rounds each, alternating: on a shared machine compare within a round)"
for round in 1 2; do
    run "writes only" 0
    run "+1 statement/s" 1
done
