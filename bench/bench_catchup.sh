#!/usr/bin/env bash
# Catch-up benchmark (issue 15's replay figures): for 1 and then 2 backends, the daemon takes a
# backlog of POINTS points (default 5,000,000) while its backends (real influxd, each in a
# directory of its own) are not running; then they start together and the daemon catches them
# up. Measured the fair way, in the same run: the same points, same 5000-point bodies, posted
# straight to as many fresh influxd at once (one poster per server, DIRECT_CONNS keep-alive
# connections each, default 2), once before the backlog and once after the catch-up. Prints the catch-up time (every backend answering /ping until
# every backend's cursor is at the head), the rate per backend, the direct rates per server,
# the ratio to their mean, each backend's count (checked), the relay's CPU per point delivered and its peak
# RSS over backlog and catch-up. The relay retries a down backend every 100 ms here
# (retry-max-delay), so the catch-up starts within 0.1 s of the /ping.
# Loopback only; everything it starts it stops.
#   POINTS        backlog size (default 5000000)
#   BACKENDS      backend counts to run (default "1 2")
#   DIRECT_CONNS  connections per server for the direct reference (default 2)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
POINTS=${POINTS:-5000000}
BACKENDS=${BACKENDS:-1 2}
DIRECT_CONNS=${DIRECT_CONNS:-2}
PY=/usr/bin/python3
. bench/lib.sh
bench_begin catchup
hz=$(getconf CLK_TCK)

# The poster: PORT TOTAL DB CONNS. 5000-point bodies, every point unique, 1000 series; the
# same points whatever the port, so the direct reference and the backlog are one data set.
cat >"$work/post.py" <<'PY'
import http.client, sys, threading
port, total, db, conns = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
per = 5000
lines = ["cpu,host=host%04d usage=%d.5,n=%di " % (i % 1000, i, i) for i in range(per)]
nreq = (total + per - 1) // per
lock = threading.Lock()
state = {"next": 0, "err": None}
def worker():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while True:
        with lock:
            req = state["next"]
            state["next"] += 1
        if req >= nreq or state["err"]:
            return
        n = min(per, total - req * per)
        base = 1600000000000000000 + req * per
        body = "".join("%s%d\n" % (lines[i], base + i) for i in range(n)).encode()
        c.request("POST", "/write?db=%s" % db, body)
        r = c.getresponse()
        r.read()
        if r.status != 204:
            state["err"] = "write answered %d" % r.status
threads = [threading.Thread(target=worker) for _ in range(conns)]
for t in threads: t.start()
for t in threads: t.join()
if state["err"]:
    sys.exit(state["err"])
PY

# count URL DB: the points of cpu in DB.
count() {
    curl -s "$1/query" --data-urlencode "db=$2" --data-urlencode 'q=SELECT count("n") FROM cpu' |
        $PY -c 'import json,sys; r=json.load(sys.stdin)["results"][0]; print(r["series"][0]["values"][0][1] if "series" in r else 0)'
}

# start_influxds N TAG: N fresh influxd (configs under $work/TAG-i); sets urls[] and ipids[].
start_influxds() {
    urls=() ipids=()
    for i in $(seq 1 "$1"); do
        bench_influxd_config "$work/$2-$i"
        influxd run -config "$work/$2-$i/influxd.conf" >"$work/$2-$i.log" 2>&1 &
        ipids+=($!)
        pids+=($!)
        urls+=("$BENCH_INFLUXD_URL")
    done
    for u in "${urls[@]}"; do bench_wait_ping "$u" || exit 1; done
}
stop_influxds() {
    for p in "${ipids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${ipids[@]}"; do wait "$p" 2>/dev/null; done
}

# direct N TAG: the reference: N fresh servers, the same points posted to each at once; appends
# the seconds it took to $dtimes and the servers' counts to $dcounts.
direct() {
    local d0 d1 p dp=()
    start_influxds "$1" "direct$1$2"
    d0=$(date +%s.%N) # the database created in the time, as the relay's create-database is
    for u in "${urls[@]}"; do
        curl -s -o /dev/null -XPOST "$u/query" --data-urlencode 'q=CREATE DATABASE "direct"'
    done
    for u in "${urls[@]}"; do
        $PY "$work/post.py" "${u##*:}" "$POINTS" direct "$DIRECT_CONNS" &
        dp+=($!)
    done
    for p in "${dp[@]}"; do wait "$p" || exit 1; done
    d1=$(date +%s.%N)
    for u in "${urls[@]}"; do dcounts="$dcounts $(count "$u" direct)"; done
    dtimes="$dtimes $($PY -c "print($d1 - $d0)")"
    stop_influxds
}

run() {
    local n=$1 rp i
    dtimes="" dcounts=""
    # The reference before and after the catch-up: whichever runs first on a machine pays
    # more for its first use of memory and disk, so the ratio is taken to their mean.
    direct "$n" before
    rp=$(bench_free_port)
    rm -rf "$work/wal"
    # The backends' configs first (their ports), the servers started only after the backlog.
    local cfg=() burls=()
    for i in $(seq 1 "$n"); do
        bench_influxd_config "$work/cu$n-$i"
        cfg+=("$work/cu$n-$i/influxd.conf")
        burls+=("$BENCH_INFLUXD_URL")
    done
    {
        printf '[http]\nlisten = ["127.0.0.1:%s"]\n[wal]\ndir = "%s/wal"\nmax-size = "8GiB"\n' "$rp" "$work"
        printf '[log]\nlevel = "warn"\n'
        for i in $(seq 1 "$n"); do
            printf '[[backend]]\nname = "b%d"\nurl = "%s"\ncreate-database = true\nretry-max-delay = "100ms"\n' \
                "$i" "${burls[$((i - 1))]}"
        done
    } >"$work/relay.toml"
    bench_start_relay "$rp"
    local t0 t1
    t0=$(date +%s.%N)
    $PY "$work/post.py" "$rp" "$POINTS" catchup 1 || exit 1
    t1=$(date +%s.%N)
    echo "$n backend(s): backlog of $POINTS points logged in $($PY -c "print('%.1f' % ($t1 - $t0))") s with the backends down; relay RSS $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$relay/status)"

    ipids=()
    for c in "${cfg[@]}"; do
        influxd run -config "$c" >>"$work/influxd-cu.log" 2>&1 &
        ipids+=($!)
        pids+=($!)
    done
    for u in "${burls[@]}"; do bench_wait_ping "$u" || exit 1; done
    local c0 start end deadline
    c0=$(bench_cpu_ticks "$relay")
    start=$(date +%s.%N)
    deadline=$(($(date +%s) + 900))
    for i in $(seq 1 "$n"); do
        until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$rp/health/backend/b$i")" = 200 ]; do
            if [ "$(date +%s)" -gt "$deadline" ]; then echo "not caught up after 900 s"; exit 1; fi
            sleep 0.1
        done
    done
    end=$(date +%s.%N)
    local c1 counts="" hwm
    c1=$(bench_cpu_ticks "$relay")
    for u in "${burls[@]}"; do counts="$counts $(count "$u" catchup)"; done
    hwm=$(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$relay/status)
    stop_influxds
    kill "$relay" 2>/dev/null
    wait "$relay" 2>/dev/null

    direct "$n" after
    $PY - "$n" "$POINTS" "$start" "$end" "$dtimes" "$((c1 - c0))" "$hz" "$counts" "$dcounts" "$hwm" "$DIRECT_CONNS" <<'PY'
import sys
n, want = int(sys.argv[1]), int(sys.argv[2])
s, e = float(sys.argv[3]), float(sys.argv[4])
dt = [float(x) for x in sys.argv[5].split()]
ticks, hz = int(sys.argv[6]), int(sys.argv[7])
got, dgot = sys.argv[8].split(), sys.argv[9].split()
hwm, conns = sys.argv[10], sys.argv[11]
cu, direct = e - s, sum(dt) / len(dt)
ok = all(int(g) == want for g in got) and all(int(g) == want for g in dgot)
print("   catch-up %.1f s: %.0f points/s per backend; direct (%d fresh influxd at once, %s connections each), before and after: %s s, %s points/s per server; catch-up = %.2fx their mean"
      % (cu, want / cu, n, conns, " and ".join("%.1f" % x for x in dt),
         " and ".join("%.0f" % (want / x) for x in dt), direct / cu))
print("   backends hold %s points, direct servers %s (%s); relay CPU %.3f us per point delivered; relay peak RSS %s"
      % (",".join(got), ",".join(dgot), "exact" if ok else "MISMATCH",
         ticks / hz * 1e6 / (want * n), hwm))
PY
}

for n in $BACKENDS; do run "$n"; done
