#!/usr/bin/python3
"""influx-wal, every subcommand, on a live relay with two real influxd (A up, B down at first),
counted exactly:

  - status (text and --json): bounds, cursors, lag in records and bytes of what was written
    while B was down;
  - cat (--from/--to, --backend, --headers): the right records and every acknowledged point;
  - export -> `influx -import` into a fresh influxd: every point;
  - replay --to a fresh influxd (B's backlog, then a range): every point, B's cursor unchanged;
    --dry-run's figures; refused lines on stderr and exit 1; --timeout; an unknown backend;
  - rewind (--to and --since) and skip (refused without --yes) while the daemon runs: B gets the
    rewound records again, a skipped range never reaches it;
  - dead list/requeue/purge after a field type conflict on B;
  - verify: 0 on the live log; 1 naming the record on a copy with bytes flipped in its body;
  - audit: matching, then windows listed after DROP SERIES / DELETE on A, then matching again
    after running the replay it suggests;
  - compact --output: the copy opens and verifies;
  - bad arguments (2 and a usage line), an unknown command (2, the valid ones listed), a
    missing data dir (1, one line), a data.mdb of garbage (1, one line, no crash);
  - replay takes the daemon's backend options: the built-in defaults (a 1.6 MB record is one
    batch: batches go up to 4 MiB, as in the daemon, not 1 MiB), or with --config FILE the
    backend's own (batch-max-points = 40: at least 2500 / 40 batches);
  - a --relay URL with user:password@ (reshard, rebuild): the error line names the relay without
    them, when the relay is down and when it refuses.
"""

import json
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

DB = "db"
L1_REQUESTS = 30
PPR = 100
COMMANDS = "status cat export replay rewind skip dead verify audit compact scrub rebuild reshard"

S = {}  # what the tests share: influxd A and B, the relay, the first load


def human(b):
    """show.c's human_bytes."""
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    v, u = float(b), 0
    while v >= 1024 and u < 4:
        v /= 1024
        u += 1
    return "%d B" % b if u == 0 else "%.1f %s" % (v, units[u])


def rfc3339(t):
    secs = int(t)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + ".%09dZ" % int((t - secs) * 1e9)


def cli(*args, **kw):
    return S["r"].run_cli(*args, **kw)


def status():
    return S["r"].cli_json("status", "--json")


def backend(st, name):
    return [b for b in st["backends"] if b["name"] == name][0]


def cursor(name):
    return backend(status(), name)["cursor"]


def n_values(text):
    return [int(m) for m in re.findall(r"\bn=(\d+)i", text)]


def reqs_of(text):
    return sorted(set(re.findall(r"\breq=(\d+)", text)))


def setup():
    a = h.Influxd("a").start().keep()
    b = h.Influxd("b").start().keep()
    a.create_db(DB)
    b.create_db(DB)
    b.stop()  # B is down from the start: it has the database when it comes back
    config = {
        "wal": {"retain": "1h"},  # acknowledged records stay: audit, rewind and verify see them
        "backend": [{"name": "a", "url": a.url, "retry-max-delay": "1s"},
                    {"name": "b", "url": b.url, "retry-max-delay": "1s"}],
    }
    r = h.Relay(config=config).start().keep()
    load = h.Load(r.url, DB, points_per_request=PPR, requests=L1_REQUESTS, concurrency=3).run()
    h.check_eq(load.statuses.get(204), L1_REQUESTS, "every write of the first load answered 204",
               load.summary())
    h.check(h.wait_until(lambda: a.points_total(DB) == load.acked_total, timeout=30),
            "A has the first load's %d points" % load.acked_total)
    S.update(a=a, b=b, r=r, l1=load, total=load.acked_total)
    h.check(h.wait_until(lambda: cursor("a") == L1_REQUESTS, timeout=10),
            "A's cursor reaches the head")


def test_status():
    st = status()
    N = L1_REQUESTS
    w = st["wal"]
    h.check_eq((w["first_sequence"], w["last_sequence"], w["records"], w["dead_letters"]),
               (1, N, N, 0), "status --json: one record per write, none dead")
    a, b = backend(st, "a"), backend(st, "b")
    h.check_eq((a["cursor"], a["lag_records"], a["lag_bytes"]), (N, 0, 0),
               "status --json: A caught up")
    h.check_eq((b["cursor"], b["lag_records"]), (0, N),
               "status --json: B's cursor at 0, lag = the %d records written while it was down" % N)
    h.check(b["lag_bytes"] > N * PPR * 20 and b["lag_seconds"] > 0,
            "status --json: B's lag in bytes and seconds", b)
    S["lag_bytes"] = b["lag_bytes"]
    rc, out, err = cli("status")
    lines = out.splitlines()
    h.check_eq(rc, 0, "status: exit 0", err)
    h.check_eq(lines[0], "log " + S["r"].data_dir, "status: the directory")
    h.check_eq(lines[1:3], ["  records   %d (sequences 1..%d)" % (N, N), "  highest   %d" % N],
               "status: records and highest sequence")
    h.check_eq(lines[4:7], ["  dropped   0 records (drop-oldest)", "  dead      0 letters",
                            "backends    2"], "status: dropped, dead, backends")
    h.check_eq(lines[7], "  a                cursor %d  lag 0 records, 0 B, 0.0 s  dead 0" % N,
               "status: A's line")
    want = r"^  b                cursor 0  lag %d records, %s, \d+\.\d s  dead 0$" % (
        N, re.escape(human(S["lag_bytes"])))
    h.check(re.match(want, lines[8]), "status: B's line", lines[8], want)


def test_cat():
    rc, out, err = cli("cat", "--from", 2, "--to", 3, "--headers")
    heads = [l for l in out.splitlines() if l.startswith("#")]
    body = [l for l in out.splitlines() if not l.startswith("#")]
    h.check(rc == 0 and len(heads) == 2 and all(
        re.match(r"^# seq=%d db=db rp= points=100 received=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$"
                 % s, l) for s, l in zip((2, 3), heads)), "cat --from 2 --to 3 --headers: two headers",
            out[:500], err)
    h.check_eq(len(body), 2 * PPR, "cat --from 2 --to 3: their 200 lines")
    rc, out, err = cli("cat", "--backend", "b")
    h.check_eq((rc, sorted(n_values(out))), (0, sorted(S["l1"].acked_n())),
               "cat --backend b: B's backlog is every acknowledged point, once")
    rc, out, err = cli("cat", "--backend", "a")
    h.check_eq((rc, out), (0, ""), "cat --backend a: nothing (A is caught up)")
    rc, out, err = cli("cat", "--backend", "nope")
    h.check_eq((rc, err), (1, "influx-wal cat: no backend 'nope' in this log\n"),
               "cat --backend nope: exit 1, one line")


def test_export():
    path = os.path.join(h.tmpdir("export"), "b.lp")
    rc, out, err = cli("export", "--backend", "b", "--output", path)
    h.check_eq((rc, err), (0, "exported %d records, %d points to %s\n" % (
        L1_REQUESTS, S["total"], path)), "export --backend b: every record")
    e = h.Influxd("e").start()
    rc, out, err = e.influx_cli("-import", "-path", path, "-precision", "ns")
    h.check_eq(rc, 0, "influx -import reads the export", out[-500:], err[-500:])
    h.check_eq(e.points_total(DB), S["total"], "influx -import: the fresh influxd has every point")
    h.check_eq(sorted(e.field_values(DB)), sorted(S["l1"].acked_n()),
               "influx -import: exactly the acknowledged points")


def test_replay():
    N, total = L1_REQUESTS, S["total"]
    t = h.Influxd("t").start()
    rc, out, err = cli("replay", "--backend", "b", "--to", t.url, "--dry-run")
    h.check_eq((rc, out), (0, "dry run: would send sequences 1..%d for backend b to %s\n"
                              "  db=db rp= records=%d points=%d bytes=%d\n"
                              "total records=%d points=%d bytes=%d\n" % (
                                  N, t.url, N, total, S["lag_bytes"], N, total, S["lag_bytes"])),
               "replay --dry-run: records, points and bytes (= B's lag in bytes)", err)
    h.check_eq(t.databases(), ["_internal"] if "_internal" in t.databases() else [],
               "replay --dry-run sends nothing")
    rc, out, err = cli("replay", "--backend", "b", "--to", t.url)
    h.check(rc == 0 and re.match(r"^sent %d records, %d points in \d+ batches to %s "
                                 r"\(sequences 1\.\.%d of backend b\)\n$" % (
                                     N, total, re.escape(t.url), N), out),
            "replay --backend b: B's backlog sent", out, err)
    h.check_eq(t.points_total(DB), total, "replay: the fresh influxd has every point (database created)")
    h.check_eq(sorted(t.field_values(DB)), sorted(S["l1"].acked_n()), "replay: exactly those points")
    b = backend(status(), "b")
    h.check_eq((b["cursor"], b["lag_records"]), (0, N), "replay: B's cursor is untouched")

    t.drop_db(DB)
    rc, out, err = cli("replay", "--backend", "b", "--to", t.url, "--from", 3, "--to-seq", 5)
    h.check_eq((rc, t.points_total(DB)), (0, 3 * PPR), "replay --from 3 --to-seq 5: 3 records", out, err)
    h.check(out.startswith("sent 3 records, 300 points in "), "replay of a range: its summary", out)

    # Lines the target refuses: shown on stderr, counted, exit 1; nothing stored in the log.
    t.drop_db(DB)
    t.create_db(DB)
    t.write(DB, 'load n="text" %d\n' % int(S["l1"].t_base * 1e9))
    rc, out, err = cli("replay", "--backend", "b", "--to", t.url, "--from", 1, "--to-seq", 1)
    h.check(rc == 1 and "refused seq=1 db=db rp= answer=\"400 " in err and "field type conflict" in err
            and err.rstrip().endswith("influx-wal replay: 100 lines refused (shown above), 0 corrupt records skipped"),
            "replay: refused lines on stderr with the answer, exit 1", out, err[-600:])
    h.check_eq(status()["wal"]["dead_letters"], 0, "replay: no dead letter written to the log")

    rc, out, err = cli("replay", "--backend", "nope", "--to", t.url)
    h.check_eq((rc, err), (1, "influx-wal replay: no backend 'nope' in this log (give --from to send "
                              "a range anyway)\n"), "replay --backend nope: exit 1, one line")
    dead = "http://127.0.0.1:%d" % h.free_port()
    rc, out, err = cli("replay", "--backend", "b", "--to", dead, "--timeout", 1)
    h.check(rc == 1 and re.search(r"timed out after 1 s: acknowledged through sequence 0 of %d; "
                                  r"last error: .*curl 7" % N, err),
            "replay --timeout 1 to a closed port: exit 1 with the last error", out, err)


def test_rewind_skip():
    a, b, r, total = S["a"], S["b"], S["r"], S["total"]
    N = L1_REQUESTS
    b.restart()
    h.check(h.wait_until(lambda: b.points_total(DB) == total and cursor("b") == N, timeout=30),
            "B is back and catches up (%d points)" % total)

    # rewind --to: delete the last five records' points on B; the rewind brings them back.
    rc, out, err = cli("cat", "--from", N - 4, "--to", N)
    reqs = reqs_of(out)
    for q in reqs:
        b.query("DROP SERIES FROM \"load\" WHERE \"req\" = '%s'" % q, db=DB)
    h.check_eq(b.points_total(DB), total - 5 * PPR, "rewind: five records' points deleted on B")
    rc, out, err = cli("rewind", "--backend", "b", "--to", N - 5)
    h.check_eq((rc, out), (0, "b: cursor %d -> %d\n" % (N, N - 5)), "rewind --to: the cursor moves", err)
    h.check(h.wait_until(lambda: b.points_total(DB) == total and cursor("b") == N, timeout=20),
            "rewind --to: the daemon notices and B gets those records again",
            b.points_total(DB), r.log_tail(5))

    # rewind --since: a second load after a mark; its points deleted on B come back.
    time.sleep(0.05)
    mark = time.time()
    time.sleep(0.05)
    l2 = h.Load(r.url, DB, points_per_request=PPR, requests=5, concurrency=1).run()
    total += l2.acked_total
    h.check(h.wait_until(lambda: b.points_total(DB) == total and cursor("b") == N + 5, timeout=20),
            "second load reaches B")
    b.query("DROP SERIES FROM \"load\" WHERE \"run\" = '%s'" % l2.run_id, db=DB)
    h.check_eq(b.points_total(DB), total - 5 * PPR, "rewind --since: the second load deleted on B")
    rc, out, err = cli("rewind", "--backend", "b", "--since", rfc3339(mark))
    h.check_eq((rc, out), (0, "b: cursor %d -> %d\n" % (N + 5, N)),
               "rewind --since: back to before the first record received since the mark", err)
    h.check(h.wait_until(lambda: b.points_total(DB) == total and cursor("b") == N + 5, timeout=20),
            "rewind --since: B gets them again")

    # skip: B down, a third load, its records skipped for B.
    b.stop()
    l3 = h.Load(r.url, DB, points_per_request=PPR, requests=3, concurrency=1).run()
    h.check(h.wait_until(lambda: a.points_total(DB) == total + l3.acked_total, timeout=20),
            "third load reaches A")
    rc, out, err = cli("skip", "--backend", "b", "--to", N + 8)
    h.check_eq((rc, err), (2, "influx-wal skip: skipping means backend b never gets records %d..%d; "
                              "add --yes to do it\nusage: influx-wal skip --backend NAME --to SEQ --yes\n"
                              % (N + 6, N + 8)), "skip without --yes: exit 2 and a usage line")
    rc, out, err = cli("skip", "--backend", "b", "--to", N + 4, "--yes")
    h.check_eq((rc, err), (1, "influx-wal skip: --to %d is behind the cursor %d: use rewind\n" % (N + 4, N + 5)),
               "skip backwards: exit 1, one line")
    h.check_eq(cursor("b"), N + 5, "skip without --yes: the cursor stays")
    rc, out, err = cli("skip", "--backend", "b", "--to", N + 8, "--yes")
    h.check_eq((rc, out), (0, "b: cursor %d -> %d\n" % (N + 5, N + 8)), "skip --yes: the cursor moves", err)
    b.restart()
    l4 = h.Load(r.url, DB, points_per_request=PPR, requests=1, concurrency=1).run()
    h.check(h.wait_until(lambda: cursor("b") == N + 9, timeout=20), "B back: its cursor passes the next write")
    h.check(h.wait_until(lambda: b.points_total(DB) == total + l4.acked_total, timeout=10),
            "skip: B gets the write after the skipped range")
    h.check_eq(b.count(DB, where="\"run\" = '%s'" % l3.run_id), 0, "skip: the skipped range never reached B")
    S["total"] = total + l3.acked_total + l4.acked_total
    S["b_total"] = total + l4.acked_total


def test_dead():
    a, b, r = S["a"], S["b"], S["r"]
    ts = int(time.time() * 1e9) - 10**9
    b.write(DB, 'conf v="text" %d\n' % ts)  # v is a string on B only
    st, _, body = r.write(DB, "conf,k=1 v=1i %d\nfine,k=1 v=1i %d\n" % (ts + 1, ts + 1))
    h.check_eq(st, 204, "a write with a line B will refuse is accepted", body)
    seq = status()["wal"]["last_sequence"]
    h.check(h.wait_until(lambda: backend(status(), "b")["dead_letters"] == 1
                         and cursor("b") == seq, timeout=20), "B's refused line is a dead letter")
    h.check_eq((a.count(DB, "conf", "v"), b.count(DB, "fine", "v")), (1, 1),
               "A has both lines, B the one it accepts")
    rc, out, err = cli("dead", "list")
    h.check(rc == 0 and err == "1 dead letters\n" and re.match(
        r'^backend=b id=1 seq=%d time=\S+Z db=db rp= points=1 answer="400 \{\\"error\\":\\"partial write: '
        r'field type conflict: .*\\"\} ?"\n$' % seq, out), "dead list: the refused line and B's answer", out, err)
    rc, out, err = cli("dead", "list", "--backend", "b", "--lines")
    h.check(out.endswith("conf,k=1 v=1i %d\n" % (ts + 1)), "dead list --lines: the line itself", out)
    rc, out, err = cli("dead", "purge")
    h.check(rc == 2 and "add --yes" in err and "usage: influx-wal dead" in err,
            "dead purge without --yes: exit 2 and a usage line", err)

    # Requeue while the conflict is still there: refused again, a new dead letter.
    rc, out, err = cli("dead", "requeue", "--backend", "b")
    h.check_eq((rc, out), (0, "requeued 1 dead letters of b\n"), "dead requeue", err)
    h.check(h.wait_until(lambda: backend(status(), "b")["dead_letters"] == 1
                         and cursor("b") == seq + 1, timeout=20), "requeued line refused again")
    rc, out, err = cli("cat", "--from", seq + 1, "--headers")
    h.check(re.match(r"^# seq=%d db=db rp= points=1 received=\S+ only=b\nconf,k=1 v=1i %d\n$" % (
        seq + 1, ts + 1), out), "the requeued record is for b only", out)
    rc, out, err = cli("cat", "--backend", "a", "--from", seq + 1)
    h.check_eq(out, "", "cat --backend a leaves out a record requeued for b")

    # Fixed on B: the requeued line arrives.
    b.query('DROP MEASUREMENT "conf"', db=DB)
    rc, out, err = cli("dead", "requeue")
    h.check_eq((rc, out), (0, "requeued 1 dead letters\n"), "dead requeue after fixing B", err)
    h.check(h.wait_until(lambda: b.count(DB, "conf", "v") == 1, timeout=20),
            "B gets the requeued line")
    h.check(h.wait_until(lambda: backend(status(), "b")["dead_letters"] == 0, timeout=10),
            "no dead letter left")

    # Purge.
    b.write(DB, 'conf2 v="text" %d\n' % ts)
    r.write(DB, "conf2,k=1 v=1i %d\n" % (ts + 1))
    h.check(h.wait_until(lambda: backend(status(), "b")["dead_letters"] == 1, timeout=20),
            "another refused line")
    rc, out, err = cli("dead", "purge", "--backend", "b", "--yes")
    h.check_eq((rc, out), (0, "purged 1 dead letters of b\n"), "dead purge --yes", err)
    rc, out, err = cli("dead", "list")
    h.check_eq((rc, out, err), (0, "", "0 dead letters\n"), "dead list: empty after the purge")
    S["b_total_extra"] = 2  # "fine" and the requeued "conf" on B (not "load")


def test_audit():
    a, r = S["a"], S["r"]
    rc, out, err = cli("audit", "--backend", "a", "--url", a.url)
    h.check(rc == 0 and re.search(r"^windows (\d+): \1 match, 0 differ", out, re.M),
            "audit: A matches the log", out, err)
    h.check("compared: per database, retention policy, measurement and hour" in out and
            "same series and timestamp" in out, "audit says what it compares and about overwrites", out)

    # Delete two requests' points on A, one with DROP SERIES, one with DELETE. Every Load numbers
    # its requests from 0 and the first load's concurrent requests can commit out of order, so
    # records 7 and 8 may hold a req that a later load also has: name the first load's run too.
    rc, out, err = cli("cat", "--from", 7, "--to", 8)
    q1, q2 = reqs_of(out)
    run1 = "\"run\" = '%s'" % S["l1"].run_id
    a.query("DROP SERIES FROM \"load\" WHERE \"req\" = '%s' AND %s" % (q1, run1), db=DB)
    a.query("DELETE FROM \"load\" WHERE \"req\" = '%s' AND %s" % (q2, run1), db=DB)
    rc, out, err = cli("audit", "--backend", "a", "--url", a.url)
    diffs = re.findall(r"^differs db=db rp= measurement=load hour=\S+ log=\d+ backend=\d+ missing=(\d+) "
                       r"fields=n,v sequences=(\d+)\.\.(\d+)$", out, re.M)
    h.check(rc == 1 and diffs, "audit after deleting points on A: exit 1, windows listed", out, err)
    h.check_eq(sum(int(m) for m, _, _ in diffs), 2 * PPR, "audit: the missing points add up to the 200 deleted",
               out)
    h.check(all(int(lo) <= 7 and int(hi) >= 8 for _, lo, hi in diffs),
            "audit: each window's sequences include the records deleted", diffs)
    resend = re.findall(r"^resend: influx-wal replay (.*)$", out, re.M)
    h.check(resend, "audit: suggests the replay", out)
    for line in resend:
        rc, o, e = cli("replay", *line.split())
        h.check_eq(rc, 0, "the suggested replay runs", o, e)
    rc, out, err = cli("audit", "--backend", "a", "--url", a.url, "--since", "3h")
    h.check(rc == 0 and " 0 differ" in out, "audit after the replay: A matches again", out, err)
    h.check_eq(a.points_total(DB), S["total"], "A has every point again")

    rc, out, err = cli("audit", "--backend", "a", "--url", "http://127.0.0.1:%d" % h.free_port())
    h.check(rc == 1 and err.startswith("influx-wal audit: querying http://") and err.count("\n") == 1,
            "audit against a closed port: exit 1, one line", err)


def test_verify_compact():
    r = S["r"]
    st = status()
    w = st["wal"]
    rc, out, err = cli("verify")
    h.check_eq((rc, out), (0, "ok: %d records (sequences %d..%d), 2 cursors, 0 dead letters, 0 problems\n"
                              % (w["records"], w["first_sequence"], w["last_sequence"])),
               "verify: healthy", err)

    # A record with a marker, then a copy of the data dir with the marker's bytes flipped.
    st_, _, _ = r.write(DB, "marker,tag=CORRUPTME v=1i\n")
    seq = status()["wal"]["last_sequence"]
    h.check(h.wait_until(lambda: cursor("a") == seq and cursor("b") == seq, timeout=20),
            "the marker record is acknowledged")
    copy = h.tmpdir("corrupt")
    with open(os.path.join(r.data_dir, "data.mdb"), "rb") as f:
        data = bytearray(f.read())
    at = [m.start() for m in re.finditer(b"CORRUPTME", data)]
    for i in at:
        data[i:i + 9] = b"CORRUPTED"
    with open(os.path.join(copy, "data.mdb"), "wb") as f:
        f.write(data)
    h.check(at, "the marker is in data.mdb")
    rc, out, err = h.run_cli("verify", data_dir=copy)
    h.check(rc == 1 and "problem: record %d: checksum or framing mismatch" % seq in out
            and "FAILED" in out, "verify on the damaged copy: exit 1, naming the record", out, err)
    rc, out, err = h.run_cli("cat", "--from", seq, "--to", seq, data_dir=copy)
    h.check_eq((rc, out, err), (0, "", "influx-wal cat: record %d is corrupt: skipped\n" % seq),
               "cat skips the corrupt record and says so")

    dest = os.path.join(h.tmpdir("compact"), "copy")
    rc, out, err = cli("compact", "--output", dest)
    h.check(rc == 0 and re.match(r"^compacted %s \(\d+ bytes\) into %s \(\d+ bytes\)\n$" % (
        re.escape(r.data_dir), re.escape(dest)), out), "compact --output", out, err)
    w = status()["wal"]
    rc, out, err = h.run_cli("verify", data_dir=dest)
    h.check_eq((rc, out), (0, "ok: %d records (sequences %d..%d), 2 cursors, 0 dead letters, 0 problems\n"
                              % (w["records"], w["first_sequence"], w["last_sequence"])),
               "the compacted copy opens and verifies", err)
    rc, out, err = h.run_cli("status", "--json", data_dir=dest)
    h.check_eq([(x["name"], x["cursor"]) for x in json.loads(out)["backends"]],
               [(x["name"], x["cursor"]) for x in status()["backends"]], "the copy has the same cursors")
    rc, out, err = cli("compact", "--output", dest)
    h.check_eq((rc, err), (1, "influx-wal compact: %s already holds a log: choose an empty directory\n"
                              % dest), "compact into a used directory: exit 1, one line")


def test_bad_args():
    rc, out, err = h.run_cli()
    h.check(rc == 2 and err.startswith("usage: influx-wal COMMAND"), "no command: exit 2 and usage", err)
    rc, out, err = h.run_cli("frobnicate")
    h.check_eq((rc, err), (2, "influx-wal: unknown command 'frobnicate'; valid commands: %s\n" % COMMANDS),
               "unknown command: exit 2, the valid ones listed")
    d = S["r"].data_dir
    for args, msg in [
        (("status", "--bogus"), "unknown option --bogus"),
        (("cat", "--from", "x"), "--from: 'x' is not a sequence number"),
        (("cat", "--from", 5, "--to", 4), "--from 5 is after --to 4"),
        (("replay", "--backend", "b"), "--backend and --to are required"),
        (("replay", "--backend", "b", "--to", "ftp://x"), "--to: 'ftp://x' is not an http:// or https:// URL"),
        (("replay", "--backend", "b", "--to", "http://x", "--from", 9, "--to-seq", 3), "--from 9 is after --to-seq 3"),
        (("replay", "--backend", "b", "--to", "http://x", "--timeout", 0), "--timeout: 1 to 2592000 seconds"),
        (("rewind", "--backend", "b"), "give --to or --since (one of them)"),
        (("audit", "--backend", "a"), "--backend and --url are required"),
        (("audit", "--backend", "a", "--url", "http://x", "--since", "yesterday"),
         "--since: 'yesterday' is not a time (RFC 3339 UTC, a duration ago like 2h, or Unix ns)"),
        (("dead", "frob"), "say list, requeue or purge"),
        (("compact",), "--output is required"),
    ]:
        rc, out, err = h.run_cli(*args, data_dir=d)
        lines = err.splitlines()
        h.check(rc == 2 and len(lines) == 2 and lines[0] == "influx-wal %s: %s" % (args[0], msg)
                and lines[1].startswith("usage: influx-wal %s " % args[0]) or
                (rc == 2 and lines == ["influx-wal %s: %s" % (args[0], msg), "usage: influx-wal %s" % args[0]]),
                "%s: exit 2, the reason and a usage line" % " ".join(str(x) for x in args), rc, err)
    rc, out, err = h.run_cli("replay", "--help")
    h.check(rc == 0 and out.startswith("usage: influx-wal replay --backend NAME --to URL") and "--dry-run" in out,
            "replay --help", out)
    rc, out, err = h.run_cli("audit", "--help")
    h.check(rc == 0 and "same series and timestamp" in out, "audit --help explains overwritten points", out)

    missing = os.path.join(h.tmpdir("missing"), "nothing-here")
    for cmd in ("status", "verify", "cat"):
        rc, out, err = h.run_cli(cmd, data_dir=missing)
        h.check_eq((rc, err), (1, "influx-wal %s: no log in %s (is --data-dir right?)\n" % (cmd, missing)),
                   "%s on a missing data dir: exit 1, one line" % cmd)
    garbage = h.tmpdir("garbage")
    with open(os.path.join(garbage, "data.mdb"), "wb") as f:
        f.write(os.urandom(256 * 1024))
    for cmd in (("status",), ("verify",), ("cat",), ("replay", "--backend", "b", "--to", "http://127.0.0.1:1"),
                ("audit", "--backend", "b", "--url", "http://127.0.0.1:1")):
        rc, out, err = h.run_cli(*cmd, data_dir=garbage)
        h.check_eq((rc, out, err), (1, "", "influx-wal %s: %s/data.mdb is not a log or is damaged beyond "
                                           "opening\n" % (cmd[0], garbage)),
                   "%s on a data.mdb of garbage: exit 1, one line, no crash" % cmd[0])


def test_replay_options():
    dead = "http://127.0.0.1:%d" % h.free_port()
    config = {"backend": [{"name": "x", "url": dead, "retry-max-delay": "1s",
                           "batch-max-points": 40}]}
    r = h.Relay(config=config).start()
    t_ns = int(time.time()) * 10**9
    pad = "p" * 780
    big = "".join('opt,k=big n=%di,pad="%s" %d\n' % (i, pad, t_ns + i) for i in range(2000))
    h.check(1024 * 1024 < len(big) < 2 * 1024 * 1024, "the big write is between 1 and 2 MiB", len(big))
    bodies = [big] + ["".join("opt,k=s%d n=%di %d\n" % (j, 10000 + 100 * j + i, t_ns + i)
                              for i in range(100)) for j in range(5)]
    for body in bodies:
        status, _, answer = r.write(DB, body)
        h.check_eq(status, 204, "a write to the relay whose backend is down is acknowledged", answer)
    t = h.Influxd("opt").start()

    def sent(out):
        m = re.match(r"^sent (\d+) records, (\d+) points in (\d+) batches to ", out)
        return tuple(int(x) for x in m.groups()) if m else None

    rc, out, err = r.run_cli("replay", "--backend", "x", "--to", t.url, "--from", 1, "--to-seq", 1)
    h.check_eq((rc, sent(out)), (0, (1, 2000, 1)),
               "replay without --config: the 1.6 MB record goes in one batch (the daemon's 4 MiB "
               "default, not 1 MiB)", out, err)
    h.check_eq(t.points_total(DB), 2000, "replay without --config: every point of it")

    t.drop_db(DB)
    rc, out, err = r.run_cli("replay", "--backend", "x", "--to", t.url)
    got = sent(out)
    h.check(rc == 0 and got is not None and got[:2] == (6, 2500) and got[2] <= 6,
            "replay without --config: 6 records in at most 6 batches", out, err)
    h.check_eq(t.points_total(DB), 2500, "replay without --config: every point")

    t.drop_db(DB)
    rc, out, err = r.run_cli("replay", "--backend", "x", "--to", t.url, "--config", r.config_path)
    got = sent(out)
    h.check(rc == 0 and got is not None and got[:2] == (6, 2500) and got[2] >= 2500 // 40 + 1,
            "replay --config: backend x's batch-max-points = 40 makes at least %d batches"
            % (2500 // 40 + 1), out, err)
    h.check_eq(t.points_total(DB), 2500, "replay --config: every point")

    rc, out, err = r.run_cli("replay", "--backend", "y", "--to", t.url, "--config", r.config_path)
    h.check_eq((rc, err), (1, "influx-wal replay: no backend 'y' in %s\n" % r.config_path),
               "replay --config with a backend the file lacks: exit 1, one line")
    r.stop()
    t.stop()


def test_relay_url_password():
    """The password of a --relay URL is never printed: reshard and rebuild name a relay that is
    down, or that refuses, by its URL without user:password@."""
    d = h.tmpdir("relay-pw")
    path = os.path.join(d, "relay.toml")
    with open(path, "w") as f:
        f.write(h.to_toml({"backend": [{"name": "a", "url": S["a"].url}],
                           "shard": [{"name": "s1", "backends": ["a"]}]}))
    port = h.free_port()
    down = "http://admin:s3cret@127.0.0.1:%d" % port
    up = S["r"].url.replace("http://", "http://admin:s3cret@")
    h.check(up != S["r"].url, "the relay's URL with a password", up)
    rc, out, err = h.run_cli("reshard", "--plan", "--config", path, "--relay", down)
    h.check(rc == 1 and "relay http://127.0.0.1:%d is unreachable" % port in err
            and "s3cret" not in out + err and "admin" not in out + err,
            "reshard, relay down: exit 1, the relay named without its user:password@", rc, out, err)
    rc, out, err = h.run_cli("reshard", "--plan", "--config", path, "--relay", up)
    h.check(rc == 1 and "relay %s: GET /api/shards answered 404" % S["r"].url in err
            and "s3cret" not in out + err and "admin" not in out + err,
            "reshard, relay without [[shard]] refusing: exit 1, the relay named without its "
            "user:password@", rc, out, err)

    t = h.Influxd("pw").start()  # an empty target: rebuild tells the relays only after its checks
    try:
        for relay, want in ((down, "relay http://127.0.0.1:%d is unreachable" % port),
                            (up, "relay %s refused start of pw: 404" % S["r"].url)):
            rc, out, err = h.run_cli("rebuild", "--backend", "pw", "--from", "a", "--url",
                                     "a=" + S["a"].url, "--url", "pw=" + t.url, "--relay", relay,
                                     "--state-dir", os.path.join(d, "rebuild"),
                                     data_dir=S["r"].data_dir)
            h.check(rc == 1 and want in err and "s3cret" not in out + err
                    and "admin" not in out + err,
                    "rebuild, %s: exit 1, the relay named without its user:password@"
                    % ("relay down" if relay == down else "relay refusing"), rc, out, err)
    finally:
        t.stop()


if __name__ == "__main__":
    h.run([setup, test_status, test_cat, test_export, test_replay, test_rewind_skip, test_dead,
           test_audit, test_verify_compact, test_bad_args, test_replay_options,
           test_relay_url_password])
