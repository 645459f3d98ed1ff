#!/usr/bin/python3
"""influx-wal scrub against two real influxd 1.6.7:

  - an equal pair (written through the relay, float/integer/string/boolean fields): exit 0;
  - points written straight to B: exit 1, the window named with both figures; --repair copies
    them from B (the superset) to A; a second scrub exits 0;
  - an hour deleted on A (DELETE sent to A): found, repaired from B;
  - both sides holding different points in one window: --repair refuses, naming it;
  - --json parsed; backends by --url NAME=URL and by --config (with credentials);
  - in flight: B stopped, points in the relay's log for B: their windows are in flight, not
    differences, and the scrub exits 0.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

DB = "db"
HOUR = 3600 * 10**9


def scrub(r, a, b, *args):
    return r.run_cli("scrub", "--backend", "a", "--backend", "b", "--url", "a=" + a.url,
                     "--url", "b=" + b.url, *args)


def test_scrub():
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    for x in (a, b):
        x.create_db(DB)
    r = h.Relay(backends={"a": a, "b": b}).start()
    base = (int(time.time()) // 3600 - 5) * HOUR  # five whole hours ago
    lines = []
    for hr in range(3):
        for i in range(20):
            t = base + hr * HOUR + i * 10**9
            lines.append('m,host=h%d f=%d.5,i=%di,s="v %d",b=%s %d' % (i % 3, i, i, i, "true" if i % 2 else "false", t))
    st, _, body = r.write(DB, "\n".join(lines) + "\n")
    h.check_eq(st, 204, "the relay takes the points", body)
    h.check(h.wait_until(lambda: a.count(DB, "m", "f") == 60 and b.count(DB, "m", "f") == 60, timeout=30),
            "both backends have the 60 points")
    h.check(h.wait_until(lambda: r.run_cli("status", "--json")[0] == 0 and
                         all(x["lag_records"] == 0 for x in r.cli_json("status", "--json")["backends"]),
                         timeout=20), "both caught up")

    rc, out, err = scrub(r, a, b)
    h.check(rc == 0 and "3 windows, 0 differ" in out and "the backends agree" in out,
            "an equal pair: exit 0, no difference", rc, out, err)
    h.check("event=scrub_measurement" in err, "not a terminal: logfmt progress lines", err)

    # Points straight to B in hour 1 (all four field types): that window differs.
    t1 = base + HOUR + 30 * 10**9
    b.write(DB, 'm,host=x f=100.25,i=7i,s="direct",b=true %d\n' % t1)
    rc, out, err = scrub(r, a, b)
    hour1 = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((base + HOUR) // 10**9))
    h.check(rc == 1 and ("differs db=db rp=autogen measurement=m hour=%s field=f type=float "
                         "a_count=20 a_sum=200 b_count=21 b_sum=300.25" % hour1) in out,
            "a direct write to B: the window named with both figures", rc, out, err)
    for f, t, fig in (("i", "integer", "a_count=20 a_sum=190 b_count=21 b_sum=197"),
                      ("s", "string", "a_count=20 b_count=21"), ("b", "boolean", "a_count=20 b_count=21")):
        h.check("hour=%s field=%s type=%s %s\n" % (hour1, f, t, fig) in out,
                "the %s field differs too" % t, out)
    h.check(" 1 differ" in out, "one window differs", out)

    rc, out, err = scrub(r, a, b, "--json")
    doc = json.loads(out)
    d = doc["differences"]
    h.check(rc == 1 and len(d) == 1 and d[0]["hour"] == base + HOUR and not doc["agree"],
            "--json: one difference, at that hour", rc, out)
    fs = {x["field"]: x for x in d[0]["fields"]}
    h.check(fs["f"]["a"] == {"count": 20, "sum": 200} and fs["f"]["b"] == {"count": 21, "sum": 300.25}
            and fs["i"]["b"]["sum"] == 197 and fs["s"]["b"] == {"count": 21}, "--json: the figures", fs)

    rc, out, err = scrub(r, a, b, "--repair")
    h.check(rc == 0 and "from=b to=a points=1 fixed" in out, "--repair: B is the superset, A gets the point",
            rc, out, err)
    h.check_eq(a.values(DB, "SELECT s, i, b FROM m WHERE host='x'"),
               [{"time": t1, "s": "direct", "i": 7, "b": True, "_measurement": "m"}],
               "A holds the point with its types")
    rc, out, err = scrub(r, a, b)
    h.check(rc == 0 and " 0 differ" in out, "after the repair a second scrub exits 0", rc, out, err)

    # An hour deleted on A.
    a.query("DELETE FROM m WHERE time >= %d AND time < %d" % (base + 2 * HOUR, base + 3 * HOUR), db=DB)
    rc, out, err = scrub(r, a, b)
    hour2 = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((base + 2 * HOUR) // 10**9))
    h.check(rc == 1 and "hour=%s field=f type=float a_count=0 b_count=20" % hour2 in out,
            "a window deleted on A is found", rc, out, err)
    rc, out, err = scrub(r, a, b, "--repair")
    h.check(rc == 0 and "hour=%s from=b to=a points=20 fixed" % hour2 in out, "and repaired", rc, out, err)
    h.check_eq(a.count(DB, "m", "s"), 61, "A has every point again")

    # Different points on each side in hour 0 (the same count: the sums tell): refused, naming it.
    t0 = base + 40 * 10**9
    a.write(DB, "m,host=only_a f=1 %d\n" % t0)
    b.write(DB, "m,host=only_b f=2 %d\n" % t0)
    rc, out, err = scrub(r, a, b, "--repair")
    hour0 = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base // 10**9))
    h.check(rc == 1 and "refused db=db rp=autogen measurement=m hour=%s: neither side is a superset" % hour0 in out
            and " 1 refused" in out, "neither side a superset: refused, named", rc, out, err)
    rc, out, err = scrub(r, a, b, "--repair", "--json")
    doc = json.loads(out)
    h.check(rc == 1 and [x["repair"] for x in doc["differences"]] == ["refused"], "--json says refused", out)
    a.query("DELETE FROM m WHERE host='only_a'", db=DB)
    b.query("DELETE FROM m WHERE host='only_b'", db=DB)

    # --config: backends a and b by name, with credentials (influxd without auth takes them).
    cfg = os.path.join(h.tmpdir("scrubcfg"), "relay.toml")
    with open(cfg, "w") as f:
        f.write(h.to_toml({"backend": [
            {"name": "a", "url": a.url, "username": "u", "password": "p"},
            {"name": "b", "url": b.url + "/"}]}))
    rc, out, err = r.run_cli("scrub", "--backend", "a", "--backend", "b", "--config", cfg)
    h.check(rc == 0 and " 0 differ" in out, "--config resolution", rc, out, err)
    rc, out, err = r.run_cli("scrub", "--backend", "a", "--backend", "c", "--config", cfg)
    h.check(rc == 1 and "no backend 'c' in %s and no --url c=..." % cfg in err, "an unknown name: exit 1, one line",
            rc, err)
    rc, out, err = r.run_cli("scrub", "--backend", "a", "--backend", "b", "--config", cfg,
                             "--url", "b=ftp://x")
    h.check(rc == 2, "a bad --url: usage", rc, err)
    rc, out, err = r.run_cli("scrub", "--backend", "a")
    h.check(rc == 2, "one --backend: usage", rc, err)

    # In flight: B stopped, points for it in the relay's log.
    b.stop()
    t5 = base + 4 * HOUR
    st, _, body = r.write(DB, "m,host=late f=1,i=1i,s=\"x\",b=true %d\nn,host=late v=1 %d\n" % (t5, t5))
    h.check_eq(st, 204, "the relay takes points while B is down", body)
    h.check(h.wait_until(lambda: a.count(DB, "m", "f") == 62, timeout=20), "A has them")
    # A's cursor is committed after A's 204: wait for it, or the scrub sees A's window in flight too.
    h.check(h.wait_until(lambda: [x["lag_records"] for x in r.cli_json("status", "--json")["backends"]
                                  if x["name"] == "a"] == [0], timeout=20), "A has acknowledged them")
    # The scrub needs B up: pause the relay (SIGSTOP) so the record stays in its log for B.
    r.pause()
    b.restart()
    rc, out, err = scrub(r, a, b)
    hour4 = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t5 // 10**9))
    h.check(rc == 1 and "in-flight db=db rp=autogen measurement=m hour=%s not_acknowledged_by=b" % hour4 in out
            and "2 in flight" in out and " 0 differ" in out,
            "the windows B has not acknowledged are in flight, not differences", rc, out, err)
    h.check("schema measurement db=db measurement=n only_on=a" in out,
            "a measurement on one side only is a schema difference", out)
    r.resume()
    h.check(h.wait_until(lambda: b.count(DB, "n", "v") == 1, timeout=30), "B gets them once the relay runs")
    h.check(h.wait_until(lambda: all(x["lag_records"] == 0 for x in r.cli_json("status", "--json")["backends"]),
                         timeout=20), "caught up")
    rc, out, err = scrub(r, a, b)
    h.check(rc == 0 and "0 in flight" in out and " 0 differ" in out, "then they agree", rc, out, err)


if __name__ == "__main__":
    h.run([test_scrub])
