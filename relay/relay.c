/* The relay's lifetime: listeners up, limits reloaded, graceful shutdown. Loop thread only. */
#include "relay/relay_int.h"

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <string.h>

/* The relay keeps its own copy of the limits and users: a reload swaps them whole. */
static void limits_copy(struct config *dst, const struct config *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->max_body_bytes = src->max_body_bytes;
    dst->max_inflated_bytes = src->max_inflated_bytes;
    dst->max_connections = src->max_connections;
    dst->max_header_bytes = src->max_header_bytes;
    dst->max_pending_bytes = src->max_pending_bytes;
    dst->idle_timeout_ms = src->idle_timeout_ms;
    dst->read_timeout_ms = src->read_timeout_ms;
    dst->allow_unsigned = src->allow_unsigned;
    dst->auth_enabled = src->auth_enabled;
    dst->max_bytes = src->max_bytes;
    dst->full_policy = src->full_policy;
    dst->min_free_bytes = src->min_free_bytes;
    dst->n_users = src->n_users;
    dst->users = xcalloc(src->n_users ? src->n_users : 1, sizeof(*dst->users));
    for (size_t i = 0; i < src->n_users; i++) {
        dst->users[i].name = xstrdup(src->users[i].name ? src->users[i].name : "");
        dst->users[i].password = xstrdup(src->users[i].password ? src->users[i].password : "");
    }
}

static void limits_free(struct config *c)
{
    for (size_t i = 0; i < c->n_users; i++) {
        free(c->users[i].name);
        free(c->users[i].password);
    }
    free(c->users);
    c->users = NULL;
    c->n_users = 0;
}

int relay_new(struct relay **out, uv_loop_t *loop, struct wal *w, const struct config *cfg,
              const struct relay_hooks *hooks)
{
    struct relay *r = xcalloc(1, sizeof(*r));
    r->loop = loop;
    r->wal = w;
    if (hooks)
        r->hooks = *hooks;
    r->started_ns = wal_now_ns();
    limits_copy(&r->cfg_limits, cfg);
    relay_http_settings(&r->settings);
    *out = r;
    r->servers = xcalloc(cfg->n_listen ? cfg->n_listen : 1, sizeof(*r->servers));
    int rc = 0;
    for (size_t i = 0; i < cfg->n_listen && rc == 0; i++) {
        rc = relay_listen_tcp(r, cfg->listen[i], &r->servers[i]);
        r->n_servers = i + 1;
    }
    r->udp = xcalloc(cfg->n_udp ? cfg->n_udp : 1, sizeof(*r->udp));
    for (size_t i = 0; i < cfg->n_udp && rc == 0; i++) {
        rc = udp_start(r, &cfg->udp[i], &r->udp[i]);
        r->n_udp = i + 1;
    }
    return rc;
}

void relay_reload(struct relay *r, const struct config *cfg)
{
    limits_free(&r->cfg_limits);
    limits_copy(&r->cfg_limits, cfg);
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
    limits_free(&r->cfg_limits);
    free(r->servers);
    free(r->udp);
    free(r);
}
