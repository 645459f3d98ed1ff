#!/usr/bin/env bash
# Ingest benchmark: wrk posting 1000-point bodies (every point unique), -t2 at -c8 and -c64 for
# 10 s, against the relay with durable commits and its only backend down (replay idle), and the
# same load posted straight to a real influxd in the same run. Prints acknowledged points/s,
# p50/p99 latency, and the relay's peak RSS. Loopback only; everything it starts it stops.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-10}
work=$(mktemp -d "${TMPDIR:-/tmp}/iwr-bench-ingest.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
. bench/lib.sh

# The CPU (user + system, in clock ticks) process $1 has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run_wrk() { # label url conns [pid: the server's CPU per acknowledged point is printed too]
    local out="$work/wrk-$1-$3.txt" c0=0 c1=0
    [ -n "${4:-}" ] && c0=$(cpu_ticks "$4")
    wrk -t2 -c"$3" -d"${SECS}s" --timeout 10s --latency -s bench/wrk_write.lua "$2" >"$out" 2>&1
    [ -n "${4:-}" ] && c1=$(cpu_ticks "$4")
    /usr/bin/python3 - "$1" "$3" "$out" "$((c1 - c0))" "$(getconf CLK_TCK)" <<'PY'
import re, sys
label, conns, path = sys.argv[1], sys.argv[2], sys.argv[3]
ticks, hz = int(sys.argv[4]), int(sys.argv[5])
t = open(path).read()
def lat(p):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % p, t, re.M)
    if not m: return float("nan")
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
reqs = int(re.search(r"(\d+) requests in", t).group(1))
bad = int(non2xx.group(1)) if non2xx else 0
ok_rps = rps * (reqs - bad) / reqs if reqs else 0
cpu = ""
if ticks > 0 and reqs > bad:
    cpu = "  CPU %.3f us/point" % (ticks / hz * 1e6 / ((reqs - bad) * 1000))
print("%-8s -c%-3s %12.0f points/s acknowledged  p50 %7.2f ms  p99 %7.2f ms  (%d requests, %d not 2xx)%s"
      % (label, conns, ok_rps * 1000, lat(50), lat(99), reqs, bad, cpu))
PY
}

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
    run_wrk relay "http://127.0.0.1:$rp" $c "$relay"
    echo "         relay peak RSS $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$relay/status), log $(du -sh "$work/wal" | cut -f1)"
    kill "$relay"; wait "$relay" 2>/dev/null
done
for c in 8 64; do run_wrk influxd "$BENCH_INFLUXD_URL" $c; done
