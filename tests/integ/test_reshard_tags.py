#!/usr/bin/python3
"""Resharding with a tag in the shard key, for real, on loopback: a relay keyed by
["database", "measurement", "tag:host"] over two shards of two influxd 1.6.7 each, then a third
shard added to its config

    writes -> relay [[shard]] s1=a1,a2 s2=b1,b2 (+ s3=c1,c2 after a restart) -> six influxd

  * each host's series are on exactly one shard's backends (the ring computed again by
    harness.shard_of over the database, the measurement and the host; a series without the tag
    keyed by "");
  * `influx-wal reshard --plan` prints the series that move, grouped by measurement and old
    shard (series=K: the distinct values of the key's tags, several series sharing one), with
    their points, and --json lists their keys;
  * `--apply --keep-old` under a bounded write load on moving and staying hosts copies them
    and switches; the old shards keep their copy, and until the drop a SELECT of a moving
    measurement through the relay is refused (its series would be counted on both shards),
    while SHOW TAG VALUES still merges;
  * a series that appears on an old shard after the plan (as one written just before the
    switch would) is found by the sync's new plan (step=replan), copied and dropped too;
  * the second --apply drops the moved series from the old shard with DROP SERIES (gone from
    its index, not only its points), and in the end every point is on exactly the shard the new
    ring gives its host, and the relay's merged count is the total.

Uses tests/integ/harness.py (its TwoShards fixture, with s3 added). Every wait has a deadline."""

import json
import os

import harness as h

DB = "reshtag"
KEY = ["database", "measurement", "tag:host"]
THIRD = {"s3": ("c1", "c2")}
GROUPS = dict(h.SHARDS, **THIRD)
OLD, NEW = ["s1", "s2"], ["s1", "s2", "s3"]
MS = ["cpu", "mem"]
HOSTS = ["h%02d" % i for i in range(16)] + [""]  # "": series without the tag
PER = 10
T0 = 1700000000000000000


def where(host):
    return "host = '%s'" % host


def initial_lines():
    out = []
    n = 0
    for m in MS:
        for x in HOSTS:
            tag = (",host=" + x) if x else ""
            for i in range(PER):
                n += 1
                out.append("%s%s,core=c%d n=%di,v=%d.5 %d" % (m, tag, i % 2, n, n, T0 + i * 10**9))
    return out


def counts(sh, keys):
    """{(backend, m, host): points of field n} on all six, for each (m, host) of 'keys'."""
    got = {}
    for b in sh.members(GROUPS):
        be = sh.backends[b]
        have = DB in be.databases()
        for m, x in keys:
            got[(b, m, x)] = be.count(DB, m, where=where(x)) if have else 0
    return got


def expected(sh, want, ring):
    """want: {(m, host): points} -> {(backend, m, host): points} when all are on the shard
    the ring over 'ring' gives (m, host)."""
    return {(b, m, x): (n if b in GROUPS[h.shard_of(ring, DB, m, x)] else 0)
            for (m, x), n in want.items() for b in sh.members(GROUPS)}


def reshard(r, *args):
    return h.run_cli("reshard", "--config", r.config_path, "--relay", r.url, "--timeout", "60",
                     *args, timeout=200)


def test_reshard_with_a_tag_key():
    sh = h.TwoShards(more=THIRD)
    backends = sh.backends
    r = sh.relay(backends_in_config=True, key=KEY)
    h.statement(r.url, "CREATE DATABASE %s" % DB)
    st, _, body = h.write(r.url, DB, ("\n".join(initial_lines()) + "\n").encode())
    h.check_eq(st, 204, "the first points", body)
    want = {(m, x): PER for m in MS for x in HOSTS}
    exp = expected(sh, want, OLD)
    h.wait_until(lambda: counts(sh, want) == exp, timeout=60)
    h.check_eq(counts(sh, want), exp, "each host's points on exactly one shard (ring over s1,s2)")

    r.config = sh.config(GROUPS, backends=True, key=KEY)
    r.restart()
    h.wait_until(lambda: all(b["caught_up"] for b in r.health()[1]["backends"]), timeout=30)

    # The plan: per measurement and old shard, the hosts the new ring gives s3.
    movers = {}
    for m in MS:
        for x in HOSTS:
            if h.shard_of(NEW, DB, m, x) == "s3":
                movers.setdefault((m, h.shard_of(OLD, DB, m, x)), []).append(x)
    h.check(len(movers) >= 2, "hosts of both measurements move to s3", movers)
    rc, out, err = reshard(r, "--plan")
    h.check_eq(rc, 0, "reshard --plan", err)
    lines = ["move db=%s measurement=%s series=%d from=%s to=s3 points=%d" %
             (DB, m, len(xs), old, PER * len(xs)) for (m, old), xs in sorted(movers.items())]
    total = sum(PER * len(xs) for xs in movers.values())
    lines.append("plan active=s1,s2 target=s1,s2,s3 measurements=%d points=%d" %
                 (len(movers), total))
    h.check_eq(out.splitlines(), lines, "reshard --plan: exactly the series that move")
    rc, out, err = reshard(r, "--plan", "--json")
    h.check_eq(rc, 0, "reshard --plan --json", err)
    doc = json.loads(out)
    got = {(mv["measurement"], mv["from"]): sorted(k["host"] for k in mv["keys"])
           for mv in doc["moves"]}
    h.check_eq(got, {k: sorted(v) for k, v in movers.items()}, "--json: the keys of each move")

    # A write load on two moving and two staying hosts of cpu while the reshard runs.
    cpu_moving = [x for x in HOSTS if x and h.shard_of(NEW, DB, "cpu", x) == "s3"][:2]
    cpu_staying = [x for x in HOSTS if x and h.shard_of(NEW, DB, "cpu", x) != "s3"][:2]
    h.check(len(cpu_moving) == 2 and len(cpu_staying) == 2, "hosts to load", (cpu_moving,
                                                                               cpu_staying))
    loads = [h.Load(r.url, DB, points_per_request=20, requests=30, concurrency=1,
                    measurement="cpu", interval=0.05, deadline=120, extra_tags={"host": x})
             for x in cpu_moving + cpu_staying]
    for ld in loads:
        ld.start()
    h.wait_until(lambda: sum(ld.acked_total for ld in loads) > 0, timeout=30)
    rc, out, err = reshard(r, "--apply", "--keep-old")
    h.check_eq(rc, 0, "reshard --apply --keep-old", err[-2000:])
    h.check("step=switch" in err and "step=verified" in err, "copied and switched", err[-1500:])
    for (m, old), xs in movers.items():
        for x in xs:
            h.check(all(backends[b].count(DB, m, where=where(x)) >= PER for b in GROUPS[old]),
                    "%s host=%s still on its old shard %s with --keep-old" % (m, x, old))

    # Until the drop the moved series are on both shards: a SELECT is refused, SHOW merges.
    st, _, doc = h.query_json(r.url, "SELECT count(n) FROM cpu", db=DB)
    old_of = h.shard_of(OLD, DB, "cpu", cpu_moving[0])
    h.check(st == 200 and doc["results"][0].get("error", "").startswith(
        "measurement \"cpu\" in database \"%s\" is being moved from shard " % DB) and
        "some of its series are on both shards" in doc["results"][0]["error"],
        "a SELECT of a moving measurement is refused until the drop", (st, doc))
    st, _, doc = h.query_json(r.url, "SHOW TAG VALUES FROM cpu WITH KEY = host", db=DB)
    vals = sorted(v[1] for s in doc["results"][0].get("series", []) for v in s["values"])
    h.check_eq((st, vals), (200, sorted(x for x in HOSTS if x)),
               "SHOW TAG VALUES merges meanwhile (each host once)")

    # A series that reached an old shard after the plan: only there, until the sync plans again.
    late = next("late%d" % i for i in range(200)
                if h.shard_of(NEW, DB, "mem", "late%d" % i) == "s3")
    late_old = h.shard_of(OLD, DB, "mem", late)
    for b in GROUPS[late_old]:
        backends[b].write(DB, ("mem,host=%s n=1i,v=1 %d\nmem,host=%s n=2i,v=2 %d\n" %
                               (late, T0, late, T0 + 10**9)).encode())
    path = r.config_path + ".reshard"
    with open(path) as f:
        state = json.load(f)
    h.check_eq(state["phase"], "drop", "--keep-old stopped at the drop")
    state["phase"] = "sync"
    with open(path, "w") as f:
        json.dump(state, f)
    rc, out, err = reshard(r, "--apply")
    h.check_eq(rc, 0, "reshard --apply: resumes at the sync and drops", err[-2000:])
    h.check("step=replan moves=%d new=1" % (len(movers) + 1) in err,
            "the sync found the late series", err[-1500:])
    h.check(not os.path.exists(path), "done: the state file is gone")

    for ld in loads:
        ld.join(180)
        h.check(ld.conn_errors == 0 and ld.n503 == 0 and ld.acked_total == ld.requests * ld.ppr,
                "load on host %s acknowledged in full" % ld.extra_tags, ld.summary())
    h.wait_until(lambda: all(b["caught_up"] for b in r.health()[1]["backends"]), timeout=60)
    for ld, x in zip(loads, cpu_moving + cpu_staying):
        want[("cpu", x)] += ld.acked_total
    want[("mem", late)] = 2
    exp = expected(sh, want, NEW)
    got = counts(sh, want)
    h.check_eq({k: v for k, v in got.items() if v != exp[k]}, {},
               "every point on exactly the shard the new ring gives its host")
    for (m, old), xs in list(movers.items()) + [(("mem", late_old), [late])]:
        for b in GROUPS[old]:
            st, _, doc = h.query_json(backends[b].url, "SHOW SERIES FROM %s WHERE %s" % (
                m, " OR ".join(where(x) for x in xs)), db=DB)
            h.check_eq(doc["results"][0].get("series"), None,
                       "%s: the moved series of %s are gone from the index (DROP SERIES)" % (b, m))
    total = sum(n for (m, x), n in want.items() if m == "cpu")
    st, _, doc = h.query_json(r.url, "SELECT count(n) FROM cpu", db=DB)
    h.check_eq((st, doc["results"][0]["series"][0]["values"][0][1]), (200, total),
               "after the reshard the relay's merged count is the total")
    # The drop endpoint takes only a list of tag values.
    for body in (b'{"keys":[]}', b'{"keys":[{"host":1}]}', b'not json'):
        st, _, got = h.request("POST", r.url + "/api/shards/drop?shard=s1&db=%s&measurement=cpu" % DB,
                               body=body)
        h.check_eq((st, json.loads(got)), (400, {"error": "expected a JSON body {\"keys\":"
                                                 "[{\"TAG\":\"VALUE\", ...}, ...]} (the series "
                                                 "to drop), or none"}),
                   "/api/shards/drop with the body %r: 400, nothing logged" % body)
    rc, out, err = reshard(r, "--plan")
    h.check_eq((rc, out), (0, "plan active=s1,s2,s3 target=s1,s2,s3 measurements=0 points=0\n"),
               "after the reshard the plan is empty")


h.run([test_reshard_with_a_tag_key])
