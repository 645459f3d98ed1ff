#!/usr/bin/env bash
# Delivery benchmark (issue 15): does replay keep up with ingest, what each extra backend costs,
# and the relay's memory while a backlog drains. The backends are bench/sink204 (answers 204 at
# once, counts the points it gets), so the figures are the relay's own; tests never use it.
#
# Fan-out: for 1, 2 and 4 backends, wrk -t2 -c64 with 1000-point bodies for $SECS s against a
# fresh relay (durable log). At the moment wrk stops each sink's count is taken; then it waits
# (bounded) until every backend holds everything. Prints acknowledged points/s, the share of
# the acknowledged points each backend had when the load stopped, the end-to-end rate (load
# start until every backend holds everything), the relay's CPU per acknowledged point over that
# span (/proc/PID/stat utime+stime) split by thread (the loop, the wal writer, the rest), wrk's
# and the sinks' CPU, and the relay's VmHWM and RssAnon.
#
# Catch-up memory: $POINTS points (1000-point bodies) logged with the backend down, VmHWM reset
# (clear_refs), then a sink starts on the backend's port; prints the catch-up rate, relay CPU
# per point, and the peak VmHWM, RssAnon and RssFile over the catch-up.
#   BENCH_SECONDS  wrk run per fan-out (default 5)
#   POINTS         catch-up backlog (default 10000000)
#   FANOUT         backend counts to run (default "1 2 4"); "" skips the fan-out
# Loopback only; everything it starts it stops.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-5}
POINTS=${POINTS:-10000000}
FANOUT=${FANOUT-1 2 4}
PY=/usr/bin/python3
. bench/lib.sh
bench_begin delivery

# start_sink PORT: a sink204 on PORT; sets $sink (its PID).
start_sink() {
    "$BUILD/bench/sink204" "$1" >>"$work/sink.log" 2>&1 &
    sink=$!
    pids+=($sink)
    bench_wait_ping "http://127.0.0.1:$1" || exit 1
}

# start_relay PORT BACKEND_PORT...: a fresh relay with one backend per port; sets $relay.
start_relay() {
    local port=$1 i=0
    shift
    rm -rf "$work/wal"
    {
        printf '[http]\nlisten = ["127.0.0.1:%s"]\n[wal]\ndir = "%s/wal"\nmax-size = "8GiB"\n' \
            "$port" "$work"
        printf '[log]\nlevel = "warn"\n'
        for b in "$@"; do
            i=$((i + 1))
            printf '[[backend]]\nname = "b%d"\nurl = "http://127.0.0.1:%s"\nretry-max-delay = "1s"\n' \
                "$i" "$b"
        done
    } >"$work/relay.toml"
    bench_start_relay "$port"
}

# What the measuring scripts share: CPU ticks of a process and of each of its threads, memory
# figures, sink counts and the relay's per-backend health.
cat >"$work/probe.py" <<'PY'
import glob, http.client, os
HZ = os.sysconf("SC_CLK_TCK")
def stat_fields(path):
    s = open(path).read()
    return s[s.rindex(")") + 2:].split()
def ticks(path):
    f = stat_fields(path)
    return int(f[11]) + int(f[12])
def cpu(pid):
    return ticks("/proc/%d/stat" % pid) / HZ
def threads(pid, what="cpu"):
    """By role, the loop (the main thread), the wal writer, everything else: CPU seconds, or
    with what="faults" page faults (minor + major)."""
    out = {"loop": 0.0, "writer": 0.0, "other": 0.0}
    for t in glob.glob("/proc/%d/task/*" % pid):
        try:
            tid = int(os.path.basename(t))
            comm = open(t + "/comm").read().strip()
            f = stat_fields(t + "/stat")
            v = (int(f[7]) + int(f[9]) if what == "faults"
                 else (int(f[11]) + int(f[12])) / HZ)
        except OSError:
            continue
        role = "loop" if tid == pid else "writer" if comm == "wal-writer" else "other"
        out[role] += v
    return out
def mem(pid):
    m = {}
    for line in open("/proc/%d/status" % pid):
        k, _, v = line.partition(":")
        if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            m[k] = int(v.split()[0]) / 1024.0
    return m
def log_rss(pid):
    """MB of the log's mapping (data.mdb) resident in the process."""
    kb, inside = 0, False
    for line in open("/proc/%d/smaps" % pid):
        head = line.split()
        if "-" in head[0] and len(head) >= 5:
            inside = line.rstrip().endswith("/data.mdb")
        elif inside and head[0] == "Rss:":
            kb += int(head[1])
    return kb / 1024.0
def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()
def count(port):
    return int(get(port, "/count")[1])
def caught_up(relay_port, names):
    return all(get(relay_port, "/health/backend/" + n)[0] == 200 for n in names)
class Peaks:
    """Samples the relay's RssAnon, RssFile and the log's mapping every 50 ms from a thread;
    keeps the largest of each (MB). VmHWM says how high, these say what it was made of."""
    def __init__(self, pid):
        import threading
        self.pid, self.peak, self.stop = pid, {"RssAnon": 0.0, "RssFile": 0.0, "log": 0.0}, False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()
    def run(self):
        import time
        while not self.stop:
            try:
                m = mem(self.pid)
                m["log"] = log_rss(self.pid)
            except OSError:
                return
            for k in self.peak:
                self.peak[k] = max(self.peak[k], m[k])
            time.sleep(0.05)
    def done(self):
        self.stop = True
        self.t.join()
        return self.peak
PY

fanout() { # N
    local ports=() sinks=() i
    for i in $(seq 1 "$1"); do
        ports+=("$(bench_free_port)")
        start_sink "${ports[-1]}"
        sinks+=("$sink")
    done
    local rp
    rp=$(bench_free_port)
    start_relay "$rp" "${ports[@]}"
    PYTHONPATH=$work $PY - "$relay" "$rp" "$SECS" "$work" "${#ports[@]}" "${ports[@]}" "${sinks[@]}" <<'PY'
import os, re, subprocess, sys, time
from probe import HZ, cpu, threads, mem, count, caught_up, Peaks
relay, rport, secs, work, n = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                               sys.argv[4], int(sys.argv[5]))
ports = [int(p) for p in sys.argv[6:6 + n]]
sinks = [int(p) for p in sys.argv[6 + n:6 + 2 * n]]
names = ["b%d" % (i + 1) for i in range(n)]
out = open(os.path.join(work, "wrk-fanout-%d.txt" % n), "w")
r0, th0, s0 = cpu(relay), threads(relay), [cpu(p) for p in sinks]
peaks = Peaks(relay)
t0 = time.monotonic()
w = subprocess.Popen(["wrk", "-t2", "-c64", "-d%ds" % secs, "--timeout", "10s", "--latency",
                      "-s", "bench/wrk_write.lua", "http://127.0.0.1:%d" % rport],
                     stdout=out, stderr=subprocess.STDOUT)
_, status, ru = os.wait4(w.pid, 0)
t1 = time.monotonic()
during = [count(p) for p in ports]
r1 = cpu(relay)
out.close()
text = open(out.name).read()
reqs = int(re.search(r"(\d+) requests in", text).group(1))
m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
acked = (reqs - (int(m.group(1)) if m else 0)) * 1000
p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
deadline = t1 + 180
while time.monotonic() < deadline:
    if min(count(p) for p in ports) >= acked and caught_up(rport, names):
        break
    time.sleep(0.02)
t2 = time.monotonic()
final = [count(p) for p in ports]
r2, th2, s2 = cpu(relay), threads(relay), [cpu(p) for p in sinks]
mm, pk = mem(relay), peaks.done()
load, e2e = t1 - t0, t2 - t0
print("%d backend%s: %.0f points/s acknowledged over %.1f s (p99 %s); end-to-end %.0f points/s "
      "(every backend held all %d acknowledged points %.2f s after the load stopped%s)"
      % (n, "" if n == 1 else "s", acked / load, load, p99.group(1) if p99 else "?",
         acked / e2e, acked, t2 - t1, "" if min(final) >= acked else "; NOT ALL DELIVERED in 180 s"))
print("   delivered while the load ran: " + ", ".join(
    "%s %.0f%%" % (names[i], 100.0 * during[i] / acked) for i in range(n)))
per = lambda s: s * 1e6 / acked
print("   relay CPU %.3f us/point over load+drain (loop %.3f, wal writer %.3f, other %.3f); "
      "%.2f cores during the load, %.2f over load+drain"
      % (per(r2 - r0), per(th2["loop"] - th0["loop"]), per(th2["writer"] - th0["writer"]),
         per(th2["other"] - th0["other"]), (r1 - r0) / load, (r2 - r0) / e2e))
print("   wrk CPU %.2f s (%.2f cores); sinks CPU %.2f s in all (%.3f us/point each)"
      % (ru.ru_utime + ru.ru_stime, (ru.ru_utime + ru.ru_stime) / load,
         sum(s2) - sum(s0), per(sum(s2) - sum(s0)) / n))
print("   relay VmHWM %.1f MB; peaks sampled every 50 ms: RssAnon %.1f MB, RssFile %.1f MB, of "
      "which the log's mapping %.1f MB; at the end RssAnon %.1f MB, RssFile %.1f MB"
      % (mm["VmHWM"], pk["RssAnon"], pk["RssFile"], pk["log"], mm["RssAnon"], mm["RssFile"]))
PY
    kill "$relay" "${sinks[@]}"
    wait "$relay" "${sinks[@]}" 2>/dev/null
}

catchup() {
    local rp bp
    rp=$(bench_free_port)
    bp=$(bench_free_port)
    start_relay "$rp" "$bp"
    # The backlog, with the backend down: 1000-point bodies as wrk_write.lua's, every point
    # unique, on 4 connections.
    $PY - "$rp" "$POINTS" <<'PY' || exit 1
import http.client, sys, threading, time
port, total = int(sys.argv[1]), int(sys.argv[2])
per, conns = 1000, 4
bodies = total // per
tmpl = "".join("cpu,host=host%04d,region=eu-west usage_idle=%d.5,usage_user=1.25,count=%di @%09d\n"
               % (i, i, i, i) for i in range(1, per + 1))
failed = []
def run(k):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for req in range(k, bodies, conns):
        body = tmpl.replace("@", "1%09d" % req).encode()
        c.request("POST", "/write?db=bench", body)
        r = c.getresponse(); r.read()
        if r.status != 204:
            failed.append(r.status); return
t0 = time.time()
ts = [threading.Thread(target=run, args=(k,)) for k in range(conns)]
for t in ts: t.start()
for t in ts: t.join()
if failed:
    sys.exit("write answered %d" % failed[0])
print("backlog: %d points in %.1f s through the relay (backend down)" % (bodies * per, time.time() - t0))
PY
    local points=$((POINTS / 1000 * 1000))
    PYTHONPATH=$work $PY - "$relay" "$rp" "$bp" "$points" "$BUILD/bench/sink204" "$work" <<'PY'
import os, subprocess, sys, time
from probe import cpu, threads, mem, log_rss, count, caught_up, Peaks
relay, rport, bport, points, sink_bin, work = (int(sys.argv[1]), int(sys.argv[2]),
                                               int(sys.argv[3]), int(sys.argv[4]), sys.argv[5],
                                               sys.argv[6])
m = mem(relay)
print("   relay after the backlog: VmHWM %.1f MB, RssAnon %.1f MB, RssFile %.1f MB"
      % (m["VmHWM"], m["RssAnon"], m["RssFile"]))
# Reset the high-water mark so that VmHWM below is the catch-up's own peak.
with open("/proc/%d/clear_refs" % relay, "w") as f:
    f.write("5")
c0, f0 = cpu(relay), threads(relay, "faults")
t0 = time.monotonic()
sink = subprocess.Popen([sink_bin, str(bport)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
peaks = Peaks(relay)
try:
    deadline, got = t0 + 900, 0
    while time.monotonic() < deadline:
        try:
            got = count(bport)
        except OSError:
            got = 0
        if got >= points and caught_up(rport, ["b1"]):
            break
        time.sleep(0.05)
    t1 = time.monotonic()
    c1, f1 = cpu(relay), threads(relay, "faults")
    m, peak = mem(relay), peaks.done()
    print("catch-up: %d points in %.1f s (%.0f points/s), sink holds %d (%s); relay CPU %.3f us/point"
          % (points, t1 - t0, points / (t1 - t0), got, "exact" if got == points else "MISMATCH",
             (c1 - c0) * 1e6 / points))
    print("   relay over the catch-up: VmHWM %.1f MB; peak RssAnon %.1f MB, RssFile %.1f MB, of "
          "which the log's mapping %.1f MB (sampled every 50 ms); at the end RssAnon %.1f MB, "
          "RssFile %.1f MB, the log's %.1f MB"
          % (m["VmHWM"], peak["RssAnon"], peak["RssFile"], peak["log"], m["RssAnon"],
             m["RssFile"], log_rss(relay)))
    print("   page faults over the catch-up: loop %d, wal writer %d, other %d"
          % tuple(f1[k] - f0[k] for k in ("loop", "writer", "other")))
finally:
    peaks.stop = True
    sink.terminate()
    sink.wait()
PY
    kill "$relay"
    wait "$relay" 2>/dev/null
}

echo "backends: bench/sink204 (instant 204); wrk -t2 -c64 -d${SECS}s, 1000-point bodies; $(nproc) cores shared by relay, wrk and sinks"
for n in $FANOUT; do fanout "$n"; done
[ "$POINTS" -gt 0 ] && catchup
exit 0
