"""GET|POST /query through the relay: it is passed on through the replay engine's HTTP client
(the same one the writes use), so the answer must come back byte for byte as the backend gave
it (large, chunked, gzip'd, an error), name the backend, carry the client's own credentials
and never the backend's, honour the backend's timeout, and reach an https backend with its
ca-file. Real influxd 1.6.7 behind the relay; a recording stand-in only where influxd cannot
show what it received (the credentials), and tests/integ/faulty.py for a hanging answer."""
import base64
import gzip
import http.server
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness as h  # noqa: E402

DB = "q"
PY = sys.executable or "python3"
FAULTY = os.path.join(HERE, "faulty.py")


def query_url(base, q, db=DB, extra=""):
    return "%s/query?db=%s&q=%s%s" % (base, db, urllib.parse.quote(q), extra)


def body_of(n0, count):
    return "".join("m,k=%d n=%di,pad=\"%s\" %d\n" % (i % 7, n0 + i, "p" * 80, 1000 + n0 + i)
                   for i in range(count)).encode()


def test_answers_pass_through():
    """Large, chunked, gzip'd and error answers come back exactly as the backend sends them,
    with X-Influx-Wal-Backend naming it."""
    a = h.Influxd("a").start()
    a.create_db(DB)
    r = h.Relay(backends=[a]).start()
    n = 20000
    for i in range(0, n, 5000):
        st, _, _ = r.write(DB, body_of(i, 5000))
        h.check_eq(st, 204, "write %d: 204" % i)
    h.check(h.wait_until(lambda: a.count(DB, "m") == n, timeout=30), "%d points in a" % n)
    h.check(h.wait_until(lambda: r.health()[1]["backends"][0]["caught_up"], timeout=10),
            "a is caught up")
    q = "SELECT * FROM m"
    st, dhd, direct = h.get(query_url(a.url, q), timeout=30)
    h.check_eq(st, 200, "direct: 200")
    st, hd, via = h.get(query_url(r.url, q), timeout=30)
    h.check_eq(st, 200, "through the relay: 200")
    h.check_eq(hd.get("x-influx-wal-backend"), "a", "the answer names the backend")
    h.check(len(via) > 2 * 1024 * 1024, "a large answer (%d bytes)" % len(via))
    h.check(via == direct, "the large answer is byte for byte the backend's",
            len(via), len(direct))
    h.check(hd.get("x-influxdb-version") == dhd.get("x-influxdb-version") and
            dhd.get("x-influxdb-version"), "X-Influxdb-Version is passed on", hd, dhd)
    h.check(hd.get("content-type", "").startswith("application/json"), "Content-Type passed on",
            hd)

    chunked = "&chunked=true&chunk_size=500"
    st, _, direct = h.get(query_url(a.url, q, extra=chunked), timeout=30)
    st2, hd, via = h.get(query_url(r.url, q, extra=chunked), timeout=30)
    h.check_eq((st, st2), (200, 200), "chunked: 200 both ways")
    h.check(via == direct and via.count(b"\n") > 10, "a chunked answer arrives whole, unframed",
            len(via), len(direct))

    gz = {"Accept-Encoding": "gzip"}
    st, hd, via = h.get(query_url(r.url, q), headers=gz, timeout=30)
    h.check_eq((st, hd.get("content-encoding")), (200, "gzip"), "gzip: passed on encoded")
    st, _, direct = h.get(query_url(a.url, q), timeout=30)
    h.check(gzip.decompress(via) == direct, "the gzip'd answer decodes to the plain one")

    for method in ("GET", "POST"):
        st, _, direct = h.request(method, query_url(a.url, "SELEC nothing"))
        st2, hd, via = h.request(method, query_url(r.url, "SELEC nothing"))
        h.check_eq((st2, via), (st, direct), "%s with a parse error: the backend's 400 and body"
                   % method)
    form = urllib.parse.urlencode({"q": "SELECT count(n) FROM m", "db": DB})
    st, hd, via = h.request("POST", r.url + "/query", body=form,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    h.check(st == 200 and json.loads(via)["results"][0]["series"][0]["values"][0][1] == n,
            "POST with a form body: the count", st, via[:200])


class Recorder:
    """A stand-in backend that records each request's path and headers: /ping 204, /write 204,
    /query 200 with a few headers of its own."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = []
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def answer(self, code, body, extra=()):
                self.send_response(code)
                for k, v in extra:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def handle_any(self):
                n = int(self.headers.get("Content-Length", "0") or 0)
                body = self.rfile.read(n) if n else b""
                with rec.lock:
                    rec.seen.append({"path": self.path, "headers": dict(self.headers),
                                     "body": body})
                if self.path.startswith("/query"):
                    self.answer(200, b'{"results":[{"statement_id":0}]}\n',
                                [("Content-Type", "application/json"),
                                 ("X-Influxdb-Version", "recorder"),
                                 ("X-Private-Detail", "not for clients")])
                else:
                    self.answer(204, b"")

            do_GET = handle_any
            do_POST = handle_any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", h.free_port()), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def queries(self):
        with self.lock:
            return [s for s in self.seen if s["path"].startswith("/query")]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_credentials_are_the_clients():
    """The client's Authorization header and u/p reach the backend as sent; the backend's own
    username, password, token and user:password@ never ride along on a client's query."""
    rec = Recorder()
    secret, token = "BackendPw-9c1e", "BackendTok-77ad"
    try:
        cfg = {"backend": [{"name": "rec", "url": "http://relayuser:%s@127.0.0.1:%d" % (
            secret, rec.port), "username": "relayuser", "password": secret, "token": token}]}
        r = h.Relay(config=cfg).start()
        h.check(h.wait_until(lambda: r.health()[1]["backends"][0]["up"], timeout=10), "rec is up")
        client = "Basic " + base64.b64encode(b"reader:readerpw").decode()
        st, hd, body = h.get(query_url(r.url, "SHOW DATABASES", extra="&u=cu&p=cp"),
                             headers={"Authorization": client})
        h.check_eq(st, 200, "a query with the client's credentials: 200")
        h.check_eq(hd.get("x-influx-wal-backend"), "rec", "named")
        h.check_eq(hd.get("x-influxdb-version"), "recorder", "X-Influxdb-Version passed on")
        h.check("x-private-detail" not in hd, "other backend headers are not passed on", hd)
        st, _, _ = h.get(query_url(r.url, "SHOW DATABASES"))
        h.check_eq(st, 200, "a query without credentials: 200")
        qs = rec.queries()
        h.check_eq(len(qs), 2, "both queries reached the backend")
        if len(qs) == 2:
            hdrs = [{k.lower(): v for k, v in q["headers"].items()} for q in qs]
            h.check_eq(hdrs[0].get("authorization"), client, "the client's Authorization, as sent")
            h.check("u=cu&p=cp" in qs[0]["path"], "the client's u/p, as sent", qs[0]["path"])
            h.check("authorization" not in hdrs[1],
                    "no Authorization when the client sent none", hdrs[1])
            dump = json.dumps([q["path"] for q in qs] + hdrs)
            h.check(secret not in dump and token not in dump and "relayuser" not in dump,
                    "none of the backend's credentials on a client's query", dump)
    finally:
        rec.close()


def faulty_http(target_url, *args):
    port = h.free_port()
    argv = [PY, FAULTY, "http", "--listen", str(port), "--target", target_url]
    argv += [str(a) for a in args]
    return h.Process(argv, name="faulty-http-%d" % port, port=port).start()


def test_timeout_and_down():
    """A backend that holds its /query answer gets the backend's timeout: 504, in time; with no
    backend up, 503."""
    a = h.Influxd("a").start()
    a.create_db(DB)
    slow = faulty_http(a.url, "--paths", "/query", "--delay-ms", 8000, "--delay-count", 1000)
    cfg = {"backend": [{"name": "slow", "url": slow.url, "timeout": "1500ms"}]}
    r = h.Relay(config=cfg).start()
    h.check(h.wait_until(lambda: r.health()[1]["backends"][0]["up"], timeout=10), "slow is up")
    t0 = time.monotonic()
    st, _, body = h.get(query_url(r.url, "SHOW DATABASES"), timeout=20)
    took = time.monotonic() - t0
    h.check_eq(st, 504, "a held answer: 504", body)
    h.check(1.0 <= took < 6.0, "after about the backend's 1.5 s timeout (%.1f s)" % took)
    slow.stop()
    h.check(h.wait_until(lambda: not r.health()[1]["backends"][0]["up"], timeout=15),
            "the stopped backend is seen down")
    st, hd, body = h.get(query_url(r.url, "SHOW DATABASES"))
    h.check_eq(st, 503, "no backend up: 503", body)
    h.check(hd.get("retry-after") == "5", "with Retry-After", hd)


class HttpsInfluxd(h.Influxd):
    """influxd with [http] https-enabled and a self-signed certificate for 127.0.0.1."""

    def __init__(self, name, cert, key):
        super().__init__(name)
        self.cert, self.key = cert, key

    def _config_text(self):
        text = super()._config_text()
        return text.replace("[http]\n", '[http]\n  https-enabled = true\n  https-certificate = '
                            '"%s"\n  https-private-key = "%s"\n' % (self.cert, self.key), 1)

    @property
    def https_url(self):
        return "https://127.0.0.1:%d" % self.port

    def _wait_ready(self, timeout, udp_ports=()):
        ctx = ssl.create_default_context(cafile=self.cert)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.proc.alive():
                return False, "address already in use" in self.proc.log_text(True).lower(), \
                    "influxd exited"
            try:
                import http.client
                c = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=1, context=ctx)
                c.request("GET", "/ping")
                if c.getresponse().status == 204:
                    return True, False, ""
            except (OSError, ssl.SSLError):
                pass
            time.sleep(0.1)
        return False, False, "no https /ping"


def test_https_backend():
    """An https backend with its ca-file: writes replicate and /query reaches it (before, the
    query proxy spoke plain http only and answered 502)."""
    if shutil.which("openssl") is None:
        h.check(False, "openssl is needed to make the test certificate")
        return
    d = h.tmpdir("tls")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], capture_output=True, timeout=60)
    h.check_eq(p.returncode, 0, "a self-signed certificate for 127.0.0.1", p.stderr[-300:])
    a = HttpsInfluxd("tls", cert, key).start()
    cfg = {"backend": [{"name": "tls", "url": a.https_url, "ca-file": cert,
                        "create-database": True}]}
    r = h.Relay(config=cfg).start()
    st, _, _ = r.write(DB, body_of(0, 100))
    h.check_eq(st, 204, "write: 204")
    h.check(h.wait_until(lambda: r.health()[1]["backends"][0]["caught_up"], timeout=20),
            "the https backend caught up", r.health()[1])
    st, hd, body = h.get(query_url(r.url, "SELECT count(n) FROM m"), timeout=20)
    h.check_eq(st, 200, "/query to the https backend: 200", body[:300])
    h.check_eq(hd.get("x-influx-wal-backend"), "tls", "named")
    try:
        got = json.loads(body)["results"][0]["series"][0]["values"][0][1]
    except (ValueError, KeyError, IndexError):
        got = None
    h.check_eq(got, 100, "the 100 points, counted over https through the relay")
    # Without the CA, curl refuses the self-signed certificate: the query fails, not silently.
    r.stop()
    cfg["backend"][0].pop("ca-file")
    r2 = h.Relay(config=cfg).start()
    time.sleep(1.0)
    st, _, body = h.get(query_url(r2.url, "SELECT count(n) FROM m"), timeout=20)
    h.check(st in (502, 503), "without its ca-file the certificate is refused (%d)" % st, body)


TESTS = [test_answers_pass_through, test_credentials_are_the_clients, test_timeout_and_down,
         test_https_backend]

if __name__ == "__main__":
    want = sys.argv[1:]
    h.run([t for t in TESTS if not want or t.__name__ in want])
