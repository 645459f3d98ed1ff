#!/usr/bin/env bash
# The package test behind `make package-test`: checks the .deb and .rpm that `make deb` and
# `make rpm` built, runs the packaged binaries, and (as root) takes the .deb through dpkg's
# install, upgrade, remove and purge. Prints "ok N - ..." / "not ok N - ..." lines and ends
# with "N passed, N failed"; exits non-zero on any failure.
#
#   packaging/test_packages.sh DEB RPM VERSION
#
# systemd is not PID 1 here: the unit is checked with systemd-analyze and the daemon is run
# directly (as the unit would: the packaged config, as the system user), never started as a
# service. Everything this script starts is stopped by PID; nothing is left running.
set -u
export LC_ALL=C.UTF-8

if [ $# -ne 3 ]; then
    echo "usage: $0 DEB RPM VERSION" >&2
    exit 2
fi
DEB=$1
RPM=$2
VERSION=$3
PKG=influx-wal-relay
USER_NAME=influx-wal-relay
CONF=/etc/influx-wal-relay/relay.toml
STATE=/var/lib/influx-wal-relay
HERE=$(cd "$(dirname "$0")" && pwd)

passed=0
failed=0
n=0
PIDS=()
INSTALLED_BY_US=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/iwr-package-test.XXXXXX")

ok() { # description
    n=$((n + 1))
    passed=$((passed + 1))
    echo "ok $n - $1"
}

not_ok() { # description, diagnostics...
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    shift
    local d
    for d in "$@"; do
        printf '%s\n' "$d" | sed 's/^/# /'
    done
}

check() { # description, command... (ok when the command succeeds; its output on failure)
    local desc=$1 out rc
    shift
    out=$("$@" 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then ok "$desc"; else not_ok "$desc" "exit status $rc" "$(printf '%s\n' "$out" | tail -20)"; fi
    return $rc
}

skip() { # description, reason
    n=$((n + 1))
    passed=$((passed + 1))
    echo "ok $n - $1 # SKIP $2"
}

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null
        fi
    done
    # Leave the machine as it was: a package this run installed is purged.
    if [ "$INSTALLED_BY_US" = 1 ] && dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -qv 'not-installed'; then
        dpkg -P "$PKG" >/dev/null 2>&1 </dev/null
    fi
    if [ "$failed" -eq 0 ]; then rm -rf "$TMP"; else echo "# temp dir kept: $TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

free_port() { # a free TCP port on 127.0.0.1 in 20000-32000
    /usr/bin/python3 - <<'EOF'
import random, socket
for _ in range(200):
    p = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        print(p)
        break
    except OSError:
        pass
    finally:
        s.close()
EOF
}

http_code() { # method url [data] -> status code (000 on no answer)
    if [ $# -ge 3 ]; then
        curl -s -m 5 -o /dev/null -w '%{http_code}' -X "$1" --data-binary "$3" "$2"
    else
        curl -s -m 5 -o /dev/null -w '%{http_code}' -X "$1" "$2"
    fi
}

wait_ping() { # port: /ping answers 204 within 10 s
    local i
    for i in $(seq 100); do
        [ "$(http_code GET "http://127.0.0.1:$1/ping")" = 204 ] && return 0
        sleep 0.1
    done
    return 1
}

wait_exit() { # pid seconds -> exit status in $EXIT_STATUS, 1 when still running
    local pid=$1 t=$2 i
    for i in $(seq $((t * 10))); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            EXIT_STATUS=$?
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# run_daemon NAME PORT COMMAND...: start in the background, /ping 204, a write 204, SIGTERM, exit 0.
run_daemon() {
    local name=$1 port=$2 log="$TMP/$1.log" pid
    shift 2
    "$@" >"$log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    if wait_ping "$port"; then
        ok "$name: GET /ping answers 204 on 127.0.0.1:$port"
    else
        not_ok "$name: GET /ping answers 204 on 127.0.0.1:$port" "$(tail -20 "$log")"
    fi
    local v
    v=$(curl -s -m 5 -D - -o /dev/null "http://127.0.0.1:$port/ping" | tr -d '\r' | sed -n 's/^[Xx]-[Ii]nfluxdb-[Vv]ersion: *//p')
    if [ -n "$v" ]; then ok "$name: /ping has X-Influxdb-Version ($v)"; else not_ok "$name: /ping has X-Influxdb-Version"; fi
    local code
    code=$(http_code POST "http://127.0.0.1:$port/write?db=pkgtest" "pkgtest,host=a value=1i 1700000000000000000")
    if [ "$code" = 204 ]; then ok "$name: a write is acknowledged (204) with the backend down"; else not_ok "$name: a write is acknowledged (204)" "status $code" "$(tail -20 "$log")"; fi
    kill -TERM "$pid" 2>/dev/null
    if wait_exit "$pid" 20; then
        if [ "$EXIT_STATUS" -eq 0 ]; then ok "$name: SIGTERM: clean exit 0"; else not_ok "$name: SIGTERM: clean exit 0" "exit status $EXIT_STATUS" "$(tail -20 "$log")"; fi
    else
        not_ok "$name: SIGTERM: clean exit 0" "still running 20 s after SIGTERM" "$(tail -20 "$log")"
        kill -KILL "$pid" 2>/dev/null
    fi
}

wal_summary() { # influx-wal status --json on stdin -> "records=N last_sequence=N"
    /usr/bin/python3 -c 'import json,sys; w=json.load(sys.stdin)["wal"]; print("records=%d last_sequence=%d" % (w["records"], w["last_sequence"]))' 2>&1
}

has_line() { # file pattern (fixed string, whole line)
    grep -qxF -- "$2" "$1"
}

echo "# package test: $DEB, $RPM (version $VERSION)"

# ---- the files --------------------------------------------------------------------------------

check "deb exists: $DEB" test -s "$DEB"
check "rpm exists: $RPM" test -s "$RPM"

dpkg-deb -c "$DEB" 2>/dev/null | awk '{print $6}' | sed 's|^\.||' >"$TMP/deb.list"
for f in /usr/bin/influx-wal-relay /usr/bin/influx-wal /lib/systemd/system/influx-wal-relay.service \
    "$CONF" /usr/share/man/man8/influx-wal-relay.8.gz /usr/share/man/man1/influx-wal.1.gz \
    /usr/share/doc/$PKG/copyright /usr/share/doc/$PKG/changelog.gz /usr/share/doc/$PKG/README.md \
    /usr/share/doc/$PKG/examples/haproxy.cfg /usr/share/doc/$PKG/examples/README.md; do
    check "deb contains $f" has_line "$TMP/deb.list" "$f"
done

field() { dpkg-deb -f "$DEB" "$1" 2>/dev/null; }
check "deb: Package $PKG, Version $VERSION" test "$(field Package) $(field Version)" = "$PKG $VERSION"
deps=$(field Depends)
missing=""
for d in libc6 libcurl4 libisal2 libjansson4 liblmdb0 libsnappy1v5 libuv1 zlib1g adduser; do
    printf '%s' "$deps" | grep -Eq "(^|, )$d( |,|$)" || missing="$missing $d"
done
if [ -z "$missing" ]; then ok "deb: Depends from shlibs ($deps)"; else not_ok "deb: Depends names every library" "missing:$missing" "Depends: $deps"; fi

mkdir -p "$TMP/ctrl" "$TMP/root"
dpkg-deb -e "$DEB" "$TMP/ctrl"
check "deb: $CONF is a conffile" has_line "$TMP/ctrl/conffiles" "$CONF"
dpkg-deb -x "$DEB" "$TMP/root"
check "deb: the conffile is packaging/relay.toml" cmp "$TMP/root$CONF" "$HERE/relay.toml"
check "deb: the unit is packaging/influx-wal-relay.service" \
    cmp "$TMP/root/lib/systemd/system/influx-wal-relay.service" "$HERE/influx-wal-relay.service"
check "deb: the unit runs the packaged config as its own user" \
    grep -qx "ExecStart=/usr/bin/influx-wal-relay --config $CONF" "$TMP/root/lib/systemd/system/influx-wal-relay.service"

rpm -qlp "$RPM" 2>/dev/null >"$TMP/rpm.list"
for f in /usr/bin/influx-wal-relay /usr/bin/influx-wal /usr/lib/systemd/system/influx-wal-relay.service \
    "$CONF" /usr/share/man/man8/influx-wal-relay.8.gz /usr/share/man/man1/influx-wal.1.gz \
    /usr/share/doc/$PKG/README.md /usr/share/doc/$PKG/examples/haproxy.cfg \
    /usr/share/doc/$PKG/examples/README.md /usr/share/licenses/$PKG/copyright "$STATE"; do
    check "rpm contains $f" has_line "$TMP/rpm.list" "$f"
done
check "rpm: $CONF is %config" has_line <(rpm -qcp "$RPM" 2>/dev/null) "$CONF"
check "rpm: version $VERSION" test "$(rpm -qp --qf '%{NAME} %{VERSION}' "$RPM" 2>/dev/null)" = "$PKG $VERSION"
rpm -qp --requires "$RPM" 2>/dev/null | awk '{print $1}' >"$TMP/rpm.requires"
missing=""
for d in glibc lmdb-libs libuv libcurl jansson snappy isa-l zlib; do has_line "$TMP/rpm.requires" "$d" || missing="$missing $d"; done
if [ -z "$missing" ]; then ok "rpm: Requires glibc lmdb-libs libuv libcurl jansson snappy isa-l zlib"; else not_ok "rpm: Requires the RPM world's libraries" "missing:$missing"; fi
mkdir -p "$TMP/rpmroot"
cp "$RPM" "$TMP/rpmroot/p.rpm"
if (cd "$TMP/rpmroot" && rpm2archive p.rpm && tar -xzf p.rpm.tgz) >/dev/null 2>&1; then
    check "rpm: the unit is the deb's" cmp "$TMP/rpmroot/usr/lib/systemd/system/influx-wal-relay.service" \
        "$HERE/influx-wal-relay.service"
    check "rpm: the config is the deb's" cmp "$TMP/rpmroot$CONF" "$HERE/relay.toml"
    check "rpm: influx-wal-relay --version says $VERSION" \
        grep -qx "influx-wal-relay $VERSION" <("$TMP/rpmroot/usr/bin/influx-wal-relay" --version)
else
    not_ok "rpm: unpacks (rpm2archive)"
fi

# ---- lintian ----------------------------------------------------------------------------------

lintian --no-tag-display-limit "$DEB" >"$TMP/lintian.out" 2>&1
errors=$(grep '^E:' "$TMP/lintian.out")
if [ -z "$errors" ]; then ok "lintian: no errors"; else not_ok "lintian: no errors" "$errors"; fi
# Every warning left must be explained in packaging/README.md.
unexplained=""
for tag in $(sed -n 's/^W: [^ ]* \([a-z0-9-]*\).*/\1/p' "$TMP/lintian.out" | sort -u); do
    grep -q -- "$tag" "$HERE/README.md" || unexplained="$unexplained $tag"
done
warnings=$(grep -c '^W:' "$TMP/lintian.out")
if [ -z "$unexplained" ]; then
    ok "lintian: $warnings warning(s), each explained in packaging/README.md"
else
    not_ok "lintian: every warning is explained in packaging/README.md" "not explained:$unexplained" "$(grep '^W:' "$TMP/lintian.out")"
fi

# ---- the unpacked binaries ----------------------------------------------------------------------

BIN="$TMP/root/usr/bin"
check "deb binaries: every shared library resolves" bash -c "! ldd '$BIN/influx-wal-relay' '$BIN/influx-wal' | grep -q 'not found'"
check "influx-wal-relay --version says $VERSION" grep -qx "influx-wal-relay $VERSION" <("$BIN/influx-wal-relay" --version)
check "influx-wal --version says $VERSION" grep -qx "influx-wal $VERSION" <("$BIN/influx-wal" --version)
out=$("$BIN/influx-wal-relay" --check-config --config "$TMP/root$CONF" 2>&1)
rc=$?
if [ $rc -eq 0 ] && printf '%s' "$out" | grep -q "log in $STATE"; then
    ok "--check-config on the packaged config: valid, log in $STATE"
else
    not_ok "--check-config on the packaged config: valid, log in $STATE" "exit status $rc" "$out"
fi
printf '[wal]\nno-such-key = 1\n' >"$TMP/bad.toml"
"$BIN/influx-wal-relay" --check-config --config "$TMP/bad.toml" >/dev/null 2>&1
rc=$?
check "--check-config on a bad config: exit status 2 (got $rc)" test $rc -eq 2

PORT=$(free_port)
sed -e "s|^dir = \"$STATE\"|dir = \"$TMP/wal\"|" -e "s|^listen = .*|listen = [\"127.0.0.1:$PORT\"]|" \
    "$TMP/root$CONF" >"$TMP/relay.toml"
check "the adjusted config points at the temp dir and port $PORT" \
    bash -c "grep -q '$TMP/wal' '$TMP/relay.toml' && grep -q '127.0.0.1:$PORT' '$TMP/relay.toml'"
run_daemon "unpacked daemon" "$PORT" "$BIN/influx-wal-relay" --config "$TMP/relay.toml"
out=$("$BIN/influx-wal" status --json --data-dir "$TMP/wal" 2>&1 | wal_summary)
check "influx-wal status: the log holds the write ($out)" test "$out" = "records=1 last_sequence=1"
check "influx-wal verify: the log is sound" "$BIN/influx-wal" verify --data-dir "$TMP/wal"

if command -v systemd-analyze >/dev/null; then
    mkdir -p "$TMP/unit"
    sed "s|/usr/bin/influx-wal-relay|$BIN/influx-wal-relay|" "$TMP/root/lib/systemd/system/influx-wal-relay.service" \
        >"$TMP/unit/influx-wal-relay.service"
    check "systemd-analyze verify: the unit" systemd-analyze verify --man=no "$TMP/unit/influx-wal-relay.service"
else
    skip "systemd-analyze verify: the unit" "no systemd-analyze"
fi

# ---- dpkg: install, upgrade, remove, purge ------------------------------------------------------

dpkg_cycle() {
    if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -qv 'not-installed'; then
        not_ok "$PKG is not installed before the test (remove or purge it first)" \
            "$(dpkg-query -W -f='${Status} ${Version}' "$PKG")"
        return
    fi
    ok "$PKG is not installed before the test"
    INSTALLED_BY_US=1
    if check "dpkg -i installs it (systemd not running: the postinst does not start it)" \
        dpkg -i "$DEB" </dev/null; then :; else return; fi
    check "dpkg: status 'install ok installed'" \
        test "$(dpkg-query -W -f='${Status}' "$PKG")" = "install ok installed"

    local pw
    pw=$(getent passwd "$USER_NAME")
    if [ -n "$pw" ]; then
        local uid home shell
        uid=$(echo "$pw" | cut -d: -f3)
        home=$(echo "$pw" | cut -d: -f6)
        shell=$(echo "$pw" | cut -d: -f7)
        if [ "$uid" -lt 1000 ] && [ "$home" = "$STATE" ] && [ "${shell##*/}" = nologin ]; then
            ok "system user $USER_NAME: uid $uid, home $home, shell $shell"
        else
            not_ok "system user $USER_NAME is a system user" "$pw"
        fi
    else
        not_ok "system user $USER_NAME exists"
    fi
    check "system group $USER_NAME exists" getent group "$USER_NAME"
    local f
    for f in /usr/bin/influx-wal-relay /usr/bin/influx-wal /lib/systemd/system/influx-wal-relay.service "$CONF" \
        /usr/share/man/man8/influx-wal-relay.8.gz /usr/share/man/man1/influx-wal.1.gz \
        /usr/share/doc/$PKG/examples/haproxy.cfg; do
        check "installed: $f" test -f "$f"
    done
    check "$CONF: root:$USER_NAME 640 (it may hold passwords)" \
        test "$(stat -c '%U:%G %a' "$CONF")" = "root:$USER_NAME 640"
    check "$STATE: $USER_NAME:$USER_NAME 750" test "$(stat -c '%U:%G %a' "$STATE")" = "$USER_NAME:$USER_NAME 750"
    check "the unit is enabled (multi-user.target.wants)" \
        test -L /etc/systemd/system/multi-user.target.wants/influx-wal-relay.service
    check "man influx-wal-relay finds the page" man -w influx-wal-relay
    if command -v systemd-analyze >/dev/null; then
        check "systemd-analyze verify: the installed unit" systemd-analyze verify /lib/systemd/system/influx-wal-relay.service
    fi

    # As the unit runs it: the system user, the packaged config (log in /var/lib), only the
    # listen address moved to a free loopback port.
    local port
    port=$(free_port)
    (cd "$STATE" && exec setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --init-groups \
        /usr/bin/influx-wal-relay --config "$CONF" --listen "127.0.0.1:$port") >"$TMP/installed.log" 2>&1 &
    PIDS+=("$!")
    local pid=$!
    if wait_ping "$port"; then ok "installed daemon as $USER_NAME: /ping 204"; else not_ok "installed daemon as $USER_NAME: /ping 204" "$(tail -20 "$TMP/installed.log")"; fi
    local code
    code=$(http_code POST "http://127.0.0.1:$port/write?db=pkgtest" "pkgtest,host=b value=2i 1700000000000000001")
    check "installed daemon: a write is acknowledged (got $code)" test "$code" = 204
    kill -TERM "$pid" 2>/dev/null
    if wait_exit "$pid" 20 && [ "$EXIT_STATUS" -eq 0 ]; then ok "installed daemon: SIGTERM: exit 0"; else not_ok "installed daemon: SIGTERM: exit 0" "$(tail -20 "$TMP/installed.log")"; fi
    check "the log files belong to $USER_NAME" test "$(stat -c %U "$STATE/data.mdb" 2>&1)" = "$USER_NAME"
    local before
    before=$(influx-wal status --json 2>&1 | wal_summary)
    check "influx-wal status (log dir from the packaged config) sees the write ($before)" \
        test "$before" = "records=1 last_sequence=1"

    # Upgrade to a newer version of the same package: the config change and the log stay.
    echo "# local change by the package test" >>"$CONF"
    rm -rf "$TMP/up"
    dpkg-deb -R "$DEB" "$TMP/up"
    sed -i "s/^Version: .*/Version: ${VERSION}+upgradetest1/" "$TMP/up/DEBIAN/control"
    dpkg-deb --root-owner-group -b "$TMP/up" "$TMP/upgrade.deb" >/dev/null
    local up_out
    if up_out=$(dpkg --force-confold -i "$TMP/upgrade.deb" </dev/null 2>&1); then
        ok "dpkg -i of a newer version upgrades it"
    else
        not_ok "dpkg -i of a newer version upgrades it" "$(printf '%s\n' "$up_out" | tail -20)"
    fi
    if printf '%s\n' "$up_out" | grep -q "influx-wal-relay: configuration ok"; then
        ok "upgrade: the postinst ran --check-config on the kept config"
    else
        not_ok "upgrade: the postinst ran --check-config on the kept config" "$(printf '%s\n' "$up_out" | tail -20)"
    fi
    check "upgrade: version ${VERSION}+upgradetest1 installed" \
        test "$(dpkg-query -W -f='${Version}' "$PKG")" = "${VERSION}+upgradetest1"
    check "upgrade: the local config change is kept" grep -q "local change by the package test" "$CONF"
    check "upgrade: the config is still root:$USER_NAME 640" test "$(stat -c '%U:%G %a' "$CONF")" = "root:$USER_NAME 640"
    check "upgrade: the log is kept" test "$(influx-wal status --json 2>&1 | wal_summary)" = "$before"

    check "dpkg -r removes it" dpkg -r "$PKG" </dev/null
    check "remove: status 'deinstall ok config-files'" \
        test "$(dpkg-query -W -f='${Status}' "$PKG")" = "deinstall ok config-files"
    check "remove: the binaries are gone" bash -c "! test -e /usr/bin/influx-wal-relay && ! test -e /usr/bin/influx-wal"
    check "remove: the config is kept (with the local change)" grep -q "local change by the package test" "$CONF"
    check "remove: the log is kept" test -f "$STATE/data.mdb"

    check "dpkg -P purges it" dpkg -P "$PKG" </dev/null
    check "purge: not installed" bash -c "! dpkg-query -W -f='\${Status}' $PKG 2>/dev/null | grep -q installed"
    check "purge: /etc/influx-wal-relay is gone" bash -c "! test -e /etc/influx-wal-relay"
    check "purge: $STATE (the log) is gone" bash -c "! test -e $STATE"
    check "purge: no statoverride left" bash -c "! dpkg-statoverride --list $CONF"
    check "purge: the unit's enable link is gone" \
        bash -c "! test -e /etc/systemd/system/multi-user.target.wants/influx-wal-relay.service"
    INSTALLED_BY_US=0
}

if [ "$(id -u)" -eq 0 ]; then
    dpkg_cycle
else
    skip "dpkg install, upgrade, remove, purge" "not root"
fi

# ---- nothing left running -------------------------------------------------------------------------

left=""
for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null) || continue
    case "$exe" in
    /usr/bin/influx-wal-relay* | "$TMP"/*) left="$left ${p#/proc/}($exe)" ;;
    esac
done
if getent passwd "$USER_NAME" >/dev/null; then
    byuser=$(pgrep -u "$USER_NAME" 2>/dev/null | tr '\n' ' ')
    [ -n "$byuser" ] && left="$left user:$byuser"
fi
if [ -z "$left" ]; then ok "no process of the package is left running"; else not_ok "no process of the package is left running" "$left"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
