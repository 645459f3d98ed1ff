"""The 2.x and 3.x write APIs in, with InfluxDB's own client libraries from npm
(tests/node_modules, pinned by tests/package-lock.json): @influxdata/influxdb3-client with
noSync (it posts to /api/v3/write_lp) and without (/api/v2/write), and
@influxdata/influxdb-client's WriteApi (/api/v2/write with its org), through the relay into a
real influxd 1.6.7, where every point they wrote is counted; a bad line and a bad token reach
each library as the error it expects. Then the answers of /api/v3/write_lp that the libraries
do not show: precision=auto, accept_partial=false, an empty body, missing or bad parameters.
No InfluxDB 2.x or 3.x server runs here: the answers follow 3.x Core's and 2.x's sources and
documentation (see the README), not a server's."""
import gzip
import json
import os
import subprocess
import sys
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "clients_v2v3.mjs")
MODULES = os.path.join(h.ROOT, "tests", "node_modules", "@influxdata")
DB = "clients"
TOKEN = "apiv3_tok-3n6Jq9Yx"
PASSWORD = "pw-writer-1"


def client(cmd, timeout=60.0):
    """Run the driver with one command; its JSON answer."""
    p = subprocess.run(["node", DRIVER, json.dumps(cmd)], capture_output=True, timeout=timeout,
                       cwd=HERE)
    lines = p.stdout.decode().strip().splitlines()
    if p.returncode != 0 or not lines:
        raise h.HarnessError("driver failed rc=%d: %s %s" % (p.returncode, p.stdout[-500:],
                                                             p.stderr[-1500:]))
    return json.loads(lines[-1])


def setup():
    a = h.Influxd("a").start()
    a.create_db(DB)
    a.create_db("mapped")
    a.create_rp(DB, "short")
    cfg = {
        "auth": {"enabled": True,
                 "user": [{"name": "writer", "password": PASSWORD, "token": TOKEN}]},
        "bucket": [{"name": "by-name", "database": "mapped"}],
    }
    r = h.Relay(backends={"a": a}, config=cfg).start()
    return a, r


def lines(measurement, n, start=1):
    return ["%s,src=t v=%di %d" % (measurement, i, i * 10**9) for i in range(start, start + n)]


def wait_count(a, db, measurement, want, rp=None):
    h.wait_until(lambda: a.count(db, measurement, field="v", rp=rp) >= want, timeout=30)
    return a.count(db, measurement, field="v", rp=rp)


def requests_by_endpoint(r, endpoint, code):
    """influx_wal_ingest_requests_total for one endpoint and status code, from /metrics."""
    _, _, body = h.get(r.url + "/metrics")
    want = 'influx_wal_ingest_requests_total{endpoint="%s",code="%d"}' % (endpoint, code)
    for line in body.decode().splitlines():
        if line.startswith(want + " "):
            return int(float(line.split()[-1]))
    return 0


def test_installed():
    for lib in ("influxdb3-client", "influxdb-client"):
        h.check(os.path.isdir(os.path.join(MODULES, lib)),
                "@influxdata/%s is installed in tests/node_modules (make node-deps)" % lib)


def test_v3_client_no_sync():
    """influxdb3-client, noSync: POST /api/v3/write_lp?db=&precision=nanosecond&no_sync=true."""
    a, r = setup()
    ok = client({"lib": "v3", "host": r.url, "token": TOKEN, "database": DB, "noSync": True,
                 "lines": lines("v3sync", 300)})
    h.check(ok.get("ok"), "influxdb3-client (noSync) wrote 300 lines", ok)
    h.check_eq(wait_count(a, DB, "v3sync", 300), 300, "influxd holds the 300 points")
    h.check_eq(requests_by_endpoint(r, "api_v3_write_lp", 204), 1,
               "the library posted to /api/v3/write_lp")
    st, _, _ = h.request("POST", r.url + "/api/v3/write_lp?db=%s&no_sync=true" % DB,
                         body="v3raw v=1i 1\n", headers={"Authorization": "Bearer " + TOKEN})
    h.check_eq(st, 204, "Bearer with the token: 204")
    # A bad line among good ones: accept_partial (3.x's default) keeps the good ones, and the
    # library raises what 3.x's answer says.
    bad = lines("v3part", 2) + ["v3part,src=t"] + lines("v3part", 2, start=3)
    err = client({"lib": "v3", "host": r.url, "token": TOKEN, "database": DB, "noSync": True,
                  "lines": bad})
    h.check(not err.get("ok") and err.get("statusCode") == 400 and
            err.get("message") == "partial write of line protocol occurred",
            "a bad line: the library raises 400 'partial write of line protocol occurred'", err)
    try:
        doc = json.loads(err.get("body") or "{}")
    except ValueError:
        doc = {}
    data = doc.get("data") or [{}]
    h.check(len(data) == 1 and data[0].get("line_number") == 3 and
            data[0].get("original_line") == "v3part,src=t" and
            "missing fields" in data[0].get("error_message", ""),
            "its body names line 3, the line, and why", doc)
    h.check_eq(wait_count(a, DB, "v3part", 4), 4, "the 4 good lines were committed")
    err = client({"lib": "v3", "host": r.url, "token": "not-the-token", "database": DB,
                  "noSync": True, "lines": lines("v3denied", 3)})
    h.check(not err.get("ok") and err.get("statusCode") == 401 and
            err.get("message") == "the request was not authenticated",
            "a bad token: the library raises 401 'the request was not authenticated'", err)
    h.check_eq(a.count(DB, "v3denied", field="v"), 0, "nothing of the refused write stored")


def test_v3_client_v2_path():
    """influxdb3-client without noSync: POST /api/v2/write?bucket=&precision=ns (no org: 1.8's
    path, its Token auth; with an org: 2.x's)."""
    a, r = setup()
    ok = client({"lib": "v3", "host": r.url, "token": TOKEN, "database": DB,
                 "lines": lines("v3v2", 1500)})
    h.check(ok.get("ok"), "influxdb3-client wrote 1500 lines (gzip'd: over its threshold)", ok)
    h.check_eq(wait_count(a, DB, "v3v2", 1500), 1500, "influxd holds the 1500 points")
    h.check(requests_by_endpoint(r, "api_v2_write", 204) == 1 and
            requests_by_endpoint(r, "api_v3_write_lp", 204) == 0,
            "the library posted to /api/v2/write")
    ok = client({"lib": "v3", "host": r.url, "token": "writer:" + PASSWORD,
                 "database": DB + "/short", "org": "my-org", "lines": lines("v3org", 5)})
    h.check(ok.get("ok"), "with an org and a 'user:password' token into bucket db/rp", ok)
    h.check_eq(wait_count(a, DB, "v3org", 5, rp="short"), 5, "the 5 points are in rp 'short'")
    err = client({"lib": "v3", "host": r.url, "token": "nope", "database": DB,
                  "lines": lines("v3v2denied", 2)})
    h.check(not err.get("ok") and err.get("statusCode") == 401,
            "a bad token: the library raises 401", err)
    err = client({"lib": "v3", "host": r.url, "token": TOKEN, "database": DB, "org": "o",
                  "lines": lines("v3v2bad", 2) + ["v3v2bad v=1i,v=2 3"]})
    h.check(not err.get("ok") and err.get("statusCode") == 400 and err.get("code") == "invalid",
            "a bad line with an org: 400 with 2.x's code 'invalid'", err)
    h.check_eq(a.count(DB, "v3v2bad", field="v"), 0, "2.x refuses the whole batch: none stored")


def test_v2_client():
    """influxdb-client's WriteApi: POST /api/v2/write?org=&bucket=&precision=ns."""
    a, r = setup()
    ok = client({"lib": "v2", "url": r.url, "token": TOKEN, "org": "my-org", "bucket": DB,
                 "lines": lines("v2c", 400)})
    h.check(ok.get("ok"), "influxdb-client wrote 400 lines", ok)
    h.check_eq(wait_count(a, DB, "v2c", 400), 400, "influxd holds the 400 points")
    ok = client({"lib": "v2", "url": r.url, "token": TOKEN, "org": "my-org", "bucket": "by-name",
                 "lines": lines("v2map", 7)})
    h.check(ok.get("ok"), "a bucket named in [[bucket]]", ok)
    h.check_eq(wait_count(a, "mapped", "v2map", 7), 7, "its points are in the mapped database")
    err = client({"lib": "v2", "url": r.url, "token": TOKEN, "org": "my-org", "bucket": DB,
                  "lines": lines("v2bad", 3) + ["v2bad,src=t"]})
    h.check(not err.get("ok") and err.get("statusCode") == 400 and err.get("code") == "invalid"
            and "missing fields" in (err.get("message") or ""),
            "a bad line: 400, code 'invalid', the reason in 'message'", err)
    h.check_eq(a.count(DB, "v2bad", field="v"), 0, "none of that batch stored")
    err = client({"lib": "v2", "url": r.url, "token": "wrong", "org": "my-org", "bucket": DB,
                  "lines": lines("v2denied", 2)})
    h.check(not err.get("ok") and err.get("statusCode") == 401 and
            err.get("code") == "unauthorized" and err.get("message") == "unauthorized access",
            "a bad token: 401 {'code': 'unauthorized', 'message': 'unauthorized access'}", err)
    h.check_eq(a.count(DB, "v2denied", field="v"), 0, "nothing of it stored")


def v3(r, body, params, token=TOKEN):
    q = urllib.parse.urlencode(params)
    hdrs = {"Authorization": "Token " + token} if token else {}
    return h.request("POST", r.url + "/api/v3/write_lp" + ("?" + q if q else ""), body=body,
                     headers=hdrs)


def test_v3_answers():
    a, r = setup()
    body = "auto,u=s v=1i 1708976567\nauto,u=ms v=1i 1708976567000\n" \
           "auto,u=us v=1i 1708976567000000\nauto,u=ns v=1i 1708976567000000000\n"
    st, _, b = v3(r, body, {"db": DB})
    h.check_eq(st, 204, "precision omitted (auto): 204")
    h.wait_until(lambda: a.count(DB, "auto", field="v") >= 4, timeout=30)
    times = sorted({row["time"] for row in a.values(DB, 'SELECT "v" FROM auto GROUP BY *')})
    h.check_eq(times, [1708976567 * 10**9], "auto: s, ms, us and ns timestamps are one instant")
    st, _, b = v3(r, "sec v=1i 2\n", {"db": DB, "precision": "second"})
    h.check_eq(st, 204, "precision=second: 204")
    h.wait_until(lambda: a.count(DB, "sec", field="v") >= 1, timeout=30)
    h.check_eq([x["time"] for x in a.values(DB, 'SELECT "v" FROM sec')], [2 * 10**9],
               "precision=second read as seconds")
    st, _, b = v3(r, "strict v=1i 1\nstrict\nstrict v=2i 2\n",
                  {"db": DB, "accept_partial": "false"})
    doc = json.loads(b)
    h.check(st == 400 and doc.get("error") == "line protocol parsing error" and
            doc.get("data", {}).get("line_number") == 2,
            "accept_partial=false: 400 'line protocol parsing error', line 2 in 'data'", st, b)
    st, hd, b = v3(r, "", {"db": DB})
    h.check(st == 400 and b == b"incoming write was empty", "an empty body: 400 as 3.x", st, b)
    st, _, b = v3(r, "m v=1i 1\n", {})
    h.check(st == 400 and b == b"missing query parameter 'db'", "no query: 400", st, b)
    st, _, b = v3(r, "m v=1i 1\n", {"precision": "second"})
    h.check(st == 400 and b"missing field `db`" in b, "no db: 400", st, b)
    st, _, b = v3(r, "m v=1i 1\n", {"db": DB, "precision": "hour"})
    h.check(st == 400 and b"unknown variant `hour`" in b, "precision=hour: 400", st, b)
    st, _, b = v3(r, "m v=1i 1\n", {"db": "bad name"})
    h.check(st == 400 and "invalid character" in json.loads(b).get("error", ""),
            "a db name 3.x refuses: 400 with its text", st, b)
    st, _, b = v3(r, "m v=1i 1\n", {"db": DB}, token=None)
    h.check(st == 401 and json.loads(b) == {"error": "the request was not authenticated"},
            "no credentials: 401", st, b)
    import time
    time.sleep(0.5)
    h.check_eq(a.count(DB, "strict", field="v"), 0, "nothing of the accept_partial=false write")


def test_too_large():
    """Bodies over the limits, answered in each generation's shape: a 2.x client's write gets
    the body of the 2.x reference's OSS example (dataExceedsSizeLimitOSS, which 2.x's own write
    handler gives) whether the body itself or its inflated size is too large; /api/v3/write_lp
    3.x's text; /write and /api/v2/write without org 1.x's."""
    a = h.Influxd("a").start()
    a.create_db(DB)
    r = h.Relay(backends={"a": a}, config={"http": {"max-body-size": "64KiB",
                                                          "max-inflated-size": "256KiB"}}).start()
    v2_body = {"code": "request too large",
               "message": "unable to read data: points batch is too large"}
    bomb = gzip.compress(b"big,src=t v=1i 1000000000\n" * 20000)
    h.check(len(bomb) < 64 * 1024, "the gzip body is under max-body-size", len(bomb))
    st, _, b = h.request("POST", r.url + "/api/v2/write?org=o&bucket=" + DB, bomb,
                         {"Content-Encoding": "gzip", "Authorization": "Token x"})
    h.check_eq((st, json.loads(b)), (413, v2_body), "inflated past the limit: 413, 2.x's body", b)
    big = ("\n".join(lines("big", 5000))).encode()
    h.check(len(big) > 64 * 1024, "the plain body is over max-body-size", len(big))
    st, _, b = h.request("POST", r.url + "/api/v2/write?org=o&bucket=" + DB, big,
                         {"Authorization": "Token x"})
    h.check_eq((st, json.loads(b)), (413, v2_body), "over max-body-size: 413, 2.x's body", b)
    st, _, b = h.request("POST", r.url + "/api/v3/write_lp?db=" + DB, big, {})
    h.check_eq((st, b), (413, b"max request size (65536 bytes) exceeded"),
               "/api/v3/write_lp over max-body-size: 413, 3.x's text")
    for path in ("/write?db=" + DB, "/api/v2/write?bucket=" + DB):
        st, _, b = h.request("POST", r.url + path, big, {})
        h.check_eq((st, json.loads(b)), (413, {"error": "Request Entity Too Large"}),
                   "%s over max-body-size: 1.x's 413" % path.split("?")[0], b)
    h.check_eq(a.count(DB, "big", field="v"), 0, "nothing of them stored")


h.run([test_installed, test_v3_client_no_sync, test_v3_client_v2_path, test_v2_client,
       test_v3_answers, test_too_large])
