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
  - a bad token: the data is kept (hold, 401), nothing dead-lettered;
  - /metrics, /health, /status.json, the status page and `influx-wal status` show each backend
    with its kind.
"""

import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

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
    h.check(h.wait_until(lambda: {"iox::database": "other"} in dbs(), 10),
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
    h.check(h.wait_until(lambda: {"iox::database": "other"} not in dbs(), 10),
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

    # Kinds everywhere.
    for name, kind in (("a", "v1"), ("b", "v2"), ("c", "v3"), ("badtoken", "v2")):
        h.check_eq(r.metric("influx_wal_backend_info", backend=name, kind=kind), 1,
                   "/metrics: %s is %s" % (name, kind))
        h.check_eq(backend_of(doc, name)["kind"], kind, "/health: %s is %s" % (name, kind))
    st, _, body = h.request("GET", r.url + "/status.json")
    h.check_eq({x["name"]: x["kind"] for x in json.loads(body)["backends"]},
               {"a": "v1", "b": "v2", "c": "v3", "badtoken": "v2"}, "/status.json kinds")
    st, _, body = h.request("GET", r.url + "/status")
    h.check(st == 200 and all('<td class="t">%s</td>' % k in body.decode() for k in ("v1", "v2", "v3")),
            "the status page's backend rows show v1, v2 and v3")
    st = r.cli_json("status", "--json", "--config", r.config_path)
    h.check_eq({x["name"]: x["kind"] for x in st["backends"]},
               {"a": "v1", "b": "v2", "c": "v3", "badtoken": "v2"}, "influx-wal status --json kinds")
    rc, out, err = r.run_cli("status", "--config", r.config_path)
    h.check(rc == 0 and any(l.split()[:2] == ["c", "v3"] for l in out.splitlines()),
            "influx-wal status shows c as v3", out, err)
    rc, out, err = r.run_cli("scrub", "--backend", "a", "--backend", "c", "--config", r.config_path)
    h.check(rc == 1 and "v1 (InfluxDB 1.x) backends only" in err, "scrub refuses a v3 backend", err)


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


if __name__ == "__main__":
    h.run([test_generations, test_probe_goes_to_a_v1_backend])
