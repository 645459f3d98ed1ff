#!/usr/bin/python3
"""Several relays, each with its own log, feeding the same influxd: the statement barrier
(replay/fence.c). Real influxd 1.6.7 on loopback; tests/integ/faulty.py holds one relay's
writes to B so that they reach B late.

- ordering: writes of value 1 through relay r2 (whose sender to B is slow), then a DELETE
  through r1 (the leader), then writes of value 2 through r2: B ends with only the value-2
  points. With peer-timeout 1ms (the barrier gives up at once) the same run leaves value-1
  points on B: the test fails without the barrier.
- forwarding: a statement sent to r2 is forwarded to r1; the answer is the backend's.
- a peer that is down: the statement commits and applies after the bounded wait, counted.
- the leader's log far longer than the peer's: a statement meets the barrier at once (the
  peer's fence reports the leader's statement number), no wait times out.
- HAProxy in front of both relays: bounded writes through it, influxd B stopped (by PID) and
  restarted on its data dir meanwhile, a DROP MEASUREMENT through r1 and a DELETE ... WHERE
  time < X through HAProxy: A and B end with the same count and sum per measurement (each
  counted on its own influxd), both equal to what the acknowledged writes and the statements
  leave, and `influx-wal scrub` exits 0."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import test_topology as topo  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FAULTY = os.path.join(HERE, "faulty.py")
DB = "peers"


def faulty_http(target, *args):
    port = h.free_port()
    argv = [sys.executable, FAULTY, "http", "--listen", str(port), "--target", target.url]
    argv += [str(a) for a in args]
    return h.Process(argv, name="faulty-http-%d" % port, port=port).start()


def relay_pair(a, b, b_for_r2=None, peer_timeout="30s", ports=None, extra=None):
    """r1 and r2, each with both backends and the other as its [[peer]] (and the sections of
    'extra', e.g. [scrub])."""
    p1, p2 = ports or (h.free_port(), h.free_port())
    def cfg(name, port_other, other, b_url):
        return {"relay": {"name": name, "peer-timeout": peer_timeout},
                "peer": [{"name": other, "url": "http://127.0.0.1:%d" % port_other}],
                "backend": [{"name": "a", "url": a.url, "retry-max-delay": "1s"},
                            {"name": "b", "url": b_url, "retry-max-delay": "1s"}],
                **(extra or {})}
    r1 = h.Relay(name="r1", config=cfg("r1", p2, "r2", b.url)).start(port=p1)
    r2 = h.Relay(name="r2", config=cfg("r2", p1, "r1", b_for_r2 or b.url)).start(port=p2)
    return r1, r2


def values(x, m="m"):
    res = x.query('SELECT "n" FROM "%s"' % m, db=DB)
    out = []
    for r in res.get("results", []):
        for s in r.get("series", []) or []:
            out += [row[1] for row in s["values"]]
    return sorted(out)


def lines(v, ts0, count):
    return "".join("m,t=x n=%di %d\n" % (v, ts0 + i) for i in range(count)).encode()


def shows_barrier_wait(r1):
    """r1's /health, /status.json and status page all show its sender for b holding a
    statement for the peers, and list peer r2 (up, not the leader; r1 leads)."""
    import json
    st, doc = r1.health(timeout=5)
    if st != 200 or not isinstance(doc, dict):
        return None
    hb = {x["name"]: x for x in doc["backends"]}
    if "barrier_wait" not in hb["b"]:
        return None
    sj = json.loads(h.get(r1.url + "/status.json", timeout=5)[2])
    sb = {x["name"]: x for x in sj["backends"]}
    page = h.get(r1.url + "/status", timeout=5)[2].decode()
    if "barrier_wait" not in sb["b"] or "barrier-wait" not in page:
        return None
    return doc, sj, page


def ordering_run(peer_timeout, on_statement=None):
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    for x in (a, b):
        x.create_db(DB)
    slow = faulty_http(b, "--hold-before-ms", 3000, "--paths", "/write")
    r1, r2 = relay_pair(a, b, b_for_r2=slow.url, peer_timeout=peer_timeout)
    try:
        h.check(h.wait_until(lambda: h.get(r2.url + "/api/peer/status")[0] == 200, timeout=10),
                "r2 answers /api/peer/status")
        t0 = 1_600_000_000_000_000_000
        st, _, body = h.write(r2.url, DB, lines(1, t0, 20), precision="ns")
        h.check_eq(st, 204, "value-1 writes through r2", body)
        st, _, body = h.request("POST", r1.url + "/query?db=" + DB,
                                body=b"q=DELETE+FROM+%22m%22",
                                headers={"Content-Type": "application/x-www-form-urlencoded"},
                                timeout=60)
        h.check(st in (200, 202), "DELETE through r1", st, body)
        if on_statement is not None:
            on_statement(r1, r2)
        st, _, body = h.write(r2.url, DB, lines(2, t0 + 1000, 20), precision="ns")
        h.check_eq(st, 204, "value-2 writes through r2", body)
        def settled():
            return all(x.count(DB, "m") == 20 for x in (a, b)) and \
                all(not s["lag_records"] for r in (r1, r2) for s in
                    __import__("json").loads(h.get(r.url + "/api/peer/status")[2])["backends"])
        h.wait_until(settled, timeout=60, interval=0.5, errors_ok=True)
        return values(a), values(b), r1, r2
    finally:
        pass


def test_ordering():

    def waits(r1, _r2):
        """While r2's value-1 writes are held on their way to B, r1's sender for b holds the
        DELETE: /health, /status.json and the page show it."""
        got = h.wait_until(lambda: shows_barrier_wait(r1), timeout=10, interval=0.1,
                           errors_ok=True)
        h.check(got, "r1 shows its sender for b waiting at the barrier")
        doc, sj, page = got
        h.check_eq(doc["status"], "warn", "/health warns while the barrier waits", doc)
        h.check(any("holds statement" in x for x in doc["reasons"]), "a reason names the wait",
                doc["reasons"])
        bw = {x["name"]: x for x in doc["backends"]}["b"]["barrier_wait"]
        h.check(bw["seq"] > 0 and bw["since"] > 0, "the wait names its statement and start", bw)
        h.check_eq(doc.get("leader"), "r1", "/health: r1 leads")
        h.check_eq([(p["name"], p["up"], p["leader"]) for p in doc.get("peers", [])],
                   [("r2", True, False)], "/health lists peer r2: up, not the leader")
        h.check_eq([p["name"] for p in sj.get("peers", [])], ["r2"], "/status.json lists r2")
        h.check("Peer relays" in page and 'data-peer="r2"' in page, "the page lists r2")

    va, vb, r1, r2 = ordering_run("30s", on_statement=waits)
    h.check_eq(vb, [2] * 20, "B holds only the value-2 points (the DELETE waited for r2)")
    h.check_eq(va, [2] * 20, "A holds only the value-2 points")
    h.check(r2.grep_log("event=fence_requested"), "r2 committed a fence")
    st, doc = r1.health()
    h.check(all("barrier_wait" not in x and "fence_wait" not in x for x in doc["backends"]),
            "once delivered, /health shows no wait", doc)
    st, doc = r2.health()
    h.check_eq([(p["name"], p["up"], p["leader"]) for p in doc.get("peers", [])],
               [("r1", True, True)], "r2's /health lists peer r1: up, the leader", doc)
    h.stop_all()


def test_ordering_without_barrier():
    """The same run with the barrier giving up at once: B keeps value-1 points, which proves
    the ordering test can fail."""
    _va, vb, _r1, _r2 = ordering_run("1ms")
    h.check(1 in vb, "without the barrier the DELETE overtakes r2's value-1 writes on B", vb)
    h.stop_all()


def test_forward_and_peer_down():
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    r1, r2 = relay_pair(a, b, peer_timeout="3s")
    time.sleep(1.5)  # a poll each way
    st, hdr, body = h.request("POST", r2.url + "/query",
                              body=b"q=CREATE+DATABASE+fwd",
                              headers={"Content-Type": "application/x-www-form-urlencoded"},
                              timeout=30)
    h.check_eq(st, 200, "the statement sent to r2 is answered", body)
    h.check(b'"results"' in body, "the answer is influxd's", body)
    h.check(r2.grep_log("event=statement_forwarded leader=r1"), "r2 forwarded it to r1")
    h.check(r1.grep_log("event=statement_committed"), "r1 committed it")
    h.check(h.wait_until(lambda: "fwd" in b.databases() and "fwd" in a.databases(), timeout=20),
            "both backends created it")
    # r2 down: r1 still commits and applies after the bounded wait, counted.
    r2.stop()
    h.check(h.wait_until(lambda: [(p["name"], p["up"]) for p in r1.health()[1]["peers"]] ==
                         [("r2", False)], timeout=10, errors_ok=True),
            "r1's /health shows peer r2 down", r1.health()[1])
    t = time.time()
    st, _, body = h.request("POST", r1.url + "/query",
                            body=b"q=CREATE+DATABASE+down",
                            headers={"Content-Type": "application/x-www-form-urlencoded"},
                            timeout=60)
    h.check(st in (200, 202), "committed with a peer down", st, body)
    h.check(h.wait_until(lambda: "down" in a.databases() and "down" in b.databases(), timeout=30),
            "applied after the bounded wait", time.time() - t)
    met = h.get(r1.url + "/metrics")[2].decode()
    h.check("influx_wal_peer_fences_failed_total" in met or
            "influx_wal_peer_barrier_timeouts_total" in met, "counted in /metrics", met[-2000:])
    h.stop_all()


def test_leader_ahead():
    """The leader's log longer than the peer's (writes went through the leader): the peer's
    sender at its fence reports the leader's statement, so the barrier meets at once, with no
    wait until peer-timeout on either side."""
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    for x in (a, b):
        x.create_db(DB)
    r1, r2 = relay_pair(a, b, peer_timeout="30s")
    h.check(h.wait_until(lambda: h.get(r2.url + "/api/peer/status")[0] == 200 and
                         h.get(r1.url + "/api/peer/status")[0] == 200, timeout=10),
            "both relays answer /api/peer/status")
    t0 = 1_600_000_000_000_000_000
    for i in range(40):
        st, _, body = h.write(r1.url, DB, lines(1, t0 + 100 * i, 5), precision="ns")
        h.check(st == 204, "write %d through r1" % i, body)
    h.wait_until(lambda: all(x.count(DB, "m") == 200 for x in (a, b)), timeout=30)
    st, _, body = h.write(r2.url, DB, lines(2, t0 + 10**9, 5), precision="ns")
    h.check_eq(st, 204, "one write through r2 (its log far shorter)", body)
    st, _, body = post_query(r1.url, 'DELETE FROM "m" WHERE time < %d' % (t0 + 10**9))
    h.check(st in (200, 202), "DELETE through r1, statement %s" % body, st)
    h.check(h.wait_until(lambda: all(x.count(DB, "m") == 5 for x in (a, b)), timeout=15),
            "applied on both backends well within peer-timeout",
            [x.count(DB, "m") for x in (a, b)])
    h.check_eq((r1.metric("influx_wal_peer_barrier_timeouts_total", 0),
                r2.metric("influx_wal_peer_fence_timeouts_total", 0)), (0, 0),
               "no barrier or fence wait timed out")
    h.stop_all()


HOUR = 3600 * 10**9


def post_query(url, q, timeout=60):
    body = b"q=" + __import__("urllib.parse").parse.quote_plus(q).encode()
    return h.request("POST", url + "/query?db=" + DB, body=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded"},
                     timeout=timeout)


def count_sum(x, m):
    """(count, sum) of field n in measurement m, asked of influxd x itself."""
    res = x.query('SELECT count("n"), sum("n") FROM "%s"' % m, db=DB)
    for r in res.get("results", []):
        for s in r.get("series", []) or []:
            row = s["values"][0]
            return int(row[1]), int(row[2])
    return 0, 0


def settled(relays):
    """Every relay's every sender has delivered everything (its /api/peer/status)."""
    import json
    for r in relays:
        st, _, body = h.get(r.url + "/api/peer/status", timeout=5)
        if st != 200 or any(b["lag_records"] for b in json.loads(body)["backends"]):
            return False
    return True


def test_haproxy_mirror():
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    for x in (a, b):
        x.create_db(DB)
    r1, r2 = relay_pair(a, b, peer_timeout="10s")
    front, stats = h.free_port(), h.free_port()
    cfg = os.path.join(h.tmpdir("haproxy-cfg"), "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(topo.haproxy_config(front, stats, {"relay1": r1, "relay2": r2}))
    hp = h.Process([topo.HAPROXY, "-db", "-f", cfg], name="haproxy", port=front).start(timeout=15)
    hp_url = "http://127.0.0.1:%d" % front
    stats_url = "http://127.0.0.1:%d" % stats
    h.check(h.wait_until(lambda: topo.relay_state(stats_url, "relay1") == "UP" and
                         topo.relay_state(stats_url, "relay2") == "UP", timeout=15),
            "HAProxy sees both relays UP", topo.haproxy_states(stats_url))
    t0 = 1_600_000_000_000_000_000 - 1_600_000_000_000_000_000 % HOUR
    cut = t0 + HOUR  # DELETE FROM m1 WHERE time < cut
    expect = {m: {} for m in ("m1", "m2", "m3")}  # measurement -> {ts: n}
    seq = [0]

    def write_round(rnd, requests=12, per=25):
        """Bounded writes through HAProxy: each request 25 points spread over three hours;
        every point a timestamp of its own, so nothing overwrites anything."""
        for q in range(requests):
            m = ("m1", "m2", "m3")[q % 3]
            pts = []
            for _ in range(per):
                seq[0] += 1
                ts = t0 + (seq[0] % 3) * HOUR + seq[0] * 10**6
                pts.append((ts, rnd * 100000 + seq[0]))
            body = "".join("%s,t=x n=%di %d\n" % (m, n, ts) for ts, n in pts).encode()
            st, _, resp = h.write(hp_url, DB, body, precision="ns")
            h.check_eq(st, 204, "round %d: write through HAProxy" % rnd, resp)
            expect[m].update(pts)

    try:
        write_round(1)
        h.check_eq(b.stop(), 0, "influxd b stopped (SIGTERM to its PID)")
        write_round(2)
        st, _, body = post_query(r1.url, 'DROP MEASUREMENT "m2"')
        h.check(st in (200, 202) and b"error" not in body, "DROP MEASUREMENT through r1", st, body)
        expect["m2"].clear()
        write_round(3)
        st, _, body = post_query(hp_url, 'DELETE FROM "m1" WHERE time < %d' % cut)
        h.check(st in (200, 202) and b"error" not in body, "DELETE through HAProxy", st, body)
        expect["m1"] = {ts: n for ts, n in expect["m1"].items() if ts >= cut}
        write_round(4)
        b.restart()
        h.check(b.ping(), "influxd b restarted on its data dir")
        write_round(5)
        h.check(h.wait_until(lambda: settled((r1, r2)), timeout=90, interval=0.5,
                             errors_ok=True), "both relays delivered everything to A and B")
        for m in ("m1", "m2", "m3"):
            want = (len(expect[m]), sum(expect[m].values()))
            ca, cb = count_sum(a, m), count_sum(b, m)
            h.check_eq(ca, want, "%s on A: count and sum as the writes and statements leave" % m)
            h.check_eq(cb, ca, "%s: B holds the same count and sum as A" % m)
        for r, name in ((r1, "r1"), (r2, "r2")):
            met = h.get(r.url + "/metrics")[2].decode()
            h.check(re.search(r"^influx_wal_ingest_points_total\S* [1-9]", met, re.M),
                    "%s took writes from HAProxy" % name, met[:1500])
        rc, out, err = r1.run_cli("scrub", "--backend", "a", "--backend", "b",
                                  "--url", "a=" + a.url, "--url", "b=" + b.url)
        h.check_eq(rc, 0, "influx-wal scrub: A and B agree", out, err)
    finally:
        hp.stop()
    h.stop_all()


def scrub_runs(r):
    return r.metric("influx_wal_scrub_runs_total", default=0)


def two_more_runs(*relays):
    n = [scrub_runs(r) for r in relays]
    h.check(h.wait_until(lambda: all(scrub_runs(r) >= k + 2 for r, k in zip(relays, n)),
                         timeout=60), "two more background scrub runs")


def scrub_counts(r):
    return (r.metric("influx_wal_scrub_windows_differing", backend_a="a", backend_b="b"),
            r.metric("influx_wal_scrub_in_flight_windows"))


def test_bgscrub_peer_in_flight():
    """The background scrub on r1 counts a window as in flight while peer r2 has not delivered
    it to B: points for db2 (on A only) written through r2, whose sender for b holds them (404).
    A relay r3 on the same backends that does not know r2 reports the same window as differing
    (so the rule is what keeps r1 quiet); once B has db2 and r2 delivers, r1 reports nothing."""
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    for x in (a, b):
        x.create_db(DB)
    scrub = {"scrub": {"enabled": True, "interval": "2s", "window": "6h", "rate": 50}}
    r1, r2 = relay_pair(a, b, extra=scrub)
    r3 = h.Relay(name="r3", config={
        "backend": [{"name": "a", "url": a.url}, {"name": "b", "url": b.url}], **scrub}).start()
    h.check(h.wait_until(lambda: r1.health()[1].get("peers", [{}])[0].get("up") is True,
                         timeout=10, errors_ok=True), "r1 sees r2 up")
    a.create_db("db2")
    now = time.time_ns()
    st, _, body = r2.write("db2", "w v=1i %d\nw v=2i %d\n" % (now, now + 1), precision="ns")
    h.check_eq(st, 204, "r2 takes two points for db2", body)
    h.check(h.wait_until(lambda: a.count("db2", "w", "v") == 2, timeout=30), "A has them")
    h.check(h.wait_until(lambda: r2.metric("influx_wal_backend_lag_records", backend="b") >= 1,
                         timeout=10), "r2's sender for b holds them")
    two_more_runs(r1, r3)
    d1, f1 = scrub_counts(r1)
    d3, _f3 = scrub_counts(r3)
    h.check(d3 >= 1, "r3, which does not know r2, reports the window as differing", d3)
    h.check_eq(d1, 0, "r1 does not report the window r2 has not delivered to B")
    h.check(f1 >= 1, "r1 counts it in flight", f1, r1.metrics_text()[-1500:])
    st, doc = r1.health()
    h.check(doc["scrub"]["differing_windows"] == 0 and doc["scrub"]["in_flight_windows"] >= 1,
            "r1's /health: in flight, not differing", doc.get("scrub"))
    b.create_db("db2")
    h.check(h.wait_until(lambda: b.count("db2", "w", "v") == 2, timeout=30),
            "B gets them from r2 once it has db2")
    h.check(h.wait_until(lambda: r2.metric("influx_wal_backend_lag_records", backend="b") == 0,
                         timeout=20), "r2 caught up")
    time.sleep(1.5)  # r1's next poll of r2
    two_more_runs(r1)
    h.check_eq(scrub_counts(r1), (0, 0), "then r1 reports nothing differing, nothing in flight")
    h.stop_all()


if __name__ == "__main__":
    h.run([test_ordering, test_ordering_without_barrier, test_forward_and_peer_down,
           test_leader_ahead, test_haproxy_mirror, test_bgscrub_peer_in_flight])
