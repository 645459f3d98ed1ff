"""The InfluxDB-compatible front end against real clients and a real influxd behind the relay:
every status path with curl, the influx CLI's -import, python3-influxdb's write_points, UDP,
gzip, chunked and pipelined requests, auth, limits, a full log, reload and graceful stop.
Points are counted in the backend: what was acknowledged is exactly what arrives."""
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

DB = "ingest"


def curl(*args, data=None):
    """curl -s with status code and headers; returns (status, headers lower-cased, body)."""
    argv = ["curl", "-s", "-i", "--max-time", "10", *args]
    p = subprocess.run(argv, input=data, capture_output=True, timeout=20)
    raw = p.stdout
    # Skip interim 100 Continue answers.
    while raw.startswith(b"HTTP/1.1 100"):
        raw = raw.split(b"\r\n\r\n", 1)[1]
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


def setup_pair(config=None, **kw):
    a = h.Influxd("a").start()
    a.create_db(DB)
    r = h.Relay(backends={"a": a}, config=config, **kw).start()
    return a, r


def wait_count(a, want, db=DB, field="n", measurement=None, timeout=30):
    """The backend's count once it reached 'want' (or the deadline passed); then a short settle
    so that a count going past 'want' is seen too."""
    h.wait_until(lambda: a.count(db, measurement=measurement, field=field) >= want,
                 timeout=timeout, interval=0.2)
    time.sleep(0.3)
    return a.count(db, measurement=measurement, field=field)


def test_ping_and_routes():
    a, r = setup_pair()
    st, hd, body = curl(r.url + "/ping")
    h.check_eq(st, 204, "GET /ping answers 204")
    h.check(hd.get("x-influxdb-version", "").startswith("1."), "/ping names an InfluxDB 1.x version",
            hd)
    h.check("x-influxdb-build" in hd, "/ping has X-Influxdb-Build")
    st, hd, body = curl("-I", r.url + "/ping")
    h.check_eq(st, 204, "HEAD /ping answers 204")
    st, hd, body = curl(r.url + "/ping?verbose=true")
    h.check(st == 200 and json.loads(body).get("version", "").startswith("1."),
            "/ping?verbose=true answers 200 with JSON", st, body)
    st, hd, body = curl(r.url + "/nope")
    h.check(st == 404 and json.loads(body).get("error"), "unknown path: 404 with a JSON error",
            st, body)
    st, hd, body = curl(r.url + "/write?db=x")
    h.check(st == 405 and json.loads(body).get("error"), "GET /write: 405 with a JSON error",
            st, body)
    st, hd, body = curl("-X", "DELETE", r.url + "/ping")
    h.check_eq(st, 405, "DELETE /ping: 405")
    st, hd, body = curl(r.url + "/health")
    health = json.loads(body)
    h.check(st == 200 and health["status"] in ("pass", "warn") and health["wal"]["writable"],
            "/health answers with the log writable", st, body)


def test_write_statuses():
    """Every answer of the write path, as curl sees it, and what reaches the backend."""
    a, r = setup_pair(config={"http": {"max-body-size": "64KiB", "max-inflated-size": "256KiB"}})
    w = r.url + "/write?db=" + DB
    st, _, body = curl("-XPOST", w, "--data-binary", "@-", data=b"m n=1i 1000000000\nm n=2i 2000000000\n")
    h.check_eq(st, 204, "valid lines: 204")
    st, _, body = curl("-XPOST", w, "--data-binary", "@-",
                       data=b"m n=3i 3000000000\nbad line here\nm n=4i 4000000000\n")
    err = json.loads(body).get("error", "")
    h.check(st == 400 and err.startswith("partial write: unable to parse 'bad line here'")
            and "dropped=" in err, "one bad line: 400 partial write naming it", st, body)
    st, _, body = curl("-XPOST", w, "--data-binary", "@-", data=b"garbage\n")
    err = json.loads(body).get("error", "")
    h.check(st == 400 and err.startswith("unable to parse 'garbage'"),
            "nothing valid: 400 unable to parse", st, body)
    st, _, body = curl("-XPOST", r.url + "/write", "--data-binary", "m n=9i")
    h.check(st == 400 and json.loads(body)["error"] == "database is required",
            "missing db: 400 database is required", st, body)
    st, _, body = curl("-XPOST", w + "&precision=fortnight", "--data-binary", "m n=9i")
    h.check(st == 400 and "precision" in json.loads(body)["error"],
            "unknown precision: 400 (never silently nanoseconds)", st, body)
    st, _, body = curl("-XPOST", w, "-H", "Content-Encoding: gzip", "--data-binary", "not gzip")
    h.check(st == 400 and "gzip" in json.loads(body)["error"], "bad gzip: 400", st, body)
    st, _, body = curl("-XPOST", w, "--data-binary", "@-", data=b"m n=1i\n" * 20000)
    h.check_eq(st, 413, "body over max-body-size: 413")
    bomb = gzip.compress(b"m n=1i 1\n" * 100000)
    st, _, body = curl("-XPOST", w, "-H", "Content-Encoding: gzip", "--data-binary", "@-", data=bomb)
    h.check(st == 413 and len(bomb) < 65536, "gzip inflating past max-inflated-size: 413", st,
            len(bomb))
    gz = gzip.compress(b"m n=5i 5000000000\nm n=6i 6000000000\n")
    st, _, body = curl("-XPOST", w, "-H", "Content-Encoding: gzip", "--data-binary", "@-", data=gz)
    h.check_eq(st, 204, "gzip body: 204")
    st, _, body = curl("-XPOST", w, "-H", "Transfer-Encoding: chunked", "--data-binary", "@-",
                       data=b"m n=7i 7000000000\r\nm n=8i 8000000000\r\n")
    h.check_eq(st, 204, "chunked body with CRLF line ends: 204")
    st, _, body = curl("-XPOST", w, "-H", "Expect: 100-continue", "--data-binary", "@-",
                       data=b"m n=10i 10000000000\n")
    h.check_eq(st, 204, "Expect: 100-continue: 204")
    st, _, body = curl("-XPOST", r.url + "/api/v2/write?bucket=%s/autogen&org=x&precision=s" % DB,
                       "--data-binary", "m n=11i 11")
    h.check_eq(st, 204, "/api/v2/write with bucket db/rp: 204")
    st, _, body = curl("-XPOST", w, "--data-binary", "")
    h.check_eq(st, 204, "empty body: 204")
    # 1..8 (3 and 4 from the partial write), 10 and 11 reached the backend; nothing else.
    got = wait_count(a, 10)
    h.check_eq(got, 10, "the backend holds exactly the 10 acknowledged points")
    vals = sorted(v["n"] for v in a.values(DB, 'SELECT "n" FROM m'))
    h.check_eq(vals, [1, 2, 3, 4, 5, 6, 7, 8, 10, 11], "with the acknowledged values")
    t = a.values(DB, 'SELECT "n" FROM m WHERE "n" = 11')
    h.check(t and t[0]["time"] == 11 * 10**9, "precision=s timestamps stored as seconds", t)


def test_pipelined_and_keepalive():
    a, r = setup_pair()
    s = socket.create_connection(("127.0.0.1", r.port), timeout=10)
    reqs = b""
    for i in range(20):
        body = b"pipe n=%di %d\n" % (i, (i + 1) * 10**9)
        reqs += b"POST /write?db=%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (
            DB.encode(), len(body), body)
    reqs += b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"
    s.sendall(reqs)
    data = b""
    deadline = time.time() + 10
    while data.count(b"HTTP/1.1 204") < 21 and time.time() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    h.check_eq(data.count(b"HTTP/1.1 204"), 21, "21 pipelined requests on one connection: 21 answers")
    h.check_eq(wait_count(a, 20, measurement="pipe"), 20, "all 20 pipelined points arrive")


def test_real_clients():
    """python3-influxdb's write_points and the influx CLI's -import, through the relay."""
    import influxdb
    a, r = setup_pair()
    c = influxdb.InfluxDBClient(host="127.0.0.1", port=r.port, database=DB, timeout=10)
    h.check(c.ping().startswith("1."), "python3-influxdb ping sees a 1.x version")
    pts = [{"measurement": "py", "tags": {"k": str(i % 3)}, "fields": {"n": i},
            "time": 1600000000000000000 + i} for i in range(500)]
    h.check(c.write_points(pts, batch_size=100), "write_points of 500 points in 5 batches")
    pts = [{"measurement": "py_now", "fields": {"n": i}, "tags": {"i": str(i)}} for i in range(50)]
    h.check(c.write_points(pts, time_precision="ms"), "write_points without timestamps")
    path = os.path.join(h.tmpdir("import"), "import.txt")
    with open(path, "w") as f:
        f.write("# DML\n# CONTEXT-DATABASE: %s\n" % DB)
        for i in range(1000):
            f.write("imp,host=h%d n=%di %d\n" % (i % 7, i, 1600000000 + i))
    rc, out, err = h.run_cmd(["influx", "-host", "127.0.0.1", "-port", str(r.port), "-import",
                              "-path", path, "-precision", "s"], timeout=60)
    h.check(rc == 0 and "1000 points were written" in (out + err).replace("\n", " ") or
            rc == 0 and "Processed 1000" in out + err, "influx -import of 1000 points", rc, out, err)
    h.check_eq(wait_count(a, 500, measurement="py"), 500, "write_points' 500 points arrive")
    h.check_eq(wait_count(a, 50, measurement="py_now"), 50, "points without timestamps arrive")
    now_ns = time.time_ns()
    times = [v["time"] for v in a.values(DB, 'SELECT "n" FROM py_now')]
    h.check(times and all(abs(t - now_ns) < 120 * 10**9 and t % 10**6 == 0 for t in times),
            "stamped with the receive time, truncated to the request's precision (ms)",
            times[:3])
    h.check_eq(wait_count(a, 1000, measurement="imp"), 1000, "influx -import's 1000 points arrive")


def test_auth():
    a, r = setup_pair(config={"auth": {"enabled": True,
                                       "user": [{"name": "writer", "password": "s3cret pass"}]}})
    w = r.url + "/write?db=" + DB
    st, _, body = curl("-XPOST", w, "--data-binary", "auth n=1i 1")
    h.check(st == 401 and json.loads(body)["error"] == "unable to parse authentication credentials",
            "no credentials: 401", st, body)
    st, _, body = curl("-XPOST", w + "&u=writer&p=wrong", "--data-binary", "auth n=2i 2")
    h.check(st == 401 and json.loads(body)["error"] == "authorization failed",
            "wrong password: 401 authorization failed", st, body)
    st, _, _ = curl("-XPOST", w + "&u=writer&p=s3cret%20pass", "--data-binary", "auth n=3i 3")
    h.check_eq(st, 204, "u/p in the query: 204")
    st, _, _ = curl("-XPOST", w, "-u", "writer:s3cret pass", "--data-binary", "auth n=4i 4")
    h.check_eq(st, 204, "Basic auth: 204")
    st, _, _ = curl("-XPOST", r.url + "/api/v2/write?bucket=" + DB, "-H",
                    "Authorization: Token writer:s3cret pass", "--data-binary", "auth n=5i 5")
    h.check_eq(st, 204, "Token auth on /api/v2/write: 204")
    h.check_eq(wait_count(a, 3, measurement="auth"), 3, "only the 3 authorised points arrive")
    h.check("s3cret" not in r.log_text(), "the password never appears in the relay's log")


def test_udp():
    a = h.Influxd("a").start()
    a.create_db("udpdb")
    r = h.Relay(backends={"a": a}, udp=["udpdb"]).start()
    port = r.udp_port("udpdb")
    for i in range(100):
        h.send_udp(port, b"udp,i=%d n=%di %d\nnot line protocol\n" % (i, i, (i + 1) * 10**9))
    h.check_eq(wait_count(a, 100, db="udpdb"), 100, "100 UDP datagrams' points arrive")
    rej = h.wait_until(lambda: r.metric("influx_wal_ingest_rejected_lines_total"), timeout=5)
    h.check_eq(rej, 100, "the 100 malformed lines were dropped and counted")


def test_full_log():
    """A log at its limit answers 503 with Retry-After, and takes writes again once drained."""
    a = h.Influxd("a").start()
    a.create_db(DB)
    a.pause()  # the backend hangs: nothing drains
    r = h.Relay(backends={"a": a}, config={"wal": {"max-size": "1MiB"}}).start()
    statuses = []
    for req in range(40):
        body = b"".join(b"full,req=%d n=%di %d\n" % (req, i, i + 1) for i in range(2000))
        st, hd, _ = curl("-XPOST", r.url + "/write?db=" + DB, "--data-binary", "@-", data=body)
        statuses.append((st, hd.get("retry-after")))
        if st == 503:
            break
    h.check(statuses[-1][0] == 503 and statuses[-1][1], "the full log answers 503 with Retry-After",
            statuses[-3:])
    acked = sum(1 for s, _ in statuses if s == 204)
    health = json.loads(curl(r.url + "/health")[2])
    h.check(health["status"] == "fail" and not health["wal"]["writable"],
            "/health says fail while the log is not writable", health)
    a.resume()
    ok = h.wait_until(lambda: curl("-XPOST", r.url + "/write?db=" + DB, "--data-binary",
                                   "after n=1i 1")[0] == 204, timeout=60, interval=0.5)
    h.check(ok, "writes are accepted again once the backend drained the log")
    h.check_eq(wait_count(a, acked * 2000, measurement="full", timeout=60), acked * 2000,
               "every acknowledged point before the 503 arrives (%d requests)" % acked)


def test_config_and_flags():
    d = h.tmpdir("cfg")
    bad = os.path.join(d, "bad.toml")
    with open(bad, "w") as f:
        f.write("[wal]\nmax-size = \"lots\"\n")
    rc, out, err = h.run_relay("--config", bad, "--check-config")
    h.check(rc == 2 and err.startswith("influx-wal-relay: ") and "bad.toml:2" in err,
            "a bad value: exit 2 naming file:line", rc, err)
    with open(bad, "w") as f:
        f.write("[wal]\nsize-max = 1\n")
    rc, out, err = h.run_relay("--config", bad, "--check-config")
    h.check(rc == 2 and "bad.toml:2" in err and "size-max" in err, "an unknown key: exit 2",
            rc, err)
    rc, out, err = h.run_relay("--check-config", "--config",
                               os.path.join(h.ROOT,
                                            "packaging/relay.toml"))
    h.check_eq(rc, 0, "the packaged config passes --check-config", out, err)
    rc, out, err = h.run_relay("--backend", "nourl")
    h.check_eq(rc, 2, "a bad --backend flag: exit 2", err)
    rc, out, err = h.run_relay("--bogus")
    h.check(rc == 2 and "--bogus" in err, "an unknown flag: exit 2 naming it", err)
    rc, out, err = h.run_relay("--version")
    h.check(rc == 0 and out.startswith("influx-wal-relay "), "--version", out)


def test_influxdb_relay_layout():
    """influxdb-relay's relay.toml runs as it is: its [[http]] bind-addr and outputs."""
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    for x in (a, b):
        x.create_db(DB)
    port = h.free_port()
    cfg = ('[[http]]\nname = "example-http"\nbind-addr = "127.0.0.1:%d"\noutput = [\n'
           '  { name="local1", location = "%s/write" },\n'
           '  { name="local2", location = "%s/write" },\n]\n' % (port, a.url, b.url))
    r = h.Relay(config=cfg, listen_flag=False).start(port=port)
    st, _, _ = curl("-XPOST", r.url + "/write?db=" + DB, "--data-binary", "old n=1i 1\nold n=2i 2")
    h.check_eq(st, 204, "a write through an influxdb-relay config: 204")
    h.check_eq(wait_count(a, 2, measurement="old"), 2, "output local1 gets the points")
    h.check_eq(wait_count(b, 2, measurement="old"), 2, "output local2 gets the points")


def test_reload_and_stop_under_load():
    a, r = setup_pair(config={"http": {"max-body-size": "1MiB"}})
    load = h.Load(r.url, DB, points_per_request=200, requests=400, concurrency=8, deadline=60)
    load.start()
    time.sleep(0.5)
    r.reload(config={"http": {"max-body-size": "1KiB"}})
    ok = h.wait_until(lambda: curl("-XPOST", r.url + "/write?db=" + DB, "--data-binary", "@-",
                                   data=b"big n=1i\n" * 500)[0] == 413, timeout=10)
    h.check(ok, "SIGHUP took the smaller body limit: 413 now")
    r.reload(config={"http": {"max-body-size": "1MiB"}})
    time.sleep(0.5)
    r.signal(signal.SIGTERM)
    code = r.wait_exit(timeout=30)
    load.stop()
    load.join()
    h.check_eq(code, 0, "SIGTERM under load: exit 0")
    h.check(load.acked_total > 0, "some points were acknowledged before the stop (%d)" %
            load.acked_total)
    r.start()
    got = wait_count(a, load.acked_total, measurement="load", timeout=60)
    amb = sum(load.ambiguous.values())
    h.check(load.acked_total <= got <= load.acked_total + amb,
            "after restart the backend holds every acknowledged point (%d acked, %d in backend, "
            "%d unanswered)" % (load.acked_total, got, amb))
    acked = load.acked_n(DB)
    have = set(v["n"] for v in a.values(DB, 'SELECT "n" FROM load'))
    h.check(acked <= have, "every acknowledged value is there", len(acked - have))


def test_idle_timeout():
    a, r = setup_pair(config={"http": {"idle-timeout": "1s", "read-timeout": "1s"}})
    s = socket.create_connection(("127.0.0.1", r.port), timeout=10)
    s.sendall(b"POST /write?db=x HTTP/1.1\r\nHost: x\r\nContent-Le")
    t0 = time.time()
    data = s.recv(4096)
    h.check(data.startswith(b"HTTP/1.1 408") and time.time() - t0 < 5,
            "a request that stalls mid-headers gets 408 after the read timeout", data[:40])
    s2 = socket.create_connection(("127.0.0.1", r.port), timeout=10)
    t0 = time.time()
    h.check(s2.recv(4096) == b"" and time.time() - t0 < 5, "an idle connection is closed")


def test_pending_bodies_bound():
    """Bodies held in memory are bounded for all clients together: with room for about two
    600 KB bodies, a third client holding one gets 503 and a closed connection; the two
    complete and are committed."""
    a, r = setup_pair(config={"http": {"max-body-size": "700KiB", "max-pending-size": "1300KiB"}})
    body = b"".join(b"pend,c=%d n=%di %d\n" % (c, i, i + 1) for c in range(1) for i in range(30000))
    body = body[:600 * 1024]
    body = body[:body.rindex(b"\n") + 1]
    lines = body.count(b"\n")
    socks = []
    for k in range(3):
        s = socket.create_connection(("127.0.0.1", r.port), timeout=10)
        mine = body.replace(b"pend,c=0", b"pend,c=%d" % k)
        s.sendall(b"POST /write?db=%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                  % (DB.encode(), len(mine)) + mine[:-10])
        socks.append((s, mine))
        time.sleep(0.3)
    third = socks[2][0].recv(4096)
    h.check(third.startswith(b"HTTP/1.1 503"), "the client that would pass the bound: 503",
            third[:60])
    for s, mine in socks[:2]:
        s.sendall(mine[-10:])
    answers = [s.recv(4096) for s, _ in socks[:2]]
    h.check(all(x.startswith(b"HTTP/1.1 204") for x in answers),
            "the two within the bound complete: 204", [x[:20] for x in answers])
    for s, _ in socks:
        s.close()
    h.check_eq(wait_count(a, 2 * lines, measurement="pend"), 2 * lines,
               "their points arrive, the refused one's do not")
    st, _, _ = curl("-XPOST", r.url + "/write?db=" + DB, "--data-binary", "after n=1i 1")
    h.check_eq(st, 204, "once they are answered, the budget is free again")


def gone_bodies(lines):
    """(endpoint, raw request head without Content-Length, body) for every HTTP write endpoint
    whose work runs on the pool, each body 'lines' points of measurement gone_<endpoint> that
    take the relay a while (every timestamp rewritten; remote write converted first)."""
    t0 = int(time.time() * 1000) - 3600 * 1000
    lp = [b"".join(b"gone_%s,host=h%d n=%di %d\n" % (e, i % 50, i, t0 + i) for i in range(lines))
          for e in (b"v1", b"v2", b"v3")]
    prom = h.snappy_block(h.prom_write_request(
        [([("__name__", "gone_prom"), ("host", "h")], [(float(i), t0 + i) for i in range(lines)])]))
    return [("v1", "/write?db=%s&precision=ms" % DB, lp[0]),
            ("v2", "/api/v2/write?org=o&bucket=%s&precision=ms" % DB, lp[1]),
            ("v3", "/api/v3/write_lp?db=%s&precision=millisecond" % DB, lp[2]),
            ("prom", "/api/v1/prom/write?db=%s" % DB, prom)]


def test_client_gone_during_validation():
    """Every HTTP write endpoint's work (inflating, converting, validating) runs off the loop: a
    client that resets its connection while its large body is being worked on gets nothing
    appended (it heard no answer), and the relay goes on serving. The same body from a client
    that stays is committed whole, so the first one's points were valid and the reset alone
    kept them out."""
    a, r = setup_pair()
    lines = 400000
    for k, (name, path, body) in enumerate(gone_bodies(lines)):
        raw = b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (
            path.encode(), len(body)) + body
        appended = r.metric("influx_wal_wal_appended_records_total", 0)
        h.check(h.send_then_reset(r.port, raw), "%s: the whole request reached the relay" % name)
        h.check(h.wait_until(lambda: r.metric("influx_wal_ingest_abandoned_writes_total", 0) >= k + 1,
                             timeout=20, interval=0.1),
                "%s: the write whose client reset is counted as abandoned" % name)
        h.check_eq(r.metric("influx_wal_wal_appended_records_total", 0), appended,
                   "%s: nothing was appended for it" % name)
        st, _, _ = curl("-XPOST", r.url + "/write?db=" + DB, "--data-binary",
                        "after_%s n=1i 1" % name)
        h.check_eq(st, 204, "%s: the relay goes on serving: the next write gets 204" % name)
        points = r.metric("influx_wal_ingest_points_total", 0)
        st, _, data = h.request("POST", r.url + path, body=body, timeout=60)
        h.check_eq(st, 204, "%s: the same body from a client that waits: 204" % name, data[:200])
        h.check_eq(r.metric("influx_wal_ingest_points_total", 0) - points, lines,
                   "%s: and all of its points are committed" % name)
    h.check_eq(wait_count(a, lines, measurement="gone_v1", timeout=60), lines,
               "the points of the body whose client stayed arrive, once")
    h.check_eq(r.metric("influx_wal_ingest_abandoned_writes_total", 0), 4,
               "only the four reset writes were abandoned")
    h.check(r.alive(), "the relay is still running")


def test_concurrent_keepalive_writers():
    """Many writers on keep-alive connections at once, plain and gzip, their validation running
    on the pool side by side: every request is acknowledged, the log holds each point once,
    and the backend gets every one of them exactly once."""
    a, r = setup_pair()
    loads = [h.Load(r.url, DB, points_per_request=500, requests=150, concurrency=12,
                    keepalive=True, gzip=g, measurement="conc", deadline=90) for g in (False, True)]
    for ld in loads:
        ld.start()
    for ld in loads:
        ld.join()
    acked = sum(ld.acked_total for ld in loads)
    sent = sum(ld.requests * ld.ppr for ld in loads)
    h.check(acked == sent and all(not ld.errors for ld in loads),
            "every request of 24 keep-alive writers is acknowledged (%d of %d points)"
            % (acked, sent), [ld.errors[:3] for ld in loads])
    h.check_eq(r.metric("influx_wal_ingest_points_total", 0), acked,
               "the log committed each acknowledged point once")
    h.check_eq(wait_count(a, acked, measurement="conc", timeout=90), acked,
               "the backend holds exactly the acknowledged points")
    have = set(v["n"] for v in a.values(DB, 'SELECT "n" FROM conc'))
    want = set().union(*(ld.acked_n() for ld in loads))
    h.check(have == want, "every acknowledged value is there, and nothing else",
            len(want - have), len(have - want))


if __name__ == "__main__":
    h.run([test_ping_and_routes, test_write_statuses, test_pipelined_and_keepalive,
           test_real_clients, test_auth, test_udp, test_full_log, test_config_and_flags,
           test_influxdb_relay_layout, test_reload_and_stop_under_load, test_idle_timeout,
           test_pending_bodies_bound, test_client_gone_during_validation,
           test_concurrent_keepalive_writers])
