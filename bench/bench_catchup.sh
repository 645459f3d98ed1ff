#!/usr/bin/env bash
# Catch-up benchmark: the daemon takes a backlog of POINTS points (default 5,000,000) while its
# backend is not running, then the backend (a real influxd) starts and the daemon catches it
# up. Prints the time to catch up (from the backend answering /ping to its cursor at the head),
# the rate, the count in the backend (checked), and the daemon's peak RSS over the whole run.
# Loopback only; everything it starts it stops.
#   POINTS   backlog size (default 5000000)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
POINTS=${POINTS:-5000000}
PY=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/iwr-bench-catchup.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

. bench/lib.sh
bench_influxd_config "$work/influxd"
rp=$(bench_free_port)
cat >"$work/relay.toml" <<CONF
[http]
listen = ["127.0.0.1:$rp"]
[wal]
dir = "$work/wal"
max-size = "8GiB"
[log]
level = "warn"
[[backend]]
name = "b"
url = "$BENCH_INFLUXD_URL"
create-database = true
retry-max-delay = "1s"
CONF
"$BUILD/influx-wal-relay" --config "$work/relay.toml" >"$work/relay.log" 2>&1 &
relay=$!
pids+=($relay)
bench_wait_ping "http://127.0.0.1:$rp" || exit 1

# The backlog: 5000-point bodies, every point unique, 1000 series.
$PY - "$rp" "$POINTS" <<'PY'
import http.client, sys, time
port, total = int(sys.argv[1]), int(sys.argv[2])
per = 5000
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
t0 = time.time()
sent = 0
lines = ["cpu,host=host%04d usage=%d.5,n=%di " % (i % 1000, i, i) for i in range(per)]
req = 0
while sent < total:
    n = min(per, total - sent)
    base = 1600000000000000000 + req * per
    body = "".join("%s%d\n" % (lines[i], base + i) for i in range(n)).encode()
    c.request("POST", "/write?db=catchup", body)
    r = c.getresponse(); r.read()
    if r.status != 204:
        sys.exit("write answered %d" % r.status)
    sent += n
    req += 1
print("backlog: %d points in %.1f s through the relay (backend down)" % (sent, time.time() - t0))
PY
[ $? -eq 0 ] || exit 1
"$BUILD/influx-wal" status --data-dir "$work/wal" | sed -n '2,4p'
echo "relay RSS with the backlog held: $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$relay/status)"

influxd run -config "$work/influxd/influxd.conf" >"$work/influxd.log" 2>&1 &
pids+=($!)
bench_wait_ping "$BENCH_INFLUXD_URL" || exit 1
start=$(date +%s.%N)
deadline=$(( $(date +%s) + 900 ))
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$rp/health/backend/b")" = 200 ]; do
    if [ "$(date +%s)" -gt "$deadline" ]; then echo "not caught up after 900 s"; exit 1; fi
    sleep 0.2
done
end=$(date +%s.%N)
count=$(curl -s "$BENCH_INFLUXD_URL/query" --data-urlencode "db=catchup" \
    --data-urlencode 'q=SELECT count("n") FROM cpu' | $PY -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["series"][0]["values"][0][1])')
$PY - "$start" "$end" "$POINTS" "$count" <<'PY'
import sys
s, e, want, got = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print("catch-up: %d points in %.1f s (%.0f points/s); backend holds %d points (%s)"
      % (want, e - s, want / (e - s), got, "exact" if got == want else "MISMATCH"))
PY
echo "relay peak RSS over backlog and catch-up: $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$relay/status); now: $(awk '/RssAnon|RssFile/ {printf "%s %.1f MB  ", $1, $2/1024}' /proc/$relay/status)"
echo "of which the log's mapping (data.mdb): $(awk '/data.mdb/ {m=1; next} /^[0-9a-f]+-[0-9a-f]+ / {m=0} m && /^Rss:/ {s+=$2} END {printf "%.1f MB", s/1024}' /proc/$relay/smaps)"
