#!/usr/bin/python3
"""A package upgrade keeps the operator's log: a log written by 0.1 (tests/fixtures/log-0.1,
format 1, four records of backlog for backends a and b) opens with this build, reads back as
0.1 read it, and drains into two real influxd exactly once; without shards it stays format 1."""

import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

FIXTURE = os.path.join(h.ROOT, "tests", "fixtures", "log-0.1")
BASE = 1700000000


def test_log_upgrade():
    data = os.path.join(h.tmpdir("upgrade"), "data")
    os.makedirs(data)
    shutil.copy(os.path.join(FIXTURE, "data.mdb"), data)
    with open(os.path.join(FIXTURE, "cat-0.1.lp")) as f:
        want_cat = f.read()

    rc, out, err = h.run_cli("verify", data_dir=data)
    h.check_eq((rc, out.strip()), (0, "ok: 4 records (sequences 1..4), 2 cursors, 0 dead letters, 0 problems"),
               "verify: the 0.1 log is sound", err)
    rc, out, err = h.run_cli("cat", data_dir=data)
    h.check(rc == 0 and out == want_cat, "cat prints what 0.1's cat printed", rc, err)
    h.check_eq(len(out.splitlines()), 95, "95 lines in the 0.1 log")
    h.check_eq(meta_format(data), 1, "the fixture is format 1")
    st = json.loads(h.run_cli("status", "--json", data_dir=data)[1])
    h.check_eq([(b["name"], b["cursor"], b["lag_records"]) for b in st["backends"]],
               [("a", 0, 4), ("b", 0, 4)], "status: both cursors at 0, four records of lag")

    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    for x in (a, b):  # 0.1 had no statement records: the operator made the databases
        x.create_db("fix")
        x.create_db("fix2")
    r = h.Relay(backends=[a, b], data_dir=data).start()
    want = {("fix", "cpu", "n"): 50, ("fix", "mem", "free"): 20, ("fix", "disk", "used"): 10,
            ("fix2", "net", "rx"): 15}
    for x in (a, b):
        for (db, m, f), n in want.items():
            h.check(h.wait_until(lambda: x.count(db, m, f) == n, timeout=30),
                    "%s has the %d %s points of the 0.1 log" % (x.name, n, m), x.count(db, m, f))
        h.check_eq(x.values("fix", "SELECT sum(n) FROM cpu")[0]["sum"], sum(range(50)), "%s: cpu values" % x.name)
        h.check_eq(x.values("fix", "SELECT free FROM mem LIMIT 1")[0]["time"], (BASE + 100) * 10**9,
                   "%s: a precision=s point at its second" % x.name)
        h.check_eq(x.values("fix", "SELECT label FROM disk WHERE path='/d1' LIMIT 1")[0]["label"], "x y",
                   "%s: the string field" % x.name)
        h.check_eq(x.values("fix2", "SELECT last(rx) FROM net")[0]["last"], 14, "%s: the gzip CRLF body" % x.name)
    h.check(h.wait_until(lambda: all(y["lag_records"] == 0 for y in r.cli_json("status", "--json")["backends"]),
                         timeout=20), "both cursors past the 0.1 records")
    # A write after the upgrade goes through as usual, into the same log.
    st, _, body = r.write("fix", "cpu,host=new n=99i %d\n" % ((BASE + 999) * 10**9))
    h.check_eq(st, 204, "a new write into the upgraded log", body)
    for x in (a, b):
        h.check(h.wait_until(lambda: x.count("fix", "cpu", "n") == 51, timeout=20), "%s has it" % x.name)
    r.stop()
    rc, out, err = h.run_cli("verify", data_dir=data)
    h.check(rc == 0 and out.startswith("ok: ") and out.strip().endswith(" 0 problems"), "verify after the upgrade", rc, out, err)
    h.check_eq(meta_format(data), 1, "without shards the log stays format 1 (0.1 can still open it)")


def test_log_upgrade_to_shards():
    """The same 0.1 log opened by a daemon with two shards: its records have no shard parts, so
    they are every shard's (both get all 95 points); the log is then marked format 2."""
    data = os.path.join(h.tmpdir("upgrade_shards"), "data")
    os.makedirs(data)
    shutil.copy(os.path.join(FIXTURE, "data.mdb"), data)
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    for x in (a, b):
        x.create_db("fix")
        x.create_db("fix2")
    r = h.Relay(backends=[a, b], data_dir=data, args=["--shard", "s1=a", "--shard", "s2=b"]).start()
    for x in (a, b):
        h.check(h.wait_until(lambda: x.count("fix", "cpu", "n") == 50 and x.count("fix2", "net", "rx") == 15,
                             timeout=30), "%s (a shard of its own) has every 0.1 record" % x.name)
    r.stop()
    h.check_eq(meta_format(data), 2, "a daemon with shards marks the log format 2")


def meta_format(data):
    """The log's format version, read with Debian's mdb_dump (lmdb-utils) from the meta table."""
    rc, out, err = h.run_cmd(["mdb_dump", "-p", "-s", "meta", data])
    lines = out.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line == " format":
            raw = lines[i + 1].strip()
            b = bytearray()
            j = 0
            while j < len(raw):
                if raw[j] == "\\" and raw[j + 1] != "\\":
                    b.append(int(raw[j + 1:j + 3], 16))
                    j += 3
                elif raw[j] == "\\":
                    b.append(0x5c)
                    j += 2
                else:
                    b.append(ord(raw[j]))
                    j += 1
            return int.from_bytes(bytes(b), "little")
    return None

if __name__ == "__main__":
    h.run([test_log_upgrade, test_log_upgrade_to_shards])
