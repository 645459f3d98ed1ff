#!/usr/bin/env bash
# `make run`: the relay in the foreground with its built-in defaults (listen 127.0.0.1:9096, one
# backend local=http://127.0.0.1:8086) and its log in ./data/wal. If nothing answers
# http://127.0.0.1:8086/ping, a local influxd is started first (data and config in
# ./data/influxd, HTTP 127.0.0.1:8086, RPC 127.0.0.1:8088, reporting off) with a "test"
# database, and stopped by PID when the relay exits (Ctrl-C).
#   BUILD   build dir holding influx-wal-relay (default build)
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
RELAY=$BUILD/influx-wal-relay
INFLUXD=/usr/bin/influxd
INFLUX_URL=http://127.0.0.1:8086
START_DEADLINE=30 # seconds for influxd to answer /ping
STOP_DEADLINE=15  # seconds between SIGTERM and SIGKILL for the influxd started here

if [ ! -x "$RELAY" ]; then
    echo "run-local: $RELAY is missing; build it with: make binaries" >&2
    exit 1
fi

ping_ok() { # 0 when GET $INFLUX_URL/ping answers 204
    [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$INFLUX_URL/ping" 2>/dev/null)" = 204 ]
}

influxd_pid=
stop_influxd() {
    [ -n "$influxd_pid" ] || return 0
    local pid=$influxd_pid
    influxd_pid=
    kill -0 "$pid" 2>/dev/null || return 0
    echo "run-local: stopping the influxd started here (pid $pid)" >&2
    kill -TERM "$pid" 2>/dev/null
    local i
    for ((i = 0; i < STOP_DEADLINE * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "run-local: influxd (pid $pid) still running after ${STOP_DEADLINE}s: SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}

db_hint="the database must exist on that influxd: influx -execute 'CREATE DATABASE test'"
if ping_ok; then
    echo "run-local: using the influxd that answers $INFLUX_URL/ping"
else
    if [ ! -x "$INFLUXD" ]; then
        echo "run-local: nothing answers $INFLUX_URL/ping and $INFLUXD is missing (make deps)" >&2
        exit 1
    fi
    dir=$(pwd)/data/influxd
    mkdir -p "$dir"
    cat >"$dir/influxd.conf" <<EOF
# written by scripts/run-local.sh
reporting-disabled = true
bind-address = "127.0.0.1:8088"

[meta]
  dir = "$dir/meta"

[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false

[http]
  bind-address = "127.0.0.1:8086"
  log-enabled = false

[monitor]
  store-enabled = false

[logging]
  level = "warn"
  suppress-logo = true
EOF
    trap 'stop_influxd' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    # Own session: Ctrl-C reaches the relay, which exits first; then this script stops influxd.
    setsid "$INFLUXD" run -config "$dir/influxd.conf" </dev/null >>"$dir/influxd.log" 2>&1 &
    influxd_pid=$!
    for ((i = 0; i < START_DEADLINE * 5; i++)); do
        ping_ok && break
        kill -0 "$influxd_pid" 2>/dev/null || break
        sleep 0.2
    done
    if ! kill -0 "$influxd_pid" 2>/dev/null || ! ping_ok; then
        echo "run-local: influxd did not answer $INFLUX_URL/ping within ${START_DEADLINE}s; $dir/influxd.log:" >&2
        tail -n 20 "$dir/influxd.log" >&2
        exit 1
    fi
    curl -s -o /dev/null -m 10 -XPOST "$INFLUX_URL/query" --data-urlencode 'q=CREATE DATABASE test'
    echo "run-local: started influxd (pid $influxd_pid) on 127.0.0.1:8086, data in $dir, database \"test\" created"
    db_hint="database \"test\" was created on it"
fi

echo "influx-wal-relay on 127.0.0.1:9096 -> local=$INFLUX_URL; try: curl -i -XPOST 'http://127.0.0.1:9096/write?db=test' --data-binary 'cpu v=1' ($db_hint)"
mkdir -p data
if [ -z "$influxd_pid" ]; then
    exec "$RELAY" --data-dir ./data/wal
fi
"$RELAY" --data-dir ./data/wal
rc=$?
stop_influxd
exit "$rc"
