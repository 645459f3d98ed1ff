/* influx-wal-relay: the daemon. Flags and config, then wiring: the log (wal/), the ingest side
 * (relay/) and the senders (replay/) on one libuv loop, signals, and an orderly stop. */
#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "config/config.h"
#include "relay/relay.h"
#include "replay/replay.h"
#include "scrub/bgscrub.h"
#include "wal/wal.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#define STOP_BOUND_MS 15000

static const char usage[] =
    "usage: influx-wal-relay [options]\n"
    "\n"
    "A durable write-ahead-log relay for InfluxDB 1.x: every write is committed to disk before\n"
    "it is acknowledged, and each backend is caught up from its own cursor.\n"
    "\n"
    "  --config FILE          TOML config (ours, or influxdb-relay's relay.toml layout)\n"
    "  --listen ADDR:PORT     HTTP listen address (repeatable; default 127.0.0.1:9096)\n"
    "  --data-dir DIR         the log's directory (default ./data)\n"
    "  --backend NAME=URL     an InfluxDB backend (repeatable; default local=http://127.0.0.1:8086)\n"
    "  --shard NAME=BACKEND,BACKEND\n"
    "                         a shard: backends that mirror one share of the keys (repeatable)\n"
    "  --udp ADDR:PORT=DB[@PRECISION]\n"
    "                         a UDP line-protocol listener writing to DB (repeatable; @ms for\n"
    "                         collectd's write_influxdb_udp; default ns)\n"
    "  --graphite ADDR:PORT=DB\n"
    "                         a Graphite plaintext listener, TCP and UDP, writing to DB\n"
    "  --opentsdb ADDR:PORT=DB\n"
    "                         an OpenTSDB listener (telnet put lines and HTTP /api/put on one\n"
    "                         TCP port) writing to DB\n"
    "  --log-level LEVEL      debug, info, warn, error\n"
    "  --check-config         validate the configuration, load the TLS certificates, keys and\n"
    "                         CAs, and exit (0 valid, 2 not)\n"
    "  --version              print the version\n"
    "  --help                 this text\n"
    "\n"
    "Flags override the file. Signals: SIGTERM/SIGINT stop gracefully, SIGHUP reloads (the\n"
    "certificates too; a bad one is logged and the old one kept).\n";

/* The flags that layer over the file; kept to be applied again on SIGHUP. */
struct flags {
    const char *config;
    const char **listen, **backend, **udp, **graphite, **opentsdb, **shard;
    size_t n_listen, n_backend, n_udp, n_graphite, n_opentsdb, n_shard;
    const char *data_dir;
    const char *log_level;
    int check_config;
};

struct daemon {
    uv_loop_t *loop;
    struct flags flags;
    struct config cfg;
    struct wal *wal;
    struct relay *relay;
    struct replay *replay;
    struct bgscrub *scrub; /* NULL unless [scrub] enabled at start */
    uv_async_t wal_wake;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t stop_timer;
    int stopping;
    int exit_code;
};

static void push(const char ***v, size_t *n, const char *s)
{
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = s;
}

/* 0, 1 (done: --help/--version), or 2 (bad usage, said on stderr). */
static int parse_flags(int argc, char **argv, struct flags *f)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        } else if (strcmp(a, "--version") == 0) {
            printf("influx-wal-relay %s\n", IWR_VERSION);
            return 1;
        } else if (strcmp(a, "--check-config") == 0) {
            f->check_config = 1;
            takes = 0;
        } else if (v == NULL) {
            fprintf(stderr, "influx-wal-relay: %s: unknown option or missing value\n%s", a,
                    "try: influx-wal-relay --help\n");
            return 2;
        } else if (strcmp(a, "--config") == 0) {
            f->config = v;
        } else if (strcmp(a, "--listen") == 0) {
            push(&f->listen, &f->n_listen, v);
        } else if (strcmp(a, "--backend") == 0) {
            push(&f->backend, &f->n_backend, v);
        } else if (strcmp(a, "--shard") == 0) {
            push(&f->shard, &f->n_shard, v);
        } else if (strcmp(a, "--udp") == 0) {
            push(&f->udp, &f->n_udp, v);
        } else if (strcmp(a, "--graphite") == 0) {
            push(&f->graphite, &f->n_graphite, v);
        } else if (strcmp(a, "--opentsdb") == 0) {
            push(&f->opentsdb, &f->n_opentsdb, v);
        } else if (strcmp(a, "--data-dir") == 0) {
            f->data_dir = v;
        } else if (strcmp(a, "--log-level") == 0) {
            f->log_level = v;
        } else {
            fprintf(stderr, "influx-wal-relay: unknown option %s\ntry: influx-wal-relay --help\n",
                    a);
            return 2;
        }
        i += takes;
    }
    return 0;
}

/* Defaults, then the file, then the flags; validated. 0 or IWR_EPARSE with 'err' set. */
static int build_config(const struct flags *f, struct config *c, char *err, size_t cap)
{
    config_defaults(c);
    int rc = 0;
    if (f->config != NULL)
        rc = config_load_file(c, f->config, err, cap);
    for (size_t i = 0; rc == 0 && i < f->n_listen; i++)
        rc = config_set_listen_flag(c, f->listen[i], err, cap);
    for (size_t i = 0; rc == 0 && i < f->n_backend; i++)
        rc = config_add_backend_flag(c, f->backend[i], err, cap);
    for (size_t i = 0; rc == 0 && i < f->n_shard; i++)
        rc = config_add_shard_flag(c, f->shard[i], err, cap);
    for (size_t i = 0; rc == 0 && i < f->n_udp; i++)
        rc = config_add_udp_flag(c, f->udp[i], err, cap);
    for (size_t i = 0; rc == 0 && i < f->n_graphite; i++)
        rc = config_add_graphite_flag(c, f->graphite[i], err, cap);
    for (size_t i = 0; rc == 0 && i < f->n_opentsdb; i++)
        rc = config_add_opentsdb_flag(c, f->opentsdb[i], err, cap);
    if (rc == 0 && f->data_dir != NULL) {
        free(c->data_dir);
        c->data_dir = xstrdup(f->data_dir);
    }
    if (rc == 0 && f->log_level != NULL) {
        free(c->log_level);
        c->log_level = xstrdup(f->log_level);
    }
    enum log_level lvl;
    if (rc == 0 && log_parse_level(c->log_level ? c->log_level : "info", &lvl) != 0) {
        snprintf(err, cap, "log level '%s': use debug, info, warn, error or off", c->log_level);
        rc = IWR_EPARSE;
    }
    if (rc == 0)
        rc = config_validate(c, err, cap);
    /* Each backend's sender sends only its shard's records (borrowed from the config). */
    for (size_t i = 0; rc == 0 && i < c->n_backends; i++) {
        const struct cfg_shard *s = config_shard_of(c, c->backends[i].name);
        c->backends[i].shard = s != NULL ? s->name : NULL;
    }
    return rc;
}

static void apply_log_level(const struct config *c)
{
    enum log_level lvl = LOG_INFO;
    if (c->log_level)
        log_parse_level(c->log_level, &lvl);
    log_set_level(lvl);
}

static int set_backends(struct daemon *d, const struct config *c)
{
    return replay_set_backends(d->replay, c->backends, c->n_backends);
}

/* Listener i's TLS as the relay takes it (strings borrowed from 'c'). */
static struct relay_tls tls_of(const struct config *c, size_t i)
{
    const struct cfg_tls *t = &c->listen_tls[i];
    if (!config_tls_on(t))
        return (struct relay_tls){0};
    return (struct relay_tls){config_tls_cert(t), config_tls_key(t), t->client_ca,
                              10 + config_tls_min_minor(t)};
}

/* Load every TLS listener's certificate, key and CA as the relay will: 0, or IWR_EINVAL with
 * "file: reason" in 'err'. */
static int check_tls(const struct config *c, char *err, size_t cap)
{
    for (size_t i = 0; i < c->n_listen; i++) {
        struct relay_tls t = tls_of(c, i);
        if (t.cert_file == NULL)
            continue;
        int rc = relay_tls_check(&t, err, cap);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The relay's options from 'c': strings borrowed from it, the arrays allocated here and freed
 * by relay_options_free. */
static void relay_options_fill(struct relay_options *o, const struct config *c)
{
    struct relay_tls *tls = xcalloc(c->n_listen ? c->n_listen : 1, sizeof(*tls));
    for (size_t i = 0; i < c->n_listen; i++)
        tls[i] = tls_of(c, i);
    struct relay_user *users = xcalloc(c->n_users ? c->n_users : 1, sizeof(*users));
    struct relay_udp *udp = xcalloc(c->n_udp ? c->n_udp : 1, sizeof(*udp));
    for (size_t i = 0; i < c->n_users; i++)
        users[i] = (struct relay_user){c->users[i].name, c->users[i].password, c->users[i].token,
                                      c->users[i].admin};
    struct relay_bucket *buckets = xcalloc(c->n_buckets ? c->n_buckets : 1, sizeof(*buckets));
    for (size_t i = 0; i < c->n_buckets; i++)
        buckets[i] = (struct relay_bucket){c->buckets[i].name, c->buckets[i].database,
                                           c->buckets[i].retention_policy};
    for (size_t i = 0; i < c->n_udp; i++)
        udp[i] = (struct relay_udp){c->udp[i].listen, c->udp[i].database,
                                    c->udp[i].retention_policy, c->udp[i].precision,
                                    c->udp[i].read_buffer_bytes};
    const char **shards = xcalloc(c->n_shards ? c->n_shards : 1, sizeof(*shards));
    for (size_t i = 0; i < c->n_shards; i++)
        shards[i] = c->shards[i].name;
    struct relay_stream *st = xcalloc(c->n_streams ? c->n_streams : 1, sizeof(*st));
    size_t n_st = 0;
    for (size_t i = 0; i < c->n_streams; i++) {
        const struct cfg_stream *cs = &c->streams[i];
        if (!cs->enabled)
            continue;
        int both = cs->protocol == NULL;
        st[n_st++] = (struct relay_stream){
            .kind = cs->kind == CFG_GRAPHITE ? RELAY_GRAPHITE : RELAY_OPENTSDB,
            .listen = cs->listen,
            .tcp = both || strcmp(cs->protocol, "tcp") == 0,
            .udp = cs->kind == CFG_GRAPHITE && (both || strcmp(cs->protocol, "udp") == 0),
            .database = cs->database,
            .retention_policy = cs->retention_policy,
            .separator = cs->separator,
            .templates = (const char *const *)cs->templates,
            .n_templates = cs->n_templates,
            .tags = (const char *const *)cs->tags,
            .n_tags = cs->n_tags,
            .read_buffer_bytes = cs->read_buffer_bytes,
        };
    }
    *o = (struct relay_options){
        .streams = st,
        .n_streams = n_st,
        .listen = (const char *const *)c->listen,
        .n_listen = c->n_listen,
        .listen_tls = tls,
        .udp = udp,
        .n_udp = c->n_udp,
        .max_body_bytes = c->max_body_bytes,
        .max_inflated_bytes = c->max_inflated_bytes,
        .max_connections = c->max_connections,
        .max_header_bytes = c->max_header_bytes,
        .max_pending_bytes = c->max_pending_bytes,
        .idle_timeout_ms = c->idle_timeout_ms,
        .read_timeout_ms = c->read_timeout_ms,
        .allow_unsigned = c->allow_unsigned,
        .auth_enabled = c->auth_enabled,
        .status_public = c->status_public,
        .users = users,
        .n_users = c->n_users,
        .buckets = buckets,
        .n_buckets = c->n_buckets,
        .max_bytes = c->max_bytes,
        .full_policy = c->full_policy,
        .data_dir = c->data_dir,
        .statement_timeout_ms = c->statement_timeout_ms,
        .relay_name = c->relay_name,
        .shards = shards,
        .n_shards = c->n_shards,
        .shard_key = (const char *const *)c->shard_key,
        .n_shard_key = c->n_shard_key,
    };
}

static void relay_options_free(struct relay_options *o)
{
    free((struct relay_user *)o->users);
    free((struct relay_bucket *)o->buckets);
    free((struct relay_udp *)o->udp);
    free((struct relay_tls *)o->listen_tls);
    free((struct relay_stream *)o->streams);
    free((const char **)o->shards);
}

/* ---- hooks between the parts --------------------------------------------------------------- */

static void on_wal_wake(uv_async_t *a)
{
    struct daemon *d = a->data;
    wal_complete(d->wal);
    /* The log is unusable (it logged why): restart, as systemd does, and lose nothing
     * committed. What was not answered was never acknowledged. */
    struct wal_counters wc;
    wal_counters_get(d->wal, &wc);
    if (wc.fatal != 0) {
        log_error("event=exiting reason=\"%s\" code=70", iwr_strerror(wc.fatal));
        exit(70);
    }
}

static void wal_wake(void *arg)
{
    uv_async_send(arg);
}

/* replay/'s status as relay/ renders it: the two never include each other. */
static void view_of(const struct replay_backend_status *s, struct relay_backend_view *v)
{
    _Static_assert(REPLAY_CODES <= RELAY_BACKEND_CODES, "room for every answer code");
    _Static_assert(sizeof(v->name) >= sizeof(s->name) && sizeof(v->url) >= sizeof(s->url) &&
                       sizeof(v->shard) >= sizeof(s->shard) &&
                       sizeof(v->last_error) >= sizeof(s->last_error),
                   "room for the strings");
    memset(v, 0, sizeof(*v));
    memcpy(v->name, s->name, sizeof(s->name));
    memcpy(v->url, s->url, sizeof(s->url));
    memcpy(v->shard, s->shard, sizeof(s->shard));
    _Static_assert(sizeof(v->kind) >= sizeof(s->kind), "room for the kind");
    memcpy(v->kind, s->kind, sizeof(s->kind));
    v->unsupported_total = s->unsupported_total;
    memcpy(v->last_error, s->last_error, sizeof(s->last_error));
    v->up = s->up;
    v->caught_up = s->caught_up;
    v->given_up = s->given_up;
    v->cursor = s->cursor;
    v->lag_records = s->lag_records;
    v->lag_bytes = s->lag_bytes;
    v->lag_seconds = s->lag_seconds;
    v->sent_points_total = s->sent_points_total;
    v->sent_batches_total = s->sent_batches_total;
    v->dead_letters_total = s->dead_letters_total;
    v->retries_total = s->retries_total;
    v->corrupt_records_total = s->corrupt_records_total;
    v->down_since_ns = s->down_since_ns;
    v->drain_records_per_second = s->drain_records_per_second;
    memcpy(v->codes, s->codes, sizeof(s->codes));
    memcpy(v->code_counts, s->code_counts, sizeof(s->code_counts));
    v->duration = s->duration;
    _Static_assert(sizeof(v->rebuild_source) >= sizeof(s->rebuild_source), "room for the name");
    v->rebuilding = s->rebuilding;
    v->rebuild_lost = s->rebuild_lost;
    v->rebuild_from_seq = s->rebuild_from_seq;
    v->rebuild_started_ns = s->rebuild_started_ns;
    memcpy(v->rebuild_source, s->rebuild_source, sizeof(s->rebuild_source));
    _Static_assert(sizeof(v->fence_origin) >= sizeof(s->fence_origin), "room for the name");
    v->fence_wait_seq = s->fence_wait_seq;
    v->fence_passed_seq = s->fence_passed_seq;
    memcpy(v->fence_origin, s->fence_origin, sizeof(s->fence_origin));
    memcpy(v->fence_passed_origin, s->fence_passed_origin, sizeof(s->fence_passed_origin));
    v->barrier_wait_seq = s->barrier_wait_seq;
    v->barrier_wait_since_ns = s->barrier_wait_since_ns;
    v->barrier_timeouts_total = s->barrier_timeouts_total;
    v->fence_timeouts_total = s->fence_timeouts_total;
    v->oldest_unacked_ns = s->oldest_unacked_ns;
    v->in_flight = s->in_flight;
    v->in_flight_limit = s->in_flight_limit;
    v->batch_bytes_limit = s->batch_bytes_limit;
    v->in_flight_raises_total = s->in_flight_raises_total;
    v->in_flight_cuts_total = s->in_flight_cuts_total;
    v->batch_bytes_raises_total = s->batch_bytes_raises_total;
    v->batch_bytes_cuts_total = s->batch_bytes_cuts_total;
}

/* ---- several relays (replay/fence.c) ---- */

static int set_peers(struct daemon *d, const struct config *c)
{
    struct replay_peer_opts *p = xcalloc(c->n_peers ? c->n_peers : 1, sizeof(*p));
    for (size_t i = 0; i < c->n_peers; i++)
        p[i] = (struct replay_peer_opts){c->peers[i].name, c->peers[i].url, c->peers[i].username,
                                         c->peers[i].password, c->peers[i].ca_file};
    int rc = replay_set_peers(d->replay, c->relay_name, p, c->n_peers, c->peer_timeout_ms);
    free(p);
    return rc;
}

static const char *hook_peer_leader(void *arg)
{
    struct daemon *d = arg;
    return d->replay != NULL ? replay_peer_leader(d->replay) : NULL;
}

static void hook_peer_fence(void *arg, uint64_t seq)
{
    struct daemon *d = arg;
    if (d->replay != NULL)
        replay_peer_fence(d->replay, seq);
}

static void hook_peers(void *arg, struct relay_peer_view **out, size_t *n)
{
    struct daemon *d = arg;
    struct replay_peer_status *st = NULL;
    *out = NULL;
    *n = 0;
    if (d->replay != NULL)
        replay_peer_status(d->replay, &st, n);
    if (*n == 0)
        return;
    *out = xcalloc(*n, sizeof(**out));
    for (size_t i = 0; i < *n; i++) {
        struct relay_peer_view *v = &(*out)[i];
        snprintf(v->name, sizeof(v->name), "%s", st[i].name);
        snprintf(v->url, sizeof(v->url), "%s", st[i].url);
        v->up = st[i].up;
        v->last_ok_ns = st[i].last_ok_ns;
        v->polls_failed_total = st[i].polls_failed_total;
        v->fences_failed_total = st[i].fences_failed_total;
        v->barrier_timeouts_total = st[i].barrier_timeouts_total;
        v->max_lag_records = st[i].max_lag_records;
        v->oldest_unacked_ns = st[i].oldest_unacked_ns;
    }
    free(st);
}

static void hook_backends(void *arg, struct relay_backend_view **out, size_t *n)
{
    struct daemon *d = arg;
    struct replay_backend_status *st = NULL;
    *out = NULL;
    *n = 0;
    if (d->replay)
        replay_status(d->replay, &st, n);
    if (*n == 0)
        return;
    *out = xcalloc(*n, sizeof(**out));
    for (size_t i = 0; i < *n; i++)
        view_of(&st[i], &(*out)[i]);
    free(st);
}

static int hook_query(void *arg, const struct relay_query *q, const struct relay_query_cbs *cb,
                      void *cb_arg, void **handle)
{
    struct daemon *d = arg;
    if (d->replay == NULL)
        return IWR_ESTOPPED;
    /* Same shapes on both sides: the callbacks' signatures match member for member. */
    struct replay_query_req rq = {q->backend, q->post,        q->target,   q->target_len,
                                  q->headers, q->headers_len, q->body,     q->body_len};
    struct replay_query_cbs rcb = {cb->head, cb->data, cb->done};
    struct replay_query *h = NULL;
    int rc;
    if (q->peer)
        rc = replay_peer_query(d->replay, q->backend, &rq, &rcb, cb_arg, &h);
    else if (q->backend_credentials) /* relay/ checked the client and left its credentials out */
        rc = replay_query_own(d->replay, &rq, &rcb, cb_arg, &h);
    else
        rc = replay_query(d->replay, &rq, &rcb, cb_arg, &h);
    *handle = h;
    return rc;
}

static void hook_query_resume(void *arg, void *handle)
{
    (void)arg;
    replay_query_resume(handle);
}

static void hook_scrub(void *arg, struct relay_scrub_view *out)
{
    struct daemon *d = arg;
    if (d->scrub != NULL)
        bgscrub_view(d->scrub, out);
}

static void scrub_opts_fill(struct bgscrub_opts *o, const struct config *c)
{
    o->interval_ms = c->scrub.interval_ms;
    o->window_ms = c->scrub.window_ms;
    o->rate = c->scrub.rate;
    o->backends = (const char *const *)c->scrub.backends;
    o->n_backends = c->scrub.n_backends;
}

/* A statement's waiter: relay/'s callback behind replay/'s (same fields, other types). */
struct stmt_wait {
    relay_statement_cb *cb;
    void *arg;
};

static void statement_answered(void *arg, int rc, const struct replay_statement_answer *a)
{
    struct stmt_wait *sw = arg;
    struct relay_statement_answer ra;
    if (a != NULL)
        ra = (struct relay_statement_answer){a->backend, a->status, a->body, a->body_len,
                                             a->applied};
    sw->cb(sw->arg, rc, a != NULL ? &ra : NULL);
    free(sw);
}

static int hook_statement_wait(void *arg, uint64_t seq, uint64_t timeout_ms,
                               relay_statement_cb *cb, void *cb_arg)
{
    struct daemon *d = arg;
    if (d->replay == NULL)
        return IWR_ESTOPPED;
    struct stmt_wait *sw = xcalloc(1, sizeof(*sw));
    sw->cb = cb;
    sw->arg = cb_arg;
    int rc = replay_statement_wait(d->replay, seq, timeout_ms, statement_answered, sw);
    if (rc != 0)
        free(sw);
    return rc;
}

/* A rebuild change: replay/'s answer as relay/ renders it. */
struct rebuild_call {
    relay_rebuild_done *done;
    void *cb_arg;
};

static void hook_rebuild_done(void *arg, int rc, const struct replay_rebuild_info *i,
                              const char *msg)
{
    struct rebuild_call *call = arg;
    struct relay_rebuild_info v;
    _Static_assert(sizeof(v.backend) >= sizeof(i->backend) && sizeof(v.source) >= sizeof(i->source),
                   "room for the names");
    if (i != NULL) {
        memset(&v, 0, sizeof(v));
        memcpy(v.backend, i->backend, sizeof(i->backend));
        memcpy(v.source, i->source, sizeof(i->source));
        v.active = i->active;
        v.lost = i->lost;
        v.resumed = i->resumed;
        v.from_seq = i->from_seq;
        v.started_ns = i->started_ns;
        v.head_seq = i->head_seq;
    }
    call->done(call->cb_arg, rc, i != NULL ? &v : NULL, msg);
    free(call);
}

static void hook_rebuild(void *arg, enum relay_rebuild_op op, const char *backend,
                         const char *source, relay_rebuild_done *done, void *cb_arg)
{
    struct daemon *d = arg;
    if (d->replay == NULL) {
        done(cb_arg, IWR_ESTOPPED, NULL, "the daemon is stopping");
        return;
    }
    struct rebuild_call *call = xcalloc(1, sizeof(*call));
    call->done = done;
    call->cb_arg = cb_arg;
    enum replay_rebuild_op rop = op == RELAY_REBUILD_START    ? REPLAY_REBUILD_START
                                 : op == RELAY_REBUILD_FINISH ? REPLAY_REBUILD_FINISH
                                                              : REPLAY_REBUILD_ABORT;
    replay_rebuild(d->replay, rop, backend, source, hook_rebuild_done, call);
}

/* ---- stopping ------------------------------------------------------------------------------- */

static void close_cb_noop(uv_handle_t *h)
{
    (void)h;
}

static void replay_stopped(void *arg)
{
    struct daemon *d = arg;
    /* Everything else is down: close our own handles so the loop runs dry. */
    uv_close((uv_handle_t *)&d->sig_term, close_cb_noop);
    uv_close((uv_handle_t *)&d->sig_int, close_cb_noop);
    uv_close((uv_handle_t *)&d->sig_hup, close_cb_noop);
    uv_close((uv_handle_t *)&d->stop_timer, close_cb_noop);
    uv_close((uv_handle_t *)&d->wal_wake, close_cb_noop);
}

static void relay_stopped(void *arg)
{
    struct daemon *d = arg;
    log_info("event=ingest_stopped");
    if (d->scrub)
        bgscrub_stop(d->scrub);
    if (d->replay)
        replay_stop(d->replay, replay_stopped, d);
    else
        replay_stopped(d);
}

static void on_stop_timeout(uv_timer_t *t)
{
    struct daemon *d = t->data;
    (void)d;
    log_error("event=stop_timeout bound_ms=%d", STOP_BOUND_MS);
    /* Whatever was acknowledged is committed; what is not answered was never acknowledged. */
    _exit(1);
}

static void begin_stop(struct daemon *d, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    log_info("event=stopping reason=%s", why);
    uv_timer_start(&d->stop_timer, on_stop_timeout, STOP_BOUND_MS, 0);
    uv_unref((uv_handle_t *)&d->stop_timer);
    relay_shutdown(d->relay, relay_stopped, d);
}

/* Whether two configs place points alike: the same shards with the same backends, the same
 * key. The ring is fixed for the process (changing it is a reshard). */
static int shards_equal(const struct config *a, const struct config *b)
{
    if (a->n_shards != b->n_shards || a->n_shard_key != b->n_shard_key)
        return 0;
    for (size_t i = 0; i < a->n_shard_key; i++)
        if (strcmp(a->shard_key[i], b->shard_key[i]) != 0)
            return 0;
    for (size_t i = 0; i < a->n_shards; i++) {
        const struct cfg_shard *x = &a->shards[i], *y = &b->shards[i];
        if (strcmp(x->name, y->name) != 0 || x->n_backends != y->n_backends)
            return 0;
        for (size_t j = 0; j < x->n_backends; j++)
            if (strcmp(x->backends[j], y->backends[j]) != 0)
                return 0;
    }
    return 1;
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct daemon *d = s->data;
    if (signum == SIGTERM || signum == SIGINT) {
        begin_stop(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
        return;
    }
    /* SIGHUP: the file again, with the same flags on top; the old config stays on error. */
    struct config next;
    char err[512] = "";
    if (build_config(&d->flags, &next, err, sizeof(err)) != 0) {
        log_error("event=reload_failed reason=\"%s\"", err);
        config_deinit(&next);
        return;
    }
    if (!shards_equal(&d->cfg, &next)) {
        log_error("event=reload_failed reason=\"the shards or the shard key changed: that is a "
                  "reshard; restart to change them\"");
        config_deinit(&next);
        return;
    }
    apply_log_level(&next);
    struct relay_options ro;
    relay_options_fill(&ro, &next);
    relay_reload(d->relay, &ro);
    relay_options_free(&ro);
    if (set_backends(d, &next) != 0) {
        log_error("event=reload_failed reason=\"backends refused\"");
        config_deinit(&next);
        return;
    }
    if (d->scrub != NULL) {
        struct bgscrub_opts so;
        scrub_opts_fill(&so, &next);
        bgscrub_set_options(d->scrub, &so); /* enabling or disabling needs a restart */
    }
    config_deinit(&d->cfg);
    d->cfg = next;
    log_info("event=reloaded backends=%zu", d->cfg.n_backends);
}

int main(int argc, char **argv)
{
    static struct daemon d;
    int rc = parse_flags(argc, argv, &d.flags);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    char err[512] = "";
    if (build_config(&d.flags, &d.cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "influx-wal-relay: %s\n", err);
        return 2;
    }
    /* A listener that asks for TLS is served with it or not at all: no start in plaintext. */
    if (check_tls(&d.cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "influx-wal-relay: %s\n", err);
        config_deinit(&d.cfg);
        return 2;
    }
    if (d.flags.check_config) {
        size_t n_tls = 0;
        for (size_t i = 0; i < d.cfg.n_listen; i++)
            n_tls += config_tls_on(&d.cfg.listen_tls[i]) != 0;
        printf("configuration ok: %zu listener(s) (%zu TLS), %zu backend(s), %zu UDP listener(s), "
               "log in %s\n",
               d.cfg.n_listen, n_tls, d.cfg.n_backends, d.cfg.n_udp, d.cfg.data_dir);
        config_deinit(&d.cfg);
        return 0;
    }
    apply_log_level(&d.cfg);
    signal(SIGPIPE, SIG_IGN);
    d.loop = uv_default_loop();

    uv_async_init(d.loop, &d.wal_wake, on_wal_wake);
    d.wal_wake.data = &d;
    struct wal_options wo = {0};
    wo.dir = d.cfg.data_dir;
    wo.max_bytes = d.cfg.max_bytes;
    wo.format = d.cfg.n_shards ? WAL_FORMAT_VERSION : 1; /* shard parts only with shards */
    wo.min_free_bytes = d.cfg.min_free_set ? d.cfg.min_free_bytes : WAL_MIN_FREE_DEFAULT;
    wo.full_policy = d.cfg.full_policy;
    wo.nosync = !d.cfg.sync;
    wo.retain_ns = d.cfg.retain_ms * 1000000ull;
    wo.wake = wal_wake;
    wo.wake_arg = &d.wal_wake;
    rc = wal_open(&d.wal, &wo);
    if (rc == IWR_ELOCKED) {
        long pid = wal_lock_holder(d.cfg.data_dir);
        char who[40] = "another process";
        if (pid > 0)
            snprintf(who, sizeof(who), "PID %ld", pid);
        fprintf(stderr, "influx-wal-relay: the log in %s is in use by another daemon (%s)\n",
                d.cfg.data_dir, who);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "influx-wal-relay: cannot open the log in %s: %s\n", d.cfg.data_dir,
                iwr_strerror(rc));
        return 1;
    }
    if (!d.cfg.sync)
        log_warn("event=sync_off note=\"commits are not fsync'd: for benchmarks only, an "
                 "acknowledged write can be lost\"");

    rc = replay_new(&d.replay, d.loop, d.wal);
    if (rc == 0)
        rc = set_backends(&d, &d.cfg);
    if (rc == 0)
        rc = set_peers(&d, &d.cfg);
    if (rc != 0) {
        fprintf(stderr, "influx-wal-relay: cannot start the senders: %s\n", iwr_strerror(rc));
        return 1;
    }
    struct relay_hooks hooks = {.arg = &d,
                                .backends = hook_backends,
                                .query = hook_query,
                                .query_resume = hook_query_resume,
                                .scrub = hook_scrub,
                                .statement_wait = hook_statement_wait,
                                .rebuild = hook_rebuild,
                                .peer_leader = hook_peer_leader,
                                .peer_fence = hook_peer_fence,
                                .peers = hook_peers};
    struct relay_options ro;
    relay_options_fill(&ro, &d.cfg);
    rc = relay_new(&d.relay, d.loop, d.wal, &ro, &hooks);
    relay_options_free(&ro);
    if (rc == IWR_ECONFLICT || rc == IWR_ECORRUPT) {
        fprintf(stderr, "influx-wal-relay: the log's active shards do not fit the config (see "
                        "the log)\n");
        return 2;
    }
    if (rc == IWR_EINVAL) {
        /* TLS that passed check_tls failed now (a file changed in between): logged. */
        fprintf(stderr, "influx-wal-relay: cannot set up TLS (see the log)\n");
        return 2;
    }
    if (rc != 0) {
        fprintf(stderr, "influx-wal-relay: cannot listen: %s\n",
                rc < 0 && rc > -4096 ? uv_strerror(rc) : iwr_strerror(rc));
        return 1;
    }
    if (d.cfg.scrub.enabled) {
        struct bgscrub_opts so;
        scrub_opts_fill(&so, &d.cfg);
        rc = bgscrub_new(&d.scrub, d.loop, d.replay, d.wal, &so);
        if (rc != 0) {
            fprintf(stderr, "influx-wal-relay: cannot start the scrub: %s\n", iwr_strerror(rc));
            return 1;
        }
    }
    uv_signal_init(d.loop, &d.sig_term);
    uv_signal_init(d.loop, &d.sig_int);
    uv_signal_init(d.loop, &d.sig_hup);
    uv_timer_init(d.loop, &d.stop_timer);
    d.sig_term.data = d.sig_int.data = d.sig_hup.data = d.stop_timer.data = &d;
    uv_signal_start(&d.sig_term, on_signal, SIGTERM);
    uv_signal_start(&d.sig_int, on_signal, SIGINT);
    uv_signal_start(&d.sig_hup, on_signal, SIGHUP);
    log_info("event=started version=%s data_dir=%s backends=%zu", IWR_VERSION, d.cfg.data_dir,
             d.cfg.n_backends);

    uv_run(d.loop, UV_RUN_DEFAULT);

    /* The loop ran dry: every request was answered. Commit what is still queued (cursor
     * moves), run the last callbacks while the senders still exist, then free. */
    bgscrub_free(d.scrub);
    wal_close(d.wal);
    replay_free(d.replay);
    relay_free(d.relay);
    uv_loop_close(d.loop);
    config_deinit(&d.cfg);
    free(d.flags.listen);
    free(d.flags.backend);
    free(d.flags.udp);
    free(d.flags.graphite);
    free(d.flags.opentsdb);
    free(d.flags.shard);
    log_info("event=stopped");
    return d.exit_code;
}
