"""Statements that change schema or data through the relay's /query: committed to the log as
records of their own, in order with the writes, and applied by every backend's sender at that
place in its stream (one relay). Real influxd 1.6.7 backends; every check compares what the
backends themselves hold, counted directly on each influxd."""
import base64
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness as h  # noqa: E402

DB = "st"
SECRET = "s3kr1t-Pw-4242"
SECRET2 = "n3w-Pw-7777"


def basic(user, pw):
    return "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()


def stmt(base, q, db=None, rp=None, auth=None, get=False, extra=None, timeout=30.0):
    """A /query through 'base' (POST form, or GET): (status, headers, parsed JSON or raw)."""
    params = [("q", q)]
    if db is not None:
        params.append(("db", db))
    if rp is not None:
        params.append(("rp", rp))
    params += list(extra or [])
    hd = {}
    if auth is not None:
        hd["Authorization"] = auth
    if get:
        st, rh, body = h.request("GET", base + "/query?" + urllib.parse.urlencode(params),
                                 headers=hd, timeout=timeout)
    else:
        hd["Content-Type"] = "application/x-www-form-urlencoded"
        st, rh, body = h.request("POST", base + "/query", body=urllib.parse.urlencode(params),
                                 headers=hd, timeout=timeout)
    try:
        doc = json.loads(body.decode() or "{}")
    except ValueError:
        doc = body
    return st, rh, doc


def ok_stmt(r, q, **kw):
    # A 503 "no backend is up" commits nothing and asks the client to retry: a slow machine (ASan)
    # can see both backends briefly down just after a start or under load. Retried, bounded.
    deadline = time.time() + 20
    while True:
        st, hd, doc = stmt(r.url, q, **kw)
        if st != 503 or "no backend is up" not in str(doc) or time.time() > deadline:
            break
        time.sleep(0.5)
    h.check_eq(st, 200, "%s: 200" % q[:60], doc)
    h.check(isinstance(doc, dict) and all("error" not in x for x in doc.get("results", [])),
            "%s: no error in the answer" % q[:60], doc)
    return hd, doc


def rps(b, db):
    rows = b.values(None, "SHOW RETENTION POLICIES ON %s" % db, epoch=None)
    return sorted((x["name"], x["duration"], x["shardGroupDuration"], x["replicaN"], x["default"])
                  for x in rows)


def measurement_counts(b, db, rp=None):
    """{measurement: (count, sum)} of field n, counted on this influxd itself."""
    out = {}
    frm = ('"%s"./.*/' % rp) if rp else "/.*/"
    for row in b.values(db, 'SELECT count("n"), sum("n") FROM %s' % frm):
        out[row["_measurement"]] = (int(row["count"]), row["sum"])
    return out


def caught_up(r, n=2):
    st, doc = r.health()
    bs = doc.get("backends", []) if isinstance(doc, dict) else []
    return len(bs) == n and all(b.get("caught_up") for b in bs)


def lines(meas, start_ts, count, value, step=1000, tag="s"):
    return "".join("%s,k=%s n=%di %d\n" % (meas, tag, value, start_ts + i * step)
                   for i in range(count)).encode()


def relay_config(backends, auth=None, **backend_opts):
    """Backends are Influxd or (name, url); the log keeps acknowledged records for an hour, so
    that influx-wal cat shows what was committed."""
    cfg = {"wal": {"retain": "1h"},
           "backend": [dict({"name": b.name, "url": b.url} if isinstance(b, h.Influxd) else
                            {"name": b[0], "url": b[1]}, **backend_opts) for b in backends]}
    if auth is not None:
        cfg["auth"] = auth
    return cfg


def cat(r, *args):
    rc, out, err = r.run_cli("cat", "--headers", *args)
    h.check_eq(rc, 0, "influx-wal cat exits 0", err)
    return out


# ---- schema while a backend is down ------------------------------------------------------------

def test_schema_then_points_after_outage():
    """CREATE DATABASE and CREATE RETENTION POLICY go through the relay while B is down, then
    points into them; the relay is SIGKILLed before B returns. B gets the schema, then the
    points (without the schema the points could not land: no create-database here, and the
    RP's points would be refused)."""
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    r = h.Relay(config=relay_config([a, b], **{"batch-max-points": 100})).start()
    b.stop()
    hd, doc = ok_stmt(r, "CREATE DATABASE sdb")
    h.check_eq(hd.get("x-influx-wal-backend"), "a", "the answer is a's (b is down)")
    h.check_eq(doc, {"results": [{"statement_id": 0}]}, "influxd's own answer")
    ok_stmt(r, "CREATE RETENTION POLICY short ON sdb DURATION 30d REPLICATION 1 "
               "SHARD DURATION 2d")
    ts = time.time_ns() - 3600 * 1_000_000_000  # inside the new RP's 30 days
    for i in range(5):
        st, _, body = r.write("sdb", lines("m", ts + i * 1_000_000_000, 200, 1))
        h.check_eq(st, 204, "write %d into sdb" % i, body)
        st, _, body = r.write("sdb", lines("m", ts + i * 1_000_000_000, 100, 2), rp="short")
        h.check_eq(st, 204, "write %d into sdb.short" % i, body)
    h.check(h.wait_until(lambda: a.count("sdb", "m") == 1000 and
                         a.count("sdb", "m", rp="short") == 500, timeout=30), "a has the points")
    r.kill()
    r.start()
    b.restart()
    h.check(h.wait_until(lambda: caught_up(r), timeout=60), "both caught up", r.health())
    h.check("sdb" in b.databases(), "b has the database")
    h.check_eq(rps(b, "sdb"), rps(a, "sdb"), "b's retention policies are a's")
    h.check(("short", "720h0m0s", "48h0m0s", 1, False) in rps(b, "sdb"),
            "the RP with its duration and shard duration", rps(b, "sdb"))
    h.check_eq(b.count("sdb", "m"), 1000, "b: the default RP's points")
    h.check_eq(b.count("sdb", "m", rp="short"), 500, "b: the new RP's points")
    h.check_eq(measurement_counts(b, "sdb", "short"), measurement_counts(a, "sdb", "short"),
               "per measurement, the same on both")
    rc, out, err = r.run_cli("dead", "list")
    h.check("0 dead letters" in err, "nothing refused", out, err)


# ---- deletes while writes continue -----------------------------------------------------------

def test_drop_and_delete_during_writes():
    """DROP MEASUREMENT and DELETE ... WHERE time < X through the relay while writes to the same
    measurements continue, B paused part of the time: both backends end identical, counted per
    measurement on each influxd."""
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    r = h.Relay(config=relay_config([a, b], **{"batch-max-points": 50,
                                               "min-in-flight": 4,
                                               "max-in-flight": 4})).start()
    ok_stmt(r, "CREATE DATABASE %s" % DB)
    base = 1_600_000_000_000_000_000
    stop = threading.Event()
    sent = {"n": 0, "errors": 0}

    def writer():
        i = 0
        while not stop.is_set():
            body = (lines("m", base + i * 1_000_000, 40, i % 97, step=1000) +
                    lines("gone", base + i * 1_000_000, 20, i % 89, step=1000))
            try:
                st, _, _ = h.write(r.url, DB, body, timeout=10)
                sent["errors"] += st != 204
            except Exception:
                sent["errors"] += 1
            sent["n"] = i + 1
            i += 1
            time.sleep(0.01)

    t = threading.Thread(target=writer)
    t.start()
    try:
        h.check(h.wait_until(lambda: sent["n"] >= 30, timeout=30), "writes flowing")
        b.pause()
        cut = base + (sent["n"] // 2) * 1_000_000
        ok_stmt(r, "DELETE FROM m WHERE time < %d" % cut, db=DB)
        h.wait_until(lambda: sent["n"] >= 60, timeout=30)
        ok_stmt(r, "DROP MEASUREMENT gone", db=DB)
        h.wait_until(lambda: sent["n"] >= 90, timeout=30)
        b.resume()
        ok_stmt(r, "DELETE FROM m WHERE time < %d" % (cut + 10_000_000), db=DB)
        h.wait_until(lambda: sent["n"] >= 120, timeout=30)
    finally:
        stop.set()
        t.join(30)
    h.check_eq(sent["errors"], 0, "every write acknowledged")
    h.check(h.wait_until(lambda: caught_up(r), timeout=60), "both caught up", r.health())
    ca, cb = measurement_counts(a, DB), measurement_counts(b, DB)
    h.check_eq(cb, ca, "per measurement: count and sum the same on both")
    total = sent["n"] * 40
    h.check(0 < ca.get("m", (0, 0))[0] < total, "the DELETEs removed part of m",
            ca.get("m"), total)
    h.check(0 < ca.get("gone", (0, 0))[0] < sent["n"] * 20,
            "points written after DROP MEASUREMENT are back, the ones before are gone",
            ca.get("gone"))
    h.check_eq(a.count(DB, "m", where="time < %d" % (cut + 10_000_000)), 0,
               "a: nothing of m before the cut")
    h.check_eq(b.count(DB, "m", where="time < %d" % (cut + 10_000_000)), 0,
               "b: nothing of m before the cut")


# ---- refusals --------------------------------------------------------------------------------

def test_refused_statements():
    """A statement influxd refuses gets influxd's own error: bad syntax is never committed (it
    is sent like a read), an unknown RP is committed, refused by each backend (a dead letter
    with its answer) and the stream moves on; nothing diverges."""
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    r = h.Relay(config=relay_config([a, b])).start()
    ok_stmt(r, "CREATE DATABASE %s" % DB)
    h.check(h.wait_until(lambda: caught_up(r), timeout=30), "caught up")
    before = cat(r).count("# statement")
    bad = "CREATE DATABSE nope"
    st, _, via = stmt(r.url, bad)
    dst, _, direct = stmt(a.url, bad)
    h.check_eq(st, 400, "bad syntax: influxd's 400")
    h.check_eq((st, via), (dst, direct), "bad syntax: influxd's own answer")
    h.check_eq(cat(r).count("# statement"), before, "bad syntax: nothing committed")
    for q in ("SHOW DATABASES; DROP DATABASE %s" % DB, "DROP SHARD 1", "KILL QUERY 1"):
        st, _, doc = stmt(r.url, q)
        h.check_eq(st, 400, "%s: 400" % q, doc)
    h.check("each server" in json.dumps(stmt(r.url, "DROP SHARD 1")[2]),
            "a per-server statement: run it on each server")
    alter = "ALTER RETENTION POLICY nope ON %s DURATION 1h" % DB
    dst, _, direct = stmt(a.url, alter)
    st, hd, via = stmt(r.url, alter)
    h.check_eq((st, via), (dst, direct), "unknown RP: influxd's own answer", via)
    h.check("retention policy not found" in json.dumps(via), "it says why", via)
    seq = int(hd.get("x-influx-wal-seq", "0"))
    h.check(seq > 0, "the answer names the record", hd)
    st, _, body = r.write(DB, lines("after", 1_600_000_000_000_000_000, 10, 5))
    h.check_eq(st, 204, "a write after it")
    h.check(h.wait_until(lambda: a.count(DB, "after") == 10 and b.count(DB, "after") == 10,
                         timeout=30), "the stream moved on: both have the write after it")
    rc, out, err = r.run_cli("dead", "list")
    h.check_eq(rc, 0, "dead list", err)
    dl = [x for x in out.splitlines() if "seq=%d " % seq in x]
    h.check_eq(sorted(re.search(r"backend=(\S+)", x).group(1) for x in dl), ["a", "b"],
               "a dead letter on each backend", out)
    h.check(all("kind=statement" in x and "retention policy not found" in x for x in dl),
            "with the backend's answer", dl)
    h.check_eq(rps(b, DB), rps(a, DB), "nothing diverged: the RPs")
    h.check_eq(sorted(b.databases()), sorted(a.databases()), "nothing diverged: the databases")


# ---- ordering, SIGKILL, a backend down throughout ---------------------------------------------

def faulty_http(target_url, *args):
    port = h.free_port()
    argv = [sys.executable or "python3", os.path.join(HERE, "faulty.py"), "http", "--listen",
            str(port), "--target", target_url] + [str(x) for x in args]
    return h.Process(argv, name="faulty-http-%d" % port, port=port).start()


def test_order_and_sigkill():
    """Value 1 written to a series, then DELETE, then value 2 at other timestamps (three
    rounds, one measurement each), B down throughout and the relay SIGKILLed before it
    returns: B must end with exactly the value-2 points, as A does. Applied too early, B would
    keep value-1 points; too late, it would lose value-2 points. B is reached through a proxy
    that holds each /write a random time up to 400 ms before passing it on, and the window is 4
    small batches: a DELETE sent while earlier writes are still in flight would reach influxd
    before some of them, and a write sent while the DELETE is in flight could reach it first."""
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    slow_b = faulty_http(b.url, "--paths", "/write", "--hold-before-ms", 400, "--hold-jitter")
    r = h.Relay(config=relay_config([a, ("b", slow_b.url)], **{"batch-max-points": 25,
                                                               "min-in-flight": 4,
                                                               "max-in-flight": 4})).start()
    ok_stmt(r, "CREATE DATABASE %s" % DB)
    h.check(h.wait_until(lambda: caught_up(r), timeout=30), "caught up")
    b.stop()
    t1 = 1_600_000_000_000_000_000
    t2 = t1 + 10_000_000_000
    rounds = ("o1", "o2", "o3")
    for m in rounds:
        for i in range(5):
            st, _, _ = r.write(DB, lines(m, t1 + i * 100_000, 60, 1))
            h.check_eq(st, 204, "%s: value-1 write %d" % (m, i))
        st, hd, doc = stmt(r.url, "DELETE FROM %s" % m, db=DB)
        h.check_eq((st, hd.get("x-influx-wal-backend")), (200, "a"), "%s: DELETE answered by a" % m)
        for i in range(5):
            st, _, _ = r.write(DB, lines(m, t2 + i * 100_000, 60, 2))
            h.check_eq(st, 204, "%s: value-2 write %d" % (m, i))
    h.check(h.wait_until(lambda: all(a.count(DB, m) == 300 for m in rounds), timeout=30),
            "a: 300 value-2 points each")
    r.kill()
    r.start()
    b.restart()
    h.check(h.wait_until(lambda: caught_up(r), timeout=90), "both caught up", r.health())
    for name, x in (("a", a), ("b", b)):
        for m in rounds:
            vals = x.field_values(DB, "n", m)
            h.check_eq((len(vals), sorted(set(vals))), (300, [2]),
                       "%s, %s: only the value-2 points" % (name, m))
    h.check_eq(measurement_counts(b, DB), measurement_counts(a, DB), "b is a")


def test_now_is_the_commit_time():
    """DELETE ... WHERE time < now() - 1h with B lagging: B applies it ~15 s later, and deletes
    the same range as A did, because now() was replaced by the commit time (a fresh now() on B
    would also delete the points stamped a few seconds after the cut). The log holds no now()."""
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    r = h.Relay(config=relay_config([a, b])).start()
    ok_stmt(r, "CREATE DATABASE %s" % DB)
    h.check(h.wait_until(lambda: caught_up(r), timeout=30), "caught up")
    now = time.time_ns()
    hour = 3600 * 1_000_000_000
    body = "".join("p,k=%d n=%di %d\n" % (i, i, ts) for i, ts in enumerate([
        now - 2 * hour,                       # deleted everywhere
        now - hour - 60_000_000_000,          # deleted everywhere
        now - hour + 8_000_000_000,           # kept: after the cut at commit time
        now - hour + 10_000_000_000,          # kept
        now - hour / 2,                       # kept
    ])).encode()
    st, _, _ = r.write(DB, body)
    h.check_eq(st, 204, "points written")
    h.check(h.wait_until(lambda: a.count(DB, "p") == 5 and b.count(DB, "p") == 5, timeout=30),
            "both have the 5 points")
    b.stop()
    ok_stmt(r, "DELETE FROM p WHERE time < now() - 1h", db=DB)
    h.check_eq(a.count(DB, "p"), 3, "a deleted the two before the cut")
    out = cat(r)
    line = [x for x in out.splitlines() if x.startswith("# statement") and "DELETE" in x]
    h.check(len(line) == 1 and "now()" not in line[0].lower() and
            re.search(r"time < \d{19} - 1h", line[0]), "the log holds the commit time", line)
    time.sleep(15)  # B applies it later: a fresh now() - 1h would pass the +8 s and +10 s points
    b.restart()
    h.check(h.wait_until(lambda: caught_up(r), timeout=60), "both caught up", r.health())
    h.check_eq(sorted(b.field_values(DB, "n", "p")), [2, 3, 4], "b deleted exactly what a did")


# ---- passwords -------------------------------------------------------------------------------

def test_passwords_never_shown():
    """CREATE USER and SET PASSWORD reach both backends, and their passwords appear in no
    output: influx-wal cat, export, dead list --lines (a refused one), the daemon's log,
    /metrics."""
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    r = h.Relay(config=relay_config([a, b])).start()
    ok_stmt(r, "CREATE USER bob WITH PASSWORD '%s'" % SECRET)
    ok_stmt(r, "SET PASSWORD FOR bob = '%s'" % SECRET2)
    # bob exists with another password now: both backends refuse this one (a dead letter)
    st, _, doc = stmt(r.url, "CREATE USER bob WITH PASSWORD '%s'" % SECRET)
    h.check_eq(st, 200, "refused CREATE USER: influxd's 200 with an error", doc)
    h.check("error" in json.dumps(doc), "it says why", doc)
    h.check(h.wait_until(lambda: caught_up(r), timeout=30), "caught up")
    for x in (a, b):
        users = [u["user"] for u in x.values(None, "SHOW USERS", epoch=None)]
        h.check_eq(users, ["bob"], "%s: bob exists" % x.name)
    outputs = {}
    outputs["cat"] = cat(r)
    h.check(outputs["cat"].count("# statement") == 3 and "[REDACTED]" in outputs["cat"],
            "cat shows the statements, redacted", outputs["cat"])
    exp = os.path.join(r.dir, "export.txt")
    rc, _, err = r.run_cli("export", "--backend", "a", "--output", exp, "--from", "1")
    h.check_eq(rc, 0, "export", err)
    with open(exp) as f:
        outputs["export"] = f.read()
    h.check("# statement" in outputs["export"], "export has the statements as comments")
    rc, out, err = r.run_cli("dead", "list", "--lines")
    outputs["dead"] = out + err
    h.check("kind=statement" in out and "[REDACTED]" in out, "the dead letter, redacted", out)
    outputs["metrics"] = r.metrics_text()
    outputs["log"] = r.log_text(current=True)
    for name, text in outputs.items():
        h.check(SECRET not in text and SECRET2 not in text, "no password in %s" % name)


# ---- privilege -------------------------------------------------------------------------------

def test_relay_auth_admin_only():
    """With [auth] enabled only a relay user marked admin may send logged statements: others
    get 403 and nothing is committed; reads need no admin."""
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    auth = {"enabled": True, "user": [{"name": "root", "password": "rootpw", "admin": True},
                                      {"name": "w", "password": "wpw"}]}
    r = h.Relay(config=relay_config([a, b], auth=auth)).start()
    st, _, doc = stmt(r.url, "CREATE DATABASE forbidden", auth=basic("w", "wpw"))
    h.check_eq(st, 403, "a non-admin relay user: 403", doc)
    st, _, doc = stmt(r.url, "CREATE DATABASE forbidden")
    h.check_eq(st, 401, "no credentials: 401", doc)
    st, _, doc = stmt(r.url, "CREATE DATABASE forbidden", auth=basic("root", "nope"))
    h.check_eq(st, 401, "a bad password: 401", doc)
    h.check_eq(cat(r).count("# statement"), 0, "nothing committed")
    st, _, doc = stmt(r.url, "CREATE DATABASE allowed", auth=basic("root", "rootpw"))
    h.check_eq(st, 200, "the admin: 200", doc)
    st, _, doc = stmt(r.url, "CREATE DATABASE allowed2", extra=[("u", "root"), ("p", "rootpw")],
                      get=True)
    h.check_eq(st, 200, "the admin with u/p on a GET: 200", doc)
    h.check(h.wait_until(lambda: caught_up(r), timeout=30), "caught up")
    for x in (a, b):
        dbs = x.databases()
        h.check("allowed" in dbs and "allowed2" in dbs and "forbidden" not in dbs,
                "%s: only the admin's databases" % x.name, dbs)


class AuthInfluxd(h.Influxd):
    """influxd with [http] auth-enabled."""

    def _config_text(self):
        return super()._config_text().replace("[http]\n", "[http]\n  auth-enabled = true\n", 1)


def test_probe_with_backend_auth():
    """Without relay auth, the first backend must accept the client's own credentials for the
    statement before it is committed: a non-admin backend user is refused with influxd's own
    answer and nothing is committed; write access is enough for DELETE with db=."""
    backends = []
    for name in ("a", "b"):
        x = AuthInfluxd(name).start()
        for q, auth in (("CREATE USER admin WITH PASSWORD 'adminpw' WITH ALL PRIVILEGES", None),
                        ("CREATE USER bob WITH PASSWORD 'bobpw'", basic("admin", "adminpw")),
                        ("CREATE DATABASE %s" % DB, basic("admin", "adminpw")),
                        ("CREATE DATABASE other", basic("admin", "adminpw")),
                        ("GRANT WRITE ON %s TO bob" % DB, basic("admin", "adminpw"))):
            st, _, doc = stmt(x.url, q, auth=auth)
            h.check_eq(st, 200, "%s: %s" % (name, q), doc)
        backends.append(x)
    a, b = backends
    urls = [(x.name, x.url.replace("http://", "http://admin:adminpw@")) for x in backends]
    r = h.Relay(config=relay_config(urls)).start()
    h.check(h.wait_until(lambda: caught_up(r), timeout=30), "caught up", r.health())
    st, _, doc = stmt(r.url, "CREATE DATABASE bobs", auth=basic("bob", "bobpw"))
    dst, _, direct = stmt(a.url, "CREATE DATABASE bobs", auth=basic("bob", "bobpw"))
    h.check_eq(st, 403, "bob may not create a database: 403", doc)
    h.check("admin privilege" in json.dumps(doc), "influxd's own words", doc)
    st, _, doc = stmt(r.url, "DROP DATABASE %s" % DB)
    h.check_eq(st, 401, "no credentials: influxd's 401", doc)
    st, _, doc = stmt(r.url, "DELETE FROM m", db="other", auth=basic("bob", "bobpw"))
    h.check_eq(st, 403, "bob has no write access to 'other': 403", doc)
    h.check_eq(cat(r).count("# statement"), 0, "nothing committed")
    st, _, doc = stmt(r.url, "DELETE FROM m", db=DB, auth=basic("bob", "bobpw"))
    h.check_eq(st, 200, "bob may DELETE in %s (write access)" % DB, doc)
    st, _, doc = stmt(r.url, "CREATE DATABASE admins", extra=[("u", "admin"), ("p", "adminpw")],
                      get=True)
    h.check_eq(st, 200, "the backend admin may", doc)
    h.check(h.wait_until(lambda: caught_up(r), timeout=30), "caught up")
    for x in backends:
        st, _, doc = stmt(x.url, "SHOW DATABASES", auth=basic("admin", "adminpw"))
        names = sorted(v[0] for v in doc["results"][0]["series"][0]["values"])
        h.check_eq(names, sorted([DB, "other", "admins"]),
                   "%s: the admin's database only" % x.name)


TESTS = [test_schema_then_points_after_outage, test_drop_and_delete_during_writes,
         test_refused_statements, test_order_and_sigkill, test_now_is_the_commit_time,
         test_passwords_never_shown, test_relay_auth_admin_only, test_probe_with_backend_auth]

if __name__ == "__main__":
    want = set(sys.argv[1:])
    h.run([t for t in TESTS if not want or t.__name__ in want])
