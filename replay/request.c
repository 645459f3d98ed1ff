/* A sender's transfers: building the easy handles for /write, /ping and CREATE DATABASE with
 * the backend's options, freeing them, and handing a finished one to whoever it belongs to
 * (the sender's state machine, or a query). The engine (replay.c) adds them to its multi
 * handle. Loop thread only. */
#include "replay/replay_int.h"

#include "replay/generation.h"

#include "common/err.h"
#include "common/xalloc.h"

#include <string.h>

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct request *q = arg;
    size_t len = size * n;
    if (q->resp.len < q->resp_max) {
        size_t take = q->resp_max - q->resp.len;
        buf_append(&q->resp, p, len < take ? len : take);
    }
    return len; /* the rest is dropped, not an error */
}

struct request *request_alloc(struct replay *r, struct sender_conf *c, enum req_kind kind,
                              const char *url)
{
    struct request *q = xcalloc(1, sizeof(*q));
    q->r = r;
    q->conf = c;
    c->refs++;
    q->kind = kind;
    buf_init(&q->resp);
    q->easy = curl_easy_init();
    IWR_ASSERT(q->easy != NULL); /* only fails out of memory, like xmalloc */
    CURL *e = q->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, q);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    return q;
}

struct request *request_new(struct sender *s, enum req_kind kind, const char *url,
                            uint64_t timeout_ms)
{
    struct sender_conf *c = s->conf;
    struct request *q = request_alloc(s->r, c, kind, url);
    q->s = s;
    q->resp_max = REPLAY_RESP_MAX;
    CURL *e = q->easy;
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    request_set_auth_tls(e, c, 1);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, kind == REQ_WRITE ? c->write_headers : c->ctl_headers);
    q->next = s->reqs;
    s->reqs = q;
    return q;
}

void request_target(const struct sender_conf *c, struct gen_target *t)
{
    *t = (struct gen_target){
        c->api,    c->url, c->org, c->bucket_template, c->database_template, c->accept_partial,
        c->no_sync};
}

struct request *request_write(struct sender *s, struct batch *b)
{
    struct sender_conf *c = s->conf;
    struct buf url;
    buf_init(&url);
    struct gen_target t;
    request_target(c, &t);
    gen_write_url(&url, &t, b->db, b->rp, b->precision);
    struct request *q = request_new(s, REQ_WRITE, url.data, c->timeout_ms);
    buf_deinit(&url);
    q->batch = b;
    const char *body = b->body.data;
    size_t len = b->body.len;
    if (c->gzip) {
        /* Only fails out of memory or beyond 4 GiB, and batches are far below that. */
        int zrc = b->gz != NULL ? 0 : batch_gzip(b->body.data, b->body.len, &b->gz, &b->gz_len);
        IWR_ASSERT(zrc == 0);
        body = b->gz;
        len = b->gz_len;
    }
    /* Borrowed, not copied: the batch outlives its request (it is freed only after the request
     * finished or was aborted). */
    curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(q->easy, CURLOPT_POSTFIELDS, body);
    return q;
}

struct request *request_ping(struct sender *s, uint64_t timeout_ms)
{
    struct buf url;
    buf_init(&url);
    buf_append_str(&url, s->conf->url);
    buf_append(&url, gen_ping_path(s->conf->api), strlen(gen_ping_path(s->conf->api)) + 1);
    struct request *q = request_new(s, REQ_PING, url.data, timeout_ms);
    buf_deinit(&url);
    return q;
}

struct request *request_create_db(struct sender *s, const char *db)
{
    struct buf url, form;
    buf_init(&url);
    buf_init(&form);
    buf_append_str(&url, s->conf->url);
    buf_append(&url, "/query", 7);
    batch_create_db_form(&form, db);
    struct request *q = request_new(s, REQ_CREATE_DB, url.data, s->conf->timeout_ms);
    curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form.len);
    curl_easy_setopt(q->easy, CURLOPT_COPYPOSTFIELDS, form.data);
    buf_deinit(&url);
    buf_deinit(&form);
    return q;
}

static void request_unlink(struct request *q)
{
    struct request **pp = q->s != NULL ? &q->s->reqs : &q->r->queries;
    while (*pp != NULL && *pp != q)
        pp = &(*pp)->next;
    if (*pp == q)
        *pp = q->next;
}

void request_set_auth_tls(CURL *e, const struct sender_conf *c, int credentials)
{
    if (credentials && c->username != NULL) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, c->username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, c->password != NULL ? c->password : "");
    }
    if (c->ca_file != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    if (c->insecure_skip_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

void request_free(struct request *q)
{
    request_unlink(q);
    if (q->easy != NULL)
        curl_easy_cleanup(q->easy);
    buf_deinit(&q->resp);
    sender_conf_unref(q->conf);
    free(q);
}

void request_abort_all(struct sender *s, int kind)
{
    struct request *q = s->reqs;
    while (q != NULL) {
        struct request *next = q->next;
        if (kind < 0 || (int)q->kind == kind) {
            if (q->kind == REQ_PING)
                s->ping_inflight = 0;
            if (q->kind == REQ_CREATE_DB)
                s->create_inflight = 0;
            replay_abort_request(s->r, q);
        }
        q = next;
    }
}

void request_done(struct request *q, CURLcode result, long http_status, uint64_t duration_us)
{
    if (q->kind == REQ_QUERY)
        query_request_done(q, result, http_status);
    else
        sender_request_done(q, result, http_status, duration_us);
}
