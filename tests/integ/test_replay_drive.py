#!/usr/bin/python3
"""Integration test of replay/ through tests/tools/replay_drive.c.

Real influxd 1.6 processes on loopback prove, by exact counts, that:
  - two backends, B not running: A gets every one of 20,000 appended points; B, started
    later, catches up to exactly the same 20,000;
  - a point with a field type conflict on B only goes to B's dead letters (one line) and every
    point after it still reaches B;
  - B SIGSTOPped during a run: A keeps receiving; after SIGCONT, B catches up exactly.
A scripted fake backend (http.server in a thread) covers what influxd will not do on demand:
gzip and credentials on the wire, 401 hold, 404 + CREATE DATABASE, 5xx retry, a 500
"retention policy not found", several refused lines isolated by splitting, and no password
in last_error.

Uses tests/integ/harness.py (stdlib only): every wait has a deadline, every process started
here is stopped by PID when its test function ends; "ok N - ..." / "not ok N - ..." and
"N passed, N failed".
Environment: REPLAY_DRIVE=path uses a prebuilt driver; IWR_SANITIZE=1 builds it with ASan and
UBSan; CC overrides the compiler."""

import base64
import gzip
import http.server
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def start_ok(influxd):
    """start() on the port chosen beforehand (the driver knows the URL of a backend not yet
    started) that answers whether it worked, for a check."""
    try:
        influxd.start(port=influxd.port)
    except h.HarnessError as e:
        h.diag(str(e))
        return False
    return influxd.ping()


def create_db_ok(influxd, db):
    influxd.create_db(db)
    return db in influxd.databases()


def write_status(influxd, db, body):
    return influxd.write(db, body, precision="ns", expect=None)[0]


class Driver:
    n = 0  # background runs, for their names

    def __init__(self, path, data_dir, tmp):
        self.path = path
        self.data_dir = data_dir
        self.tmp = tmp

    def run(self, *args, timeout=120):
        rc, out, err = h.run_cmd([self.path, "--data-dir", self.data_dir] + list(args),
                                 timeout=timeout)
        return (-1 if rc is None else rc), out, err

    def start(self, *args):
        """In the background, stopped by PID when the test function ends; stdout and stderr
        are kept apart (read with output())."""
        Driver.n += 1
        return h.Process([self.path, "--data-dir", self.data_dir] + list(args),
                         name="drive%d" % Driver.n, ready=lambda: True, stderr=True).start()

    @staticmethod
    def output(p):
        return p.log_text(current=True), p.err_text()

    def append(self, lines, db, per_record=500, target=None):
        path = os.path.join(self.tmp, "append%d.lp" % random.randint(0, 1 << 30))
        with open(path, "w") as f:
            f.write("".join(l + "\n" for l in lines))
        args = ["--append", path, "--db", db, "--lines", str(per_record)]
        rc, out, err = self.run(*(args + (["--target", target] if target else [])))
        return rc == 0 and ("points=%d " % len(lines)) in out, out + err

    def dead(self, backend=None):
        args = ["--dead-list"] + (["--backend", backend] if backend else [])
        rc, out, err = self.run(*args)
        total = [l for l in out.splitlines() if l.startswith("dead_total")]
        kv = parse_kv(total[-1]) if total else {}
        return int(kv.get("count", -1)), int(kv.get("lines", -1)), out


def parse_kv(line):
    out = {}
    for tok in line.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k] = v
    return out


def statuses(text, prefix=""):
    """The last status line of each backend in the driver's stdout."""
    out = {}
    for line in text.splitlines():
        if prefix and not line.startswith(prefix):
            continue
        if not prefix and not line.startswith("backend="):
            continue
        kv = parse_kv(line[len(prefix):])
        if "backend" in kv:
            out[kv["backend"]] = kv
    return out


def build_driver(tmp):
    pre = os.environ.get("REPLAY_DRIVE")
    if pre:
        return pre, ""
    out = os.path.join(tmp, "replay_drive")
    cc = os.environ.get("CC", "cc")
    pkg = subprocess.run(["pkg-config", "--cflags", "--libs", "lmdb", "libuv", "libcurl", "zlib",
                          "libisal"],
                         capture_output=True, text=True)
    srcs = ["tests/tools/replay_drive.c"]
    for d in ("replay", "wal", "common"):
        srcs += sorted(os.path.join(d, f) for f in os.listdir(os.path.join(h.ROOT, d))
                       if f.endswith(".c"))
    flags = ["-std=c11", "-D_GNU_SOURCE", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-Wshadow",
             "-Wstrict-prototypes", "-Wmissing-prototypes", "-Wformat=2", "-I.",
             "-I/usr/share/include/llhttp"]
    if os.environ.get("IWR_SANITIZE"):
        flags += ["-O1", "-fsanitize=address,undefined", "-fno-omit-frame-pointer",
                  "-fno-sanitize-recover=all"]
    cmd = [cc] + flags + srcs + pkg.stdout.split() + ["-lpthread", "-o", out]
    r = subprocess.run(cmd, cwd=h.ROOT, capture_output=True, text=True)
    return (out if r.returncode == 0 else None), r.stderr


def points(measurement, n, t0, field="v"):
    return ["%s,host=h%d %s=%d %d" % (measurement, i % 7, field, i, t0 + i * 1000)
            for i in range(n)]


# ---- the influxd scenarios -------------------------------------------------------------------

def influx_scenarios(tmp, drv_path):
    a = h.Influxd("A")
    b = h.Influxd("B")
    a.port, b.port = h.free_port(), h.free_port()
    data = os.path.join(tmp, "log-influx")
    d = Driver(drv_path, data, tmp)
    fast = ["--retry-max-ms", "500", "--request-timeout-ms", "3000", "--connect-timeout-ms",
            "1000", "--log-level", "warn"]
    backends = ["--backend", "A=" + a.url, "--backend", "B=" + b.url]
    bg = None
    try:
        h.check(start_ok(a), "influxd A starts")
        h.check(create_db_ok(a, "db1"), "database db1 created on A")

        # Both cursors are created at the end of the (empty) log before anything is appended.
        rc, out, err = d.run(*(backends + ["--run-until-caught-up", "--timeout", "30"] + fast))
        st = statuses(out)
        h.check(rc == 0 and "A" in st and "B" in st, "driver registers A and B", out + err)
        h.check(st.get("B", {}).get("up") == "0", "B (not running) is reported down", out)

        total = 20000
        ok, info = d.append(points("m", total, 1600000000000000000), "db1")
        h.check(ok, "20,000 points appended to the log", info)

        bg = d.start(*(backends + ["--run-until-caught-up", "--timeout", "240"] + fast))
        h.check(h.wait_until(lambda: a.count("db1", "m", field="v") >= total, 60),
              "A receives the backlog while B is down")
        h.check(a.count("db1", "m", field="v") == total, "A has exactly 20,000 points")
        h.check(bg.alive(), "the driver keeps waiting for B")

        h.check(start_ok(b), "influxd B starts")
        h.check(create_db_ok(b, "db1"), "database db1 created on B")
        bg.wait_exit(90)
        out, err = Driver.output(bg)
        h.check(bg.proc.returncode() == 0, "the driver sees both backends caught up", out + err[-3000:])
        st = statuses(out)
        h.check(b.count("db1", "m", field="v") == total, "B caught up to exactly 20,000 points",
              b.count("db1", "m", field="v"))
        h.check(a.count("db1", "m", field="v") == total, "A still has exactly 20,000 (nothing resent)")
        sb = st.get("B", {})
        h.check(sb.get("caught_up") == "1" and sb.get("cursor") == sb.get("head") and
              sb.get("sent_points") == str(total) and sb.get("up") == "1",
              "B's status: caught up, cursor at the head, 20,000 points sent", out)
        h.check(int(sb.get("retries", "0")) > 0 and sb.get("last_error") == '""',
              "B's status counted the retries and cleared last_error", out)

        # A field type conflict on B only: "conflict value" is a string on B.
        t0 = 1600000001000000000
        h.check(write_status(b, "db1", 'conflict,host=x value="text" %d' % t0) == 204,
              "field 'value' written as a string directly to B")
        lines = points("m2", 300, t0 + 10)
        lines.append("conflict,host=x value=1.5 %d" % (t0 + 5))
        lines += points("m2", 700, t0 + 10 + 300 * 1000)
        ok, info = d.append(lines, "db1", per_record=100)
        h.check(ok, "1,001 points with one conflicting line appended", info)
        rc, out, err = d.run(*(backends + ["--run-until-caught-up", "--timeout", "60"] + fast))
        h.check(rc == 0, "both catch up past the conflicting line", out + err[-3000:])
        st = statuses(out)
        h.check(a.count("db1", "m2", field="value") == 0 and a.count("db1", "m2", field="v") == 1000 and
              a.count("db1", "conflict", field="value") == 1,
              "A took all 1,001 points (no conflict there)")
        h.check(b.count("db1", "m2", field="v") == 1000, "B has all 1,000 points around the conflict",
              b.count("db1", "m2", field="v"))
        h.check(b.count("db1", "conflict", field="value") == 1, "B kept only its own string point")
        h.check(st.get("B", {}).get("dead_letters") == "1" and
              st.get("A", {}).get("dead_letters") == "0",
              "status: one dead letter on B, none on A", out)
        count, nlines, listing = d.dead("B")
        h.check(count >= 1 and nlines == 1 and "conflict,host=x value=1.5" in listing and
              "field type conflict" in listing,
              "the dead letter holds exactly the conflicting line and B's answer", listing)
        count, nlines, listing = d.dead("A")
        h.check(count == 0, "A has no dead letters", listing)

        # B SIGSTOPped during a run: A keeps receiving.
        bg = d.start(*(backends + ["--timeout", "300", "--status-every-ms", "300"] + fast))
        time.sleep(1.5)
        b.pause()
        t0 = 1600000002000000000
        total3 = 20000
        all3 = points("m3", total3, t0)
        ok = True
        for i in range(4):  # appended in four steps while the driver runs
            r, _ = d.append(all3[i * 5000:(i + 1) * 5000], "db1")
            ok = ok and r
            time.sleep(0.3)
        h.check(ok, "20,000 more points appended while B is stopped")
        h.check(h.wait_until(lambda: a.count("db1", "m3", field="v") >= total3, 60),
              "A keeps receiving while B is stopped")
        h.check(a.count("db1", "m3", field="v") == total3, "A has exactly the 20,000 new points")

        def b_down():
            out, _ = Driver.output(bg)
            return statuses(out, "status ").get("B", {}).get("up") == "0"
        h.check(h.wait_until(b_down, 30), "the driver reports B down while it is stopped")
        h.check(bg.alive(), "the driver is still running")
        b.resume()
        h.check(h.wait_until(lambda: b.count("db1", "m3", field="v") >= total3, 90, 0.5),
              "B catches up after SIGCONT")
        time.sleep(1.0)
        h.check(b.count("db1", "m3", field="v") == total3, "B has exactly the 20,000 new points",
              b.count("db1", "m3", field="v"))

        def caught():
            out, _ = Driver.output(bg)
            s = statuses(out, "status ")
            return all(s.get(n, {}).get("caught_up") == "1" for n in ("A", "B"))
        h.check(h.wait_until(caught, 30), "both report caught up")
        bg.signal(signal.SIGTERM)
        bg.wait_exit(30)
        out, err = Driver.output(bg)
        h.check(bg.proc.returncode() == 0, "the driver stops cleanly on SIGTERM", err[-3000:])
        st = statuses(out)
        h.check(all(n in st and st[n].get("cursor") is not None and
                    st[n].get("cursor") == st[n].get("head") for n in ("A", "B")),
              "final cursors at the head", out)
        h.check(a.count("db1", "m", field="v") == total and b.count("db1", "m", field="v") == total and
              a.count("db1", "m3", field="v") == total3,
              "no point duplicated or lost anywhere (exact counts)")
        rc, out, _ = d.run("--cursors")
        h.check(rc == 0 and "cursor backend=A" in out and "cursor backend=B" in out and
              "lag_records=0" in out, "both cursors stored at the head", out)
    finally:
        if b.alive():
            b.resume()  # a paused influxd would not stop on SIGTERM before its deadline


# ---- the fake backend scenarios --------------------------------------------------------------

class Fake:
    """A scripted InfluxDB: records every request (a dict); answers /write from a queue of
    canned answers, else with 'default' (a function of the lines). A base URL with a path
    ("/h") names a second backend on the same server: requests carry it as 'prefix'."""

    def __init__(self, port=None):
        self.lock = threading.Lock()
        self.requests = []
        self.answers = []
        self.default = lambda lines: (204, b"")
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, code, body):
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def record(self, method, text):
                u = urllib.parse.urlparse(self.path)
                parts = u.path.split("/")
                prefix = parts[1] if len(parts) > 2 else ""
                return {"method": method, "path": "/" + parts[-1], "prefix": prefix,
                        "query": u.query, "headers": dict(self.headers), "text": text,
                        "lines": [l for l in text.split("\n") if l], "code": None}

            def do_GET(self):
                r = self.record("GET", "")
                r["code"] = 204 if r["path"] == "/ping" else 404
                with fake.lock:
                    fake.requests.append(r)
                self.reply(r["code"], b"")

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(n)
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                r = self.record("POST", raw.decode())
                with fake.lock:
                    if r["path"] == "/write":
                        code, body = fake.answers.pop(0) if fake.answers else \
                            fake.default(r["lines"])
                    else:
                        code, body = 200, b'{"results":[{"statement_id":0}]}'
                    r["code"] = code
                    fake.requests.append(r)
                self.reply(code, body)

        port = port or h.free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        self.url = "http://127.0.0.1:%d" % port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reset(self, answers=(), default=None):
        with self.lock:
            self.requests = []
            self.answers = list(answers)
            self.default = default or (lambda lines: (204, b""))

    def writes(self, prefix=None):
        with self.lock:
            return [r for r in self.requests if r["method"] == "POST" and
                    r["path"] == "/write" and (prefix is None or r["prefix"] == prefix)]

    def accepted_lines(self, prefix=None):
        return [l for r in self.writes(prefix) if r["code"] == 204 for l in r["lines"]]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def last_status(p, name):
    out, _ = Driver.output(p)
    return statuses(out, "status ").get(name, {})


def fake_scenarios(tmp, drv_path):
    fake = Fake()
    fast = ["--retry-max-ms", "300", "--request-timeout-ms", "3000", "--log-level", "warn",
            "--run-until-caught-up", "--timeout", "60", "--start", "earliest"]
    n_case = [0]

    def new_driver():
        n_case[0] += 1
        return Driver(drv_path, os.path.join(tmp, "log-fake%d" % n_case[0]), tmp)

    def case(lines, *args, db="fdb"):
        d = new_driver()
        ok, info = d.append(lines, db, per_record=40)
        if not ok:
            return d, -1, info, ""
        rc, out, err = d.run(*(["--backend", "F=" + fake.url] + fast + list(args)))
        return d, rc, out, err

    extra = []
    bg = None
    try:
        lines = points("g", 100, 1700000000000000000)
        fake.reset()
        d, rc, out, err = case(lines, "--gzip", "--user", "u1", "--password", "s3cretpw",
                               "--batch-points", "30")
        w = fake.writes()
        h.check(rc == 0 and sorted(fake.accepted_lines()) == sorted(lines),
              "gzip: every line arrives exactly once", out + err[-2000:])
        h.check(w and all(r["headers"].get("Content-Encoding") == "gzip" for r in w),
              "gzip: Content-Encoding: gzip on every write")
        basic = "Basic " + base64.b64encode(b"u1:s3cretpw").decode()
        h.check(w and all(r["headers"].get("Authorization") == basic for r in w),
              "user/password sent as Basic auth")
        h.check(w and all(len(r["lines"]) <= 30 for r in w) and len(w) >= 4,
              "batches respect batch_max_points (30)", [len(r["lines"]) for r in w])
        h.check(w and all(urllib.parse.parse_qs(r["query"]) == {"db": ["fdb"],
                                                               "precision": ["ns"]}
                        for r in w), "write URL: /write?db=fdb&precision=ns",
              [r["query"] for r in w])

        fake.reset()
        d, rc, out, err = case(lines[:10], "--token", "tok123")
        w = fake.writes()
        h.check(rc == 0 and w and all(r["headers"].get("Authorization") == "Token tok123"
                                    for r in w),
              "token sent as Authorization: Token", out + err[-2000:])

        # 401 twice, then accepted: the data is kept, retried, and the password never shows.
        fake.reset(answers=[(401, b'{"error":"authorization failed for s3cretpw"}')] * 2)
        d, rc, out, err = case(lines[:20], "--user", "u1", "--password", "s3cretpw",
                               "--status-every-ms", "50")
        st = statuses(out)
        h.check(rc == 0 and sorted(fake.accepted_lines()) == sorted(lines[:20]),
              "401: data kept and delivered once authorized", out + err[-2000:])
        h.check(int(st.get("F", {}).get("retries", 0)) == 2 and "backend_hold" in err,
              "401: two retries, logged as hold", out + err[-2000:])
        h.check("s3cretpw" not in out and "s3cretpw" not in err,
              "the password never appears in status or logs")
        h.check("***" in out, "the password in an answer is masked in last_error", out)

        # 404 database not found + create_database: CREATE DATABASE once, then delivered.
        fake.reset(answers=[(404, b'{"error":"database not found: \\"fdb\\""}')])
        d, rc, out, err = case(lines[:20], "--create-database")
        q = [urllib.parse.parse_qs(r["text"]).get("q", [""])[0]
             for r in fake.requests if r["path"] == "/query"]
        h.check(rc == 0 and q == ['CREATE DATABASE "fdb"'] and
              sorted(fake.accepted_lines()) == sorted(lines[:20]),
              "404 database not found: one CREATE DATABASE, then delivered", (q, out, err))

        # 5xx: retried with backoff, delivered once it answers.
        fake.reset(answers=[(503, b""), (500, b'{"error":"timeout"}')])
        d, rc, out, err = case(lines[:20])
        h.check(rc == 0 and sorted(fake.accepted_lines()) == sorted(lines[:20]) and
              len(fake.writes()) == 3, "5xx twice: retried, delivered on the third try",
              out + err[-2000:])
        pings = [r for r in fake.requests if r["path"] == "/ping"]
        h.check(len(pings) >= 2, "while down it probes /ping", len(pings))

        # 500 retention policy not found: not retried forever; the whole batch is dead.
        fake.reset(default=lambda l: (500, b'{"error":"retention policy not found: nope"}'))
        d, rc, out, err = case(lines[:20])
        count, nlines, listing = d.dead()
        h.check(rc == 0 and nlines == 20 and len(fake.writes()) == 1,
              "500 retention policy not found: one request, all 20 lines dead-lettered",
              (len(fake.writes()), listing[-1500:], err[-1500:]))

        # Three refused lines among 200: split until isolated; every other line accepted.
        bad = {17, 101, 188}
        mixed = ["%s%s" % ("bad" if i in bad else "", l)
                 for i, l in enumerate(points("s", 200, 1700000001000000000))]

        def partial(ls):
            if any(l.startswith("bad") for l in ls):
                return 400, b'{"error":"partial write: field type conflict dropped=1"}'
            return 204, b""
        fake.reset(default=partial)
        d, rc, out, err = case(mixed, "--batch-points", "200", "--in-flight", "3")
        count, nlines, listing = d.dead()
        dead_lines = sorted(l for l in listing.splitlines() if l.startswith("bad"))
        good = sorted(l for l in mixed if not l.startswith("bad"))
        h.check(rc == 0 and nlines == 3 and dead_lines == sorted(mixed[i] for i in bad),
              "split: exactly the 3 refused lines are dead letters", (listing, err[-1500:]))
        h.check(sorted(set(fake.accepted_lines())) == good,
              "split: every other line was accepted", err[-1500:])
        st = statuses(out)
        h.check(st.get("F", {}).get("dead_letters") == "3" and
              st.get("F", {}).get("cursor") == st.get("F", {}).get("head"),
              "split: status counts 3 dead letters and the cursor moved on", out)

        # Records for one backend only (a requeued dead letter) go to that backend only.
        fake.reset()
        d = new_driver()
        ok1, _ = d.append(lines[:10], "fdb")
        ok2, _ = d.append(lines[10:20], "fdb", target="H")
        rc, out, err = d.run(*(["--backend", "F=" + fake.url, "--backend",
                                "H=" + fake.url + "/h"] + fast))
        h.check(ok1 and ok2 and rc == 0 and
              sorted(fake.accepted_lines("")) == sorted(lines[:10]) and
              sorted(fake.accepted_lines("h")) == sorted(lines[:20]),
              "a record with a target goes to that backend only", out + err[-1500:])

        # The CLI moves the cursor back while the engine runs: it resends from there.
        fake.reset()
        d = new_driver()
        d.append(lines[:30], "fdb", per_record=10)
        bg = d.start("--backend", "F=" + fake.url, "--start", "earliest", "--timeout", "60",
                     "--status-every-ms", "100", "--log-level", "info", "--retain-ms", "600000")
        h.check(h.wait_until(lambda: len(fake.accepted_lines()) == 30 and
                         last_status(bg, "F").get("caught_up") == "1", 20),
              "rewind: caught up first")
        rc, out, err = d.run("--set-cursor", "F=0")
        h.check(rc == 0, "rewind: cursor moved to 0 from another process", out + err)
        h.check(h.wait_until(lambda: len(fake.accepted_lines()) == 60 and
                         last_status(bg, "F").get("caught_up") == "1", 20),
              "rewind: the engine notices and resends all 30 lines once more",
              len(fake.accepted_lines()))
        bg.stop()
        out, err = Driver.output(bg)
        h.check(bg.proc.returncode() == 0 and "cursor_moved_elsewhere" in err,
              "rewind: logged as cursor_moved_elsewhere", err[-1500:])
        bg = None

        # A rewind to before records already trimmed: nothing to resend, and the cursor
        # returns to the head instead of staying behind.
        fake.reset()
        d = new_driver()
        d.append(lines[:30], "fdb", per_record=10)
        bg = d.start("--backend", "F=" + fake.url, "--start", "earliest", "--timeout", "60",
                     "--status-every-ms", "100")
        h.check(h.wait_until(lambda: len(fake.accepted_lines()) == 30 and
                         last_status(bg, "F").get("caught_up") == "1", 20),
              "rewind past trimmed records: caught up first")
        d.run("--set-cursor", "F=0")
        h.check(h.wait_until(lambda: "cursor_moved_elsewhere" in Driver.output(bg)[1], 10),
              "rewind past trimmed records: the engine sees the cursor moved")
        h.check(h.wait_until(lambda: last_status(bg, "F").get("caught_up") == "1" and
                         last_status(bg, "F").get("cursor") == "3", 10) and
              len(fake.accepted_lines()) == 30,
              "rewind past trimmed records: back at the head, nothing resent",
              last_status(bg, "F"))
        bg.stop()
        bg = None

        # A backend removed from the configuration while it runs: stopped, cursor forgotten.
        fake.reset()
        d = new_driver()
        d.append(lines[:20], "fdb")
        rc, out, err = d.run("--backend", "F=" + fake.url, "--backend",
                             "R=http://127.0.0.1:%d" % h.free_port(), "--start", "earliest",
                             "--remove-after-ms", "R=500", "--timeout", "2",
                             "--retry-max-ms", "200")
        rc2, cur, _ = d.run("--cursors")
        st = statuses(out)
        h.check(rc == 0 and "removed backend=R rc=0" in out and "R" not in st and
              "cursor backend=R" not in cur and "cursor backend=F" in cur and
              "backend_removed" in err,
              "a removed backend stops and its cursor is forgotten", out + err[-1500:] + cur)

        # Give up: an unreachable backend past give_up_bytes forgets its cursor; when it
        # comes back it resumes at the end.
        fake.reset()
        d = new_driver()
        d.append(lines, "fdb")
        g_port = h.free_port()
        bg = d.start("--backend", "G=http://127.0.0.1:%d" % g_port, "--backend",
                     "F=" + fake.url, "--start", "earliest", "--give-up-bytes", "1000",
                     "--retry-max-ms", "300", "--timeout", "60", "--log-level", "info",
                     "--status-every-ms", "100")
        h.check(h.wait_until(lambda: last_status(bg, "G").get("given_up") == "1", 20),
              "give_up_bytes: the unreachable backend is given up")
        rc, cur, _ = d.run("--cursors")
        h.check("cursor backend=G" not in cur and "cursor backend=F" in cur,
              "give up: its cursor is forgotten, the other one kept", cur)
        g = Fake(g_port)
        extra.append(g)
        h.check(h.wait_until(lambda: last_status(bg, "G").get("given_up") == "0" and
                         last_status(bg, "G").get("caught_up") == "1", 20),
              "give up: it resumes when the backend is back")
        later = points("late", 5, 1700000002000000000)
        d.append(later, "fdb")
        h.check(h.wait_until(lambda: sorted(g.accepted_lines()) == sorted(later), 20),
              "give up: after resuming it gets only what came after",
              g.accepted_lines()[:10])
        bg.stop()
        out, err = Driver.output(bg)
        h.check("backend_given_up" in err and "backend_resumed" in err,
              "give up and resume are logged", err[-2000:])
        bg = None
    finally:
        fake.close()
        for f in extra:
            f.close()


DRV = {}  # the driver built by test_build


def test_build():
    drv, log = build_driver(h.tmpdir("drive"))
    h.check(drv is not None, "replay_drive builds", log)
    DRV["path"] = drv


def test_influxd():
    if DRV.get("path") is None:
        return  # the build failed: already a "not ok"
    if not os.path.exists(h.INFLUXD):
        h.check(False, "influxd is installed at " + h.INFLUXD)
        return
    influx_scenarios(h.tmpdir("influx"), DRV["path"])


def test_fake():
    if DRV.get("path") is not None:
        fake_scenarios(h.tmpdir("fake"), DRV["path"])


if __name__ == "__main__":
    h.run([test_build, test_influxd, test_fake])
