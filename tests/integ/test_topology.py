#!/usr/bin/python3
"""The HA topology, for real, on loopback:

    Load -> HAProxy (packaging/haproxy.cfg, ports moved) -> relay1, relay2 -> influxd a, b

Each relay has both influxd as backends. Under a steady write load through HAProxy, influxd b
is stopped, then relay1 is SIGKILLed (with a backlog for b in its log); then relay1 comes back
on its log and influxd b on its data. In the end both influxd
hold exactly the same points, and every point acknowledged to the load (204 through HAProxy) is
among them, once. Points of requests that got no 204 (in flight to relay1 when it died) may or
may not be there, but only as points the load really sent, and never twice.

Why "once": each point goes to one relay, which sends it to both influxd from its own cursors;
relay1 resends from its cursors after the SIGKILL, and a resent batch overwrites itself because
every stored point has a timestamp (the relay stamps the ones that came without).

Uses tests/integ/harness.py; Debian's haproxy (/usr/sbin/haproxy, in the foreground with -db).
Every wait has a deadline; the whole test takes well under a minute."""

import os
import re
import signal
import time

import harness as h

HAPROXY = "/usr/sbin/haproxy"
EXAMPLE_CFG = os.path.join(h.ROOT, "packaging", "haproxy.cfg")
DB = "topo"


def haproxy_config(front_port, stats_port, relays):
    """packaging/haproxy.cfg with loopback ports: the frontend on front_port, the stats page on
    stats_port, the relays' server lines on their ports; what needs root or a system path
    (chroot, user, group, the admin socket, syslog) is left out."""
    with open(EXAMPLE_CFG) as f:
        text = f.read()
    out = []
    servers = 0
    for line in text.splitlines():
        s = line.strip()
        if re.match(r"^(chroot|user|group|stats socket|log /dev/log)\b", s):
            continue
        m = re.match(r"^(\s*)server (relay\d+) \S+ (.*)$", line)
        if m:
            r = relays[m.group(2)]
            line = "%sserver %s 127.0.0.1:%d %s" % (m.group(1), m.group(2), r.port, m.group(3))
            servers += 1
        elif re.match(r"^\s*bind :8086\s*$", line):
            line = "    bind 127.0.0.1:%d" % front_port
        elif re.match(r"^\s*bind 127\.0\.0\.1:8404\s*$", line):
            line = "    bind 127.0.0.1:%d" % stats_port
        out.append(line)
    if servers != 4:
        raise h.HarnessError("packaging/haproxy.cfg: expected 4 relay server lines, found %d" % servers)
    return "\n".join(out) + "\n"


def haproxy_states(stats_url):
    """{(proxy, server): status} from HAProxy's stats page as CSV."""
    status, _, body = h.get(stats_url + "/;csv", timeout=5)
    if status != 200:
        return {}
    lines = body.decode("utf-8", "replace").splitlines()
    if not lines or not lines[0].startswith("# "):
        return {}
    cols = lines[0][2:].split(",")
    out = {}
    for l in lines[1:]:
        row = dict(zip(cols, l.split(",")))
        if row.get("svname") not in ("FRONTEND", "BACKEND", None):
            out[(row["pxname"], row["svname"])] = row.get("status", "")
    return out


def relay_state(stats_url, name):
    """'UP', 'DOWN', ... of relay 'name' in both HAProxy backends ('' if they disagree)."""
    try:
        st = haproxy_states(stats_url)
    except Exception:  # noqa: BLE001 - no answer (yet) is "no state"
        return ""
    vals = {v.split()[0] if v else "" for (px, sv), v in st.items() if sv == name}
    return vals.pop() if len(vals) == 1 else ""


def caught_up(relay):
    """True when the relay's every backend is up and has every record (GET /health)."""
    try:
        status, doc = relay.health(timeout=5)
    except Exception:  # noqa: BLE001 - no answer is "not caught up"
        return False
    if status != 200 or not isinstance(doc, dict):
        return False
    bs = doc.get("backends", [])
    return len(bs) == 2 and all(b.get("up") and b.get("caught_up") and b.get("lag_records") == 0
                                for b in bs)


def test_topology():
    t0 = time.monotonic()
    a = h.Influxd("influxd-a").start()
    b = h.Influxd("influxd-b").start()
    for s in (a, b):
        s.create_db(DB)

    def relay_config():
        return {
            "log": {"level": "info"},
            "backend": [
                {"name": "a", "url": a.url, "retry-max-delay": "1s", "timeout": "5s",
                 "connect-timeout": "1s"},
                {"name": "b", "url": b.url, "retry-max-delay": "1s", "timeout": "5s",
                 "connect-timeout": "1s"},
            ],
        }

    r1 = h.Relay(config=relay_config(), name="relay1").start()
    r2 = h.Relay(config=relay_config(), name="relay2").start()

    front, stats = h.free_port(), h.free_port()
    cfg_dir = h.tmpdir("haproxy-cfg")
    cfg = os.path.join(cfg_dir, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(haproxy_config(front, stats, {"relay1": r1, "relay2": r2}))
    rc, out, err = h.run_cmd([HAPROXY, "-c", "-f", cfg], timeout=20)
    h.check(rc == 0, "packaging/haproxy.cfg (ports moved to loopback) is valid for haproxy -c",
            out, err)
    hp = h.Process([HAPROXY, "-db", "-f", cfg], name="haproxy", port=front).start(timeout=15)
    hp_url = "http://127.0.0.1:%d" % front
    stats_url = "http://127.0.0.1:%d" % stats
    h.check(h.ping(hp_url), "GET /ping through HAProxy answers 204")
    h.check(h.wait_until(lambda: relay_state(stats_url, "relay1") == "UP" and
                         relay_state(stats_url, "relay2") == "UP", timeout=10),
            "HAProxy's health checks (GET /ping) see both relays UP", haproxy_states(stats_url))

    # A steady load: 4 writers, 20 points per request, a short pause between requests; stopped
    # by hand once the faults are over (the deadline is only a bound). Each phase lasts a few
    # seconds and at least 2000 acknowledged points.
    load = h.Load(hp_url, DB, points_per_request=20, requests=1000000, concurrency=4,
                  deadline=90, interval=0.02, timeout=10)

    def phase(what, seconds=3.0):
        start, t_end = load.acked_total, time.monotonic() + seconds
        h.wait_until(lambda: time.monotonic() >= t_end and load.acked_total - start >= 2000,
                     timeout=seconds + 15, interval=0.05)
        grew = load.acked_total - start
        h.check(grew >= 2000, "%s: writes through HAProxy acknowledged (%d points)" % (what, grew),
                load.summary())

    load.start()
    try:
        phase("everything up")

        # ---- influxd b: stopped; both relays keep its points in their logs
        rc = b.stop()
        h.check_eq(rc, 0, "influxd b stopped (SIGTERM) under load")
        h.check(h.wait_until(lambda: all(not x.get("up") for r in (r1, r2)
                                         for x in r.health()[1]["backends"] if x["name"] == "b"),
                             timeout=10, errors_ok=True),
                "both relays see backend b down", r1.health(), r2.health())
        phase("influxd b down")

        # ---- relay1: SIGKILL, with a backlog for b in its log
        rc = r1.kill()
        h.check_eq(rc, -9, "relay1 SIGKILLed under load")
        h.check(h.wait_until(lambda: relay_state(stats_url, "relay1") == "DOWN", timeout=10,
                             interval=0.1),
                "HAProxy takes relay1 out of the pool", haproxy_states(stats_url))
        phase("relay1 and influxd b down: relay2 alone")

        # ---- relay1 back on its log; b still down
        r1.restart()
        lag = [0]

        def r1_backlog():
            for x in r1.health()[1]["backends"]:
                if x["name"] == "b":
                    lag[0] = x.get("lag_records", 0)
            return lag[0] > 0

        h.check(h.wait_until(r1_backlog, timeout=5, errors_ok=True),
                "relay1 restarted after SIGKILL with its backlog for b (%d records)" % lag[0],
                r1.health())
        h.check(h.wait_until(lambda: relay_state(stats_url, "relay1") == "UP", timeout=15,
                             interval=0.1),
                "HAProxy puts relay1 back", haproxy_states(stats_url))
        phase("relay1 back, influxd b down")

        # ---- influxd b back
        b.restart()
        h.check(b.ping(), "influxd b restarted on its data")
        phase("everything back")
    finally:
        load.stop()
        load.join()
    h.diag(load.summary())
    h.diag("load: acked %d points, no answer for %d, other statuses %d" % (
        load.acked_total, sum(load.ambiguous.values()), sum(load.other.values())))
    h.check(load.n503 == 0, "no write was refused with 503 (the logs never filled)", load.summary())
    sent = load.requests_sent * load.ppr
    h.check(load.acked_total >= sent * 0.9,
            "most writes were acknowledged (%d of %d points)" % (load.acked_total, sent),
            load.summary())

    # ---- convergence: both relays have sent everything to both servers
    ok = h.wait_until(lambda: caught_up(r1) and caught_up(r2), timeout=60, interval=0.25)
    h.check(ok, "both relays caught up both influxd (health: up, caught up, lag 0)",
            r1.health(), r2.health())
    # The counts settle (influxd answers a write before a query sees it only for a moment).
    last = [None]

    def stable():
        now = (a.points_total(DB), b.points_total(DB))
        same = now == last[0]
        last[0] = now
        return same and now[0] == now[1]

    h.wait_until(stable, timeout=15, interval=0.5)

    na = a.field_values(DB, "n")
    nb = b.field_values(DB, "n")
    sa, sb = set(na), set(nb)
    acked = load.acked_n(DB)
    h.check_eq(a.points_total(DB), b.points_total(DB), "influxd a and b hold the same number of points")
    h.check(sa == sb, "influxd a and b hold the same points (%d)" % len(sa),
            "only in a: %d, e.g. %s" % (len(sa - sb), sorted(sa - sb)[:5]),
            "only in b: %d, e.g. %s" % (len(sb - sa), sorted(sb - sa)[:5]))
    h.check(len(na) == len(sa) and len(nb) == len(sb),
            "no point is there twice (a: %d values, %d distinct; b: %d, %d)" % (
                len(na), len(sa), len(nb), len(sb)))
    for name, s in (("a", sa), ("b", sb)):
        missing = acked - s
        h.check(not missing, "influxd %s holds every acknowledged point (%d)" % (name, len(acked)),
                "missing %d, e.g. %s" % (len(missing), sorted(missing)[:10]))
    sent_n = set()
    for r in range(load.requests_sent):
        n0 = load.n_base + r * load.ppr
        sent_n.update(range(n0, n0 + load.ppr))
    extra = sa - sent_n
    h.check(not extra, "every point held is one the load sent (%d held, %d acknowledged, %d more "
            "from requests without a 204)" % (len(sa), len(acked), len(sa - acked)),
            "not sent: %s" % sorted(extra)[:10])
    h.check_eq(a.points_total(DB), len(sa), "count(n) on influxd a equals its distinct points")

    # ---- reads through HAProxy and the relays
    status, _, body = h.request("GET", hp_url + "/query?db=%s&q=%s" % (
        DB, "SELECT+count(n)+FROM+load"), timeout=10)
    m = re.search(rb'"values":\[\["[^"]*",(\d+)\]\]', body) or re.search(rb'"values":\[\[\d+,(\d+)\]\]', body)
    h.check(status == 200 and m is not None and int(m.group(1)) == len(sa),
            "GET /query through HAProxy and a relay counts the same %d points" % len(sa),
            "status %d: %s" % (status, body[:300]))

    # ---- clean ends, sound logs
    for r in (r1, r2):
        h.check_eq(r.stop(), 0, "%s: SIGTERM, exit 0" % r.name, r.log_tail(10))
        rc, out, err = r.run_cli("verify", timeout=60)
        h.check(rc == 0, "%s: influx-wal verify: the log is sound" % r.name, out, err)
    hp.signal(signal.SIGUSR1)  # HAProxy's graceful stop
    h.check_eq(hp.wait_exit(15), 0, "haproxy stops gracefully (SIGUSR1), exit 0")
    h.diag("topology test took %.1fs" % (time.monotonic() - t0))


if __name__ == "__main__":
    h.run([test_topology])
