"""Hostile and broken clients against a running relay (real influxd behind it): slowloris,
garbage, truncated and absurd requests, oversized heads and bodies, a gzip bomb, hostile line
protocol, connection and file-descriptor exhaustion, and authentication. Each abuse must get a
clear answer (or a clean close), leave the daemon up and answering others, store nothing it
should not, and keep memory bounded: the relay's peak RSS under each abuse is printed as
"# rss ..." lines (VmHWM from /proc, reset before each abuse through /proc/PID/clear_refs).

    /usr/bin/python3 tests/integ/test_hostile.py [test_name ...]"""
import base64
import gzip
import json
import os
import random
import resource
import socket
import sys
import threading
import time
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

DB = "hostile"
RSS = []  # (abuse, peak KiB, now KiB) for the summary
RSS_TOOL = []  # abuses whose RSS was the sanitizer's or valgrind's, not asserted
REF_TRIES = 3  # influxd's own answer to compare with, asked again while it is a timeout or 5xx
# influxd answers 500 "timeout" to a write that takes longer than its write-timeout (10 s): a
# 10 MiB line of 750000 fields can, on a loaded machine. Where such bodies go, influxd gets 120 s.
SLOW_WRITE_TIMEOUT = "120s"


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def proc_kib(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def instrumented():
    """True in the sanitizer build (make asan sets IWR_SANITIZED): ASan's shadow memory and
    quarantine make RSS figures meaningless, so memory bounds are reported, not asserted."""
    return bool(os.environ.get("IWR_SANITIZED"))


def under_valgrind(r):
    """True when the relay runs under valgrind (tests/valgrind.sh), or in the sanitizer build:
    its RSS is then the tool's, not ours."""
    if instrumented():
        return True
    try:
        return "valgrind" in os.readlink("/proc/%d/exe" % r.pid) or "memcheck" in os.readlink(
            "/proc/%d/exe" % r.pid)
    except OSError:
        return False


def settled_rss(r):
    """The relay's resident KiB once it has finished with the request just answered: the
    smallest of five readings 50 ms apart (the answer reaches us before the relay frees the
    request's buffers, so one reading taken at once can still count them)."""
    readings = []
    for _ in range(5):
        time.sleep(0.05)
        readings.append(proc_kib(r.pid, "VmRSS"))
    return min(readings)


def rss_reset(r):
    """Reset the relay's peak RSS (VmHWM) so that the next reading is this abuse's peak."""
    try:
        with open("/proc/%d/clear_refs" % r.pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_report(r, abuse):
    peak, now = proc_kib(r.pid, "VmHWM"), proc_kib(r.pid, "VmRSS")
    if under_valgrind(r):
        RSS_TOOL.append(abuse)
        abuse += " (valgrind)"
    else:
        RSS.append((abuse, peak, now))
    h.diag("rss %-34s peak %7d KiB  now %7d KiB" % (abuse + ":", peak, now))
    return peak


def raw(port, data, read=True, timeout=10.0, shut=False):
    """Send raw bytes on a fresh connection (from a thread, so that a server answering early
    and closing does not block us) and return what came back until EOF: b"" if nothing."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)

    def send():
        try:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    t = threading.Thread(target=send, daemon=True)
    t.start()
    out = b""
    try:
        while read:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except OSError as e:
        if not out:
            out = type(e).__name__.encode()
    finally:
        t.join(timeout)
        s.close()
    return out


def status_of(resp):
    if resp.startswith(b"HTTP/1.1 "):
        return int(resp[9:12])
    return None


def body_of(resp):
    return resp.partition(b"\r\n\r\n")[2]


def json_error(resp):
    try:
        return json.loads(body_of(resp).decode("utf-8", "replace")).get("error", "")
    except ValueError:
        return ""


def reference_answer(ref, body):
    """influxd's status (an int, or the exception's repr) and body for 'body' written straight to
    it. A timeout or a 5xx says the reference was slow (the machine is shared), not what it
    thinks of the body: ask again, a bounded number of times. Writing the same points twice
    stores them once."""
    for attempt in range(REF_TRIES):
        try:
            want, _, resp = h.write(ref.url, DB, body, timeout=150)
        except OSError as e:
            want, resp = repr(e), b""
        if isinstance(want, int) and want < 500:
            break
        h.diag("reference influxd answered %s %r (try %d of %d)" % (want, resp[:100], attempt + 1,
                                                                     REF_TRIES))
        time.sleep(2.0)
    return want, resp


def alive_and_serving(r):
    """The daemon runs, answers /ping, and stores a write."""
    if not r.alive() or not r.ping():
        return False
    st, _, _ = r.write(DB, "alive n=1i %d" % time.time_ns())
    return st == 204


def setup(config=None, write_timeout=None, **kw):
    """influxd "a" and a relay in front of it. write_timeout: influxd's write-timeout and the
    relay's request timeout to it, for bodies influxd is slow to store."""
    a = h.Influxd("a", write_timeout=write_timeout).start()
    a.create_db(DB)
    cfg = {"http": {"max-body-size": "12MiB", "max-inflated-size": "16MiB",
                    "read-timeout": "3s", "idle-timeout": "3s"}}
    for k, v in (config or {}).items():
        cfg.setdefault(k, {}).update(v) if isinstance(v, dict) else cfg.__setitem__(k, v)
    if write_timeout:
        cfg["backend"] = [{"name": "a", "url": a.url, "timeout": write_timeout}]
        r = h.Relay(config=cfg, **kw).start()
    else:
        r = h.Relay(config=cfg, backends={"a": a}, **kw).start()
    return a, r


# ------------------------------------------------------------------------------------------
# slowloris
# ------------------------------------------------------------------------------------------


def test_slowloris():
    """300 connections send their request head one byte at a time (and 50 send a body that
    way, 50 more send nothing). Normal writes meanwhile are answered; the read timeout (3 s)
    ends each trickling request with 408 and the idle timeout (3 s) closes the silent ones."""
    a, r = setup()
    head = (b"POST /write?db=%s HTTP/1.1\r\nHost: relay\r\nUser-Agent: slowloris\r\n"
            b"X-Pad: %s\r\n" % (DB.encode(), b"a" * 200))
    body_req = b"POST /write?db=%s HTTP/1.1\r\nHost: relay\r\nContent-Length: 100000\r\n\r\n" % (
        DB.encode())
    rss_reset(r)
    trickle, slow_body, silent = [], [], []
    for i in range(300):
        s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
        s.setblocking(False)
        trickle.append([s, 0, b""])
    for i in range(50):
        s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
        s.sendall(body_req)
        s.setblocking(False)
        slow_body.append([s, 0, b""])
    for i in range(50):
        silent.append([socket.create_connection(("127.0.0.1", r.port), timeout=5), 0, b""])
    h.check_eq(r.metric("influx_wal_open_connections"), 401.0,
               "400 abusive connections open (+ the one asking)")
    latencies, statuses = [], []
    stop = threading.Event()

    def normal_writer():
        n = 0
        while not stop.is_set() and n < 200:
            t0 = time.monotonic()
            try:
                st, _, _ = r.write(DB, "normal n=%di %d" % (n, 10**9 + n), timeout=10)
            except OSError as e:
                st = repr(e)
            latencies.append(time.monotonic() - t0)
            statuses.append(st)
            n += 1
            time.sleep(0.05)

    t = threading.Thread(target=normal_writer, daemon=True)
    t.start()
    t_end = time.monotonic() + 5.0
    # Trickle: one byte per connection per round, ~20 rounds a second, for 5 s.
    while time.monotonic() < t_end:
        for conns, data in ((trickle, head), (slow_body, b"x" * 100000)):
            for c in conns:
                s, off, _ = c
                if s is None:
                    continue
                try:
                    got = s.recv(4096)
                    c[2] += got
                    if got == b"":
                        s.close()
                        c[0] = None
                        continue
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
                    c[0] = None
                    continue
                if off < len(data):
                    try:
                        s.send(data[off:off + 1])
                        c[1] = off + 1
                    except BlockingIOError:
                        pass
                    except OSError:
                        s.close()
                        c[0] = None
        time.sleep(0.05)
    stop.set()
    t.join(15)
    ok = [x for x in statuses if x == 204]
    h.check(len(ok) == len(statuses) and len(ok) >= 20,
            "normal writes are answered 204 while 400 connections trickle (%d writes)" % len(ok),
            statuses[:10])
    lat = sorted(latencies)
    h.diag("normal write latency during slowloris: median %.1f ms, max %.1f ms (%d writes)" % (
        1000 * lat[len(lat) // 2], 1000 * lat[-1], len(lat)))
    # Every abusive connection is ended by the relay: 408 for the ones inside a request.
    def drain(conns):
        for c in conns:
            s = c[0]
            if s is None:
                continue
            s.setblocking(True)
            s.settimeout(10)
            try:
                while True:
                    got = s.recv(4096)
                    if not got:
                        break
                    c[2] += got
            except OSError:
                pass
            s.close()
            c[0] = None
    drain(trickle)
    drain(slow_body)
    drain(silent)
    n408 = sum(1 for c in trickle + slow_body if c[2].startswith(b"HTTP/1.1 408"))
    h.check_eq(n408, 350, "each of the 350 trickling requests got 408 Request Timeout")
    h.check(all(c[2] == b"" for c in silent), "the 50 silent connections were closed (idle "
            "timeout) without an answer")
    closed = h.wait_until(lambda: r.metric("influx_wal_open_connections") <= 1, timeout=10)
    h.check(closed, "no abusive connection is left open",
            r.metric("influx_wal_open_connections"))
    rss_report(r, "slowloris (400 conns)")
    h.check(alive_and_serving(r), "the relay still serves")
    h.check_eq(a.count(DB, "normal") if h.wait_until(lambda: a.count(DB, "normal") >= len(ok),
                                                        timeout=20) else -1,
               len(ok), "the normal writes arrived; nothing from the slowloris requests")
    h.check_eq(a.count(DB, "slowloris") + a.count(DB, "x"), 0, "nothing from the trickle")


# ------------------------------------------------------------------------------------------
# broken and absurd requests
# ------------------------------------------------------------------------------------------


def test_broken_requests():
    """Garbage, truncated requests, absurd Content-Length, oversized heads (431) and bodies
    (413), a gzip bomb (413): each gets a clear answer or a clean close, nothing is stored, the
    daemon keeps serving, memory stays bounded."""
    a, r = setup()
    p = r.port
    w = b"POST /write?db=%s HTTP/1.1\r\nHost: x\r\n" % DB.encode()
    rng = random.Random(8)

    def abuse(name, data, want, shut=False, err_has=None):
        rss_reset(r)
        resp = raw(p, data, shut=shut)
        st = status_of(resp)
        ok = st == want if want is not None else (st is None or st == 400)
        if ok and err_has:
            ok = err_has.lower() in json_error(resp).lower()
        h.check(ok and r.alive(), "%s: %s" % (name, want if want is not None else "400 or closed"),
                resp[:300])
        rss_report(r, name)
        return resp

    abuse("random bytes (64 KiB)", bytes(rng.randrange(256) for _ in range(65536)), 400)
    abuse("binary with a method", b"POST /write\x00\xff\xfe HTTP/1.1\r\n\r\n", 400)
    abuse("HTTP/0.9 style line", b"GET /nothing-here\r\n\r\n", 404)  # "/" is the status page
    abuse("a valid request then garbage", w + b"Content-Length: 8\r\n\r\nm n=1i 1" +
          b"\x16\x03\x01\x02\x00", 204)
    abuse("TLS hello on the HTTP port", bytes.fromhex("16030100a5010000a10303") + b"\0" * 160, 400)
    abuse("truncated body, half-closed", w + b"Content-Length: 1000\r\n\r\ntrunc n=1i 1", None,
          shut=True)
    abuse("truncated head, half-closed", b"POST /write?db=x HTTP/1.1\r\nContent-Le", None,
          shut=True)
    t0 = time.monotonic()
    abuse("truncated body, kept open", w + b"Content-Length: 1000\r\n\r\ntrunc n=2i 2", 408)
    h.check(time.monotonic() - t0 < 8, "the truncated request was ended by the read timeout")
    abuse("Content-Length 2^64", w + b"Content-Length: 18446744073709551616\r\n\r\n", 400)
    abuse("Content-Length 10^15", w + b"Content-Length: 1000000000000000\r\n\r\n", 413)
    abuse("Content-Length -1", w + b"Content-Length: -1\r\n\r\n", 400)
    abuse("two Content-Lengths", w + b"Content-Length: 8\r\nContent-Length: 9\r\n\r\nm n=1i 1x",
          400)
    abuse("Content-Length with chunked", w + b"Content-Length: 5\r\nTransfer-Encoding: chunked"
          b"\r\n\r\n0\r\n\r\n", 400)
    abuse("bad chunk size", w + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nm n=1i 1\r\n0\r\n\r\n",
          400)
    abuse("chunk size 2^64", w + b"Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", 400)
    abuse("one 100 KiB header", w + b"X-Big: " + b"a" * 102400 + b"\r\n\r\n", 431)
    abuse("2000 headers", w + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 40) for i in range(2000))
          + b"\r\n", 431)
    abuse("a 100 KiB URL", b"GET /ping?" + b"q" * 102400 + b" HTTP/1.1\r\n\r\n", 431)
    big = b"big n=1i 1\n" * (13 * 2**20 // 11)
    abuse("13 MiB body (limit 12 MiB)", w + b"Content-Length: %d\r\n\r\n" % len(big) + big, 413)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(big[i:i + 2**20]), big[i:i + 2**20])
                      for i in range(0, len(big), 2**20))
    abuse("13 MiB chunked body", w + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n",
          413)
    # Bombs as concatenated gzip members (valid gzip, and quick to build).
    bomb = gzip.compress(b"\0" * (64 << 20), 9) * 16
    h.diag("gzip bomb: %d bytes inflating to 1 GiB" % len(bomb))
    peaks = []
    for i in range(5):
        abuse("gzip bomb (1 GiB inflated) #%d" % (i + 1), w + b"Content-Encoding: gzip\r\n"
              b"Content-Length: %d\r\n\r\n" % len(bomb) + bomb, 413)
        peaks.append(settled_rss(r))
    # Each of the pool's threads keeps a few hundred KiB of malloc arena after its first bomb;
    # a leak of the 1 MiB body, or of the inflate buffer, would add 4 MiB or more here.
    h.check(peaks[4] <= peaks[0] + 1024 or under_valgrind(r),
            "five bombs in a row: RSS does not grow (%s KiB)" % peaks)
    lp_bomb = gzip.compress(b"bomb n=1i 1\n" * (4 * 2**20 // 12), 9) * 10
    abuse("gzip of 40 MiB valid lines", w + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n"
          b"\r\n" % len(lp_bomb) + lp_bomb, 413)
    gz = gzip.compress(b"gz n=1i 1\n")
    abuse("truncated gzip", w + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
          % (len(gz) - 6) + gz[:-6], 400, err_has="EOF")
    abuse("corrupt gzip", w + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
          % len(gz) + gz[:12] + b"\xff" * (len(gz) - 12), 400)
    abuse("deflate (not gzip)", w + b"Content-Encoding: deflate\r\nContent-Length: 10\r\n\r\n" +
          zlib.compress(b"m n=1i 1")[:10], 400)
    abuse("unknown method", b"BREW /write?db=x HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400)
    abuse("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400)
    # Many requests pipelined on one connection, each answered in order.
    pipe = (w + b"Content-Length: 12\r\n\r\npipe n=%di 1\n" % 1) * 1 + b"".join(
        w + b"Content-Length: %d\r\n\r\n%s" % (len(x), x) for x in
        (b"pipe n=%di %d\n" % (i, i + 1) for i in range(2, 501)))
    rss_reset(r)
    resp = raw(p, pipe + b"GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n")
    h.check_eq(resp.count(b"HTTP/1.1 204"), 501, "500 pipelined writes and a /ping: 501 answers")
    rss_report(r, "500 pipelined writes")
    h.check(alive_and_serving(r), "the relay still serves after all that")
    got = h.wait_until(lambda: a.count(DB, "pipe") >= 500, timeout=20) and a.count(DB, "pipe")
    h.check_eq(got, 500, "the 500 pipelined points arrived")
    stored = {m: a.count(DB, m) for m in ("trunc", "big", "bomb", "gz")}
    h.check(all(v == 0 for v in stored.values()), "nothing from the refused requests is stored "
            "(the valid one before the garbage: 'm')", stored)
    h.check_eq(a.count(DB, "m"), 1, "the valid request ahead of the garbage was stored")


def test_hostile_line_protocol():
    """Invalid UTF-8, NUL bytes, control characters, megabyte lines and other hostile line
    protocol: the relay answers what influxd itself answers for the same body (same status),
    so nothing it acknowledges is refused later: no dead letter, every accepted point arrives."""
    a, r = setup(write_timeout=SLOW_WRITE_TIMEOUT)
    # The same bodies written straight to influxd, to compare.
    ref = h.Influxd("ref", write_timeout=SLOW_WRITE_TIMEOUT).start()
    ref.create_db(DB)
    cases = [
        ("invalid UTF-8 in a tag", b"u8,t=\xff\xfe\xfd n=1i 1\n"),
        ("invalid UTF-8 in a string field", b'u8s n=2i,s="\xc3\x28" 2\n'),
        ("overlong UTF-8 in the measurement", b"\xc0\xaf n=3i 3\n"),
        ("NUL in a tag value", b"nul,t=a\x00b n=4i 4\n"),
        ("NUL in the measurement", b"nu\x00l n=5i 5\n"),
        ("NUL in a string field", b'nuls n=6i,s="a\x00b" 6\n'),
        ("control characters", b"ctl,t=\x01\x02 n=7i,s=\"\x1b[31m\" 7\n"),
        ("a lone CR (deliberate: a line end here, 400 in influxd)", b"cr n=8i 8\r"),
        ("a 1 MiB tag value", b"bigtag,t=" + b"t" * 2**20 + b" n=9i 9\n"),
        ("a 60 KiB series key", b"key,t=" + b"k" * 60000 + b" n=10i 10\n"),
        ("a 4 MiB string field", b'bigstr n=11i,s="' + b"s" * (4 * 2**20) + b'" 11\n'),
        ("a 10 MiB line of fields", b"fields " + b",".join(b"f%d=%di" % (i, i) for i in
                                                          range(750000)) + b",n=12i 12\n"),
        ("100000 tiny lines", b"".join(b"tiny,i=%d n=%di %d\n" % (i, i, i + 1)
                                       for i in range(100000))),
        ("a 2 MiB line of only spaces", b" " * (2 * 2**20) + b"\n"),
        ("many escapes", b"esc\\ \\,\\=,t\\ =\\,\\= n=13i," + b"x\\ " * 100000 + b"=1i 13\n"),
        ("an unterminated string", b'open n=14i,s="never ends 14\nopen n=15i 15\n'),
    ]
    accepted = {}
    for name, body in cases:
        rss_reset(r)
        try:
            st, _, resp = r.write(DB, body, timeout=60)
        except OSError as e:
            st, resp = repr(e), b""
        rss_report(r, name)
        want, ref_resp = reference_answer(ref, body)
        err = ""
        if st != 204:
            try:
                err = json.loads(resp).get("error", "")
            except ValueError:
                err = "(no JSON error)"
        if "deliberate" in name:
            want = 204  # documented in relay/lineproto.h: CRLF is taken, the "\r" dropped
        h.check(st == want and (st == 204 or err) and r.alive(),
                "%s: %s as influxd answers%s" % (name, st, (" (%s...)" % err[:60]) if err else ""),
                "relay %s %r" % (st, resp[:200]), "influxd %s %r" % (want, ref_resp[:200]))
        if st in (204, 400):
            accepted[name] = body
    h.check(alive_and_serving(r), "the relay still serves")
    time.sleep(1.0)
    dead = h.wait_until(lambda: r.metric("influx_wal_backend_caught_up", backend="a") == 1,
                        timeout=240)
    h.check(dead, "the backend caught up with everything accepted")
    h.check_eq(r.metric("influx_wal_backend_dead_letters", backend="a"), 0,
               "no dead letter: the backend took every line the relay accepted")
    h.check_eq(a.count(DB, "tiny"), 100000, "the 100000 tiny lines arrived")
    h.check_eq(a.count(DB, "cr"), 1, "the line ending in a lone CR arrived (without the CR)")
    for m, f in (("bigstr", "n"), ("fields", "n")):
        h.check_eq(a.count(DB, m, field=f), ref.count(DB, m, field=f),
                   "%s: the backend has what influxd has when written directly" % m)


def test_pipelining_without_reading():
    """One client pipelines 20000 GET /metrics (35 bytes in, ~11 KiB out each: 220 MB of
    answers) and does not read. The relay must stop reading it rather than queue the answers in
    memory: RSS stays bounded while other clients are served; when the client reads at last,
    every answer comes, in order. Stopped early if the relay passes 512 MiB."""
    a, r = setup({"http": {"idle-timeout": "60s", "read-timeout": "60s"}})
    req = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    n_req = 20000
    data = memoryview(req * n_req + b"GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n")
    rss_reset(r)
    s = socket.create_connection(("127.0.0.1", r.port), timeout=10)
    s.setblocking(False)
    sent, t_end, too_big = 0, time.monotonic() + 4, False
    while time.monotonic() < t_end and sent < len(data):
        try:
            sent += s.send(data[sent:])
        except BlockingIOError:
            time.sleep(0.01)
        if proc_kib(r.pid, "VmRSS") > 512 * 1024:
            too_big = True
            break
    time.sleep(1.0)
    peak = rss_report(r, "20000 pipelined, never read")
    h.diag("sent %d of %d bytes without reading" % (sent, len(data)))
    h.check(not too_big and (peak < 64 * 1024 or under_valgrind(r)),
            "answers nobody reads do not pile up: peak RSS %d KiB" % peak)
    h.check(r.alive() and r.ping(), "other clients are served meanwhile")
    # Now read: every request gets its answer, in order, and the connection ends cleanly.
    counts = {"200": 0, "204": 0}

    def reader():
        tail = b""
        try:
            while True:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                view = tail + chunk
                counts["200"] += view.count(b"HTTP/1.1 200 OK\r\n")
                counts["204"] += view.count(b"HTTP/1.1 204 No Content\r\n")
                tail = view[-24:]
                # the 24 bytes kept are shorter than either status line: nothing counts twice
        except OSError:
            pass

    s.setblocking(True)
    s.settimeout(60)
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        s.sendall(data[sent:])
    except OSError as e:
        h.diag("sending the rest: %r" % e)
    t.join(90)
    s.close()
    h.check(counts["200"] == n_req and counts["204"] == 1,
            "once read, all %d answers and the final /ping's came" % n_req, counts)


def test_many_big_bodies():
    """20 clients each hold an 11 MiB body (limit 12 MiB) short of its last byte, then finish:
    each is answered (400: one 11 MiB line without fields), the daemon survives. Memory is
    bounded per request, not in total: the peak grows with clients x max-body-size (reported;
    the bound asserted is the one the per-request limits imply)."""
    a, r = setup({"http": {"read-timeout": "30s"}})
    n, size = 20, 11 * 2**20
    body = b"x" * size
    rss_reset(r)
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", r.port), timeout=30)
        s.sendall(b"POST /write?db=%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (
            DB.encode(), size) + body[:-1])
        socks.append(s)
    time.sleep(0.5)
    held = proc_kib(r.pid, "VmRSS")
    for s in socks:
        s.sendall(body[-1:])
    answers = []
    for s in socks:
        try:
            answers.append(status_of(s.recv(4096)))
        except OSError as e:
            answers.append(repr(e))
        s.close()
    peak = rss_report(r, "%d concurrent 11 MiB bodies" % n)
    h.diag("RSS with %d bodies of 11 MiB held: %d KiB (%.1f MiB per client)" % (
        n, held, held / 1024.0 / n))
    h.check(answers.count(400) == n and r.alive(), "each of the %d got its 400" % n, answers)
    h.check(peak < n * 2 * 16 * 1024 + 100 * 1024 or under_valgrind(r),
            "peak RSS %d KiB within %d clients x 2 x the rounded-up body buffer" % (peak, n))
    h.check(alive_and_serving(r), "the relay still serves")


# ------------------------------------------------------------------------------------------
# exhaustion
# ------------------------------------------------------------------------------------------


def test_connection_limit():
    """[http] max-connections = 50: with 50 clients connected, the 51st and later get 503 and a
    close; the 50 are still served, and new clients are once they leave."""
    a, r = setup({"http": {"max-connections": 50, "idle-timeout": "30s"}})
    rss_reset(r)
    # A connection its client closed counts until the relay has seen the close, so one of ours
    # may be refused while an earlier one is still being closed: replace it.
    held, first = [], []
    for _ in range(60):
        if len(held) == 50:
            break
        s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
        s.sendall(b"GET /ping HTTP/1.1\r\n\r\n")
        st = status_of(s.recv(4096))
        if st == 204:
            held.append(s)
            first.append(st)
        else:
            s.close()
            time.sleep(0.2)
    h.check_eq(first.count(204), 50, "50 clients connected and served (the limit)")
    refused = []
    for i in range(100):
        refused.append(raw(r.port, b"GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n",
                           timeout=5))
    n503 = sum(1 for x in refused if x.startswith(b"HTTP/1.1 503") and
               b"too many open connections" in x)
    h.check_eq(n503, 100, "with 50 connected, 100 more clients each get 503 'too many open "
               "connections' and a close", refused[0][:200])
    answers = []
    for s in held:
        try:
            s.sendall(b"GET /ping HTTP/1.1\r\n\r\n")
            answers.append(status_of(s.recv(4096)))
        except OSError as e:
            answers.append(repr(e))
    h.check_eq(answers.count(204), 50, "the 50 held connections are still served", answers[:5])
    for s in held:
        s.close()
    ok = h.wait_until(lambda: r.ping(), timeout=10)
    h.check(ok and alive_and_serving(r), "after they leave, new clients are served")
    refused_total = r.metric("influx_wal_connections_refused_total")
    h.check(refused_total >= 100, "/metrics counts the refused connections (%s)" % refused_total)
    rss_report(r, "connection limit (150 clients)")


def test_fd_limit():
    """The relay's RLIMIT_NOFILE lowered to 64 while it runs (prlimit on its PID): 200 clients
    at once exhaust its descriptors. The daemon stays up, sheds what it cannot accept, and serves
    again when they leave; writes acknowledged meanwhile reach the backend."""
    a, r = setup({"http": {"idle-timeout": "30s"}})
    try:
        resource.prlimit(r.pid, resource.RLIMIT_NOFILE, (64, 64))
    except (OSError, ValueError) as e:
        h.check(False, "lower the relay's RLIMIT_NOFILE with prlimit", repr(e))
        return
    h.diag("relay fds in use before: %d" % len(os.listdir("/proc/%d/fd" % r.pid)))
    rss_reset(r)
    socks, errors = [], 0
    for i in range(200):
        try:
            socks.append(socket.create_connection(("127.0.0.1", r.port), timeout=2))
        except OSError:
            errors += 1
    time.sleep(1.0)
    fds = len(os.listdir("/proc/%d/fd" % r.pid))
    answered, dropped = 0, 0
    for s in socks:
        try:
            s.settimeout(3)
            s.sendall(b"GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n")
            data = s.recv(4096)
            answered += data.startswith(b"HTTP/1.1 204")
            dropped += data == b""
        except OSError:
            dropped += 1
    for s in socks:
        s.close()
    h.diag("200 clients with RLIMIT_NOFILE 64: %d served, %d shed (closed or reset), %d not "
           "connected; relay fds at peak %d" % (answered, dropped, errors, fds))
    h.check(r.alive() and fds <= 64, "the daemon survives descriptor exhaustion within its limit")
    h.check(answered >= 20 and answered + dropped + errors == 200,
            "clients it had descriptors for were served, the others shed cleanly")
    ok = h.wait_until(lambda: alive_and_serving(r), timeout=15, errors_ok=True)
    h.check(ok, "once they left, the relay serves again")
    load = h.Load(r.url, DB, points_per_request=50, requests=100, concurrency=4).run()
    got = h.wait_until(lambda: a.count(DB, "load") >= load.acked_total, timeout=30)
    h.check(load.acked_total == 5000 and got and a.count(DB, "load") == 5000,
            "a load afterwards: every point acknowledged and stored", load.summary())
    accept_logs = len(r.grep_log("event=accept_failed"))
    h.diag("accept_failed log lines: %d" % accept_logs)
    rss_report(r, "fd exhaustion (200 clients, nofile 64)")


# ------------------------------------------------------------------------------------------
# authentication
# ------------------------------------------------------------------------------------------

SECRET = "Zq7-s3cr3t-Pw"
BACKEND_SECRET = "Bk9-b4ck3nd-Pw"
TOKEN_SECRET = "Tk5-t0k3n-Sec"


def test_auth():
    """[auth] enabled with one user: writes without or with wrong credentials (every form) get
    401 and store nothing; the right ones are stored. Neither that password nor the backend's
    (in its URL and as username/password) ever shows in the relay's log (debug level), /health,
    /metrics, or the CLI's output, even while the backend is failing and its errors are shown."""
    a = h.Influxd("a").start()
    a.create_db(DB)
    down_port = h.free_port()
    cfg = {"log": {"level": "debug"},
           "http": {"read-timeout": "3s"},
           "auth": {"enabled": True, "user": [{"name": "writer", "password": SECRET},
                                               {"name": "other", "password": "x" + SECRET}]},
           "backend": [
               {"name": "a", "url": a.url, "username": "relayuser", "password": BACKEND_SECRET,
                "retry-max-delay": "500ms"},
               {"name": "down", "url": "http://relayuser:%s@127.0.0.1:%d" % (BACKEND_SECRET,
                                                                             down_port),
                "retry-max-delay": "500ms", "timeout": "1s"},
               {"name": "tok", "url": "http://127.0.0.1:%d" % down_port, "token": TOKEN_SECRET,
                "retry-max-delay": "500ms", "timeout": "1s"}]}
    r = h.Relay(config=cfg).start()
    basic = lambda u, p: {"Authorization": "Basic " + base64.b64encode(
        ("%s:%s" % (u, p)).encode()).decode()}
    bad = [
        ("no credentials", {}, None),
        ("wrong password (u/p)", {}, ("writer", SECRET + "x")),
        ("prefix of the password", {}, ("writer", SECRET[:-1])),
        ("empty password", {}, ("writer", "")),
        ("unknown user", {}, ("nobody", SECRET)),
        ("other user's password", {}, ("other", SECRET)),
        ("wrong Basic", basic("writer", "nope"), None),
        ("Basic without colon", {"Authorization": "Basic " + base64.b64encode(
            b"writer" + SECRET.encode()).decode()}, None),
        ("Basic with garbage base64", {"Authorization": "Basic !!!***"}, None),
        ("wrong Token", {"Authorization": "Token writer:nope"}, None),
        ("Bearer (unsupported)", {"Authorization": "Bearer " + SECRET}, None),
        ("NUL in the password", basic("writer", SECRET + "\0"), None),
        ("huge Authorization", {"Authorization": "Basic " + "A" * 60000}, None),
    ]
    for i, (name, hdrs, qa) in enumerate(bad):
        st, _, body = r.write(DB, "denied,case=%d n=%di %d" % (i, i, i + 1), headers=hdrs,
                              query_auth=qa)
        h.check(st == 401 and json.loads(body).get("error"), "%s: 401" % name, st, body)
    st, _, _ = r.write(DB, "denied n=99i 99", v2=True, headers={"Authorization": "Token x:y"})
    h.check_eq(st, 401, "/api/v2/write with a wrong token: 401")
    goods = [({}, ("writer", SECRET)), (basic("writer", SECRET), None),
             ({"Authorization": "Token writer:" + SECRET}, None)]
    for i, (hdrs, qa) in enumerate(goods):
        st, _, _ = r.write(DB, "allowed n=%di %d" % (i, i + 1), headers=hdrs, query_auth=qa)
        h.check_eq(st, 204, "the right credentials (form %d): 204" % (i + 1))
    got = h.wait_until(lambda: a.count(DB, "allowed") >= 3, timeout=20) and a.count(DB, "allowed")
    h.check_eq(got, 3, "the 3 authorised points arrived")
    time.sleep(0.5)
    h.check_eq(a.count(DB, "denied"), 0, "nothing from a refused request was stored")
    # Let the failing backends produce their errors, then look everywhere.
    h.wait_until(lambda: "down" in json.dumps(r.health()[1]) and
                 r.health()[1] and any(b.get("last_error") for b in r.health()[1]["backends"]
                                       if b["name"] == "down"), timeout=10)
    places = {"relay log": r.log_text(), "/health": json.dumps(r.health()[1]),
              "/metrics": r.metrics_text()}
    for args in (("status",), ("status", "--json"), ("dead", "list"), ("cat", "--headers")):
        rc, out, err = r.run_cli(*args)
        places["influx-wal " + " ".join(args)] = out + err
    places["/health/backend/down"] = h.get(r.url + "/health/backend/down")[2].decode(
        "utf-8", "replace")
    for secret in (SECRET, BACKEND_SECRET, TOKEN_SECRET):
        leaks = [k for k, v in places.items() if secret in v]
        h.check(not leaks, "the secret %s...never appears in: %s" % (
            secret[:3], ", ".join(places)), leaks)
    h.check(r.grep_log("event=auth_failed"), "refused logins are logged (without credentials)")
    h.check("relayuser" not in places["/health"] and "relayuser" not in places["/metrics"],
            "the backend URL's user info is stripped in /health and /metrics")


def test_summary():
    """Peak RSS per abuse: one client's abuse stays under 128 MiB (the many-bodies test has its
    own bound). It needs the readings of the abuse tests run before it: alone (no reading, and
    none skipped because a tool's RSS was measured) it fails instead of passing on nothing."""
    single = [x for x in RSS if "concurrent" not in x[0]]
    worst = max(single, key=lambda x: x[1]) if single else ("-", 0, 0)
    if instrumented() or (not single and RSS_TOOL):
        h.diag("sanitizer or valgrind: worst peak RSS %s, %d KiB (not asserted)" % (worst[0],
                                                                                   worst[1]))
        return
    h.check(single and all(peak > 0 for _, peak, _ in single) and worst[1] < 128 * 1024,
            "peak RSS under each of %d single-client abuses stays under 128 MiB (worst: %s, %d KiB)"
            % (len(single), worst[0], worst[1]),
            "no RSS reading: run test_summary after the abuse tests" if not single else "")


TESTS = [test_slowloris, test_broken_requests, test_hostile_line_protocol,
         test_pipelining_without_reading, test_many_big_bodies,
         test_connection_limit, test_fd_limit, test_auth, test_summary]

if __name__ == "__main__":
    want = sys.argv[1:]
    h.run([t for t in TESTS if not want or t.__name__ in want])
