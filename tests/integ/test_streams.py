"""Stream listeners against real agents: collectd's write_graphite sends the same metrics to
the relay's Graphite listener (backend influxd A) and to influxd B's own graphite input, and A
and B must hold the same series and values; collectd's write_influxdb_udp (milliseconds)
through --udp ADDR:PORT=DB@ms and [[udp]] precision = "ms" lands at the right time; bad
Graphite input is counted and dropped while the daemon stays up."""
import os
import shutil
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

COLLECTD = shutil.which("collectd") or "/usr/sbin/collectd"
DB = "collectd"


def collectd_conf(d, plugins_text):
    return "\n".join([
        'Hostname "streamtest"',
        "FQDNLookup false",
        'BaseDir "%s"' % d,
        'PIDFile "%s/collectd.pid"' % d,
        'TypesDB "/usr/share/collectd/types.db"',
        "Interval 1",
        "LoadPlugin load",
        "LoadPlugin memory",
        "LoadPlugin cpu",
        plugins_text,
        "",
    ])


def run_collectd(name, plugins_text, seconds):
    """collectd in the foreground with a private config for 'seconds', stopped by its PID."""
    d = h.tmpdir(name)
    conf = os.path.join(d, "collectd.conf")
    with open(conf, "w") as f:
        f.write(collectd_conf(d, plugins_text))
    p = h.Proc(name, os.path.join(d, "collectd.log"))
    p.spawn([COLLECTD, "-f", "-C", conf])
    time.sleep(seconds)
    h.check(p.alive(), "collectd ran for %ss" % seconds, p.log_tail())
    p.stop(timeout=10)
    return p


def rows(srv, db, where):
    """{(measurement, tags, time): value} of every point in 'db' within 'where'."""
    out = {}
    res = srv.query('SELECT * FROM /.*/ WHERE %s GROUP BY *' % where, db=db)
    for r in res.get("results", [{}])[0].get("series", []) or []:
        tags = tuple(sorted((r.get("tags") or {}).items()))
        cols = r["columns"]
        for v in r["values"]:
            rec = dict(zip(cols, v))
            t = rec.pop("time")
            for k, val in rec.items():
                if val is not None:
                    out[(r["name"], tags, t, k)] = val
    return out


def test_collectd_graphite():
    a = h.Influxd("a").start()
    a.create_db(DB)  # until statement records land, the listener does not create it
    gport = h.free_port(udp=True)
    b = h.Influxd("b", extra_config="\n".join([
        "[[graphite]]", "  enabled = true", '  bind-address = "127.0.0.1:%d"' % gport,
        '  database = "%s"' % DB, '  protocol = "tcp"', '  batch-timeout = "100ms"'])).start()
    rport = h.free_port(udp=True)
    r = h.Relay(backends={"a": a}, args=["--graphite", "127.0.0.1:%d=%s" % (rport, DB)]).start()
    start_s = int(time.time())
    nodes = "\n".join([
        "LoadPlugin write_graphite",
        "<Plugin write_graphite>",
        '  <Node "relay">', '    Host "127.0.0.1"', '    Port "%d"' % rport,
        '    Protocol "tcp"', "  </Node>",
        '  <Node "influxd">', '    Host "127.0.0.1"', '    Port "%d"' % gport,
        '    Protocol "tcp"', "  </Node>",
        "</Plugin>"])
    run_collectd("collectd-graphite", nodes, 6)
    end_s = int(time.time())
    # A window both received in full: after the first second, before the last two.
    where = "time >= %ds AND time <= %ds" % (start_s + 1, end_s - 2)
    h.wait_until(lambda: len(rows(a, DB, where)) > 0 and len(rows(a, DB, where)) ==
                 len(rows(b, DB, where)), timeout=20, interval=0.5)
    ra, rb = rows(a, DB, where), rows(b, DB, where)
    h.check(len(rb) > 10, "influxd's own graphite input stored collectd's points", len(rb))
    h.check_eq(set(k[0] for k in ra), set(k[0] for k in rb), "the same measurements")
    h.check_eq(ra, rb, "the same series, times and values through the relay as direct")
    text = h.get(r.url + "/metrics")[2].decode()
    h.check('influx_wal_listener_points_total{listener="graphite/tcp/127.0.0.1:%d"}' % rport
            in text, "the listener shows in /metrics")


def test_collectd_udp_ms():
    a = h.Influxd("a").start()
    a.create_db(DB)
    uport = h.free_port(udp=True, tcp=False)
    cport = h.free_port(udp=True, tcp=False)
    cfg = '[[udp]]\nlisten = "127.0.0.1:%d"\ndatabase = "%s"\nprecision = "ms"\n' % (cport, DB)
    r = h.Relay(backends={"a": a}, config=cfg,
                args=["--udp", "127.0.0.1:%d=%s@ms" % (uport, DB)]).start()
    # write_influxdb_udp sends to one server here: one collectd run per listener.
    start_ns = time.time_ns()
    for port in (uport, cport):
        plugin = "\n".join([
            "LoadPlugin write_influxdb_udp",
            "<Plugin write_influxdb_udp>",
            '  Server "127.0.0.1" "%d"' % port,
            "  StoreRates true",
            "</Plugin>"])
        run_collectd("collectd-udp", plugin, 4)
    # collectd sends "load,host=...,type=load shortterm=...,midterm=... <ms>".
    h.check(h.wait_until(lambda: a.count(DB, measurement="load", field="shortterm") >= 4,
                         timeout=20, interval=0.5),
            "collectd's points arrive through both UDP listeners", a.count(DB, field="shortterm",
                                                                          measurement="load"))
    res = a.query("SELECT count(shortterm) FROM load WHERE time < now() - 1d", db=DB)
    h.check(not res["results"][0].get("series"), "no collectd point landed in the past (1970)",
            res)
    res = a.query("SELECT shortterm FROM load ORDER BY time ASC LIMIT 1", db=DB)
    first = res["results"][0]["series"][0]["values"][0][0]
    h.check(abs(first - start_ns) < 30e9, "points are at the time they were sent", first, start_ns)
    def committed(port):
        for n, lb, v in h.parse_prom(h.get(r.url + "/metrics")[2].decode()):
            if n == "influx_wal_listener_points_total" and \
                    lb.get("listener") == "udp/udp/127.0.0.1:%d" % port:
                return v
        return 0
    for p in (uport, cport):
        h.check(h.wait_until(lambda: committed(p) > 0, timeout=10),
                "the listener committed collectd's points (flag and file)", p)


def test_graphite_bad_input():
    a = h.Influxd("a").start()
    a.create_db(DB)
    rport = h.free_port(udp=True)
    r = h.Relay(backends={"a": a}, args=["--graphite", "127.0.0.1:%d=%s" % (rport, DB)]).start()
    s = socket.create_connection(("127.0.0.1", rport), timeout=10)
    s.sendall(b"good.one 1 %d\nbad.ts 1 17000x\n" % int(time.time()))
    s.sendall(os.urandom(200000).replace(b"\n", b"x") + b"\n")
    s.sendall(b"good.two 2\ncut.off 3")
    s.close()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"\x00\xff\xfe garbage\nbad.ts 1 1e99\ngood.three 3\n", ("127.0.0.1", rport))
    u.close()
    h.check_eq(h.wait_until(lambda: a.count(DB, field="value") >= 3, timeout=20) and
               a.count(DB, field="value"), 3, "the three good lines arrive, nothing else")
    text = h.get(r.url + "/metrics")[2].decode()
    drops = {(lb["listener"], lb["reason"]): v for n, lb, v in h.parse_prom(text)
             if n == "influx_wal_listener_dropped_lines_total"}
    tcp, udp = "graphite/tcp/127.0.0.1:%d" % rport, "graphite/udp/127.0.0.1:%d" % rport
    h.check(drops.get((tcp, "malformed"), 0) >= 1, "the bad timestamp over TCP is counted", drops)
    h.check_eq(drops.get((udp, "malformed"), 0), 2, "both bad datagram lines are counted")
    h.check(drops.get((tcp, "malformed"), 0) + drops.get((tcp, "too_long"), 0) >= 2,
            "the binary garbage line is counted", drops)
    h.check(r.alive() and h.ping(r.url), "the daemon is alive")


if __name__ == "__main__":
    h.run([test_collectd_graphite, test_collectd_udp_ms, test_graphite_bad_input])
