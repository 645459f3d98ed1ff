#!/usr/bin/python3
"""Resharding, for real, on loopback: a relay with two shards of two influxd 1.6.7 each, then a
third shard added to its config

    load -> relay [[shard]] s1=a1,a2 s2=b1,b2 (+ s3=c1,c2 after a restart) -> six influxd

  * a shard added to the config is pending: after the restart its backends get the statements
    (a CREATE DATABASE; a backend new to the log starts at its head) but no points, and the
    ring stays over the active shards (the placement checked on all six, the ring computed
    again by harness.shard_of); /health,
    /status.json and `influx-wal status` name the active and the pending shards;
  * POST /api/shards/activate switches the ring (recorded in the log: a restart keeps it);
    removing an active shard or naming an unknown one is refused, and so is a start with a
    config that lacks a shard the log routes to (exit 2);
  * `influx-wal reshard --plan` prints exactly the measurements the ring moves, with their
    points (and --json the same);
  * `influx-wal reshard --apply` under a bounded write load: --keep-old stops before deleting
    (the state file stays, the old shard keeps its copy), a second --apply resumes and deletes;
    a point rewritten after the switch keeps its new value through the copy from the old shard;
    in the end every point is in exactly one shard's backends (counted per measurement on all
    six) and the moved measurements are gone from their old shard;
  * an --apply killed (SIGKILL) in the middle resumes from its state file and ends the same;
  * with [auth], the shards endpoints need an admin user (401, 403), which the CLI takes in the
    relay's URL;
  * two relays, each with its own log and the other as its [[peer]], behind HAProxy
    (packaging/haproxy.cfg), the load going through HAProxy to both: a --relay list that lacks a
    peer is refused (exit 2); without --relay the reshard takes the config's relay and its peer,
    switches both, and the end is the same (every point in exactly one shard, moved
    measurements gone from the old one, both relays on the new ring).

Uses tests/integ/harness.py (its TwoShards fixture, with s3 added). Every wait has a deadline."""

import base64
import json
import os
import re
import subprocess
import urllib.parse

import harness as h

DB = "reshdb"
MEASUREMENTS = ["cpu", "mem", "disk", "net", "swap", "system", "kernel", "diskio", "nstat",
                "procstat", "temp", "http"]
THIRD = {"s3": ("c1", "c2")}
GROUPS = dict(h.SHARDS, **THIRD)
shard_of = h.shard_of  # shard_of(shard names, DB, measurement)


def start_two():
    """Six influxd, s3's two not yet in the config; a relay with s1 and s2 as [[shard]] tables."""
    sh = h.TwoShards(more=THIRD)
    return sh, sh.relay(in_config=True)


def add_third(sh, r):
    """The config gains s3 (c1, c2); the relay restarts with it (a SIGHUP that changes the
    shards is refused)."""
    r.backends = [(n, sh.backends[n].url) for n in sh.members(GROUPS)]
    r.config = sh.config(GROUPS)
    r.restart()


def statement(r, q):
    h.statement(r.url, q, db=DB)


def load(r, requests=4, ppr=25, tag=None):
    loads = [h.Load(r.url, DB, points_per_request=ppr, requests=requests, concurrency=1,
                    measurement=m) for m in MEASUREMENTS]
    for ld in loads:
        ld.start()
    for ld in loads:
        ld.join(120)
        h.check(ld.conn_errors == 0 and ld.acked_total == requests * ppr,
                "load %s acknowledged" % ld.measurement, ld.summary())
    return {ld.measurement: ld.acked_total for ld in loads}


def count(backend, m):
    """Points of m on one influxd; 0 when it has not got the database (yet)."""
    if DB not in backend.databases():
        return 0
    return backend.count(DB, m)


def expect_placement(sh, want, ring):
    """Every measurement complete on both backends of the shard 'ring' gives it, absent from the
    other four."""
    got, expect = sh.placement(DB, want, shards=ring, count=lambda b, m: count(sh.backends[b], m))
    bad = {k: (got[k], v) for k, v in expect.items() if got[k] != v}
    h.check(not bad, "every point in exactly one shard's backends (ring over %s)" % ",".join(ring),
            bad)


def admin(r, path, **params):
    st, _, body = h.request("POST", r.url + path + "?" + urllib.parse.urlencode(params), body=b"")
    try:
        doc = json.loads(body.decode() or "{}")
    except ValueError:
        doc = {"raw": body[:200]}
    return st, doc


def test_pending_shard_gets_no_keys():
    sh, r = start_two()
    backends = sh.backends
    statement(r, "CREATE DATABASE %s" % DB)
    first = load(r)
    expect_placement(sh, first, ["s1", "s2"])
    add_third(sh, r)
    # A backend new to the log starts at its head: the database comes with a statement now.
    statement(r, "CREATE DATABASE %s" % DB)
    h.wait_until(lambda: all(DB in backends[b].databases() for b in ("c1", "c2")), timeout=30)
    st, doc = r.health()
    h.check_eq(doc.get("shards", {}).get("active"), ["s1", "s2"], "/health: the active shards")
    h.check_eq(doc["shards"]["pending"], ["s3"], "/health: s3 is pending")
    st, _, body = h.request("GET", r.url + "/status.json")
    sj = json.loads(body)
    h.check_eq((sj["shards"]["active"], sj["shards"]["pending"]), (["s1", "s2"], ["s3"]),
               "/status.json names them too")
    for b in ("c1", "c2"):
        h.check(DB in backends[b].databases(), "%s got the CREATE DATABASE (a statement)" % b)
    second = load(r)
    both = {m: first[m] + second[m] for m in MEASUREMENTS}
    expect_placement(sh, both, ["s1", "s2"])
    for b in ("c1", "c2"):
        h.check_eq(backends[b].points_total(DB), 0, "%s (pending s3) got no points" % b)
    r.stop()
    rc, out, err = r.run_cli("status", "--config", r.config_path)
    h.check_eq(rc, 0, "influx-wal status", err)
    line = [x for x in out.splitlines() if x.startswith("shards")]
    h.check_eq(line, ["shards      active s1,s2; pending s3 (no keys until "
                      "`influx-wal reshard --apply`)"], "influx-wal status names them")
    doc = r.cli_json("status", "--json", "--config", r.config_path)
    h.check_eq(doc.get("shards"), {"active": ["s1", "s2"], "pending": ["s3"], "switch_seq": 0},
               "influx-wal status --json")
    r.start()

    # Switching: refused for an unknown shard, for dropping an active one, then done.
    st, doc = admin(r, "/api/shards/activate", shards="s1,s2,s9")
    h.check_eq((st, doc), (404, {"error": "no such shard in the config: s9"}), "unknown shard")
    st, doc = admin(r, "/api/shards/activate", shards="s1,s3")
    h.check_eq(st, 409, "an active shard left out is refused", doc)
    st, doc = admin(r, "/api/shards/activate", shards="s1,s2,s3")
    h.check_eq(st, 200, "the switch", doc)
    seq = doc["shards"]["switch_seq"]
    h.check(seq > 0 and doc["shards"]["active"] == ["s1", "s2", "s3"] and
            doc["shards"]["pending"] == [], "switched, recorded at a sequence", doc)
    st, again = admin(r, "/api/shards/activate", shards="s3,s1,s2")
    h.check_eq((st, again["shards"]["switch_seq"]), (200, seq), "the same set again: no change")
    third = load(r)
    moved = [m for m in MEASUREMENTS if shard_of(["s1", "s2", "s3"], DB, m) == "s3"]
    h.check(len(moved) > 0, "some measurements move to s3", moved)
    for m in MEASUREMENTS:
        old = shard_of(["s1", "s2"], DB, m)
        new = shard_of(["s1", "s2", "s3"], DB, m)
        h.check(new in (old, "s3"), "%s stays on %s or moves to s3 only" % (m, old), new)
        for b in GROUPS[new]:
            h.wait_until(lambda: backends[b].count(DB, m) == third[m] + (both[m] if new == old else 0),
                         timeout=30)
            h.check_eq(backends[b].count(DB, m), third[m] + (both[m] if new == old else 0),
                       "%s on %s after the switch" % (m, b))
    r.restart()
    st, doc = r.health()
    h.check_eq((doc["shards"]["active"], doc["shards"]["switch_seq"]), (["s1", "s2", "s3"], seq),
               "a restart keeps the switched ring (the log's state)")
    # A config without s3 cannot route what the log says: refused at start, exit 2.
    r.stop()
    path = os.path.join(h.tmpdir("cfg"), "relay.toml")
    with open(path, "w") as f:
        f.write(h.to_toml(sh.config(backends=True)))
    rc, out, err = h.run_relay("--config", path, "--data-dir", r.data_dir,
                               "--listen", "127.0.0.1:%d" % h.free_port())
    h.check_eq(rc, 2, "a log routing to a shard the config lacks: exit 2", err[-500:])
    h.check("influx-wal-relay: the log's active shards do not fit the config (see the log)" in err
            and "event=shards_active_unknown shard=s3" in err, "the reason, naming s3", err[-800:])


def start_file_config():
    """As start_two, with the backends in the config file (the CLI finds them there)."""
    sh = h.TwoShards(more=THIRD)
    r = sh.relay(backends_in_config=True)
    statement(r, "CREATE DATABASE %s" % DB)
    first = load(r)
    expect_placement(sh, first, ["s1", "s2"])
    r.config = sh.config(GROUPS, backends=True)
    r.restart()
    statement(r, "CREATE DATABASE %s" % DB)
    h.wait_until(lambda: all(b["caught_up"] for b in r.health()[1]["backends"]), timeout=30)
    return sh, r, first


def reshard(r, *args, timeout=200):
    return h.run_cli("reshard", "--config", r.config_path, "--relay", r.url, "--timeout", "60",
                     *args, timeout=timeout)


def moving():
    return [m for m in sorted(MEASUREMENTS)
            if shard_of(["s1", "s2"], DB, m) != shard_of(["s1", "s2", "s3"], DB, m)]


def start_load(r, requests=30, ppr=20):
    """A bounded write load on every measurement, running while the reshard does."""
    loads = [h.Load(r.url, DB, points_per_request=ppr, requests=requests, concurrency=1,
                    measurement=m, interval=0.05, deadline=120) for m in MEASUREMENTS]
    for ld in loads:
        ld.start()
    return loads


def finish_load(loads):
    for ld in loads:
        ld.join(180)
        h.check(ld.conn_errors == 0 and ld.n503 == 0 and ld.acked_total == ld.requests * ld.ppr,
                "load %s acknowledged in full during the reshard" % ld.measurement, ld.summary())
    return {ld.measurement: ld.acked_total for ld in loads}


def check_final(sh, r, want):
    backends = sh.backends
    h.wait_until(lambda: all(b["caught_up"] for b in r.health()[1]["backends"]), timeout=60)
    expect_placement(sh, want, ["s1", "s2", "s3"])
    for m in moving():
        old = shard_of(["s1", "s2"], DB, m)
        for b in GROUPS[old]:
            # Counted, not listed: influxd 1.6 may list a dropped measurement in SHOW
            # MEASUREMENTS until it restarts.
            h.check_eq(backends[b].count(DB, m), 0,
                       "%s deleted from %s (its old shard %s)" % (m, b, old))
    st, doc = r.health()
    h.check_eq((doc["shards"]["active"], doc["shards"]["pending"]), (["s1", "s2", "s3"], []),
               "every shard active after the reshard")


def test_plan_and_apply():
    sh, r, first = start_file_config()
    backends = sh.backends
    moves = moving()
    h.check(len(moves) > 0, "some measurements move to s3", moves)
    rc, out, err = reshard(r, "--plan")
    h.check_eq(rc, 0, "reshard --plan", err)
    want = ["move db=%s measurement=%s from=%s to=s3 points=%d" %
            (DB, m, shard_of(["s1", "s2"], DB, m), first[m]) for m in moves]
    want.append("plan active=s1,s2 target=s1,s2,s3 measurements=%d points=%d" %
                (len(moves), sum(first[m] for m in moves)))
    h.check_eq(out.splitlines(), want, "reshard --plan: exactly the moves")
    rc, out, err = reshard(r, "--plan", "--json")
    h.check_eq(rc, 0, "reshard --plan --json", err)
    doc = json.loads(out)
    h.check_eq(doc, {"active": ["s1", "s2"], "target": ["s1", "s2", "s3"], "points":
                     sum(first[m] for m in moves),
                     "moves": [{"database": DB, "measurement": m,
                                "from": shard_of(["s1", "s2"], DB, m), "to": "s3",
                                "points": first[m]} for m in moves]},
               "reshard --plan --json")
    rc, out, err = h.run_cli("reshard", "--config", r.config_path, "--relay", r.url)
    h.check_eq((rc, err.splitlines()[0]), (2, "influx-wal reshard: give one of --plan and --apply"),
               "neither --plan nor --apply: usage")

    # One point of a moving measurement that is rewritten after the switch (same series and
    # timestamp, another value): the copy must leave the new value.
    rw = moves[0]
    t_rw = 1700000000000000000
    t_collide = 1699990000000000000  # a multiple of 32
    st, _, body = h.request("POST", r.url + "/write?db=" + DB,
                            body=("%s,host=rewritten n=1i,v=1 %d\n%s,host=collide v=1 %d\n" %
                                  (rw, t_rw, rw, t_collide + 24)).encode())
    h.check_eq(st, 204, "the point to rewrite, written before the reshard", body)
    first[rw] += 1
    loads = start_load(r)
    h.wait_until(lambda: sum(ld.acked_total for ld in loads) > 0, timeout=30)
    rc, out, err = reshard(r, "--apply", "--keep-old")
    h.check_eq(rc, 0, "reshard --apply --keep-old", err[-2000:])
    h.check(os.path.exists(r.config_path + ".reshard"), "--keep-old leaves the state file")
    for m in moves:
        old = shard_of(["s1", "s2"], DB, m)
        h.check(all(backends[b].count(DB, m) >= first[m] for b in GROUPS[old]),
                "%s still on its old shard %s with --keep-old" % (m, old))
    h.check("step=switch" in err and "step=settled" in err and "step=verified" in err,
            "the steps are logged", err[-1500:])
    st, _, body = h.request("POST", r.url + "/write?db=" + DB,
                            body=("%s,host=rewritten n=2i,v=2 %d\n" % (rw, t_rw)).encode())
    h.check_eq(st, 204, "the point rewritten after the switch", body)
    q = "SELECT n FROM %s WHERE host = 'rewritten'" % rw
    def rw_values(b):
        return [(row["time"], row["n"]) for row in backends[b].values(DB, q)]

    h.wait_until(lambda: all(rw_values(b) == [(t_rw, 2)] for b in GROUPS["s3"]), timeout=30)
    # Back to the sync (as a run interrupted there would resume): it copies from the old shard
    # again, which holds n=1 for that point.
    with open(r.config_path + ".reshard") as f:
        state = json.load(f)
    h.check_eq(state["phase"], "drop", "--keep-old stopped at the drop")
    state["phase"] = "sync"
    with open(r.config_path + ".reshard", "w") as f:
        json.dump(state, f)
    h.check(all(rw_values(b) == [(t_rw, 1)] for b in GROUPS[shard_of(["s1", "s2"], DB, rw)]),
            "the old shard still has the old value")
    # A point only the old shard has (as one that reached it just before the switch would be),
    # 24 ns before a point both have: its (time, field n) once hashed like the other's (time,
    # field v), and the sync took it for copied.
    for b in GROUPS[shard_of(["s1", "s2"], DB, rw)]:
        backends[b].write(DB, ("%s,host=collide n=7i %d\n" % (rw, t_collide)).encode())
    first[rw] += 1
    rc, out, err = reshard(r, "--apply")
    h.check_eq(rc, 0, "reshard --apply again: resumes and deletes", err[-2000:])
    h.check("step=resume phase=sync" in err, "it resumed at the sync", err[-1500:])
    # The rewritten point (two fields), on both new backends, seen from both old ones:
    # counted, kept.
    h.check(re.search(r"step=compare db=%s measurement=%s from=\S+ to=\S+ lacking=0 written=0 "
                      r"differing=2\b" % (DB, rw), err) is not None and
            "step=verified moves=%d differing=8" % len(moves) in err,
            "the compare counts the rewritten value as differing (kept)", err[-1500:])
    for b in GROUPS["s3"]:
        h.check_eq(rw_values(b), [(t_rw, 2)],
                   "%s keeps the value rewritten after the switch" % b)
        h.check_eq([(x["time"], x["n"]) for x in backends[b].values(
            DB, "SELECT n FROM %s WHERE host = 'collide'" % rw)], [(t_collide, 7)],
            "%s got the point only the old shard had" % b)
    h.check(not os.path.exists(r.config_path + ".reshard"), "done: the state file is gone")
    h.check(out.startswith("reshard done measurements=%d " % len(moves)), "the summary", out)
    second = finish_load(loads)
    check_final(sh, r, {m: first[m] + second[m] for m in MEASUREMENTS})
    rc, out, err = reshard(r, "--plan")
    h.check_eq((rc, out), (0, "plan active=s1,s2,s3 target=s1,s2,s3 measurements=0 points=0\n"),
               "after the reshard the plan is empty")


def test_apply_killed_resumes():
    sh, r, first = start_file_config()
    loads = start_load(r, requests=20)
    argv = [h.cli_bin(), "reshard", "--config", r.config_path, "--relay", r.url, "--apply"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    state = r.config_path + ".reshard"
    try:
        h.wait_until(lambda: os.path.exists(state) or proc.poll() is not None, timeout=60)
    finally:
        proc.kill()
        proc.wait(30)
    h.check(os.path.exists(state), "killed with its state file written")
    rc, out, err = reshard(r, "--apply")
    h.check_eq(rc, 0, "reshard --apply after the kill: resumed to the end", err[-2000:])
    h.check("step=resume" in err, "it resumed from the state file", err[-1500:])
    second = finish_load(loads)
    check_final(sh, r, {m: first[m] + second[m] for m in MEASUREMENTS})


def test_two_relays_behind_haproxy():
    import test_topology as topo
    sh = h.TwoShards(more=THIRD)
    relays = [sh.relay(backends_in_config=True, name="relay%d" % i) for i in (1, 2)]
    statement(relays[0], "CREATE DATABASE %s" % DB)
    front, stats = h.free_port(), h.free_port()
    cfg = os.path.join(h.tmpdir("haproxy-cfg"), "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(topo.haproxy_config(front, stats, {"relay1": relays[0], "relay2": relays[1]}))
    h.Process([topo.HAPROXY, "-db", "-f", cfg], name="haproxy", port=front).start(timeout=15)
    class Front:  # load() and start_load() use only the url
        url = "http://127.0.0.1:%d" % front

    hp = Front()
    stats_url = "http://127.0.0.1:%d" % stats
    h.wait_until(lambda: topo.relay_state(stats_url, "relay1") == "UP" and
                 topo.relay_state(stats_url, "relay2") == "UP", timeout=15)
    h.check(topo.relay_state(stats_url, "relay1") == "UP" and
            topo.relay_state(stats_url, "relay2") == "UP", "HAProxy sees both relays UP",
            topo.haproxy_states(stats_url))
    first = load(hp)
    expect_placement(sh, first, ["s1", "s2"])
    # With s3, and each relay the other's [[peer]] (the statements' leader and fences): the
    # reshard finds the other relay in the config.
    for i, r in enumerate(relays):
        other = relays[1 - i]
        r.config = dict(sh.config(GROUPS, backends=True),
                        http={"listen": ["127.0.0.1:%d" % r.port]},
                        relay={"name": "relay%d" % (i + 1)},
                        peer=[{"name": "relay%d" % (2 - i), "url": other.url}])
        r.restart()
    h.wait_until(lambda: topo.relay_state(stats_url, "relay1") == "UP" and
                 topo.relay_state(stats_url, "relay2") == "UP", timeout=15)
    statement(relays[0], "CREATE DATABASE %s" % DB)
    h.wait_until(lambda: all(b["caught_up"] for r in relays for b in r.health()[1]["backends"]),
                 timeout=30)
    loads = start_load(hp)
    h.wait_until(lambda: sum(ld.acked_total for ld in loads) > 0, timeout=30)
    rc, out, err = h.run_cli("reshard", "--plan", "--config", relays[0].config_path,
                             "--relay", relays[0].url)
    h.check_eq((rc, err.splitlines()[:1]), (2, [
        "influx-wal reshard: peer relay2 (%s) of %s is not given with --relay: every relay must "
        "switch (give each one's URL as the peer has it, this relay's too)" % (
            relays[1].url, relays[0].config_path)]), "a [[peer]] left out of --relay: exit 2")
    # Without --relay: this relay (the config's listen) and its peer.
    rc, out, err = h.run_cli("reshard", "--apply", "--config", relays[0].config_path,
                             "--timeout", "60", timeout=200)
    h.check_eq(rc, 0, "reshard --apply over both relays (the config's own and its peer)",
               err[-2000:])
    h.check_eq(len(re.findall(r"step=switch relay=", err)), 2, "both relays switched")
    h.check(re.search(r"step=drop db=%s measurement=\S+ shard=\S+ relay=%s seq=" %
                      (DB, re.escape(relays[0].url)), err) is not None,
            "the drops went to relay1, the peers' leader", err[-1500:])
    st, doc = admin(relays[1], "/api/shards/drop", shard="s1", db=DB, measurement="cpu")
    h.check_eq((st, doc), (409, {"error": "this relay is not the leader of its peers: relay "
                                          "relay1 commits the statements, post the drop there"}),
               "a drop posted to relay2 (not the leader): 409, naming the leader")
    second = finish_load(loads)
    took = [r.metric("influx_wal_ingest_points_total", 0) for r in relays]
    h.check(all(n > 0 for n in took), "HAProxy spread the writes over both relays", took)
    for r in relays:
        h.wait_until(lambda: all(b["caught_up"] for b in r.health()[1]["backends"]), timeout=60)
    check_final(sh, relays[1], {m: first[m] + second[m] for m in MEASUREMENTS})
    st, doc = relays[0].health()
    h.check_eq(doc["shards"]["active"], ["s1", "s2", "s3"], "relay1 on the new ring too")


def test_admin_auth():
    """With [auth], the shards endpoints need an admin user; the CLI takes one in the relay's
    URL."""
    bs = {n: h.Influxd(n).start() for n in ("a1", "b1", "c1")}
    users = {"enabled": True, "user": [{"name": "admin", "password": "pw1", "admin": True},
                                       {"name": "writer", "password": "pw2"}]}

    def cfg(names):
        return {"auth": users, "backend": [{"name": b, "url": bs[b].url} for b in names],
                "shard": [{"name": "s%d" % (i + 1), "backends": [b]} for i, b in enumerate(names)]}

    r = h.Relay(config=cfg(["a1", "b1"])).start()
    r.config = cfg(["a1", "b1", "c1"])
    r.restart()
    for who, want in ((None, 401), ("writer:pw2", 403), ("admin:pw1", 200)):
        hdrs = {}
        if who is not None:
            hdrs["Authorization"] = "Basic " + base64.b64encode(who.encode()).decode()
        st, _, body = h.request("GET", r.url + "/api/shards", headers=hdrs)
        h.check_eq(st, want, "GET /api/shards as %s" % (who or "nobody"), body[:200])
    st, _, body = h.request("POST", r.url + "/api/shards/activate?shards=s1,s2,s3", body=b"",
                            headers={"Authorization": "Basic " + base64.b64encode(
                                b"writer:pw2").decode()})
    h.check_eq(st, 403, "a switch by a user who is not admin is refused", body[:200])
    with_admin = r.url.replace("http://", "http://admin:pw1@")
    rc, out, err = h.run_cli("reshard", "--plan", "--config", r.config_path, "--relay", with_admin)
    h.check_eq((rc, out), (0, "plan active=s1,s2 target=s1,s2,s3 measurements=0 points=0\n"),
               "reshard --plan with an admin user in the relay's URL", err)
    rc, out, err = h.run_cli("reshard", "--plan", "--config", r.config_path, "--relay", r.url)
    h.check(rc == 1 and "answered 401" in err, "without one: exit 1, the relay's 401 said", err)


def moving_refusal(m, old):
    return {"error": "measurement \"%s\" in database \"%s\" is being moved from shard %s to "
                     "s3 by a reshard: retry when it is done" % (m, DB, old)}


def committed(r):
    return len(r.grep_log(r"event=statement_committed"))


def test_moving_refuses_deletes():
    """While a reshard moves a measurement, a relay refuses what would delete its points (409,
    nothing committed), keeps refusing across a restart, and lets everything else pass; after
    the reshard the same DELETE works on the new shard."""
    sh, r, first = start_file_config()
    backends = sh.backends
    moves = moving()
    m = moves[0]
    old = shard_of(["s1", "s2"], DB, m)
    stay = [x for x in sorted(MEASUREMENTS) if x not in moves][0]
    rc, out, err = reshard(r, "--plan", "--json")
    h.check_eq(rc, 0, "reshard --plan --json", err)
    plan = json.loads(out)
    # The set as `reshard --apply` gives it (the plan's moves; their points are ignored).
    st, _, body = h.request("POST", r.url + "/api/shards/moving", body=out.encode(),
                            headers={"Content-Type": "application/json"})
    h.check_eq(st, 200, "POST /api/shards/moving", body[:300])
    doc = json.loads(body)
    seq = doc["shards"]["moving_seq"]
    want_moving = [{k: mv[k] for k in ("database", "measurement", "from", "to")}
                   for mv in plan["moves"]]
    h.check(seq > 0 and doc["shards"]["moving"] == want_moving,
            "the moving set, recorded at a sequence", doc)
    st, hd = r.health()
    h.check_eq((hd["shards"]["moving"], hd["shards"]["moving_seq"]), (want_moving, seq),
               "/health shows the moving set")
    before = committed(r)
    refused = [
        ("DELETE FROM %s" % m, moving_refusal(m, old)),
        ("DELETE FROM \"%s\" WHERE time < now()" % m, moving_refusal(m, old)),
        ("DROP MEASUREMENT %s" % m, moving_refusal(m, old)),
        ("DROP SERIES FROM %s, %s" % (stay, m), moving_refusal(m, old)),
        ("DELETE FROM %s; DELETE FROM %s" % (stay, m), moving_refusal(m, old)),
        ("DELETE WHERE time < now()", {"error": "DELETE without FROM may delete points of "
                                       "measurement \"%s\" in database \"%s\", which is being "
                                       "moved from shard %s to s3 by a reshard: retry when it "
                                       "is done" % (m, DB, old)}),
        ("DELETE FROM /%s/" % m[:2], {"error": "a regex in FROM may delete points of measurement "
                                      "\"%s\" in database \"%s\", which is being moved from "
                                      "shard %s to s3 by a reshard: retry when it is done" %
                                      (m, DB, old)}),
        ("DROP DATABASE %s" % DB, {"error": "DROP DATABASE may delete points of measurement "
                                   "\"%s\" in database \"%s\", which is being moved from "
                                   "shard %s to s3 by a reshard: retry when it is done" %
                                   (m, DB, old)}),
    ]
    for q, want in refused:
        st, _, doc = h.query_json(r.url, q, db=DB)
        h.check_eq((st, doc), (409, want), "refused while moving: %s" % q)
    h.check_eq(committed(r), before, "nothing committed for the refused statements")
    for b in GROUPS[old]:
        h.check_eq(backends[b].count(DB, m), first[m], "%s still has every point of %s" % (b, m))
    stay_shard = shard_of(["s1", "s2"], DB, stay)
    for b in GROUPS[stay_shard]:
        h.check_eq(backends[b].count(DB, stay), first[stay],
                   "%s: the DELETE FROM %s beside a refused one was not run" % (b, stay))
    # Other statements pass: a DELETE of a measurement that stays, another database's DROP.
    h.statement(r.url, "DELETE FROM %s" % stay, db=DB)
    h.statement(r.url, "CREATE DATABASE other")
    h.statement(r.url, "DROP DATABASE other")
    for b in GROUPS[stay_shard]:
        h.wait_until(lambda: backends[b].count(DB, stay) == 0, timeout=30)
        h.check_eq(backends[b].count(DB, stay), 0, "%s: DELETE FROM %s (not moving) ran" %
                   (b, stay))
    r.restart()
    st, _, doc = h.query_json(r.url, "DELETE FROM %s" % m, db=DB)
    h.check_eq((st, doc), (409, moving_refusal(m, old)), "refused after a restart too")
    st, hd = r.health()
    h.check_eq((hd["shards"]["moving"], hd["shards"]["moving_seq"]), (want_moving, seq),
               "a restart keeps the moving set (the log's state)")
    # The reshard sets the same set (no change) and clears it at the end.
    rc, out, err = reshard(r, "--apply")
    h.check_eq(rc, 0, "reshard --apply", err[-2000:])
    h.check("step=moving relay=%s measurements=%d seq=%d" % (r.url, len(moves), seq) in err and
            "step=moving relay=%s measurements=0 seq=0" % r.url in err,
            "--apply set the moving set (the same one: unchanged) and cleared it", err[-2000:])
    st, hd = r.health()
    h.check_eq((hd["shards"]["moving"], hd["shards"]["moving_seq"]), ([], 0),
               "nothing moves after the reshard")
    for b in GROUPS["s3"]:
        h.check_eq(backends[b].count(DB, m), first[m], "%s (new shard) has every point of %s" %
                   (b, m))
    h.statement(r.url, "DELETE FROM %s" % m, db=DB)
    for b in GROUPS["s3"] + GROUPS[old]:
        h.wait_until(lambda: backends[b].count(DB, m) == 0, timeout=30)
        h.check_eq(backends[b].count(DB, m), 0, "%s: DELETE FROM %s after the reshard" % (b, m))
    st, _, body = h.request("POST", r.url + "/api/shards/moving", body=b"{\"moves\":[{}]}")
    h.check_eq(st, 400, "a move without its names is refused", body[:300])


def auth_headers(who):
    return {"Authorization": "Basic " + base64.b64encode(who.encode()).decode()}


def test_reshard_apply_with_auth():
    """With [auth], --apply works with the admin user in the relay's URL (a password holding
    '@' and ':'), and without it ends at once with one line and exit 1."""
    bs = {n: h.Influxd(n).start() for n in ("a1", "b1", "c1")}
    users = {"enabled": True, "user": [{"name": "admin", "password": "p@ss:w", "admin": True},
                                       {"name": "writer", "password": "pw2"}]}

    def cfg(names):
        return {"auth": users, "backend": [{"name": b, "url": bs[b].url} for b in names],
                "shard": [{"name": "s%d" % (i + 1), "backends": [b]} for i, b in enumerate(names)]}

    r = h.Relay(config=cfg(["a1", "b1"])).start()
    st, _, body = h.request("POST", r.url + "/query?q=CREATE+DATABASE+" + DB, body=b"",
                            headers=auth_headers("admin:p@ss:w"))
    h.check(st in (200, 202), "CREATE DATABASE as admin", body[:200])
    lines = "".join("%s,host=h n=%di %d\n" % (m, i, 1700000000000000000 + i)
                    for m in MEASUREMENTS for i in range(10))
    st, _, body = h.write(r.url, DB, lines, auth=("writer", "pw2"))
    h.check_eq(st, 204, "points written as writer", body[:200])
    for m in MEASUREMENTS:
        b = bs["a1" if shard_of(["s1", "s2"], DB, m) == "s1" else "b1"]
        h.wait_until(lambda: count(b, m) == 10, timeout=30)
    r.config = cfg(["a1", "b1", "c1"])
    r.restart()
    moves = moving()
    for args in (("--plan",), ("--apply",)):
        rc, out, err = h.run_cli("reshard", *args, "--config", r.config_path, "--relay", r.url,
                                 "--timeout", "30")
        h.check_eq((rc, err.strip().splitlines()),
                   (1, ["influx-wal reshard: relay %s answered 401 to /api/shards: %s (with "
                        "[auth] its operator endpoints need a relay user with admin = true: give "
                        "it in the URL, --relay http://USER:PASSWORD@HOST:PORT)" %
                        (r.url, json.loads(h.request("GET", r.url + "/api/shards")[2])["error"])]),
                   "reshard %s without credentials: one line, exit 1" % args[0])
    h.check(not os.path.exists(r.config_path + ".reshard"), "nothing started without them")
    with_admin = r.url.replace("http://", "http://admin:p@ss:w@")
    rc, out, err = h.run_cli("reshard", "--apply", "--config", r.config_path, "--relay",
                             with_admin, "--timeout", "60", timeout=200)
    h.check_eq(rc, 0, "reshard --apply with the admin user in the relay's URL", err[-2000:])
    h.check(out.splitlines()[-1].startswith("reshard done measurements=%d " % len(moves)),
            "it moved every measurement the ring gives s3", out)
    h.check("p@ss" not in out + err and "step=switch relay=%s " % r.url in err,
            "the password is never printed", err[-1500:])
    mv = re.search(r"step=moving relay=%s measurements=%d seq=(\d+)" % (re.escape(r.url),
                                                                      len(moves)), err)
    h.check(mv is not None and int(mv.group(1)) > 0 and err.index(mv.group(0)) <
            err.index("step=copy"), "the relay was told the moving set before the copy",
            err[-1500:])
    st, _, body = h.request("GET", r.url + "/api/shards", headers=auth_headers("admin:p@ss:w"))
    doc = json.loads(body)
    h.check_eq((doc["shards"]["active"], doc["shards"]["moving"]), (["s1", "s2", "s3"], []),
               "switched, nothing moving")
    for m in moves:
        old = bs["a1" if shard_of(["s1", "s2"], DB, m) == "s1" else "b1"]
        h.check_eq((count(bs["c1"], m), count(old, m)), (10, 0),
                   "%s moved to c1 and deleted from its old shard" % m)


def test_plan_counts_every_rp():
    """--plan's points are every retention policy's."""
    bs = {n: h.Influxd(n).start() for n in ("a1", "b1", "c1")}

    def cfg(names):
        return {"backend": [{"name": b, "url": bs[b].url} for b in names],
                "shard": [{"name": "s%d" % (i + 1), "backends": [b]} for i, b in enumerate(names)]}

    r = h.Relay(config=cfg(["a1", "b1"])).start()
    statement(r, "CREATE DATABASE %s" % DB)
    statement(r, "CREATE RETENTION POLICY two ON %s DURATION 0s REPLICATION 1" % DB)
    moves = moving()
    m = moves[0]
    lines = "".join("%s,host=h n=%di %d\n" % (m, i, 1700000000000000000 + i) for i in range(7))
    st, _, body = h.write(r.url, DB, lines)
    h.check_eq(st, 204, "7 points in the default policy", body[:200])
    lines = "".join("%s,host=h n=%di,v=1 %d\n" % (m, i, 1700000000000000000 + i)
                    for i in range(5))
    st, _, body = h.write(r.url, DB, lines, rp="two")
    h.check_eq(st, 204, "5 points (2 fields) in policy two", body[:200])
    b = bs["a1" if shard_of(["s1", "s2"], DB, m) == "s1" else "b1"]
    h.wait_until(lambda: count(b, m) == 7 and b.count(DB, m, rp="two") == 5, timeout=30)
    r.config = cfg(["a1", "b1", "c1"])
    r.restart()
    rc, out, err = h.run_cli("reshard", "--plan", "--config", r.config_path, "--relay", r.url)
    h.check_eq(rc, 0, "reshard --plan", err)
    line = [x for x in out.splitlines() if x.startswith("move db=%s measurement=%s " % (DB, m))]
    h.check_eq(line, ["move db=%s measurement=%s from=%s to=s3 points=12" %
                      (DB, m, shard_of(["s1", "s2"], DB, m))],
               "the points of both retention policies")


h.run([test_admin_auth, test_pending_shard_gets_no_keys, test_plan_and_apply, test_apply_killed_resumes,
       test_two_relays_behind_haproxy, test_moving_refuses_deletes, test_reshard_apply_with_auth,
       test_plan_counts_every_rp])
