#!/usr/bin/env bash
# Rebuild benchmark: POINTS points (default 1,000,000: 100 series, a float field with scattered
# values and an integer field, one point per series and second) written straight to influxd A, and the same bodies straight to
# influxd B (timed: the direct ingest rate of B); B's database is then dropped and
# `influx-wal rebuild --backend b --from a` (through an idle relay in front of both) restores it.
# Prints both rates in points/s and the CLI's CPU (user + system and peak RSS, from /usr/bin/time,
# or bash's times without it). Loopback only; everything it starts it stops.
#   POINTS   points (default 1000000)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
POINTS=${POINTS:-1000000}
PY=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/iwr-bench-rebuild.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

. bench/lib.sh
urls=()
rpcs=()
for side in a b; do
    bench_influxd_config "$work/$side"
    influxd run -config "$work/$side/influxd.conf" >"$work/$side.log" 2>&1 &
    pids+=($!)
    urls+=("$BENCH_INFLUXD_URL")
    rpcs+=("$BENCH_INFLUXD_RPC")
done
for u in "${urls[@]}"; do bench_wait_ping "$u" || exit 1; done

# A gets the points (untimed); B gets the same bodies, timed: the direct ingest rate.
$PY - "$POINTS" "${urls[@]}" >"$work/ingest" <<'PY' || exit 1
import http.client, sys, time, urllib.parse
total, urls = int(sys.argv[1]), sys.argv[2:]
conns = []
for u in urls:
    p = urllib.parse.urlsplit(u)
    c = http.client.HTTPConnection(p.hostname, p.port, timeout=300)
    c.request("POST", "/query", "q=CREATE+DATABASE+rebuild",
              {"Content-Type": "application/x-www-form-urlencoded"})
    c.getresponse().read()
    conns.append(c)
per, series = 10000, 100
base = 1600000000 * 10**9
def post(c, body):
    c.request("POST", "/write?db=rebuild&precision=ns", body)
    r = c.getresponse(); r.read()
    if r.status != 204:
        print("write: %d" % r.status, file=sys.stderr); sys.exit(1)
spent, sent = 0.0, 0
while sent < total:
    n = min(per, total - sent)
    # Scattered floats (a multiplicative hash), so the TSM files are not trivially small.
    body = "".join("cpu,host=h%03d usage=%.6f,n=%di %d\n" % (
        (sent + i) % series, ((sent + i) * 2654435761 % 1000003) / 7.0, sent + i,
        base + ((sent + i) // series) * 10**9) for i in range(n)).encode()
    post(conns[0], body)
    t0 = time.time()
    post(conns[1], body)
    spent += time.time() - t0
    sent += n
print("%.3f" % spent)
PY
ingest_s=$(cat "$work/ingest")
curl -s -o /dev/null -XPOST "${urls[1]}/query" --data-urlencode "q=DROP DATABASE rebuild" || exit 1

# An idle relay in front of both: the rebuild tells it to pause B and resume it after.
port=$(bench_free_port)
"$BUILD/influx-wal-relay" --listen "127.0.0.1:$port" --data-dir "$work/relay" \
    --backend "a=${urls[0]}" --backend "b=${urls[1]}" >"$work/relay.log" 2>&1 &
pids+=($!)
bench_wait_ping "http://127.0.0.1:$port" || exit 1

args=(rebuild --backend b --from a --url "a=${urls[0]}" --url "b=${urls[1]}"
      --from-rpc "${rpcs[0]}" --rpc "${rpcs[1]}" --relay "http://127.0.0.1:$port"
      --data-dir "$work/relay" --state-dir "$work/state")
bin=$(cd "$BUILD" && pwd)/influx-wal
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
[ "$rc" = 0 ] || { echo "rebuild exit $rc"; tail -5 "$work/err"; exit 1; }
$PY -c "
import sys
p, ing, wall, user, sys_, rss = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
print('direct ingest into influxd B: %d points in %.2fs, %.0f points/s' % (p, ing, p / ing))
print('rebuild of B from A: %d points in %.2fs wall (check, backup, restore, verify), %.0f points/s (%.2fx direct ingest); rebuild CLI CPU %.2fs user + %.2fs sys, peak RSS %d KiB' % (p, wall, p / wall, (p / wall) / (p / ing), user, sys_, rss))
" "$POINTS" "$ingest_s" "$wall" "$user" "$sys" "$rss"
