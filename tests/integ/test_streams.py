"""Stream listeners against real agents: collectd's write_graphite sends the same metrics to
the relay's Graphite listener (backend influxd A) and to influxd B's own graphite input, and A
and B must hold the same series and values; collectd's write_influxdb_udp (milliseconds)
through --udp ADDR:PORT=DB@ms and [[udp]] precision = "ms" lands at the right time; bad
Graphite input is counted and dropped while the daemon stays up. OpenTSDB: collectd's
write_tsdb to the relay's OpenTSDB listener and to influxd's own OpenTSDB input must give the
same series and values; HTTP /api/put bodies (one object, an array, gzip) sent to both land
the same, bad bodies get influxd's status and text, and bad telnet lines are counted drops."""
import gzip
import json
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
    a = h.Influxd("a").start()  # the listener creates the database (a statement record)
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


def influxd_opentsdb(name, db):
    """An influxd with its own OpenTSDB input; returns (server, port)."""
    port = h.free_port()
    srv = h.Influxd(name, extra_config="\n".join([
        "[[opentsdb]]", "  enabled = true", '  bind-address = "127.0.0.1:%d"' % port,
        '  database = "%s"' % db, '  batch-timeout = "100ms"', "  batch-size = 100"])).start()
    return srv, port


def test_collectd_opentsdb():
    a = h.Influxd("a").start()
    a.create_db(DB)
    b, bport = influxd_opentsdb("b", DB)
    rport = h.free_port()
    r = h.Relay(backends={"a": a}, args=["--opentsdb", "127.0.0.1:%d=%s" % (rport, DB)]).start()
    start_s = int(time.time())
    nodes = "\n".join([
        "LoadPlugin write_tsdb",
        "<Plugin write_tsdb>",
        '  <Node "relay">', '    Host "127.0.0.1"', '    Port "%d"' % rport,
        '    HostTags "env=test"', "  </Node>",
        '  <Node "influxd">', '    Host "127.0.0.1"', '    Port "%d"' % bport,
        '    HostTags "env=test"', "  </Node>",
        "</Plugin>"])
    run_collectd("collectd-tsdb", nodes, 6)
    end_s = int(time.time())
    where = "time >= %ds AND time <= %ds" % (start_s + 1, end_s - 2)
    h.wait_until(lambda: len(rows(a, DB, where)) > 0 and len(rows(a, DB, where)) ==
                 len(rows(b, DB, where)), timeout=20, interval=0.5)
    ra, rb = rows(a, DB, where), rows(b, DB, where)
    h.check(len(rb) > 10, "influxd's own OpenTSDB input stored collectd's points", len(rb))
    h.check_eq(set(k[0] for k in ra), set(k[0] for k in rb), "the same measurements")
    h.check_eq(ra, rb, "the same series, times and values through the relay as direct")
    text = h.get(r.url + "/metrics")[2].decode()
    h.check('influx_wal_listener_points_total{listener="opentsdb/tcp/127.0.0.1:%d"}' % rport
            in text, "the listener shows in /metrics")


def post(port, body, headers=None, path="/api/put", method="POST"):
    return h.request(method, "http://127.0.0.1:%d%s" % (port, path), body=body,
                     headers=headers or {}, timeout=15)


def test_opentsdb_http_and_telnet():
    db = "tsdb"
    a = h.Influxd("a").start()
    a.create_db(db)
    b, bport = influxd_opentsdb("b", db)
    # influxd's HTTP /api/put does not create the database (only its telnet batcher does):
    # posted first, it answers 500 "database not found".
    b.create_db(db)
    rport = h.free_port()
    cfg = "\n".join(["[[opentsdb]]", '  bind-address = "127.0.0.1:%d"' % rport,
                      '  database = "%s"' % db, "  enabled = true", "  batch-size = 1000",
                      '  batch-timeout = "1s"', ""])
    r = h.Relay(backends={"a": a}, config=cfg).start()
    now = int(time.time())
    one = '{"metric":"sys.cpu","timestamp":%d,"value":1.5,"tags":{"host":"x","dc":"eu"}}' % now
    many = ('[{"metric":"sys.mem","timestamp":%d123,"value":2,"tags":{"host":"x"}},'
            '{"Metric":"sys.mem","timestamp":%d,"value":3,"tags":{"host":"y","bad":null}},'
            '{"metric":"dropped","timestamp":99999999999999,"value":1}]') % (now, now - 1)
    zipped = gzip.compress(('[{"metric":"sys.disk","timestamp":%d,"value":4}]' % now).encode())
    telnet = ("put sys.net %d 5 host=x iface=lo bad= =x\nput sys.net %d123 6 host=y\n"
              "put sys.net %d\n" % (now, now, now)).encode()
    bad = [b'{"metric":"m","timestamp":1.5,"value":1}', b'[{"metric":"m","value":1},2]',
           b' {"metric":"m"}', b"", b'{"metric":"m","value":1']
    for port in (rport, bport):
        for body, hdrs in ((one, None), (many, None), (zipped, {"Content-Encoding": "gzip"})):
            st = post(port, body, hdrs)[0]
            h.check_eq(st, 204, "/api/put answered 204", port, body[:40])
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(telnet)
        s.sendall(b"version\n")
        h.check(s.recv(100).startswith(b"InfluxDB TSDB proxy"), "version answered", port)
        s.close()
    for body in bad:
        want = post(bport, body)
        got = post(rport, body)
        h.check_eq((got[0], got[2]), (want[0], want[2]), "a bad body gets influxd's answer", body)
    for path, method in (("/api/metadata/put", "POST"), ("/nope", "POST"), ("/api/put", "GET")):
        want = post(bport, b"", path=path, method=method)
        got = post(rport, b"", path=path, method=method)
        h.check_eq((got[0], got[2]), (want[0], want[2]), "answered as influxd", path, method)
    where = "time >= %ds" % (now - 10)
    h.wait_until(lambda: len(rows(a, db, where)) >= 6 and len(rows(b, db, where)) >= 6,
                 timeout=20, interval=0.5)
    ra, rb = rows(a, db, where), rows(b, db, where)
    h.check_eq(len(rb), 6, "influxd's own input stored the 6 good points", rb)
    h.check_eq(ra, rb, "the same points through the relay as into influxd's own input")
    ms = [k for k in ra if k[0] == "sys.mem" and dict(k[1]).get("host") == "x"]
    h.check_eq(ms[0][2], now * 10**9 + 123000, "13 digits: influxd's sec + ms*1000 ns", ms)
    h.check(r.alive() and h.ping(r.url), "the daemon is alive")


def test_opentsdb_bad_input():
    a = h.Influxd("a").start()
    a.create_db(DB)
    rport = h.free_port()
    r = h.Relay(backends={"a": a}, args=["--opentsdb", "127.0.0.1:%d=%s" % (rport, DB)]).start()
    now = int(time.time())
    s = socket.create_connection(("127.0.0.1", rport), timeout=10)
    s.sendall(b"put good.one %d 1 host=a\nput no.value %d\n" % (now, now))
    s.sendall(os.urandom(200000).replace(b"\n", b"x") + b"\n")
    s.sendall(b"put good.two %d 2\nput cut.off %d 3" % (now, now))
    s.close()
    g = socket.create_connection(("127.0.0.1", rport), timeout=10)
    g.sendall(b"\x00\xff\xfe\x01binary\r\nput good.three %d 3\n" % now)
    g.close()
    h.check_eq(h.wait_until(lambda: a.count(DB, field="value") >= 3, timeout=20) and
               a.count(DB, field="value"), 3, "the three good lines arrive, nothing else")
    text = h.get(r.url + "/metrics")[2].decode()
    drops = {(lb["listener"], lb["reason"]): v for n, lb, v in h.parse_prom(text)
             if n == "influx_wal_listener_dropped_lines_total"}
    tcp = "opentsdb/tcp/127.0.0.1:%d" % rport
    h.check(drops.get((tcp, "malformed"), 0) >= 3,
            "the line with no value and the binary garbage are counted", drops)
    health = json.loads(h.get(r.url + "/health")[2])
    ls = [x for x in health["listeners"] if x["kind"] == "opentsdb"]
    h.check_eq([(x["transport"], x["address"], x["points"]) for x in ls],
               [("tcp", "127.0.0.1:%d" % rport, 3)], "/health lists the listener", health)
    h.check(ls[0]["dropped"] >= 3, "/health counts its drops", ls)
    sj = json.loads(h.get(r.url + "/status.json")[2])
    h.check_eq([x for x in sj["ingest"]["listeners"] if x["kind"] != "http"],
               [{"kind": "opentsdb", "transport": "tcp", "address": "127.0.0.1:%d" % rport,
                 "database": DB}], "/status.json lists the OpenTSDB listener", sj["ingest"])
    h.check(r.alive() and h.ping(r.url), "the daemon is alive")


def test_listeners_create_database_backend_down():
    """Each listener commits CREATE DATABASE before its first points: a backend that is down
    when they arrive, and starts empty, gets the databases first and then every point."""
    port = h.free_port()
    a = h.Influxd("a")
    gport, tport = h.free_port(udp=True), h.free_port()
    r = h.Relay(backends={"a": "http://127.0.0.1:%d" % port},
                args=["--graphite", "127.0.0.1:%d=gdb" % gport,
                      "--opentsdb", "127.0.0.1:%d=tdb" % tport]).start()
    now = int(time.time())
    g = socket.create_connection(("127.0.0.1", gport), timeout=10)
    g.sendall(b"".join(b"g.m%d 1 %d\n" % (i, now) for i in range(20)))
    g.close()
    t = socket.create_connection(("127.0.0.1", tport), timeout=10)
    t.sendall(b"".join(b"put t.m%d %d 2 host=x\n" % (i, now) for i in range(20)))
    t.close()
    st, _, body = post(tport, '[{"metric":"t.http","timestamp":%d,"value":3}]' % now)
    h.check_eq(st, 204, "/api/put acknowledged while the backend is down", body)

    def committed():
        return sum(v for n, lb, v in h.parse_prom(h.get(r.url + "/metrics")[2].decode())
                   if n == "influx_wal_listener_points_total")
    h.check(h.wait_until(lambda: committed() >= 41, timeout=10), "all 41 points committed",
            committed())
    a.start(port=port)
    h.check(h.wait_until(lambda: a.count("gdb", field="value") == 20 and
                         a.count("tdb", field="value") == 21, timeout=30, interval=0.5,
                         errors_ok=True),
            "the databases were created on the backend and every point arrived",
            a.count("gdb", field="value"), a.count("tdb", field="value"))
    res = a.query("SHOW DATABASES")
    names = [v[0] for v in res["results"][0]["series"][0]["values"]]
    h.check("gdb" in names and "tdb" in names, "both databases exist", names)


def test_tcp_pauses_while_log_full():
    """While the log refuses appends (max-size reached, the only backend frozen), a TCP stream
    listener stops reading: the agent's lines wait in the socket, none is dropped, /health
    shows the listener paused; once the backend drains the log, reading resumes and every line
    arrives once."""
    a = h.Influxd("a").start()
    a.create_db("full")
    a.pause()
    gport = h.free_port(udp=True)
    # idle-timeout 2s: a paused connection is not idle (closing it would lose its lines).
    r = h.Relay(config={"wal": {"min-free": 0, "max-size": "4MiB"}, "http": {"idle-timeout": "2s"},
                        "backend": [{"name": "a", "url": a.url, "timeout": "3s",
                                     "connect-timeout": "500ms", "retry-max-delay": "500ms"}]},
                args=["--graphite", "127.0.0.1:%d=full" % gport]).start()
    ts0 = int(time.time()) - 3600
    acked = 0
    for q in range(400):
        body = "".join('w,q=%d n=%di,pad="%s" %d\n' % (q, i, "x" * 60, ts0 + i)
                       for i in range(1000))
        st = r.write("full", body, precision="s", timeout=30)[0]
        if st != 204:
            break
        acked += 1000
    h.check(st == 503 and acked > 0, "writes fill the log, then 503", st, acked)
    n = 20000
    s = socket.create_connection(("127.0.0.1", gport), timeout=30)
    s.sendall(b"".join(b"g.full %d %d\n" % (i, ts0 + i) for i in range(n)))

    def listener():
        hl = json.loads(h.get(r.url + "/health")[2])
        return [x for x in hl["listeners"] if x["kind"] == "graphite" and
                x["transport"] == "tcp"][0]
    h.check(h.wait_until(lambda: listener()["paused"], timeout=10),
            "the TCP listener is paused while the log is full", listener())
    time.sleep(3)
    l1 = listener()
    h.check(l1["paused"] and l1["points"] == 0 and l1["dropped"] == 0 and l1["connections"] == 1,
            "nothing committed or dropped while paused, the connection kept", l1)
    a.resume()
    h.check(h.wait_until(lambda: a.count("full", measurement="g.full", field="value") == n,
                         timeout=60, interval=0.5, errors_ok=True),
            "once the log has room, every line arrives", a.count("full", measurement="g.full",
                                                                field="value"))
    s.close()
    l2 = listener()
    h.check(not l2["paused"] and l2["points"] == n and l2["dropped"] == 0,
            "reading resumed; all committed, none dropped", l2)
    h.check_eq(a.count("full", measurement="w", field="n"), acked,
               "the acknowledged writes arrived too")


if __name__ == "__main__":
    h.run([test_collectd_graphite, test_collectd_udp_ms, test_graphite_bad_input,
           test_collectd_opentsdb, test_opentsdb_http_and_telnet, test_opentsdb_bad_input,
           test_listeners_create_database_backend_down, test_tcp_pauses_while_log_full])
