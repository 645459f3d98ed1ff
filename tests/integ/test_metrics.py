#!/usr/bin/python3
"""/metrics and /health tell the truth about every backend, checked against real influxd
processes; the packaged alert rules and dashboard are valid and use metrics that exist.

  - two influxd, A and B; B is stopped while writes go on: B's up goes 0 within seconds, its
    lag (records, bytes, seconds) is > 0 and equals the log's head minus its cursor, its
    catch-up ETA is +Inf, the log's full ETA is finite, /health is "warn" (200) naming B,
    /health/backend/b is 503, A stays current;
  - B comes back: up 1 within seconds, then lag 0, caught up, sent points equal to the points
    counted in B (and in A, and acknowledged), /health "pass", full ETA +Inf once the log
    drained;
  - a record damaged in the log is skipped by the sender and counted in
    influx_wal_backend_corrupt_records_total, the records around it arrive;
  - `promtool check metrics` passes on the live /metrics output, during and after the outage;
  - `promtool check rules` and `promtool test rules` pass on packaging/prometheus-alerts*.yml;
    the dashboard is valid JSON whose every query parses (promtool) and names only metrics the
    relay exposes.

promtool comes from the Debian package `prometheus`."""

import json
import math
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

DB = "metricsdb"
PACKAGING = os.path.join(h.ROOT, "packaging")
ALERTS = os.path.join(PACKAGING, "prometheus-alerts.yml")
ALERTS_TEST = os.path.join(PACKAGING, "prometheus-alerts.test.yml")
DASHBOARD = os.path.join(PACKAGING, "grafana-dashboard.json")

# Metrics text captured from the live relay, for the checks of the packaged files.
captured = {}


def promtool():
    return shutil.which("promtool")


def promtool_check_metrics(text, what):
    tool = promtool()
    if not h.check(tool, "promtool is installed (Debian package prometheus)"):
        return
    rc, out, err = h.run_cmd([tool, "check", "metrics"], input=text, timeout=30)
    h.check(rc == 0 and not out.strip() and not err.strip(),
            "promtool check metrics passes on the live /metrics (%s)" % what,
            "rc %d" % rc, out[-2000:], err[-2000:])


def samples(r):
    """{(name, frozenset(labels)): value} of one scrape, and the text."""
    text = r.metrics_text()
    out = {}
    for name, labels, value in h.parse_prom(text):
        out[(name, frozenset(labels.items()))] = value
    return out, text


def val(s, name, **labels):
    return s.get((name, frozenset((k, str(v)) for k, v in labels.items())))


def health(r):
    status, doc = r.health()
    if not isinstance(doc, dict):
        raise h.HarnessError("/health answered %d with non-JSON: %r" % (status, doc))
    return status, doc


def hb(doc, name):
    for b in doc.get("backends", []):
        if b.get("name") == name:
            return b
    return {}


def test_outage():
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    for x in (a, b):
        x.create_db(DB)
    backend = {"retry-max-delay": "1s", "timeout": "5s", "connect-timeout": "1s"}
    r = h.Relay(config={"backend": [dict(name="a", url=a.url, **backend),
                                    dict(name="b", url=b.url, **backend)]}).start()
    r.metrics_text()  # the moving averages' baseline

    # Both up: everything arrives, both caught up, /health pass.
    load1 = h.Load(r.url, DB, points_per_request=100, requests=40, concurrency=4).run()
    h.check(load1.acked_total == 4000, "first load: every write acknowledged", load1.summary())

    def settled():
        s, _ = samples(r)
        return all(val(s, "influx_wal_backend_caught_up", backend=n) == 1 and
                   val(s, "influx_wal_backend_lag_records", backend=n) == 0 for n in "ab") and s
    s = h.wait_until(settled, timeout=20, interval=0.2)
    h.check(s, "both backends caught up with lag 0 after the first load")
    st, doc = health(r)
    h.check(st == 200 and doc.get("status") == "pass" and doc.get("reasons") == [],
            "/health is pass (200) with both backends current", st, doc)

    # B stops; writes go on.
    b.stop()
    load2 = h.Load(r.url, DB, points_per_request=50, requests=120, concurrency=2,
                   interval=0.04).start()
    down = h.wait_until(lambda: r.metric("influx_wal_backend_up", backend="b") == 0,
                        timeout=5, interval=0.1)
    h.check(down, "B's up goes 0 within 5 s of B stopping under writes")
    s, text = samples(r)
    h.check(val(s, "influx_wal_backend_up", backend="a") == 1, "A stays up while B is down")
    lag = val(s, "influx_wal_backend_lag_records", backend="b")
    h.check(lag is not None and lag > 0, "B's lag_records > 0 while it is down", lag)
    st, doc = health(r)
    h.check(st == 200 and doc.get("status") == "warn" and doc["wal"]["writable"],
            "/health is warn (200) during the outage, the log writable", st, doc)
    h.check(any("backend b" in x and "down" in x for x in doc.get("reasons", [])),
            "/health's reasons name B as down", doc.get("reasons"))
    eta_seen = h.wait_until(
        lambda: 0 < (r.metric("influx_wal_wal_full_eta_seconds") or 0) < math.inf,
        timeout=10, interval=0.3)
    h.check(eta_seen, "the log's full ETA is finite while B holds records and writes go on",
            r.metric("influx_wal_wal_full_eta_seconds"))
    promtool_check_metrics(r.metrics_text(), "during the outage")
    load2.join()
    h.check(load2.acked_total == 6000, "every write acknowledged while B is down", load2.summary())

    # Writes over, B still down: the figures agree with each other and with /health.
    h.check(h.wait_until(lambda: r.metric("influx_wal_backend_caught_up", backend="a") == 1,
                         timeout=15), "A catches up while B is down")
    s, text = samples(r)
    captured["outage"] = text
    st, doc = health(r)
    last = val(s, "influx_wal_wal_last_sequence")
    cur_b = val(s, "influx_wal_backend_cursor", backend="b")
    lag_b = val(s, "influx_wal_backend_lag_records", backend="b")
    h.check(lag_b > 0 and lag_b == last - cur_b,
            "B's lag_records is the log's last sequence minus B's cursor", lag_b, last, cur_b)
    h.check(val(s, "influx_wal_backend_lag_bytes", backend="b") > 0 and
            val(s, "influx_wal_backend_lag_seconds", backend="b") > 0,
            "B's lag in bytes and seconds is > 0 while down")
    h.check(val(s, "influx_wal_backend_up", backend="b") == 0 and
            val(s, "influx_wal_backend_caught_up", backend="b") == 0,
            "B: up 0 and caught_up 0 after the writes")
    h.check(val(s, "influx_wal_backend_catchup_eta_seconds", backend="b") == math.inf,
            "B's catch-up ETA is +Inf while it is down",
            val(s, "influx_wal_backend_catchup_eta_seconds", backend="b"))
    h.check(val(s, "influx_wal_backend_lag_records", backend="a") == 0 and
            val(s, "influx_wal_backend_catchup_eta_seconds", backend="a") == 0,
            "A: lag 0 and catch-up ETA 0")
    h.check(val(s, "influx_wal_wal_records") >= lag_b,
            "the log still holds every record B lacks", val(s, "influx_wal_wal_records"), lag_b)
    h.check(val(s, "influx_wal_backend_requests_total", backend="b", code="0"),
            "B's failed requests are counted with code 0")
    h.check(st == 200 and doc.get("status") == "warn", "/health is still warn", st, doc)
    hb_b = hb(doc, "b")
    h.check_eq((hb_b.get("up"), hb_b.get("lag_records"), hb_b.get("cursor")),
               (False, lag_b, cur_b), "/health agrees with /metrics on B (up, lag, cursor)")
    h.check_eq(doc["wal"]["last_sequence"], last, "/health agrees with /metrics on the log")
    st_b, _, _ = h.get(r.url + "/health/backend/b")
    st_a, _, _ = h.get(r.url + "/health/backend/a")
    h.check_eq((st_a, st_b), (200, 503), "/health/backend: A 200, B 503")
    h.check_eq(a.points_total(DB), 10000, "A holds all 10000 points while B is down")

    # B returns.
    b.restart()
    up = h.wait_until(lambda: r.metric("influx_wal_backend_up", backend="b") == 1,
                      timeout=5, interval=0.1)
    h.check(up, "B's up goes 1 within 5 s of B returning")
    s = h.wait_until(settled, timeout=30, interval=0.2)
    h.check(s, "B catches up: lag 0 and caught_up 1")
    s, text = samples(r)
    captured["after"] = text
    n_b = b.points_total(DB)
    n_a = a.points_total(DB)
    sent_b = val(s, "influx_wal_backend_sent_points_total", backend="b")
    h.check_eq((n_a, n_b), (10000, 10000), "A and B each hold all 10000 acknowledged points")
    h.check_eq(sent_b, n_b, "B's sent_points_total equals the points counted in B")
    h.check_eq(val(s, "influx_wal_backend_sent_points_total", backend="a"), n_a,
               "A's sent_points_total equals the points counted in A")
    h.check_eq(val(s, "influx_wal_ingest_points_total"), 10000,
               "ingest_points_total equals the acknowledged points")
    h.check(all(val(s, m, backend="b") == 0 for m in (
        "influx_wal_backend_lag_records", "influx_wal_backend_lag_bytes",
        "influx_wal_backend_lag_seconds", "influx_wal_backend_catchup_eta_seconds",
        "influx_wal_backend_dead_letters")),
        "B: lag (records, bytes, seconds), ETA and dead letters 0")
    h.check_eq(val(s, "influx_wal_backend_up", backend="b"), 1, "B: up 1 after catching up")
    st, doc = h.wait_until(lambda: (lambda x: x if x[1].get("status") == "pass" else None)(
        health(r)), timeout=5, interval=0.2) or health(r)
    h.check(st == 200 and doc.get("status") == "pass", "/health is pass again", st, doc)
    h.check_eq(h.get(r.url + "/health/backend/b")[0], 200, "/health/backend/b: 200")
    not_filling = h.wait_until(lambda: r.metric("influx_wal_wal_full_eta_seconds") == math.inf,
                               timeout=15, interval=0.5)
    h.check(not_filling, "the log's full ETA is +Inf once the backends drained it",
            r.metric("influx_wal_wal_full_eta_seconds"))
    h.check(h.wait_until(lambda: r.metric("influx_wal_wal_records") == 0, timeout=10),
            "the log is emptied once both backends hold everything")
    promtool_check_metrics(r.metrics_text(), "after the outage")


def exposed(text):
    names = set()
    for n, _, _ in h.parse_prom(text):
        names.add(n)
        names.add(re.sub(r"_(bucket|sum|count)$", "", n))
    for m in re.finditer(r"^# TYPE (\S+) ", text, re.M):
        names.add(m.group(1))
    return names


def test_packaged_rules_and_dashboard():
    tool = promtool()
    if not h.check(tool, "promtool is installed (Debian package prometheus)"):
        return
    rc, out, err = h.run_cmd([tool, "check", "rules", ALERTS], timeout=30)
    h.check(rc == 0 and "SUCCESS" in out, "promtool check rules: packaging/prometheus-alerts.yml",
            out[-2000:], err[-2000:])
    rc, out, err = h.run_cmd([tool, "test", "rules", os.path.basename(ALERTS_TEST)], timeout=60,
                             cwd=PACKAGING)
    h.check(rc == 0 and "SUCCESS" in out,
            "promtool test rules: every alert fires as prometheus-alerts.test.yml expects",
            out[-3000:], err[-2000:])

    live = exposed(captured.get("outage", "") + captured.get("after", ""))
    with open(ALERTS) as f:
        alerts_text = f.read()
    used = set(re.findall(r"\binflux_wal_[a-z0-9_]+", alerts_text))
    h.check(live and used <= live, "every metric the alert rules use is exposed by the relay",
            sorted(used - live))

    with open(DASHBOARD) as f:
        try:
            dash = json.load(f)
        except ValueError as e:
            h.check(False, "packaging/grafana-dashboard.json is valid JSON", e)
            return
    exprs = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    exprs.append((p.get("title", "?"), t["expr"]))
            walk(p.get("panels", []))
    walk(dash.get("panels", []))
    for a in dash.get("annotations", {}).get("list", []):
        if a.get("expr"):
            exprs.append(("annotation " + a.get("name", "?"), a["expr"]))
    h.check(len(exprs) >= 20, "the dashboard has its queries (%d)" % len(exprs))
    # Grafana's variables replaced by what they expand to, each query as a recording rule:
    # promtool then parses every one.
    subst = [("$__rate_interval", "1m"), ("$__range", "6h"), ("$instance", ".*"),
             ("$backend", ".*")]
    rules = ["groups:", "  - name: dashboard", "    rules:"]
    for i, (_, e) in enumerate(exprs):
        for k, v in subst:
            e = e.replace(k, v)
        rules += ["      - record: dashboard:query%d" % i, "        expr: %s" % json.dumps(e)]
    path = os.path.join(h.tmpdir("dash"), "dashboard-queries.yml")
    with open(path, "w") as f:
        f.write("\n".join(rules) + "\n")
    rc, out, err = h.run_cmd([tool, "check", "rules", path], timeout=30)
    h.check(rc == 0 and "SUCCESS" in out, "every dashboard query parses as PromQL",
            out[-2000:], err[-2000:])
    used = set()
    for _, e in exprs:
        used |= set(re.findall(r"\binflux_wal_[a-z0-9_]+", e))
    missing = sorted(u for u in used
                     if u not in live and re.sub(r"_(bucket|sum|count)$", "", u) not in live)
    h.check(live and not missing, "every metric the dashboard uses is exposed by the relay",
            missing)
    wanted = {"influx_wal_ingest_points_total", "influx_wal_ingest_rejected_lines_total",
              "influx_wal_commit_duration_seconds_bucket", "influx_wal_wal_bytes",
              "influx_wal_wal_limit_bytes", "influx_wal_wal_full_eta_seconds",
              "influx_wal_backend_up", "influx_wal_backend_lag_records",
              "influx_wal_backend_catchup_eta_seconds",
              "influx_wal_backend_drain_records_per_second", "influx_wal_backend_dead_letters",
              "influx_wal_backend_requests_total"}
    h.check(wanted <= used, "the dashboard shows ingest, acknowledged vs rejected, commit "
            "latency, log size vs limit and full ETA, per-backend up/lag/ETA/drain/dead "
            "letters/codes", sorted(wanted - used))


def test_liveness_default_backoff():
    """With the default retry settings: an idle backend that stops, a long outage, and a hang
    each show in influx_wal_backend_up within a few seconds (a /ping when not heard from for
    2 s; probes every second while down, whatever the write backoff has grown to)."""
    a = h.Influxd("a").start()
    a.create_db("live")
    r = h.Relay(backends={"a": a}).start()
    h.write(r.url, "live", "m n=1i 1")
    up = lambda: r.metric("influx_wal_backend_up", backend="a")
    h.wait_until(lambda: up() == 1 and a.count("live") == 1, timeout=10)
    a.stop()
    t0 = time.time()
    h.wait_until(lambda: up() == 0, timeout=15, interval=0.1)
    h.check(up() == 0 and time.time() - t0 < 6, "an idle backend that stops is down within 6 s "
            "(%.1f s)" % (time.time() - t0))
    time.sleep(20)  # long enough for the write backoff to pass several seconds
    a.restart()
    t0 = time.time()
    h.wait_until(lambda: up() == 1, timeout=15, interval=0.1)
    h.check(up() == 1 and time.time() - t0 < 4, "after a 20 s outage it is up within 4 s of "
            "answering (%.1f s)" % (time.time() - t0))
    a.pause()
    t0 = time.time()
    h.write(r.url, "live", "m n=2i 2")
    h.wait_until(lambda: up() == 0, timeout=15, interval=0.1)
    h.check(up() == 0 and time.time() - t0 < 8, "a hung backend is down within 8 s, before its "
            "write times out (%.1f s)" % (time.time() - t0))
    a.resume()
    h.wait_until(lambda: a.count("live") == 2, timeout=40)
    h.check_eq(a.count("live"), 2, "after the hang the point written meanwhile arrives")


def test_corrupt_record_counted():
    a = h.Influxd("a").start()
    a.create_db(DB)
    # Nothing listens at first, so the records wait in the log for the damage.
    down = {"backend": [{"name": "a", "url": "http://127.0.0.1:%d" % h.free_port(),
                         "retry-max-delay": "500ms"}]}
    r = h.Relay(config=down).start()
    for body in ("before n=1i 1\n", "marker,tag=CORRUPTME n=2i 2\n", "after n=3i 3\n"):
        st, _, _ = r.write(DB, body)
        h.check_eq(st, 204, "write %r: 204" % body.split()[0])
    r.stop()
    path = os.path.join(r.data_dir, "data.mdb")
    with open(path, "rb") as f:
        data = bytearray(f.read())
    at = [m.start() for m in re.finditer(b"CORRUPTME", data)]
    h.check(at, "the marker is in data.mdb")
    for i in at:
        data[i:i + 9] = b"CORRUPTED"
    with open(path, "wb") as f:
        f.write(data)
    r.write_config({"backend": [{"name": "a", "url": a.url, "retry-max-delay": "500ms"}]})
    r.start()
    h.check(h.wait_until(lambda: a.count(DB, "after") == 1, timeout=20),
            "the record after the damaged one arrives")
    h.check_eq((a.count(DB, "before"), a.count(DB, "marker")), (1, 0),
               "the one before arrives, the damaged one is never sent")
    h.check_eq(r.metric("influx_wal_backend_corrupt_records_total", backend="a"), 1,
               "influx_wal_backend_corrupt_records_total counts the skipped record")
    h.check(r.grep_log(r"event=record_corrupt backend=a .*action=skipped"),
            "and the relay logged it")


if __name__ == "__main__":
    h.run([test_outage, test_liveness_default_backoff, test_corrupt_record_counted,
           test_packaged_rules_and_dashboard])
