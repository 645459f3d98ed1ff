#!/usr/bin/python3
"""Reads over several shards, for real, on loopback: two shards of two influxd 1.6.7 each, and a
fifth influxd, the reference, holding every point directly

    load -> HAProxy (round robin) -> relay1, relay2 --shard s1=a1,a2 --shard s2=b1,b2 -> a1 a2 | b1 b2
    load ----------------------------------------------------------------------------> ref
    relay3 (key database, measurement, tag:host; same four) for a second database

  * writes through HAProxy land in exactly one shard's two backends (counted per measurement
    on all four), and both relays took some;
  * with the default key, SELECTs over two measurements on different shards, a regex
    measurement, several statements on different shards, aggregates of any kind: the answer
    through HAProxy is the reference's (parsed JSON, epoch=ns and RFC 3339 times);
  * with a tag in the key: count, sum, min, max with GROUP BY time, raw points with LIMIT, max
    with a field, mean GROUP BY the key's tag: the reference's answer; mean without it is
    refused with the exact statement error; chunked=true is a 400;
  * a shard with both backends stopped: a read that needs it is a 503 naming it.

Uses tests/integ/harness.py (its TwoShards fixture) and Debian's haproxy. Every wait has a deadline."""

import json
import os

import harness as h
import test_topology as topo

DB = "sqdb"     # relay1 and relay2: key database + measurement
TDB = "sqtag"   # relay3: key database + measurement + tag:host
T0 = 1_700_000_040 * 10**9  # a whole minute
SHARDS = h.SHARDS


def shard_of(*key):
    """The shard of a key (its elements' values), as relay/shard_ring.c places it."""
    return h.shard_of(SHARDS, *key)


def pick_measurements():
    """Two measurements on each shard with the default key."""
    by = {"s1": [], "s2": []}
    for i in range(64):
        m = "m%d" % i
        by[shard_of(DB, m)].append(m)
    return by["s1"][:2] + by["s2"][:2]


def lines(db_ms, hosts, per, extra_field_in=None):
    """Line protocol for every (measurement, host): 'per' points 3 s apart, each time its own
    within its measurement (hosts 100 ms apart, measurements 10 ms apart)."""
    out = []
    for mi, m in enumerate(db_ms):
        for hi, host in enumerate(hosts):
            for i in range(per):
                t = T0 + i * 3 * 10**9 + hi * 10**8 + mi * 10**7
                f = ",f=%d.25" % i if m == extra_field_in else ""
                out.append("%s,host=%s n=%di%s %d" % (m, host, (i * 7 + hi * 3 + mi) % 50, f, t))
    return out


def read(url, q, db, epoch="ns", extra=()):
    """POST /query: (status, headers, parsed body)."""
    return h.query_json(url, q, db=db, epoch=epoch, extra=extra)


def same_as_ref(url, ref, q, db, epoch="ns", what=""):
    st, hdrs, doc = read(url, q, db, epoch)
    _, _, want = read(ref.url, q, db, epoch)
    h.check_eq(st, 200, "%s%s: 200" % (what, q), doc)
    h.check("error" not in json.dumps(want), "the reference answers %s" % q, want)
    h.check(any(r.get("series") for r in want.get("results", [])),
            "the reference's answer to %s has series (the comparison means something)" % q, want)
    h.check_eq(doc, want, "%s%s (epoch=%s): the reference's answer" % (what, q, epoch))
    return hdrs


def write_all(url, db, body_lines, per_request=40):
    for i in range(0, len(body_lines), per_request):
        body = ("\n".join(body_lines[i:i + per_request]) + "\n").encode()
        st, _, resp = h.request("POST", url + "/write?db=" + db, body=body)
        h.check(st == 204, "write %d of %s acknowledged" % (i // per_request, db), st, resp[:200])


def test_default_key_through_haproxy():
    sh = h.TwoShards()
    backends = sh.backends
    ref = h.Influxd("ref").start()
    ref.create_db(DB)
    r1, r2 = sh.relay(), sh.relay()
    front, stats = h.free_port(), h.free_port()
    cfg = os.path.join(h.tmpdir("haproxy-cfg"), "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(topo.haproxy_config(front, stats, {"relay1": r1, "relay2": r2})
                .replace("balance leastconn", "balance roundrobin"))
    hp = h.Process([topo.HAPROXY, "-db", "-f", cfg], name="haproxy", port=front).start(timeout=15)
    hp_url = "http://127.0.0.1:%d" % front
    stats_url = "http://127.0.0.1:%d" % stats
    h.check(h.wait_until(lambda: topo.relay_state(stats_url, "relay1") == "UP" and
                         topo.relay_state(stats_url, "relay2") == "UP", timeout=15),
            "HAProxy sees both relays UP", topo.haproxy_states(stats_url))
    sh.create_db(r1, DB)
    ms = pick_measurements()  # m1, m2 on s1; m3, m4 on s2
    hosts = ["h0", "h1", "h2"]
    pts = lines(ms, hosts, per=20, extra_field_in=ms[0])
    # Each request mixes every measurement, so each is split over both shards.
    pts.sort(key=lambda l: int(l.rsplit(" ", 1)[1]))
    write_all(hp_url, DB, pts)
    ref.write(DB, "\n".join(pts) + "\n")
    for r in (r1, r2):
        h.check(r.health()[1]["wal"]["last_sequence"] > 0,
                "%s took writes through HAProxy (round robin)" % r.name, r.health()[1]["wal"])

    got, want = sh.placement(DB, {m: len(hosts) * 20 for m in ms})
    for k in sorted(want):
        h.check_eq(got[k], want[k], "%s holds %d points of %s" % (k[0], want[k], k[1]))
    for r in (r1, r2):
        h.wait_until(lambda: all(b["caught_up"] for b in r.health()[1]["backends"]), timeout=30)

    m1, m2, m3, m4 = ms
    rng = "time >= %d AND time < %d" % (T0, T0 + 60 * 10**9)
    queries = [
        "SELECT * FROM %s, %s" % (m1, m3),
        "SELECT n, host FROM %s, %s, %s ORDER BY time DESC LIMIT 4" % (m1, m3, m4),
        "SELECT n FROM /^m[0-9]+$/ WHERE %s AND host = 'h1' LIMIT 3 OFFSET 2" % rng,
        "SELECT mean(n), count(n), percentile(n, 90) FROM %s, %s WHERE %s GROUP BY time(15s), host"
        % (m2, m4, rng),
        "SELECT count(n) FROM /.*/",
        "SELECT max(n), host FROM %s, %s" % (m1, m3),
        "SELECT n FROM %s WHERE %s; SELECT sum(n) FROM %s" % (m1, rng, m3),
        "SELECT mean(n) FROM /^m/ WHERE %s GROUP BY time(20s) fill(previous)" % rng,
    ]
    for q in queries:
        hdrs = same_as_ref(hp_url, ref, q, DB, what="through HAProxy: ")
        h.check(hdrs.get("x-influx-wal-backend") is None, "a merged answer names no backend", q)
    same_as_ref(hp_url, ref, "SELECT * FROM %s, %s LIMIT 5" % (m2, m3), DB, epoch=None,
                what="RFC 3339 times: ")
    # A read of measurements all on one shard goes to that shard, as before.
    st, hdrs, doc = read(hp_url, "SELECT count(n) FROM %s, %s" % (m3, m4), DB)
    h.check_eq(st, 200, "a read of two measurements of s2")
    h.check(hdrs.get("x-influx-wal-backend") in SHARDS["s2"], "answered by a backend of s2",
            hdrs.get("x-influx-wal-backend"))
    st, _, doc = read(hp_url, "SHOW MEASUREMENTS", DB)
    h.check_eq(doc, ref.query("SHOW MEASUREMENTS", db=DB), "SHOW MEASUREMENTS: the union")
    # SLIMIT counts series on each shard: refused, with influxd's statement-error shape.
    st, _, doc = read(hp_url, "SELECT n FROM %s, %s SLIMIT 1; SELECT n FROM %s" % (m1, m3, m1), DB)
    h.check_eq((st, doc), (200, {"results": [
        {"statement_id": 0, "error": "SLIMIT and SOFFSET cannot be merged across shards: each "
         "shard would count only its own series"},
        {"statement_id": 1, "error": "not executed"}]}), "SLIMIT over two shards is refused")
    # influxd's own parse error comes back as it came, from a query that needs every shard.
    bad = "SELECT n FROM /^m/ WHERE"
    st, _, doc = read(hp_url, bad, DB)
    h.check_eq((st, doc), read(ref.url, bad, DB)[0:3:2], "%s: influxd's own parse error" % bad)
    h.check(st == 400 and "error parsing query" in doc.get("error", ""), "a 400 parse error", doc)
    st, _, doc = read(hp_url, "SHOW SERIES CARDINALITY", DB)
    h.check_eq((st, doc), (200, {"results": [{"statement_id": 0, "error":
        "SHOW SERIES CARDINALITY cannot be merged across shards: a count of one shard is not the "
        "whole one's; run it on a backend of each shard"}]}),
        "SHOW SERIES CARDINALITY is refused, not one shard's")
    st, _, doc = read(hp_url, "SHOW TAG VALUES WITH KEY = host LIMIT 2", DB)
    h.check_eq((st, doc), (200, {"results": [{"statement_id": 0, "error":
        "SHOW TAG VALUES with LIMIT, OFFSET, SLIMIT or SOFFSET cannot be merged across shards: a "
        "page of one shard is not the whole one's; run it on a backend of each shard"}]}),
        "SHOW TAG VALUES ... LIMIT over every shard is refused")
    hp.signal(15)
    hp.wait_exit(15)


def test_tag_in_key():
    sh = h.TwoShards()
    backends = sh.backends
    ref = h.Influxd("ref").start()
    ref.create_db(TDB)
    r = sh.relay(key=["database", "measurement", "tag:host"])
    sh.create_db(r, TDB)
    hosts = ["h%d" % i for i in range(8)]
    ms = ["cpu", "mem"]
    for m in ms:
        h.check_eq({shard_of(TDB, m, x) for x in hosts}, {"s1", "s2"},
                   "%s's hosts are on both shards" % m)
    pts = lines(ms, hosts, per=20)
    write_all(r.url, TDB, pts)
    ref.write(TDB, "\n".join(pts) + "\n")

    def counts():
        return {(b, m, x): backends[b].count(TDB, m, where="host = '%s'" % x)
                for b in backends for m in ms for x in hosts}

    want = {(b, m, x): (20 if b in SHARDS[shard_of(TDB, m, x)] else 0)
            for b in backends for m in ms for x in hosts}
    h.wait_until(lambda: counts() == want, timeout=60)
    got = counts()
    h.check_eq(got, want, "each host's points are on exactly one shard's two backends")
    h.wait_until(lambda: all(b["caught_up"] for b in r.health()[1]["backends"]), timeout=30)

    rng = "time >= %d AND time < %d" % (T0, T0 + 60 * 10**9)
    for q in [
        "SELECT count(n), sum(n) FROM cpu WHERE %s GROUP BY time(10s)" % rng,
        "SELECT count(n), sum(n), min(n), max(n) FROM cpu, mem WHERE %s GROUP BY time(7s) "
        "fill(none)" % rng,
        "SELECT count(n) FROM cpu WHERE %s GROUP BY time(20s) fill(0) ORDER BY time DESC LIMIT 2"
        % rng,
        "SELECT count(n) FROM /.*/",
        "SELECT max(n), host FROM cpu",
        "SELECT min(n) FROM mem WHERE host != 'h3'",
        "SELECT * FROM cpu WHERE %s LIMIT 7" % rng,
        "SELECT n, host FROM mem ORDER BY time DESC LIMIT 5",
        "SELECT mean(n), stddev(n) FROM cpu GROUP BY host",
        "SELECT count(n) FROM cpu GROUP BY *",
    ]:
        hdrs = same_as_ref(r.url, ref, q, TDB)
        h.check(hdrs.get("x-influx-wal-backend") is None, "merged from both shards", q)
    same_as_ref(r.url, ref, "SELECT n FROM cpu WHERE %s LIMIT 6" % rng, TDB, epoch=None,
                what="RFC 3339 times: ")

    st, _, doc = read(r.url, "SELECT mean(n) FROM cpu WHERE %s GROUP BY time(10s)" % rng, TDB)
    h.check_eq((st, doc), (200, {"results": [{"statement_id": 0, "error":
        "mean() cannot be merged across shards: the shard key's tag host is not in GROUP BY, "
        "so a series' points are on several shards; only count(), sum(), min() and max() "
        "merge exactly (or add GROUP BY host)"}]}), "mean over shards is refused, saying why")
    st, _, doc = read(r.url, "SELECT count(n) FROM cpu", TDB, extra=[("chunked", "true")])
    h.check_eq(st, 400, "chunked=true over several shards is refused")
    h.check("chunked" in doc.get("error", ""), "the 400 says chunked", doc)

    # Both backends of s2 stopped: a read that needs it is a 503 naming it.
    backends["b1"].stop()
    backends["b2"].stop()
    on_s2 = [x for x in hosts if shard_of(TDB, "cpu", x) == "s2"][0]
    st, _, _ = h.request("POST", r.url + "/write?db=" + TDB,
                         body=("cpu,host=%s n=1i %d\n" % (on_s2, T0 + 3600 * 10**9)).encode())
    h.check_eq(st, 204, "a write is still acknowledged with s2 down")

    def s2_down():
        return all(not b["up"] for b in r.health()[1]["backends"] if b["name"] in SHARDS["s2"])

    h.wait_until(s2_down, timeout=30)
    h.check(s2_down(), "the relay sees b1 and b2 down", r.health()[1]["backends"])
    st, _, doc = read(r.url, "SELECT count(n) FROM cpu WHERE %s GROUP BY time(10s)" % rng, TDB)
    h.check_eq((st, doc), (503, {"error": "shard s2 has no backend up"}),
               "a count over both shards with s2 down is a 503 naming s2, not half an answer")


if __name__ == "__main__":
    h.run([test_default_key_through_haproxy, test_tag_in_key])
