#!/usr/bin/python3
"""A purpose-built misbehaving endpoint in front of a REAL influxd, for the faults a real server
cannot produce on demand. Stdlib only; run it as a process of its own (h.Process), so that it is
stopped by PID like everything else:

    python3 faulty.py tcp  --listen PORT --target http://127.0.0.1:P [--delay-ms D] [--rate BPS]
        A TCP proxy: every chunk forwarded (both directions) waits D ms, and each direction of
        each connection moves at most BPS bytes per second. A slow link or a throttled server.

    python3 faulty.py http --listen PORT --target http://127.0.0.1:P
                      [--fail-status 500] [--fail-count N] [--fail-after-forward]
                      [--delay-ms D] [--delay-count N] [--paths /write,...]
                      [--hold-before-ms H [--hold-jitter]]
        An HTTP/1.1 proxy (keep-alive, Content-Length bodies). The first N requests whose path
        is in --paths (default /write) are answered --fail-status with an InfluxDB-like JSON
        error; by default without reaching influxd, with --fail-after-forward AFTER influxd
        stored them (the answer is lost, the data is not: what a proxy timing out or a crashed
        load balancer does). Then the first --delay-count requests are forwarded and their
        answer held for D ms (a slow response: longer than the relay's timeout, the relay gives
        up while influxd has the points). With --hold-before-ms, every request on --paths is
        held H ms BEFORE it is forwarded (it reaches influxd late: whatever another connection
        sends meanwhile is applied first); with --hold-jitter, a random time up to H ms each, so
        requests sent together reach influxd in any order. Everything else passes through unchanged.

Both modes answer GET /__faulty/stats with JSON counters (tcp mode: only when the first bytes of
a connection are exactly that request) and print one line per event on stdout. The http mode
also takes POST /__faulty/arm?fail=N[&status=S] while it runs: the next N requests on --paths
are answered S (default --fail-status) as --fail-count would (a burst of 5xx in the middle of a
run); it answers the counters.
"""
import argparse
import http.client
import http.server
import json
import random
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

STATS = {"connections": 0, "requests": 0, "failed": 0, "failed_forwarded": 0, "delayed": 0,
         "forwarded": 0, "bytes_up": 0, "bytes_down": 0}
LOCK = threading.Lock()


def bump(key, n=1):
    with LOCK:
        STATS[key] += n


def say(msg):
    sys.stdout.write("%.3f %s\n" % (time.time(), msg))
    sys.stdout.flush()


def stats_body():
    with LOCK:
        return (json.dumps(STATS) + "\n").encode()


# ------------------------------------------------------------------------------------------
# tcp mode
# ------------------------------------------------------------------------------------------


class Bucket:
    """Token bucket: at most 'rate' bytes per second (0: unlimited), bursts of 1/20 s."""

    def __init__(self, rate):
        self.rate = float(rate)
        self.tokens = 0.0
        self.t = time.monotonic()

    def take(self, n):
        if self.rate <= 0:
            return
        while True:
            now = time.monotonic()
            self.tokens = min(self.rate / 20.0, self.tokens + (now - self.t) * self.rate)
            self.t = now
            if self.tokens >= n or self.tokens >= self.rate / 20.0:
                self.tokens -= n
                return
            time.sleep(min(0.05, (n - self.tokens) / self.rate))


def pipe(src, dst, delay_s, rate, counter, chunk):
    bucket = Bucket(rate)
    try:
        while True:
            data = src.recv(chunk)
            if not data:
                break
            if delay_s:
                time.sleep(delay_s)
            for i in range(0, len(data), 1024 if rate else len(data)):
                part = data[i:i + (1024 if rate else len(data))]
                bucket.take(len(part))
                dst.sendall(part)
            bump(counter, len(data))
    except OSError:
        pass
    finally:
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


def tcp_conn(client, args, host, port):
    bump("connections")
    try:
        first = client.recv(65536, socket.MSG_PEEK)
    except OSError:
        client.close()
        return
    if first.startswith(b"GET /__faulty/stats "):
        body = stats_body()
        client.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                       b"Content-Length: %d\r\n\r\n" % len(body) + body)
        client.close()
        return
    try:
        up = socket.create_connection((host, port), timeout=10)
        up.settimeout(None)
    except OSError as e:
        say("event=upstream_connect_failed err=%r" % (e,))
        client.close()
        return
    chunk = 4096 if args.rate else 65536
    t1 = threading.Thread(target=pipe, args=(client, up, args.delay_ms / 1000.0, args.rate,
                                             "bytes_up", chunk), daemon=True)
    t2 = threading.Thread(target=pipe, args=(up, client, args.delay_ms / 1000.0, args.rate,
                                             "bytes_down", chunk), daemon=True)
    t1.start()
    t2.start()
    t1.join()
    t2.join()
    client.close()
    up.close()


def run_tcp(args, host, port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.listen))
    srv.listen(128)
    say("event=listening mode=tcp port=%d target=%s:%d delay_ms=%d rate=%d" % (
        args.listen, host, port, args.delay_ms, args.rate))
    while True:
        c, _ = srv.accept()
        threading.Thread(target=tcp_conn, args=(c, args, host, port), daemon=True).start()


# ------------------------------------------------------------------------------------------
# http mode
# ------------------------------------------------------------------------------------------

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
       "upgrade", "content-length", "host"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cfg = None
    target = None

    def log_message(self, fmt, *a):  # one line per event is printed by us instead
        pass

    def _answer(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _forward(self, body):
        conn = http.client.HTTPConnection(self.target[0], self.target[1], timeout=60)
        try:
            hdrs = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            conn.request(self.command, self.path, body=body if body else None, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            return r.status, r.getheaders(), data
        finally:
            conn.close()

    def _handle(self):
        cfg = self.cfg
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._answer(411, [], b'{"error":"faulty.py: chunked bodies are not supported"}\n')
            return
        body = self.rfile.read(n) if n else b""
        path = urllib.parse.urlsplit(self.path).path
        if path == "/__faulty/stats":
            self._answer(200, [("Content-Type", "application/json")], stats_body())
            return
        if path == "/__faulty/arm":
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            with LOCK:
                cfg.fail_count = STATS["failed"] + int(q.get("fail", ["0"])[0])
                cfg.fail_status = int(q.get("status", [str(cfg.fail_status)])[0])
            say("event=armed fail_until=%d status=%d" % (cfg.fail_count, cfg.fail_status))
            self._answer(200, [("Content-Type", "application/json")], stats_body())
            return
        bump("requests")
        targeted = path in cfg.paths
        with LOCK:
            fail = targeted and STATS["failed"] < cfg.fail_count
            if fail:
                STATS["failed"] += 1
            delay = (not fail and targeted and cfg.delay_ms > 0 and
                     STATS["delayed"] < cfg.delay_count)
            if delay:
                STATS["delayed"] += 1
        if fail:
            if cfg.fail_after_forward:
                st, _, _ = self._forward(body)
                bump("failed_forwarded")
                say("event=fail_after_forward path=%s upstream=%d answer=%d bytes=%d" % (
                    path, st, cfg.fail_status, len(body)))
            else:
                say("event=fail path=%s answer=%d bytes=%d" % (path, cfg.fail_status, len(body)))
            msg = json.dumps({"error": "faulty.py: injected %d" % cfg.fail_status}) + "\n"
            self._answer(cfg.fail_status, [("Content-Type", "application/json")], msg.encode())
            return
        if targeted and cfg.hold_before_ms > 0:
            hold = cfg.hold_before_ms * (random.random() if cfg.hold_jitter else 1.0)
            time.sleep(hold / 1000.0)
        st, hdrs, data = self._forward(body)
        bump("forwarded")
        if delay:
            say("event=delay path=%s upstream=%d delay_ms=%d" % (path, st, cfg.delay_ms))
            time.sleep(cfg.delay_ms / 1000.0)
        self._answer(st, hdrs, data)

    def _safe(self):
        try:
            self._handle()
        except (OSError, http.client.HTTPException) as e:
            say("event=error err=%r" % (e,))
            self.close_connection = True

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _safe


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def run_http(args, host, port):
    Handler.cfg = args
    Handler.target = (host, port)
    srv = Server(("127.0.0.1", args.listen), Handler)
    say("event=listening mode=http port=%d target=%s:%d fail=%dx%d after_forward=%s "
        "delay_ms=%d x%d paths=%s" % (args.listen, host, port, args.fail_count,
                                      args.fail_status, args.fail_after_forward, args.delay_ms,
                                      args.delay_count, ",".join(sorted(args.paths))))
    srv.serve_forever()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=("tcp", "http"))
    p.add_argument("--listen", type=int, required=True)
    p.add_argument("--target", required=True, help="http://127.0.0.1:PORT of the real influxd")
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--rate", type=int, default=0, help="tcp: bytes per second per direction")
    p.add_argument("--fail-status", type=int, default=500)
    p.add_argument("--fail-count", type=int, default=0)
    p.add_argument("--fail-after-forward", action="store_true")
    p.add_argument("--delay-count", type=int, default=0)
    p.add_argument("--paths", default="/write")
    p.add_argument("--hold-before-ms", type=int, default=0)
    p.add_argument("--hold-jitter", action="store_true")
    args = p.parse_args(argv)
    args.paths = set(x for x in args.paths.split(",") if x)
    u = urllib.parse.urlsplit(args.target)
    if u.hostname not in ("127.0.0.1", "localhost") or not u.port:
        p.error("--target must be http://127.0.0.1:PORT")
    if not 0 < args.listen < 32768:
        p.error("--listen must be a port below 32768")
    (run_tcp if args.mode == "tcp" else run_http)(args, "127.0.0.1", u.port)


if __name__ == "__main__":
    main()
