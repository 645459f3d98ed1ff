"""POST /api/v1/prom/write against real programs: a Prometheus server scraping itself writes
remotely to the relay (backend influxd A) and straight to influxd B, and A must end up holding
what B holds; remote-write requests acknowledged while the only backend is down survive a
SIGKILL of the relay; bad input gets influxd's own status and text (asked of a real influxd with
the same bytes), and a claimed snappy length over max-inflated-size gets 413 without the
relay's memory growing."""
import math
import os
import signal
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

DB = "prom"
PROMETHEUS = "/usr/bin/prometheus"


def body_of(series):
    return h.snappy_block(h.prom_write_request(series))


def rows_by_series(inf, db):
    """{measurement: {tag tuple: {time: value}}} of every 'value' field in 'db'."""
    doc = inf.query('SELECT "value" FROM /.*/ GROUP BY *', db=db, timeout=120)
    out = {}
    for res in doc.get("results", []):
        for s in res.get("series", []) or []:
            tags = tuple(sorted((k, v) for k, v in (s.get("tags") or {}).items() if v != ""))
            pts = out.setdefault(s["name"], {}).setdefault(tags, {})
            for t, v in s.get("values", []) or []:
                pts[t] = v
    return out


def test_prometheus_to_relay_and_influxd():
    """Prometheus 2.42 (Debian) scrapes itself every second for a window, with two remote_write
    targets; then A (through the relay) and B (influxd's own endpoint) must hold the same
    measurements, the same series, and the same values at every timestamp both hold."""
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    a.create_db(DB)
    b.create_db(DB)
    r = h.Relay(backends={"a": a}).start()
    pdir = h.tmpdir("prometheus")
    port = h.free_port()
    cfg = os.path.join(pdir, "prometheus.yml")
    queue = ("    queue_config:\n      batch_send_deadline: 1s\n      max_samples_per_send: 500\n"
             "      min_backoff: 100ms\n      max_backoff: 1s\n")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                "scrape_configs:\n  - job_name: self\n    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % port +
                "remote_write:\n"
                "  - url: %s/api/v1/prom/write?db=%s\n    name: relay\n" % (r.url, DB) + queue +
                "  - url: %s/api/v1/prom/write?db=%s\n    name: influxd\n" % (b.url, DB) + queue)
    prom = None
    prom = h.Process([PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(pdir, "data"),
                      "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
                     name="prometheus", ready=lambda: prom is not None and h.owns_port(prom.pid, port))
    prom.start(timeout=30)
    # A window of scrapes: wait until both targets have several seconds of samples.
    def scraped(inf, n):
        try:
            return len(inf.values(DB, 'SELECT count("value") FROM "up"')) > 0 and \
                inf.count(DB, measurement="up", field="value") >= n
        except h.HarnessError:
            return False
    ok = h.wait_until(lambda: scraped(a, 8) and scraped(b, 8), timeout=90, interval=0.5)
    h.check(ok, "both targets receive Prometheus's samples", prom.log_tail(20))
    prom.stop()
    # Everything the relay acknowledged reaches A: wait until A's totals stop moving and the
    # relay says the backend is caught up.
    def settled():
        st, doc = r.health()
        bes = doc.get("backends", []) if isinstance(doc, dict) else []
        return bool(bes) and all(be.get("lag_records", 1) == 0 for be in bes)
    h.check(h.wait_until(settled, timeout=60, interval=0.5), "the relay delivered its log to A",
            r.health())
    da, db_ = rows_by_series(a, DB), rows_by_series(b, DB)
    h.check(len(db_) > 50, "B holds Prometheus's own metrics (%d measurements)" % len(db_))
    h.check_eq(sorted(da), sorted(db_), "A and B hold the same measurements")
    series_diff, value_diff, common, only = [], [], 0, 0
    for m in sorted(set(da) & set(db_)):
        if set(da[m]) != set(db_[m]):
            series_diff.append((m, sorted(set(da[m]) ^ set(db_[m]))[:3]))
        for tags in set(da[m]) & set(db_[m]):
            pa, pb = da[m][tags], db_[m][tags]
            for t in set(pa) & set(pb):
                common += 1
                if pa[t] != pb[t]:
                    value_diff.append((m, tags, t, pa[t], pb[t]))
            only += len(set(pa) ^ set(pb))
    h.check(not series_diff, "A and B hold the same series in every measurement", series_diff[:5])
    h.check(not value_diff, "the same values at the %d timestamps both hold" % common, value_diff[:5])
    # The queues are cut where Prometheus stopped; apart from that edge both got everything.
    h.check(common > 0 and only <= common // 10, "both received the window in full (%d common, "
            "%d at the edges only)" % (common, only))
    up = a.values(DB, 'SELECT * FROM "up" LIMIT 1')
    h.check(up and up[0].get("__name__") == "up" and up[0].get("job") == "self",
            "a sample as influxd stores it: measurement and __name__ tag from the name", up)
    acked = r.metric("influx_wal_ingest_requests_total", endpoint="api_v1_prom_write", code=204)
    h.check((acked or 0) > 0, "/metrics counts the endpoint's 204s (%s)" % acked)


def test_durable_while_backend_down():
    """Requests acknowledged while the only backend is down, the relay SIGKILLed, then the
    backend back: every acknowledged sample arrives, once."""
    a = h.Influxd("a").start()
    a.create_db(DB)
    a.stop()
    r = h.Relay(backends={"a": a}).start()
    base = 1700000000000
    acked, sent = 0, 0
    for req in range(40):
        series = []
        for s in range(5):
            labels = [("__name__", "dur_metric"), ("req", str(req)), ("s", str(s))]
            samples = [(req * 1000.0 + s * 10 + i + 0.5, base + req * 100 + i) for i in range(10)]
            series.append((labels, samples))
        st, _, data = h.prom_write(r.url, DB, body_of(series))
        sent += 50
        if st == 204:
            acked += 50
        else:
            h.diag("request %d: %d %r" % (req, st, data[:200]))
    h.check_eq(acked, sent, "every request acknowledged with the backend down")
    r.signal(signal.SIGKILL)
    r.wait_exit(10)
    r.restart()
    a.restart()
    h.wait_until(lambda: a.count(DB, measurement="dur_metric", field="value") >= acked,
                 timeout=60, interval=0.5)
    time.sleep(1.0)
    h.check_eq(a.count(DB, measurement="dur_metric", field="value"), acked,
               "every acknowledged sample arrived, once")
    vals = sorted(a.field_values(DB, field="value", measurement="dur_metric"))
    want = sorted(req * 1000.0 + s * 10 + i + 0.5 for req in range(40) for s in range(5) for i in range(10))
    h.check(vals == want, "with its value")


def test_full_log():
    """A log at its limit answers remote write 503 with Retry-After, as /write; once drained,
    every acknowledged sample arrives."""
    a = h.Influxd("a").start()
    a.create_db(DB)
    a.pause()  # the backend hangs: nothing drains
    r = h.Relay(backends={"a": a}, config={"wal": {"max-size": "1MiB"}}).start()
    statuses, acked = [], 0
    for req in range(60):
        series = [([("__name__", "full"), ("req", str(req)), ("s", str(s))],
                   [(float(i), 1700000000000 + i) for i in range(20)]) for s in range(100)]
        st, hd, data = h.prom_write(r.url, DB, body_of(series))
        statuses.append((st, hd.get("retry-after"), data[:120]))
        if st == 204:
            acked += 2000
        if st == 503:
            break
    h.check(statuses[-1][0] == 503 and statuses[-1][1] and b"write-ahead log is full" in statuses[-1][2],
            "the full log answers 503 with Retry-After", statuses[-2:])
    a.resume()
    h.wait_until(lambda: a.count(DB, measurement="full", field="value") >= acked, timeout=90,
                 interval=0.5)
    time.sleep(0.5)
    h.check_eq(a.count(DB, measurement="full", field="value"), acked,
               "every sample acknowledged before the 503 arrives (%d)" % acked)


def bad_bodies():
    good = h.prom_write_request([([("__name__", "m"), ("k", "v")], [(1.0, 1700000000000)])])
    return [
        ("truncated snappy", h.snappy_block(good)[:-3]),
        ("empty body", b""),
        ("binary garbage", bytes(range(256)) * 3),
        ("wrong wire type", h.snappy_block(b"\x08\x01")),
        ("wrong wire type in a sample",
         h.snappy_block(h._pb_bytes(1, h._pb_bytes(2, b"\x08\x01")))),
        ("illegal tag", h.snappy_block(b"\x00\x01")),
        ("end group", h.snappy_block(b"\x0a\x03\x0a\x01\x0c")),
        ("illegal wire type", h.snappy_block(b"\x1f")),
        ("truncated protobuf", h.snappy_block(good[:-4])),
        ("negative length", h.snappy_block(b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")),
        ("varint overflow", h.snappy_block(b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")),
        ("+Inf", body_of([([("__name__", "inf")], [(1.0, 1), (math.inf, 2)])])),
        ("-Inf", body_of([([("__name__", "inf")], [(-math.inf, 2)])])),
        ("NaN only", body_of([([("__name__", "nan")], [(math.nan, 2)])])),
        ("unknown fields", h.snappy_block(good + b"\x18\x05\x25abcd")),
        ("consistency", h.snappy_block(good)),
    ]


def answer(url, name, body):
    params = [("consistency", "bogus")] if name == "consistency" else None
    st, _, data = h.prom_write(url, DB, body, params=params)
    return st, data.decode("utf-8", "replace").strip()


def test_bad_input():
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    a.create_db(DB)
    b.create_db(DB)
    r = h.Relay(backends={"a": a}, config={"http": {"max-body-size": "1MiB",
                                                     "max-inflated-size": "4MiB"}}).start()
    for name, body in bad_bodies():
        want = answer(b.url, name, body)
        got = answer(r.url, name, body)
        h.check_eq(got, want, "%s: the relay answers as influxd does" % name)
    # Missing db: influxd's 400 and text.
    good = body_of([([("__name__", "m")], [(1.0, 1)])])
    want = h.prom_write(b.url, None, good)
    got = h.prom_write(r.url, None, good)
    h.check_eq((got[0], got[2].strip()), (want[0], want[2].strip()), "missing db: as influxd")
    # A claimed length of 4 GiB - 1 in a tiny body: 413 before anything is allocated.
    rss0 = proc_kib(r.pid, "VmRSS")
    for _ in range(5):
        st, _, data = h.prom_write(r.url, DB, b"\xff\xff\xff\xff\x0f\x00\x00\x00")
    h.check_eq(st, 413, "a snappy length claimed over max-inflated-size: 413", data)
    rss1 = proc_kib(r.pid, "VmHWM")
    if os.environ.get("IWR_SANITIZED"):
        h.diag("rss %d -> peak %d KiB (sanitized build: not asserted)" % (rss0, rss1))
    else:
        h.check(rss1 < 64 * 1024, "the relay's peak RSS stays small (%d KiB)" % rss1)
    after = body_of([([("__name__", "after")], [(2.0, 1700000000000)])])
    st, _, _ = h.prom_write(r.url, DB, after)
    h.check_eq(h.prom_write(b.url, DB, after)[0], 204, "influxd takes it too")
    h.check(h.ping(r.url) and st == 204, "the daemon is alive and takes a good request", st)
    # A series line protocol cannot carry (ours): left out, the rest committed, a partial write.
    mixed = body_of([([("__name__", "kept")], [(4.0, 1700000000000)]),
                     ([("__name__", "nl"), ("k", "a\nb")], [(5.0, 1700000000000)])])
    st, _, data = h.prom_write(r.url, DB, mixed)
    h.check(st == 400 and b"partial write: unable to convert series to line protocol" in data,
            "a label with a newline: 400 partial write", st, data)
    h.wait_until(lambda: a.count(DB, measurement="kept", field="value") == 1, timeout=20)
    h.check_eq(a.count(DB, measurement="kept", field="value"), 1, "the rest of that request arrives")
    h.prom_write(b.url, DB, mixed)
    # What was refused never reached A; what was taken did.
    h.wait_until(lambda: a.count(DB, measurement="after", field="value") == 1, timeout=20)
    h.check_eq(sorted(a.measurements(DB)), sorted(set(b.measurements(DB)) - {"nl"}),
               "A and B hold the same measurements after the same bytes (but the one with a "
               "newline in a label, which influxd stores)")


def test_auth_and_method():
    a = h.Influxd("a").start()
    a.create_db(DB)
    r = h.Relay(backends={"a": a}, config={"auth": {"enabled": True,
                                                    "user": [{"name": "u", "password": "pw"}]}}).start()
    good = body_of([([("__name__", "authm")], [(3.0, 1700000000000)])])
    st, _, _ = h.prom_write(r.url, DB, good)
    h.check_eq(st, 401, "no credentials: 401")
    st, _, _ = h.prom_write(r.url, DB, good, auth=("u", "pw"))
    h.check_eq(st, 204, "Basic auth: 204")
    st, _, _ = h.prom_write(r.url, DB, good, auth=("u", "wrong"))
    h.check_eq(st, 401, "a wrong password: 401")
    st, _, _ = h.prom_write(r.url, DB, good, params=[("u", "u"), ("p", "pw")])
    h.check_eq(st, 204, "u/p: 204")
    st, _, _ = h.prom_write(r.url, DB, good, token="u:pw")
    h.check_eq(st, 204, "Token auth: 204")
    st, hd, _ = h.request("GET", r.url + "/api/v1/prom/write?db=" + DB)
    h.check_eq((st, hd.get("allow")), (405, "POST"), "GET: 405 Allow: POST")


def proc_kib(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    h.run([test_bad_input, test_auth_and_method, test_durable_while_backend_down, test_full_log,
           test_prometheus_to_relay_and_influxd])
