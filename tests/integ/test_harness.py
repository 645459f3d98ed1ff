#!/usr/bin/python3
"""The harness itself, against real influxd processes (no relay binary needed): ports, start/
stop/restart/kill/pause, exact counts of what the Load helper got acknowledged, the HTTP
helpers, bounded waits, and the rule that no process outlives the test process, also when it
fails, is sent SIGTERM or is SIGKILLed."""

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

A = B = None  # two influxd shared by the tests below (started in test_start_two)


def pid_gone(pid):
    """True if 'pid' no longer exists or is a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_ports():
    ports = [h.free_port() for _ in range(40)]
    h.check_eq(len(set(ports)), len(ports), "free_port: 40 distinct ports")
    h.check(all(20000 <= p <= 32000 for p in ports), "free_port: all in 20000-32000 (< 32768)",
            "ports: %r" % ports)
    free = 0
    for p in ports[:10]:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            free += 1
        except OSError:
            pass
        finally:
            s.close()
    h.check(free >= 9, "free_port: the ports are bindable", "%d of 10 free" % free)
    u = h.free_port(udp=True, tcp=False)
    h.check(20000 <= u <= 32000 and u not in ports, "free_port(udp=True): a fresh UDP port")


def test_start_two():
    global A, B
    t0 = time.monotonic()
    A = h.Influxd("a").start().keep()  # shared by the tests below
    B = h.Influxd("b").start().keep()
    h.diag("started %r and %r in %.2fs" % (A, B, time.monotonic() - t0))
    used = [A.port, A.rpc_port, B.port, B.rpc_port]
    h.check_eq(len(set(used)), 4, "two influxd: four distinct ports (http, rpc)")
    h.check(all(p < 32768 for p in used), "two influxd: ports below 32768", used)
    h.check(A.ping() and B.ping(), "both answer /ping")
    h.check(h.owns_port(A.pid, A.port) and h.owns_port(B.pid, B.port),
            "each /ping port is held by that influxd's own pid")
    h.check(A.dir != B.dir and A.dir.startswith(h.tmp_root()), "separate data dirs under the temp root",
            A.dir, B.dir)
    conf = open(os.path.join(A.dir, "influxd.conf")).read()
    h.check('bind-address = "127.0.0.1:%d"' % A.port in conf and "reporting-disabled = true" in conf
            and "store-enabled = false" in conf, "config: loopback http, reporting off, monitor off")
    status, headers, body = h.request("GET", A.url + "/ping")
    h.check_eq(status, 204, "request(): GET /ping -> 204")
    h.check("x-influxdb-version" in headers, "request(): headers have lower-case keys",
            sorted(headers))
    A.create_db("db")
    B.create_db("db")
    B.create_db("other")
    h.check("db" in A.databases() and "other" in B.databases(), "create_db")


def test_load_exact():
    loads = {}
    for s in (A, B):
        loads[s.name] = h.Load(s.url, "db", points_per_request=100, requests=50, concurrency=4,
                               no_timestamp_fraction=0.2, deadline=30).run()
    for s in (A, B):
        ld = loads[s.name]
        h.diag(ld.summary())
        h.check_eq(ld.acked["db"], 5000, "%s: Load got 5000 points acknowledged" % s.name, ld.summary())
        h.check(ld.conn_errors == 0 and ld.timeouts == 0 and ld.n503 == 0,
                "%s: no errors, no 503" % s.name, ld.summary())
        h.check_eq(s.points_total("db"), ld.acked_total, "%s: points_total == acknowledged, exactly" % s.name)
        got = s.field_values("db", "n")
        h.check_eq(len(got), len(set(got)), "%s: every n stored once" % s.name)
        h.check(set(got) == ld.acked_n("db"), "%s: exactly the acknowledged n values are stored" % s.name,
                "missing %d, extra %d" % (len(ld.acked_n("db") - set(got)), len(set(got) - ld.acked_n("db"))))
    a, b = loads["a"].acked_n("db"), loads["b"].acked_n("db")
    h.check(not (a & b), "two Loads never share an n value")
    nots = sum(1 for k in A.series("db") if ",p=" in k)
    h.check(500 < nots < 1500, "about 20% of points had no timestamp (own series each)", nots)

    # round-robin over two dbs, gzip, one precision; a db that does not exist is not acknowledged
    ld = h.Load(B.url, ["db", "other"], points_per_request=10, requests=20, concurrency=3,
                precisions=["s"], gzip=True, measurement="rr").run()
    h.check(ld.acked == {"db": 100, "other": 100}, "Load over two dbs with gzip: acked per db", ld.summary())
    h.check_eq(B.count("other", "rr"), 100, "count(db, measurement) on the second db")
    h.check_eq(B.count("db", "rr"), 100, "count(db, measurement) on the first db")
    ld = h.Load(B.url, "nosuchdb", points_per_request=5, requests=4, concurrency=2).run()
    h.check(ld.acked_total == 0 and ld.statuses.get(404) == 4 and ld.other["nosuchdb"] == 20,
            "Load into a missing db: 4 x 404, nothing acknowledged", ld.summary())


def test_queries_and_write():
    A.create_db("q")
    day = 86400
    now = int(time.time())
    body = "\n".join([
        "cpu,host=x n=1i,v=1.5 %d" % (now - 10),
        "cpu,host=y n=2i,v=2.5 %d" % (now - 10),
        "cpu,host=x n=3i %d" % (now + day),          # one day ahead
        "mem,host=x n=4i %d" % (946684800),          # year 2000
        "mem,host=x other=1i %d" % (now - 5),        # no field n: not counted by n
    ])
    status, _ = A.write("q", body, precision="s")
    h.check_eq(status, 204, "Influxd.write: 204")
    h.check_eq(A.points_total("q"), 4, "points_total counts field n over all measurements and times")
    h.check_eq(A.count("q", "cpu"), 3, "count(db, 'cpu')")
    h.check_eq(A.count("q", "mem", field="other"), 1, "count(db, 'mem', field='other')")
    h.check_eq(A.count("q", "cpu", where="host = 'x'"), 2, "count with WHERE")
    h.check_eq(sorted(A.series("q")), ["cpu,host=x", "cpu,host=y", "mem,host=x"], "series(db)")
    rows = A.values("q", "SELECT v FROM cpu WHERE host = 'y'")
    h.check_eq(rows, [{"time": (now - 10) * 10**9, "v": 2.5, "_measurement": "cpu"}],
               "values(): rows with integer ns times")
    st, hd, bd = h.write(A.url, "q", "gz n=1i 1\ngz n=2i 2\n", gzip=True)
    h.check_eq(st, 204, "write(gzip=True) accepted by influxd")
    h.check_eq(A.count("q", "gz"), 2, "gzip points counted")
    st, _, bd = h.write(A.url, "q", "bad line here\n")
    h.check(st == 400 and b"error" in bd, "write(): a bad line answers 400 with an error", st, bd)
    try:
        A.query("SELECT * FROM", db="q")
        ok = False
    except h.QueryError:
        ok = True
    h.check(ok, "query(): a bad statement raises QueryError")
    try:
        h.request("GET", "http://10.0.0.1:80/")
        ok = False
    except ValueError:
        ok = True
    h.check(ok, "request(): refuses anything but loopback")
    rc, out, err = A.influx_cli("-execute", "SHOW DATABASES")
    h.check(rc == 0 and "q" in out.split(), "influx CLI against the test server", rc, out, err)


def test_stop_restart_kill():
    before = A.points_total("db")
    port, pid = A.port, A.pid
    rc = A.stop()
    h.check(rc is not None and rc in (0, -signal.SIGTERM), "stop(): exits on SIGTERM", rc)
    h.check(not A.ping(timeout=1) and pid_gone(pid), "stopped: no /ping, pid gone")
    A.restart()
    h.check(A.port == port and A.pid != pid, "restart(): same port, new pid")
    h.check_eq(A.points_total("db"), before, "restart(): data kept")
    A.write("db", "afterkill n=1i 1000000000")
    pid = A.pid
    rc = A.kill()
    h.check(rc == -signal.SIGKILL and pid_gone(pid), "kill(): SIGKILL", rc)
    A.restart()
    h.check_eq(A.points_total("db"), before + 1, "after SIGKILL and restart: data kept (WAL)")
    h.check("=== harness: a start" in A.log_text(), "log file keeps every run")


def test_pause_resume():
    B.pause()
    t0 = time.monotonic()
    try:
        h.request("GET", B.url + "/ping", timeout=1.0)
        timed_out = False
    except (socket.timeout, TimeoutError):
        timed_out = True
    dt = time.monotonic() - t0
    h.check(timed_out and dt < 3, "pause(): a request times out", "%.1fs" % dt)
    ld = h.Load(B.url, "db", points_per_request=10, requests=1000, concurrency=2, deadline=2,
                timeout=1).run()
    h.check(ld.acked_total == 0 and ld.timeouts >= 2 and ld.elapsed < 6,
            "Load against a paused server is bounded by its deadline", ld.summary())
    h.check(ld.ambiguous["db"] == 10 * ld.timeouts, "timed-out points are counted as ambiguous",
            ld.summary())
    B.resume()
    h.check(h.wait_until(B.ping, timeout=10), "resume(): /ping answers again")
    st, _ = B.write("db", "resumed n=1i 1")
    h.check_eq(st, 204, "resume(): writes accepted")


def test_bounded_waits():
    t0 = time.monotonic()
    v = h.wait_until(lambda: 0, timeout=0.3, interval=0.05)
    dt = time.monotonic() - t0
    h.check(v == 0 and 0.25 <= dt < 1.0, "wait_until: returns the last (falsy) value at the deadline",
            "%r after %.2fs" % (v, dt))
    calls = []
    v = h.wait_until(lambda: calls.append(1) or (len(calls) >= 3 and "yes"), timeout=5, interval=0.01)
    h.check(v == "yes" and len(calls) == 3, "wait_until: returns the truthy value as soon as it comes")
    v = h.wait_until(lambda: 1 / 0, timeout=0.2, errors_ok=True)
    h.check(v is None, "wait_until(errors_ok=True): exceptions count as falsy")
    port = h.free_port()
    ld = h.Load("http://127.0.0.1:%d" % port, "db", points_per_request=5, requests=30,
                concurrency=3).run()
    h.check(ld.conn_errors == 30 and ld.acked_total == 0 and ld.ambiguous["db"] == 150,
            "Load against a closed port: connection errors recorded, nothing acked", ld.summary())


def test_helpers():
    toml = h.to_toml({"log": {"level": "debug"}, "wal": {"max-size": "1MiB", "sync": False},
                      "backend": [{"name": "a", "url": "http://127.0.0.1:1"}, {"name": "b", "url": "x"}],
                      "top": 3})
    h.check(toml.startswith("top = 3\n") and "[log]\nlevel = \"debug\"" in toml
            and toml.count("[[backend]]") == 2 and "sync = false" in toml, "to_toml", toml)
    rec = h.parse_logfmt('ts=2024-01-01T00:00:00Z level=warn msg="backend down" backend=a err="x \\"y\\""')
    h.check(rec == {"ts": "2024-01-01T00:00:00Z", "level": "warn", "msg": "backend down", "backend": "a",
                    "err": 'x "y"'}, "parse_logfmt", rec)
    prom = h.parse_prom('# HELP x y\n# TYPE x counter\nx_total{backend="a",k="v"} 3\nx_total{backend="b"} 4\ny 1.5e3\n')
    h.check(prom == [("x_total", {"backend": "a", "k": "v"}, 3.0), ("x_total", {"backend": "b"}, 4.0),
                     ("y", {}, 1500.0)], "parse_prom", prom)
    ld = h.Load("http://127.0.0.1:1", "db", points_per_request=4, requests=2, no_timestamp_fraction=0.5,
                seed=7, precisions=["ms"])
    db, prec, body, n0 = ld.request_body(1)
    lines = body.decode().splitlines()
    h.check(prec == "ms" and len(lines) == 4 and all(",req=1,run=" in l for l in lines)
            and all(("n=%di" % (n0 + j)) in lines[j] for j in range(4)),
            "Load.request_body: unique series per request, n per point", body)
    h.check(all((",p=" in l) == (len(l.split(" ")) == 2) for l in lines),
            "Load.request_body: points without timestamp get their own series tag p=", body)


CHILD = textwrap.dedent("""
    import os, sys, time
    sys.dont_write_bytecode = True
    sys.path.insert(0, %(dir)r)
    import harness as h
    mode = sys.argv[1]
    started = []
    def test_a():
        a = h.Influxd("child").start()
        started.append(a)
        with open(%(pidfile)r + ".tmp", "w") as f:
            f.write("%%d %%s" %% (a.pid, h.tmp_root()))
        os.rename(%(pidfile)r + ".tmp", %(pidfile)r)
        h.check(a.ping(), "started")
        if mode == "fail":
            h.check(False, "a failing check", "diagnostic line")
            raise RuntimeError("boom")
        if mode == "hang":
            time.sleep(60)
    def test_b():
        h.check(started and not started[0].alive(), "next test runs, test_a's influxd stopped")
    h.run([test_a, test_b])
""")


def _child(mode, tmp):
    pidfile = tempfile.mktemp(prefix="pid-%s-" % mode, dir=tmp)  # a fresh name each run
    script = os.path.join(tmp, "child.py")
    with open(script, "w") as f:
        f.write(CHILD % {"dir": os.path.dirname(os.path.abspath(__file__)), "pidfile": pidfile})
    env = dict(os.environ, TMPDIR=tmp)
    p = h.Process(["/usr/bin/python3", script, mode], name="child-" + mode, env=env)
    p.start(settle=0.05)
    info = h.wait_until(lambda: os.path.exists(pidfile) and open(pidfile).read(), timeout=30)
    pid, root = (int(info.split()[0]), info.split()[1]) if info else (None, None)
    return p, pid, root


def test_no_leftovers():
    tmp = h.tmpdir("children")
    # a passing run: influxd stopped when its test function ends, temp dir removed
    p, pid, root = _child("pass", tmp)
    rc = p.wait_exit(30)
    out = p.log_text()
    h.check(rc == 0 and "2 passed, 0 failed" in out, "child run passes", rc, out[-2000:])
    h.check(pid and pid_gone(pid), "passing run: its influxd is gone")
    h.check(root and not os.path.exists(root), "passing run: temp dir removed", root)
    # a failing run: not ok, traceback as '#' lines, the next test still runs, temp dir kept
    p, pid, root = _child("fail", tmp)
    rc = p.wait_exit(30)
    out = p.log_text()
    h.check(rc == 1 and "not ok 2 - a failing check" in out and "# diagnostic line" in out,
            "failing run: not ok with diagnostics, exit 1", rc, out[-2000:])
    h.check("not ok 3 - test_a raised RuntimeError: boom" in out and "# Traceback" in out
            and "ok 4 - next test runs" in out and "2 passed, 2 failed" in out,
            "an exception is a not ok with its traceback, and the next test runs", out[-2000:])
    h.check(pid and pid_gone(pid), "failing run: its influxd is gone")
    h.check(root and os.path.isdir(root) and ("# temp dir kept: " + root) in out,
            "failing run: temp dir kept and printed", root)
    # SIGTERM while a test hangs: not ok, influxd stopped, exit 128+15
    p, pid, root = _child("hang", tmp)
    p.signal(signal.SIGTERM)
    rc = p.wait_exit(30)
    out = p.log_text()
    h.check(rc == 128 + signal.SIGTERM and "not ok" in out and "interrupted by signal 15" in out,
            "SIGTERM: reported and exit 143", rc, out[-2000:])
    h.check(pid and h.wait_until(lambda: pid_gone(pid), timeout=5), "SIGTERM: its influxd is gone")
    # SIGKILL of the test process: PDEATHSIG takes the influxd down too. As a child subreaper,
    # this process inherits the orphan and reaps it, so we see how it died.
    subreaper = ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    p, pid, root = _child("hang", tmp)
    p.kill()
    h.check(pid and h.wait_until(lambda: pid_gone(pid), timeout=5), "SIGKILL: its influxd is gone too")
    if subreaper and pid:
        st = h.wait_until(lambda: _reap(pid), timeout=5)
        h.check(st and os.WIFSIGNALED(st[1]) and os.WTERMSIG(st[1]) == signal.SIGKILL,
                "SIGKILL: the orphaned influxd died of SIGKILL (PDEATHSIG)", st)


def _reap(pid):
    try:
        got, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return (got, status) if got == pid else None


FAKE_RELAY = textwrap.dedent("""\
    #!/usr/bin/python3
    # Stands in for influx-wal-relay: takes its flags, answers /ping and /metrics, logs logfmt.
    import http.server, json, signal, socket, sys
    a = sys.argv[1:]
    opts = {"backend": [], "udp": []}
    i = 0
    while i < len(a):
        k = a[i][2:]
        if k in ("backend", "udp"):
            opts[k].append(a[i + 1]); i += 2
        elif k in ("listen", "data-dir", "config"):
            opts[k] = a[i + 1]; i += 2
        else:
            opts.setdefault("extra", []).append(a[i]); i += 1
    host, port = opts["listen"].rsplit(":", 1)
    udps = []
    for u in opts["udp"]:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((u.split("=")[0].rsplit(":", 1)[0], int(u.split("=")[0].rsplit(":", 1)[1])))
        udps.append(s)
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/ping":
                self.send_response(204); self.end_headers()
            elif self.path == "/metrics":
                b = b'iwr_backend_up{backend="a"} 1\\niwr_backend_up{backend="b"} 0\\n'
                self.send_response(200); self.send_header("Content-Length", str(len(b)))
                self.end_headers(); self.wfile.write(b)
            else:
                self.send_response(404); self.end_headers()
        def log_message(self, *x):
            pass
    srv = http.server.HTTPServer((host, int(port)), H)
    def term(*_):
        sys.stderr.write('level=info msg="shutting down"\\n'); sys.stderr.flush(); sys.exit(0)
    signal.signal(signal.SIGTERM, term)
    sys.stderr.write("level=info msg=started opts=%s\\n" % json.dumps(json.dumps(opts)))
    sys.stderr.flush()
    srv.serve_forever()
""")

FAKE_CLI = "#!/bin/sh\nprintf '{\"argv\": \"%s\"}\\n' \"$*\"\necho stderr-line >&2\nexit 3\n"


def test_relay_wrapper():
    """The Relay wrapper against a stand-in daemon (the real one may not be built yet)."""
    fake = h.tmpdir("fakebuild")
    for name, text in (("influx-wal-relay", FAKE_RELAY), ("influx-wal", FAKE_CLI)):
        with open(os.path.join(fake, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(fake, name), 0o755)
    old = os.environ.get("IWR_BUILD")
    os.environ["IWR_BUILD"] = fake
    try:
        r = h.Relay(backends={"a": A, "b": "http://127.0.0.1:1"}, udp=["u1"],
                    config={"wal": {"max-size": "1MiB"}}, args=["--extra"]).start()
        h.check(r.ping() and h.owns_port(r.pid, r.port), "Relay.start: waits for /ping from its pid")
        h.check(h.owns_port(r.pid, r.udp_port("u1"), udp=True), "Relay: UDP port allocated and bound")
        rec = [x for x in r.log_records() if x.get("msg") == "started"]
        opts = json.loads(rec[0]["opts"]) if rec else {}
        h.check_eq(opts.get("listen"), "127.0.0.1:%d" % r.port, "--listen 127.0.0.1:PORT")
        h.check_eq(opts.get("data-dir"), r.data_dir, "--data-dir")
        h.check_eq(opts.get("backend"), ["a=%s" % A.url, "b=http://127.0.0.1:1"], "--backend NAME=URL")
        h.check_eq(opts.get("udp"), ["127.0.0.1:%d=u1" % r.udp_port("u1")], "--udp 127.0.0.1:P=DB")
        h.check_eq(opts.get("extra"), ["--extra"], "extra args passed through")
        h.check(opts.get("config") and open(opts["config"]).read() == '\n[wal]\nmax-size = "1MiB"\n',
                "--config FILE written from the dict", opts.get("config"))
        h.check_eq(r.metric("iwr_backend_up", backend="a"), 1.0, "metric(name, **labels)")
        h.check_eq(r.metric("iwr_backend_up"), 1.0, "metric(name): sum over samples")
        port, pid = r.port, r.pid
        h.check_eq(r.stop(), 0, "Relay.stop: SIGTERM, exit code returned")
        h.check(r.grep_log("shutting down"), "grep_log finds a line")
        r.restart()
        h.check(r.port == port and r.pid != pid and r.ping(), "Relay.restart: same port, new pid")
        r.pause()
        try:
            h.request("GET", r.url + "/ping", timeout=0.5)
            paused = False
        except (socket.timeout, TimeoutError):
            paused = True
        r.resume()
        h.check(paused and h.wait_until(r.ping, 5), "Relay.pause/resume")
        h.check_eq(r.kill(), -signal.SIGKILL, "Relay.kill: SIGKILL")
        rc, out, err = r.run_cli("status", "--json")
        h.check(rc == 3 and out.strip() == '{"argv": "status --json --data-dir %s"}' % r.data_dir
                and err.strip() == "stderr-line", "run_cli: argv with --data-dir, (rc, stdout, stderr)",
                rc, out, err)
    finally:
        if old is None:
            os.environ.pop("IWR_BUILD", None)
        else:
            os.environ["IWR_BUILD"] = old


def test_relay_binary_optional():
    # the harness must not need the relay: only report what is there
    exists = os.access(h.relay_bin(), os.X_OK)
    h.diag("relay binary %s: %s" % (h.relay_bin(), "present" if exists else "absent"))
    if not exists:
        try:
            h.Relay(backends={"a": A}).start()
            ok = False
        except h.HarnessError as e:
            ok = "make binaries" in str(e)
        h.check(ok, "Relay.start without a binary raises a clear HarnessError")
    else:
        rc, out, err = h.run_relay("--version", timeout=10)
        h.check(rc is not None, "run_relay('--version') returns within its deadline", rc, out, err)


if __name__ == "__main__":
    h.run([test_ports, test_start_two, test_load_exact, test_queries_and_write, test_stop_restart_kill,
           test_pause_resume, test_bounded_waits, test_helpers, test_relay_wrapper, test_no_leftovers,
           test_relay_binary_optional])
