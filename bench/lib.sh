# Shared by the benchmark scripts (sourced): free loopback ports below 32768, a real influxd in
# a directory of its own, and waiting for a /ping. Loopback only.

bench_free_port() {
    /usr/bin/python3 -c '
import random, socket
for _ in range(200):
    p = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()'
}

# bench_wait_ping URL: 0 once it answers 204, 1 after 30 s.
bench_wait_ping() {
    for _ in $(seq 1 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/ping")" = 204 ] && return 0
        sleep 0.1
    done
    echo "no answer from $1" >&2
    return 1
}

# bench_influxd_config DIR: write DIR/influxd.conf for a loopback influxd with its data in DIR;
# sets BENCH_INFLUXD_URL and BENCH_INFLUXD_RPC (its RPC HOST:PORT, for backup and restore).
# Start it with: influxd run -config DIR/influxd.conf
bench_influxd_config() {
    local dir=$1 http rpc
    http=$(bench_free_port)
    rpc=$(bench_free_port)
    mkdir -p "$dir"
    cat >"$dir/influxd.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$http"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
CONF
    BENCH_INFLUXD_URL="http://127.0.0.1:$http"
    BENCH_INFLUXD_RPC="127.0.0.1:$rpc"
}
