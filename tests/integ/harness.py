"""Integration-test harness: real influxd and relay processes on loopback, bounded load, and a
tiny ok/not ok test framework.  Debian's /usr/bin/python3 and the stdlib only.

Rules it enforces so that no test has to remember them:
  * ports are random in 20000-32000 (below 32768, outside the ephemeral range), checked free by
    binding, and a start that lost a port race is retried on fresh ports;
  * every request goes to 127.0.0.1 and has a timeout; every wait has a deadline;
  * every process is started by this module, stopped by PID (SIGTERM, then SIGKILL after a
    deadline) at the end of the test function that started it, at exit, and on SIGTERM/SIGINT/
    SIGHUP of the test process; children also get PR_SET_PDEATHSIG=SIGKILL (setpriv) when started
    from the main thread, so even a SIGKILLed test leaves nothing behind;
  * temp dirs live under one root in $TMPDIR (default /tmp), removed after a passing run and kept
    (path printed) after a failure.

Typical test:

    import harness as h

    def test_replay():
        a = h.Influxd("a").start()
        a.create_db("db")
        r = h.Relay(backends={"a": a}).start()
        load = h.Load(r.url, "db", points_per_request=100, requests=50, concurrency=4).run()
        h.check(load.conn_errors == 0, "no connection errors", load.summary())
        h.wait_until(lambda: a.points_total("db") == load.acked_total, timeout=30)
        h.check_eq(a.points_total("db"), load.acked_total, "every acknowledged point arrived")

    h.run([test_replay])
"""

import atexit
import base64
import bisect
import collections
import gzip as _gzip
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INFLUXD = "/usr/bin/influxd"
INFLUX = "/usr/bin/influx"
PORT_MIN, PORT_MAX = 20000, 32000
LOOPBACK = "127.0.0.1"


class HarnessError(Exception):
    """A process did not start, a wait ran out, a query failed: the test cannot go on."""


class Interrupted(SystemExit):
    """Raised in the main thread on SIGTERM/SIGINT/SIGHUP of the test process."""

    def __init__(self, signum):
        super().__init__(128 + signum)
        self.signum = signum


# --------------------------------------------------------------------------------------------
# paths, temp dirs
# --------------------------------------------------------------------------------------------


def build_dir():
    """$IWR_BUILD (default "build"), relative to the repository root unless absolute."""
    b = os.environ.get("IWR_BUILD", "build") or "build"
    return b if os.path.isabs(b) else os.path.join(ROOT, b)


def relay_bin():
    return os.path.join(build_dir(), "influx-wal-relay")


def cli_bin():
    return os.path.join(build_dir(), "influx-wal")


class _State:
    def __init__(self):
        self.lock = threading.RLock()
        self.tmp_root = None
        self.services = []  # every Influxd/Relay ever started, for cleanup
        self.scope = 0  # id of the running test function (0: outside any)
        self.failed = False  # any "not ok", uncaught exception or interrupt: keep temp dirs
        self.interrupted = 0
        self.cleaned = False


_state = _State()


def tmp_root():
    """The run's temp root under $TMPDIR, e.g. /tmp/iwr-test_replay-abc123 (created once)."""
    with _state.lock:
        if _state.tmp_root is None:
            base = os.environ.get("TMPDIR") or "/tmp"
            script = os.path.splitext(os.path.basename(sys.argv[0] or "python"))[0] or "python"
            _state.tmp_root = tempfile.mkdtemp(prefix="iwr-%s-" % script, dir=base)
        return _state.tmp_root


def tmpdir(prefix="tmp"):
    """A fresh directory under the run's temp root."""
    return tempfile.mkdtemp(prefix=prefix + "-", dir=tmp_root())


# --------------------------------------------------------------------------------------------
# ports
# --------------------------------------------------------------------------------------------

_ports_given = set()


def _bind_ok(port, kind):
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind((LOOPBACK, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port(udp=False, tcp=True):
    """A port in 20000-32000 that was free (bind test on 127.0.0.1) and that this process has not
    handed out before. udp=True also checks UDP (pass tcp=False for a UDP-only port)."""
    rng = random.SystemRandom()
    for _ in range(500):
        p = rng.randint(PORT_MIN, PORT_MAX)
        with _state.lock:
            if p in _ports_given:
                continue
            if tcp and not _bind_ok(p, socket.SOCK_STREAM):
                continue
            if udp and not _bind_ok(p, socket.SOCK_DGRAM):
                continue
            _ports_given.add(p)
            return p
    raise HarnessError("no free port found in %d-%d after 500 tries" % (PORT_MIN, PORT_MAX))


def _listen_inodes(port, udp=False):
    """Socket inodes listening (TCP) or bound (UDP) on 'port', from /proc/net."""
    inodes = set()
    files = ("/proc/net/udp", "/proc/net/udp6") if udp else ("/proc/net/tcp", "/proc/net/tcp6")
    for f in files:
        try:
            with open(f) as fh:
                next(fh, None)
                for line in fh:
                    parts = line.split()
                    if len(parts) < 10:
                        continue
                    local, state, inode = parts[1], parts[3], parts[9]
                    if int(local.rsplit(":", 1)[1], 16) != port:
                        continue
                    if udp or state == "0A":  # 0A: LISTEN
                        inodes.add(inode)
        except OSError:
            return None
    return inodes


def owns_port(pid, port, udp=False):
    """True if process 'pid' holds the listening socket on 'port' (None if /proc cannot tell)."""
    inodes = _listen_inodes(port, udp)
    if inodes is None:
        return None
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return None
    for fd in fds:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return True
    return False


# --------------------------------------------------------------------------------------------
# waiting
# --------------------------------------------------------------------------------------------


def wait_until(fn, timeout=10.0, interval=0.1, errors_ok=False):
    """Call fn() until it returns something truthy or 'timeout' seconds pass; returns the last
    value (so `check(wait_until(...), ...)` works and the value can be printed). fn runs at least
    once. errors_ok=True treats an exception from fn as a None result; otherwise exceptions
    propagate."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = fn()
        except Exception:  # noqa: BLE001
            if not errors_ok:
                raise
            value = None
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(max(0.0, min(interval, deadline - time.monotonic())))


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------


def _split_url(url):
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http":
        raise ValueError("only http:// URLs: %r" % url)
    host = u.hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("tests talk to loopback only, not %r" % url)
    return host, u.port or 80, (u.path or "") + ("?" + u.query if u.query else "")


def request(method, url, body=None, headers=None, timeout=10.0):
    """One HTTP request on a fresh connection. Returns (status, headers with lower-case keys,
    body bytes). Raises OSError/http.client errors (socket.timeout included) on failure."""
    host, port, path = _split_url(url)
    if isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path or "/", body=body, headers=dict(headers or {}))
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def send_then_reset(port, raw, timeout=10.0):
    """Send the whole HTTP request 'raw' (bytes) to 127.0.0.1:port, wait until the peer's kernel
    has acknowledged every byte (so the request is complete on the server), then reset the
    connection: a linger of 0 makes close() send RST instead of FIN. Returns whether every byte
    was acknowledged within 'timeout'."""
    import array
    import fcntl
    import struct
    import termios
    s = socket.create_connection((LOOPBACK, port), timeout=timeout)
    s.sendall(raw)
    deadline = time.time() + timeout
    outq = array.array("i", [1])
    while time.time() < deadline:
        fcntl.ioctl(s, termios.TIOCOUTQ, outq, True)
        if outq[0] == 0:
            break
        time.sleep(0.0005)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    return outq[0] == 0


def get(url, timeout=10.0, headers=None):
    return request("GET", url, headers=headers, timeout=timeout)


def ping(url, timeout=2.0):
    """True when GET url/ping answers 204."""
    try:
        return request("GET", url.rstrip("/") + "/ping", timeout=timeout)[0] == 204
    except (OSError, http.client.HTTPException):
        return False


def _auth_headers(auth=None, token=None):
    h = {}
    if auth is not None:
        cred = base64.b64encode(("%s:%s" % auth).encode()).decode()
        h["Authorization"] = "Basic " + cred
    if token is not None:
        h["Authorization"] = "Token " + token
    return h


_V2_PRECISION = {None: None, "": None, "n": "ns", "ns": "ns", "u": "us", "us": "us",
                 "ms": "ms", "s": "s"}


def write_path(db, precision=None, rp=None, v2=False, bucket=None, org=None, params=None,
               query_auth=None, consistency=None):
    """The /write (or /api/v2/write) path with its query string."""
    q = []
    if v2:
        if bucket is None:
            bucket = db if not rp else "%s/%s" % (db, rp)
        q.append(("bucket", bucket))
        q.append(("org", org if org is not None else ""))
        p = _V2_PRECISION.get(precision, precision)
        if p:
            q.append(("precision", p))
        path = "/api/v2/write"
    else:
        if db is not None:
            q.append(("db", db))
        if rp:
            q.append(("rp", rp))
        if precision:
            q.append(("precision", precision))
        if consistency:
            q.append(("consistency", consistency))
        path = "/write"
    if query_auth is not None:
        q += [("u", query_auth[0]), ("p", query_auth[1])]
    if params:
        q += list(params.items()) if isinstance(params, dict) else list(params)
    return path + ("?" + urllib.parse.urlencode(q) if q else "")


def write(url, db, body, precision=None, rp=None, gzip=False, auth=None, token=None,
          query_auth=None, v2=False, bucket=None, org=None, headers=None, params=None,
          consistency=None, timeout=10.0):
    """POST line protocol to url's /write (v2=True: /api/v2/write?bucket=db[/rp]&org=..).
    auth=(user, password) sends Basic auth, query_auth=(u, p) the u/p query parameters,
    token=.. "Authorization: Token ..". gzip=True compresses the body and sets
    Content-Encoding. Returns (status, headers, body) like request()."""
    if isinstance(body, str):
        body = body.encode()
    h = {"Content-Type": "text/plain; charset=utf-8"}
    h.update(_auth_headers(auth, token))
    if gzip:
        body = _gzip.compress(body)
        h["Content-Encoding"] = "gzip"
    h.update(headers or {})
    path = write_path(db, precision, rp, v2, bucket, org, params, query_auth, consistency)
    return request("POST", url.rstrip("/") + path, body=body, headers=h, timeout=timeout)


# ---- Prometheus remote write 1.0, built by hand (no protobuf library in the tests)

def _pb_varint(v):
    out = bytearray()
    v &= (1 << 64) - 1
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _pb_bytes(field, data):
    return _pb_varint(field << 3 | 2) + _pb_varint(len(data)) + data


def prom_write_request(series):
    """A remote write 1.0 WriteRequest (protobuf, not compressed). series: list of
    (labels, samples), labels a list of (name, value) str pairs (order kept), samples a list of
    (float value, int timestamp_ms)."""
    import struct
    out = bytearray()
    for labels, samples in series:
        ts = bytearray()
        for name, value in labels:
            ts += _pb_bytes(1, _pb_bytes(1, name.encode()) + _pb_bytes(2, value.encode()))
        for value, ms in samples:
            s = _pb_varint(1 << 3 | 1) + struct.pack("<d", value) + _pb_varint(2 << 3) + _pb_varint(ms)
            ts += _pb_bytes(2, s)
        out += _pb_bytes(1, bytes(ts))
    return bytes(out)


def snappy_block(data):
    """Snappy block format (what remote write sends), from Debian's python3-snappy."""
    import snappy
    return snappy.compress(data)


def prom_write(url, db, body, rp=None, auth=None, token=None, params=None, timeout=10.0):
    """POST 'body' (bytes as given: usually snappy_block(prom_write_request(...))) to
    url/api/v1/prom/write?db=DB -> (status, headers, body), with Prometheus's headers."""
    q = [("db", db)] if db is not None else []
    if rp is not None:
        q.append(("rp", rp))
    q += list(params or [])
    hdrs = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
            "X-Prometheus-Remote-Write-Version": "0.1.0"}
    hdrs.update(_auth_headers(auth, token))
    return request("POST", url + "/api/v1/prom/write?" + urllib.parse.urlencode(q), body=body,
                   headers=hdrs, timeout=timeout)


def send_udp(port, payload, host=LOOPBACK):
    """One UDP datagram of line protocol to 127.0.0.1:port."""
    if host not in ("127.0.0.1", "localhost"):
        raise ValueError("loopback only")
    if isinstance(payload, str):
        payload = payload.encode()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(payload, (LOOPBACK, port))
    finally:
        s.close()


def parse_prom(text):
    """Prometheus text format -> list of (name, {label: value}, float)."""
    out = []
    rx = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$')
    lrx = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = rx.match(line)
        if not m:
            continue
        labels = {k: bytes(v, "utf-8").decode("unicode_escape") for k, v in lrx.findall(m.group(3) or "")}
        try:
            val = float(m.group(4))
        except ValueError:
            continue
        out.append((m.group(1), labels, val))
    return out


def parse_logfmt(line):
    """One logfmt line -> dict (key=value, key="quoted value", bare key -> True)."""
    out = {}
    for m in re.finditer(r'([^\s=]+)(?:=("(?:[^"\\]|\\.)*"|\S*))?', line):
        k, v = m.group(1), m.group(2)
        if v is None:
            out[k] = True
        elif v.startswith('"') and len(v) >= 2:
            out[k] = re.sub(r'\\(.)', lambda mm: {"n": "\n", "t": "\t"}.get(mm.group(1), mm.group(1)), v[1:-1])
        else:
            out[k] = v
    return out


def _quote_ident(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def _quote_str(s):
    return "'%s'" % s.replace("\\", "\\\\").replace("'", "\\'")


# --------------------------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------------------------


class Proc:
    """One child process: started in its own session, output to a log file (appended across
    restarts), stopped by PID. Also PDEATHSIG=SIGKILL when started from the main thread."""

    def __init__(self, name, log_path, stderr_path=None):
        self.name = name
        self.log_path = log_path
        self.stderr_path = stderr_path  # None: stderr goes to the log with stdout
        self.popen = None
        self.log_offset = 0  # where the current run's output starts in log_path
        self.paused = False

    def spawn(self, argv, env=None, cwd=None):
        if self.popen is not None and self.popen.poll() is None:
            raise HarnessError("%s: already running (pid %d)" % (self.name, self.popen.pid))
        wrap = []
        if threading.current_thread() is threading.main_thread() and os.path.exists("/usr/bin/setpriv"):
            wrap = ["/usr/bin/setpriv", "--pdeathsig", "KILL", "--"]
        with open(self.log_path, "ab") as log:
            self.log_offset = log.tell()
            log.write(("=== harness: %s start %s ===\n" % (self.name, " ".join(argv))).encode())
            log.flush()
            self.log_offset = log.tell()
            full_env = dict(os.environ)
            full_env.update(env or {})
            err = open(self.stderr_path, "ab") if self.stderr_path else None
            try:
                self.popen = subprocess.Popen(wrap + list(argv), stdin=subprocess.DEVNULL,
                                              stdout=log, stderr=err or subprocess.STDOUT,
                                              cwd=cwd, env=full_env, start_new_session=True,
                                              close_fds=True)
            finally:
                if err:
                    err.close()
        self.paused = False
        return self.popen.pid

    @property
    def pid(self):
        return self.popen.pid if self.popen else None

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def returncode(self):
        return None if self.popen is None else self.popen.poll()

    def signal(self, sig):
        if self.alive():
            try:
                os.kill(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout):
        """Exit code, or None if still running after 'timeout' seconds."""
        if self.popen is None:
            return None
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=15.0):
        """SIGTERM (and SIGCONT, in case it is paused), wait up to 'timeout', then SIGKILL.
        Returns the exit code (negative: killed by that signal), None if never started."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.signal(signal.SIGTERM)
            self.signal(signal.SIGCONT)
            rc = self.wait(timeout)
            if rc is None:
                self._note("did not exit %.0fs after SIGTERM: SIGKILL" % timeout)
                return self.kill()
        self.paused = False
        return self.popen.returncode

    def kill(self):
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.signal(signal.SIGKILL)
            if self.wait(10.0) is None:
                raise HarnessError("%s (pid %d) survived SIGKILL for 10 s" % (self.name, self.popen.pid))
        self.paused = False
        return self.popen.returncode

    def _task_states(self):
        """State letter of every thread (from /proc), [] if the process is gone."""
        states = []
        try:
            tids = os.listdir("/proc/%d/task" % self.popen.pid)
        except OSError:
            return []
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/stat" % (self.popen.pid, tid)) as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
            except OSError:
                pass
        return states

    def pause(self, timeout=10.0):
        """SIGSTOP, and wait until every thread is stopped (SIGSTOP is asynchronous: a busy or
        fsync-ing process may run on for a moment)."""
        self.signal(signal.SIGSTOP)
        self.paused = True
        if not wait_until(lambda: self._stopped(), timeout, 0.01):
            raise HarnessError("%s (pid %s) not stopped %.0f s after SIGSTOP: threads %s" % (
                self.name, self.pid, timeout, self._task_states()))

    def _stopped(self):
        if not self.alive():
            return True
        st = self._task_states()
        return bool(st) and all(s in ("T", "t", "Z", "X") for s in st)

    def resume(self, timeout=10.0):
        """SIGCONT, and wait until the process is no longer stopped."""
        self.signal(signal.SIGCONT)
        self.paused = False
        wait_until(lambda: not self.alive() or not all(s in ("T", "t") for s in self._task_states()),
                   timeout, 0.01)

    def _note(self, msg):
        try:
            with open(self.log_path, "ab") as log:
                log.write(("=== harness: %s %s ===\n" % (self.name, msg)).encode())
        except OSError:
            pass

    def log_text(self, current=False):
        try:
            with open(self.log_path, "rb") as f:
                if current:
                    f.seek(self.log_offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=30, current=True):
        lines = self.log_text(current).splitlines()
        return "\n".join(lines[-n:])


class _Service:
    """What Influxd and Relay share: a Proc, a directory, ports, registration for cleanup."""

    kind = "service"

    def __init__(self, name):
        self.name = name
        self.dir = None
        self.proc = None
        self.port = None
        self._scope = None

    def _register(self):
        with _state.lock:
            if self not in _state.services:
                _state.services.append(self)
                self._scope = _state.scope

    def keep(self):
        """Let this process outlive the test function that started it (a fixture shared by later
        test functions); it is still stopped at exit. Returns self."""
        with _state.lock:
            self._scope = 0
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.alive()

    def wait_exit(self, timeout=30.0):
        """Exit code once the process has exited by itself, None if still running at the
        deadline."""
        return self.proc.wait(timeout) if self.proc else None

    @property
    def url(self):
        return "http://%s:%d" % (LOOPBACK, self.port)

    def ping(self, timeout=2.0):
        return ping(self.url, timeout)

    def stop(self, timeout=15.0):
        """SIGTERM, wait (deadline), SIGKILL after it. Returns the exit code."""
        return self.proc.stop(timeout) if self.proc else None

    def kill(self):
        """SIGKILL, wait. Returns the exit code (-9)."""
        return self.proc.kill() if self.proc else None

    def pause(self):
        """SIGSTOP (returns once every thread is stopped): the process keeps its sockets but
        answers nothing; connections still complete in the kernel's listen backlog."""
        self.proc.pause()

    def resume(self):
        """SIGCONT (returns once it runs again)."""
        self.proc.resume()

    def signal(self, sig):
        self.proc.signal(sig)

    def log_text(self, current=False):
        """The process's output (stderr and stdout): all runs, or current=True since the last
        start."""
        return self.proc.log_text(current) if self.proc else ""

    def log_lines(self, current=False):
        return [l for l in self.log_text(current).splitlines() if not l.startswith("=== harness:")]

    def log_tail(self, n=30):
        return self.proc.log_tail(n) if self.proc else ""

    def grep_log(self, pattern, current=False):
        """Lines of the log matching the regular expression 'pattern'."""
        rx = re.compile(pattern)
        return [l for l in self.log_lines(current) if rx.search(l)]

    def wait_log(self, pattern, timeout=10.0, current=True):
        """Wait until a log line matches 'pattern'; returns the matching lines (empty list when
        the deadline passed)."""
        return wait_until(lambda: self.grep_log(pattern, current), timeout, 0.1) or []

    def _wait_ready(self, timeout, udp_ports=()):
        """(ok, collision, reason): /ping answers 204 from OUR process within 'timeout'."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.proc.alive():
                text = self.proc.log_text(current=True)
                coll = "address already in use" in text.lower()
                return False, coll, "%s exited with status %s before answering /ping" % (
                    self.name, self.proc.returncode())
            if ping(self.url, timeout=1.0):
                owned = owns_port(self.proc.pid, self.port)
                if owned is False:
                    return False, True, "port %d answers, but not from %s (pid %d)" % (
                        self.port, self.name, self.proc.pid)
                pending = [up for up in udp_ports if owns_port(self.proc.pid, up, udp=True) is False]
                if not pending:
                    return True, False, ""
                for up in pending:  # bound by someone else: lost the race for it
                    if _listen_inodes(up, udp=True):
                        return False, True, "UDP port %d is bound, but not by %s (pid %d)" % (
                            up, self.name, self.proc.pid)
            time.sleep(0.05)
        return False, False, "%s did not answer GET %s/ping with 204 within %.0f s" % (
            self.name, self.url, timeout)

    def _fail(self, reason):
        raise HarnessError("%s\n--- %s log (%s), last lines:\n%s" % (
            reason, self.name, self.proc.log_path if self.proc else "-", self.log_tail(40)))

    def __repr__(self):
        return "<%s %s %s pid=%s>" % (type(self).__name__, self.name,
                                      self.url if self.port else "-", self.pid)


def _cleanup_services(services, timeout=15.0):
    errs = []
    for s in reversed(services):
        try:
            if s.proc is not None and s.proc.alive():
                s.proc.stop(timeout)
        except BaseException as e:  # noqa: BLE001 - keep cleaning the others
            errs.append("%s: %s" % (s.name, e))
    return errs


def stop_all(timeout=15.0):
    """Stop every process this module started (SIGTERM, SIGKILL after 'timeout')."""
    with _state.lock:
        services = list(_state.services)
    return _cleanup_services(services, timeout)


# --------------------------------------------------------------------------------------------
# influxd
# --------------------------------------------------------------------------------------------


class QueryError(HarnessError):
    pass


class Influxd(_Service):
    """A real influxd 1.6 on 127.0.0.1 with its own temp data dir.

        a = Influxd("a").start()      # random free ports; waits for /ping 204 (30 s)
        a.create_db("db"); a.write("db", "m n=1i 1"); a.points_total("db") -> 1
    """

    kind = "influxd"

    def __init__(self, name="influxd", write_timeout=None, extra_config=None):
        """write_timeout: influxd's [coordinator] write-timeout (e.g. "120s"; its default is
        10 s, after which a slow write is answered 500 "timeout"). extra_config: more config
        text appended as is (e.g. a [[graphite]] section of its own inputs)."""
        super().__init__(name)
        self.rpc_port = None
        self.write_timeout = write_timeout
        self.extra_config = extra_config

    def _config_text(self):
        d = self.dir
        return "\n".join([
            "reporting-disabled = true",
            'bind-address = "%s:%d"' % (LOOPBACK, self.rpc_port),
            "",
            "[meta]",
            '  dir = "%s/meta"' % d,
            "  logging-enabled = false",
            "",
            "[data]",
            '  dir = "%s/data"' % d,
            '  wal-dir = "%s/wal"' % d,
            "  query-log-enabled = false",
            "",
            "[http]",
            '  bind-address = "%s:%d"' % (LOOPBACK, self.port),
            "  log-enabled = false",
            "  pprof-enabled = false",
            "",
            "[monitor]",
            "  store-enabled = false",
            "",
            "[continuous_queries]",
            "  enabled = false",
            "",
            "[logging]",
            '  level = "warn"',
            "  suppress-logo = true",
            "",
            "[subscriber]",
            "  enabled = false",
            "",
        ] + (["[coordinator]", '  write-timeout = "%s"' % self.write_timeout, ""]
             if self.write_timeout else []) + ([self.extra_config, ""] if self.extra_config else []))

    def start(self, port=None, rpc_port=None, timeout=30.0):
        """Start with a fresh temp dir (or the same one again after stop()). Ports: random free
        ones, retried on a lost race; explicit ports are used as given."""
        if self.alive():
            raise HarnessError("%s already running" % self.name)
        if self.dir is None:
            self.dir = tmpdir(self.name)
            self.proc = Proc(self.name, os.path.join(self.dir, "influxd.log"))
        self._register()
        fixed = port is not None
        last = ""
        for _attempt in range(6):
            self.port = port if fixed else free_port()
            self.rpc_port = rpc_port if rpc_port is not None else free_port()
            ok, collision, reason = self._launch(timeout)
            if ok:
                return self
            last = reason
            self.proc.kill()
            if fixed or not collision:
                break
        self._fail(last)

    def _launch(self, timeout):
        conf = os.path.join(self.dir, "influxd.conf")
        with open(conf, "w") as f:
            f.write(self._config_text())
        self.proc.spawn([INFLUXD, "run", "-config", conf], env={"INFLUXDB_REPORTING_DISABLED": "true"})
        return self._wait_ready(timeout)

    def restart(self, timeout=30.0, stop_timeout=15.0):
        """stop() (if running) and start again on the same data dir and ports."""
        if self.port is None:
            return self.start(timeout=timeout)
        if self.alive():
            self.stop(stop_timeout)
        ok, _, reason = self._launch(timeout)
        if not ok:
            self.proc.kill()
            self._fail(reason)
        return self

    # ---- HTTP API

    def query(self, q, db=None, epoch="ns", rp=None, timeout=30.0, raise_errors=True):
        """POST /query; returns the parsed JSON. Raises QueryError on a non-200 answer or (with
        raise_errors) when any statement reports an error."""
        params = [("q", q)]
        if db is not None:
            params.append(("db", db))
        if rp is not None:
            params.append(("rp", rp))
        if epoch:
            params.append(("epoch", epoch))
        status, _, body = request("POST", self.url + "/query", body=urllib.parse.urlencode(params),
                                  headers={"Content-Type": "application/x-www-form-urlencoded"},
                                  timeout=timeout)
        try:
            doc = json.loads(body.decode("utf-8", "replace") or "{}")
        except ValueError:
            raise QueryError("%s: %r answered %d with non-JSON: %r" % (self.name, q, status, body[:300]))
        if status != 200 or "error" in doc:
            raise QueryError("%s: %r answered %d: %s" % (self.name, q, status, body[:300]))
        if raise_errors:
            for r in doc.get("results", []):
                if "error" in r:
                    raise QueryError("%s: %r: %s" % (self.name, q, r["error"]))
        return doc

    def create_db(self, name):
        self.query("CREATE DATABASE %s" % _quote_ident(name))

    def drop_db(self, name):
        self.query("DROP DATABASE %s" % _quote_ident(name))

    def databases(self):
        return [r["name"] for r in self._rows(self.query("SHOW DATABASES"))]

    def create_rp(self, db, rp, duration="INF", default=False):
        self.query("CREATE RETENTION POLICY %s ON %s DURATION %s REPLICATION 1%s" % (
            _quote_ident(rp), _quote_ident(db), duration, " DEFAULT" if default else ""))

    @staticmethod
    def _rows(doc):
        out = []
        for r in doc.get("results", []):
            for s in r.get("series", []) or []:
                cols = s.get("columns", [])
                for v in s.get("values", []) or []:
                    row = dict(zip(cols, v))
                    if "name" in s and "name" not in row:
                        row["_measurement"] = s["name"]
                    row.update(s.get("tags", {}) or {})
                    out.append(row)
        return out

    def values(self, db, q, epoch="ns"):
        """Run a query, return its rows as dicts (columns + tags + "_measurement"); times are
        integers (epoch ns) unless epoch=None."""
        return self._rows(self.query(q, db=db, epoch=epoch))

    def _from(self, measurement, rp):
        m = _quote_ident(measurement) if measurement else "/.*/"
        return ("%s.%s" % (_quote_ident(rp), m)) if rp else m

    def count(self, db, measurement=None, field="n", where=None, rp=None):
        """Exact number of points with field 'field' in 'measurement' (None: every
        measurement): SELECT count("field") FROM ... summed over measurements."""
        q = "SELECT count(%s) FROM %s" % (_quote_ident(field), self._from(measurement, rp))
        if where:
            q += " WHERE " + where
        total = 0
        for row in self.values(db, q):
            c = row.get("count")
            if c is not None:
                total += int(c)
        return total

    def points_total(self, db, field="n", rp=None):
        """Total points in 'db' (every measurement), counting the field every test point has
        ("n" for Load's points)."""
        return self.count(db, None, field, rp=rp)

    def field_values(self, db, field="n", measurement=None, where=None, rp=None):
        """Every value of 'field' (a list, duplicates kept) over the measurement(s)."""
        q = "SELECT %s FROM %s" % (_quote_ident(field), self._from(measurement, rp))
        if where:
            q += " WHERE " + where
        return [r[field] for r in self.values(db, q) if r.get(field) is not None]

    def series(self, db, measurement=None):
        """Series keys, e.g. ["cpu,host=a", ...]."""
        q = "SHOW SERIES" + (" FROM %s" % _quote_ident(measurement) if measurement else "")
        return [r["key"] for r in self.values(db, q)]

    def measurements(self, db):
        return [r["name"] for r in self.values(db, "SHOW MEASUREMENTS")]

    def write(self, db, body, precision=None, rp=None, expect=204, timeout=30.0):
        """POST line protocol straight to this influxd. Raises HarnessError unless the status is
        'expect' (None: accept any). Returns (status, body)."""
        status, _, data = write(self.url, db, body, precision=precision, rp=rp, timeout=timeout)
        if expect is not None and status != expect:
            raise HarnessError("%s: write to %s answered %d (want %d): %s" % (
                self.name, db, status, expect, data[:300]))
        return status, data

    def influx_cli(self, *args, timeout=60.0):
        """Run /usr/bin/influx against this server: (rc, stdout, stderr)."""
        return run_cmd([INFLUX, "-host", LOOPBACK, "-port", str(self.port)] + list(args), timeout)


# --------------------------------------------------------------------------------------------
# relay
# --------------------------------------------------------------------------------------------


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string is JSON-compatible for what tests need
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError("no TOML for %r" % (v,))


def to_toml(d, _prefix=""):
    """A dict as TOML: scalars and lists of scalars as keys, dicts as [tables], lists of dicts as
    [[arrays of tables]] (nested the same way)."""
    lines, tables = [], []
    for k, v in d.items():
        if isinstance(v, dict):
            tables.append((k, v, False))
        elif isinstance(v, (list, tuple)) and v and all(isinstance(x, dict) for x in v):
            tables.append((k, v, True))
        else:
            lines.append("%s = %s" % (k, _toml_value(v)))
    out = "\n".join(lines) + ("\n" if lines else "")
    for k, v, is_array in tables:
        name = _prefix + k
        if is_array:
            for item in v:
                out += "\n[[%s]]\n" % name + to_toml(item, name + ".")
        else:
            out += "\n[%s]\n" % name + to_toml(v, name + ".")
    return out


class Relay(_Service):
    """The influx-wal-relay daemon ($IWR_BUILD/influx-wal-relay) on 127.0.0.1.

        r = Relay(backends={"a": a, "b": "http://127.0.0.1:P"}, udp=["udpdb"]).start()

    backends: dict name -> URL or Influxd, or a list of Influxd (named by their .name);
    passed as --backend NAME=URL. config: dict (written as TOML) or str (written as is),
    passed as --config FILE. --listen 127.0.0.1:PORT and --data-dir DIR are always passed
    (flags override the file) unless listen_flag/data_dir_flag is False; then 'port' must be
    given (it is where /ping is awaited). udp: list of db names (a free port each) or
    (port, db) pairs -> --udp 127.0.0.1:P=DB; self.udp is the list of (port, db).
    args: extra arguments passed through."""

    kind = "relay"

    def __init__(self, backends=None, config=None, udp=None, data_dir=None, args=(),
                 name="relay", env=None, listen_flag=True, data_dir_flag=True):
        super().__init__(name)
        if isinstance(backends, dict):
            self.backends = [(k, v.url if isinstance(v, Influxd) else v) for k, v in backends.items()]
        elif backends:
            self.backends = [(b.name, b.url) if isinstance(b, Influxd) else tuple(b) for b in backends]
        else:
            self.backends = []
        self.config = config
        self.udp_spec = list(udp or [])
        self.udp = []
        self.data_dir = data_dir
        self.args = list(args)
        self.env = dict(env or {})
        self.listen_flag = listen_flag
        self.data_dir_flag = data_dir_flag
        self.config_path = None
        self.argv = None

    def udp_port(self, db):
        for p, d in self.udp:
            if d == db:
                return p
        raise KeyError(db)

    def write_config(self, config=None):
        """(Re)write the config file (e.g. before reload() with SIGHUP)."""
        if config is not None:
            self.config = config
        if self.config is None:
            return None
        self.config_path = os.path.join(self.dir, "relay.toml")
        text = self.config if isinstance(self.config, str) else to_toml(self.config)
        with open(self.config_path, "w") as f:
            f.write(text)
        return self.config_path

    def _argv(self):
        argv = [relay_bin()]
        if self.config_path:
            argv += ["--config", self.config_path]
        if self.listen_flag:
            argv += ["--listen", "%s:%d" % (LOOPBACK, self.port)]
        if self.data_dir_flag:
            argv += ["--data-dir", self.data_dir]
        for name, url in self.backends:
            argv += ["--backend", "%s=%s" % (name, url)]
        for p, db in self.udp:
            argv += ["--udp", "%s:%d=%s" % (LOOPBACK, p, db)]
        return argv + self.args

    def start(self, port=None, timeout=20.0, wait=True):
        """Start; waits for GET /ping 204 from this process (deadline 'timeout'). Random ports
        are retried on a lost race. wait=False returns right after spawning."""
        if self.alive():
            raise HarnessError("%s already running" % self.name)
        if not os.access(relay_bin(), os.X_OK):
            raise HarnessError("relay binary %s missing: run `make binaries`" % relay_bin())
        if self.dir is None:
            self.dir = tmpdir(self.name)
            self.proc = Proc(self.name, os.path.join(self.dir, "relay.log"))
            if self.data_dir is None:
                self.data_dir = os.path.join(self.dir, "wal")
        self._register()
        self.write_config()
        fixed = port is not None or not self.listen_flag
        if not self.listen_flag and port is None:
            raise HarnessError("listen_flag=False needs port= (where the config listens)")
        last = ""
        for _attempt in range(6):
            self.port = port if fixed else free_port()
            self.udp = [(p, db) for p, db in (
                (x if isinstance(x, tuple) else (free_port(udp=True, tcp=False), x)) for x in self.udp_spec)]
            self.argv = self._argv()
            self.proc.spawn(self.argv, env=self.env, cwd=self.dir)
            if not wait:
                return self
            ok, collision, reason = self._wait_ready(timeout, [p for p, _ in self.udp])
            if ok:
                return self
            last = reason
            self.proc.kill()
            if fixed or not collision:
                break
        self._fail(last)

    def restart(self, timeout=20.0, stop_timeout=30.0, wait=True):
        """stop() if running, then start again with the same data dir, ports and arguments."""
        if self.port is None:
            return self.start(timeout=timeout, wait=wait)
        if self.alive():
            self.stop(stop_timeout)
        self.write_config()
        self.argv = self._argv()
        self.proc.spawn(self.argv, env=self.env, cwd=self.dir)
        if wait:
            ok, _, reason = self._wait_ready(timeout, [p for p, _ in self.udp])
            if not ok:
                self.proc.kill()
                self._fail(reason)
        return self

    def stop(self, timeout=30.0):
        """SIGTERM and wait for the exit (SIGKILL after 'timeout'); returns the exit code (0 is a
        clean shutdown, -9 means it had to be killed)."""
        return super().stop(timeout)

    def reload(self, config=None):
        """Rewrite the config file (when given) and send SIGHUP."""
        if config is not None:
            self.write_config(config)
        self.signal(signal.SIGHUP)

    def log_records(self, current=False):
        """The log as parsed logfmt dicts."""
        return [parse_logfmt(l) for l in self.log_lines(current) if "=" in l]

    def metrics_text(self, timeout=10.0):
        status, _, body = request("GET", self.url + "/metrics", timeout=timeout)
        if status != 200:
            raise HarnessError("%s: GET /metrics answered %d" % (self.name, status))
        return body.decode("utf-8", "replace")

    def metric(self, name, default=None, **labels):
        """Sum of the samples named 'name' whose labels include 'labels' (default when none)."""
        vals = [v for n, l, v in parse_prom(self.metrics_text())
                if n == name and all(l.get(k) == str(x) for k, x in labels.items())]
        return sum(vals) if vals else default

    def health(self, timeout=10.0):
        """(status, parsed JSON or raw text) of GET /health."""
        status, _, body = request("GET", self.url + "/health", timeout=timeout)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body.decode("utf-8", "replace")

    def run_cli(self, *args, timeout=60.0, input=None):
        """build/influx-wal ARGS --data-dir <this relay's data dir>: (rc, stdout, stderr)."""
        return run_cli(*args, data_dir=self.data_dir, timeout=timeout, input=input)

    def cli_json(self, *args, timeout=60.0):
        """run_cli(...) expecting rc 0 and JSON on stdout (e.g. cli_json("status", "--json"))."""
        rc, out, err = self.run_cli(*args, timeout=timeout)
        if rc != 0:
            raise HarnessError("influx-wal %s: rc %d: %s" % (" ".join(args), rc, err.strip()[-500:]))
        return json.loads(out)

    def write(self, db, body, **kw):
        """write(self.url, db, body, **kw) -> (status, headers, body)."""
        return write(self.url, db, body, **kw)


class Process(_Service):
    """Any other long-running program (haproxy, a fake backend...) under the same rules: own
    temp dir (cwd), output in a log file, stopped by PID at the end of its test function.

        hp = Process(["/usr/sbin/haproxy", "-f", cfg, "-db"], name="haproxy", port=p).start()

    With 'port', start() waits until GET /ping answers 204 ... unless ready= is given: a
    function called until truthy (e.g. lambda: owns_port(hp.pid, p)). ready=None and no port:
    start() only checks the process is still alive after 'settle' seconds. stderr=True keeps
    stderr apart from stdout, in <dir>/<name>.err (err_text() reads it)."""

    kind = "process"

    def __init__(self, argv, name="proc", port=None, env=None, cwd=None, ready=None,
                 stderr=False):
        super().__init__(name)
        self.argv = list(argv)
        self.port = port
        self.env = dict(env or {})
        self.cwd = cwd
        self.ready = ready
        self.stderr_apart = stderr

    def err_text(self):
        """stderr of every run when started with stderr=True ("" otherwise)."""
        path = self.proc.stderr_path if self.proc else None
        if not path or not os.path.exists(path):
            return ""
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def start(self, timeout=15.0, settle=0.2):
        if self.alive():
            raise HarnessError("%s already running" % self.name)
        if self.dir is None:
            self.dir = tmpdir(self.name)
            err = os.path.join(self.dir, self.name + ".err") if self.stderr_apart else None
            self.proc = Proc(self.name, os.path.join(self.dir, self.name + ".log"), err)
        self._register()
        self.proc.spawn(self.argv, env=self.env, cwd=self.cwd or self.dir)
        if self.ready is None and self.port is None:
            time.sleep(settle)
            if not self.alive():
                self._fail("%s exited with status %s" % (self.name, self.proc.returncode()))
            return self
        if self.ready is None:
            ok, _, reason = self._wait_ready(timeout)
            if not ok:
                self.proc.kill()
                self._fail(reason)
            return self
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                self._fail("%s exited with status %s" % (self.name, self.proc.returncode()))
            if self.ready():
                return self
            time.sleep(0.05)
        self.proc.kill()
        self._fail("%s not ready within %.0f s" % (self.name, timeout))

    def restart(self, timeout=15.0, stop_timeout=15.0):
        if self.alive():
            self.stop(stop_timeout)
        return self.start(timeout)


def run_cmd(argv, timeout=60.0, input=None, env=None, cwd=None):
    """Run a command to completion (killed at the deadline): (rc, stdout str, stderr str).
    rc is None when it had to be killed for running past 'timeout'."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env, cwd=cwd,
                         start_new_session=True)
    try:
        out, err = p.communicate(input=input.encode() if isinstance(input, str) else input,
                                 timeout=timeout)
        return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=10)
        return None, out.decode("utf-8", "replace"), err.decode("utf-8", "replace") + \
            "\n[harness: killed after %.0f s]" % timeout
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)


def run_cli(*args, data_dir=None, timeout=60.0, input=None):
    """$IWR_BUILD/influx-wal ARGS [--data-dir DIR] (appended unless ARGS has one):
    (rc, stdout, stderr)."""
    argv = [cli_bin()] + [str(a) for a in args]
    if data_dir is not None and "--data-dir" not in args:
        argv += ["--data-dir", data_dir]
    return run_cmd(argv, timeout=timeout, input=input)


def run_relay(*args, timeout=30.0, input=None):
    """The daemon binary run to completion (--version, --help, --check-config ...):
    (rc, stdout, stderr)."""
    return run_cmd([relay_bin()] + [str(a) for a in args], timeout=timeout, input=input)


# --------------------------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------------------------

_UNITS_PER_SEC = {None: 10**9, "": 10**9, "n": 10**9, "ns": 10**9, "u": 10**6, "us": 10**6,
                  "ms": 10**3, "s": 1, "m": 1.0 / 60, "h": 1.0 / 3600}
_n_lock = threading.Lock()
_n_next = [1]


def _reserve_n(count):
    with _n_lock:
        base = _n_next[0]
        _n_next[0] += count
        return base


class Load:
    """A bounded concurrent writer speaking the InfluxDB write API (relay or influxd).

    Sends at most 'requests' requests of 'points_per_request' points each from 'concurrency'
    threads; no request starts after 'deadline' seconds of wall clock and each has 'timeout'
    seconds, so run() returns within deadline + timeout. Every point is unique and cannot
    overwrite another one: measurement 'measurement', tags run=<random id per Load>,
    req=<request index>, fields n=<unique integer>i (unique across every Load in this process)
    and v=<float>; timestamped points get distinct timestamps within their series; points without
    a timestamp (fraction 'no_timestamp_fraction', relying on the receiver's stamping) also get a
    tag p=<index in request>, so even identical stamps cannot collide. Each request picks a
    precision from 'precisions' (None: no precision parameter) and writes its timestamps in it.
    db: one name or a list (requests go round-robin).

    After run() (or start() + join()):
      acked[db]         points acknowledged with 204, per database (exact)
      acked_total       sum of acked
      acked_n(db)       the set of n values acknowledged in db
      rejected[db]      points answered 503 (not stored, by contract)
      ambiguous[db]     points of requests that got no answer (conn error / timeout): may or
                        may not have been stored
      statuses          Counter of HTTP status -> requests;  n503, conn_errors, timeouts
      errors            first messages of failures (status bodies, exceptions)
      requests_sent, elapsed, summary()
    """

    def __init__(self, url, db, points_per_request=100, requests=100, concurrency=4,
                 no_timestamp_fraction=0.2, precisions=(None, "ns", "u", "ms", "s"),
                 measurement="load", rp=None, gzip=False, v2=False, auth=None, token=None,
                 deadline=60.0, timeout=10.0, keepalive=True, seed=None, interval=0.0,
                 extra_tags=None, org=None):
        _split_url(url)
        self.url = url.rstrip("/")
        self.dbs = [db] if isinstance(db, str) else list(db)
        self.ppr = int(points_per_request)
        self.requests = int(requests)
        self.concurrency = max(1, int(concurrency))
        self.no_ts = float(no_timestamp_fraction)
        self.precisions = list(precisions) or [None]
        self.measurement = measurement
        self.rp = rp
        self.gzip = gzip
        self.v2 = v2
        self.org = org
        self.auth = auth
        self.token = token
        self.deadline_s = float(deadline)
        self.timeout = float(timeout)
        self.keepalive = keepalive
        self.seed = random.randrange(1 << 30) if seed is None else seed
        self.interval = float(interval)
        self.extra_tags = "".join(",%s=%s" % kv for kv in sorted((extra_tags or {}).items()))
        self.run_id = "%08x" % random.SystemRandom().randrange(1 << 32)
        self.n_base = _reserve_n(self.requests * self.ppr)
        self.t_base = time.time() - 3600.0
        if v2:
            bad = [p for p in self.precisions if p not in _V2_PRECISION]
            if bad:
                raise ValueError("precisions %r have no /api/v2/write spelling" % bad)

        self._lock = threading.Lock()
        self._next = 0
        self._stop = threading.Event()
        self._threads = []
        self._t0 = None
        self._t_end = None
        self.acked = {d: 0 for d in self.dbs}
        self.rejected = {d: 0 for d in self.dbs}
        self.ambiguous = {d: 0 for d in self.dbs}
        self.other = {d: 0 for d in self.dbs}  # points answered with another status
        self._acked_reqs = {d: [] for d in self.dbs}
        self.statuses = collections.Counter()
        self.n503 = 0
        self.conn_errors = 0
        self.timeouts = 0
        self.errors = []
        self.requests_sent = 0
        self.retry_after = []  # Retry-After values seen on 503s (first 20)

    # ---- the points

    def request_body(self, r):
        """(db, precision, body bytes, n of the first point) of request r (deterministic)."""
        rng = random.Random(self.seed * 1000003 + r)
        prec = rng.choice(self.precisions)
        db = self.dbs[r % len(self.dbs)]
        ups = _UNITS_PER_SEC[prec]
        base = int(self.t_base * ups)
        n0 = self.n_base + r * self.ppr
        series = "%s,req=%d,run=%s%s" % (self.measurement, r, self.run_id, self.extra_tags)
        lines = []
        for j in range(self.ppr):
            n = n0 + j
            v = rng.random() * 100.0
            if rng.random() < self.no_ts:
                lines.append("%s,p=%d n=%di,v=%r" % (series, j, n, v))
            else:
                lines.append("%s n=%di,v=%r %d" % (series, n, v, base + j))
        return db, prec, ("\n".join(lines) + "\n").encode(), n0

    def acked_n(self, db=None):
        """Set of the n values acknowledged (in 'db', or in every db)."""
        out = set()
        for d in ([db] if db is not None else self.dbs):
            for r in self._acked_reqs[d]:
                out.update(range(self.n_base + r * self.ppr, self.n_base + (r + 1) * self.ppr))
        return out

    @property
    def acked_total(self):
        return sum(self.acked.values())

    # ---- running

    def start(self):
        if self._threads:
            raise HarnessError("Load already started")
        self._t0 = time.monotonic()
        for i in range(self.concurrency):
            t = threading.Thread(target=self._worker, name="load-%d" % i, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def join(self, timeout=None):
        """Wait for the workers (bounded: deadline + request timeout + 10 s by default)."""
        if timeout is None:
            timeout = self.deadline_s + self.timeout + 10.0
        end = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, end - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            self._stop.set()
            raise HarnessError("load workers still running after %.0f s: %s" % (timeout, alive))
        if self._t_end is None:
            self._t_end = time.monotonic()
        return self

    def run(self):
        """start() and join(): blocks until every request is answered or the deadline passed."""
        return self.start().join()

    def stop(self):
        """Ask the workers to send nothing more (in-flight requests finish)."""
        self._stop.set()

    def done(self):
        return bool(self._threads) and not any(t.is_alive() for t in self._threads)

    @property
    def elapsed(self):
        if self._t0 is None:
            return 0.0
        return (self._t_end or time.monotonic()) - self._t0

    def _take(self):
        with self._lock:
            if self._stop.is_set() or self._next >= self.requests:
                return None
            if time.monotonic() - self._t0 >= self.deadline_s:
                return None
            r = self._next
            self._next += 1
            self.requests_sent += 1
            return r

    def _err(self, msg):
        if len(self.errors) < 20:
            self.errors.append(msg)

    def _worker(self):
        host, port, _ = _split_url(self.url)
        conn = None
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        headers.update(_auth_headers(self.auth, self.token))
        if self.gzip:
            headers["Content-Encoding"] = "gzip"
        if not self.keepalive:
            headers["Connection"] = "close"
        try:
            while True:
                r = self._take()
                if r is None:
                    return
                db, prec, body, _ = self.request_body(r)
                if self.gzip:
                    body = _gzip.compress(body)
                path = write_path(db, prec, self.rp, self.v2, org=self.org)
                tmo = self.timeout  # the deadline stops new requests; in-flight ones get this
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(host, port, timeout=tmo)
                    else:
                        conn.timeout = tmo
                        if conn.sock is not None:
                            conn.sock.settimeout(tmo)
                    conn.request("POST", path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    status = resp.status
                    if not self.keepalive or resp.will_close:
                        conn.close()
                        conn = None
                except (socket.timeout, TimeoutError) as e:
                    with self._lock:
                        self.timeouts += 1
                        self.ambiguous[db] += self.ppr
                        self._err("request %d: timeout: %s" % (r, e))
                    conn = self._drop(conn)
                    continue
                except (OSError, http.client.HTTPException) as e:
                    with self._lock:
                        self.conn_errors += 1
                        self.ambiguous[db] += self.ppr
                        self._err("request %d: %s: %s" % (r, type(e).__name__, e))
                    conn = self._drop(conn)
                    if self.interval:
                        time.sleep(self.interval)
                    continue
                with self._lock:
                    self.statuses[status] += 1
                    if status == 204:
                        self.acked[db] += self.ppr
                        self._acked_reqs[db].append(r)
                    elif status == 503:
                        self.n503 += 1
                        self.rejected[db] += self.ppr
                        if len(self.retry_after) < 20:
                            self.retry_after.append(resp.getheader("Retry-After"))
                    else:
                        self.other[db] += self.ppr
                        self._err("request %d: status %d: %s" % (r, status, data[:200]))
                if self.interval:
                    time.sleep(self.interval)
        finally:
            self._drop(conn)
            with self._lock:
                if all(not t.is_alive() or t is threading.current_thread() for t in self._threads):
                    self._t_end = time.monotonic()

    @staticmethod
    def _drop(conn):
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass
        return None

    def summary(self):
        return ("load run=%s: %d/%d requests in %.1fs, acked %s, 503 %d, conn errors %d, "
                "timeouts %d, statuses %s%s" % (
                    self.run_id, self.requests_sent, self.requests, self.elapsed, self.acked,
                    self.n503, self.conn_errors, self.timeouts, dict(self.statuses),
                    ("; first error: " + self.errors[0]) if self.errors else ""))


# --------------------------------------------------------------------------------------------
# /query through a relay, and shards: the ring, and the fixture of two shards of two influxd
# --------------------------------------------------------------------------------------------


def query_json(url, q, db=None, epoch=None, extra=(), timeout=30.0):
    """POST /query as a form (q, db, epoch and 'extra' pairs): (status, headers, parsed body);
    a body that is not JSON comes back as {"raw": its first 300 characters}."""
    params = [("q", q)] + ([("db", db)] if db else []) + ([("epoch", epoch)] if epoch else [])
    st, hdrs, body = request("POST", url + "/query", body=urllib.parse.urlencode(
        params + list(extra)).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=timeout)
    try:
        doc = json.loads(body.decode("utf-8", "replace") or "{}")
    except ValueError:
        doc = {"raw": body[:300].decode("utf-8", "replace")}
    return st, hdrs, doc


def statement(url, q, db=None):
    """A logged statement (CREATE DATABASE, DROP MEASUREMENT...) through a relay's /query:
    checked answered, 200 (applied) or 202 (committed, not yet applied)."""
    params = [("q", q)] + ([("db", db)] if db else [])
    # Just after a start the relay may not have heard from any backend yet: its 503 "no backend
    # is up" commits nothing and asks for a retry, which a client makes. Bounded.
    deadline = time.time() + 20
    while True:
        st, _, body = request("POST", url + "/query", body=urllib.parse.urlencode(params).encode(),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        if st != 503 or b"no backend is up" not in body or time.time() > deadline:
            break
        time.sleep(0.5)
    check(st in (200, 202), "%s through %s: %d" % (q, url, st), body[:200])


SHARDS = {"s1": ("a1", "a2"), "s2": ("b1", "b2")}
_M64 = (1 << 64) - 1


def ring_hash(b):
    """FNV-1a 64 and the splitmix64 finaliser of bytes b, as relay/shard_ring.c has them:
    computed here again, so that a test checks the relay's placement independently."""
    x = 0xcbf29ce484222325
    for c in b:
        x = ((x ^ c) * 0x100000001b3) & _M64
    x ^= x >> 30
    x = (x * 0xbf58476d1ce4e5b9) & _M64
    x ^= x >> 27
    x = (x * 0x94d049bb133111eb) & _M64
    return x ^ (x >> 31)


def shard_of(shards, *key):
    """The shard of a key (its elements' values: the database, the measurement, then any tag
    values) on the ring over the shard names 'shards', 128 virtual nodes each."""
    pts = sorted((ring_hash(("%s#%d" % (n, v)).encode()), n) for n in shards for v in range(128))
    i = bisect.bisect_left([p[0] for p in pts], ring_hash("".join("%s\0" % k for k in key).encode()))
    return pts[0 if i == len(pts) else i][1]


class TwoShards:
    """Two shards of two influxd 1.6.7 each, s1 = a1, a2 and s2 = b1, b2, started; 'more' adds
    shards (e.g. {"s3": ("c1", "c2")}), started too. Relays in front of them:

        sh = h.TwoShards()
        r = sh.relay()                       # --shard s1=a1,a2 --shard s2=b1,b2
        h.statement(r.url, "CREATE DATABASE db")
        sh.shard_of("db", "cpu")             # "s1" or "s2"
        got, want = sh.placement("db", {"cpu": 100})"""

    def __init__(self, more=None):
        self.groups = dict(SHARDS)
        self.groups.update(more or {})
        self.backends = {n: Influxd(n).start() for g in self.groups.values() for n in g}

    def members(self, shards=SHARDS):
        """The backend names of 'shards', in order."""
        return [b for s in shards for b in self.groups[s]]

    def shard_of(self, *key, shards=SHARDS):
        return shard_of(list(shards), *key)

    def config(self, shards=SHARDS, backends=False, key=None):
        """The config of a relay over 'shards': [[shard]] tables; with backends=True also the
        [[backend]] tables (the CLI reads them from the file); 'key' the [sharding] key."""
        cfg = {"shard": [{"name": s, "backends": list(self.groups[s])} for s in shards]}
        if backends:
            cfg["backend"] = [{"name": b, "url": self.backends[b].url} for b in self.members(shards)]
        if key:
            cfg["sharding"] = {"key": key}
        return cfg

    def relay(self, shards=SHARDS, key=None, in_config=False, backends_in_config=False,
              name="relay"):
        """A relay over 'shards', started: the shards given as --shard flags, or as [[shard]]
        tables with in_config (and their backends there too with backends_in_config, else as
        --backend flags); 'key' the [sharding] key."""
        if in_config or backends_in_config:
            cfg = self.config(shards, backends=backends_in_config, key=key)
            args = []
        else:
            cfg = {"sharding": {"key": key}} if key else None
            args = [a for s in shards for a in ("--shard", "%s=%s" % (s, ",".join(self.groups[s])))]
        backends = None if backends_in_config else [self.backends[b] for b in self.members(shards)]
        return Relay(backends=backends, config=cfg, args=args, name=name).start()

    def create_db(self, r, db, timeout=30):
        """CREATE DATABASE through relay r, then wait (up to 'timeout') until every backend of
        the shards has it."""
        statement(r.url, "CREATE DATABASE %s" % db)
        wait_until(lambda: all(db in self.backends[b].databases() for b in self.members()),
                   timeout=timeout)

    def placement(self, db, want, shards=SHARDS, count=None, timeout=60):
        """Where the points of 'want' (measurement -> points) belong: all on both backends of
        the shard the ring over 'shards' gives the measurement, none on the other backends.
        Waits (up to 'timeout') for the backends to hold exactly that; returns (got, expect),
        both {(backend, measurement): points}. 'count(backend, measurement)' counts (default
        the backend's count of field n)."""
        count = count or (lambda b, m: self.backends[b].count(db, m))
        expect = {(b, m): (n if b in self.groups[self.shard_of(db, m, shards=shards)] else 0)
                  for m, n in want.items() for b in self.members(self.groups)}

        def counts():
            return {(b, m): count(b, m) for b, m in expect}

        wait_until(lambda: counts() == expect, timeout=timeout)
        return counts(), expect


# --------------------------------------------------------------------------------------------
# the test framework
# --------------------------------------------------------------------------------------------


def _print(s):
    sys.stdout.write(s + "\n")
    sys.stdout.flush()


def _diag_lines(text):
    for line in str(text).splitlines() or [""]:
        _print("# " + line)


class Test:
    """ok/not ok lines (numbered), '#' diagnostics, and the closing 'N passed, N failed'."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    @property
    def n(self):
        return self.passed + self.failed

    def check(self, cond, description, *diag):
        """Print "ok N - description" or "not ok N - description" (+ diag as "#" lines).
        Returns bool(cond)."""
        ok = bool(cond)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            _state.failed = True
        _print("%s %d - %s" % ("ok" if ok else "not ok", self.n, description))
        if not ok:
            for d in diag:
                _diag_lines(d)
        return ok

    def check_eq(self, got, want, description, *diag):
        """check(got == want) printing both on failure."""
        return self.check(got == want, description, "got:  %r" % (got,), "want: %r" % (want,), *diag)

    def diag(self, *msg):
        _diag_lines(" ".join(str(m) for m in msg))

    def done(self):
        """Print "N passed, N failed"; returns the exit code (0: no failure and >= 1 pass)."""
        _print("%d passed, %d failed" % (self.passed, self.failed))
        return 0 if self.failed == 0 and self.passed > 0 else 1


T = Test()
check = T.check
check_eq = T.check_eq
diag = T.diag
done = T.done


def run(tests, stop_timeout=15.0):
    """Run test functions in order, then exit with done()'s code. An exception in one is a
    "not ok" with its traceback as "#" lines, and the next one runs. Processes a function
    started are stopped when it returns (processes started outside any test function live until
    exit). SIGTERM/SIGINT/SIGHUP: "not ok", everything stopped, exit 128+signal."""
    rc = 1
    try:
        for i, fn in enumerate(tests, 1):
            name = getattr(fn, "__name__", "test %d" % i)
            _print("# --- %s" % name)
            with _state.lock:
                _state.scope = i
            t0 = time.monotonic()
            try:
                fn()
            except Interrupted:
                raise
            except BaseException as e:  # noqa: BLE001 - SystemExit from a test is a failure too
                T.check(False, "%s raised %s: %s" % (name, type(e).__name__, str(e).splitlines()[0] if str(e) else ""),
                        traceback.format_exc())
            finally:
                with _state.lock:
                    mine = [s for s in _state.services if s._scope == i]
                    _state.scope = 0
                for err in _cleanup_services(mine, stop_timeout):
                    T.check(False, "%s: stopping its processes: %s" % (name, err))
            _print("# --- %s: %.1fs" % (name, time.monotonic() - t0))
        rc = T.done()
    except Interrupted as e:
        T.check(False, "interrupted by signal %d" % e.signum)
        stop_all(5.0)
        T.done()
        rc = 128 + e.signum
    sys.exit(rc)


def _on_signal(signum, _frame):
    if _state.interrupted:
        return
    _state.interrupted = signum
    _state.failed = True
    raise Interrupted(signum)


def _at_exit():
    if _state.cleaned:
        return
    _state.cleaned = True
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        try:
            signal.signal(sig, signal.SIG_IGN)
        except (ValueError, OSError):
            pass
    errs = stop_all(10.0)
    for e in errs:
        _print("# cleanup: %s" % e)
    root = _state.tmp_root
    if root and os.path.isdir(root):
        if _state.failed or errs or os.environ.get("IWR_KEEP_TMP"):
            _print("# temp dir kept: %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)


_orig_excepthook = sys.excepthook


def _excepthook(tp, val, tb):
    _state.failed = True
    _orig_excepthook(tp, val, tb)


sys.excepthook = _excepthook
atexit.register(_at_exit)
if threading.current_thread() is threading.main_thread():
    for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(_sig, _on_signal)
