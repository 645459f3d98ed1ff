/* libFuzzer target: the HTTP request path end to end. Each input is sent as raw bytes from a
 * client socket to a relay connection (a socketpair adopted by the server), with a real log
 * (nosync) behind it; the loop runs until the relay has answered and closed or a bound passes.
 * Covers llhttp with our callbacks and limits, routing, query strings, auth, gzip, line
 * protocol, the split by shard, the shards' endpoints and the commit path. */
#include "common/log.h"
#include "relay/relay.h"
#include "wal/wal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t *loop;
static struct wal *wal;
static struct relay *relay;
static uv_async_t wake;

static void on_wake(uv_async_t *a)
{
    (void)a;
    wal_complete(wal);
}

static void wake_cb(void *arg)
{
    uv_async_send(arg);
}

static char dir[] = "/tmp/iwr-fuzz-http-XXXXXX";

static void remove_dir(void)
{
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static void setup(void)
{
    if (mkdtemp(dir) == NULL)
        abort();
    atexit(remove_dir);
    log_set_level(LOG_OFF);
    loop = uv_default_loop();
    uv_async_init(loop, &wake, on_wake);
    struct wal_options o = {0};
    o.dir = dir;
    o.max_bytes = 64u << 20;
    o.nosync = 1;
    o.full_policy = WAL_FULL_DROP_OLDEST;
    o.format = WAL_FORMAT_VERSION; /* the relay below has shards: records with parts */
    o.wake = wake_cb;
    o.wake_arg = &wake;
    if (wal_open(&wal, &o) != 0)
        abort();
    /* The daemon's defaults (config_defaults), with smaller limits and no listeners: the
     * connections are adopted. Two shards, so that writes are split and the shards' admin
     * endpoints (/api/shards/activate's list) parse what comes. */
    static const char *const shards[] = {"s1", "s2"};
    static const char *const key[] = {"database", "measurement"};
    struct relay_options ro = {
        .max_body_bytes = 1 << 20,
        .max_inflated_bytes = 4 << 20,
        .max_connections = 1024,
        .max_header_bytes = 8192,
        .max_pending_bytes = (size_t)512 << 20,
        .read_timeout_ms = 200,
        .idle_timeout_ms = 200,
        .max_bytes = (size_t)1 << 30,
        .full_policy = WAL_FULL_REJECT,
        .shards = shards,
        .n_shards = 2,
        .shard_key = key,
        .n_shard_key = 2,
    };
    if (relay_new(&relay, loop, wal, &ro, NULL) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (loop == NULL)
        setup();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
        return 0;
    relay_adopt_fd(relay, sv[0]);
    size_t off = 0;
    char sink[65536];
    /* Feed the input, reading answers as they come so neither side blocks; then half-close
     * and run until the relay closes its end or the bound passes. */
    for (int rounds = 0; rounds < 2000; rounds++) {
        if (off < size) {
            ssize_t w = write(sv[1], data + off, size - off);
            if (w > 0)
                off += (size_t)w;
            if (off == size)
                shutdown(sv[1], SHUT_WR);
        } else if (size == 0 && rounds == 0) {
            shutdown(sv[1], SHUT_WR);
        }
        uv_run(loop, UV_RUN_NOWAIT);
        ssize_t r = read(sv[1], sink, sizeof(sink));
        if (r == 0)
            break;
        if (off == size && r < 0)
            usleep(100);
    }
    close(sv[1]);
    for (int i = 0; i < 50; i++)
        uv_run(loop, UV_RUN_NOWAIT);
    return 0;
}
