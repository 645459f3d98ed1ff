/* The relay's lifetime: listeners up, limits reloaded, graceful shutdown. Loop thread only. */
#include "relay/relay_int.h"
#include "relay/shard_split.h"
#include "relay/tls.h"
#include "relay/stream.h"

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <malloc.h>
#include <string.h>

/* The relay keeps its own copy of the limits and users: a reload swaps them whole. The
 * listeners are only read by relay_new. */
static void limits_copy(struct relay_options *dst, const struct relay_options *src)
{
    *dst = *src;
    dst->listen = NULL;
    dst->shards = dst->shard_key = NULL; /* r->split keeps its own copies */
    dst->n_shards = dst->n_shard_key = 0;
    dst->n_listen = 0;
    dst->listen_tls = NULL;
    dst->udp = NULL;
    dst->n_udp = 0;
    dst->streams = NULL;
    dst->n_streams = 0;
    struct relay_user *users = xcalloc(src->n_users ? src->n_users : 1, sizeof(*users));
    for (size_t i = 0; i < src->n_users; i++) {
        users[i].name = xstrdup(src->users[i].name ? src->users[i].name : "");
        users[i].password = xstrdup(src->users[i].password ? src->users[i].password : "");
        users[i].token = src->users[i].token ? xstrdup(src->users[i].token) : NULL;
        users[i].admin = src->users[i].admin;
    }
    dst->users = users;
    struct relay_bucket *buckets = xcalloc(src->n_buckets ? src->n_buckets : 1, sizeof(*buckets));
    for (size_t i = 0; i < src->n_buckets; i++) {
        buckets[i].name = xstrdup(src->buckets[i].name);
        buckets[i].database = xstrdup(src->buckets[i].database);
        buckets[i].retention_policy =
            src->buckets[i].retention_policy ? xstrdup(src->buckets[i].retention_policy) : NULL;
    }
    dst->buckets = buckets;
    dst->data_dir = src->data_dir ? xstrdup(src->data_dir) : NULL;
    dst->relay_name = xstrdup(src->relay_name ? src->relay_name : "relay");
}

static void limits_free(struct relay_options *o)
{
    for (size_t i = 0; i < o->n_users; i++) { /* our copies (limits_copy) */
        free((char *)o->users[i].name);
        free((char *)o->users[i].password);
        free((char *)o->users[i].token);
    }
    free((struct relay_user *)o->users);
    for (size_t i = 0; i < o->n_buckets; i++) {
        free((char *)o->buckets[i].name);
        free((char *)o->buckets[i].database);
        free((char *)o->buckets[i].retention_policy);
    }
    free((struct relay_bucket *)o->buckets);
    o->buckets = NULL;
    o->n_buckets = 0;
    o->users = NULL;
    o->n_users = 0;
    free((char *)o->data_dir);
    o->data_dir = NULL;
    free((char *)o->relay_name);
    o->relay_name = NULL;
}

int relay_tls_check(const struct relay_tls *tls, char *err, size_t err_cap)
{
    struct tls_ctx *t = NULL;
    int rc = tls_ctx_new(&t, tls, err, err_cap);
    tls_ctx_free(t);
    return rc;
}

int relay_new(struct relay **out, uv_loop_t *loop, struct wal *w,
              const struct relay_options *cfg, const struct relay_hooks *hooks)
{
#ifdef M_MMAP_THRESHOLD
    /* A /write's buffers (inflated, normalised, encoded: up to max-inflated-size) are allocated
     * on libuv's pool threads (write.c), and glibc gives each thread an arena of its own. With
     * glibc's dynamic threshold, a freed multi-MB buffer raises it and the next ones stay in
     * their arena when freed, so RSS would grow with every pool thread a large request ran on.
     * A fixed threshold maps each buffer of 256 KiB or more (the first step of an inflated
     * body's growth) on its own and unmaps it when freed. */
    mallopt(M_MMAP_THRESHOLD, 256 << 10);
#endif
    struct relay *r = xcalloc(1, sizeof(*r));
    r->loop = loop;
    r->wal = w;
    if (hooks)
        r->hooks = *hooks;
    r->started_ns = wal_now_ns();
    hist_init(&r->ctr.duration, request_duration_bounds, DURATION_BUCKETS);
    limits_copy(&r->cfg_limits, cfg);
    /* r->split, over the active shards; a failure is logged, and nothing is started yet. */
    int rc = shard_active_start(r, cfg);
    if (rc != 0) {
        shard_active_free(r);
        shard_split_free(r->split);
        limits_free(&r->cfg_limits);
        free(r);
        *out = NULL;
        return rc;
    }
    relay_http_settings(&r->settings);
    status_ring_start(r, cfg);
    *out = r;
    r->servers = xcalloc(cfg->n_listen ? cfg->n_listen : 1, sizeof(*r->servers));
    r->server_tls = xcalloc(cfg->n_listen ? cfg->n_listen : 1, sizeof(*r->server_tls));
    /* Every TLS context first: a listener that asked for TLS is never bound without it. */
    for (size_t i = 0; cfg->listen_tls != NULL && i < cfg->n_listen && rc == 0; i++) {
        if (cfg->listen_tls[i].cert_file == NULL)
            continue;
        char err[512];
        rc = tls_ctx_new(&r->server_tls[i], &cfg->listen_tls[i], err, sizeof(err));
        if (rc != 0)
            log_error("event=tls_setup_failed addr=%s reason=\"%s\"", cfg->listen[i], err);
    }
    if (rc != 0) {
        for (size_t i = 0; i < cfg->n_listen; i++) {
            tls_ctx_free(r->server_tls[i]);
            r->server_tls[i] = NULL;
        }
        return rc;
    }
    for (size_t i = 0; i < cfg->n_listen && rc == 0; i++) {
        rc = relay_listen_tcp(r, cfg->listen[i], &r->servers[i]);
        r->n_servers = i + 1;
    }
    r->udp = xcalloc(cfg->n_udp ? cfg->n_udp : 1, sizeof(*r->udp));
    for (size_t i = 0; i < cfg->n_udp && rc == 0; i++) {
        rc = udp_start(r, &cfg->udp[i], &r->udp[i]);
        r->n_udp = i + 1;
    }
    if (rc == 0)
        rc = stream_start_all(r, cfg->streams, cfg->n_streams);
    return rc;
}

void relay_reload(struct relay *r, const struct relay_options *cfg)
{
    limits_free(&r->cfg_limits);
    limits_copy(&r->cfg_limits, cfg);
    /* New certificates for the TLS listeners; a failure keeps the old context serving. The old
     * one is dropped here, and lives on in the sessions that still use it. */
    for (size_t i = 0; i < r->n_servers; i++) {
        const struct relay_tls *t = cfg->listen_tls != NULL && i < cfg->n_listen
                                        ? &cfg->listen_tls[i]
                                        : NULL;
        if (r->server_tls[i] == NULL) {
            /* Listeners stay as they are: a plain one takes TLS only by a restart (logged as
             * such: it keeps serving plain HTTP until then). */
            if (t != NULL && t->cert_file != NULL) {
                r->ctr.tls_reload_failures_total++;
                log_error("event=tls_reload_failed listener=%zu kept=plain needs=restart", i);
            }
            continue;
        }
        struct tls_ctx *next = NULL;
        char err[512] = "this listener's TLS settings are gone; it stays a TLS listener";
        int rc = t != NULL && t->cert_file != NULL ? tls_ctx_new(&next, t, err, sizeof(err))
                                                   : IWR_EINVAL;
        if (rc != 0) {
            r->ctr.tls_reload_failures_total++;
            /* The old certificate stays in use. */
            log_error("event=tls_reload_failed listener=%zu kept=old reason=\"%s\"", i, err);
            continue;
        }
        tls_ctx_free(r->server_tls[i]);
        r->server_tls[i] = next;
        log_info("event=tls_reloaded listener=%zu cert=%s", i, t->cert_file);
    }
    log_info("event=relay_reloaded max_body_bytes=%zu max_connections=%zu auth=%d users=%zu",
             cfg->max_body_bytes, cfg->max_connections, cfg->auth_enabled, cfg->n_users);
}

static void on_server_closed(uv_handle_t *h)
{
    struct relay *r = h->data;
    r->servers_open--;
    if (r->shutting_down && r->n_conns == 0 && r->servers_open == 0 && r->shutdown_done) {
        void (*done)(void *) = r->shutdown_done;
        r->shutdown_done = NULL;
        done(r->shutdown_arg);
    }
}

void relay_shutdown(struct relay *r, void (*done)(void *arg), void *arg)
{
    r->shutting_down = 1;
    r->shutdown_done = done;
    r->shutdown_arg = arg;
    udp_close_all(r);
    status_ring_close(r);
    stream_close_all(r);
    size_t open = r->servers_open;
    for (size_t i = 0; i < r->n_servers; i++)
        if (!uv_is_closing((uv_handle_t *)&r->servers[i]) && r->servers[i].data != NULL)
            uv_close((uv_handle_t *)&r->servers[i], on_server_closed);
    relay_close_idle(r);
    if (open == 0 && r->n_conns == 0 && r->shutdown_done) {
        r->shutdown_done = NULL;
        done(arg);
    }
}

void relay_free(struct relay *r)
{
    if (r == NULL)
        return;
    /* A write's work holds its connection, so the loop cannot run dry before it is done. */
    IWR_ASSERT(r->writes_working == 0);
    limits_free(&r->cfg_limits);
    shard_split_free(r->split);
    shard_active_free(r);
    for (size_t i = 0; r->server_tls != NULL && i < r->n_servers; i++)
        tls_ctx_free(r->server_tls[i]);
    free(r->server_tls);
    status_ring_close(r);
    free(r->servers);
    free(r->udp);
    free(r->streams);
    free(r);
}
