/* GET|POST /query, passed on to a backend that is up and fully caught up, else to the
 * least-behind one that is up, so that after an outage readers never see the node still
 * catching up while another has everything. The transfer itself is the backends' side's
 * (relay_hooks.query: the same HTTP client, TLS options and timeouts as the writes); here we
 * pick the backend, pass on the client's own headers and credentials (never any of the
 * backend's), and stream the answer back with a header naming the backend, pausing the
 * transfer while the client is slow to read. The client connection closes after the answer
 * (its framing: Content-Length when the backend sent one, else the end of the connection).
 * Loop thread only. */
#include "relay/relay_int.h"

#include "common/log.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <string.h>

#define PROXY_QUEUE_MAX (4 * 1024 * 1024) /* client write backlog that pauses the backend */
#define PROXY_DRAIN_CHECK_MS 20

struct proxy {
    uv_timer_t drain;   /* while paused: is the client's backlog down again? */
    struct conn *client;
    struct relay *relay;
    void *handle;       /* the transfer, valid until done */
    char backend[65];
    long status;
    int head_sent;
    int finished;
    int paused;
};

int query_pick_backend(const struct relay_backend_view *st, size_t n)
{
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        if (!st[i].up || st[i].rebuilding) /* a backend being rebuilt holds only part */
            continue;
        if (st[i].caught_up)
            return (int)i;
        if (best < 0 || st[i].lag_records < st[best].lag_records)
            best = (int)i;
    }
    return best;
}

static void proxy_closed(uv_handle_t *h)
{
    free(h->data);
}

static void proxy_head(void *arg, long status, const char *headers, size_t len)
{
    struct proxy *p = arg;
    struct conn *c = p->client;
    p->head_sent = 1;
    p->status = status;
    if (c->closing)
        return;
    struct buf out;
    buf_init(&out);
    buf_printf(&out, "HTTP/1.1 %ld %s\r\n", status, http_reason((int)status));
    buf_append(&out, headers, len);
    buf_printf(&out, "X-Influx-Wal-Backend: %s\r\nConnection: close\r\n\r\n", p->backend);
    http_send_raw(c, out.data, out.len);
    buf_deinit(&out);
}

static void on_drain_check(uv_timer_t *t)
{
    struct proxy *p = t->data;
    /* A client that left: resume, so that the next piece sees it and aborts the transfer. */
    if (!p->client->closing && p->client->tcp.write_queue_size > PROXY_QUEUE_MAX / 2)
        return;
    uv_timer_stop(t);
    p->paused = 0;
    p->relay->hooks.query_resume(p->relay->hooks.arg, p->handle);
}

static int proxy_data(void *arg, const char *data, size_t len)
{
    struct proxy *p = arg;
    struct conn *c = p->client;
    if (c->closing)
        return -1;
    http_send_raw(c, data, len);
    /* A slow reader must not make us buffer the whole answer: wait for it to drain. */
    if (c->tcp.write_queue_size <= PROXY_QUEUE_MAX || p->relay->hooks.query_resume == NULL)
        return 0;
    p->paused = 1;
    uv_timer_start(&p->drain, on_drain_check, PROXY_DRAIN_CHECK_MS, PROXY_DRAIN_CHECK_MS);
    return 1;
}

/* The transfer is over (answered or failed): answer or end the client's request. */
static void proxy_done(void *arg, int rc, const char *err)
{
    struct proxy *p = arg;
    struct conn *c = p->client;
    p->finished = 1;
    p->handle = NULL;
    uv_timer_stop(&p->drain);
    if (c->closing) {
        conn_release_after_wal(c); /* the client left: nobody to answer */
    } else if (!p->head_sent) {
        /* Nothing went to the client yet: a proper answer is still possible. */
        c->waiting_wal = 0;
        const char *msg = err != NULL ? err : "backend failed";
        log_warn("event=query_proxy_failed backend=%s status=%d", p->backend, rc);
        http_respond_error(c, rc, msg, strlen(msg));
    } else {
        c->waiting_wal = 0;
        http_end_raw(c, (int)p->status);
    }
    uv_close((uv_handle_t *)&p->drain, proxy_closed);
}

void query_handle(struct conn *c, struct http_req *req)
{
    struct relay *r = c->relay;
    struct relay_backend_view *st = NULL;
    size_t n = 0;
    if (r->hooks.backends)
        r->hooks.backends(r->hooks.arg, &st, &n);
    int i = r->hooks.query != NULL ? query_pick_backend(st, n) : -1;
    if (i < 0) {
        free(st);
        static const char body[] = "{\"error\":\"no backend is up to answer the query\"}\n";
        http_respond(c, 503, "Retry-After: 5\r\n", body, sizeof(body) - 1);
        return;
    }
    struct proxy *p = xcalloc(1, sizeof(*p));
    p->client = c;
    p->relay = r;
    snprintf(p->backend, sizeof(p->backend), "%s", st[i].name);
    free(st);
    uv_timer_init(r->loop, &p->drain);
    p->drain.data = p;
    /* The client's own headers (Authorization, Content-Type, Accept, Accept-Encoding) and its
     * target (with any u/p) go as they came: the relay adds no credential of its own. */
    struct relay_query q = {
        .backend = p->backend,
        .post = req->method == HTTP_POST,
        .target = req->url.data,
        .target_len = req->url.len,
        .headers = req->fwd.data,
        .headers_len = req->fwd.len,
        .body = req->body.data,
        .body_len = req->body.len,
    };
    static const struct relay_query_cbs cbs = {proxy_head, proxy_data, proxy_done};
    c->waiting_wal = 1; /* the connection outlives a client that leaves, until we are done */
    if (r->hooks.query(r->hooks.arg, &q, &cbs, p, &p->handle) != 0) {
        c->waiting_wal = 0;
        uv_close((uv_handle_t *)&p->drain, proxy_closed);
        static const char msg[] = "the chosen backend is gone (reconfigured): try again";
        http_respond_error(c, 503, msg, sizeof(msg) - 1);
    }
}
