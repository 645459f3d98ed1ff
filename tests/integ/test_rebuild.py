#!/usr/bin/python3
"""influx-wal rebuild against two real influxd 1.6.7 (RPC on free loopback ports):

  - three databases (one without points), a non-default retention policy with its own duration and shard duration,
    points in both through the relay; then writes keep flowing through the relay (bounded)
    while backend B is stopped, its directories deleted and started empty;
  - a first `rebuild --backend b --from a` is killed by PID once its backup is done: the relay
    shows B rebuilding in /health, /metrics and `influx-wal status` (text and --json), also
    after a relay restart; the same command again continues (the backup reused) and ends with
    B resuming after its start point;
  - at the end A and B answer identically: per database, RP, measurement and field the count
    and sum, SHOW FIELD KEYS and SHOW RETENTION POLICIES;
  - a target that is not empty: exit 1 with one line, nothing paused; a source that is down:
    exit 1 with one line, nothing paused.
  - With STATEMENTS_THROUGH_LOG (/query logs schema and data statements), a
    DELETE, a DROP MEASUREMENT and a CREATE RETENTION POLICY go through the relay during the
    rebuild (B paused, its snapshot taken before them): each has its effect on both, and both
    end equal with them too.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

# Statements sent to the relay's /query are committed to the log and applied by every backend
# in order, so the statements part below runs.
STATEMENTS_THROUGH_LOG = True

DBS = ("db1", "db2")
RP = "short"


def rpc(x):
    return "127.0.0.1:%d" % x.rpc_port


# The relay's URL carries a password (the relay, without auth, ignores it): the rebuild's state
# file must not keep it.
URL_PASSWORD = "pw-in-relay-url"


def rebuild_args(r, a, b, *extra):
    relay = r.url.replace("http://", "http://rebuilder:%s@" % URL_PASSWORD, 1)
    return ["rebuild", "--backend", "b", "--from", "a", "--url", "a=" + a.url, "--url",
            "b=" + b.url, "--from-rpc", rpc(a), "--rpc", rpc(b), "--relay", relay,
            "--state-dir", os.path.join(r.dir, "rebuild-state")] + list(extra)


def fields(x, db, rp, m):
    return sorted((f["fieldKey"], f["fieldType"]) for f in
                  x.values(db, 'SHOW FIELD KEYS FROM "%s"."%s"' % (rp, m)))


def digest(x):
    """Everything the comparison looks at, as one structure."""
    out = {"databases": sorted(d for d in x.databases() if d != "_internal")}
    for db in out["databases"]:
        rps = x.values(db, "SHOW RETENTION POLICIES ON \"%s\"" % db)
        out[db + "/rps"] = sorted(json.dumps(p, sort_keys=True) for p in rps)
        for p in rps:
            rp = p["name"]
            for m in x.measurements(db):
                fk = fields(x, db, rp, m)
                out["%s/%s/%s/fields" % (db, rp, m)] = fk
                for f, t in fk:
                    sel = 'count("%s")' % f
                    if t in ("float", "integer"):
                        sel += ', sum("%s")' % f
                    rows = x.values(db, 'SELECT %s FROM "%s"."%s"' % (sel, rp, m))
                    out["%s/%s/%s/%s" % (db, rp, m, f)] = [
                        (r.get("count"), round(r["sum"], 6) if isinstance(r.get("sum"), float)
                         else r.get("sum")) for r in rows]
    return out


def first_difference(da, db_):
    for k in sorted(set(da) | set(db_)):
        if da.get(k) != db_.get(k):
            return k, da.get(k), db_.get(k)
    return None


def rebuilding(r, name="b"):
    st = r.health()
    if isinstance(st, tuple):
        st = st[-1]
    if isinstance(st, str):
        st = json.loads(st)
    b = [x for x in st["backends"] if x["name"] == name][0]
    return b.get("rebuilding"), b


def test_rebuild():
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    for x in (a, b):
        for db in DBS:
            x.create_db(db)
        x.query('CREATE RETENTION POLICY "%s" ON "db1" DURATION 30d REPLICATION 1 '
                'SHARD DURATION 2h' % RP)
        x.query('CREATE RETENTION POLICY "week" ON "db2" DURATION 7d REPLICATION 1 '
                'SHARD DURATION 1d DEFAULT')
        # A database with no points at all (no shard, nothing in the backup but its schema).
        x.create_db("db3")
        x.query('CREATE RETENTION POLICY "r3" ON "db3" DURATION 3d REPLICATION 1 '
                'SHARD DURATION 1h DEFAULT')
    r = h.Relay(config={"wal": {"retain": "1h"},
                        "backend": [{"name": "a", "url": a.url, "retry-max-delay": "1s"},
                                    {"name": "b", "url": b.url, "retry-max-delay": "1s"}]}).start()

    # A first load through the relay reaches both.
    first = [h.Load(r.url, list(DBS), points_per_request=200, requests=20, concurrency=2,
                    measurement="m1"),
             h.Load(r.url, "db1", points_per_request=200, requests=10, concurrency=2,
                    measurement="m2", rp=RP)]
    for ld in first:
        ld.run()
    now = time.time_ns()
    st, _, body = r.write("db2", "extra,host=x s=\"str\",i=5i,f=1.5,b=true %d\n" % now)
    h.check_eq(st, 204, "a point with every field type", body)
    # Old points of their own measurement, for the DELETE sent during the rebuild.
    old = now - 3600 * 10**9
    st, _, body = r.write("db1", "".join("gone,k=%d n=%di %d\n" % (i % 5, i, old + i * 10**9)
                                         for i in range(200)))
    h.check_eq(st, 204, "points for the DELETE", body)
    total = sum(ld.acked_total for ld in first) + 1
    h.check(h.wait_until(lambda: sum(b.points_total(db, "n") for db in DBS)
                         + b.points_total("db1", "n", rp=RP) + 1 >= total, timeout=60),
            "B has the first load")

    # Writes keep flowing (bounded) while B loses its disk.
    flow = h.Load(r.url, list(DBS), points_per_request=100, requests=150, concurrency=2,
                  measurement="m1", interval=0.1, deadline=60)
    flow.start()
    b.stop()
    for sub in ("data", "meta", "wal"):
        shutil.rmtree(os.path.join(b.dir, sub), ignore_errors=True)
    b.restart()
    h.check_eq(sorted(b.databases()), ["_internal"] if "_internal" in b.databases() else [],
               "B starts empty")

    # A rebuild killed once its backup is done.
    state = os.path.join(r.dir, "rebuild-state", "state")
    argv = [h.cli_bin()] + rebuild_args(r, a, b) + ["--data-dir", r.data_dir]
    log1 = open(os.path.join(r.dir, "rebuild1.log"), "w")
    p = subprocess.Popen(argv, stdout=log1, stderr=log1, start_new_session=True)

    def backup_done():
        try:
            with open(state) as f:
                return "backup=1" in f.read()
        except OSError:
            return False
    h.check(h.wait_until(lambda: backup_done() or p.poll() is not None, timeout=120),
            "the first rebuild got its backup")
    os.kill(p.pid, signal.SIGKILL)
    p.wait(10)
    log1.close()
    with open(os.path.join(r.dir, "rebuild1.log")) as f:
        first_log = f.read()
    h.check(p.returncode == -signal.SIGKILL, "the first rebuild was killed mid-way",
            p.returncode, first_log)
    h.check("step=start" in first_log and "step=backup" in first_log,
            "logfmt lines per step (not a terminal)", first_log)
    with open(state) as f:
        state_text = f.read()
    h.check("relay=" in state_text and URL_PASSWORD not in state_text and
            r.url.replace("http://", "") in state_text,
            "the state file names the relay by its URL without the password", state_text)
    h.check(URL_PASSWORD not in first_log, "nor does the rebuild's output show it")

    on, info = rebuilding(r)
    h.check(on is True and info["rebuild"]["from"] == "a" and not info["caught_up"],
            "/health: B is being rebuilt from a, not caught up", info)
    h.check_eq(r.metric("influx_wal_backend_rebuilding", backend="b"), 1.0,
               "/metrics: influx_wal_backend_rebuilding{backend=b} 1")
    h.check_eq(r.metric("influx_wal_backend_rebuilding", backend="a"), 0.0,
               "/metrics: a is not being rebuilt")
    sj = r.cli_json("status", "--json")
    bj = [x for x in sj["backends"] if x["name"] == "b"][0]
    h.check(bj["rebuilding"] is True and bj["rebuild"]["from"] == "a", "status --json", bj)
    rc, out, err = r.run_cli("status")
    h.check(rc == 0 and "rebuilding from a since sequence" in out, "status (text)", out, err)
    sent = r.metric("influx_wal_backend_sent_points_total", backend="b")
    time.sleep(1.5)
    h.check_eq(r.metric("influx_wal_backend_sent_points_total", backend="b"), sent,
               "nothing is sent to B while it is being rebuilt")

    # The rebuild survives a relay restart.
    r.restart()
    on, info = rebuilding(r)
    h.check(on is True and info["rebuild"]["from_seq"] == bj["rebuild"]["from_seq"],
            "after a restart B is still being rebuilt, from the same point", info, bj)

    if STATEMENTS_THROUGH_LOG:
        cut = old + 150 * 10**9
        for q, db in (('DELETE FROM "gone" WHERE time < %d' % cut, "db1"),
                      ('DROP MEASUREMENT "extra"', "db2"),
                      ('CREATE RETENTION POLICY "later" ON "db1" DURATION 2d REPLICATION 1 '
                       'SHARD DURATION 1h', "db1")):
            st, _, body = h.request("POST", r.url + "/query", body="q=%s&db=%s" % (
                h.urllib.parse.quote(q), db),
                headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
            h.check(st in (200, 202), "through the relay during the rebuild: %s" % q, st, body)

    # Running the same command again continues: the backup is reused.
    t0 = time.time()
    rc, out, err = r.run_cli(*rebuild_args(r, a, b), timeout=300)
    took = time.time() - t0
    h.check(rc == 0 and "rebuild done backend=b from=a" in out, "the rebuild resumes and ends",
            rc, out, err)
    h.check("resume=1" in err and "reused=1" in err, "the second run continued the first",
            err)
    h.diag("rebuild (resumed) took %.1f s: %s" % (took, out.strip()))
    on, info = rebuilding(r)
    h.check(on is False, "B is no longer being rebuilt", info)

    flow.join()
    h.check(flow.acked_total > 0, "writes flowed during the rebuild", flow.summary())

    def equal():
        return first_difference(digest(a), digest(b)) is None
    h.check(h.wait_until(equal, timeout=90, interval=1, errors_ok=True),
            "A and B answer identically (count and sum per database, RP, measurement and "
            "field; SHOW FIELD KEYS; SHOW RETENTION POLICIES)", first_difference(digest(a), digest(b)))
    da = digest(a)
    h.check(any(k.startswith("db1/%s/m2/" % RP) and v and v[0][0] for k, v in da.items()),
            "the non-default RP holds points", sorted(da)[:20])
    h.check(any('"shardGroupDuration": "2h0m0s"' in p for p in da["db1/rps"]),
            "the RP kept its shard duration", da["db1/rps"])
    h.check(any('"name": "r3"' in p and '"default": true' in p for p in digest(b)["db3/rps"]),
            "a database without points came back with its default RP", digest(b)["db3/rps"])
    if STATEMENTS_THROUGH_LOG:
        for x in (a, b):
            h.check_eq(x.count("db1", "gone", "n"), 50,
                       "%s: the DELETE sent during the rebuild took effect" % x.name)
            h.check("extra" not in x.measurements("db2"),
                    "%s: the DROP MEASUREMENT took effect" % x.name)
            h.check(any(p["name"] == "later" and p["shardGroupDuration"] == "1h0m0s"
                        for p in x.values("db1", 'SHOW RETENTION POLICIES ON "db1"')),
                    "%s: the RP created during the rebuild is there" % x.name)
    acked = sum(flow.acked.values())
    h.check(a.points_total("db1", "n") + a.points_total("db2", "n") >= acked,
            "A holds every point acknowledged by the flow", acked)

    # Target not empty: exit 1, one line, nothing paused.
    rc, out, err = r.run_cli(*rebuild_args(r, a, b))
    h.check(rc == 1 and "is not empty" in err and len(err.strip().splitlines()) == 1,
            "a target that is not empty: exit 1 with one line", rc, out, err)
    h.check_eq(rebuilding(r)[0], False, "nothing was paused")

    # Source down: exit 1, one line, nothing paused.
    a.stop()
    rc, out, err = r.run_cli(*rebuild_args(r, a, b))
    h.check(rc == 1 and "source a is down" in err and len(err.strip().splitlines()) == 1,
            "a source that is down: exit 1 with one line", rc, out, err)
    h.check_eq(rebuilding(r)[0], False, "nothing was paused")


def api(r, op, **params):
    q = "&".join("%s=%s" % kv for kv in params.items())
    st, _, body = h.request("POST" if op else "GET", r.url + "/api/rebuild" + op + "?" + q,
                            body=b"" if op else None, timeout=30)
    return st, json.loads(body)


def test_start_point_lost():
    """The endpoints alone, on a log of 1 MiB: a rebuild whose held position would fill the log
    lets it go instead (writes keep getting 204), finish then refuses, a new start takes a new
    point, abort resumes the sender."""
    a = h.Influxd("a").start()
    a.create_db("db")
    r = h.Relay(config={"wal": {"max-size": "1MiB", "min-free": 0},
                        "backend": [{"name": "a", "url": a.url, "retry-max-delay": "1s"},
                                    {"name": "b", "url": "http://127.0.0.1:1",
                                     "retry-max-delay": "1s"}]}).start()
    st, body = api(r, "/start", backend="b")
    h.check_eq(st, 400, "start needs from=", body)
    st, body = api(r, "/start", backend="nobody", **{"from": "a"})
    h.check_eq(st, 404, "an unknown backend", body)
    st, body = api(r, "/finish", backend="b")
    h.check_eq(st, 409, "finish of a backend not being rebuilt", body)
    st, body = api(r, "/start", backend="b", **{"from": "a"})
    h.check(st == 200 and body["rebuilding"] and not body["resumed"], "start", st, body)
    p = body["from_seq"]
    st, body = api(r, "/start", backend="b", **{"from": "a"})
    h.check(st == 200 and body["resumed"] and body["from_seq"] == p, "start again: the same point",
            st, body)
    st, body = api(r, "/start", backend="a", **{"from": "b"})
    h.check_eq(st, 409, "the source of a rebuild cannot be rebuilt from its target", body)
    pad = "x" * 900
    lost = False
    refused = 0
    for i in range(400):
        body = "".join('m,host=h%d s="%s",n=%di %d\n' % (j, pad, i * 20 + j, 10**18 + i * 20 + j)
                       for j in range(20))
        st, _, _ = r.write("db", body)
        refused += st != 204
        st, doc = api(r, "", backend="b")
        if doc["rebuilds"][0]["start_point_lost"]:
            lost = True
            break
        time.sleep(0.02)
    h.check(lost, "the start point is let go as the log nears its limit")
    h.check_eq(refused, 0, "the log never refused a write for the rebuild")
    h.check_eq(r.metric("influx_wal_backend_rebuilding", backend="b"), 2.0,
               "/metrics: 2 once the start point is lost")
    for i in range(100):
        body = "".join('m,host=h%d s="%s",n=%di %d\n' % (j, pad, j, 2 * 10**18 + i * 20 + j)
                       for j in range(20))
        st, _, resp = r.write("db", body)
        if st != 204:
            break
    h.check_eq(st, 204, "writes keep going in: B no longer holds the log", resp)
    st, body = api(r, "/finish", backend="b")
    h.check(st == 409 and body.get("start_point_lost"), "finish refuses: start again", st, body)
    st, body = api(r, "/start", backend="b", **{"from": "a"})
    h.check(st == 200 and not body["resumed"] and not body["start_point_lost"], "a new start point",
            st, body)
    st, body = api(r, "/abort", backend="b")
    h.check(st == 200 and not body["rebuilding"], "abort", st, body)
    h.check(h.wait_until(lambda: r.metric("influx_wal_backend_rebuilding", backend="b") == 0.0),
            "no longer rebuilding")


def test_two_relays():
    """Two relays, each with its own log, feeding the same two backends (the setup behind
    HAProxy): the rebuild tells both (--relay twice); writes through both keep flowing; A and B
    end equal."""
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    for x in (a, b):
        x.create_db("db")
    relays = [h.Relay(name="relay%d" % i,
                      config={"backend": [{"name": "a", "url": a.url, "retry-max-delay": "1s"},
                                          {"name": "b", "url": b.url, "retry-max-delay": "1s"}]})
              .start() for i in (1, 2)]
    for r in relays:
        h.Load(r.url, "db", points_per_request=100, requests=10, concurrency=1,
               measurement="pre").run()
    loads = [h.Load(r.url, "db", points_per_request=50, requests=60, concurrency=1,
                    measurement="m", interval=0.1, deadline=40) for r in relays]
    for ld in loads:
        ld.start()
    b.stop()
    for sub in ("data", "meta", "wal"):
        shutil.rmtree(os.path.join(b.dir, sub), ignore_errors=True)
    b.restart()
    r1, r2 = relays
    args = rebuild_args(r1, a, b) + ["--relay", r2.url]
    rc, out, err = r1.run_cli(*args, timeout=300)
    h.check(rc == 0 and "rebuild done" in out and err.count("step=start relay=") == 2 and
            err.count("step=finish relay=") == 2, "the rebuild tells both relays", rc, out, err)
    for ld in loads:
        ld.join()
    for r in relays:
        h.check_eq(rebuilding(r)[0], False, "%s: B resumed" % r.name)
    h.check(h.wait_until(lambda: first_difference(digest(a), digest(b)) is None, timeout=90,
                         interval=1, errors_ok=True),
            "A and B answer identically", first_difference(digest(a), digest(b)))
    acked = sum(ld.acked_total for ld in loads) + 2000
    h.check(b.points_total("db", "n") >= acked, "B holds every acknowledged point", acked)


if __name__ == "__main__":
    h.run([test_rebuild, test_start_point_lost, test_two_relays])
