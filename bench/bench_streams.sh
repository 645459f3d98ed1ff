#!/usr/bin/env bash
# Stream listener benchmark: Graphite and OpenTSDB telnet lines over loopback TCP (2
# connections, BENCH_STREAM_LINES lines each protocol, every point unique), sent to the relay
# (durable commits, its only backend down so replay stays idle) and, in the same run, to a
# real influxd's own graphite and opentsdb inputs. Prints lines/s (wall clock, from the first
# byte sent to the last point committed or stored) and lines/s per core (lines over the
# receiving process's CPU seconds, utime + stime from /proc/PID/stat). Bounded: each load
# sends a fixed number of lines and waits at most 120 s. influxd's figure includes the count
# queries that see its points stored (every 250 ms), the relay's its /metrics reads (50 ms). Loopback only; what it starts it stops.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
LINES=${BENCH_STREAM_LINES:-400000}
. bench/lib.sh
bench_begin streams

bench_influxd_config "$work/influxd"
ig=$(bench_free_port)
it=$(bench_free_port)
cat >>"$work/influxd/influxd.conf" <<CONF
[[graphite]]
  enabled = true
  bind-address = "127.0.0.1:$ig"
  database = "g"
  protocol = "tcp"
  batch-size = 5000
  batch-timeout = "100ms"
[[opentsdb]]
  enabled = true
  bind-address = "127.0.0.1:$it"
  database = "t"
  batch-size = 5000
  batch-timeout = "100ms"
CONF
influxd run -config "$work/influxd/influxd.conf" >"$work/influxd.log" 2>&1 &
influxd_pid=$!
pids+=($influxd_pid)
bench_wait_ping "$BENCH_INFLUXD_URL" || exit 1
for db in g t; do
    curl -s -XPOST "$BENCH_INFLUXD_URL/query" --data-urlencode "q=CREATE DATABASE $db" >/dev/null
done

rg=$(bench_free_port)
rt=$(bench_free_port)
rh=$(bench_free_port)
dead=$(bench_free_port)
"$BUILD/influx-wal-relay" --listen "127.0.0.1:$rh" --data-dir "$work/wal" \
    --backend "down=http://127.0.0.1:$dead" --log-level warn \
    --graphite "127.0.0.1:$rg=g" --opentsdb "127.0.0.1:$rt=t" >"$work/relay.log" 2>&1 &
relay_pid=$!
pids+=($relay_pid)
bench_wait_ping "http://127.0.0.1:$rh" || exit 1

echo "relay: durable log (fsync on every commit), backend down; $(influxd version | head -1); $LINES lines per run, 2 TCP connections"
/usr/bin/python3 - "$LINES" "$relay_pid" "$rh" "$rg" "$rt" "$influxd_pid" "$BENCH_INFLUXD_URL" \
    "$ig" "$it" <<'PY'
import json, os, socket, sys, threading, time, urllib.parse, urllib.request
lines = int(sys.argv[1])
relay_pid, rh, rg, rt = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
influxd_pid, iurl, ig, it = int(sys.argv[6]), sys.argv[7], int(sys.argv[8]), int(sys.argv[9])
tick = os.sysconf("SC_CLK_TCK")
base = int(time.time()) - 86400 * 3

def cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick  # utime + stime

def payload(kind, part, parts):
    out = []
    for i in range(part, lines, parts):
        ts = base + i // 100
        if kind == "graphite":
            out.append(b"bench.m%d %d %d\n" % (i % 100, i, ts))
        else:
            out.append(b"put bench.m%d %d %d host=h\n" % (i % 100, ts, i))
    return b"".join(out)

def relay_points(label):
    t = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % rh, timeout=10).read().decode()
    for l in t.splitlines():
        if l.startswith('influx_wal_listener_points_total{listener="%s"}' % label):
            return float(l.split()[-1])
    return 0

def influxd_points(db):
    q = urllib.parse.urlencode({"db": db, "q": 'SELECT count("value") FROM /bench\\./'})
    r = json.loads(urllib.request.urlopen(iurl + "/query?" + q, timeout=30).read())
    return sum(s["values"][0][1] for s in r["results"][0].get("series", []) or [])

def run(label, kind, port, pid, done, poll):
    bodies = [payload(kind, p, 2) for p in range(2)]
    c0, t0 = cpu(pid), time.monotonic()
    def send(b):
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        s.sendall(b)
        s.close()
    ts = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for t in ts: t.start()
    for t in ts: t.join()
    got = 0
    while time.monotonic() - t0 < 120:
        got = done()
        if got >= lines:
            break
        time.sleep(poll)
    wall, used = time.monotonic() - t0, cpu(pid) - c0
    print("%-8s %-8s %10.0f lines/s  %10.0f lines/s per core  (%d of %d, %.2f s, %.2f CPU s)"
          % (label, kind, got / wall, got / used if used else float("nan"), got, lines, wall, used))

run("relay", "graphite", rg, relay_pid, lambda: relay_points("graphite/tcp/127.0.0.1:%d" % rg), 0.05)
run("relay", "opentsdb", rt, relay_pid, lambda: relay_points("opentsdb/tcp/127.0.0.1:%d" % rt), 0.05)
run("influxd", "graphite", ig, influxd_pid, lambda: influxd_points("g"), 0.25)
run("influxd", "opentsdb", it, influxd_pid, lambda: influxd_points("t"), 0.25)
PY
echo "         relay peak RSS $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$relay_pid/status), log $(du -sh "$work/wal" | cut -f1)"
