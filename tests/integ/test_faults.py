"""Faults: nothing acknowledged is ever lost, nothing is stored twice, and the relay stays up.

Real influxd 1.6.7 processes on loopback everywhere; the only stand-in is tests/integ/faulty.py
(a throttling TCP proxy, and an HTTP proxy that answers 500 / loses answers) in front of a real
influxd, for faults a real server cannot produce on demand. Every check counts points in the
backends exactly, by the unique field n every Load point carries:

    acked (204)  <=  present  <=  sent,   no n twice,   present - acked  <=  unanswered

and points beyond the acknowledged ones come in whole requests (a record is all or nothing).

    /usr/bin/python3 tests/integ/test_faults.py [test_name ...]

Needs root for the tmpfs tests (mount -t tmpfs); without it they say so and are skipped."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness as h  # noqa: E402

FAULTY = os.path.join(HERE, "faulty.py")
PY = "/usr/bin/python3"
# x86_64 syscall numbers of the log's commit path: LMDB writes pages with pwrite and syncs with
# fdatasync (seen with strace); a thread stopped with one of these in /proc/PID/task/TID/syscall
# was stopped inside a commit.
COMMIT_SYSCALLS = {18: "pwrite64", 296: "pwritev", 328: "pwritev2", 74: "fsync", 75: "fdatasync",
                   26: "msync"}
# Backends retry fast and time out soon, so that faults and recoveries fit in a short test.
FAST = {"timeout": "3s", "connect-timeout": "500ms", "retry-max-delay": "500ms"}


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def backend(name, url, **kw):
    b = {"name": name, "url": url}
    b.update(FAST)
    b.update(kw)
    return b


def sent_n(load):
    """The n values of every request the load sent (requests are taken in index order)."""
    return set(range(load.n_base, load.n_base + load.requests_sent * load.ppr))


def amb_total(loads, db):
    return sum(l.ambiguous.get(db, 0) for l in loads)


def present_n(a, db, measurement="load"):
    return a.field_values(db, "n", measurement=measurement)


def wait_count(a, db, want, timeout=60.0, measurement="load"):
    """Count once it reached 'want' (or the deadline passed), then once more after it stopped
    moving, so that points beyond 'want' are seen too."""
    h.wait_until(lambda: a.count(db, measurement=measurement) >= want, timeout=timeout,
                 interval=0.2, errors_ok=True)
    last = -1
    for _ in range(20):
        got = a.count(db, measurement=measurement)
        if got == last:
            break
        last = got
        time.sleep(0.3)
    return last


def check_exact(a, db, loads, label, timeout=60.0, measurement="load"):
    """Every acknowledged point is in backend 'a' exactly once, nothing beyond what was sent,
    and at most what had no answer on top. Returns (acked, present)."""
    acked, sent, by_req = set(), set(), {}
    for l in loads:
        acked |= l.acked_n(db)
        sent |= sent_n(l)
        for r in range(l.requests_sent):
            base = l.n_base + r * l.ppr
            for n in range(base, base + l.ppr):
                by_req[n] = (id(l), r)
    amb = amb_total(loads, db)
    got = wait_count(a, db, len(acked), timeout=timeout, measurement=measurement)
    values = present_n(a, db, measurement)
    have = set(values)
    missing = acked - have
    beyond = have - sent
    extra = have - acked
    dupes = len(values) - len(have)
    # Points beyond the acknowledged ones must come in whole requests: a record is atomic.
    partial = 0
    reqs = {}
    for n in extra:
        if n in by_req:
            reqs.setdefault(by_req[n], 0)
            reqs[by_req[n]] += 1
    ppr = {id(l): l.ppr for l in loads}
    for (lid, _), c in reqs.items():
        partial += c != ppr[lid]
    h.check(not missing and not beyond and dupes == 0 and len(extra) <= amb and partial == 0
            and got == len(values),
            "%s: %d acknowledged, %d present (+%d of %d unanswered), none lost, none twice" % (
                label, len(acked), len(have), len(extra), amb),
            "missing %d (e.g. %s), beyond %d, duplicates %d, extra %d > unanswered %d?, partial "
            "requests %d" % (len(missing), sorted(missing)[:5], len(beyond), dupes, len(extra),
                             amb, partial), *[l.summary() for l in loads])
    return len(acked), len(have)


def thread_syscalls(pid):
    """{tid: syscall number or -1} of a (stopped) process, from /proc."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/syscall" % (pid, tid)) as f:
                first = f.read().split()
            out[int(tid)] = int(first[0]) if first and first[0].lstrip("-").isdigit() else -1
        except (OSError, ValueError):
            pass
    return out


def in_commit(pid):
    """Name of the commit syscall some thread of 'pid' is in, or None."""
    for nr in thread_syscalls(pid).values():
        if nr in COMMIT_SYSCALLS:
            return COMMIT_SYSCALLS[nr]
    return None


def verify(r, data_dir=None):
    rc, out, err = h.run_cli("verify", data_dir=data_dir or r.data_dir, timeout=60)
    return rc, (out + err).strip()


class Tmpfs:
    """mount -t tmpfs -o size=SIZE tmpfs DIR (root only); umount in close()."""

    def __init__(self, size):
        self.dir = h.tmpdir("tmpfs")
        self.mounted = False
        if os.geteuid() != 0:
            return
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "tmpfs",
                            self.dir], capture_output=True, timeout=30)
        self.mounted = p.returncode == 0
        self.err = p.stderr.decode(errors="replace")

    def free_bytes(self):
        st = os.statvfs(self.dir)
        return st.f_bavail * st.f_frsize

    def close(self):
        if self.mounted:
            p = subprocess.run(["umount", self.dir], capture_output=True, timeout=30)
            if p.returncode != 0:
                subprocess.run(["umount", "-l", self.dir], capture_output=True, timeout=30)
            self.mounted = False


def body_of(tag, n0, count, ts0):
    """'count' points of measurement 'disk' with n = n0.. and timestamps ts0.. (seconds)."""
    return "".join("disk,req=%s n=%di,pad=\"%s\" %d\n" % (tag, n0 + i, "x" * 40, ts0 + i)
                   for i in range(count)).encode()


def faulty(mode, target, *args):
    port = h.free_port()
    argv = [PY, FAULTY, mode, "--listen", str(port), "--target", target.url]
    argv += [str(a) for a in args]
    return h.Process(argv, name="faulty-%s-%d" % (mode, port), port=port).start()


def faulty_stats(p):
    st, _, body = h.get(p.url + "/__faulty/stats", timeout=10)
    return json.loads(body) if st == 200 else {}


def cursor_of(r, name):
    """(cursor, lag_records) of backend 'name' from `influx-wal status --json`."""
    doc = r.cli_json("status", "--json")
    for b in doc.get("backends", []):
        if b["name"] == name:
            return b["cursor"], b["lag_records"]
    return None, None


# ------------------------------------------------------------------------------------------
# crashes of the relay
# ------------------------------------------------------------------------------------------


def test_sigkill_loop():
    """10 rounds: concurrent load through the relay, SIGKILL at a random moment (every other
    round aimed inside a commit: stopped first, killed once a thread is in pwrite/fdatasync),
    restart on the same log. Every acknowledged point reaches
    the backend exactly once; the log verifies after every kill."""
    db = "kill"
    a = h.Influxd("a").start()
    a.create_db(db)
    r = h.Relay(config={"backend": [backend("a", a.url)]}).start()
    rng = random.Random()
    loads, in_commit_kills, verify_fail = [], [], []
    rounds = 10
    for i in range(rounds):
        if not r.alive():
            r.restart()
        load = h.Load(r.url, db, points_per_request=rng.choice((10, 50, 200)), requests=5000,
                      concurrency=4, deadline=6, timeout=5)
        load.start()
        time.sleep(rng.uniform(0.2, 1.5))
        where = None
        if i % 2 == 0:
            # Stop it first, to see (and report) where the kill lands; SIGKILL then ends it there.
            for _ in range(200):
                r.pause()
                where = in_commit(r.pid)
                if where:
                    break
                r.resume()
                time.sleep(rng.uniform(0.0, 0.01))
        load.stop()  # nothing new after the kill; what is in flight dies with the relay
        r.kill()
        load.join()
        loads.append(load)
        if where:
            in_commit_kills.append(where)
        rc, out = verify(r)
        if rc != 0:
            verify_fail.append((i, out[-300:]))
        h.diag("round %d: killed%s; %s" % (i + 1, " in " + where if where else "", load.summary()))
    h.check(not verify_fail, "influx-wal verify passes after each of the %d kills" % rounds,
            verify_fail)
    h.check(len(in_commit_kills) >= 1, "some kills landed inside a commit (%d: %s)" % (
        len(in_commit_kills), ", ".join(in_commit_kills)))
    r.restart()
    acked, have = check_exact(a, db, loads, "after %d SIGKILLs" % rounds, timeout=90)
    h.check(acked > 0, "the relay acknowledged writes between the kills (%d points)" % acked)
    h.diag("SIGKILL loop: %d rounds survived, %d points acknowledged, %d present" % (
        rounds, acked, have))
    lag = h.wait_until(lambda: cursor_of(r, "a")[1] == 0, timeout=30, errors_ok=True)
    h.check(lag, "the backend's cursor caught up to the end of the log", cursor_of(r, "a"))


def test_crash_image_mid_commit():
    """Power-loss-like: the relay is frozen (SIGSTOP) while a thread is inside the log's commit
    (pwrite/fdatasync of a large load), its directory copied as it is at that instant, then it
    is SIGKILLed. Both the copy (the crash image) and the original verify, a relay opens the
    copy, and every point acknowledged before the freeze is in the backend from the copy."""
    a = h.Influxd("a").start()
    rng = random.Random()
    landed = []
    for i in range(3):
        db = "crash%d" % i
        a.create_db(db)
        r = h.Relay(name="relay%d" % i, config={"backend": [backend("a", a.url)]}).start()
        load = h.Load(r.url, db, points_per_request=1000, requests=3000, concurrency=4,
                      deadline=20, timeout=3)
        load.start()
        time.sleep(rng.uniform(0.3, 0.8))
        where = None
        for _ in range(1000):
            r.pause()
            where = in_commit(r.pid)
            if where:
                break
            r.resume()
            time.sleep(rng.uniform(0.0, 0.005))
        landed.append(where)
        image = os.path.join(h.tmpdir("image%d" % i), "wal")
        shutil.copytree(r.data_dir, image)  # the files as the kernel has them at the freeze
        load.stop()
        r.kill()
        load.join()
        rc1, out1 = verify(r)
        rc2, out2 = verify(r, image)
        h.check(rc1 == 0 and rc2 == 0, "round %d (frozen in %s): the killed log and its crash "
                "image both verify" % (i + 1, where), out1, out2)
        r2 = h.Relay(name="image%d" % i, data_dir=image,
                     config={"backend": [backend("a", a.url)]}).start()
        h.check(r2.ping(), "round %d: a relay opens the crash image" % (i + 1))
        check_exact(a, db, [load], "round %d: from the crash image" % (i + 1))
        r2.stop()
    h.check(all(landed), "every freeze landed inside a commit: %s" % landed)


# ------------------------------------------------------------------------------------------
# a full disk
# ------------------------------------------------------------------------------------------


def fill_until_503(r, tag, n_base, ts0, per_req=1000, max_reqs=400):
    """Sequential writes of 'per_req' points until the first 503; returns (results, n_next),
    results = [(status, retry_after, n0, count)]."""
    out, n = [], n_base
    for q in range(max_reqs):
        try:
            st, hd, _ = r.write("disk", body_of(tag, n, per_req, ts0 + n), precision="s",
                                timeout=30)
        except OSError as e:
            out.append((None, str(e), n, per_req))
            break
        out.append((st, hd.get("retry-after"), n, per_req))
        n += per_req
        if st != 204:
            break
    return out, n


def check_disk_points(a, results, label):
    acked = set()
    refused = set()
    for st, _, n0, c in results:
        (acked if st == 204 else refused).update(range(n0, n0 + c))
    got = wait_count(a, "disk", len(acked), timeout=60, measurement="disk")
    values = a.field_values("disk", "n", measurement="disk")
    have = set(values)
    h.check(acked <= have and not (have & refused) and len(values) == len(have) and
            got == len(values),
            "%s: the %d acknowledged points arrived once each, none of the %d refused" % (
                label, len(acked), len(refused)),
            "missing %d, refused present %d, dupes %d" % (len(acked - have), len(have & refused),
                                                           len(values) - len(have)))


def relay_rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def test_disk_full():
    """The log on a 16 MiB tmpfs, no min-free reserve, the only backend frozen: writes fill the
    file system until ENOSPC. Each write then gets 503 with Retry-After; the daemon stays up (no
    crash, no SIGBUS); once the backend drains the log, writes are accepted again, and every
    acknowledged point arrives."""
    fs = Tmpfs("16m")
    if not fs.mounted:
        h.check(os.geteuid() != 0, "mount a tmpfs (root)", getattr(fs, "err", ""))
        h.diag("SKIP test_disk_full: needs root to mount a tmpfs")
        return
    r = None
    try:
        a = h.Influxd("a").start()
        a.create_db("disk")
        a.pause()
        r = h.Relay(data_dir=os.path.join(fs.dir, "wal"), config={
            "wal": {"min-free": 0, "max-size": "1GiB"},
            "backend": [backend("a", a.url)]}).start()
        ts0 = int(time.time()) - 86400
        res, n = fill_until_503(r, "full", 1, ts0)
        st, ra = res[-1][0], res[-1][1]
        h.check(st == 503 and ra, "writes fill the disk, then 503 with Retry-After (%d accepted, "
                "%d bytes free)" % (sum(1 for x in res if x[0] == 204), fs.free_bytes()),
                res[-3:], r.log_tail(10))
        more = []
        for q in range(10):
            more_res, n = fill_until_503(r, "more", n, ts0, per_req=200, max_reqs=1)
            more += more_res
        codes = sorted(set(x[0] for x in more))
        h.check(r.alive() and r.ping() and set(codes) <= {204, 503},
                "more writes on a full disk: only 503 or 204, the daemon answers /ping", codes,
                r.log_tail(10))
        time.sleep(0.2)
        rc = r.proc.returncode()
        h.check(rc is None, "no crash and no SIGBUS on ENOSPC (exit status %s)" % rc,
                r.log_tail(20))
        if rc is not None:
            a.resume()
            return
        status, health = r.health()
        h.check(isinstance(health, dict) and not health["wal"]["writable"],
                "/health says the log is not writable (%d)" % status, health)
        h.diag("relay VmRSS on a full disk: %d KiB" % relay_rss_kib(r.pid))
        a.resume()
        ok = h.wait_until(lambda: r.write("disk", body_of("after", 10**7, 10, ts0),
                                          precision="s")[0] == 204,
                          timeout=60, interval=0.5, errors_ok=True)
        h.check(ok and r.alive(), "writes are accepted again once the backend drained the log",
                r.log_tail(10))
        res.append((204 if ok else None, None, 10**7, 10))
        check_disk_points(a, res + more, "disk full")
        vrc, vout = verify(r)
        h.check_eq(vrc, 0, "the log on the once-full tmpfs verifies", vout)
    finally:
        if r is not None:
            r.stop()
        fs.close()


def test_min_free_reserve():
    """[wal] min-free: with 16 MiB of tmpfs and a 10 MiB reserve, writes are refused (503,
    Retry-After) while less than 10 MiB is free, before the disk is full; the daemon stays up;
    once the backend drained the log, the log's free pages take new writes again."""
    fs = Tmpfs("16m")
    if not fs.mounted:
        h.check(os.geteuid() != 0, "mount a tmpfs (root)", getattr(fs, "err", ""))
        h.diag("SKIP test_min_free_reserve: needs root to mount a tmpfs")
        return
    r = None
    try:
        a = h.Influxd("a").start()
        a.create_db("disk")
        a.pause()
        r = h.Relay(data_dir=os.path.join(fs.dir, "wal"), config={
            "wal": {"min-free": "10MiB"}, "backend": [backend("a", a.url)]}).start()
        ts0 = int(time.time()) - 86400
        res, n = fill_until_503(r, "res", 1, ts0, per_req=500)
        free = fs.free_bytes()
        h.check(res[-1][0] == 503 and res[-1][1] and free >= 9 * 2**20,
                "refused with 503 + Retry-After before the reserve is used (%d bytes free, "
                "%d writes accepted)" % (free, sum(1 for x in res if x[0] == 204)), res[-2:])
        h.check(r.grep_log("wal_disk_reserve_reached"), "the log says the reserve was reached")
        a.resume()
        ok = h.wait_until(lambda: r.write("disk", body_of("after", 10**7, 10, ts0),
                                          precision="s")[0] == 204,
                          timeout=30, interval=0.5, errors_ok=True)
        h.check(ok, "writes are accepted again once the backend drained the log (the file "
                "system is still as full: the log reuses its own free pages)",
                "free bytes now %d; log: %s" % (fs.free_bytes(), r.log_tail(5)))
        res.append((204 if ok else None, None, 10**7, 10))
        check_disk_points(a, res, "min-free")
    finally:
        if r is not None:
            r.stop()
        fs.close()

def small_disk(size, wal_cfg, label):
    """The log alone on a 'size' tmpfs, the only backend frozen: writes are accepted until at
    least 90% of the filesystem is used, then 503 + Retry-After naming the limit; the backend
    returns and drains the log; writes are accepted again; no acknowledged point is lost."""
    fs = Tmpfs(size)
    if not fs.mounted:
        h.check(os.geteuid() != 0, "mount a tmpfs (root)", getattr(fs, "err", ""))
        h.diag("SKIP %s: needs root to mount a tmpfs" % label)
        return
    r = None
    try:
        a = h.Influxd("a").start()
        a.create_db("disk")
        a.pause()
        cfg = {"backend": [backend("a", a.url)]}
        if wal_cfg:
            cfg["wal"] = wal_cfg
        r = h.Relay(data_dir=os.path.join(fs.dir, "wal"), config=cfg).start()
        st = os.statvfs(fs.dir)
        total = st.f_blocks * st.f_frsize
        warned = [x for x in r.log_records() if x.get("event") == "wal_limit_reduced"]
        h.check(len(warned) == 1, "%s: one warning at start: max-size and the reserve do not "
                "fit the filesystem" % label, r.log_tail(5))
        limit = r.metric("influx_wal_wal_limit_bytes")
        reserve = r.metric("influx_wal_wal_min_free_bytes")
        h.check(limit is not None and reserve is not None and 0 < reserve < total and
                limit == total - reserve,
                "%s: /metrics shows the limit in force, the filesystem less the reserve" % label,
                limit, reserve, total)
        ts0 = int(time.time()) - 86400
        res, n = fill_until_503(r, "small", 1, ts0, per_req=2000, max_reqs=2000)
        used = 1.0 - fs.free_bytes() / float(total)
        h.check(res[-1][0] == 503 and res[-1][1] and used >= 0.9,
                "%s: writes accepted until %.1f%% of the filesystem is used (>= 90%%), then 503 "
                "with Retry-After" % (label, 100 * used),
                res[-2:], r.log_tail(5))
        # The same size again (a small write may still fit under the limit, and is taken).
        st3, _, body = r.write("disk", body_of("more", n, 2000, ts0 + n), precision="s")
        res.append((st3, None, n, 2000))
        n += 2000
        names = {"max-size": b"max-size", "min-free": b"min-free", "filesystem": b"ENOSPC"}
        h.check(st3 == 503 and any(v in body for v in names.values()),
                "%s: the 503 body names the limit that was hit" % label, st3, body)
        status, health = r.health()
        limit_hit = health["wal"].get("full_limit") if isinstance(health, dict) else None
        h.check(status == 503 and limit_hit in names and
                any(names[limit_hit].decode() in x for x in health["reasons"]),
                "%s: /health says the log is not writable and which limit it hit" % label,
                health)
        by_limit = r.metric("influx_wal_wal_rejected_appends_by_limit_total", limit=limit_hit)
        h.check(by_limit is not None and by_limit >= 1,
                "%s: the refusals are counted under limit=%s in /metrics" % (label, limit_hit))
        h.check(r.grep_log("wal_refusing_writes"), "%s: the log line names the limit" % label,
                r.log_tail(5))
        a.resume()
        ok = h.wait_until(lambda: r.write("disk", body_of("after", 10**7, 10, ts0),
                                          precision="s")[0] == 204,
                          timeout=120, interval=0.5, errors_ok=True)
        h.check(ok and r.alive(), "%s: writes are accepted again once the backlog drained" % label,
                r.log_tail(10))
        res.append((204 if ok else None, None, 10**7, 10))
        check_disk_points(a, res, label)
    finally:
        if r is not None:
            r.stop()
        fs.close()


def test_small_disk_defaults():
    """Issue 14: a 48 MB filesystem with the default min-free and max-size."""
    small_disk("48m", None, "48 MB tmpfs, defaults")


def test_small_disk_reserve_too_large():
    """Issue 14: a filesystem smaller than the reserve set (64 MiB on 16 MiB)."""
    small_disk("16m", {"min-free": "64MiB"}, "16 MiB tmpfs, min-free 64MiB")


def test_one_daemon_per_log():
    """Issue 14: a second daemon on the same data dir refuses to start (exit 1, one line naming
    the directory and the PID holding it); the CLI works next to the daemon; after a SIGKILL
    of the first, a new daemon starts on the same log."""
    r = h.Relay().start()
    r2 = None
    try:
        st, _, _ = r.write("one", b"m v=1 1\n")
        h.check_eq(st, 204, "the first daemon takes a write")
        p = subprocess.run([h.relay_bin(), "--data-dir", r.data_dir, "--listen",
                            "%s:%d" % (h.LOOPBACK, h.free_port())],
                           capture_output=True, timeout=30)
        err = p.stderr.decode(errors="replace").strip()
        h.check(p.returncode == 1 and len(err.splitlines()) == 1 and r.data_dir in err and
                ("PID %d" % r.pid) in err,
                "a second daemon exits 1 with one line naming the directory and the PID",
                p.returncode, err)
        h.check(r.alive() and r.ping(), "the first daemon is unaffected")
        rc, out, cerr = h.run_cli("status", "--json", data_dir=r.data_dir)
        h.check_eq(rc, 0, "the CLI works next to the daemon", out, cerr)
        vrc, vout = verify(r)
        h.check_eq(vrc, 0, "influx-wal verify works next to the daemon", vout)
        data_dir = r.data_dir
        h.check_eq(r.kill(), -9, "SIGKILL the first daemon")
        r2 = h.Relay(data_dir=data_dir).start()
        h.check(r2.alive() and r2.ping(), "after the SIGKILL a new daemon starts on the log")
        h.check_eq(r2.metric("influx_wal_wal_last_sequence"), 1,
                   "and it has the record the first one committed")
    finally:
        r.stop()
        if r2 is not None:
            r2.stop()


# ------------------------------------------------------------------------------------------
# backends that fail
# ------------------------------------------------------------------------------------------


def test_backend_faults():
    """One relay, one load, six backends each failing its own way; each ends with exactly the
    acknowledged points, and the failing ones never hold the others back:
      refused   nothing listens on its port until influxd is started there late
      hang      influxd frozen with SIGSTOP during the load (connections complete, no answer)
      slow      a throttling TCP proxy (256 KiB/s, +20 ms per chunk) in front of influxd
      flap      influxd stopped / started / SIGKILLed in a loop during the load
      e500      an HTTP proxy answering the first 25 writes with 500 without passing them on
      lost      a proxy that stores the first 10 writes in influxd and answers 500 anyway, then
                holds 3 answers past the relay's timeout (influxd has the points, the relay
                resends: stamped timestamps make the resend overwrite itself)"""
    db = "faults"
    names = ("hang", "slow", "flap", "e500", "lost", "late")
    ix = {n: h.Influxd(n).start() for n in names}
    for x in ix.values():
        x.create_db(db)
    late_port = h.free_port()
    late_rpc = h.free_port()
    slow = faulty("tcp", ix["slow"], "--rate", 262144, "--delay-ms", 20)
    e500 = faulty("http", ix["e500"], "--fail-count", 25)
    lost = faulty("http", ix["lost"], "--fail-count", 10, "--fail-after-forward",
                  "--delay-count", 3, "--delay-ms", 4000)
    cfg = {"backend": [
        backend("refused", "http://127.0.0.1:%d" % late_port),
        backend("hang", ix["hang"].url, timeout="2s"),
        backend("slow", slow.url, timeout="20s", **{"batch-max-bytes": "256KiB"}),
        backend("flap", ix["flap"].url),
        backend("e500", e500.url),
        backend("lost", lost.url, timeout="2s"),
    ]}
    r = h.Relay(config=cfg).start()
    ix["hang"].pause()
    load = h.Load(r.url, db, points_per_request=50, requests=1200, concurrency=4, deadline=40,
                  interval=0.02)
    load.start()
    # The flapping backend: stopped, started, killed, for the length of the load.
    flaps = 0
    while not load.done() and flaps < 12:
        time.sleep(random.uniform(0.3, 0.8))
        if flaps % 3 == 2:
            ix["flap"].kill()
        else:
            ix["flap"].stop()
        time.sleep(random.uniform(0.2, 0.8))
        ix["flap"].restart()
        flaps += 1
    load.join()
    h.check(load.acked_total > 0 and sum(load.ambiguous.values()) == 0 and load.n503 == 0,
            "every write of the load acknowledged while backends fail (%d flaps)" % flaps,
            load.summary())
    acked = load.acked_total
    # While 'hang' is still frozen and 'refused' still absent, the others catch up.
    for n in ("flap", "e500", "lost", "slow"):
        check_exact(ix[n], db, [load], "%s, while others are down" % n, timeout=90)
    cur, lag = cursor_of(r, "hang")
    h.check(lag is not None and lag > 0, "the frozen backend's cursor holds its place (lag %s "
            "records)" % lag)
    cur, lag = cursor_of(r, "refused")
    h.check(lag is not None and lag > 0, "the refused backend's cursor holds its place (lag %s "
            "records)" % lag)
    up = {b: r.metric("influx_wal_backend_up", backend=b) for b in ("hang", "refused", "e500")}
    h.check(up["hang"] == 0 and up["refused"] == 0 and up["e500"] == 1,
            "/metrics: backend_up is 0 for the frozen and the refused one, 1 for the others", up)
    ix["hang"].resume()
    late = h.Influxd("late").start(port=late_port, rpc_port=late_rpc)
    late.create_db(db)
    check_exact(ix["hang"], db, [load], "hang, after SIGCONT", timeout=90)
    check_exact(late, db, [load], "refused, after influxd started on its port", timeout=90)
    st500 = faulty_stats(e500)
    h.check_eq(st500.get("failed"), 25, "e500: the proxy answered 25 writes with 500", st500)
    stl = faulty_stats(lost)
    h.check(stl.get("failed_forwarded") == 10 and stl.get("delayed") == 3,
            "lost: 10 answers replaced by 500 after influxd stored them, 3 held past the timeout",
            stl)
    # (refused never had a write fail: it was down from the start, so only /ping probed it)
    retries = {b: r.metric("influx_wal_backend_retries_total", backend=b) for b in
               ("e500", "lost", "hang", "flap")}
    h.check(all(v and v > 0 for v in retries.values()) and retries["e500"] >= 25 and
            retries["lost"] >= 13, "/metrics counts the retries of the failed writes", retries)
    for n in ("refused", "hang", "slow", "flap", "e500", "lost"):
        ok = h.wait_until(lambda: cursor_of(r, n)[1] == 0, timeout=30, errors_ok=True)
        h.check(ok, "%s: the cursor reached the end of the log" % n, cursor_of(r, n))
    dead = r.metric("influx_wal_backend_dead_letters")
    h.check_eq(dead, 0, "no dead letters: none of these faults is the data's")
    h.diag("backend faults: %d points acknowledged; each of 6 backends holds exactly them" % acked)


def test_one_bad_line():
    """A real influxd refuses one line with 400 (field type conflict: the field exists as a
    string). The batch is split until that line alone is a dead letter with influxd's answer;
    every other point arrives exactly once; the cursor moves past; a second backend without the
    conflict gets everything."""
    db = "conflict"
    a = h.Influxd("a").start()
    b = h.Influxd("b").start()
    for x in (a, b):
        x.create_db(db)
    now = int(time.time())
    a.write(db, 'clash,src=direct f="a string" %d' % now, precision="s")
    r = h.Relay(config={"backend": [backend("a", a.url), backend("b", b.url)]}).start()
    load1 = h.Load(r.url, db, points_per_request=50, requests=40, concurrency=2)
    load1.run()
    good = ["good,i=%d n=%di %d\n" % (i, i, now - 100 + i) for i in range(99)]
    lines = "".join(good[:49] + ["clash,src=relay f=1.5 %d\n" % now] + good[49:])
    st, _, body = r.write(db, lines, precision="s")
    h.check_eq(st, 204, "the relay accepts the request (its line protocol is valid)", body)
    load2 = h.Load(r.url, db, points_per_request=50, requests=40, concurrency=2)
    load2.run()
    check_exact(a, db, [load1, load2], "a: the loads around the bad line")
    h.check_eq(wait_count(a, db, 99, measurement="good"), 99,
               "a: the 99 good lines of the request with the bad one arrive once each")
    h.check_eq(a.count(db, "clash", field="f"), 1, "a: only the direct string point is there")
    check_exact(b, db, [load1, load2], "b: the loads")
    h.check_eq(wait_count(b, db, 99, measurement="good") + b.count(db, "clash", field="f"),
               100, "b: all 100 lines of that request, the 'bad' one included")
    ok = h.wait_until(lambda: r.metric("influx_wal_backend_dead_letters", backend="a") == 1,
                      timeout=20)
    h.check(ok, "exactly one dead letter for a",
            r.metric("influx_wal_backend_dead_letters", backend="a"))
    rc, out, err = r.run_cli("dead", "list", "--backend", "a", "--lines")
    h.check(rc == 0 and "clash,src=relay f=1.5" in out and "field type conflict" in out,
            "influx-wal dead list shows the line and influxd's answer", rc, out[-600:], err)
    h.check_eq(r.metric("influx_wal_backend_dead_letters", backend="b"), 0,
               "no dead letter for b")
    ok = h.wait_until(lambda: cursor_of(r, "a")[1] == 0, timeout=20, errors_ok=True)
    h.check(ok, "a's cursor moved past the refused line", cursor_of(r, "a"))


# ------------------------------------------------------------------------------------------
# signals under load
# ------------------------------------------------------------------------------------------


def test_reload_under_load():
    """SIGHUP five times during a concurrent load (limits, log level and a backend's timeout
    changed): every request answered 204, none unanswered, every point arrives exactly once."""
    db = "hup"
    a = h.Influxd("a").start()
    a.create_db(db)
    base = {"http": {"max-body-size": "25MB"}, "backend": [backend("a", a.url)]}
    r = h.Relay(config=base).start()
    load = h.Load(r.url, db, points_per_request=100, requests=3000, concurrency=6, deadline=30,
                  interval=0.01)
    load.start()
    for i in range(5):
        time.sleep(0.4)
        cfg = json.loads(json.dumps(base))
        cfg["log"] = {"level": "debug" if i % 2 == 0 else "info"}
        cfg["backend"][0]["timeout"] = "%ds" % (3 + i)
        cfg["http"]["max-connections"] = 512 + i
        r.reload(cfg)
    during = not load.done()
    load.join()
    h.check(during, "the load was still running at the last SIGHUP", load.summary())
    reloads = r.grep_log("event=reloaded")
    h.check(len(reloads) >= 5 and r.alive(), "five reloads done, the daemon up (%d)" %
            len(reloads), r.log_tail(10))
    h.check(sum(load.ambiguous.values()) == 0 and load.conn_errors == 0 and load.timeouts == 0
            and set(load.statuses) == {204},
            "every request of the load answered, and answered 204", load.summary())
    check_exact(a, db, [load], "SIGHUP x5 under load")


def test_sigterm_under_load():
    """SIGTERM while requests are in flight. (1) Three requests whose body is still arriving
    when SIGTERM comes get their answer (204) before the exit, and their points are stored.
    (2) Under a concurrent load: exit 0, every 204 is in the backend after a restart, and no
    client that had its request read lost the answer (at most one unanswered request per
    connection, at the moment the listener closed)."""
    import socket
    db = "term"
    a = h.Influxd("a").start()
    a.create_db(db)
    r = h.Relay(config={"backend": [backend("a", a.url)]}).start()
    # (1) requests in the middle of their body
    socks = []
    now = int(time.time())
    for i in range(3):
        body = ("inflight,c=%d n=%di %d\n" % (i, i, now)).encode()
        s = socket.create_connection(("127.0.0.1", r.port), timeout=10)
        s.sendall(b"POST /write?db=%s&precision=s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                  % (db.encode(), len(body)) + body[:-3])
        socks.append((s, body[-3:]))
    time.sleep(0.3)
    r.signal(signal.SIGTERM)
    time.sleep(0.5)
    h.check(r.alive(), "after SIGTERM the relay waits for the requests still arriving")
    answers = []
    for s, rest in socks:
        s.sendall(rest)
        try:
            answers.append(s.recv(4096).split(b"\r\n", 1)[0])
        except OSError as e:
            answers.append(repr(e).encode())
        s.close()
    code = r.wait_exit(timeout=20)
    h.check(all(x == b"HTTP/1.1 204 No Content" for x in answers) and code == 0,
            "the 3 in-flight requests were answered 204 and the relay exited 0", answers, code)
    r.restart()
    h.check_eq(wait_count(a, db, 3, measurement="inflight"), 3, "their 3 points are stored")
    # (2) a concurrent load
    load = h.Load(r.url, db, points_per_request=200, requests=3000, concurrency=6, deadline=30,
                  timeout=10)
    load.start()
    time.sleep(1.0)
    r.signal(signal.SIGTERM)
    load.stop()  # no new request from here on; the ones in flight go on
    code = r.wait_exit(timeout=30)
    load.join()
    h.check_eq(code, 0, "SIGTERM under load: exit 0")
    h.check(sum(load.ambiguous.values()) <= load.concurrency * load.ppr,
            "at most one unanswered request per client connection (%d points unanswered)" %
            sum(load.ambiguous.values()), load.summary(), load.errors[:6])
    r.restart()
    check_exact(a, db, [load], "SIGTERM under load, after restart")


TESTS = [test_sigkill_loop, test_crash_image_mid_commit, test_disk_full, test_min_free_reserve,
         test_small_disk_defaults, test_small_disk_reserve_too_large, test_one_daemon_per_log,
         test_backend_faults, test_one_bad_line, test_reload_under_load, test_sigterm_under_load]

if __name__ == "__main__":
    want = sys.argv[1:]
    h.run([t for t in TESTS if not want or t.__name__ in want])
