#!/usr/bin/python3
"""Shards, for real, on loopback: one relay, two shards of two influxd 1.6.7 each

    load (8 measurements) -> relay --shard s1=a1,a2 --shard s2=b1,b2 -> a1 a2 | b1 b2

  * every point lands in exactly one shard's two backends: counted per measurement on all
    four, each measurement is complete on both backends of one shard and absent from the
    other two, on the shard the ring gives it (the ring computed again by harness.shard_of:
    FNV-1a 64 + splitmix64, 128 virtual nodes, key "DB\\0MEASUREMENT\\0");
  * a CREATE DATABASE through the relay reaches all four;
  * one backend per shard stopped under load (a1, b2) catches up exactly once started again;
    /health names each backend's shard and the one holding the log;
  * DROP MEASUREMENT through the relay reaches the shard holding it;
  * a SIGHUP that changes the shards is refused, and routing stays as it started;
  * /query of one measurement goes to a backend of the shard holding it: the relay's answer is
    the shard's own, for measurements of both shards; with both backends of a shard stopped,
    a read of its measurement is a 503 naming it while the other shard's still answer;
  * SHOW MEASUREMENTS, SHOW DATABASES, SHOW FIELD KEYS through the relay are the union of the
    shards' answers; with a shard down, a 503 naming it.

Uses tests/integ/harness.py (its TwoShards fixture). Every wait has a deadline."""

import harness as h

DB = "sharddb"
MEASUREMENTS = ["cpu", "mem", "disk", "net", "swap", "system", "kernel", "diskio"]


shard_of = h.shard_of  # shard_of(shard names, DB, measurement)


def statement(r, q):
    """A logged statement through the relay's /query."""
    h.statement(r.url, q, db=DB)


def create_db(r):
    """CREATE DATABASE: every shard gets it."""
    statement(r, "CREATE DATABASE %s" % DB)


def start_all():
    sh = h.TwoShards()
    return sh.backends, sh.relay(), sh


def run_loads(r, requests, ppr=50):
    loads = [h.Load(r.url, DB, points_per_request=ppr, requests=requests, concurrency=1,
                    measurement=m) for m in MEASUREMENTS]
    for ld in loads:
        ld.start()
    return loads


def check_placement(sh, loads, timeout=60):
    want = {m: ld.acked_total for m, ld in zip(MEASUREMENTS, loads)}
    got, expect = sh.placement(DB, want, timeout=timeout)
    for (b, m), n in sorted(expect.items()):
        h.check_eq(got[(b, m)], n, "%s holds %d points of %s" % (b, n, m))
    used = {shard_of(["s1", "s2"], DB, m) for m in MEASUREMENTS}
    h.check(used == {"s1", "s2"}, "the measurements cover both shards", used)


def test_every_point_in_one_shard():
    backends, r, sh = start_all()
    sh.create_db(r, DB)
    h.check(all(DB in b.databases() for b in backends.values()), "the database is on all four")
    loads = run_loads(r, requests=20)
    for ld in loads:
        ld.join(60)
        h.check(ld.conn_errors == 0 and ld.acked_total == 20 * 50, "load %s acknowledged" %
                ld.measurement, ld.summary())
    check_placement(sh, loads)
    # DROP MEASUREMENT goes to the shard holding it (the others never hear of it).
    statement(r, "DROP MEASUREMENT cpu")
    holders = h.SHARDS[shard_of(["s1", "s2"], DB, "cpu")]
    h.wait_until(lambda: all(backends[b].count(DB, "cpu") == 0 for b in holders), timeout=30)
    for b in holders:
        h.check_eq(backends[b].count(DB, "cpu"), 0, "cpu dropped from %s" % b)
        h.check_eq(backends[b].points_total(DB), sum(
            ld.acked_total for ld in loads
            if ld.measurement != "cpu" and shard_of(["s1", "s2"], DB, ld.measurement) in
            [k for k, v in h.SHARDS.items() if b in v]),
            "the rest of %s is kept" % b)
    h.wait_until(lambda: all(b["caught_up"] for b in r.health()[1]["backends"]), timeout=30)
    st, doc = r.health()
    for b in doc["backends"]:
        h.check(b["caught_up"], "%s caught up after the DROP (statements do not wait on the "
                "other shard)" % b["name"], b)


def test_one_per_shard_stopped_catches_up():
    backends, r, sh = start_all()
    sh.create_db(r, DB)
    loads = run_loads(r, requests=60, ppr=20)
    h.wait_until(lambda: backends["b1"].points_total(DB) > 0 and
                 backends["a2"].points_total(DB) > 0, timeout=30)
    backends["a1"].stop()
    backends["b2"].stop()
    acked_at_stop = sum(ld.acked_total for ld in loads)
    for ld in loads:
        ld.join(120)
        h.check(ld.conn_errors == 0, "load %s ran" % ld.measurement, ld.summary())
    h.check(sum(ld.acked_total for ld in loads) > acked_at_stop,
            "points were acknowledged while a1 and b2 were down",
            acked_at_stop, sum(ld.acked_total for ld in loads))
    h.check(backends["a1"].alive() is False and backends["b2"].alive() is False, "still down")
    def a1_lag():
        _, d = r.health()
        return [b for b in d["backends"] if b["name"] == "a1"][0]["lag_records"] > 0

    h.wait_until(a1_lag, timeout=10)  # the lag is measured on the senders' 1 s tick
    st, doc = r.health()
    held = doc.get("wal", {}).get("held_by", {}) if isinstance(doc, dict) else {}
    h.check(held.get("backend") in ("a1", "b2") and
            held.get("shard") == {"a1": "s1", "b2": "s2"}.get(held.get("backend")),
            "/health names the backend and the shard holding the log", held)
    h.check(isinstance(doc, dict) and any("(shard s1)" in x for x in doc.get("reasons", [])),
            "a reason names a1's shard", doc.get("reasons") if isinstance(doc, dict) else doc)
    shards = {b["name"]: b.get("shard") for b in doc.get("backends", [])}
    a1 = [b for b in doc.get("backends", []) if b["name"] == "a1"][0]
    behind = doc["wal"]["last_sequence"] - a1["cursor"]
    h.check(0 < a1["lag_records"] < behind,
            "a1's lag counts only its shard's records", a1["lag_records"], behind)
    h.check_eq(shards, {"a1": "s1", "a2": "s1", "b1": "s2", "b2": "s2"}, "each backend's shard")
    backends["a1"].restart()
    backends["b2"].restart()
    check_placement(sh, loads, timeout=90)


def test_sighup_changing_shards_is_refused():
    a1, b1 = h.Influxd("a1").start(), h.Influxd("b1").start()
    cfg = {"shard": [{"name": "s1", "backends": ["a1"]}, {"name": "s2", "backends": ["b1"]}]}
    r = h.Relay(backends=[a1, b1], config=cfg).start()
    create_db(r)
    r.reload({"shard": [{"name": "s1", "backends": ["a1", "b1"]}]})
    h.check(len(r.wait_log("reload_failed", timeout=10)) > 0, "the reload is refused",
            r.log_tail())
    loads = run_loads(r, requests=5, ppr=10)
    for ld in loads:
        ld.join(60)
        h.check(ld.conn_errors == 0 and ld.acked_total == 5 * 10, "load %s acknowledged" %
                ld.measurement, ld.summary())
    want = {m: ld.acked_total for m, ld in zip(MEASUREMENTS, loads)}
    groups = {"s1": a1, "s2": b1}

    def placed():
        return all(groups[s].count(DB, m) == want[m] and
                   groups["s2" if s == "s1" else "s1"].count(DB, m) == 0
                   for m in MEASUREMENTS for s in [shard_of(["s1", "s2"], DB, m)])

    h.wait_until(placed, timeout=30)
    h.check(placed(), "points still go by the shards the relay started with",
            {m: (s, a1.count(DB, m), b1.count(DB, m), want[m])
             for m in MEASUREMENTS for s in [shard_of(["s1", "s2"], DB, m)]})


def test_v2_v3_writes_are_sharded():
    """/api/v3/write_lp and 2.x's /api/v2/write split by shard as /write does."""
    backends, r, sh = start_all()
    sh.create_db(r, DB)
    t0 = 1700000000000000000
    for path, field in (("/api/v3/write_lp?db=%s" % DB, "v3"),
                        ("/api/v2/write?org=o&bucket=%s" % DB, "v2")):
        body = "".join("%s,host=h %s=%di %d\n" % (m, field, i, t0 + i)
                       for m in MEASUREMENTS for i in range(5)).encode()
        st, _, resp = h.request("POST", r.url + path, body=body)
        h.check_eq(st, 204, "%s through the relay" % path, resp[:200])
    groups = h.SHARDS

    def counts():
        return {(b, m, f): backends[b].count(DB, m, field=f) for b in backends
                for m in MEASUREMENTS for f in ("v3", "v2")}
    expect = {(b, m, f): 5 if b in groups[shard_of(["s1", "s2"], DB, m)] else 0
              for b in backends for m in MEASUREMENTS for f in ("v3", "v2")}
    h.wait_until(lambda: counts() == expect, timeout=30)
    got = counts()
    for k in sorted(expect):
        h.check_eq(got[k], expect[k], "%s holds %d %s points of %s" % (k[0], expect[k], k[2],
                                                                       k[1]))


def relay_read(r, q):
    """A read through the relay's /query: (status, answering backend, parsed body)."""
    st, hdrs, doc = h.query_json(r.url, q, db=DB, epoch="ns")
    return st, hdrs.get("x-influx-wal-backend"), doc


def test_query_routed_by_shard():
    backends, r, sh = start_all()
    sh.create_db(r, DB)
    loads = run_loads(r, requests=4, ppr=25)
    for ld in loads:
        ld.join(60)
        h.check(ld.conn_errors == 0 and ld.acked_total == 100, "load %s acknowledged" %
                ld.measurement, ld.summary())
    check_placement(sh, loads)
    h.wait_until(lambda: all(b["caught_up"] for b in r.health()[1]["backends"]), timeout=30)
    groups = h.SHARDS
    queries = ["SELECT count(n) FROM %s", "SELECT * FROM %s", "SHOW TAG KEYS FROM \"%s\"",
               "SELECT max(n) FROM %s GROUP BY *; SELECT count(n) FROM %s WHERE time > 0"]
    seen = set()
    for m in MEASUREMENTS:
        shard = shard_of(["s1", "s2"], DB, m)
        seen.add(shard)
        for q in queries:
            q = q.replace("%s", m)
            st, by, doc = relay_read(r, q)
            h.check_eq(st, 200, "%s through the relay" % q)
            h.check(by in groups[shard], "%s answered by a backend of %s" % (q, shard), by)
            direct = backends[groups[shard][0]].query(q, db=DB)
            h.check_eq(doc, direct, "%s: the relay's answer is %s's own" % (q, shard))
        st, _, doc = relay_read(r, "SELECT count(n) FROM %s" % m)
        h.check_eq(doc["results"][0]["series"][0]["values"][0][1], 100,
                   "%s counted in full through the relay" % m)
    h.check_eq(seen, {"s1", "s2"}, "measurements of both shards were read")

    # A SHOW over every measurement goes to each shard and the answers are merged.
    def names(doc, i=0):
        return [v[0] for s in doc["results"][i].get("series", []) for v in s["values"]]

    st, by, doc = relay_read(r, "SHOW MEASUREMENTS; SHOW DATABASES")
    h.check_eq(st, 200, "SHOW MEASUREMENTS; SHOW DATABASES through the relay", doc)
    h.check(by is None, "a merged answer names no single backend", by)
    h.check_eq(names(doc), sorted(MEASUREMENTS), "SHOW MEASUREMENTS lists the union")
    h.check_eq(names(doc, 1).count(DB), 1, "SHOW DATABASES lists the database once")
    for b in ("a1", "b1"):
        own = names(backends[b].query("SHOW MEASUREMENTS", db=DB))
        h.check(0 < len(own) < len(MEASUREMENTS), "%s alone holds only some" % b, own)
    st, _, doc = relay_read(r, "SHOW FIELD KEYS")
    h.check_eq(st, 200, "SHOW FIELD KEYS through the relay", doc)
    h.check_eq(sorted(s["name"] for s in doc["results"][0]["series"]), sorted(MEASUREMENTS),
               "SHOW FIELD KEYS has a series for every measurement of both shards")

    # Both backends of s1 stopped: its measurements are a 503 naming it, never an empty
    # answer from s2; s2's still answer.
    backends["a1"].stop()
    backends["a2"].stop()
    # A point for s1 makes its senders try (and fail) now, not at their next tick.
    on_s1 = [m for m in MEASUREMENTS if shard_of(["s1", "s2"], DB, m) == "s1"][0]
    st, _, body = h.request("POST", r.url + "/write?db=" + DB,
                            body=("%s n=1 1\n" % on_s1).encode())
    h.check_eq(st, 204, "a write is still acknowledged with s1 down")

    def s1_down():
        return all(not b["up"] for b in r.health()[1]["backends"] if b["name"] in ("a1", "a2"))

    h.wait_until(s1_down, timeout=30)
    h.check(s1_down(), "the relay sees a1 and a2 down", r.health()[1]["backends"])
    st, _, doc = relay_read(r, "SHOW MEASUREMENTS")
    h.check_eq(st, 503, "SHOW MEASUREMENTS with s1 down is refused, not half answered")
    h.check_eq(doc, {"error": "shard s1 has no backend up"}, "the 503 names the shard")
    for m in MEASUREMENTS:
        shard = shard_of(["s1", "s2"], DB, m)
        st, by, doc = relay_read(r, "SELECT count(n) FROM %s" % m)
        if shard == "s1":
            h.check_eq(st, 503, "a read of %s (on s1) with s1 down" % m)
            h.check_eq(doc, {"error": "shard s1 has no backend up"}, "the 503 names the shard")
        else:
            h.check_eq(st, 200, "a read of %s (on s2) with s1 down" % m)
            h.check(by in groups["s2"], "answered by s2", by)
            h.check_eq(doc["results"][0]["series"][0]["values"][0][1], 100, "%s in full" % m)


h.run([test_every_point_in_one_shard, test_one_per_shard_stopped_catches_up,
       test_sighup_changing_shards_is_refused, test_v2_v3_writes_are_sharded,
       test_query_routed_by_shard])
