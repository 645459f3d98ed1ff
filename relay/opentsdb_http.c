/* OpenTSDB over HTTP on a stream listener's connection (see opentsdb_http.h): llhttp parses
 * the requests, opentsdb.c converts the bodies, lp_normalize checks the result, and the sink
 * appends it outside its batch so the answer can wait for the commit. Loop thread only. */
#include "relay/opentsdb_http.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "relay/lineproto.h"
#include "relay/opentsdb.h"
#include "relay/relay_int.h"
#include "relay/stream.h"

#include <llhttp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct put_req;

struct tsdb_http {
    struct relay *relay;
    struct stream_sink *sink;
    struct tsdb_http_io io;
    llhttp_t parser;
    llhttp_settings_t settings;
    struct buf url, hfield, hvalue, body, inflated, conv, norm, rest;
    int gzip;
    int ce_seen; /* the first Content-Encoding only, as Go's Header.Get */
    int too_large;
    int busy;
    int keep_alive;
    struct put_req *inflight;
};

/* A /api/put waiting for its commit; 'h' is NULL once the connection went away. */
struct put_req {
    struct tsdb_http *h;
};

static struct tsdb_http *http_of(llhttp_t *p)
{
    return p->data;
}

static void respond(struct tsdb_http *h, int status, const char *text)
{
    const char *reason = status == 204   ? "No Content"
                         : status == 400 ? "Bad Request"
                         : status == 404 ? "Not Found"
                         : status == 405 ? "Method Not Allowed"
                         : status == 413 ? "Request Entity Too Large"
                         : status == 503 ? "Service Unavailable"
                                         : "Internal Server Error";
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "HTTP/1.1 %d %s\r\n", status, reason);
    if (status == 503)
        buf_append_str(&b, "Retry-After: 5\r\n");
    if (text != NULL) {
        /* Go's http.Error: the text and a newline, as plain text. */
        buf_printf(&b,
                   "Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n"
                   "Content-Length: %zu\r\n\r\n%s\n",
                   strlen(text) + 1, text);
    } else if (status != 204) {
        buf_append_str(&b, "Content-Length: 0\r\n\r\n");
    } else {
        buf_append_str(&b, "\r\n");
    }
    h->io.send(h->io.arg, b.data, b.len, !h->keep_alive || h->too_large);
    buf_deinit(&b);
}

static int on_message_begin(llhttp_t *p)
{
    struct tsdb_http *h = http_of(p);
    buf_clear(&h->url);
    buf_clear(&h->body);
    buf_clear(&h->hfield);
    buf_clear(&h->hvalue);
    h->gzip = h->ce_seen = 0;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    struct tsdb_http *h = http_of(p);
    if (h->url.len + n > 8192)
        return HPE_USER;
    buf_append(&h->url, at, n);
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct tsdb_http *h = http_of(p);
    if (h->hfield.len + n > 8192)
        return HPE_USER;
    buf_append(&h->hfield, at, n);
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct tsdb_http *h = http_of(p);
    if (h->hvalue.len + n > 8192)
        return HPE_USER;
    buf_append(&h->hvalue, at, n);
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct tsdb_http *h = http_of(p);
    if (!h->ce_seen && h->hfield.len == 16 &&
        strncasecmp(h->hfield.data, "Content-Encoding", 16) == 0) {
        h->ce_seen = 1;
        h->gzip = h->hvalue.len == 4 && memcmp(h->hvalue.data, "gzip", 4) == 0;
    }
    buf_clear(&h->hfield);
    buf_clear(&h->hvalue);
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    struct tsdb_http *h = http_of(p);
    if (h->body.len + n > h->relay->cfg_limits.max_body_bytes) {
        h->too_large = 1;
        return HPE_USER;
    }
    buf_append(&h->body, at, n);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct tsdb_http *h = http_of(p);
    h->keep_alive = llhttp_should_keep_alive(p);
    return HPE_PAUSED;
}

struct tsdb_http *tsdb_http_new(struct relay *r, struct stream_sink *sink,
                                const struct tsdb_http_io *io)
{
    struct tsdb_http *h = xcalloc(1, sizeof(*h));
    h->relay = r;
    h->sink = sink;
    h->io = *io;
    llhttp_settings_init(&h->settings);
    h->settings.on_message_begin = on_message_begin;
    h->settings.on_url = on_url;
    h->settings.on_header_field = on_header_field;
    h->settings.on_header_value = on_header_value;
    h->settings.on_header_value_complete = on_header_value_complete;
    h->settings.on_body = on_body;
    h->settings.on_message_complete = on_message_complete;
    llhttp_init(&h->parser, HTTP_REQUEST, &h->settings);
    h->parser.data = h;
    buf_init(&h->url);
    buf_init(&h->hfield);
    buf_init(&h->hvalue);
    buf_init(&h->body);
    buf_init(&h->inflated);
    buf_init(&h->conv);
    buf_init(&h->norm);
    buf_init(&h->rest);
    return h;
}

static void request_over(struct tsdb_http *h)
{
    h->busy = 0;
    h->io.hold(h->io.arg, 0);
    if (h->rest.len > 0 && h->keep_alive) {
        struct buf more = h->rest;
        buf_init(&h->rest);
        tsdb_http_feed(h, more.data, more.len);
        buf_deinit(&more);
    }
}

static void put_done(void *arg, int rc)
{
    struct put_req *pr = arg;
    struct tsdb_http *h = pr->h;
    free(pr);
    if (h == NULL)
        return;
    h->inflight = NULL;
    if (rc == 0)
        respond(h, 204, NULL);
    else if (iwr_is_full(rc))
        respond(h, 503, "write-ahead log is full, retry later");
    else
        respond(h, 500, "internal error: write not committed");
    request_over(h);
}

/* influxd's servePut, then the commit. Returns 1 when the answer waits for the commit. */
static int serve_put(struct tsdb_http *h)
{
    struct stream_stats *st = stream_sink_stats(h->sink);
    const char *body = h->body.data ? h->body.data : "";
    size_t len = h->body.len;
    const char *why = NULL;
    if (h->gzip) {
        buf_clear(&h->inflated);
        int zrc =
            gzip_inflate(body, len, h->relay->cfg_limits.max_inflated_bytes, &h->inflated, &why);
        if (zrc == IWR_EFULL) {
            respond(h, 413, "Request Entity Too Large");
            return 0;
        }
        if (zrc != 0) {
            char text[160];
            snprintf(text, sizeof(text), "could not read gzip, %s",
                     len == 0 ? "EOF"
                     : why    ? why
                              : "gzip: invalid header");
            st->dropped_total[DROP_MALFORMED]++;
            respond(h, 400, text);
            return 0;
        }
        body = h->inflated.data ? h->inflated.data : "";
        len = h->inflated.len;
    }
    size_t points = 0, dropped = 0;
    buf_clear(&h->conv);
    st->lines_total++;
    if (opentsdb_json(body, len, &h->conv, &points, &dropped, &why) != 0) {
        st->dropped_total[DROP_MALFORMED]++;
        stream_sink_log_drop(h->sink, why, body, len);
        respond(h, 400, why);
        return 0;
    }
    st->dropped_total[DROP_MALFORMED] += dropped;
    if (dropped > 0)
        stream_sink_log_drop(h->sink, "a point influxd drops", body, len);
    uint64_t now = wal_now_ns();
    struct lp_result res;
    lp_result_init(&res);
    struct lp_options lo = {.allow_unsigned = 0, .max_errors = 1};
    buf_clear(&h->norm);
    if (h->conv.len > 0)
        lp_normalize(h->conv.data, h->conv.len, LP_NS, (int64_t)now, &lo, &h->norm, &res);
    st->dropped_total[DROP_MALFORMED] += res.rejected;
    size_t kept = res.points;
    lp_result_deinit(&res);
    if (kept == 0) {
        respond(h, 204, NULL);
        return 0;
    }
    struct put_req *pr = xcalloc(1, sizeof(*pr));
    pr->h = h;
    h->inflight = pr;
    stream_sink_append_now(h->sink, h->norm.data, h->norm.len, kept, now, put_done, pr);
    return 1;
}

/* influxd's ServeHTTP. Returns 1 when the answer waits for the commit. */
static int serve(struct tsdb_http *h)
{
    const char *u = h->url.data ? h->url.data : "";
    size_t n = h->url.len;
    const char *q = memchr(u, '?', n);
    size_t path = q ? (size_t)(q - u) : n;
    if (path == 17 && memcmp(u, "/api/metadata/put", 17) == 0) {
        respond(h, 204, NULL);
        return 0;
    }
    if (path != 8 || memcmp(u, "/api/put", 8) != 0) {
        respond(h, 404, "404 page not found");
        return 0;
    }
    if (llhttp_get_method(&h->parser) != HTTP_POST) {
        respond(h, 405, "Method Not Allowed");
        return 0;
    }
    return serve_put(h);
}

void tsdb_http_feed(struct tsdb_http *h, const char *p, size_t n)
{
    while (n > 0) {
        if (h->busy) {
            buf_append(&h->rest, p, n);
            return;
        }
        llhttp_errno_t e = llhttp_execute(&h->parser, p, n);
        if (e == HPE_OK)
            return;
        if (e != HPE_PAUSED) {
            h->keep_alive = 0;
            if (h->too_large)
                respond(h, 413, "Request Entity Too Large");
            else
                respond(h, 400, "malformed HTTP request");
            h->busy = 1; /* nothing more is read; the connection closes once this is sent */
            return;
        }
        const char *pos = llhttp_get_error_pos(&h->parser);
        size_t used = pos ? (size_t)(pos - p) : n;
        llhttp_resume(&h->parser);
        p += used;
        n -= used;
        h->busy = 1;
        h->io.hold(h->io.arg, 1);
        if (serve(h)) {
            buf_append(&h->rest, p, n);
            return;
        }
        h->busy = 0;
        h->io.hold(h->io.arg, 0);
        if (!h->keep_alive)
            return;
    }
}

int tsdb_http_busy(const struct tsdb_http *h)
{
    return h->busy;
}

void tsdb_http_free(struct tsdb_http *h)
{
    if (h->inflight)
        h->inflight->h = NULL;
    buf_deinit(&h->url);
    buf_deinit(&h->hfield);
    buf_deinit(&h->hvalue);
    buf_deinit(&h->body);
    buf_deinit(&h->inflated);
    buf_deinit(&h->conv);
    buf_deinit(&h->norm);
    buf_deinit(&h->rest);
    free(h);
}
