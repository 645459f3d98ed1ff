#!/usr/bin/python3
"""The daemon's background scrub ([scrub] enabled, a 2 s interval) against two real influxd 1.6.7:

  - an equal pair: influx_wal_scrub_windows_differing{a,b} 0, runs counted, windows compared,
    /health pass with a "scrub" object;
  - in flight: a database A has and B lacks, written through the relay: B's sender holds the
    points (404, database not found) in the log, so the window that differs is in flight, not
    differing; once B has the database and the points, nothing is in flight;
  - a point written straight to B: the window differs in /metrics and in /health (warn, both
    sides' figures) within a bounded wait;
  - influx-wal scrub with a --url holding user:password@ never prints the password.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

DB = "db"
HOUR = 3600 * 10**9


def runs(r):
    return r.metric("influx_wal_scrub_runs_total", default=0)


def two_more_runs(r):
    """Wait until two runs finished after now (the first may have started before)."""
    n = runs(r)
    h.check(h.wait_until(lambda: runs(r) >= n + 2, timeout=60), "two more scrub runs", n, runs(r))


def differing(r):
    return r.metric("influx_wal_scrub_windows_differing", backend_a="a", backend_b="b")


def test_scrub_daemon():
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    for x in (a, b):
        x.create_db(DB)
    cfg = {"backend": [{"name": "a", "url": a.url, "retry-max-delay": "1s"},
                       {"name": "b", "url": b.url, "retry-max-delay": "1s"}],
           "scrub": {"enabled": True, "interval": "2s", "window": "24h", "rate": 50}}
    r = h.Relay(config=cfg).start()
    base = (int(time.time()) // 3600 - 3) * HOUR
    lines = ["m,host=h%d f=%d.5,i=%di %d" % (i % 3, i, i, base + hr * HOUR + i * 10**9)
             for hr in range(3) for i in range(20)]
    st, _, body = r.write(DB, "\n".join(lines) + "\n")
    h.check_eq(st, 204, "the relay takes the points", body)
    h.check(h.wait_until(lambda: a.count(DB, "m", "f") == 60 and b.count(DB, "m", "f") == 60, timeout=30),
            "both backends have the 60 points")

    two_more_runs(r)
    h.check_eq(differing(r), 0, "an equal pair: no window differs")
    h.check(r.metric("influx_wal_scrub_windows_compared_total", default=0) >= 3,
            "the windows were compared", r.metrics_text())
    h.check(r.metric("influx_wal_scrub_last_run_timestamp_seconds", default=0) > time.time() - 60,
            "the last run is recent")
    st, doc = r.health()
    h.check(st == 200 and doc["status"] == "pass" and doc["scrub"]["differing_windows"] == 0
            and doc["scrub"]["pairs"][0]["a"] == "a" and doc["scrub"]["pairs"][0]["b"] == "b"
            and doc["scrub"]["pairs"][0]["windows"] == 3 and doc["scrub"]["pairs"][0]["error"] == "",
            "/health: pass, the scrub compared the three windows", st, doc)

    # In flight: db2 on A only; B's sender holds the points (404) while B answers queries.
    a.create_db("db2")
    t = base + 2 * HOUR + 5 * 10**9
    st, _, body = r.write("db2", "w v=1i %d\n" % t)
    h.check_eq(st, 204, "the relay takes a point for db2", body)
    h.check(h.wait_until(lambda: a.count("db2", "w", "v") == 1, timeout=30), "A has it")
    two_more_runs(r)
    h.check(r.metric("influx_wal_backend_lag_records", backend="b") >= 1, "B has not acknowledged it")
    h.check_eq(differing(r), 0, "a window B has not acknowledged is not a difference")
    h.check(r.metric("influx_wal_scrub_in_flight_windows") >= 1, "it is in flight", r.metrics_text())
    st, doc = r.health()
    h.check(doc["scrub"]["differing_windows"] == 0 and doc["scrub"]["in_flight_windows"] >= 1,
            "/health: in flight, not differing", doc)

    b.create_db("db2")
    h.check(h.wait_until(lambda: b.count("db2", "w", "v") == 1, timeout=30), "B gets it once it has db2")
    h.check(h.wait_until(lambda: r.metric("influx_wal_backend_lag_records", backend="b") == 0, timeout=20),
            "B caught up")
    two_more_runs(r)
    h.check(differing(r) == 0 and r.metric("influx_wal_scrub_in_flight_windows") == 0,
            "then nothing differs and nothing is in flight", r.metrics_text())

    # A point straight to B: a real difference, reported within a bounded wait.
    t1 = base + HOUR + 30 * 10**9
    b.write(DB, "m,host=x f=100.25,i=7i %d\n" % t1)
    h.check(h.wait_until(lambda: differing(r) == 1, timeout=60), "the direct write shows in /metrics",
            r.metrics_text())
    st, doc = r.health()
    d = doc["scrub"]["differences"]
    h.check(st == 200 and doc["status"] == "warn" and doc["scrub"]["differing_windows"] == 1 and len(d) == 1
            and d[0]["database"] == DB and d[0]["measurement"] == "m" and d[0]["hour"] == base + HOUR
            and d[0]["a_figures"]["count"] == 20 and d[0]["b_figures"]["count"] == 21
            and d[0]["a_figures"]["sum"] == 200 and d[0]["b_figures"]["sum"] == 300.25
            and any("scrub" in x for x in doc["reasons"]),
            "/health: warn, the window with both sides' figures", st, doc)
    h.check("event=scrub_window_differs a=a b=b db=db rp=autogen measurement=m" in r.log_text(),
            "logged once per run", r.log_tail())


    # The CLI never prints a --url's credentials, also when the backend cannot be reached.
    rc, out, err = r.run_cli("scrub", "--backend", "a", "--backend", "b",
                             "--url", "a=http://u:sekret@127.0.0.1:1", "--url", "b=" + b.url)
    h.check(rc == 1 and "sekret" not in err + out and "http://127.0.0.1:1" in err,
            "an unreachable --url with user:password@: named without them", rc, out, err)


if __name__ == "__main__":
    h.run([test_scrub_daemon])
