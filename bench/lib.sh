# Shared by the benchmark scripts (sourced): free loopback ports below 32768, a real influxd in
# a directory of its own, and waiting for a /ping. Loopback only.

bench_free_port() {
    /usr/bin/python3 -c '
import random, socket
for _ in range(200):
    p = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()'
}

# bench_wait_ping URL: 0 once it answers 204, 1 after 30 s.
bench_wait_ping() {
    for _ in $(seq 1 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/ping")" = 204 ] && return 0
        sleep 0.1
    done
    echo "no answer from $1" >&2
    return 1
}

# bench_influxd_config DIR: write DIR/influxd.conf for a loopback influxd with its data in DIR;
# sets BENCH_INFLUXD_URL and BENCH_INFLUXD_RPC (its RPC HOST:PORT, for backup and restore).
# Start it with: influxd run -config DIR/influxd.conf
bench_influxd_config() {
    local dir=$1 http rpc
    http=$(bench_free_port)
    rpc=$(bench_free_port)
    mkdir -p "$dir"
    cat >"$dir/influxd.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$http"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
CONF
    BENCH_INFLUXD_URL="http://127.0.0.1:$http"
    BENCH_INFLUXD_RPC="127.0.0.1:$rpc"
}

# bench_start_relay PORT: start $BUILD/influx-wal-relay with $work/relay.toml (listening on
# PORT), logging to $work/relay.log; sets $relay, adds it to $pids, waits for its /ping.
bench_start_relay() {
    "$BUILD/influx-wal-relay" --config "$work/relay.toml" >>"$work/relay.log" 2>&1 &
    relay=$!
    pids+=($relay)
    bench_wait_ping "http://127.0.0.1:$1" || exit 1
}

# bench_cpu_ticks PID: the CPU (user + system, in clock ticks) process PID has used so far.
bench_cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# bench_loop_ticks PID: the same for PID's main thread alone: the relay's libuv loop.
bench_loop_ticks() { awk '{print $14 + $15}' "/proc/$1/task/$1/stat"; }

# bench_wrk LABEL URL CONNS [PID]: wrk -t2 for $SECS s with bench/wrk_write.lua (1000-point
# bodies) into URL; prints acknowledged points/s, p50/p99 and, given PID, that process's CPU
# per acknowledged point, and its loop thread's. WRK_PATH, when set, is the path posted to (default /write?db=bench).
# Its output file goes to $work.
bench_wrk() {
    local out="$work/wrk-$1-$3.txt" c0=0 c1=0 l0=0 l1=0
    [ -n "${4:-}" ] && c0=$(bench_cpu_ticks "$4") && l0=$(bench_loop_ticks "$4")
    wrk -t2 -c"$3" -d"${SECS}s" --timeout 10s --latency -s bench/wrk_write.lua "$2" ${WRK_PATH:+-- "$WRK_PATH"} \
        >"$out" 2>&1
    [ -n "${4:-}" ] && c1=$(bench_cpu_ticks "$4") && l1=$(bench_loop_ticks "$4")
    /usr/bin/python3 - "$1" "$3" "$out" "$((c1 - c0))" "$(getconf CLK_TCK)" "$((l1 - l0))" <<'PY'
import re, sys
label, conns, path = sys.argv[1], sys.argv[2], sys.argv[3]
ticks, hz, loop_ticks = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
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
    cpu = "  CPU %.3f us/point (loop thread %.3f)" % (
        ticks / hz * 1e6 / ((reqs - bad) * 1000), loop_ticks / hz * 1e6 / ((reqs - bad) * 1000))
print("%-10s -c%-3s %12.0f points/s acknowledged  p50 %7.2f ms  p99 %7.2f ms  (%d requests, %d not 2xx)%s"
      % (label, conns, ok_rps * 1000, lat(50), lat(99), reqs, bad, cpu))
PY
}

# bench_begin NAME: a fresh work directory in $work and an empty $pids; at exit every PID in
# $pids is stopped (the script's own processes only) and $work removed.
bench_begin() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/iwr-bench-$1.XXXXXX")
    pids=()
    trap bench_cleanup EXIT
}
bench_cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
