#!/usr/bin/env bash
# Remote-write benchmark: wrk posting Prometheus remote write 1.0 requests (a scrape's worth:
# 500 series with one sample each, snappy-compressed protobuf as Prometheus sends them; 64
# distinct requests, so timestamps differ) for BENCH_SECONDS (10) at -c8, to the relay's
# /api/v1/prom/write (durable commits, its only backend down so the senders stay idle) and
# straight to a real influxd's /api/v1/prom/write in the same run. Prints acknowledged
# samples/s, p50/p99 latency and the relay's CPU per sample (utime+stime from /proc/PID/stat), and
# its loop thread's alone (/proc/PID/task/PID/stat): the conversion runs on the pool.
# Loopback only; everything it starts it stops.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-10}
SERIES=500
. bench/lib.sh
bench_begin promwrite

# The requests, built with the tests' encoder: bodies/0 .. bodies/63.
mkdir -p "$work/bodies"
/usr/bin/python3 - "$work/bodies" "$SERIES" <<'PY' || exit 1
import os, sys
sys.dont_write_bytecode = True
sys.path.insert(0, "tests/integ")
import harness as h
out, n = sys.argv[1], int(sys.argv[2])
for r in range(64):
    series = [([("__name__", "bench_metric_%d" % (i % 50)), ("instance", "host%03d:9100" % (i // 50)),
                ("job", "node"), ("cpu", str(i % 8))], [(i * 1.25 + r, 1700000000000 + r * 15000)])
              for i in range(n)]
    with open(os.path.join(out, str(r)), "wb") as f:
        f.write(h.snappy_block(h.prom_write_request(series)))
PY
cat >"$work/promwrite.lua" <<LUA
local bodies = {}
local counter = 0
function init(args)
  for i = 0, 63 do
    local f = io.open("$work/bodies/" .. i, "rb")
    bodies[#bodies + 1] = f:read("*a")
    f:close()
  end
end
function request()
  counter = counter + 1
  return wrk.format("POST", "/api/v1/prom/write?db=bench",
    {["Content-Type"] = "application/x-protobuf", ["Content-Encoding"] = "snappy",
     ["X-Prometheus-Remote-Write-Version"] = "0.1.0"}, bodies[(counter % 64) + 1])
end
LUA

run_wrk() { # label url conns pid-or-empty
    local out="$work/wrk-$1-$3.txt" t0=0 t1=0 l0=0 l1=0
    [ -n "$4" ] && t0=$(bench_cpu_ticks "$4") && l0=$(bench_loop_ticks "$4")
    wrk -t2 -c"$3" -d"${SECS}s" --timeout 10s --latency -s "$work/promwrite.lua" "$2" >"$out" 2>&1
    [ -n "$4" ] && t1=$(bench_cpu_ticks "$4") && l1=$(bench_loop_ticks "$4")
    /usr/bin/python3 - "$1" "$3" "$out" "$SERIES" "$((t1 - t0))" "$(getconf CLK_TCK)" "$((l1 - l0))" <<'PY'
import re, sys
label, conns, path, per, ticks, hz = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
loop = int(sys.argv[7])
t = open(path).read()
def lat(p):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % p, t, re.M)
    if not m: return float("nan")
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
reqs = int(re.search(r"(\d+) requests in ([\d.]+)(s|m)", t).group(1))
secs = float(re.search(r"requests in ([\d.]+)s", t).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
bad = int(non2xx.group(1)) if non2xx else 0
samples = (reqs - bad) * per
cpu = ""
if ticks > 0 and samples > 0:
    cpu = "  relay CPU %.2f us/sample (%.0f%% of a core; its loop thread %.2f us/sample)" % (
        ticks / hz / samples * 1e6, 100.0 * ticks / hz / secs, loop / hz / samples * 1e6)
print("%-8s -c%-3s %10.0f samples/s acknowledged  p50 %7.2f ms  p99 %7.2f ms  (%d requests, %d not 2xx)%s"
      % (label, conns, samples / secs, lat(50), lat(99), reqs, bad, cpu))
PY
}

bench_influxd_config "$work/influxd"
influxd run -config "$work/influxd/influxd.conf" >"$work/influxd.log" 2>&1 &
pids+=($!)
bench_wait_ping "$BENCH_INFLUXD_URL" || exit 1
curl -s -XPOST "$BENCH_INFLUXD_URL/query" --data-urlencode 'q=CREATE DATABASE bench' >/dev/null

dead=$(bench_free_port)
rp=$(bench_free_port)
cat >"$work/relay.toml" <<CONF
[http]
listen = ["127.0.0.1:$rp"]
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
bench_wait_ping "http://127.0.0.1:$rp" || exit 1
echo "requests of $SERIES samples ($(stat -c %s "$work/bodies/0") bytes snappy); relay: durable log, backend down; $(influxd version | head -1)"
run_wrk relay "http://127.0.0.1:$rp" 8 "$relay"
echo "         relay peak RSS $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$relay/status), log $(du -sh "$work/wal" | cut -f1)"
kill "$relay"; wait "$relay" 2>/dev/null
run_wrk influxd "$BENCH_INFLUXD_URL" 8 ""
