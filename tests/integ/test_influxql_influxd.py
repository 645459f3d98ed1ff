#!/usr/bin/python3
"""Compare relay/influxql.c's classifier with a real influxd 1.6.7.

Builds relay/influxql*.c (with common/buf.c, xalloc.c, log.c, err.c) into a throwaway shared
object and calls it through ctypes. Against one influxd (tests/integ/harness.py's Influxd):
- every statement we call UNKNOWN is one influxd answers with "error parsing query", and every
  statement we classify otherwise is one it parses (its answer, if an error, is not a parse error);
- READ statements change nothing (databases, retention policies, users, CQs, measurements and
  point counts are the same before and after);
- a multi-statement query splits where influxd splits it (one result per non-empty piece);
- the now() rewrite: DELETE and SELECT ... WHERE time < now() - 1h rewritten with the time taken
  just before give the same answer as the original, and a rewrite with a commit time in the
  past deletes exactly the range that time implies.
"""

import ctypes
import glob
import json
import os
import subprocess
import time
import urllib.parse

import harness as h

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KINDS = ["empty", "read", "write", "select-into", "per-server", "unknown"]
F_NOW = 4
HOUR = 3600 * 10**9


class Stmt(ctypes.Structure):
    _fields_ = [("off", ctypes.c_size_t), ("len", ctypes.c_size_t),
                ("text_off", ctypes.c_size_t), ("text_len", ctypes.c_size_t),
                ("kind", ctypes.c_int), ("flags", ctypes.c_uint), ("name", ctypes.c_char_p)]


class Buf(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_size_t), ("cap", ctypes.c_size_t)]


class Iql:
    def __init__(self):
        d = h.tmpdir("iql")
        so = os.path.join(d, "libiql.so")
        iql_src = sorted(os.path.relpath(f, ROOT)
                         for f in glob.glob(os.path.join(ROOT, "relay", "influxql*.c")))
        cmd = ["cc", "-std=c11", "-D_GNU_SOURCE", "-O1", "-fPIC", "-shared", "-I.",
               *iql_src, "common/buf.c", "common/xalloc.c", "common/log.c",
               "common/err.c", "common/clock.c", "-o", so]
        subprocess.run(cmd, cwd=ROOT, check=True, timeout=180)
        self.lib = ctypes.CDLL(so)
        self.lib.iql_split.restype = ctypes.c_size_t
        self.lib.iql_split.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(Stmt),
                                       ctypes.c_size_t]
        self.lib.iql_rewrite_now.restype = ctypes.c_size_t
        self.lib.iql_rewrite_now.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int64,
                                             ctypes.POINTER(Buf)]
        self.lib.buf_deinit.argtypes = [ctypes.POINTER(Buf)]

    def split(self, q):
        b = q.encode()
        out = (Stmt * 64)()
        n = self.lib.iql_split(b, len(b), out, 64)
        return [(KINDS[out[i].kind], out[i].flags, b[out[i].text_off:out[i].text_off + out[i].text_len].decode())
                for i in range(min(n, 64))]

    def kind(self, q):
        s = self.split(q)
        return s[0][0] if s else "empty"

    def rewrite(self, q, now_ns):
        b = q.encode()
        buf = Buf()
        n = self.lib.iql_rewrite_now(b, len(b), now_ns, ctypes.byref(buf))
        out = ctypes.string_at(buf.data, buf.len).decode() if buf.len else ""
        self.lib.buf_deinit(ctypes.byref(buf))
        return n, out


def raw_query(d, q, db="db"):
    status, _, body = h.request("POST", d.url + "/query", body=urllib.parse.urlencode(
        [("q", q), ("db", db), ("epoch", "ns")]),
        headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    try:
        doc = json.loads(body.decode("utf-8", "replace") or "{}")
    except ValueError:
        doc = {"error": "non-JSON: %r" % body[:200]}
    return status, doc


def parse_error(doc):
    return "error parsing query" in doc.get("error", "")


def state(d):
    """What a statement could change, as text."""
    qs = ["SHOW DATABASES", "SHOW RETENTION POLICIES ON db", "SHOW USERS",
          "SHOW CONTINUOUS QUERIES", "SHOW MEASUREMENTS ON db", "SELECT count(*) FROM db..m",
          "SELECT count(*) FROM db..m2", "SHOW SUBSCRIPTIONS"]
    return [json.dumps(raw_query(d, q)[1], sort_keys=True) for q in qs]


# Statements influxd must refuse to parse exactly when we say UNKNOWN.
CASES = [
    "SELECT * FROM m", "select v from \"m\" where time > now() - 1h", "SELECT * FROM /m.*/",
    "SELECT * FROM m WHERE t =~ /a;b/", "SHOW DATABASES", "SHOW MEASUREMENTS", "SHOW QUERIES",
    "SHOW SERIES", "SHOW TAG KEYS", "SHOW TAG VALUES WITH KEY = t", "SHOW FIELD KEYS",
    "SHOW USERS", "SHOW SHARDS", "SHOW SHARD GROUPS", "SHOW STATS", "SHOW DIAGNOSTICS",
    "SHOW RETENTION POLICIES ON db", "SHOW CONTINUOUS QUERIES", "SHOW SUBSCRIPTIONS",
    "SHOW MEASUREMENT CARDINALITY", "SHOW SERIES CARDINALITY", "SHOW TAG KEY CARDINALITY",
    "SHOW FIELD KEY CARDINALITY", "SHOW GRANTS FOR nobody", "EXPLAIN SELECT * FROM m",
    "-- c\nSELECT * FROM m", "/* c */ SHOW DATABASES",
    # unknown
    "FOO", "SELEC * FROM m", "CREATE DATABASE", "CREATE DATABASE a b", "DROP DATABASE 'x'",
    "CREATE DATABASE x WITH", "CREATE DATABASE x WITH NAME r DURATION 1d",
    "CREATE RETENTION POLICY r ON db DURATION 1x REPLICATION 1",
    "CREATE RETENTION POLICY r ON db DURATION 1h REPLICATION 0",
    "CREATE RETENTION POLICY r ON db DURATION 1h REPLICATION 1 SHARD DURATION INF",
    "ALTER RETENTION POLICY autogen ON db", "ALTER RETENTION POLICY autogen ON db DURATION 1h DURATION 2h",
    "DROP SERIES", "DELETE", "DELETE FROM db.autogen.m", "DELETE FROM m WHERE",
    "DELETE FROM m WHERE t =~ 'x'", "DELETE FROM m WHERE time < now ()",
    "DELETE FROM /* c */ m", "DELETE FROM m WHERE d < 5us",
    "CREATE USER u WITH PASSWORD p", "SET PASSWORD FOR u 'x'", "GRANT READ TO u",
    "REVOKE ALL TO u", "DROP SHARD x", "KILL QUERY", "SELECT 'unterminated FROM m",
    "SELECT * FROM m WHERE t = 'a\\q'", "SELECT * FROM /unterminated", "SELECT ! FROM m",
    "SELECT \u00e9 FROM m", "SELECT * INTO FROM m", "SELECT /* c */ v FROM m",
    "CREATE CONTINUOUS QUERY c ON db BEGIN SELECT mean(v) FROM m GROUP BY time(1h) END",
    "DROP DATABASE a DROP DATABASE b",
    # logged and per-server statements that parse (influxd may still refuse to run them)
    "DROP SHARD 999999", "KILL QUERY 999999", "DELETE FROM nosuch WHERE time < now( ) - 1h",
    "DELETE FROM nosuch WHERE time < now() - 1h", "DELETE FROM m WHERE d < 5\u00b5",
    "DROP SERIES FROM nosuch WHERE t = 'a'", "DROP MEASUREMENT nosuch",
    "CREATE DATABASE scratch WITH DURATION 1d REPLICATION 1 SHARD DURATION 1h NAME r1",
    "CREATE RETENTION POLICY r2 ON scratch DURATION 2d REPLICATION 1 SHARD DURATION 1h DEFAULT",
    "ALTER RETENTION POLICY r2 ON scratch DURATION 3d", "DROP RETENTION POLICY r2 ON scratch",
    "CREATE CONTINUOUS QUERY cq1 ON scratch BEGIN SELECT mean(v) INTO m9 FROM m GROUP BY time(1h) END",
    "DROP CONTINUOUS QUERY cq1 ON scratch", "CREATE USER u1 WITH PASSWORD 'p;w'",
    "GRANT READ ON scratch TO u1", "REVOKE READ ON scratch FROM u1", "SET PASSWORD FOR u1 = 'x'",
    "DROP USER u1", "DROP DATABASE scratch",
]


def test_kinds():
    iql = Iql()
    d = h.Influxd("iqld").start()
    d.create_db("db")
    d.write("db", "m,t=a v=1 1\nm,t=b v=2 2\n")
    for q in CASES:
        kind = iql.kind(q)
        before = state(d) if kind == "read" else None
        status, doc = raw_query(d, q)
        perr = parse_error(doc)
        # Reads are classified by their first keywords only: influxd may refuse a malformed one
        # (its answer goes back to the client); every other verdict must match influxd's.
        h.check((kind == "unknown") == perr or (kind == "read" and perr),
                "%s: we say %s, influxd %s" % (q.replace("\n", "\\n"), kind,
                                               "cannot parse it" if perr else "parses it"),
                "influxd: %d %s" % (status, json.dumps(doc)[:300]))
        if before is not None:
            h.check_eq(state(d), before, "%s changed nothing" % q.replace("\n", "\\n"))


def test_split():
    iql = Iql()
    d = h.Influxd("iqls").start()
    d.create_db("db")
    d.write("db", "m,t=a v=1 1\n")
    for q in ["SELECT * FROM m; SHOW DATABASES", "SELECT * FROM m WHERE t = 'a;b'; SHOW USERS;",
              "SELECT * FROM \"m;x\"; SHOW USERS", "SELECT * FROM /m;x/; SHOW USERS",
              "SELECT * FROM m -- ;\n; SHOW USERS", ";;SHOW USERS;;", "SHOW USERS /* ; */ ; SHOW USERS"]:
        pieces = [p for p in iql.split(q) if p[0] != "empty"]
        status, doc = raw_query(d, q)
        h.check(status == 200 and len(doc.get("results", [])) == len(pieces),
                "%r: %d statements, as influxd" % (q, len(pieces)), json.dumps(doc)[:300])


def count(d, db):
    r = d.query("SELECT count(v) FROM m", db=db)["results"][0]
    return r["series"][0]["values"][0][1] if r.get("series") else 0


def test_now_rewrite():
    iql = Iql()
    d = h.Influxd("iqln").start()
    now = time.time_ns()
    lines = "".join("m v=%d %d\n" % (k, now - k * HOUR // 2) for k in range(0, 12))  # 0..5.5 h ago
    for db in ("orig", "rewr", "past"):
        d.create_db(db)
        d.write(db, lines)
    # SELECT: the same count now.
    sel = "SELECT count(v) FROM m WHERE time < now() - 1h"
    t0 = time.time_ns()
    n, sel2 = iql.rewrite(sel, t0)
    h.check(n == 1 and "now()" not in sel2, "the SELECT is rewritten: %s" % sel2)
    a = d.query(sel, db="orig")["results"][0]["series"][0]["values"][0][1]
    b = d.query(sel2, db="orig")["results"][0]["series"][0]["values"][0][1]
    h.check_eq(b, a, "rewritten SELECT counts what the original counts (%d)" % a)
    # DELETE: the same points go.
    dele = "DELETE FROM m WHERE time < now() - 1h"
    t0 = time.time_ns()
    n, dele2 = iql.rewrite(dele, t0)
    h.check(n == 1 and "now()" not in dele2, "the DELETE is rewritten: %s" % dele2)
    d.query(dele, db="orig")
    d.query(dele2, db="rewr")
    h.check_eq(count(d, "rewr"), count(d, "orig"), "rewritten DELETE leaves what the original leaves")
    rows = lambda db: d.query("SELECT v FROM m", db=db)["results"][0]["series"][0]["values"]
    h.check_eq(rows("rewr"), rows("orig"), "... the very same points")
    # A commit time 2 h ago: everything older than 3 h goes, as now() would have then.
    n, dele3 = iql.rewrite("DELETE FROM m WHERE time < now() - 1h", now - 2 * HOUR)
    d.query(dele3, db="past")
    want = sum(1 for k in range(12) if now - k * HOUR // 2 >= now - 3 * HOUR)
    h.check_eq(count(d, "past"), want, "a commit time in the past deletes that time's range")
    # Uppercase, quoted and two calls in one statement.
    n, q = iql.rewrite('SELECT count(v) FROM m WHERE time > NOW() - 10h AND time < "now"()', t0)
    h.check(n == 2 and d.query(q, db="past")["results"][0].get("series") is not None,
            "NOW() and \"now\"() are both rewritten and influxd runs the result: %s" % q)


if __name__ == "__main__":
    h.run([test_kinds, test_split, test_now_rewrite])
