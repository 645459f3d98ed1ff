#!/usr/bin/python3
"""influx-wal audit on names and lines that need care, against a real influxd 1.6.7:

  - measurements and field keys with escapes (\\, \\space \\= \\"), which influxd stores
    unescaped, tags with escaped commas, spaces and equals signs, the same series with its tags
    in another order, a point overwritten, a quoted newline in a string field, a field given
    twice in one line, a field named "time" (influxd drops it), names with < > & (influxd's
    JSON escapes them as \\u003c...) and non-ASCII names: the audit matches, every line read;
  - influxd's /query answers it reads are chunked and hold JSON escapes (so both are exercised);
  - --url accepted and refused as replay's --to (the same check, with the same reason);
  - DROP SERIES of the escaped series on the backend: exactly that window differs, by the two
    points deleted, naming its fields as influxd does; after the suggested replay it matches.
"""

import os
import re
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

DB = "db"


def cursor(r, name):
    st = r.cli_json("status", "--json")
    return [b for b in st["backends"] if b["name"] == name][0]["cursor"]


def test_audit_escapes():
    a = h.Influxd("a").start()
    a.create_db(DB)
    r = h.Relay(config={"wal": {"retain": "1h"},
                        "backend": [{"name": "a", "url": a.url, "retry-max-delay": "1s"}]}).start()
    t = (int(time.time()) - 60) * 1000000000
    lines = [
        'm\\=x\\"y,t=1 f=1 %d' % t,
        'q\\,r\\ s,t\\ k=v\\,1,u=w\\=z a\\"b=1,c\\=d=2,e\\,f=3,g\\ h=4,i\\\\j=5 %d' % t,
        'q\\,r\\ s,u=w\\=z,t\\ k=v\\,1 a\\"b=1 %d' % (t + 1),
        'q\\,r\\ s,u=w\\=z,t\\ k=v\\,1 a\\"b=7 %d' % (t + 1),  # overwrites the line before
        'nl,t=1 s="x\ny",v=1i %d' % t,
        'html,t=<&> lt<gt>&amp=1 %d' % t,
        'dup v=1,v=2 %d' % t,
        'tf time=1,v=2 %d' % t,
        'uni\u00e9 \u00e9t\u00e9=1 %d' % t,
    ]
    st, _, body = r.write(DB, "\n".join(lines) + "\n")
    h.check_eq(st, 204, "the relay takes the lines", body)
    h.check(h.wait_until(lambda: cursor(r, "a") == 1, timeout=20), "A acknowledged the record")

    # What audit reads: influxd's own answer to the query it sends for the escaped series.
    q = 'SELECT count(*) FROM "q,r s" WHERE time >= 0 GROUP BY time(1h)'
    status, headers, raw = h.request(
        "POST", a.url + "/query", body=urllib.parse.urlencode({"q": q, "db": DB, "epoch": "ns"}),
        headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30.0)
    headers = {k.lower(): v for k, v in headers.items()}
    h.check(status == 200 and headers.get("transfer-encoding") == "chunked",
            "influxd answers /query chunked", status, headers)
    h.check(b'"count_a\\"b"' in raw and b'"count_i\\\\\\\\j"' in raw,
            "influxd's answer escapes quotes and backslashes in names", raw[:400])
    doc = a.query('SELECT count(*) FROM "html"', db=DB)
    status, _, raw = h.request("GET", a.url + "/query?" + urllib.parse.urlencode(
        {"q": 'SELECT count(*) FROM "html"', "db": DB}), timeout=30.0)
    h.check(b"count_lt\\u003cgt\\u003e\\u0026amp" in raw, "and writes < > & as \\u escapes", raw)
    h.check_eq(doc["results"][0]["series"][0]["columns"][1], "count_lt<gt>&amp",
               "which stand for the field's name")

    rc, out, err = r.run_cli("audit", "--backend", "a", "--url", a.url)
    win = re.search(r"^windows (\d+): (\d+) match, (\d+) differ", out, re.M)
    h.check(rc == 0 and win and win.group(1) == win.group(2) == "7" and win.group(3) == "0",
            "audit: all 7 windows (one per measurement) match", out, err)
    h.check(re.search(r"^audit of backend a at .*: 1 records \(sequences 1\.\.1\) it acknowledged, "
                      r"%d lines$" % len(lines), out, re.M), "audit: every line read", out)
    h.check("could not be read" not in out, "audit: no line left unread", out)
    h.check(re.search(r"counted once here: 1 such lines$", out, re.M),
            "audit: the overwritten point counted once", out)

    # Delete the escaped series (2 points) on A: that window, and only it, differs.
    a.query("DROP SERIES FROM \"q,r s\" WHERE \"t k\" = 'v,1'", db=DB)
    rc, out, err = r.run_cli("audit", "--backend", "a", "--url", a.url)
    diffs = re.findall(r"^differs db=db rp= measurement=(.*) hour=\S+ log=(\d+) backend=(\d+) "
                       r"missing=(\d+) fields=(.*) sequences=1\.\.1$", out, re.M)
    h.check_eq((rc, diffs), (1, [("q,r s", "2", "0", "2", 'a"b,c=d,e,f,g h,i\\\\j')]),
               "audit after DROP SERIES: the one window, short by its 2 points, fields named as "
               "influxd names them", out, err)
    resend = re.findall(r"^resend: influx-wal replay (.*)$", out, re.M)
    h.check_eq(len(resend), 1, "audit: one replay suggested", out)
    for line in resend:
        rc, o, e = r.run_cli("replay", *line.split())
        h.check_eq(rc, 0, "the suggested replay runs", o, e)
    rc, out, err = r.run_cli("audit", "--backend", "a", "--url", a.url + "/")
    h.check(rc == 0 and " 7 match, 0 differ" in out, "audit after the replay (URL with a trailing "
            "slash): matches again", out, err)
    h.check_eq(a.count(DB, "q,r s", 'a"b'), 2, "the escaped series is back on A")

    # --url is checked as replay checks --to (audit prints replay lines with it).
    for url in ("HTTP://127.0.0.1:1", "http://127.0.0.1:1/", "ftp://x", "http://", "http://h:99999", "http://h?db=x",
                "http://a b"):
        rc, _, err = r.run_cli("audit", "--backend", "a", "--url", url)
        rc2, _, err2 = r.run_cli("replay", "--backend", "a", "--to", url, "--dry-run")
        # Taken: replay's dry run succeeds, audit gets as far as the query (port 1: exit 1).
        taken = (rc2 == 0 and rc == 1 and "querying" in err)
        refused = (rc == rc2 == 2 and err.splitlines()[0].replace("audit: --url", "X") ==
                   err2.splitlines()[0].replace("replay: --to", "X"))
        h.check(taken or refused, "audit --url %r: as replay --to takes it" % url, rc, err, rc2,
                err2)


if __name__ == "__main__":
    h.run([test_audit_escapes])
