"""Netdata (Debian's netdata-core 1.37), the agent of the setup this project comes from, with a
private config and directories, in the foreground, with no outbound connection (no web server,
registry, cloud, anonymous statistics, streaming or external plugins): its `opentsdb:http`
and `graphite` exporting connectors send the same data to the relay's OpenTSDB and Graphite
listeners (backend influxd A) and straight to influxd B's own OpenTSDB and Graphite inputs.
Over a window both received in full, A and B hold the same series, times and values. Debian
builds Netdata without Prometheus remote write (`netdata -W buildinfo` says so), which this
test checks too."""
import os
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from test_streams import rows  # noqa: E402

NETDATA = shutil.which("netdata") or "/usr/sbin/netdata"
GDB, TDB = "netdata_g", "netdata_t"


def netdata_conf(d):
    return "\n".join([
        "[global]",
        "    run as user = %s" % ("root" if os.geteuid() == 0 else os.environ.get("USER", "")),
        "    hostname = nettest",
        "    update every = 1",
        "[db]",
        "    mode = ram",
        "[directories]",
        "    config = %s" % d,
        "    stock config = /usr/lib/netdata/conf.d",
        "    log = %s" % d,
        "    cache = %s/cache" % d,
        "    lib = %s/lib" % d,
        "    home = %s" % d,
        "    registry = %s/registry" % d,
        "    plugins = %s/plugins.d" % d,
        "    health config = %s/health.d" % d,
        "    stock health config = %s/health.d" % d,
        "[logs]",
        "    debug log = none",
        "    error log = %s/error.log" % d,
        "    access log = none",
        "[web]",
        "    mode = none",
        "[registry]",
        "    enabled = no",
        "[cloud]",
        "    enabled = no",
        "[ml]",
        "    enabled = no",
        "[health]",
        "    enabled = no",
        "[plugins]",
        "    enable running new plugins = no",
        "    check for new plugins every = 3600",
        "    proc = yes",
        "    diskspace = no",
        "    cgroups = no",
        "    tc = no",
        "    idlejitter = no",
        "    statsd = no",
        "    timex = no",
        "    checks = no",
        "    apps = no",
        "    ebpf = no",
        "    perf = no",
        "    slabinfo = no",
        "    nfacct = no",
        "    python.d = no",
        "    charts.d = no",
        "    go.d = no",
        "",
    ])


def exporting_conf(relay_t, relay_g, direct_t, direct_g):
    out = ["[exporting:global]", "    enabled = yes", ""]
    for kind, name, port in (("opentsdb:http", "relay_t", relay_t), ("opentsdb:http", "direct_t", direct_t),
                             ("graphite", "relay_g", relay_g), ("graphite", "direct_g", direct_g)):
        out += ["[%s:%s]" % (kind, name), "    enabled = yes",
                "    destination = 127.0.0.1:%d" % port, "    data source = as collected",
                "    prefix = netdata", "    hostname = nettest", "    update every = 1",
                "    buffer on failures = 10", "    timeout ms = 5000",
                "    send charts matching = system.*", ""]
    return "\n".join(out)


def remote_addresses(pid):
    """The remote IPv4/IPv6 addresses of every TCP/UDP socket process 'pid' holds."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    out = set()
    for f in ("tcp", "tcp6", "udp", "udp6"):
        with open("/proc/%d/net/%s" % (pid, f)) as fh:
            for line in fh.readlines()[1:]:
                cols = line.split()
                if cols[9] in inodes:
                    out.add(cols[2].split(":")[0])
    return out


LOOPBACK_OR_NONE = {"00000000", "0100007F", "00000000000000000000000000000000",
                    "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}


def test_buildinfo_no_remote_write():
    out = subprocess.run([NETDATA, "-W", "buildinfo"], capture_output=True, text=True, timeout=30)
    text = out.stdout + out.stderr
    line = [x for x in text.splitlines() if "Prometheus Remote Write" in x]
    h.check(line and line[0].split(":")[-1].strip() == "NO",
            "Debian's netdata is built without Prometheus remote write", line)


def test_netdata_exporting():
    a = h.Influxd("a").start()
    gport, tport = h.free_port(), h.free_port()
    b = h.Influxd("b", extra_config="\n".join([
        "[[graphite]]", "  enabled = true", '  bind-address = "127.0.0.1:%d"' % gport,
        '  database = "%s"' % GDB, '  protocol = "tcp"', '  batch-timeout = "100ms"',
        "[[opentsdb]]", "  enabled = true", '  bind-address = "127.0.0.1:%d"' % tport,
        '  database = "%s"' % TDB, '  batch-timeout = "100ms"'])).start()
    b.create_db(TDB)  # influxd's /api/put does not create its database (its telnet side does)
    rg, rt = h.free_port(udp=True), h.free_port()
    h.Relay(backends={"a": a}, args=["--graphite", "127.0.0.1:%d=%s" % (rg, GDB),
                                     "--opentsdb", "127.0.0.1:%d=%s" % (rt, TDB)]).start()
    d = h.tmpdir("netdata")
    for sub in ("cache", "lib", "registry", "plugins.d", "health.d"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    open(os.path.join(d, ".opt-out-from-anonymous-statistics"), "w").close()
    with open(os.path.join(d, "netdata.conf"), "w") as f:
        f.write(netdata_conf(d))
    with open(os.path.join(d, "exporting.conf"), "w") as f:
        f.write(exporting_conf(rt, rg, tport, gport))
    with open(os.path.join(d, "stream.conf"), "w") as f:
        f.write("[stream]\n    enabled = no\n")
    p = h.Proc("netdata", os.path.join(d, "netdata.out"))
    start_s = int(time.time())
    p.spawn([NETDATA, "-D", "-c", os.path.join(d, "netdata.conf")],
            env={"DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1"})
    try:
        # Netdata starts exporting some seconds after its first collection.
        seen = set()

        def both_have_data():
            seen.update(remote_addresses(p.pid))
            return all(len(rows(s, db, "time >= %ds" % start_s)) > 20
                       for s in (a, b) for db in (GDB, TDB))
        ok = h.wait_until(both_have_data, timeout=60, interval=1, errors_ok=True)
        h.check(p.alive(), "netdata runs", p.log_tail())
        h.check(ok, "both sides got netdata's graphite and opentsdb data",
                open(os.path.join(d, "error.log")).read()[-3000:]
                if os.path.exists(os.path.join(d, "error.log")) else "")
        for _ in range(6):
            seen.update(remote_addresses(p.pid))
            time.sleep(1)
        h.check(seen and seen <= LOOPBACK_OR_NONE, "netdata's sockets talk to loopback only",
                seen)
    finally:
        p.stop(timeout=15)
    end_s = int(time.time())
    h.wait_until(lambda: False, timeout=2)  # the last batches land
    for db in (GDB, TDB):
        # A window both received in full: from the first second both have, up to two seconds
        # before netdata stopped.
        first = max(min(k[2] for k in rows(s, db, "time >= %ds" % start_s)) for s in (a, b))
        where = "time >= %d AND time <= %ds" % (first + 10**9, end_s - 3)
        ra, rb = rows(a, db, where), rows(b, db, where)
        h.check(len(rb) > 20, "influxd's own input stored netdata's points (%s: %d values)"
                % (db, len(rb)))
        h.check_eq(set(k[0] for k in ra), set(k[0] for k in rb), "the same measurements", db)
        h.check_eq(ra, rb, "the same series, times and values through the relay as direct", db)


if __name__ == "__main__":
    h.run([test_buildinfo_no_remote_write, test_netdata_exporting])
