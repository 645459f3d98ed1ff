#!/usr/bin/env bash
# Replay throughput: a backlog of POINTS points (default 1,000,000) in the log replayed into one
# real influxd by tests/tools/replay_drive, against the same points POSTed straight to it
# (python, one keep-alive connection, 5000 lines per request), and the driver's peak RSS
# during the catch-up (/usr/bin/time -v). Each run writes its own database; both counts are
# checked. Prints the figures; timings are information, not assertions.
#   POINTS     backlog size (default 1000000)
#   GZIP=1     replay with Content-Encoding: gzip
#   IN_FLIGHT  batches in flight per backend (default: the engine's)
#   SETTLE_SECONDS  pause after the direct load (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
POINTS=${POINTS:-1000000}
PY=/usr/bin/python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/iwr-bench-replay.XXXXXX")
influx_pid=
cleanup() {
    if [ -n "$influx_pid" ]; then
        kill "$influx_pid" 2>/dev/null || true
        wait "$influx_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

. bench/lib.sh

echo "building replay_drive"
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -I. -I/usr/share/include/llhttp \
    tests/tools/replay_drive.c replay/*.c wal/*.c common/*.c \
    $(pkg-config --cflags --libs lmdb libuv libcurl zlib libisal) -lpthread -o "$tmp/replay_drive"

bench_influxd_config "$tmp/influx"
/usr/bin/influxd -config "$tmp/influx/influxd.conf" >"$tmp/influxd.log" 2>&1 &
influx_pid=$!
url=$BENCH_INFLUXD_URL
bench_wait_ping "$url"
curl -sf -o /dev/null -XPOST "$url/query" --data-urlencode 'q=CREATE DATABASE "direct"'
curl -sf -o /dev/null -XPOST "$url/query" --data-urlencode 'q=CREATE DATABASE "replayed"'

echo "generating $POINTS points"
$PY -c "
import sys
n = int(sys.argv[1])
with open(sys.argv[2], 'w') as f:
    for i in range(n):
        f.write('cpu,host=h%d,region=r%d usage_user=%d.5,usage_system=%di %d\n'
                % (i % 100, i % 7, i % 1000, i % 50, 1600000000000000000 + i * 1000))
" "$POINTS" "$tmp/points.lp"
bytes=$(stat -c %s "$tmp/points.lp")

echo "posting straight to influxd"
direct=$($PY - "$url" "$tmp/points.lp" <<'EOF'
import http.client, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
lines = open(sys.argv[2], 'rb').read().split(b'\n')
t = time.monotonic()
for i in range(0, len(lines), 5000):
    body = b'\n'.join(l for l in lines[i:i + 5000] if l) + b'\n'
    if body == b'\n':
        continue
    c.request('POST', '/write?db=direct&precision=ns', body)
    r = c.getresponse()
    r.read()
    if r.status != 204:
        sys.exit('direct write: %d' % r.status)
print('%.3f' % (time.monotonic() - t))
EOF
)

# influxd snapshots its cache for a while after a large load: let it settle before the next
# measurement, or the replay pays for the direct run's compaction.
sleep "${SETTLE_SECONDS:-5}"
echo "appending to the log"
t0=$(date +%s.%N)
"$tmp/replay_drive" --data-dir "$tmp/log" --append "$tmp/points.lp" --db replayed --lines 5000 \
    >"$tmp/append.out"
t1=$(date +%s.%N)

sleep 1
echo "replaying the backlog"
args=(--data-dir "$tmp/log" --backend "bench=$url" --start earliest --run-until-caught-up
      --timeout 1800 --log-level warn)
[ "${GZIP:-0}" = 1 ] && args+=(--gzip)
[ -n "${IN_FLIGHT:-}" ] && args+=(--in-flight "$IN_FLIGHT")
t2=$(date +%s.%N)
/usr/bin/time -v "$tmp/replay_drive" "${args[@]}" >"$tmp/replay.out" 2>"$tmp/replay.err" &
time_pid=$!
# Peak RSS from time -v counts the log's pages read through LMDB's map (file-backed, shared
# with the page cache); sample the driver's anonymous memory too, which is what the engine
# allocates and what must stay bounded whatever the backlog.
anon_kb=0
drv_pid=
while kill -0 "$time_pid" 2>/dev/null; do
    [ -z "$drv_pid" ] && drv_pid=$(pgrep -P "$time_pid" || true)
    if [ -n "$drv_pid" ] && [ -r "/proc/$drv_pid/status" ]; then
        # bash builtins only: the sampler must not steal CPU from what it measures
        while read -r k v _; do
            [ "$k" = RssAnon: ] && [ "$v" -gt "$anon_kb" ] && anon_kb=$v
        done <"/proc/$drv_pid/status" || true
    fi
    sleep 0.1
done
wait "$time_pid"
t3=$(date +%s.%N)
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/replay.err")

count() {
    curl -s "$url/query?db=$1" --data-urlencode 'q=SELECT count(usage_user) FROM cpu' |
        $PY -c 'import json,sys; j=json.load(sys.stdin); print(j["results"][0]["series"][0]["values"][0][1])'
}
n_direct=$(count direct)
n_replayed=$(count replayed)

$PY - "$POINTS" "$bytes" "$direct" "$t0" "$t1" "$t2" "$t3" "$rss_kb" "$n_direct" "$n_replayed" \
    "${GZIP:-0}" "$anon_kb" <<'EOF'
import sys
n, size, direct, t0, t1, t2, t3, rss, nd, nr, gz, anon = sys.argv[1:]
n, size = int(n), int(size)
direct, append, replay = float(direct), float(t1) - float(t0), float(t3) - float(t2)
print("points                   %d (%.1f MB of line protocol)" % (n, size / 1e6))
print("direct POST to influxd   %.2f s  %8.0f points/s" % (direct, n / direct))
print("append to the log        %.2f s  %8.0f points/s (5000-line records, each fsync'd)"
      % (append, n / append))
print("replay of the backlog    %.2f s  %8.0f points/s (%s)  = %.0f%% of direct"
      % (replay, n / replay, "gzip" if gz == "1" else "plain", 100 * direct / replay))
print("replay driver peak RSS   %.1f MB (time -v; includes the log's pages mapped by LMDB)"
      % (int(rss) / 1024))
print("replay driver anon peak  %.1f MB (RssAnon sampled every 100 ms: heap, batches, curl)"
      % (int(anon) / 1024))
print("counts                   direct=%s replayed=%s %s"
      % (nd, nr, "ok" if int(nd) == n and int(nr) == n else "MISMATCH"))
sys.exit(0 if int(nd) == n and int(nr) == n else 1)
EOF
