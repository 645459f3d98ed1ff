/* GET|POST /query, proxied to a backend that is up and fully caught up, else to the least-behind
 * one that is up, so that after an outage readers never see the node still catching up while
 * another has everything. The answer streams back as the backend sends it, with a header naming
 * the backend inserted after its status line; the client connection closes after it (the
 * framing is the backend's). Plain http backends only. Loop thread only. */
#include "relay/relay_int.h"

#include "common/log.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <string.h>

#define PROXY_CHUNK (64 * 1024)
#define PROXY_QUEUE_MAX (4 * 1024 * 1024) /* client write backlog that pauses the backend */

struct proxy {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_timer_t timer;     /* the read timeout between two reads from the backend */
    uv_timer_t drain;     /* while paused: is the client's backlog down again? */
    struct conn *client;
    char backend[65];
    char *rbuf;
    struct buf head;      /* the response until its status line is complete */
    int head_done;
    int status;
    int finished;
    int paused;
    int handles;
};

int query_pick_backend(const struct backend_status *st, size_t n)
{
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        if (!st[i].up)
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
    struct proxy *p = h->data;
    if (--p->handles > 0)
        return;
    free(p->rbuf);
    buf_deinit(&p->head);
    free(p);
}

/* The request is over (answered or failed): release the client and close our handles. */
static void proxy_finish(struct proxy *p, int status, const char *err)
{
    if (p->finished)
        return;
    p->finished = 1;
    struct conn *c = p->client;
    if (c->closing) {
        conn_release_after_wal(c); /* the client left: nobody to answer */
    } else if (!p->head_done && err != NULL) {
        /* Nothing went to the client yet: a proper answer is still possible. */
        c->waiting_wal = 0;
        log_warn("event=query_proxy_failed backend=%s err=\"%s\"", p->backend, err);
        http_respond_error(c, status, err, strlen(err));
    } else {
        c->waiting_wal = 0;
        if (p->head.len > 0)
            http_send_raw(c, p->head.data, p->head.len);
        http_end_raw(c, status);
    }
    uv_close((uv_handle_t *)&p->timer, proxy_closed);
    uv_close((uv_handle_t *)&p->drain, proxy_closed);
    uv_close((uv_handle_t *)&p->tcp, proxy_closed);
}

static void proxy_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void proxy_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

static void on_drain_check(uv_timer_t *t)
{
    struct proxy *p = t->data;
    if (p->finished || p->client->closing) {
        proxy_finish(p, 499, "client went away");
        return;
    }
    if (p->client->tcp.write_queue_size <= PROXY_QUEUE_MAX / 2) {
        uv_timer_stop(t);
        p->paused = 0;
        uv_timer_again(&p->timer);
        uv_read_start((uv_stream_t *)&p->tcp, proxy_alloc, proxy_read);
    }
}

static void on_proxy_timeout(uv_timer_t *t)
{
    proxy_finish(t->data, 504, "backend did not answer the query in time");
}

static void proxy_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct proxy *p = h->data;
    (void)suggested;
    if (p->rbuf == NULL)
        p->rbuf = xmalloc(PROXY_CHUNK);
    *b = uv_buf_init(p->rbuf, PROXY_CHUNK);
}

static void proxy_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct proxy *p = s->data;
    (void)b;
    if (p->finished)
        return;
    if (p->client->closing) {
        proxy_finish(p, 499, "client went away");
        return;
    }
    if (n < 0) {
        proxy_finish(p, p->status ? p->status : 502,
                     n == UV_EOF ? "backend closed without answering" : uv_strerror((int)n));
        return;
    }
    if (n == 0)
        return;
    uv_timer_again(&p->timer);
    struct conn *c = p->client;
    if (!p->head_done) {
        buf_append(&p->head, p->rbuf, (size_t)n);
        char *eol = memmem(p->head.data, p->head.len, "\r\n", 2);
        if (eol == NULL) {
            if (p->head.len > 8192)
                proxy_finish(p, 502, "backend answered with a malformed status line");
            return;
        }
        if (p->head.len < 12 || memcmp(p->head.data, "HTTP/1.", 7) != 0) {
            proxy_finish(p, 502, "backend answered with a malformed status line");
            return;
        }
        p->status = atoi(p->head.data + 9);
        p->head_done = 1;
        char extra[160];
        int m = snprintf(extra, sizeof(extra), "X-Influx-Wal-Backend: %s\r\n", p->backend);
        size_t line = (size_t)(eol - p->head.data) + 2;
        http_send_raw(c, p->head.data, line);
        http_send_raw(c, extra, (size_t)m);
        http_send_raw(c, p->head.data + line, p->head.len - line);
        buf_clear(&p->head);
    } else {
        http_send_raw(c, p->rbuf, (size_t)n);
    }
    /* A slow reader must not make us buffer the whole answer: wait for it to drain. */
    if (c->tcp.write_queue_size > PROXY_QUEUE_MAX) {
        uv_read_stop(s);
        uv_timer_stop(&p->timer);
        p->paused = 1;
        uv_timer_start(&p->drain, on_drain_check, 20, 20);
    }
}

static void proxy_written(uv_write_t *w, int status)
{
    (void)status; /* a failed send shows up as a failed read */
    free(w);
}

static void proxy_connected(uv_connect_t *req, int status)
{
    struct proxy *p = req->data;
    if (p->finished)
        return;
    if (status < 0) {
        proxy_finish(p, 502, uv_strerror(status));
        return;
    }
    struct http_req *q = &p->client->req;
    struct buf out;
    buf_init(&out);
    buf_printf(&out, "%s %.*s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nUser-Agent: "
                     "influx-wal-relay/%s\r\n",
               q->method == HTTP_POST ? "POST" : "GET", (int)q->url.len, q->url.data, p->backend,
               IWR_VERSION);
    buf_append(&out, q->fwd.data, q->fwd.len);
    buf_printf(&out, "Content-Length: %zu\r\n\r\n", q->body.len);
    buf_append(&out, q->body.data, q->body.len);
    uv_write_t *w = xmalloc(sizeof(*w) + out.len);
    memcpy((char *)(w + 1), out.data, out.len);
    uv_buf_t wb = uv_buf_init((char *)(w + 1), (unsigned)out.len);
    buf_deinit(&out);
    if (uv_write(w, (uv_stream_t *)&p->tcp, &wb, 1, proxy_written) != 0 ||
        uv_read_start((uv_stream_t *)&p->tcp, proxy_alloc, proxy_read) != 0) {
        free(w);
        proxy_finish(p, 502, "cannot send the query to the backend");
    }
}

/* host and port of a "http://host:port[/...]" URL; 0 or -1. */
static int split_url(const char *url, char *host, size_t cap, int *port)
{
    if (strncmp(url, "http://", 7) != 0)
        return -1;
    const char *h = url + 7;
    size_t n = strcspn(h, "/");
    char hp[300];
    if (n >= sizeof(hp))
        return -1;
    memcpy(hp, h, n);
    hp[n] = '\0';
    if (strchr(hp, ':') == NULL) {
        if (n >= cap)
            return -1;
        memcpy(host, hp, n + 1);
        *port = 80;
        return 0;
    }
    return hostport_parse(hp, host, cap, port, NULL) == 0 ? 0 : -1;
}

void query_handle(struct conn *c, struct http_req *req)
{
    (void)req; /* the same as c->req: the proxy reads it once connected */
    struct relay *r = c->relay;
    struct backend_status *st = NULL;
    size_t n = 0;
    if (r->hooks.backends)
        r->hooks.backends(r->hooks.arg, &st, &n);
    int i = query_pick_backend(st, n);
    if (i < 0) {
        free(st);
        static const char body[] = "{\"error\":\"no backend is up to answer the query\"}\n";
        http_respond(c, 503, "Retry-After: 5\r\n", body, sizeof(body) - 1);
        return;
    }
    char host[256];
    int port;
    struct sockaddr_storage ss;
    if (split_url(st[i].url, host, sizeof(host), &port) != 0 ||
        (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
         uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0)) {
        static const char msg[] = "the query proxy reaches http backends by IP address only";
        http_respond_error(c, 502, msg, sizeof(msg) - 1);
        free(st);
        return;
    }
    struct proxy *p = xcalloc(1, sizeof(*p));
    p->client = c;
    snprintf(p->backend, sizeof(p->backend), "%s", st[i].name);
    free(st);
    uv_tcp_init(r->loop, &p->tcp);
    uv_timer_init(r->loop, &p->timer);
    uv_timer_init(r->loop, &p->drain);
    p->tcp.data = p->timer.data = p->drain.data = p->connect.data = p;
    p->handles = 3;
    c->waiting_wal = 1; /* the connection outlives a client that leaves, until we are done */
    /* A stalled backend gets the read timeout between two reads. */
    uint64_t ms = r->cfg_limits.read_timeout_ms ? r->cfg_limits.read_timeout_ms : 30000;
    uv_timer_start(&p->timer, on_proxy_timeout, ms, ms);
    int rc = uv_tcp_connect(&p->connect, &p->tcp, (struct sockaddr *)&ss, proxy_connected);
    if (rc != 0)
        proxy_finish(p, 502, uv_strerror(rc));
}
