/* Reads passed on to one backend (the daemon's GET|POST /query): a one-off transfer on the
 * engine's multi handle to that backend's URL, with its TLS options and timeouts but never its
 * credentials (replay_query_own, for the daemon's own queries such as the background scrub,
 * sends them instead), whose answer streams back through the caller's callbacks (pausable, so a slow
 * client never makes us hold the whole answer). Loop thread only. */
#include "replay/replay_int.h"

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <strings.h>
#include <string.h>

/* Builds outside the Makefile (test tools) have no version. */
#ifdef IWR_VERSION
#define QUERY_USER_AGENT "influx-wal-relay/" IWR_VERSION
#else
#define QUERY_USER_AGENT "influx-wal-relay"
#endif

struct replay_query {
    struct request *req;
    struct replay_query_cbs cb;
    void *arg;
    struct curl_slist *headers;
    struct buf head;  /* the answer's headers worth passing on, "Name: value\r\n" each */
    int head_sent;
    int pause_wanted; /* the caller asked for a pause: the next piece waits */
    int paused;       /* curl holds the piece it offered last */
    int aborted;      /* the caller returned -1 */
};

/* What the caller gets of the answer's headers: what says what the body is, and what
 * InfluxDB says about itself. Hop-by-hop and framing headers (Connection, Transfer-Encoding)
 * are the caller's own business. */
static const char *const passed_on[] = {
    "Content-Type",       "Content-Encoding", "Content-Length",   "Date",
    "Request-Id",         "X-Request-Id",     "X-Influxdb-Version", "X-Influxdb-Build",
    "X-Influxdb-Error",   "WWW-Authenticate",
};

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct replay_query *x = arg;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        buf_clear(&x->head); /* a new answer (after a 100 Continue): start over */
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (colon == NULL)
        return len;
    size_t name = (size_t)(colon - p);
    for (size_t i = 0; i < sizeof(passed_on) / sizeof(passed_on[0]); i++) {
        if (strlen(passed_on[i]) != name || strncasecmp(p, passed_on[i], name) != 0)
            continue;
        size_t end = len;
        while (end > name && (p[end - 1] == '\r' || p[end - 1] == '\n'))
            end--;
        /* Bounded: curl refuses header blocks over 100 KiB (CURL_MAX_HTTP_HEADER). */
        buf_append(&x->head, p, end);
        buf_append(&x->head, "\r\n", 2);
        break;
    }
    return len;
}

static void send_head(struct request *q)
{
    struct replay_query *x = q->query;
    if (x->head_sent)
        return;
    x->head_sent = 1;
    long status = 0;
    curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
    x->cb.head(x->arg, status, x->head.data != NULL ? x->head.data : "", x->head.len);
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct request *q = arg;
    struct replay_query *x = q->query;
    size_t len = size * n;
    if (x->pause_wanted) {
        x->pause_wanted = 0;
        x->paused = 1;
        return CURL_WRITEFUNC_PAUSE; /* curl offers this piece again on resume */
    }
    send_head(q);
    int rc = x->cb.data(x->arg, p, len);
    if (rc < 0) {
        x->aborted = 1;
        return 0; /* less than offered: curl ends the transfer with CURLE_WRITE_ERROR */
    }
    if (rc > 0)
        x->pause_wanted = 1;
    return len;
}

static void query_free(struct request *q)
{
    struct replay_query *x = q->query;
    curl_slist_free_all(x->headers);
    buf_deinit(&x->head);
    free(x);
    request_free(q);
}

/* The caller's "Name: value\r\n" lines as a curl header list. */
static struct curl_slist *header_list(const char *h, size_t len)
{
    /* No "Expect: 100-continue" round trip before a large POST body. */
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    IWR_ASSERT(list != NULL); /* only fails out of memory */
    while (len > 0) {
        const char *eol = memmem(h, len, "\r\n", 2);
        size_t n = eol != NULL ? (size_t)(eol - h) : len;
        if (n > 0) {
            char *line = xstrndup(h, n);
            struct curl_slist *l = curl_slist_append(list, line);
            IWR_ASSERT(l != NULL);
            list = l;
            free(line);
        }
        size_t step = eol != NULL ? n + 2 : n;
        h += step;
        len -= step;
    }
    return list;
}

/* replay_query and replay_query_own: 'own' says whose credentials go, the caller's (in its
 * headers and target) or the backend's configured ones. */
static int query_start(struct replay *r, const struct replay_query_req *in, int own,
                       const struct replay_query_cbs *cb, void *arg, struct replay_query **out)
{
    if (r->stopping)
        return IWR_ESTOPPED;
    struct sender *s = r->senders;
    while (s != NULL && strcmp(s->conf->name, in->backend) != 0)
        s = s->next;
    if (s == NULL)
        return IWR_ENOTFOUND;
    return query_start_conf(r, s->conf, in, own, cb, arg, out);
}

int query_start_conf(struct replay *r, struct sender_conf *c, const struct replay_query_req *in,
                     int own, const struct replay_query_cbs *cb, void *arg,
                     struct replay_query **out)
{
    if (r->stopping)
        return IWR_ESTOPPED;
    struct replay_query *x = xcalloc(1, sizeof(*x));
    x->cb = *cb;
    x->arg = arg;
    buf_init(&x->head);
    x->headers = header_list(in->headers, in->headers_len);
    if (own && c->token != NULL) {
        struct buf h;
        buf_init(&h);
        /* As the writes send it (conf.c): 3.x documents Bearer for every endpoint. */
        buf_printf(&h, "Authorization: %s %s", c->api == REPLAY_API_V3 ? "Bearer" : "Token",
                   c->token);
        buf_append(&h, "", 1);
        struct curl_slist *l = curl_slist_append(x->headers, h.data);
        IWR_ASSERT(l != NULL);
        x->headers = l;
        buf_deinit(&h);
    }

    /* The caller's own credentials: the display URL, the base without any user:password@, so
     * curl has none of the backend's to send; only the caller's (its Authorization header, u/p
     * in target). The backend's own: its URL as configured (curl sends a user:password@ in it),
     * then its username and password, or its token (above). */
    struct buf url;
    buf_init(&url);
    buf_append_str(&url, own ? c->url : c->display_url);
    buf_append(&url, in->target, in->target_len);
    buf_append(&url, "", 1);

    struct request *q = request_alloc(r, c, REQ_QUERY, url.data);
    buf_deinit(&url);
    q->query = x;
    x->req = q;
    CURL *e = q->easy;
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(e, CURLOPT_USERAGENT, QUERY_USER_AGENT);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    request_set_auth_tls(e, c, own);
    if (in->post || in->body_len > 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)in->body_len);
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, in->body_len > 0 ? in->body : "");
        if (!in->post)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "GET"); /* a GET with a body, as sent */
    }
    q->next = r->queries;
    r->queries = q;
    *out = x;
    replay_add_request(r, q);
    return 0;
}

int replay_query(struct replay *r, const struct replay_query_req *q,
                 const struct replay_query_cbs *cb, void *arg, struct replay_query **out)
{
    return query_start(r, q, 0, cb, arg, out);
}

int replay_query_own(struct replay *r, const struct replay_query_req *q,
                     const struct replay_query_cbs *cb, void *arg, struct replay_query **out)
{
    return query_start(r, q, 1, cb, arg, out);
}

void replay_query_resume(struct replay_query *x)
{
    x->pause_wanted = 0;
    if (!x->paused)
        return;
    x->paused = 0;
    curl_easy_pause(x->req->easy, CURLPAUSE_CONT);
}

void query_request_done(struct request *q, CURLcode result, long http_status)
{
    struct replay_query *x = q->query;
    (void)http_status;
    if (result == CURLE_OK) {
        send_head(q); /* an answer without a body */
        x->cb.done(x->arg, 0, NULL);
    } else if (x->aborted) {
        x->cb.done(x->arg, 499, "the client went away");
    } else {
        const char *err = q->errbuf[0] ? q->errbuf : curl_easy_strerror(result);
        int rc = result == CURLE_OPERATION_TIMEDOUT ? 504 : 502;
        char quoted[300];
        log_quote(quoted, sizeof(quoted), err, strlen(err));
        log_warn("event=query_failed backend=%s curl=%d err=%s", q->conf->name, (int)result,
                 quoted);
        x->cb.done(x->arg, rc, rc == 504 ? "backend did not answer the query in time" : err);
    }
    query_free(q);
}

void query_abort_all(struct replay *r)
{
    while (r->queries != NULL) {
        struct request *q = r->queries;
        struct replay_query *x = q->query;
        replay_detach_request(r, q);
        x->cb.done(x->arg, 503, "the relay is stopping");
        query_free(q);
    }
}
