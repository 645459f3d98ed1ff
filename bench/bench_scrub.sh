#!/usr/bin/env bash
# Scrub benchmark: POINTS points (default 1,000,000: 100 series, a float and an integer field,
# one point per series and second, so POINTS/100 seconds, about 2.8 hours) written with the same
# bodies straight to two real influxd, then `influx-wal scrub` compares them. Prints the scrub's wall
# time, the time per million points, and its CPU (user + system, from /usr/bin/time or bash's
# times). Loopback only; everything it starts it stops.
#   POINTS   points per backend (default 1000000)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
POINTS=${POINTS:-1000000}
PY=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/iwr-bench-scrub.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

. bench/lib.sh
urls=()
for side in a b; do
    bench_influxd_config "$work/$side"
    influxd run -config "$work/$side/influxd.conf" >"$work/$side.log" 2>&1 &
    pids+=($!)
    urls+=("$BENCH_INFLUXD_URL")
done
for u in "${urls[@]}"; do bench_wait_ping "$u" || exit 1; done

$PY - "$POINTS" "${urls[@]}" <<'PY' || exit 1
import http.client, sys, time, urllib.parse
total, urls = int(sys.argv[1]), sys.argv[2:]
conns = []
for u in urls:
    p = urllib.parse.urlsplit(u)
    c = http.client.HTTPConnection(p.hostname, p.port, timeout=120)
    c.request("POST", "/query", "q=CREATE+DATABASE+scrub",
              {"Content-Type": "application/x-www-form-urlencoded"})
    c.getresponse().read()
    conns.append(c)
per, series = 10000, 100
base = 1600000000 * 10**9
sent, t0 = 0, time.time()
while sent < total:
    n = min(per, total - sent)
    body = "".join("cpu,host=h%03d usage=%d.5,n=%di %d\n" % ((sent + i) % series, sent + i, sent + i,
                   base + ((sent + i) // series) * 10**9) for i in range(n)).encode()
    for c in conns:
        c.request("POST", "/write?db=scrub&precision=ns", body)
        r = c.getresponse(); r.read()
        if r.status != 204:
            print("write: %d" % r.status, file=sys.stderr); sys.exit(1)
    sent += n
print("loaded %d points into each backend in %.1fs" % (total, time.time() - t0))
PY

# No log next to it (run in $work, no ./data): nothing is in flight, the figure is the queries'.
args=(scrub --backend a --backend b --url "a=${urls[0]}" --url "b=${urls[1]}")
bin=$(cd "$BUILD" && pwd)/influx-wal
cd "$work"
if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$bin" "${args[@]}" >"$work/out" 2>"$work/err"
    rc=$?
    read -r wall user sys rss <"$work/time"
else
    start=$(date +%s.%N)
    "$bin" "${args[@]}" >"$work/out" 2>"$work/err"
    rc=$?
    wall=$(echo "$(date +%s.%N) - $start" | bc)
    read -r _ _ user sys < <(times | tail -1 | tr 'ms' '  ')
    rss=0
fi
tail -1 "$work/out"
[ "$rc" = 0 ] || { echo "scrub exit $rc"; cat "$work/err" | tail -5; exit 1; }
$PY -c "
import sys
p, wall, user, sys_, rss = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
print('scrub of %d points per backend: %.2fs wall, %.2fs per million points; scrub CPU %.2fs user + %.2fs sys, peak RSS %d KiB' % (p, wall, wall * 1e6 / p, user, sys_, rss))
" "$POINTS" "$wall" "$user" "$sys" "$rss"
