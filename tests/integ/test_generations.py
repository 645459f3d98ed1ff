#!/usr/bin/python3
"""Backends of every InfluxDB generation fed from one log: a real influxd 1.6.7 (api v1), and
for 2.x and 3.x the API stand-ins standin_influx2.py and standin_influx3.py (no 2.x or 3.x
server can be installed on this machine; each stand-in implements the published API reference
it names, so what is checked here against them is checked against that reference, not against
a real server):

  - mixed fan-out: every point written through the relay is counted in all three, each from its
    own cursor (the 3.x stand-in paused while writes go on: the others catch up, it lags, then
    catches up too);
  - a point 3.x refuses (a tag and a field of one name; a new tag on an existing table) is a
    dead letter for the v3 backend only; the 1.x and 2.x backends hold it;
  - statements: CREATE DATABASE and DROP DATABASE through 2.x's buckets API (org and bucket
    looked up first) and 3.x's database endpoints; CREATE RETENTION POLICY an `unsupported`
    dead letter for both, counted, and the writes after it still flow;
  - DELETE: 2.x gets it as POST /api/v2/delete (start, stop and a _measurement and tag
    predicate; without WHERE, the whole time range) and the stand-in's points go as influxd's
    do; what 2.x cannot say (!=, DROP SERIES) and a DELETE on 3.x are counted unsupported;
  - a bad token: the data is kept (hold, 401), nothing dead-lettered; the same for an org the
    2.x backend does not have (its 400 orgNotFound);
  - /metrics, /health, /status.json, the status page and `influx-wal status` show each backend
    with its kind;
  - /query through the relay to a v2 and a v3 backend reads back what was written through it,
    with the backend's token in place of the client's credentials;
  - every stand-in answer names the documentation example it was checked against
    (X-Standin-Doc-Example), and the bodies the documentation gives literally are compared
    (test_standin_doc_examples).
"""

import base64
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import standin_influx2 as s2  # noqa: E402
import standin_influx3 as s3  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DB = "db"
TOKEN2, TOKEN3, ORG = "tok2-secret", "tok3-secret", "my-org"


def standin(kind, *args):
    port = h.free_port()
    script = os.path.join(HERE, "standin_influx%d.py" % kind)
    url = "http://127.0.0.1:%d" % port

    def ready():
        try:
            return h.get(url + "/standin/points", timeout=1.0)[0] == 200
        except OSError:
            return False

    p = h.Process([sys.executable, script, str(port)] + list(args), name="standin%d" % kind,
                  ready=ready).start()
    p.base = url
    return p


def stored(p, where=None, measurement=None):
    doc = json.loads(h.get(p.base + "/standin/points")[2])
    return [x for x in doc["points"]
            if (where is None or x["where"] == where) and
            (measurement is None or x["measurement"] == measurement)]


def writes(p):
    return json.loads(h.get(p.base + "/standin/points")[2])["write_requests"]


def v2_bucket(p, name):
    auth = {"Authorization": "Token " + TOKEN2}
    st, _, body = h.get(p.base + "/api/v2/orgs?org=" + ORG, headers=auth)
    org_id = json.loads(body)["orgs"][0]["id"]
    st, _, body = h.request("POST", p.base + "/api/v2/buckets",
                            json.dumps({"orgID": org_id, "name": name}),
                            {"Authorization": "Token " + TOKEN2, "Content-Type": "application/json"})
    h.check_eq(st, 201, "2.x stand-in: bucket %s created" % name, body)


def answers(p):
    return json.loads(h.get(p.base + "/standin/points")[2])["answers"]


def check_named(p, module):
    """Every answer the stand-in gave names one of its documentation examples; returns how
    many answers named each, for the test's log."""
    seen = {}
    for a in answers(p):
        seen[a["example"]] = seen.get(a["example"], 0) + 1
    unnamed = [a for a in answers(p) if a["example"] not in module.EXAMPLE.values()]
    h.check_eq(unnamed, [], "%s: every answer names a documentation example of %s at %s"
               % (p.name, module.API_REFERENCE["reference"], module.DOCS_COMMIT[:12]))
    return seen


def backend_of(doc, name):
    return [b for b in doc["backends"] if b["name"] == name][0]


def statement(r, q, db=None):
    form = {"q": q} if db is None else {"q": q, "db": db}
    return h.request("POST", r.url + "/query", urllib.parse.urlencode(form),
                     {"Content-Type": "application/x-www-form-urlencoded"}, timeout=30.0)


def test_generations():
    a = h.Influxd("a").start()
    a.create_db(DB)
    b = standin(2, TOKEN2, ORG)
    c = standin(3, TOKEN3)
    v2_bucket(b, "db/autogen")
    quick = {"retry-max-delay": "500ms", "timeout": "3s"}
    backends = [
        dict(name="a", url=a.url, **quick),
        dict(name="b", url=b.base, api="v2", token=TOKEN2, org=ORG, **quick),
        dict(name="c", url=c.base, api="v3", token=TOKEN3, **{"accept-partial": True}, **quick),
        dict(name="badtoken", url=b.base, api="v2", token="wrong", org=ORG, **quick),
        dict(name="badorg", url=b.base, api="v2", token=TOKEN2, org="not-" + ORG, **quick),
    ]
    r = h.Relay(config={"backend": backends}).start()
    t0 = (int(time.time()) - 600) * 1000000000
    n = 0
    for batch in range(6):
        body = "\n".join("cpu,host=h%d n=%di %d" % (i % 3, n + i, t0 + n + i) for i in range(50))
        st = r.write(DB, body)[0]
        h.check_eq(st, 204, "write %d through the relay" % batch)
        n += 50

    def caught(*names):
        _, doc = r.health()
        return all(backend_of(doc, x)["caught_up"] for x in names)

    h.check(h.wait_until(lambda: caught("a", "b", "c"), 20), "a, b, c caught up", r.health())
    h.check_eq(a.count(DB, "cpu"), n, "1.x (real influxd) holds every point")
    h.check_eq(len(stored(b, "db/autogen", "cpu")), n, "2.x stand-in holds every point in db/autogen")
    h.check_eq(len(stored(c, DB, "cpu")), n, "3.x stand-in holds every point in database db")

    # Each from its own cursor: the 3.x one stopped, the others go on.
    c.pause()
    body = "\n".join("cpu,host=h%d n=%di %d" % (i % 3, n + i, t0 + n + i) for i in range(100))
    h.check_eq(r.write(DB, body)[0], 204, "write while the 3.x backend is paused")
    n += 100
    h.check(h.wait_until(lambda: caught("a", "b"), 20), "a and b catch up without c")
    _, doc = r.health()
    h.check(not backend_of(doc, "c")["caught_up"] and backend_of(doc, "c")["lag_records"] > 0,
            "c lags behind, its own cursor held", backend_of(doc, "c"))
    c.resume()
    h.check(h.wait_until(lambda: caught("a", "b", "c"), 30), "c catches up once resumed")
    h.check_eq(len(stored(c, DB, "cpu")), n, "3.x stand-in then holds every point")

    # Points 3.x refuses and 1.x takes: dead letters for c only.
    t1 = t0 + 10000
    writes_before = writes(c)
    st, _, out = r.write(DB, "mem,host=x used=1i %d\nmem,host=x,rack=r1 used=2i %d\n"
                             "mem,host=x used=3i %d\nio,k=1 k=2i %d\nio,k=1 v=1i %d"
                         % (t1, t1 + 1, t1 + 2, t1 + 3, t1 + 4))
    h.check_eq(st, 204, "the relay (which validates as influxd 1.6.7) takes all five lines", out)
    h.check(h.wait_until(lambda: caught("a", "b", "c"), 20), "caught up after the refusals")
    h.check_eq(a.count(DB, "mem", field="used"), 3, "1.x holds the new-tag point")
    h.check_eq(len(stored(b, "db/autogen", "mem")), 3, "2.x holds the new-tag point")
    h.check_eq(len(stored(b, "db/autogen", "io")), 2, "2.x holds the tag-and-field point")
    got_c = sorted(p["fields"]["used"] for p in stored(c, DB, "mem"))
    h.check_eq(got_c, [1, 3], "3.x holds mem's lines but the one with a new tag")
    h.check_eq(len(stored(c, DB, "io")), 1, "3.x holds io's line but the tag-and-field one")
    h.check_eq(r.metric("influx_wal_backend_sent_points_total", backend="c"), n + 3,
               "c counts the lines 3.x stored from its partial write as sent")
    h.check_eq(writes(c) - writes_before, 1,
               "one write_lp for the five lines: 3.x's partial answer settled them, none resent")
    dead = {x: r.metric("influx_wal_backend_dead_letters", backend=x) for x in "abc"}
    h.check_eq(dead, {"a": 0, "b": 0, "c": 2}, "dead letters: two for c, none for a or b")
    rc, out, err = r.run_cli("dead", "list", "--backend", "c", "--lines")
    h.check(rc == 0 and "rack=r1" in out and "io,k=1 k=2i" in out and "partial write" in out,
            "dead list names c's two refused lines with 3.x's answer", out, err)
    rc, out, err = r.run_cli("dead", "list", "--backend", "b", "--lines")
    h.check(rc == 0 and "rack=r1" not in out, "no dead letter for b", out, err)

    # Statements: 3.x through its database endpoints, 2.x unsupported (counted, no wedge).
    st, _, out = statement(r, 'CREATE DATABASE "other"')
    h.check_eq(st, 200, "CREATE DATABASE through the relay", out)
    dbs = lambda: json.loads(h.get(c.base + "/api/v3/configure/database?format=json",
                                   headers={"Authorization": "Bearer " + TOKEN3})[2])
    h.check(h.wait_until(lambda: "other" in dbs()["databases"], 10),
            "3.x: CREATE DATABASE became POST /api/v3/configure/database", dbs())
    h.check(h.wait_until(lambda: "other" in a.databases(), 10), "1.x: CREATE DATABASE applied")
    buckets = lambda: [x["name"] for x in json.loads(h.get(
        b.base + "/api/v2/buckets?org=" + ORG, headers={"Authorization": "Token " + TOKEN2})[2])["buckets"]]
    h.check(h.wait_until(lambda: "other/autogen" in buckets(), 10),
            "2.x: CREATE DATABASE became the org lookup and POST /api/v2/buckets", buckets())
    st, _, out = statement(r, 'CREATE RETENTION POLICY "week" ON "db" DURATION 7d REPLICATION 1')
    h.check_eq(st, 200, "CREATE RETENTION POLICY through the relay", out)
    for x in "bc":
        h.check(h.wait_until(lambda: r.metric("influx_wal_backend_unsupported_statements_total",
                                              backend=x) == 1, 10),
                "%s: CREATE RETENTION POLICY is a counted unsupported dead letter" % x)
    st, _, out = statement(r, 'DROP DATABASE "other"')
    h.check_eq(st, 200, "DROP DATABASE through the relay", out)
    h.check(h.wait_until(lambda: "other" not in dbs()["databases"], 10),
            "3.x: DROP DATABASE became DELETE /api/v3/configure/database", dbs())
    h.check(h.wait_until(lambda: "other/autogen" not in buckets(), 10),
            "2.x: DROP DATABASE became the bucket lookup and DELETE /api/v2/buckets/ID", buckets())
    h.check_eq([r.metric("influx_wal_backend_unsupported_statements_total", backend=x) for x in "bc"],
               [1, 1], "CREATE and DROP DATABASE had an equivalent on both")
    h.check_eq(r.write(DB, "after n=1i %d" % (t1 + 10))[0], 204, "a write after the statements")
    for x, where in ((b, "db/autogen"), (c, DB)):
        h.check(h.wait_until(lambda: len(stored(x, where, "after")) == 1, 10),
                "%s gets the write after its unsupported statement: no wedge" % x.name)
    rc, out, _ = r.run_cli("dead", "list", "--backend", "b")
    h.check(rc == 0 and "unsupported" in out, "b's dead letter says unsupported", out)

    # DELETE: 2.x's delete API for what it can say, unsupported for the rest and for 3.x.
    t2 = t1 + 100
    body = "\n".join(["del,host=x v=1i %d" % t2, "del,host=x v=2i %d" % (t2 + 10),
                      "del,host=y v=3i %d" % (t2 + 1), "gone v=1i %d" % t2,
                      "ne,host=x v=1i %d" % t2])
    h.check_eq(r.write(DB, body)[0], 204, "points to delete")
    h.check(h.wait_until(lambda: caught("a", "b", "c"), 20), "caught up before the deletes")
    h.check_eq(len(stored(b, "db/autogen", "del")), 3, "2.x holds del's three points")
    st, _, out = statement(r, "DELETE FROM \"del\" WHERE \"host\" = 'x' AND time >= %d AND "
                              "time < %d" % (t2, t2 + 5), db=DB)
    h.check_eq(st, 200, "DELETE with a tag and a time range through the relay", out)
    h.check(h.wait_until(lambda: caught("a"), 10), "a caught up before the next DELETE")
    st, _, out = statement(r, 'DELETE FROM "gone"', db=DB)
    h.check_eq(st, 200, "DELETE without WHERE through the relay", out)
    left = lambda: sorted(p["fields"]["v"] for p in stored(b, "db/autogen", "del"))
    h.check(h.wait_until(lambda: left() == [2, 3], 10),
            "2.x: only host=x in [t2, t2+5) deleted, as influxd deletes", left())
    h.check(h.wait_until(lambda: stored(b, "db/autogen", "gone") == [], 10),
            "2.x: DELETE FROM gone without WHERE deleted all of it")
    left_a = lambda: sorted(x["v"] for x in a.values(DB, 'SELECT v FROM "del"'))
    h.check(h.wait_until(lambda: left_a() == [2, 3], 10),
            "1.x (real influxd) deleted the same point", left_a())
    h.check_eq(len(stored(b, "db/autogen", "cpu")), n, "2.x: the other measurements untouched")
    h.check(h.wait_until(lambda: r.metric("influx_wal_backend_unsupported_statements_total",
                                          backend="c") == 3, 10),
            "3.x: both DELETEs are counted unsupported (it has no delete of points)")
    h.check_eq(len(stored(c, DB, "del")), 3, "3.x still holds del's points")
    h.check_eq(r.metric("influx_wal_backend_unsupported_statements_total", backend="b"), 1,
               "2.x: both DELETEs had an equivalent")
    h.check(h.wait_until(lambda: caught("a"), 10), "a caught up before DELETE with !=")
    st, _, out = statement(r, "DELETE FROM \"ne\" WHERE \"host\" != 'y'", db=DB)
    h.check_eq(st, 200, "DELETE with != through the relay", out)
    # The credentials probe of a DELETE or DROP SERIES goes to the first caught-up backend, a
    # v1 one only while a is caught up (the stand-in has no 1.x /write): wait for it.
    h.check(h.wait_until(lambda: caught("a"), 10), "a caught up before DROP SERIES")
    st, _, out = statement(r, 'DROP SERIES FROM "ne"', db=DB)
    h.check_eq(st, 200, "DROP SERIES through the relay", out)
    h.check(h.wait_until(lambda: r.metric("influx_wal_backend_unsupported_statements_total",
                                          backend="b") == 3, 10),
            "2.x: DELETE with != and DROP SERIES are counted unsupported")
    h.check_eq(len(stored(b, "db/autogen", "ne")), 1, "2.x keeps what it could not delete")
    h.check_eq(r.write(DB, "after2 n=1i %d" % (t2 + 20))[0], 204, "a write after the deletes")
    h.check(h.wait_until(lambda: len(stored(b, "db/autogen", "after2")) == 1, 10),
            "2.x gets the write after the unsupported ones: no wedge")
    _, doc = r.health()
    h.check_eq(backend_of(doc, "b")["unsupported_statements"], 3, "/health: b's unsupported count")

    # A bad token: held (401), nothing dead-lettered, the log keeps its records.
    _, doc = r.health()
    bad = backend_of(doc, "badtoken")
    h.check(not bad["caught_up"] and bad["dead_letters"] == 0 and "401" in bad["last_error"],
            "badtoken: held on 401, no dead letters", bad)
    h.check(r.metric("influx_wal_backend_requests_total", backend="badtoken", code="401", default=0) > 0,
            "badtoken's writes answered 401")
    # An org the backend does not have: 2.x answers 400 (the reference's orgNotFound), which
    # is the configuration, not the lines: held, nothing dead-lettered.
    bad = backend_of(doc, "badorg")
    h.check(not bad["caught_up"] and bad["dead_letters"] == 0 and "400" in bad["last_error"],
            "badorg: held on 400 organization not found, no dead letters", bad)

    # Kinds everywhere.
    for name, kind in (("a", "v1"), ("b", "v2"), ("c", "v3"), ("badtoken", "v2"), ("badorg", "v2")):
        h.check_eq(r.metric("influx_wal_backend_info", backend=name, kind=kind), 1,
                   "/metrics: %s is %s" % (name, kind))
        h.check_eq(backend_of(doc, name)["kind"], kind, "/health: %s is %s" % (name, kind))
    st, _, body = h.request("GET", r.url + "/status.json")
    h.check_eq({x["name"]: x["kind"] for x in json.loads(body)["backends"]},
               {"a": "v1", "b": "v2", "c": "v3", "badtoken": "v2", "badorg": "v2"}, "/status.json kinds")
    st, _, body = h.request("GET", r.url + "/status")
    h.check(st == 200 and all('<td class="t">%s</td>' % k in body.decode() for k in ("v1", "v2", "v3")),
            "the status page's backend rows show v1, v2 and v3")
    st = r.cli_json("status", "--json", "--config", r.config_path)
    h.check_eq({x["name"]: x["kind"] for x in st["backends"]},
               {"a": "v1", "b": "v2", "c": "v3", "badtoken": "v2", "badorg": "v2"}, "influx-wal status --json kinds")
    rc, out, err = r.run_cli("status", "--config", r.config_path)
    h.check(rc == 0 and any(l.split()[:2] == ["c", "v3"] for l in out.splitlines()),
            "influx-wal status shows c as v3", out, err)
    rc, out, err = r.run_cli("scrub", "--backend", "a", "--backend", "c", "--config", r.config_path)
    h.check(rc == 1 and "v1 (InfluxDB 1.x) backends only" in err, "scrub refuses a v3 backend", err)

    # Every answer the relay provoked from the stand-ins names its documentation example.
    for p, module in ((b, s2), (c, s3)):
        seen = check_named(p, module)
        sys.stderr.write("%s answers by documentation example: %s\n" % (p.name, json.dumps(seen)))
    h.check(any(a["status"] == 401 for a in answers(b)), "b answered badtoken with 401")
    h.check(any(a["status"] == 400 and a["example"] == s3.EXAMPLE["partial"] for a in answers(c)),
            "c's partial write named the write guide's 'Accept partial writes'")


def test_probe_goes_to_a_v1_backend():
    """A DELETE's privilege probe speaks 1.x (/write, /query with the client's credentials):
    with a 2.x backend listed first and caught up, it must still go to the 1.x one."""
    a = h.Influxd("a").start()
    a.create_db(DB)
    b = standin(2, TOKEN2, ORG)
    v2_bucket(b, "db/autogen")
    r = h.Relay(config={"backend": [
        dict(name="b", url=b.base, api="v2", token=TOKEN2, org=ORG),
        dict(name="a", url=a.url)]}).start()
    t0 = (int(time.time()) - 600) * 1000000000
    h.check_eq(r.write(DB, "probe v=1i %d\nprobe v=2i %d" % (t0, t0 + 1))[0], 204, "two points")
    h.check(h.wait_until(lambda: all(x["caught_up"] for x in r.health()[1]["backends"]), 20),
            "both caught up", r.health())
    st, _, out = statement(r, "DELETE FROM probe WHERE time = %d" % t0, db=DB)
    h.check_eq(st, 200, "DELETE through the relay: the probe asked the 1.x backend", out)
    h.check(h.wait_until(lambda: a.count(DB, "probe", field="v") == 1, 10),
            "1.x deleted the one point", a.count(DB, "probe", field="v"))


def relay_query(r, params, auth=None, post_form=False):
    """/query through relay r: (status, headers, parsed JSON or the raw body)."""
    hdrs = {}
    if auth is not None:
        hdrs["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode()
    if post_form:
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        st, hd, out = h.request("POST", r.url + "/query", urllib.parse.urlencode(params), hdrs)
    else:
        st, hd, out = h.request("GET", r.url + "/query?" + urllib.parse.urlencode(params), None,
                                hdrs)
    try:
        return st, hd, json.loads(out)
    except ValueError:
        return st, hd, out


def series_values(doc):
    return [row for res in doc["results"] for s in res.get("series", []) for row in s["values"]]


def test_query_through_the_relay():
    """Reads through the relay to a v2 backend (2.x's v1-compatible /query, the backend's token
    in place of the client's credentials, which the relay checks itself) and to a v3 backend
    (3.x's v1-compatible /query, Bearer): what was written through the relay is read back."""
    b = standin(2, TOKEN2, ORG)
    c = standin(3, TOKEN3)
    v2_bucket(b, "db/autogen")
    v2_bucket(b, "db/week")
    users = [{"name": "reader", "password": "pw-r"}]
    r2 = h.Relay(name="r2", config={"auth": {"enabled": True, "user": users}, "backend": [
        dict(name="b", url=b.base, api="v2", token=TOKEN2, org=ORG)]}).start()
    r3 = h.Relay(name="r3", config={"backend": [
        dict(name="c", url=c.base, api="v3", token=TOKEN3)]}).start()
    t0 = (int(time.time()) - 600) * 1000000000
    rows = [[t0, 21.5, "k"], [t0 + 1, 23.25, "l"], [t0 + 2, 22, "k"]]
    body = "\n".join("temp,room=%s v=%r %d" % (room, float(v), t) for t, v, room in rows)
    st, _, out = h.write(r2.url, DB, body, auth=("reader", "pw-r"))
    h.check_eq(st, 204, "three points through r2 (auth on)", out)
    st, _, out = h.write(r2.url, DB, "temp,room=k v=99 %d" % t0, rp="week", auth=("reader", "pw-r"))
    h.check_eq(st, 204, "one point into rp week through r2", out)
    h.check_eq(r3.write(DB, body)[0], 204, "three points through r3")
    for r in (r2, r3):
        h.check(h.wait_until(lambda: all(x["caught_up"] for x in r.health()[1]["backends"]), 20),
                "%s caught up" % r.name, r.health())

    want = [[t, v] for t, v, _room in rows]
    q = {"db": DB, "q": "SELECT v FROM temp", "epoch": "ns"}
    before = len(answers(b))
    st, hd, doc = relay_query(r2, dict(q, u="reader", p="pw-r"))
    h.check_eq((st, hd.get("x-influx-wal-backend")), (200, "b"), "r2 /query answered by b", doc)
    h.check_eq(series_values(doc), want, "v2: the values written through the relay read back")
    h.check_eq(doc["results"][0].get("statement_id"), 0, "v2: 2.x's result has its statement_id")
    asked = [a for a in answers(b)[before:] if a["path"] == "/query"]
    h.check(len(asked) == 1 and asked[0]["status"] == 200 and
            "u" not in asked[0]["params"] and "p" not in asked[0]["params"],
            "b got one /query with its token and without the client's u and p", asked)
    st, hd, doc = relay_query(r2, q, auth=("reader", "pw-r"), post_form=True)
    h.check_eq(st, 200, "r2 POST /query with Basic auth", doc)
    h.check_eq(series_values(doc), want, "v2: the same values from a form POST")
    st, hd, doc = relay_query(r2, dict(q, rp="week"), auth=("reader", "pw-r"))
    h.check_eq(series_values(doc), [[t0, 99]], "v2: rp=week reads bucket db/week (virtual DBRP)",
               doc)
    before = len(answers(b))
    st, _, doc = relay_query(r2, q, auth=("reader", "wrong"))
    h.check_eq(st, 401, "r2: a wrong password is the relay's 401", doc)
    st, _, doc = relay_query(r2, q)
    h.check_eq(st, 401, "r2: no credentials, the relay's 401", doc)
    h.check_eq(len(answers(b)), before, "b was not asked for either")

    before = len(answers(c))
    st, hd, doc = relay_query(r3, q)
    h.check_eq((st, hd.get("x-influx-wal-backend")), (200, "c"), "r3 /query answered by c", doc)
    h.check_eq(series_values(doc), want, "v3: the values written through the relay read back")
    asked = [a for a in answers(c)[before:] if a["path"] == "/query"]
    h.check(len(asked) == 1 and asked[0]["status"] == 200,
            "c got one /query, with the backend's Bearer token (the stand-in answers 401 "
            "without)", asked)
    st, _, doc = relay_query(r3, dict(q, db="nothing"))
    h.check_eq(st, 404, "v3: a database that is not there: 3.x's 404, as it came", doc)
    for p, module in ((b, s2), (c, s3)):
        check_named(p, module)


def doc_answer(st, hdrs, body, p, module, name):
    """The answer of stand-in 'p' was documentation example 'name' with its literal body."""
    h.check_eq(hdrs.get(module.HEADER.lower()), module.EXAMPLE[name], "%s names %s" % (p.name, name))
    if name in module.DOC_BODIES:
        want = module.DOC_BODIES[name]
        got = body.decode() if isinstance(want, str) else json.loads(body)
        h.check_eq(got, want, "%s: the body of %s is the documented one" % (p.name, name))


def test_standin_doc_examples():
    """The stand-ins' answers against the documentation's literal examples (the reference and
    guides pinned in each stand-in's API_REFERENCE): each request below is the one the example
    describes, and the answer must be that example's status, name and body."""
    b = standin(2, TOKEN2, "docs-org")
    c = standin(3, TOKEN3)
    auth2 = {"Authorization": "Token " + TOKEN2}
    org_id = json.loads(h.get(b.base + "/api/v2/orgs?org=docs-org", headers=auth2)[2])["orgs"][0]["id"]
    st, _, out = h.request("POST", b.base + "/api/v2/buckets",
                           json.dumps({"orgID": org_id, "name": "db/autogen"}),
                           dict(auth2, **{"Content-Type": "application/json"}))
    h.check_eq(st, 201, "bucket made", out)

    cases2 = [
        ("POST", "/api/v2/write?org=docs-org&bucket=db/autogen", "m v=1", {"Authorization": "Token wrong"},
         401, "unauthorized"),
        ("GET", "/api/v2/buckets", None, {}, 401, "unauthorized"),
        ("POST", "/api/v2/write?org=not-docs-org&bucket=db/autogen", "m v=1", auth2, 400,
         "org_not_found_400"),
        ("POST", "/api/v2/write?org=docs-org&bucket=air_sensor", "m v=1", auth2, 404,
         "bucket_not_found"),
        ("GET", "/api/v2/orgs?org=my-org", None, auth2, 404, "org_name_not_found"),
        ("POST", "/api/v2/buckets", json.dumps({"orgID": "0000000000000999", "name": "x"}), auth2,
         404, "org_id_not_found"),
        ("DELETE", "/api/v2/buckets/00000000000000ff", None, auth2, 404, "bucket_delete_not_found"),
        ("POST", "/api/v2/write?org=docs-org&bucket=db/autogen",
         "m v=1 1\n" * ((s2.MAX_BODY_BYTES // 8) + 1), auth2, 413, "too_large"),
        ("POST", "/api/v2/delete?org=not-docs-org&bucket=db/autogen",
         json.dumps({"start": "2020-03-01T00:00:00Z", "stop": "2020-11-14T00:00:00Z"}), auth2, 400,
         "delete_org_not_found"),
        ("POST", "/api/v2/write?org=docs-org&bucket=db/autogen", "m v=1 1", auth2, 204, "write_ok"),
        ("GET", "/ping", None, {}, 204, "ping"),
        ("GET", "/health", None, {}, 200, "health"),
    ]
    for method, path, body, hdrs, want, name in cases2:
        st, hd, out = h.request(method, b.base + path, body, hdrs)
        h.check_eq(st, want, "2.x stand-in: %s %s answers %d" % (method, path[:60], want), out[:200])
        doc_answer(st, hd, out, b, s2, name)

    # 3.x's write guide, "Partial writes": its two lines, with and without accept_partial.
    auth3 = {"Authorization": "Bearer " + TOKEN3}
    lines = 'home,room=Sunroom temp=96 1735545600\nhome,room=Sunroom temp="hi" 1735549200'
    for params, name in (("&accept_partial=false", "rejected"), ("", "partial")):
        st, hd, out = h.request("POST", c.base + "/api/v3/write_lp?db=sensors" + params, lines, auth3)
        h.check_eq(st, 400, "3.x stand-in: the guide's lines answer 400 (%s)" % name, out)
        h.check_eq(hd.get(s3.HEADER.lower()), s3.EXAMPLE[name], "3.x stand-in names %s" % name)
        got, want = json.loads(out), json.loads(json.dumps(s3.DOC_BODIES[name]))
        # The page prints the refused line with its string value's quotes dropped; the stand-in
        # echoes the line as it came: that member is compared with what was sent.
        data = got["data"][0] if isinstance(got["data"], list) else got["data"]
        h.check_eq(data["original_line"], 'home,room=Sunroom temp="hi" 1735549200',
                   "original_line is the line as sent")
        data["original_line"] = "home,room=Sunroom temp=hi 1735549200"
        h.check_eq(got, want, "3.x stand-in: the body of %s is the guide's" % name)
    temps = [p["fields"]["temp"] for p in stored(c, "sensors", "home")]
    h.check_eq(temps, [96.0], "accept_partial=false stored nothing, the partial write line 1")
    h.check_eq(stored(c, "sensors", "home")[0]["time"], 1735545600 * 10**9,
               "no precision: auto read 1735545600 as seconds")
    cases3 = [
        ("GET", "/health", None, auth3, 200, "health"),
        ("GET", "/health", None, {}, 401, "unauthorized"),
        ("POST", "/api/v3/write_lp?db=sensors", "m v=1", {"Authorization": "Token " + TOKEN3},
         401, "unauthorized"),
        ("GET", "/ping", None, auth3, 200, "ping"),
        ("POST", "/api/v3/write_lp?db=sensors&precision=fortnight", "m v=1", auth3, 400,
         "bad_request"),
        ("POST", "/api/v3/write_lp?db=bad_name", "m v=1", auth3, 400, "bad_request"),
        ("POST", "/api/v3/write_lp?db=sensors&precision=ms", "cpu,host=server01 usage=85.2 "
         "1638360000000", auth3, 204, "write_ok"),
        ("POST", "/api/v3/write_lp?db=sensors&precision=millisecond",
         "cpu,host=server1 usage=50.0 1708976567000", auth3, 204, "write_ok"),
        ("POST", "/api/v3/configure/database", json.dumps({"db": "sensors"}), auth3, 409,
         "db_exists"),
        ("DELETE", "/api/v3/configure/database?db=nothing", None, auth3, 404, "db_not_found"),
        ("GET", "/query?db=nothing&q=SELECT+v+FROM+m", None, auth3, 404, "query_db_not_found"),
    ]
    for method, path, body, hdrs, want, name in cases3:
        st, hd, out = h.request(method, c.base + path, body, hdrs)
        h.check_eq(st, want, "3.x stand-in: %s %s answers %d" % (method, path[:60], want), out[:200])
        doc_answer(st, hd, out, c, s3, name)
    usage = sorted(p["time"] for p in stored(c, "sensors", "cpu"))
    h.check_eq(usage, [1638360000000 * 10**6, 1708976567000 * 10**6],
               "the code samples' precision=ms and the guide's precision=millisecond both read ms")

    # The query examples: the rows they show, written and read back.
    t = 1706875200  # 2024-02-02T12:00:00Z
    st, _, out = h.request("POST", c.base + "/api/v3/write_lp?db=mydb&precision=second",
                           "mytable value=42i %d" % t, auth3)
    h.check_eq(st, 204, "3.x: mytable written", out)
    st, hd, out = h.request("GET", c.base + "/query?db=mydb&q=" +
                            urllib.parse.quote("SELECT value FROM mytable"),
                            None, {"Authorization": "Token " + TOKEN3})
    h.check_eq(st, 200, "3.x /query with Token (a v1 endpoint)", out)
    doc_answer(st, hd, out, c, s3, "query")
    rows = [["2016-05-19T18:37:5%dZ" % i, 90, "1"] for i in range(5, 9)]
    lp = "\n".join("mymeas,mytag=1 myfield=90 %d" % (1463683075 + i) for i in range(4))
    st, _, out = h.request("POST", b.base + "/api/v2/write?org=docs-org&bucket=db/autogen&precision=s",
                           lp, auth2)
    h.check_eq(st, 204, "2.x: mymeas written", out)
    st, hd, out = h.request("GET", b.base + "/query?db=db&q=" +
                            urllib.parse.quote("SELECT * FROM mymeas"), None, auth2)
    h.check_eq(st, 200, "2.x /query", out)
    doc_answer(st, hd, out, b, s2, "query")
    # influxql-chunk_size_2 is the same series in two chunks of two rows; unchunked, one.
    h.check_eq(json.loads(out), {"results": [{"statement_id": 0, "series": [{
        "name": "mymeas", "columns": ["time", "myfield", "mytag"], "values": rows}]}]},
        "2.x /query: influxql-chunk_size_2's rows, unchunked", out)
    for p, module in ((b, s2), (c, s3)):
        check_named(p, module)


def test_query_across_shards_native():
    """A read that needs two shards, one a v2 backend and one a v3 backend: each is asked with
    its own token and without the client's credentials (the relay checks those), and the
    answers are merged."""
    b = standin(2, TOKEN2, ORG)
    c = standin(3, TOKEN3)
    v2_bucket(b, "db/autogen")
    users = [{"name": "reader", "password": "pw-r"}]
    r = h.Relay(name="rs", config={"auth": {"enabled": True, "user": users}, "backend": [
        dict(name="b", url=b.base, api="v2", token=TOKEN2, org=ORG),
        dict(name="c", url=c.base, api="v3", token=TOKEN3)],
        "shard": [{"name": "s1", "backends": ["b"]}, {"name": "s2", "backends": ["c"]}]}).start()
    t0 = (int(time.time()) - 600) * 1000000000
    names = ["m%d" % i for i in range(8)]
    body = "\n".join("%s v=%d %d" % (m, i, t0 + i) for i, m in enumerate(names))
    st, _, out = h.write(r.url, DB, body, auth=("reader", "pw-r"))
    h.check_eq(st, 204, "eight measurements through the sharded relay", out)
    h.check(h.wait_until(lambda: all(x["caught_up"] for x in r.health()[1]["backends"]), 20),
            "both shards caught up", r.health())
    on_b = sorted({p["measurement"] for p in json.loads(h.get(b.base + "/standin/points")[2])["points"]})
    on_c = sorted({p["measurement"] for p in json.loads(h.get(c.base + "/standin/points")[2])["points"]})
    h.check(on_b and on_c and sorted(on_b + on_c) == names, "each measurement in one shard", on_b, on_c)
    if not (on_b and on_c):
        return
    mb, mc = on_b[0], on_c[0]
    q = {"db": DB, "q": "SELECT v FROM %s; SELECT v FROM %s" % (mb, mc), "epoch": "ns"}
    nb, nc = len(answers(b)), len(answers(c))
    st, _, doc = relay_query(r, q, auth=("reader", "pw-r"))
    h.check_eq(st, 200, "a read over both shards is answered", doc)
    got = [[row for s_ in res.get("series", []) for row in s_["values"]] for res in doc.get("results", [])]
    h.check_eq(got, [[[t0 + names.index(mb), names.index(mb)]], [[t0 + names.index(mc), names.index(mc)]]],
               "each statement's answer from its shard, merged", doc)
    asked_b = [a for a in answers(b)[nb:] if a["path"] == "/query"]
    asked_c = [a for a in answers(c)[nc:] if a["path"] == "/query"]
    h.check(len(asked_b) == 1 and asked_b[0]["status"] == 200 and len(asked_c) == 1 and
            asked_c[0]["status"] == 200, "each backend asked once, with its own token (the "
            "stand-ins answer 401 to the client's Basic credentials)", asked_b, asked_c)
    nb, nc = len(answers(b)), len(answers(c))
    st, _, doc = relay_query(r, q, auth=("reader", "wrong"))
    h.check_eq(st, 401, "a wrong password: the relay's 401", doc)
    h.check_eq((len(answers(b)), len(answers(c))), (nb, nc), "and neither backend was asked")


if __name__ == "__main__":
    h.run([test_generations, test_probe_goes_to_a_v1_backend, test_standin_doc_examples,
           test_query_through_the_relay, test_query_across_shards_native])
