/* The HTTP/1.1 server: listeners, connections, llhttp parsing, responses, limits and timeouts.
 *
 * Owns every TCP handle and connection; loop thread only. A connection handles one request at
 * a time: once a request is complete the parser is paused and reading stops until its answer is
 * written (a /write waits for its validation on the pool, then for its log commit), so
 * pipelined requests are answered, and their records appended, in order, and a slow commit
 * pushes back on the client instead of piling up memory. Bytes read past the request wait in
 * 'pending'. One timer per connection bounds how long a request may take to
 * arrive (read timeout) and how long a kept-alive connection may sit idle.
 *
 * The transport is the only difference between plain and TLS connections: conn_send encrypts
 * (tls_conn_write) before the bytes go to uv_write, and on_read decrypts (tls_input) before the
 * plaintext goes to the same parsing (conn_input). A TLS connection's handshake must finish
 * within the read timeout; one that fails is counted and closed, never answered in HTTP. */
#include "relay/relay_int.h"
#include "relay/tls.h"

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define READ_CHUNK (64 * 1024)
/* Answers queued to a client that does not read them: past this, its requests wait. */
#define WRITE_QUEUE_MAX (256 * 1024)

static void conn_close(struct conn *c);
static void conn_continue(struct conn *c);

/* ---- responses ---------------------------------------------------------------------------- */

struct write_req {
    uv_write_t req;
    struct conn *conn;
    int close_after;
    char data[]; /* the whole response */
};

static const char *reason_of(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

const char *http_reason(int status)
{
    return reason_of(status);
}

static void on_written(uv_write_t *w, int status)
{
    struct write_req *wr = (struct write_req *)w;
    struct conn *c = wr->conn;
    int close_after = wr->close_after;
    free(wr);
    if (status < 0 || close_after) {
        conn_close(c);
        return;
    }
    if (c->draining &&
        uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) <= WRITE_QUEUE_MAX / 2) {
        c->draining = 0;
        conn_continue(c);
    }
}

static void wire_write(struct conn *c, struct write_req *wr, size_t len)
{
    uv_buf_t b = uv_buf_init(wr->data, (unsigned)len);
    if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(wr);
        conn_close(c);
    }
}

static struct write_req *write_req_new(struct conn *c, size_t len, int close_after)
{
    struct write_req *wr = xmalloc(sizeof(*wr) + len);
    wr->conn = c;
    wr->close_after = close_after;
    return wr;
}

/* Send the ciphertext the TLS session has ready (handshake records, alerts, data). */
static void tls_flush(struct conn *c, int close_after)
{
    size_t len = tls_conn_pending(c->tls);
    if (len == 0) {
        if (close_after)
            conn_close(c);
        return;
    }
    struct write_req *wr = write_req_new(c, len, close_after);
    tls_conn_take(c->tls, wr->data, len);
    wire_write(c, wr, len);
}

/* Queue bytes on the connection: as they are, or encrypted on a TLS connection. */
static void conn_send(struct conn *c, const char *data, size_t len, int close_after)
{
    if (c->closing)
        return;
    if (c->tls != NULL) {
        int rc = tls_conn_write(c->tls, data, len);
        /* An answer after the closing one (a parse error seen again in bytes read with it):
         * the connection ends with the first, already queued. */
        if (rc == TLS_CLOSED)
            return;
        if (rc != 0) {
            log_info("event=tls_write_failed reason=\"%s\"", tls_conn_why(c->tls));
            conn_close(c);
            return;
        }
        if (close_after)
            tls_conn_shutdown(c->tls); /* close_notify goes out with the last answer */
        tls_flush(c, close_after);
        return;
    }
    struct write_req *wr = write_req_new(c, len, close_after);
    memcpy(wr->data, data, len);
    wire_write(c, wr, len);
}

static void count_request(struct relay *r, enum endpoint ep, int status, uint64_t start_ns)
{
    size_t slot = CODE_SLOTS;
    for (size_t i = 0; i < CODE_SLOTS; i++)
        if (counted_codes[i] == status)
            slot = i;
    r->ctr.requests[ep][slot]++;
    hist_observe(&r->ctr.duration,
                 start_ns ? (double)(clock_monotonic_ns() - start_ns) / 1e9 : 0);
}

/* The body's bytes no longer count toward the relay's pending total. */
static void req_release_body(struct conn *c)
{
    c->relay->pending_bytes -= c->req.body_counted;
    c->req.body_counted = 0;
}

static void req_reset(struct http_req *q)
{
    buf_clear(&q->url);
    buf_clear(&q->auth);
    buf_clear(&q->fwd);
    buf_clear(&q->field);
    buf_clear(&q->value);
    /* A large body's memory goes back after the request; small ones keep their buffer. */
    if (q->body.cap > 1024 * 1024)
        buf_deinit(&q->body);
    buf_clear(&q->body);
    if (q->norm.cap > 1024 * 1024)
        buf_deinit(&q->norm);
    buf_clear(&q->norm);
    buf_deinit(&q->inflated);
    lp_result_deinit(&q->lp);
    lp_result_init(&q->lp);
    q->path_len = 0;
    q->gzip = q->bad_encoding = q->expect_continue = q->forwarded = 0;
    q->header_bytes = 0;
    q->start_ns = q->recv_ns = 0;
    q->ep = EP_OTHER;
    q->content_type = NULL;
}

void http_respond(struct conn *c, int status, const char *headers, const char *body,
                  size_t body_len)
{
    struct relay *r = c->relay;
    IWR_ASSERT(c->busy);
    count_request(r, c->req.ep, status, c->req.start_ns);
    int close_after = !c->keep_alive || r->shutting_down;
    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Request-Id: %016llx\r\n"
                     "X-Influxdb-Version: 1.8.10\r\n"
                     "X-Influxdb-Build: OSS\r\n"
                     "%s"
                     "%s"
                     "Content-Length: %zu\r\n\r\n",
                     status, reason_of(status),
                     c->req.content_type ? c->req.content_type : "application/json",
                     (unsigned long long)c->req.start_ns,
                     close_after ? "Connection: close\r\n" : "", headers ? headers : "",
                     (c->req.method == HTTP_HEAD || status == 204) ? (size_t)0 : body_len);
    if (n < 0 || (size_t)n >= sizeof(head))
        n = snprintf(head, sizeof(head), "HTTP/1.1 500 Internal Server Error\r\n"
                                         "Content-Length: 0\r\nConnection: close\r\n\r\n");
    int with_body = c->req.method != HTTP_HEAD && status != 204 && body_len > 0;
    if (with_body && body_len < 16384) {
        char *all = xmalloc((size_t)n + body_len);
        memcpy(all, head, (size_t)n);
        memcpy(all + n, body, body_len);
        conn_send(c, all, (size_t)n + body_len, close_after);
        free(all);
    } else {
        conn_send(c, head, (size_t)n, close_after && !with_body);
        if (with_body)
            conn_send(c, body, body_len, close_after);
    }
    c->busy = 0;
    req_release_body(c);
    req_reset(&c->req);
    if (close_after)
        return;
    /* A client that pipelines requests and does not read the answers must not make them pile
     * up in memory: past the bound its next requests wait (unread) until the kernel took most
     * of the queue (on_written), and the idle timeout ends a client that never reads. */
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > WRITE_QUEUE_MAX)
        c->draining = 1;
    conn_continue(c);
}

void http_send_raw(struct conn *c, const char *data, size_t len)
{
    conn_send(c, data, len, 0);
}

static void on_shutdown(uv_shutdown_t *sr, int status)
{
    struct conn *c = sr->data;
    (void)status;
    free(sr);
    conn_close(c);
}

void http_end_raw(struct conn *c, int status)
{
    IWR_ASSERT(c->busy);
    count_request(c->relay, c->req.ep, status, c->req.start_ns);
    c->busy = 0;
    req_release_body(c);
    req_reset(&c->req);
    if (c->closing)
        return;
    /* The answer's framing was the backend's: end the connection once it is flushed. */
    if (c->tls != NULL) {
        tls_conn_shutdown(c->tls);
        tls_flush(c, 0);
        if (c->closing)
            return;
    }
    uv_shutdown_t *sr = xmalloc(sizeof(*sr));
    sr->data = c;
    if (uv_shutdown(sr, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        free(sr);
        conn_close(c);
    }
}

void http_respond_error_hdr(struct conn *c, int status, const char *headers, const char *msg,
                           size_t msg_len)
{
    struct buf b;
    buf_init(&b);
    buf_append_str(&b, "{\"error\":\"");
    buf_append_json_str(&b, msg, msg_len);
    buf_append_str(&b, "\"}\n");
    http_respond(c, status, headers, b.data, b.len);
    buf_deinit(&b);
}

void http_respond_error(struct conn *c, int status, const char *msg, size_t msg_len)
{
    http_respond_error_hdr(c, status, NULL, msg, msg_len);
}

/* An answer outside the request cycle (a parse error, a limit): sent, then the connection
 * closes. */
static void conn_fail(struct conn *c, int status, const char *msg)
{
    if (c->closing)
        return;
    if (!c->busy) {
        c->busy = 1;
        c->keep_alive = 0;
        if (c->req.start_ns == 0)
            c->req.start_ns = clock_monotonic_ns();
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
        if (status != 413 || !write_gen_too_large(c, &c->req))
            http_respond_error(c, status, msg, strlen(msg));
    }
}

/* ---- timers ------------------------------------------------------------------------------- */

static void on_timer(uv_timer_t *t)
{
    struct conn *c = t->data;
    if (c->busy || c->closing)
        return; /* the answer is on its way: the commit always completes */
    if (c->in_request) {
        log_info("event=request_timeout peer_fd=%d", (int)c->tcp.io_watcher.fd);
        conn_fail(c, 408, "request timeout");
    } else {
        if (c->tls != NULL && !tls_conn_established(c->tls)) {
            c->relay->ctr.tls_handshake_failures_total++;
            log_info("event=tls_failed peer_fd=%d handshake_done=0 reason=\"handshake timeout\"",
                     (int)c->tcp.io_watcher.fd);
        }
        conn_close(c); /* idle keep-alive connection, or a handshake past its deadline */
    }
}

static void arm_idle(struct conn *c)
{
    uint64_t ms = c->relay->cfg_limits.idle_timeout_ms;
    if (ms > 0)
        uv_timer_start(&c->timer, on_timer, ms, 0);
    else
        uv_timer_stop(&c->timer);
}

static void arm_read_deadline(struct conn *c)
{
    uint64_t ms = c->relay->cfg_limits.read_timeout_ms;
    if (ms > 0)
        uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* ---- llhttp callbacks --------------------------------------------------------------------- */

static struct conn *conn_of(llhttp_t *p)
{
    return p->data;
}

static int header_room(struct conn *c, size_t len)
{
    c->req.header_bytes += len;
    if (c->req.header_bytes > c->relay->cfg_limits.max_header_bytes) {
        c->fail_status = 431;
        return HPE_USER;
    }
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    struct conn *c = conn_of(p);
    req_release_body(c);
    req_reset(&c->req);
    c->in_request = 1;
    c->req.start_ns = clock_monotonic_ns();
    arm_read_deadline(c);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = conn_of(p);
    if (header_room(c, len))
        return HPE_USER;
    buf_append(&c->req.url, at, len);
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = conn_of(p);
    if (header_room(c, len))
        return HPE_USER;
    buf_append(&c->req.field, at, len);
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = conn_of(p);
    if (header_room(c, len))
        return HPE_USER;
    buf_append(&c->req.value, at, len);
    return 0;
}

static int field_is(const struct buf *f, const char *name)
{
    size_t n = strlen(name);
    return f->len == n && strncasecmp(f->data, name, n) == 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct conn *c = conn_of(p);
    struct http_req *q = &c->req;
    struct buf *v = &q->value;
    if (field_is(&q->field, "authorization")) {
        buf_clear(&q->auth);
        buf_append(&q->auth, v->data, v->len);
    } else if (field_is(&q->field, "content-encoding")) {
        if (v->len == 4 && strncasecmp(v->data, "gzip", 4) == 0)
            q->gzip = 1;
        else if (!(v->len == 8 && strncasecmp(v->data, "identity", 8) == 0) && v->len > 0)
            q->bad_encoding = 1;
    } else if (field_is(&q->field, "expect")) {
        q->expect_continue = v->len == 12 && strncasecmp(v->data, "100-continue", 12) == 0;
    } else if (field_is(&q->field, "x-influx-wal-forwarded")) {
        q->forwarded = 1;
    }
    /* What a proxied /query passes on to the backend. */
    if (field_is(&q->field, "authorization") || field_is(&q->field, "content-type") ||
        field_is(&q->field, "accept") || field_is(&q->field, "accept-encoding")) {
        buf_append(&q->fwd, q->field.data, q->field.len);
        buf_append(&q->fwd, ": ", 2);
        buf_append(&q->fwd, v->data, v->len);
        buf_append(&q->fwd, "\r\n", 2);
    }
    buf_clear(&q->field);
    buf_clear(&q->value);
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct conn *c = conn_of(p);
    struct http_req *q = &c->req;
    q->method = (llhttp_method_t)p->method;
    const char *qm = q->url.len ? memchr(q->url.data, '?', q->url.len) : NULL;
    q->path_len = qm ? (size_t)(qm - q->url.data) : q->url.len;
    /* Refuse an announced oversized body now, before reading it. */
    if ((p->flags & F_CONTENT_LENGTH) &&
        p->content_length > c->relay->cfg_limits.max_body_bytes) {
        c->fail_status = 413;
        return -1;
    }
    if (q->expect_continue) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        conn_send(c, cont, sizeof(cont) - 1, 0);
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = conn_of(p);
    struct relay *r = c->relay;
    if (c->req.body.len + len > r->cfg_limits.max_body_bytes) {
        c->fail_status = 413;
        return HPE_USER;
    }
    /* Memory is bounded per request above and for all clients together here: many clients
     * each holding a large body must not add up past the limit. */
    if (r->pending_bytes + len > r->cfg_limits.max_pending_bytes) {
        c->fail_status = 503;
        return HPE_USER;
    }
    buf_append(&c->req.body, at, len);
    r->pending_bytes += len;
    c->req.body_counted += len;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct conn *c = conn_of(p);
    c->in_request = 0;
    c->busy = 1;
    c->keep_alive = llhttp_should_keep_alive(p);
    uv_timer_stop(&c->timer);
    /* Handle it after llhttp_execute returns: pausing keeps the bytes after it for later. */
    return HPE_PAUSED;
}

/* ---- reading and parsing ---------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct conn *c = h->data;
    (void)suggested;
    if (c->rbuf == NULL)
        c->rbuf = xmalloc(READ_CHUNK);
    *b = uv_buf_init(c->rbuf, READ_CHUNK);
}

/* Parse 'data'; returns the number of bytes consumed. Dispatches a complete request. */
static size_t conn_parse(struct conn *c, const char *data, size_t len)
{
    llhttp_errno_t e = llhttp_execute(&c->parser, data, len);
    if (e == HPE_OK)
        return len;
    if (e == HPE_PAUSED) {
        const char *pos = llhttp_get_error_pos(&c->parser);
        size_t used = pos ? (size_t)(pos - data) : len;
        llhttp_resume(&c->parser);
        c->req.recv_ns = wal_now_ns();
        relay_route(c, &c->req);
        return used;
    }
    /* A limit our callbacks enforced, else llhttp's own reason: either way the stream cannot
     * be trusted past this point, so the answer closes the connection. */
    const char *reason = llhttp_get_error_reason(&c->parser);
    if (c->fail_status == 431)
        conn_fail(c, 431, "request header fields too large");
    else if (c->fail_status == 413)
        conn_fail(c, 413, "Request Entity Too Large");
    else if (c->fail_status == 503)
        conn_fail(c, 503, "too much request data pending on this relay; retry later");
    else
        conn_fail(c, 400, reason && *reason ? reason : llhttp_errno_name(e));
    return len;
}

static void start_reading(struct conn *c);

/* What follows parsing: a request waits for its answer (stop reading), or the connection is
 * between requests (idle timer) or inside one (its read deadline is already armed). */
static void conn_settle(struct conn *c)
{
    if (c->closing)
        return;
    if (c->busy || c->draining) {
        if (c->reading)
            uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
        if (c->draining && !c->busy && !c->in_request)
            arm_idle(c);
        return;
    }
    if (c->pending.cap > READ_CHUNK && c->pending.len == 0)
        buf_deinit(&c->pending);
    if (!c->in_request) {
        if (c->relay->shutting_down) {
            conn_close(c);
            return;
        }
        arm_idle(c);
    }
    start_reading(c);
}

/* Parse the bytes pending from earlier reads until a request waits or they run out. Handlers
 * may answer synchronously, which calls back into here: 'pumping' keeps one loop in charge. */
static void conn_pump(struct conn *c)
{
    c->pumping = 1;
    while (!c->busy && !c->draining && !c->closing && c->pending.len > 0) {
        size_t used = conn_parse(c, c->pending.data, c->pending.len);
        memmove(c->pending.data, c->pending.data + used, c->pending.len - used);
        c->pending.len -= used;
    }
    c->pumping = 0;
}

static void conn_continue(struct conn *c)
{
    if (c->pumping)
        return; /* the loop below us goes on parsing */
    conn_pump(c);
    conn_settle(c);
}

/* The client sent its last byte (EOF, a read error, or TLS close_notify). */
static void conn_input_end(struct conn *c)
{
    /* A client that half-closes after its request still gets its answer. */
    if (c->busy || c->draining) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    } else {
        conn_close(c);
    }
}

/* Plaintext from the client, in 'data' (the read buffer). */
static void conn_input(struct conn *c, const char *data, size_t n)
{
    /* Parse straight from the read buffer; only what a waiting request leaves is copied. */
    c->pumping = 1;
    size_t off = 0;
    if (c->pending.len > 0) {
        buf_append(&c->pending, data, n);
        off = n;
    }
    while (off < n && !c->busy && !c->draining && !c->closing)
        off += conn_parse(c, data + off, n - off);
    if (off < n && !c->closing)
        buf_append(&c->pending, data + off, n - off);
    c->pumping = 0;
    conn_continue(c);
}

/* 'n' bytes of ciphertext in the read buffer: hand them to the session, then decrypt into the
 * same buffer (the session copied them) until it needs more. All the plaintext one read gives
 * is taken at once, into 'pending' while a request waits, so nothing is left inside OpenSSL
 * for a later read that might never come; one read is at most READ_CHUNK, so this stays
 * bounded like the plain path. */
static void tls_input(struct conn *c, size_t n)
{
    struct relay *r = c->relay;
    int was_established = tls_conn_established(c->tls);
    tls_conn_feed(c->tls, c->rbuf, n);
    for (;;) {
        int m = tls_conn_read(c->tls, c->rbuf, READ_CHUNK);
        if (!was_established && tls_conn_established(c->tls)) {
            was_established = 1;
            r->ctr.tls_handshakes_total++;
            arm_idle(c); /* the handshake deadline is over; requests have their own */
        }
        if (m > 0) {
            conn_input(c, c->rbuf, (size_t)m);
            if (c->closing)
                return;
            continue;
        }
        if (m == TLS_WANT) {
            tls_flush(c, 0);
            return;
        }
        if (m == TLS_CLOSED) {
            tls_flush(c, 0);
            if (!c->closing)
                conn_input_end(c);
            return;
        }
        if (!was_established)
            r->ctr.tls_handshake_failures_total++;
        log_info("event=tls_failed peer_fd=%d handshake_done=%d reason=\"%s\"",
                 (int)c->tcp.io_watcher.fd, was_established, tls_conn_why(c->tls));
        /* The alert OpenSSL prepared goes out if the socket takes it now; no HTTP answer. */
        size_t alen = tls_conn_pending(c->tls);
        if (alen > 0 && alen <= 1024) {
            char alert[1024];
            tls_conn_take(c->tls, alert, alen);
            uv_buf_t ab = uv_buf_init(alert, (unsigned)alen);
            uv_try_write((uv_stream_t *)&c->tcp, &ab, 1);
        }
        conn_close(c);
        return;
    }
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = s->data;
    (void)b;
    if (n < 0) {
        if (n != UV_EOF)
            log_debug("event=conn_read_error err=\"%s\"", uv_strerror((int)n));
        conn_input_end(c);
        return;
    }
    if (n == 0)
        return;
    if (c->tls != NULL)
        tls_input(c, (size_t)n);
    else
        conn_input(c, c->rbuf, (size_t)n);
}

static void start_reading(struct conn *c)
{
    if (c->reading || c->closing)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = 1;
    else
        conn_close(c);
}

/* ---- connection lifetime ------------------------------------------------------------------ */

static void conn_free(struct conn *c)
{
    struct relay *r = c->relay;
    if (c->prev)
        c->prev->next = c->next;
    else
        r->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    r->n_conns--;
    req_release_body(c);
    buf_deinit(&c->req.url);
    buf_deinit(&c->req.auth);
    buf_deinit(&c->req.fwd);
    buf_deinit(&c->req.field);
    buf_deinit(&c->req.value);
    buf_deinit(&c->req.body);
    buf_deinit(&c->req.norm);
    buf_deinit(&c->req.inflated);
    lp_result_deinit(&c->req.lp);
    buf_deinit(&c->pending);
    tls_conn_free(c->tls);
    free(c->rbuf);
    free(c);
    if (r->shutting_down && r->n_conns == 0 && r->servers_open == 0 && r->shutdown_done) {
        void (*done)(void *) = r->shutdown_done;
        r->shutdown_done = NULL;
        done(r->shutdown_arg);
    }
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (--c->handles_open == 0 && !c->waiting_wal)
        conn_free(c);
}

/* Close both handles; the struct goes when both closed and no append refers to it. */
static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (c->tls != NULL && tls_conn_established(c->tls)) {
        /* close_notify, if it was not sent with the last answer and the socket takes it now:
         * closing the handle cancels queued writes, so this one cannot wait. */
        tls_conn_shutdown(c->tls);
        size_t len = tls_conn_pending(c->tls);
        if (len > 0 && len <= 1024) {
            char note[1024];
            tls_conn_take(c->tls, note, len);
            uv_buf_t nb = uv_buf_init(note, (unsigned)len);
            uv_try_write((uv_stream_t *)&c->tcp, &nb, 1);
        }
    }
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
}

void conn_release_after_wal(struct conn *c)
{
    c->waiting_wal = 0;
    if (c->closing && c->handles_open == 0)
        conn_free(c);
}

int conn_peer_gone(struct conn *c)
{
    if (c->closing)
        return 1;
    /* Reading is stopped while a request is handled, so a reset is found by asking the socket:
     * a peek reports the pending error without taking any bytes a pipelining client sent. */
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0)
        return 0;
    char probe;
    ssize_t n = recv(fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return 0;
    log_debug("event=conn_peer_gone err=\"%s\"", strerror(errno));
    conn_close(c);
    return 1;
}

/* A new connection: accepted from 'server', or adopted from 'fd' when server is NULL; TLS on
 * context 't' unless it is NULL. */
static void conn_start(struct relay *r, uv_stream_t *server, int fd, struct tls_ctx *t)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->relay = r;
    uv_tcp_init(r->loop, &c->tcp);
    uv_timer_init(r->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles_open = 2;
    c->next = r->conns;
    if (r->conns)
        r->conns->prev = c;
    r->conns = c;
    r->n_conns++;
    if ((server ? uv_accept(server, (uv_stream_t *)&c->tcp) : uv_tcp_open(&c->tcp, fd)) != 0) {
        conn_close(c);
        return;
    }
    llhttp_init(&c->parser, HTTP_REQUEST, &r->settings);
    c->parser.data = c;
    c->req.ep = EP_OTHER;
    uv_tcp_nodelay(&c->tcp, 1);
    r->ctr.connections_total++;
    if (t != NULL && (r->n_conns > r->cfg_limits.max_connections || r->shutting_down)) {
        /* An answer would need a handshake first, which is the cost being refused: close. */
        r->ctr.connections_refused_total++;
        conn_close(c);
        return;
    }
    if (r->n_conns > r->cfg_limits.max_connections || r->shutting_down) {
        /* Refused cleanly: one answer, then close, so the client knows to back off. */
        r->ctr.connections_refused_total++;
        c->refused = 1;
        c->busy = 1;
        c->keep_alive = 0;
        c->req.start_ns = clock_monotonic_ns();
        static const char msg[] = "too many open connections";
        http_respond_error(c, 503, msg, sizeof(msg) - 1);
        return;
    }
    if (t != NULL) {
        c->tls = tls_conn_new(t);
        arm_read_deadline(c); /* the handshake's deadline: half-open ones do not linger */
    } else {
        arm_idle(c);
    }
    start_reading(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0) {
        log_warn("event=accept_failed err=\"%s\"", uv_strerror(status));
        return;
    }
    struct relay *r = server->data;
    size_t i = (size_t)((uv_tcp_t *)server - r->servers);
    IWR_ASSERT(i < r->n_servers);
    conn_start(r, server, -1, r->server_tls[i]);
}

void relay_adopt_fd(struct relay *r, int fd)
{
    conn_start(r, NULL, fd, NULL);
}

int relay_listen_tcp(struct relay *r, const char *hostport, uv_tcp_t *server)
{
    char host[256];
    int port;
    if (hostport_parse(hostport, host, sizeof(host), &port, NULL) != 0)
        return IWR_EINVAL;
    struct sockaddr_storage ss;
    int rc = strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)
                               : uv_ip4_addr(host[0] ? host : "0.0.0.0", port,
                                             (struct sockaddr_in *)&ss);
    if (rc == 0)
        rc = uv_tcp_init(r->loop, server);
    if (rc != 0)
        return rc;
    server->data = r;
    r->servers_open++;
    rc = uv_tcp_bind(server, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)server, 511, on_connection);
    if (rc != 0)
        log_error("event=listen_failed addr=%s err=\"%s\"", hostport, uv_strerror(rc));
    else
        log_info("event=listening proto=%s addr=%s",
                 r->server_tls != NULL && r->server_tls[server - r->servers] ? "https" : "http",
                 hostport);
    return rc;
}

#define SHUTDOWN_GRACE_MS 2000

void relay_close_idle(struct relay *r)
{
    for (struct conn *c = r->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (c->busy)
            continue; /* answered after its commit, then closed */
        if (!c->in_request)
            conn_close(c);
        else if (!uv_is_active((uv_handle_t *)&c->timer) ||
                 uv_timer_get_due_in(&c->timer) > SHUTDOWN_GRACE_MS)
            /* A request still arriving gets a short grace to finish, then 408: a slow client
             * cannot hold the stop past its bound. */
            uv_timer_start(&c->timer, on_timer, SHUTDOWN_GRACE_MS, 0);
    }
}

void relay_http_settings(llhttp_settings_t *s)
{
    llhttp_settings_init(s);
    s->on_message_begin = on_message_begin;
    s->on_url = on_url;
    s->on_header_field = on_header_field;
    s->on_header_value = on_header_value;
    s->on_header_value_complete = on_header_value_complete;
    s->on_headers_complete = on_headers_complete;
    s->on_body = on_body;
    s->on_message_complete = on_message_complete;
}
