/* Logged statements in a sender's stream: a record flagged WAL_REC_STATEMENT becomes a batch
 * of its own, sent (POST /query) only once everything before it in the window is done and
 * before anything after it; its answer is classified here and the first outcome of each
 * statement, on any backend, goes to the client waiting for it (replay_statement_wait).
 * Owns the waiters (each with a timer) and a small ring of recent first outcomes, for a
 * waiter that registers after a fast backend already answered. Loop thread only.
 *
 * Nothing here logs or shows a statement's text: user statements hold passwords, and replay/
 * cannot redact InfluxQL (relay/influxql.h is relay/'s); logs name the sequence only. */
#include "replay/replay_int.h"

#include "replay/generation.h"

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

struct stmt_outcome {
    uint64_t seq;
    char backend[REPLAY_NAME_MAX + 1];
    long status;
    int applied;
    char *body;
    size_t body_len;
};

struct stmt_waiter {
    struct stmt_waiter *next;
    struct replay *r;
    uv_timer_t timer;
    uint64_t seq;
    replay_statement_cb *cb;
    void *arg;
};

/* ---- the batch and its transfer ---------------------------------------------------------- */

struct batch *statement_batch(const struct wal_record *rec, uint64_t prev_end)
{
    struct batch *b = batch_new(rec);
    b->stmt = 1;
    buf_append(&b->body, rec->body, rec->body_len);
    /* One segment, so the dead letters (batch_seg_record) keep the record with its flag. */
    b->segs = xcalloc(1, sizeof(*b->segs));
    b->n_segs = b->cap_segs = 1;
    b->segs[0] = (struct batch_seg){.seq = rec->seq,
                                    .recv_ns = rec->recv_ns,
                                    .offset = rec->offset,
                                    .flags = rec->flags,
                                    .consistency = rec->consistency,
                                    .rec_end = 1,
                                    .off = 0,
                                    .len = rec->body_len,
                                    .lines = 1,
                                    .t_wild = 1}; /* no times: never compared */
    b->lines = 1;
    batch_seal(b, prev_end);
    return b;
}

static void append_escaped(struct buf *out, const char *s)
{
    gen_append_escaped(out, s, strlen(s));
}

/* Where a native statement for db/rp goes: the backend's name for them (a bucket or a
 * database, NUL-terminated) into 'name' and its base URL into 'url', both initialised here. */
static void native_target(const struct sender_conf *c, const char *db, const char *rp,
                          struct buf *name, struct buf *url)
{
    struct gen_target t;
    request_target(c, &t);
    buf_init(name);
    buf_init(url);
    gen_target_name(name, &t, db, rp);
    buf_append(name, "", 1);
    buf_append_str(url, c->url);
}

/* A request to a 2.x or 3.x endpoint for batch 'b' (a statement): JSON headers, 'url' (a
 * buf, NUL added here), then 'method' (NULL: POST of 'body' when it has any, else GET).
 * Deinitialises 'url' and 'body': curl copied what it needs. */
static struct request *native_request(struct sender *s, struct batch *b, struct buf *url,
                                      const char *method, struct buf *body)
{
    buf_append(url, "", 1);
    struct request *q = request_new(s, REQ_WRITE, url->data, s->conf->timeout_ms);
    q->batch = b;
    q->resp_max = STATEMENT_RESP_MAX;
    curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, s->conf->json_headers);
    if (method != NULL) {
        curl_easy_setopt(q->easy, CURLOPT_CUSTOMREQUEST, method);
    } else if (body->len > 0) {
        curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
        curl_easy_setopt(q->easy, CURLOPT_COPYPOSTFIELDS, body->data);
    }
    buf_deinit(url);
    buf_deinit(body);
    return q;
}

/* 2.x, in two steps (its buckets API takes IDs): CREATE DATABASE: GET /api/v2/orgs?org= then
 * POST /api/v2/buckets {"orgID","name"}; DROP DATABASE: GET /api/v2/buckets?org=&name= then
 * DELETE /api/v2/buckets/ID. The bucket is named as the database's writes without an rp
 * (bucket-template with "autogen"). */
static struct request *request_v2(struct sender *s, struct batch *b, const char *db)
{
    struct sender_conf *c = s->conf;
    struct buf name, url, body;
    native_target(c, db, "", &name, &url);
    buf_init(&body);
    int create = b->native_stmt == GEN_STMT_CREATE_DATABASE;
    const char *method = NULL;
    if (b->native_step == 0) {
        buf_append_str(&url, create ? "/api/v2/orgs?org=" : "/api/v2/buckets?org=");
        append_escaped(&url, c->org != NULL ? c->org : "");
        if (!create) {
            buf_append_str(&url, "&name=");
            append_escaped(&url, name.data);
        }
    } else if (create) {
        buf_append_str(&url, "/api/v2/buckets");
        buf_append_str(&body, "{\"orgID\":");
        buf_append_json_quoted(&body, b->native_id);
        buf_append_str(&body, ",\"name\":");
        buf_append_json_quoted(&body, name.data);
        buf_append_str(&body, ",\"retentionRules\":[]}");
    } else {
        buf_append_str(&url, "/api/v2/buckets/");
        append_escaped(&url, b->native_id);
        method = "DELETE";
    }
    struct request *q = native_request(s, b, &url, method, &body);
    buf_deinit(&name);
    return q;
}

/* 2.x's delete API for an InfluxQL DELETE: POST /api/v2/delete?org=&bucket= with
 * {"start","stop","predicate"} (gen_v2_delete_body), the bucket the record's db/rp is written
 * to (bucket-template); NULL when the statement has no equivalent there. */
static struct request *request_v2_delete(struct sender *s, struct batch *b)
{
    struct sender_conf *c = s->conf;
    struct buf body;
    buf_init(&body);
    if (b->db == NULL || b->db[0] == '\0' ||
        gen_v2_delete_body(&body, b->body.data, b->body.len) != 0) {
        buf_deinit(&body);
        return NULL;
    }
    b->native_stmt = GEN_STMT_DELETE;
    struct buf name, url;
    native_target(c, b->db, b->rp != NULL ? b->rp : "", &name, &url);
    buf_append_str(&url, "/api/v2/delete?org=");
    append_escaped(&url, c->org != NULL ? c->org : "");
    buf_append_str(&url, "&bucket=");
    append_escaped(&url, name.data);
    struct request *q = native_request(s, b, &url, NULL, &body);
    buf_deinit(&name);
    return q;
}

/* The first "id":"..." of a 2.x answer (an org's or a bucket's: their ID comes before any
 * nested object holding another). 1 when found. */
static int first_id(const char *body, size_t len, char *out, size_t cap)
{
    const char *k = replay_body_find(body, len, "\"id\"");
    if (k == NULL)
        return 0;
    const char *p = k + 4, *end = body + len;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ':'))
        p++; /* 2.x indents its JSON: "id": "..." */
    if (p >= end || *p != '"')
        return 0;
    p++;
    size_t n = 0;
    while (p < end && *p != '"' && n + 1 < cap && (isalnum((unsigned char)*p)))
        out[n++] = *p++;
    out[n] = '\0';
    return p < end && *p == '"' && n > 0;
}

int statement_next_step(struct sender *s, struct batch *b, const struct request *q, CURLcode result,
                        long http)
{
    (void)s;
    if (b->native_stmt == GEN_STMT_DELETE) /* one step */
        return 0;
    if (b->native_step != 0 || result != CURLE_OK || http != 200)
        return 0;
    if (!first_id(q->resp.data, q->resp.len, b->native_id, sizeof(b->native_id)))
        return 0; /* DROP of a bucket that is not there: applied; CREATE: refused */
    b->native_step = 1;
    return 1;
}

/* A statement for a v2 or v3 backend: its equivalent there, or NULL (none). 2.x also maps a
 * DELETE (request_v2_delete). 3.x: POST
 * /api/v3/configure/database {"db":...} for CREATE DATABASE, DELETE ...?db= for DROP DATABASE,
 * the database named as its writes' (database-template with no rp). 2.x: request_v2. */
static struct request *request_native(struct sender *s, struct batch *b)
{
    struct sender_conf *c = s->conf;
    char db[WAL_NAME_MAX + 1];
    b->native_stmt = (int)gen_statement_kind(b->body.data, b->body.len, db, sizeof(db));
    if (b->native_stmt == GEN_STMT_UNSUPPORTED && c->api == REPLAY_API_V2)
        return request_v2_delete(s, b); /* a DELETE it maps, else NULL */
    if (b->native_stmt == GEN_STMT_UNSUPPORTED)
        return NULL;
    if (c->api == REPLAY_API_V2)
        return request_v2(s, b, db);
    struct buf name, url, body;
    native_target(c, db, "", &name, &url);
    buf_init(&body);
    buf_append_str(&url, "/api/v3/configure/database");
    if (b->native_stmt == GEN_STMT_DROP_DATABASE) {
        buf_append_str(&url, "?db=");
        append_escaped(&url, name.data);
    } else {
        buf_append_str(&body, "{\"db\":");
        buf_append_json_quoted(&body, name.data);
        buf_append_str(&body, "}");
    }
    struct request *q = native_request(s, b, &url,
                                       b->native_stmt == GEN_STMT_DROP_DATABASE ? "DELETE" : NULL,
                                       &body);
    buf_deinit(&name);
    return q;
}

void statement_unsupported(struct sender *s, struct batch *b)
{
    log_warn("event=statement_unsupported backend=%s kind=%s seq=%" PRIu64 " action=dead_letter",
             s->conf->name, replay_api_name(s->conf->api), b->segs[0].seq);
    s->st.unsupported_total++;
    struct buf a;
    buf_init(&a);
    buf_printf(&a, "501 unsupported: a %s backend has no equivalent of this statement",
               replay_api_name(s->conf->api));
    free(b->answer);
    b->answer_len = a.len;
    b->answer = buf_steal(&a);
    s->store->refuse(s, b);
    /* Go on from the next step of the loop, not from inside send_ready. */
    s->waiting = 1;
    s->due_ms = replay_now_ms(s->r) + 1;
    replay_rearm(s->r);
}

struct request *request_statement(struct sender *s, struct batch *b)
{
    if (s->conf->api != REPLAY_API_V1)
        return request_native(s, b);
    struct buf url, form;
    buf_init(&url);
    buf_init(&form);
    buf_append_str(&url, s->conf->url);
    buf_append(&url, "/query", 7);
    batch_statement_form(&form, b->body.data, b->body.len, b->db, b->rp);
    /* REQ_WRITE: it occupies the window like a batch, and is aborted with the batches. */
    struct request *q = request_new(s, REQ_WRITE, url.data, s->conf->timeout_ms);
    q->batch = b;
    q->resp_max = STATEMENT_RESP_MAX;
    /* A form, not line protocol: the write headers (Content-Type text/plain, encoding) do not
     * fit; the control headers carry a token when there is one. */
    curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, s->conf->ctl_headers);
    curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form.len);
    curl_easy_setopt(q->easy, CURLOPT_COPYPOSTFIELDS, form.data != NULL ? form.data : "");
    buf_deinit(&url);
    buf_deinit(&form);
    return q;
}

int statement_may_send(const struct sender *s, const struct batch *b, int *stop)
{
    *stop = 0;
    if (b->fence) { /* never sent; nothing after it goes before it passed (fence.c) */
        *stop = 1;
        return 0;
    }
    if (b->stmt) {
        if (b->state != BATCH_DONE)
            *stop = 1; /* nothing after it before it is applied or refused */
        return b->state == BATCH_QUEUED && b == s->head && s->sending == 0;
    }
    return b->state == BATCH_QUEUED;
}

/* ---- outcomes ------------------------------------------------------------------------------ */

static void waiter_closed(uv_handle_t *h)
{
    struct stmt_waiter *wt = h->data;
    struct replay *r = wt->r;
    free(wt);
    r->handles_open--;
    replay_reap_retired(r); /* finishes a stop when this was the last handle */
}

/* Take 'wt' off the list, call it, close its timer. */
static void waiter_fire(struct stmt_waiter *wt, int rc, const struct replay_statement_answer *a)
{
    struct replay *r = wt->r;
    struct stmt_waiter **pp = &r->stmt_waiters;
    while (*pp != NULL && *pp != wt)
        pp = &(*pp)->next;
    if (*pp == wt)
        *pp = wt->next;
    uv_timer_stop(&wt->timer);
    wt->cb(wt->arg, rc, a);
    uv_close((uv_handle_t *)&wt->timer, waiter_closed);
}

static void answer_of(const struct stmt_outcome *o, struct replay_statement_answer *a)
{
    *a = (struct replay_statement_answer){o->backend, o->status, o->body, o->body_len, o->applied};
}

static const struct stmt_outcome *recent_find(const struct replay *r, uint64_t seq)
{
    for (size_t i = 0; i < STATEMENT_RECENT; i++)
        if (r->stmt_recent[i] != NULL && r->stmt_recent[i]->seq == seq)
            return r->stmt_recent[i];
    return NULL;
}

/* The first outcome of 'seq' (later ones, from the other backends, change nothing here). */
static void outcome(struct sender *s, const struct batch *b, const struct request *q, long http,
                    int applied)
{
    struct replay *r = s->r;
    uint64_t seq = b->segs[0].seq;
    if (applied)
        log_info("event=statement_applied backend=%s seq=%" PRIu64, s->conf->name, seq);
    else
        log_warn("event=statement_refused backend=%s seq=%" PRIu64 " http=%ld action=dead_letter",
                 s->conf->name, seq, http);
    if (s->conf->ephemeral || recent_find(r, seq) != NULL)
        return;
    struct stmt_outcome *o = xcalloc(1, sizeof(*o));
    o->seq = seq;
    snprintf(o->backend, sizeof(o->backend), "%s", s->conf->name);
    o->status = http;
    o->applied = applied;
    if (s->conf->api != REPLAY_API_V1) {
        /* The client asked InfluxQL's /query: a 2.x or 3.x answer (204, a bucket, ...) is
         * given to it as influxd 1.x would have answered. */
        struct buf a1;
        buf_init(&a1);
        if (applied)
            buf_append_str(&a1, "{\"results\":[{\"statement_id\":0}]}\n");
        else
            buf_printf(&a1,
                       "{\"results\":[{\"statement_id\":0,\"error\":\"the %s backend refused "
                       "it: HTTP %ld\"}]}\n",
                       replay_api_name(s->conf->api), http);
        o->status = 200;
        o->body_len = a1.len;
        o->body = buf_steal(&a1);
    } else {
        o->body_len = q->resp.len;
        o->body = xmalloc(q->resp.len + 1);
        if (q->resp.len > 0)
            memcpy(o->body, q->resp.data, q->resp.len);
    }
    size_t slot = r->stmt_recent_next++ % STATEMENT_RECENT;
    if (r->stmt_recent[slot] != NULL) {
        free(r->stmt_recent[slot]->body);
        free(r->stmt_recent[slot]);
    }
    r->stmt_recent[slot] = o;
    struct replay_statement_answer a;
    answer_of(o, &a);
    struct stmt_waiter *wt = r->stmt_waiters;
    while (wt != NULL) {
        struct stmt_waiter *next = wt->next;
        if (wt->seq == seq)
            waiter_fire(wt, 0, &a);
        wt = next;
    }
}

struct replay_verdict statement_answered(struct sender *s, struct batch *b, const struct request *q,
                                         CURLcode result, long http)
{
    struct replay_verdict v =
        s->conf->api == REPLAY_API_V1
            ? replay_classify_statement(result, http, q->resp.data, q->resp.len)
        : s->conf->api == REPLAY_API_V2
            ? gen_classify_v2_statement(result, http, (enum gen_stmt)b->native_stmt, b->native_step)
            : gen_classify_v3_statement(result, http, (enum gen_stmt)b->native_stmt);
    if (v.action == REPLAY_ACK)
        outcome(s, b, q, http, 1);
    else if (v.action == REPLAY_DEAD)
        outcome(s, b, q, http, 0);
    return v;
}

/* ---- waiting ------------------------------------------------------------------------------- */

static void on_waiter_timeout(uv_timer_t *t)
{
    struct stmt_waiter *wt = t->data;
    waiter_fire(wt, -ETIMEDOUT, NULL);
}

int replay_statement_wait(struct replay *r, uint64_t seq, uint64_t timeout_ms,
                          replay_statement_cb *cb, void *arg)
{
    if (r->stopping)
        return IWR_ESTOPPED;
    struct stmt_waiter *wt = xcalloc(1, sizeof(*wt));
    wt->r = r;
    wt->seq = seq;
    wt->cb = cb;
    wt->arg = arg;
    uv_timer_init(r->loop, &wt->timer);
    wt->timer.data = wt;
    r->handles_open++;
    wt->next = r->stmt_waiters;
    r->stmt_waiters = wt;
    const struct stmt_outcome *o = recent_find(r, seq);
    if (o != NULL) {
        struct replay_statement_answer a;
        answer_of(o, &a);
        waiter_fire(wt, 0, &a);
        return 0;
    }
    uv_timer_start(&wt->timer, on_waiter_timeout, timeout_ms > 0 ? timeout_ms : 1, 0);
    return 0;
}

void statement_stop(struct replay *r)
{
    while (r->stmt_waiters != NULL)
        waiter_fire(r->stmt_waiters, IWR_ESTOPPED, NULL);
    for (size_t i = 0; i < STATEMENT_RECENT; i++) {
        if (r->stmt_recent[i] != NULL)
            free(r->stmt_recent[i]->body);
        free(r->stmt_recent[i]);
        r->stmt_recent[i] = NULL;
    }
}
