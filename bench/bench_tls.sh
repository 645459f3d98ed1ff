#!/usr/bin/env bash
# TLS cost: one relay with a plain and a TLS listener (influxdb-relay's layout, ssl-combined-pem
# on the second [[http]]), wrk posting the same 1000-point bodies to each in turn, -t2 -c16 for
# 10 s, durable commits, backend down (replay idle). Prints durable points/s and the relay's CPU
# per point (utime + stime from /proc/PID/stat over each run) for plain HTTP and for TLS, then
# the latency of one write over TLS while 300 half-open handshakes are held open. Loopback
# only; everything it starts it stops.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-10}
. bench/lib.sh
bench_begin tls

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 || exit 1
cat "$work/cert.pem" "$work/key.pem" >"$work/combined.pem"

plain=$(bench_free_port)
tls=$(bench_free_port)
dead=$(bench_free_port)
cat >"$work/relay.toml" <<CONF
[[http]]
name = "plain"
bind-addr = "127.0.0.1:$plain"
output = [{ name = "down", location = "http://127.0.0.1:$dead/write" }]
[[http]]
name = "tls"
bind-addr = "127.0.0.1:$tls"
ssl-combined-pem = "$work/combined.pem"
output = [{ name = "down", location = "http://127.0.0.1:$dead/write" }]
CONF
"$BUILD/influx-wal-relay" --config "$work/relay.toml" --data-dir "$work/wal" --log-level warn \
    >>"$work/relay.log" 2>&1 &
relay=$!
pids+=($relay)
bench_wait_ping "http://127.0.0.1:$plain" || exit 1

run_wrk() { # label url
    local out="$work/wrk-$1.txt" t0 t1
    t0=$(bench_cpu_ticks "$relay")
    wrk -t2 -c16 -d"${SECS}s" --timeout 10s --latency -s bench/wrk_write.lua "$2" >"$out" 2>&1
    t1=$(bench_cpu_ticks "$relay")
    /usr/bin/python3 - "$1" "$out" "$((t1 - t0))" "$(getconf CLK_TCK)" <<'PY'
import re, sys
label, path, ticks, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
t = open(path).read()
m = re.search(r"(\d+) requests in ([\d.]+)(s|m)", t)
if not m:
    print("%-6s wrk failed: %s" % (label, t.strip()[-300:]))
    sys.exit(0)
reqs, secs = int(m.group(1)), float(m.group(2)) * (60 if m.group(3) == "m" else 1)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
bad = int(non2xx.group(1)) if non2xx else 0
points = (reqs - bad) * 1000
cpu = ticks / hz
print("%-6s %12.0f durable points/s  relay CPU %6.2f us/point (%.1f s CPU in %.1f s)  %d requests, %d not 2xx"
      % (label, points / secs, 1e6 * cpu / points if points else float("nan"), cpu, secs, reqs, bad))
PY
}

echo "relay: durable log (fsync on every commit), backend down; wrk -t2 -c16, ${SECS}s each"
run_wrk plain "http://127.0.0.1:$plain"
run_wrk tls "https://127.0.0.1:$tls"

/usr/bin/python3 - "$tls" "$work/cert.pem" <<'PY'
import http.client, os, socket, ssl, sys, time
port, ca = int(sys.argv[1]), sys.argv[2]
hello = bytes.fromhex("16030100a5010000a10303") + os.urandom(32)  # a ClientHello cut short
held = []
for _ in range(300):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(hello)
    held.append(s)
ctx = ssl.create_default_context(cafile=ca)
lat = []
for i in range(5):
    t0 = time.monotonic()
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=ctx)
    c.request("POST", "/write?db=bench", body=b"flood n=%di" % i)
    st = c.getresponse().status
    c.close()
    lat.append((time.monotonic() - t0) * 1000)
for s in held:
    s.close()
print("tls    one write (new connection, handshake included) while 300 half-open handshakes are "
      "held: status %d, median %.1f ms, max %.1f ms (5 writes)" % (st, sorted(lat)[2], max(lat)))
PY
