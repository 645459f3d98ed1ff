"""Adaptive concurrency per backend (replay/adapt.c): the batches in flight and the batch size
follow the backend's answers, within min-in-flight..max-in-flight and
batch-min-bytes..batch-max-bytes, and the choice is in /metrics. Real influxd 1.6.7 on loopback
behind every backend; the only stand-in is tests/integ/faulty.py (a TCP proxy throttled to a slow
link, an HTTP proxy answering a burst of 503 or holding requests a random time), for what a real
influxd cannot do on demand. Every check counts the points in influxd itself; no check is timed
(bounded waits for outcomes only):

  - a link too slow for a full batch within `timeout`: the batch size comes down until batches
    pass, and every point arrives (the same setup without adaptation resends the first batch
    until it times out, for ever);
  - a fast influxd catching up: the in-flight limit rises above its minimum, more than one
    write is in flight, the count is exact;
  - a burst of 503 in the middle of a run: the limit goes down, then everything arrives;
  - with several writes in flight and a proxy that reorders them, a point (one series and
    timestamp) written again and again ends with its last value: a batch never goes while an
    earlier one holding the same point is not acknowledged.

    /usr/bin/python3 tests/integ/test_adaptive.py [test_name ...]"""
import json
import os
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness as h  # noqa: E402

FAULTY = os.path.join(HERE, "faulty.py")
PY = "/usr/bin/python3"
DB = "adapt"
FAST = {"connect-timeout": "500ms", "retry-max-delay": "300ms"}
T0 = 1_600_000_000_000_000_000


def faulty(mode, target_url, *args, port=None):
    port = port or h.free_port()
    argv = [PY, FAULTY, mode, "--listen", str(port), "--target", target_url]
    argv += [str(a) for a in args]
    return h.Process(argv, name="faulty-%s-%d" % (mode, port), port=port).start()


def backend(url, **kw):
    b = {"name": "b", "url": url}
    b.update(FAST)
    b.update(kw)
    return b


def points(n0, count, pad=40):
    """'count' unique points of measurement 'p': n = n0.., distinct series and times."""
    return "".join("p,s=s%d n=%di,pad=\"%s\" %d\n" % ((n0 + i) % 50, n0 + i, "x" * pad,
                                                      T0 + (n0 + i) * 1000)
                   for i in range(count)).encode()


def write_all(r, n0, total, per):
    for k in range(n0, n0 + total, per):
        st, _, body = r.write(DB, points(k, min(per, n0 + total - k)))
        h.check_eq(st, 204, "write of points %d.. acknowledged" % k, body)
        if st != 204:
            return False
    return True


def caught_up(r):
    st, doc = r.health()
    bs = doc.get("backends", []) if isinstance(doc, dict) else []
    return bool(bs) and all(b.get("caught_up") for b in bs)


def adapt_metrics(r):
    """{name suffix: value} of backend b's adaptive figures."""
    out = {}
    for n, labels, v in h.parse_prom(r.metrics_text()):
        if labels.get("backend") != "b":
            continue
        for k in ("in_flight", "in_flight_limit", "in_flight_limit_raises_total",
                  "in_flight_limit_cuts_total", "batch_bytes_limit",
                  "batch_bytes_limit_raises_total", "batch_bytes_limit_cuts_total",
                  "retries_total", "sent_points_total"):
            if n == "influx_wal_backend_" + k:
                out[k] = v
    return out


def watch(r, until, timeout, interval=0.02):
    """Poll /metrics until until() or 'timeout' s: (done, [samples])."""
    samples = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            samples.append(adapt_metrics(r))
        except (h.HarnessError, OSError):
            pass
        if until():
            return True, samples
        time.sleep(interval)
    return False, samples


def peak(samples, key, fn=max):
    vals = [s[key] for s in samples if key in s]
    return fn(vals) if vals else None


# ---- a slow link ------------------------------------------------------------------------------

def test_slow_link_smaller_batches():
    """influxd behind a TCP proxy that carries 64 KiB/s each way per connection, a 2 s timeout,
    batches of up to 1 MiB, a backlog of 8000 points (about 700 KB, one batch by the byte limit)
    taken while the proxy was not there: the first batch needs 11 s and times out. The batch
    size halves until batches pass (under 128 KiB); every point arrives; /metrics shows the
    smaller batch size and the timeouts (retries)."""
    x = h.Influxd("slow").start()
    x.create_db(DB)
    port = h.free_port()
    cfg = {"backend": [backend("http://127.0.0.1:%d" % port, timeout="2s",
                               **{"batch-max-bytes": "1MiB", "batch-max-points": 100000,
                                  "batch-min-bytes": "8KiB"})]}
    r = h.Relay(config=cfg).start()
    m = adapt_metrics(r)
    h.check_eq((m.get("batch_bytes_limit"), m.get("in_flight_limit")), (1 << 20, 1),
               "/metrics before any write: 1 MiB batches, 1 in flight (the minimum)", m)
    total = 8000
    if not write_all(r, 0, total, 2000):
        return
    faulty("tcp", x.url, "--rate", 65536, port=port)
    done, samples = watch(r, lambda: caught_up(r), timeout=150, interval=0.2)
    got = x.count(DB, "p")
    h.check(done and got == total, "every point arrived through the slow link (%d of %d)" %
            (got, total), r.health())
    m = adapt_metrics(r)
    h.check(m.get("batch_bytes_limit", 1 << 20) <= 128 << 10,
            "/metrics: the batch size came down to what passes in the timeout (%s bytes)" %
            m.get("batch_bytes_limit"), m)
    h.check(m.get("batch_bytes_limit_cuts_total", 0) >= 3 and m.get("retries_total", 0) >= 1,
            "/metrics: batch size cuts and timed-out writes counted", m)
    vals = x.field_values(DB, "n", "p")
    h.check_eq(sorted(vals), list(range(total)), "each point once, none lost")


# ---- a fast backend ---------------------------------------------------------------------------

def test_fast_backend_more_in_flight():
    """A backlog of 200,000 points taken while influxd was not running; once it runs, the
    relay catches it up in batches of 5000 points. The in-flight limit starts at 1 and rises
    while throughput holds: /metrics shows it above 1 and two or more writes in flight at once;
    influxd then holds exactly the 200,000 points."""
    port, rpc = h.free_port(), h.free_port()
    cfg = {"backend": [backend("http://127.0.0.1:%d" % port, timeout="10s",
                               **{"create-database": True, "max-in-flight": 8})]}
    r = h.Relay(config=cfg).start()
    total = 200_000
    if not write_all(r, 0, total, 5000):
        return
    x = h.Influxd("fast").start(port=port, rpc_port=rpc)
    done, samples = watch(r, lambda: caught_up(r), timeout=120)
    got = x.count(DB, "p")
    h.check(done and got == total, "influxd holds exactly the %d points (%d)" % (total, got))
    m = adapt_metrics(r)
    raises = m.get("in_flight_limit_raises_total", 0)
    top_limit = max(peak(samples, "in_flight_limit") or 0, m.get("in_flight_limit", 0))
    top_sending = peak(samples, "in_flight") or 0
    h.check(raises >= 1 and top_limit >= 2,
            "/metrics: the in-flight limit rose above its minimum (raised %d times, up to %d)" %
            (raises, top_limit), m)
    h.check(top_sending >= 2, "/metrics: %d writes were in flight at once" % top_sending)
    h.check(m.get("in_flight_limit", 0) <= 8, "within max-in-flight", m)
    h.diag("catch-up: limit now %s, raised %s, cut %s times; %d samples" % (
        m.get("in_flight_limit"), raises, m.get("in_flight_limit_cuts_total"), len(samples)))


# ---- a burst of 5xx ---------------------------------------------------------------------------

def test_burst_backs_off():
    """influxd behind an HTTP proxy. A catch-up through it raises the in-flight limit; then the
    proxy answers the next 20 writes 503 (armed at run time) while more points come: the limit
    goes down (/metrics, cuts counted). Afterwards every point of both parts is in influxd."""
    x = h.Influxd("burst").start()
    x.create_db(DB)
    port = h.free_port()
    cfg = {"backend": [backend("http://127.0.0.1:%d" % port, timeout="10s",
                               **{"max-in-flight": 8, "batch-max-points": 2000})]}
    r = h.Relay(config=cfg).start()
    per = 100_000
    if not write_all(r, 0, per, 5000):
        return
    proxy = faulty("http", x.url, port=port)
    before = None
    for rnd in range(3):  # one more backlog when a catch-up ended at the minimum
        done, _ = watch(r, lambda: caught_up(r), timeout=120, interval=0.2)
        h.check(done, "caught up through the proxy (round %d)" % rnd)
        before = adapt_metrics(r)
        if before.get("in_flight_limit", 0) >= 2 or not done:
            break
        write_all(r, (rnd + 1) * per, per, 5000)
    limit = before.get("in_flight_limit", 0)
    h.check(limit >= 2, "the catch-up left the limit above its minimum (%s)" % limit, before)
    rounds = rnd + 1
    st, _, body = h.request("POST", proxy.url + "/__faulty/arm?fail=20&status=503", timeout=10)
    h.check_eq(st, 200, "the proxy is armed: the next 20 writes get 503", body)
    if not write_all(r, rounds * per, per, 5000):
        return
    done, samples = watch(r, lambda: caught_up(r), timeout=120)
    total = (rounds + 1) * per
    got = x.count(DB, "p")
    h.check(done and got == total, "after the burst influxd holds all %d points (%d)" %
            (total, got), r.health())
    low = peak(samples, "in_flight_limit", min)
    m = adapt_metrics(r)
    h.check(low is not None and low < limit,
            "/metrics: the in-flight limit went down during the burst (%s -> %s)" % (limit, low))
    h.check(m.get("in_flight_limit_cuts_total", 0) > before.get("in_flight_limit_cuts_total", 0),
            "/metrics: the cuts are counted (%s -> %s)" % (
                before.get("in_flight_limit_cuts_total"), m.get("in_flight_limit_cuts_total")))
    st, _, body = h.get(proxy.url + "/__faulty/stats", timeout=10)
    stats = json.loads(body) if st == 200 else {}
    h.check_eq(stats.get("failed"), 20, "the proxy answered 20 writes 503", stats)


# ---- order with more in flight ----------------------------------------------------------------

def test_same_point_never_overtakes():
    """Four writes in flight (min-in-flight = max-in-flight = 4, batches of 20 points) through
    a proxy that holds each write a random time up to 300 ms, so writes sent together reach
    influxd in any order. 30 groups of 10 points (10 series, one timestamp per group) are each
    written twice, value 1 then value 2, in consecutive requests (request k holds group k's
    first write and group k-1's second), each request followed by 20 new points. Every group
    must end with value 2: a value 1 landing last would mean two batches with the same series
    and timestamp were in flight together. The new points are all there, and writes did go out
    together (more than one in flight)."""
    x = h.Influxd("order").start()
    x.create_db(DB)
    proxy = faulty("http", x.url, "--hold-before-ms", 300, "--hold-jitter", "--paths", "/write")
    cfg = {"backend": [backend(proxy.url, timeout="10s",
                               **{"min-in-flight": 4, "max-in-flight": 4,
                                  "batch-max-points": 20})]}
    r = h.Relay(config=cfg).start()
    groups = 30

    def group(g, v):
        return "".join("q,g=g%d,s=s%d v=%di %d\n" % (g, i, v, T0 + g) for i in range(10))

    for k in range(groups + 1):
        body = (group(k, 1) if k < groups else "") + (group(k - 1, 2) if k > 0 else "")
        st, _, resp = r.write(DB, body.encode())
        h.check_eq(st, 204, "request %d: group %d written, group %d again" % (k, k, k - 1), resp)
        st, _, resp = r.write(DB, points(k * 20, 20))
        h.check_eq(st, 204, "request %d: 20 new points" % k, resp)
    done, samples = watch(r, lambda: caught_up(r), timeout=120)
    h.check(done, "caught up", r.health())
    rows = x.values(DB, 'SELECT "v", "g", "s" FROM q')
    wrong = sorted(set(row.get("g") for row in rows if row.get("v") != 2))
    h.check(len(rows) == groups * 10 and not wrong,
            "all %d points end with their second value (%d points; groups with the first "
            "value last: %s)" % (groups * 10, len(rows), wrong or "none"))
    h.check_eq(x.count(DB, "p"), 20 * (groups + 1), "every new point arrived")
    top = peak(samples, "in_flight") or 0
    h.check(top >= 2, "writes went out together (%d in flight at once)" % top)


TESTS = [test_slow_link_smaller_batches, test_fast_backend_more_in_flight, test_burst_backs_off,
         test_same_point_never_overtakes]

if __name__ == "__main__":
    want = set(sys.argv[1:])
    h.run([t for t in TESTS if not want or t.__name__ in want])
