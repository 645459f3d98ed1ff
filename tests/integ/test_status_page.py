#!/usr/bin/python3
"""The status page (GET /, /status, /status.json) in a real browser and without one.

  - two influxd, A and B; the page served without JavaScript (urllib + html.parser) has both
    backends' rows in the server-rendered table, up, and loads nothing from anywhere;
  - in headless chromium (Debian's, driven by playwright-core from tests/node_modules through
    tests/integ/status_page.mjs): B stopped under writes shows as down (class state-down,
    data-state="down", its state cell in the down colour), its lag grows between two refreshes,
    and after B returns it turns up with lag 0; the charts exist and say since when;
  - with [auth] enabled: / and /status.json answer 401 with WWW-Authenticate: Basic unless the
    request has a user's credentials (then 200, in the browser too); a backend's password and
    the users' passwords never appear; /health and /metrics stay public; status-public = true
    opens the page without credentials.

Screenshots go to build/status-page-test/; IWR_SCREENSHOT=PATH also copies the outage shot
there (`make screenshot` refreshes docs/status-page.png with it)."""

import html.parser
import json
import os
import shutil
import subprocess
import sys
import threading
import base64

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

DB = "statusdb"
HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "status_page.mjs")
SHOTS = os.path.join(h.ROOT, "build", "status-page-test")
BACKEND = {"retry-max-delay": "1s", "timeout": "5s", "connect-timeout": "1s"}


class Page(html.parser.HTMLParser):
    """The server-rendered page: backend rows (their attributes and cell texts), every
    src/href attribute, script tags."""

    def __init__(self):
        super().__init__()
        self.rows, self.links, self.scripts, self.ids = [], [], 0, set()
        self._row = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        for k in ("src", "href"):
            if k in a:
                self.links.append(a[k])
        if tag == "script":
            self.scripts += 1
        if tag == "tr" and "backend" in (a.get("class") or "").split():
            self._row = {"attrs": a, "cells": []}
            self.rows.append(self._row)
        elif tag == "td" and self._row is not None:
            self._row["cells"].append("")

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._row is not None and self._row["cells"]:
            self._row["cells"][-1] += data


def parse(body):
    p = Page()
    p.feed(body.decode() if isinstance(body, bytes) else body)
    return p


class Browser:
    """status_page.mjs as a child: one JSON command per line, one answer per line."""

    def __init__(self):
        self.proc = subprocess.Popen(["node", DRIVER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, cwd=HERE, text=True)

    def cmd(self, timeout=40.0, **m):
        self.proc.stdin.write(json.dumps(m) + "\n")
        self.proc.stdin.flush()
        out = []
        t = threading.Thread(target=lambda: out.append(self.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        if not out or not out[0]:
            raise h.HarnessError("browser driver gave no answer to %r" % m)
        r = json.loads(out[0])
        if not r["ok"]:
            raise h.HarnessError("browser driver: %s" % r["error"])
        return r["result"]

    def close(self):
        try:
            if self.proc.poll() is None:
                self.cmd(cmd="quit", timeout=15)
            self.proc.wait(10)
        except Exception:
            pass
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)


def browser_ready():
    return (h.check(os.path.exists("/usr/bin/chromium"), "chromium is installed (make deps)") and
            h.check(os.path.isdir(os.path.join(h.ROOT, "tests", "node_modules", "playwright-core")),
                    "playwright-core is installed in tests/node_modules (make test-node)"))


def row(state, name):
    return next((r for r in state["rows"] if r["name"] == name), None)


def basic(user, pw):
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()}


def test_outage_in_browser():
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    for x in (a, b):
        x.create_db(DB)
    r = h.Relay(config={"backend": [dict(name="a", url=a.url, **BACKEND),
                                    dict(name="b", url=b.url, **BACKEND)]}).start()
    load = h.Load(r.url, DB, points_per_request=50, requests=20, concurrency=2).run()
    h.check(load.acked_total == 1000, "first load acknowledged", load.summary())

    def both_up():
        st, _, body = h.request("GET", r.url + "/status.json")
        d = json.loads(body)
        return st == 200 and all(x["state"] == "up" and x["lag_records"] == 0
                                 for x in d["backends"]) and d
    d = h.wait_until(both_up, timeout=20, interval=0.3)
    h.check(d, "/status.json: both backends up with lag 0")
    h.check(d and [x["name"] for x in d["backends"]] == ["a", "b"] and
            all(k in d for k in ("version", "uptime_seconds", "data_dir", "wal", "ingest",
                                 "history")),
            "/status.json has the version, uptime, data dir, log, ingest, backends, history",
            d)
    h.check(d and [x["kind"] for x in d["backends"]] == ["v1", "v1"],
            "/status.json: each backend's kind is its api, v1 here", d and d["backends"])

    # Without JavaScript: the server's table says the same.
    for path in ("/", "/status"):
        st, hdr, body = h.request("GET", r.url + path)
        p = parse(body)
        h.check(st == 200 and hdr.get("content-type", "").startswith("text/html"),
                "GET %s is an HTML page (200)" % path, st, hdr)
        states = {x["attrs"].get("data-backend"): x["attrs"].get("data-state") for x in p.rows}
        h.check(states == {"a": "up", "b": "up"},
                "GET %s without JavaScript: the server-rendered table has A and B up" % path,
                states)
        h.check(all(len(x["cells"]) == 14 and x["cells"][5].strip() == "0" for x in p.rows),
                "GET %s: each backend row has its 14 cells, lag records 0" % path,
                [x["cells"] for x in p.rows])
        h.check([x["cells"][1].strip() for x in p.rows] == ["v1", "v1"],
                "GET %s: the kind cell of each backend row says v1" % path,
                [x["cells"] for x in p.rows])
        h.check(p.links == [] and {"backends", "wal", "endpoints", "chart-ingest"} <= p.ids,
                "GET %s links nothing external and has the backends, log, endpoints tables and "
                "the ingest chart" % path, p.links, p.ids)
    st, _, _ = h.request("POST", r.url + "/status", body=b"")
    h.check(st == 405, "POST /status is 405", st)

    if not browser_ready():
        return
    os.makedirs(SHOTS, exist_ok=True)
    br = Browser()
    try:
        o = br.cmd(cmd="open", url=r.url + "/")
        h.check(o["status"] == 200, "the browser opens / (200)", o)
        s = br.cmd(cmd="wait_refresh", after=0)
        h.check({x["name"]: x["state"] for x in s["rows"]} == {"a": "up", "b": "up"},
                "in the browser, after a refresh from /status.json, A and B are up", s["rows"])
        up_bg = row(s, "b")["state_bg"]

        b.stop()
        load2 = h.Load(r.url, DB, points_per_request=20, requests=400, concurrency=1,
                       interval=0.05, deadline=120).start()

        def b_down():
            s = br.cmd(cmd="wait_refresh", after=br_refreshes[0])
            br_refreshes[0] = s["refreshes"]
            x = row(s, "b")
            return x and x["state"] == "down" and x["lag"] > 0 and s
        br_refreshes = [s["refreshes"]]
        s1 = h.wait_until(b_down, timeout=30, interval=0)
        h.check(s1, "B stopped: the page shows it down with lag > 0", s1 and s1["rows"])
        if s1:
            x = row(s1, "b")
            h.check("state-down" in x["cls"].split() and x["state_bg"] != up_bg,
                    "B's row has class state-down and its state cell another colour than up",
                    x, up_bg)
            h.check(row(s1, "a")["state"] in ("up", "catching-up"), "A is not down",
                    row(s1, "a"))
            s2 = br.cmd(cmd="wait_refresh", after=s1["refreshes"] + 1, timeout_ms=20000)
            h.check(row(s2, "b")["state"] == "down" and row(s2, "b")["lag"] > x["lag"],
                    "B's lag grows between two refreshes while it is down",
                    x["lag"], row(s2, "b"))
            shot = os.path.join(SHOTS, "down.png")
            br.cmd(cmd="screenshot", path=shot)
            h.check(os.path.getsize(shot) > 1000, "screenshot of the outage written under build/",
                    shot)
            if os.environ.get("IWR_SCREENSHOT"):
                shutil.copyfile(shot, os.environ["IWR_SCREENSHOT"])
        load2.join()
        h.check(load2.n503 == 0 and load2.conn_errors == 0,
                "every write during the outage acknowledged", load2.summary())

        b.restart()

        def b_back():
            s = br.cmd(cmd="wait_refresh", after=br_refreshes[0])
            br_refreshes[0] = s["refreshes"]
            x = row(s, "b")
            return x and x["state"] == "up" and x["lag"] == 0 and s
        s3 = h.wait_until(b_back, timeout=60, interval=0)
        h.check(s3, "B back: the page turns it up with lag 0", s3 and s3["rows"])
        if s3:
            h.check("state-up" in row(s3, "b")["cls"].split() and
                    row(s3, "b")["state_bg"] == up_bg,
                    "B's row is state-up again, in the up colour", row(s3, "b"))
            charts = {c["id"]: c for c in s3["charts"]}
            h.check({"chart-ingest", "chart-lag-a", "chart-lag-b"} <= set(charts) and
                    all("since " in c["caption"] for c in charts.values()),
                    "charts for ingest and each backend's lag, each saying since when", charts)
            h.check(charts.get("chart-lag-b", {}).get("points", 0) >= 1,
                    "B's lag chart has a line from the ring's samples", charts.get("chart-lag-b"))
            h.check(s3["external"] == [], "the page requested nothing outside the relay",
                    s3["external"])
            br.cmd(cmd="screenshot", path=os.path.join(SHOTS, "up.png"))
        h.check_eq(b.points_total(DB), a.points_total(DB), "B holds every point A holds")
    finally:
        br.close()


def test_auth():
    a = h.Influxd("a").start()
    a.create_db(DB)
    secret, backend_pw = "writer-pw-7f3a", "backend-pw-91c2"
    conf = {"auth": {"enabled": True, "user": [{"name": "writer", "password": secret}]},
            "backend": [dict(name="a", url=a.url, username="relay", password=backend_pw,
                             **BACKEND)]}
    r = h.Relay(config=conf).start()
    for path in ("/", "/status", "/status.json"):
        st, hdr, _ = h.request("GET", r.url + path)
        h.check(st == 401 and hdr.get("www-authenticate", "").startswith("Basic "),
                "auth on: GET %s without credentials is 401 with WWW-Authenticate: Basic" % path,
                st, hdr)
        st, _, _ = h.request("GET", r.url + path, headers=basic("writer", "wrong"))
        h.check(st == 401, "auth on: GET %s with a wrong password is 401" % path, st)
        st, _, body = h.request("GET", r.url + path, headers=basic("writer", secret))
        h.check(st == 200, "auth on: GET %s with a user's credentials is 200" % path, st)
        h.check(secret.encode() not in body and backend_pw.encode() not in body,
                "GET %s shows neither the user's nor the backend's password" % path)
    for path in ("/health", "/metrics"):
        st, _, _ = h.request("GET", r.url + path)
        h.check(st == 200, "auth on: %s stays public (200)" % path, st)

    if browser_ready():
        br = Browser()
        try:
            o = br.cmd(cmd="open", url=r.url + "/")
            h.check(o["status"] == 401 and o.get("challenge", "").startswith("Basic"),
                    "the browser without credentials gets 401 and a Basic challenge", o)
            o = br.cmd(cmd="open", url=r.url + "/", user="writer", password=secret)
            s = br.cmd(cmd="wait_refresh", after=0)
            h.check(o["status"] == 200 and s["stale"] is None and row(s, "a") is not None,
                    "the browser with credentials loads the page and refreshes it", o, s)
        finally:
            br.close()

    conf["auth"]["status-public"] = True
    r.write_config(conf)
    r.reload()
    ok = h.wait_until(lambda: h.request("GET", r.url + "/status.json")[0] == 200, timeout=10)
    h.check(ok, "status-public = true (after SIGHUP): /status.json without credentials is 200")
    st, _, body = h.request("GET", r.url + "/")
    h.check(st == 200 and secret.encode() not in body and backend_pw.encode() not in body,
            "status-public: / is 200 and shows no password", st)
    st, _, _ = h.request("POST", r.url + "/write?db=" + DB, body=b"m n=1i")
    h.check(st == 401, "status-public does not open /write", st)


h.run([test_outage_in_browser, test_auth])
