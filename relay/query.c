/* GET|POST /query, passed on to a backend that is up and fully caught up, else to the
 * least-behind one that is up, so that after an outage readers never see the node still
 * catching up while another has everything. The transfer itself is the backends' side's
 * (relay_hooks.query: the same HTTP client, TLS options and timeouts as the writes); here we
 * pick the backend, pass on the client's own headers and credentials (to a 1.x backend never any
 * of the backend's), and stream the answer back with a header naming the backend, pausing the
 * transfer while the client is slow to read. A 2.x or 3.x backend is the exception: it knows
 * tokens, not the relay's users, so the relay checks the client and sends that backend's token.
 * The client connection closes after the answer (its framing: Content-Length when the backend
 * sent one, else the end of the connection). Loop thread only. */
#include "relay/relay_int.h"

#include "common/log.h"
#include "common/xalloc.h"
#include "relay/influxql.h"
#include "relay/query_creds.h"
#include "relay/shard_merge.h"
#include "relay/shard_moving.h"
#include "relay/shard_split.h"

#include <stdio.h>
#include <string.h>

#define PROXY_QUEUE_MAX (4 * 1024 * 1024) /* client write backlog that pauses the backend */
#define PROXY_DRAIN_CHECK_MS 20
#define FAN_BODY_MAX (16 * 1024 * 1024) /* each shard's answer to a merged SHOW, in memory */

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

static const char *fwd_header(const struct http_req *req, const char *name, size_t *len);
static int type_is(const char *v, size_t len, const char *want);

/* The client's request as it goes to 'backend': its method, target and body, and 'headers'
 * (the forwarded ones, borrowed). */
static struct relay_query query_of(const struct http_req *req, const char *backend,
                                   const struct buf *headers)
{
    return (struct relay_query){
        .backend = backend,
        .post = req->method == HTTP_POST,
        .target = req->url.data,
        .target_len = req->url.len,
        .headers = headers->data != NULL ? headers->data : "",
        .headers_len = headers->len,
        .body = req->body.data,
        .body_len = req->body.len,
    };
}

/* query_pick_backend among the backends of shard 'shard' (NULL: of any). */
static int pick_in_shard(const struct relay_backend_view *st, size_t n, const char *shard)
{
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        if (!st[i].up || st[i].rebuilding) /* a backend being rebuilt holds only part */
            continue;
        if (shard != NULL && strcmp(st[i].shard, shard) != 0)
            continue;
        if (st[i].caught_up)
            return (int)i;
        if (best < 0 || st[i].lag_records < st[best].lag_records)
            best = (int)i;
    }
    return best;
}

int query_pick_backend(const struct relay_backend_view *st, size_t n)
{
    return pick_in_shard(st, n, NULL);
}

static int is_v1(const struct relay_backend_view *v)
{
    return v->kind[0] == '\0' || strcmp(v->kind, "v1") == 0;
}

int query_backend_for_read(struct relay *r, struct relay_backend_view **st)
{
    size_t n = 0;
    if (r->hooks.backends)
        r->hooks.backends(r->hooks.arg, st, &n);
    if (r->hooks.query == NULL)
        return -1;
    /* The 1.x backends first: the others' views are hidden from the pick by marking them down
     * in this private copy of the views. */
    int have_v1 = 0;
    for (size_t i = 0; i < n; i++)
        have_v1 |= (*st)[i].up && is_v1(&(*st)[i]);
    for (size_t i = 0; have_v1 && i < n; i++)
        if (!is_v1(&(*st)[i]))
            (*st)[i].up = 0;
    return query_pick_backend(*st, n);
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

/* The read as it goes to backend 'backend': to a 1.x one the client's header lines
 * h[0, hlen) and target as they came (the relay adds no credential of its own); to a 2.x or 3.x
 * one ('native') without the client's credentials, and the backend's own token. Appends the
 * header lines to 'headers'; 'target' and 'body' hold what a native request sends instead of
 * the client's. */
static struct relay_query query_to(const struct http_req *req, const char *backend, int native,
                                   const char *h, size_t hlen, struct buf *headers,
                                   struct buf *target, struct buf *body)
{
    if (native)
        qc_drop_header(h, hlen, "Authorization", headers);
    else
        buf_append(headers, h, hlen);
    struct relay_query q = query_of(req, backend, headers);
    if (!native)
        return q;
    q.backend_credentials = 1;
    qc_target_without_credentials(req->url.data, req->url.len, target);
    q.target = target->data;
    q.target_len = target->len;
    size_t tlen = 0;
    const char *type = fwd_header(req, "Content-Type", &tlen);
    if (req->method == HTTP_POST && type_is(type, tlen, "application/x-www-form-urlencoded")) {
        qc_drop_credentials(req->body.data != NULL ? req->body.data : "", req->body.len, body);
        q.body = body->data != NULL ? body->data : "";
        q.body_len = body->len;
    }
    return q;
}

/* Pass the request on as it came, to a backend or ('peer') to the leader relay. 'unparsed':
 * the relay could not classify it, so it is sent for the backend's own parse error, and with
 * no backend up the answer is 400, not 503. 'shard': only a backend of that shard may answer
 * (NULL: any), and with none of them up the answer is a 503 naming it. */
static void proxy_to(struct conn *c, struct http_req *req, int unparsed, const char *peer,
                     const char *shard)
{
    struct relay *r = c->relay;
    struct relay_backend_view *st = NULL;
    int i = -1;
    if (peer != NULL) {
        i = r->hooks.query != NULL ? 0 : -1;
    } else {
        size_t n = 0;
        if (r->hooks.backends)
            r->hooks.backends(r->hooks.arg, &st, &n);
        if (r->hooks.query != NULL)
            i = pick_in_shard(st, n, shard);
    }
    if (i < 0 && shard != NULL && !unparsed) {
        free(st);
        struct buf body;
        buf_init(&body);
        buf_append_str(&body, "{\"error\":\"shard ");
        buf_append_json_str(&body, shard, strlen(shard));
        buf_append_str(&body, " has no backend up\"}\n");
        log_warn("event=query_shard_down shard=%s", shard);
        http_respond(c, 503, "Retry-After: 5\r\n", body.data, body.len);
        buf_deinit(&body);
        return;
    }
    if (i < 0 && unparsed) {
        free(st);
        static const char msg[] = "the query cannot be parsed as InfluxQL and no backend is up "
                                  "to give its own error: nothing was committed";
        http_respond_error(c, 400, msg, sizeof(msg) - 1);
        return;
    }
    if (i < 0) {
        free(st);
        static const char body[] = "{\"error\":\"no backend is up to answer the query\"}\n";
        http_respond(c, 503, "Retry-After: 5\r\n", body, sizeof(body) - 1);
        return;
    }
    /* A 2.x or 3.x backend knows tokens, not the relay's users: the relay checks the client
     * itself (when auth is on) and the backend gets its own token in place of whatever the
     * client sent for the relay. */
    int native = peer == NULL && !is_v1(&st[i]);
    if (native) {
        size_t qlen;
        const char *q = req_query(req, &qlen);
        if (auth_check(c, req, q, qlen) != 0) {
            free(st);
            return;
        }
    }
    struct proxy *p = xcalloc(1, sizeof(*p));
    p->client = c;
    p->relay = r;
    snprintf(p->backend, sizeof(p->backend), "%s", peer != NULL ? peer : st[i].name);
    free(st);
    uv_timer_init(r->loop, &p->drain);
    p->drain.data = p;
    /* To a 1.x backend the client's own headers (Authorization, Content-Type, Accept,
     * Accept-Encoding) and its target (with any u/p) go as they came: the relay adds no
     * credential of its own. To a 2.x or 3.x one, without the client's credentials. */
    struct buf headers, target, body;
    buf_init(&headers);
    buf_init(&target);
    buf_init(&body);
    if (peer != NULL) /* the leader answers it itself, never forwards it again */
        buf_printf(&headers, "X-Influx-Wal-Forwarded: %s\r\n", r->cfg_limits.relay_name);
    struct relay_query q = query_to(req, p->backend, native, req->fwd.data, req->fwd.len, &headers,
                                    &target, &body);
    q.peer = peer != NULL;
    static const struct relay_query_cbs cbs = {proxy_head, proxy_data, proxy_done};
    c->waiting_wal = 1; /* the connection outlives a client that leaves, until we are done */
    int rc = r->hooks.query(r->hooks.arg, &q, &cbs, p, &p->handle);
    buf_deinit(&headers);
    buf_deinit(&target);
    buf_deinit(&body);
    if (rc != 0) {
        c->waiting_wal = 0;
        uv_close((uv_handle_t *)&p->drain, proxy_closed);
        static const char msg[] = "the chosen backend is gone (reconfigured): try again";
        http_respond_error(c, 503, msg, sizeof(msg) - 1);
    }
}

/* ---- a SHOW over every shard, merged --------------------------------------------------------- */

struct fan;

/* One shard's transfer of a fanned-out read; its answer is held whole in 'body'. */
struct fan_part {
    struct fan *fan;
    void *handle;        /* the transfer, valid until done */
    char backend[65];
    const char *shard;   /* borrowed from the splitter */
    int native;          /* a 2.x or 3.x backend: sent without the client's credentials */
    struct buf body;
    long status;
    int rc;              /* done's */
    int too_big;
    char err[160];
};

/* A client's read sent to every shard: owns the parts, freed by fan_finish once the last one
 * is done (the connection is held open until then, as for a proxied read). */
struct fan {
    struct conn *client;
    size_t n, pending;
    struct fan_part *parts;
    struct shard_merge_plan *plans; /* one per statement, owned */
    size_t n_plans;
};

static void fan_head(void *arg, long status, const char *headers, size_t len)
{
    struct fan_part *p = arg;
    (void)headers;
    (void)len;
    p->status = status;
}

static int fan_data(void *arg, const char *data, size_t len)
{
    struct fan_part *p = arg;
    if (p->fan->client->closing)
        return -1;
    if (p->body.len + len > FAN_BODY_MAX) {
        p->too_big = 1;
        return -1;
    }
    buf_append(&p->body, data, len);
    return 0;
}

/* Every shard answered (or failed): the merged answer, the first refusal as it came, or an
 * error naming the shard that failed. */
static void fan_finish(struct fan *f)
{
    struct conn *c = f->client;
    if (c->closing) {
        conn_release_after_wal(c);
    } else {
        c->waiting_wal = 0;
        struct fan_part *bad = NULL;
        for (size_t i = 0; i < f->n && bad == NULL; i++)
            if (f->parts[i].rc != 0 || f->parts[i].too_big || f->parts[i].status != 200)
                bad = &f->parts[i];
        struct buf out, err;
        buf_init(&out);
        buf_init(&err);
        if (bad != NULL && (bad->rc != 0 || bad->too_big)) {
            buf_printf(&err, "shard %s (backend %s): %s", bad->shard, bad->backend,
                       bad->too_big ? "its answer is larger than the relay merges" : bad->err);
            log_warn("event=query_merge_failed shard=%s backend=%s status=%d", bad->shard,
                     bad->backend, bad->rc);
            http_respond_error(c, bad->too_big ? 502 : bad->rc, err.data, err.len);
        } else if (bad != NULL) { /* the backend's own refusal (401, 400, ...), as it came */
            http_respond(c, (int)bad->status, "Content-Type: application/json\r\n",
                         bad->body.data != NULL ? bad->body.data : "", bad->body.len);
        } else {
            const char **bodies = xcalloc(f->n, sizeof(*bodies));
            size_t *lens = xcalloc(f->n, sizeof(*lens));
            for (size_t i = 0; i < f->n; i++) {
                bodies[i] = f->parts[i].body.data != NULL ? f->parts[i].body.data : "";
                lens[i] = f->parts[i].body.len;
            }
            if (shard_merge_answers_plan(bodies, lens, f->n, f->plans, f->n_plans, &out, &err) ==
                0) {
                http_respond(c, 200, "Content-Type: application/json\r\n", out.data, out.len);
            } else {
                log_warn("event=query_merge_failed shards=%zu", f->n);
                http_respond_error(c, 502, err.data, err.len);
            }
            free(bodies);
            free(lens);
        }
        buf_deinit(&out);
        buf_deinit(&err);
    }
    for (size_t i = 0; i < f->n; i++)
        buf_deinit(&f->parts[i].body);
    free(f->parts);
    free(f->plans);
    free(f);
}

static void fan_done(void *arg, int rc, const char *err)
{
    struct fan_part *p = arg;
    p->handle = NULL;
    p->rc = rc;
    snprintf(p->err, sizeof(p->err), "%s", err != NULL ? err : "backend failed");
    if (--p->fan->pending == 0)
        fan_finish(p->fan);
}

/* Why the answers to this request cannot be merged whatever its statements (NULL: they can):
 * they must be plain JSON (no Accept of CSV or MessagePack) and not chunked. */
static const char *fan_refusal(struct http_req *req)
{
    size_t qslen, alen = 0;
    const char *qs = req_query(req, &qslen);
    struct buf v;
    buf_init(&v);
    int chunked = query_get(qs, qslen, "chunked", &v) ||
                  (req->body.data != NULL &&
                   query_get(req->body.data, req->body.len, "chunked", &v));
    buf_deinit(&v);
    const char *accept = fwd_header(req, "Accept", &alen);
    int json = accept == NULL || memmem(accept, alen, "json", 4) != NULL ||
               memmem(accept, alen, "*/*", 3) != NULL;
    if (chunked)
        return "a chunked answer (chunked=true) cannot be merged across shards: ask without "
               "chunked (each shard's answer is merged whole, up to 16 MiB)";
    if (!json)
        return "only JSON answers can be merged across shards: ask without an Accept of CSV or "
               "MessagePack";
    return NULL;
}

/* Send the request to one backend of each shard and answer with the merge by plans[k] for
 * statement k (takes 'plans'); a shard with no backend up is a 503 naming it, before anything
 * is sent. */
static void fan_out(struct conn *c, struct http_req *req, struct shard_merge_plan *plans,
                    size_t n_plans)
{
    struct relay *r = c->relay;
    struct relay_backend_view *st = NULL;
    size_t n = 0, n_shards = shard_split_count(r->split);
    int native = 0;
    if (r->hooks.backends)
        r->hooks.backends(r->hooks.arg, &st, &n);
    struct fan *f = xcalloc(1, sizeof(*f));
    f->client = c;
    f->n = n_shards;
    f->parts = xcalloc(n_shards, sizeof(*f->parts));
    f->plans = plans;
    f->n_plans = n_plans;
    for (size_t k = 0; k < n_shards; k++) {
        struct fan_part *p = &f->parts[k];
        p->fan = f;
        p->shard = shard_split_name(r->split, k);
        buf_init(&p->body);
        int i = r->hooks.query != NULL ? pick_in_shard(st, n, p->shard) : -1;
        if (i < 0) {
            struct buf body;
            buf_init(&body);
            buf_append_str(&body, "{\"error\":\"shard ");
            buf_append_json_str(&body, p->shard, strlen(p->shard));
            buf_append_str(&body, " has no backend up\"}\n");
            log_warn("event=query_shard_down shard=%s", p->shard);
            http_respond(c, 503, "Retry-After: 5\r\n", body.data, body.len);
            buf_deinit(&body);
            for (size_t j = 0; j <= k; j++)
                buf_deinit(&f->parts[j].body);
            free(f->parts);
            free(f->plans);
            free(f);
            free(st);
            return;
        }
        snprintf(p->backend, sizeof(p->backend), "%s", st[i].name);
        p->native = !is_v1(&st[i]);
        native |= p->native;
    }
    free(st);
    if (native) { /* as in proxy_to: the relay checks the client for a 2.x or 3.x backend */
        size_t qlen;
        const char *q = req_query(req, &qlen);
        if (auth_check(c, req, q, qlen) != 0) {
            for (size_t k = 0; k < n_shards; k++)
                buf_deinit(&f->parts[k].body);
            free(f->parts);
            free(f->plans);
            free(f);
            return;
        }
    }
    /* The client's headers but Accept-Encoding: the relay reads these answers itself. */
    struct buf headers;
    buf_init(&headers);
    const char *h = req->fwd.data != NULL ? req->fwd.data : "", *end = h + req->fwd.len;
    while (h < end) {
        const char *eol = memmem(h, (size_t)(end - h), "\r\n", 2);
        const char *next = eol != NULL ? eol + 2 : end;
        if (strncasecmp(h, "Accept-Encoding:", 16) != 0)
            buf_append(&headers, h, (size_t)(next - h));
        h = next;
    }
    static const struct relay_query_cbs cbs = {fan_head, fan_data, fan_done};
    c->waiting_wal = 1;
    f->pending = n_shards + 1; /* one more while starting: no finish before every start */
    for (size_t k = 0; k < n_shards; k++) {
        struct fan_part *p = &f->parts[k];
        struct buf hdr, target, body;
        buf_init(&hdr);
        buf_init(&target);
        buf_init(&body);
        struct relay_query q =
            query_to(req, p->backend, p->native, headers.data, headers.len, &hdr, &target, &body);
        if (r->hooks.query(r->hooks.arg, &q, &cbs, p, &p->handle) != 0)
            fan_done(p, 503, "the chosen backend is gone (reconfigured): try again");
        buf_deinit(&hdr);
        buf_deinit(&target);
        buf_deinit(&body);
    }
    buf_deinit(&headers);
    if (--f->pending == 0)
        fan_finish(f);
}

/* ---- with shards: which shards a read needs ---------------------------------------------- */

#define KEY_TAGS_MAX 8

enum route { ROUTE_ANY, ROUTE_SHARD, ROUTE_FAN, ROUTE_REFUSE };

/* How a query's reads go with shards: to one shard, to any backend, to every shard merged by
 * plans[k] for statement k, or refused (statement 'refused', its plan's why). */
struct read_route {
    enum route route;
    int shard;
    struct shard_merge_plan *plans; /* one per statement (ids skip empty pieces), owned */
    size_t n_plans;
    size_t refused;
    const char *why; /* ROUTE_REFUSE: a static text, or the refused plan's why */
};

/* SHOWs about one server rather than its data: any backend answers them. */
static int per_server_show(const char *name)
{
    static const char *const names[] = {"SHOW CONTINUOUS QUERIES",
                                        "SHOW DIAGNOSTICS",
                                        "SHOW GRANTS",
                                        "SHOW QUERIES",
                                        "SHOW SHARD GROUPS",
                                        "SHOW SHARDS",
                                        "SHOW STATS",
                                        "SHOW SUBSCRIPTIONS",
                                        "SHOW USERS"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

/* Whether keyword 'kw' is among the tokens of q[0, len). */
static int has_keyword(const char *q, size_t len, const char *kw)
{
    size_t n = strlen(kw);
    struct iql_token t;
    for (size_t at = 0; at < len;) {
        at = iql_scan(q, len, at, 0, &t);
        if (t.tok == IQL_T_KEYWORD && t.len == n && strncasecmp(q + t.off, kw, n) == 0)
            return 1;
    }
    return 0;
}

/* The shard every source of 's' lives on (no tag in the key), or -1 (several, or unknown). */
static int select_shard(struct relay *r, const struct query_params *qp, const struct iql_select *s)
{
    if (s->sources_unknown || s->n_sources == 0)
        return -1;
    int shard = -1;
    for (size_t i = 0; i < s->n_sources; i++) {
        const struct iql_source *src = &s->sources[i];
        const char *db = src->has_db ? s->names.data + src->db_off : qp->db.data;
        size_t db_len = src->has_db ? src->db_len : qp->db.len;
        int k = shard_split_measurement_shard(r->split, db, db_len, s->names.data + src->m_off,
                                              src->m_len);
        if (k < 0 || (shard >= 0 && k != shard))
            return -1;
        shard = k;
    }
    return shard;
}

/* One read statement q[0, len) named 'name': its plan in 'p', its shard in *shard (ROUTE_SHARD)
 * and its route. ROUTE_REFUSE leaves p->why saying why. */
static enum route plan_statement(struct relay *r, const struct query_params *qp, const char *q,
                                 size_t len, const char *name, struct shard_merge_plan *p,
                                 int *shard)
{
    const char *tags[KEY_TAGS_MAX];
    size_t tag_lens[KEY_TAGS_MAX];
    size_t n_tags = shard_split_key_tags(r->split, tags, tag_lens, KEY_TAGS_MAX);
    memset(p, 0, sizeof(*p));
    *shard = -1;
    if (strncmp(name, "SHOW", 4) == 0) {
        struct buf m;
        buf_init(&m);
        if (shard_split_read_measurement(q, len, &m))
            *shard =
                shard_split_measurement_shard(r->split, qp->db.data, qp->db.len, m.data, m.len);
        buf_deinit(&m);
        p->kind = SHARD_MERGE_SHOW;
        if (*shard >= 0)
            return ROUTE_SHARD;
        if (shard_merge_mergeable(q, len))
            return ROUTE_FAN;
        if (per_server_show(name))
            return ROUTE_ANY;
        if (strstr(name, "CARDINALITY") != NULL || has_keyword(q, len, "CARDINALITY"))
            snprintf(p->why, sizeof(p->why),
                     "%s%s cannot be merged across shards: a count of one shard is not the "
                     "whole one's; run it on a backend of each shard",
                     name, strstr(name, "CARDINALITY") != NULL ? "" : " CARDINALITY");
        else
            snprintf(p->why, sizeof(p->why),
                     "%s with LIMIT, OFFSET, SLIMIT or SOFFSET cannot be merged across shards: "
                     "a page of one shard is not the whole one's; run it on a backend of each "
                     "shard",
                     name);
        return ROUTE_REFUSE;
    }
    struct iql_select sel;
    enum route route;
    if (iql_select_read(q, len, &sel) == 0) {
        int ok = shard_merge_plan_select(&sel, tags, tag_lens, n_tags, p);
        struct buf why;
        buf_init(&why);
        int moving = n_tags > 0 && shard_moving_reads(shard_active_moving(r), &sel, qp->db.data,
                                                      qp->db.len, &why);
        if (moving)
            snprintf(p->why, sizeof(p->why), "%.*s", (int)why.len, why.data);
        buf_deinit(&why);
        *shard = n_tags == 0 ? select_shard(r, qp, &sel) : -1;
        /* One shard: routed there whatever the plan (it is only needed if the query fans
         * out). */
        route = *shard >= 0                          ? ROUTE_SHARD
                : ok || p->kind == SHARD_MERGE_ERROR ? ROUTE_FAN
                                                     : ROUTE_REFUSE;
        if (*shard >= 0 && !ok && p->kind != SHARD_MERGE_ERROR)
            p->kind = SHARD_MERGE_ERROR; /* refused if the query fans out after all */
        if (moving)
            route = ROUTE_REFUSE; /* a reshard's series on two shards: nothing is sent */
    } else {
        /* Not a shape read here: a plain one-measurement read still has its shard; anything
         * else goes to every shard for influxd's own parse error, and is refused if they all
         * answer it. */
        struct buf m;
        buf_init(&m);
        if (n_tags == 0 && shard_split_read_measurement(q, len, &m))
            *shard =
                shard_split_measurement_shard(r->split, qp->db.data, qp->db.len, m.data, m.len);
        buf_deinit(&m);
        p->kind = SHARD_MERGE_ERROR;
        snprintf(p->why, sizeof(p->why),
                 "this SELECT cannot be merged across shards: the relay does not read its "
                 "shape; query each shard's backends directly");
        route = *shard >= 0 ? ROUTE_SHARD : ROUTE_FAN;
    }
    iql_select_deinit(&sel);
    return route;
}

/* The route of a query whose statements pieces[0, n) are all reads, with shards. */
static void plan_reads(struct relay *r, const struct query_params *qp,
                       const struct iql_stmt *pieces, size_t n, struct read_route *rr)
{
    memset(rr, 0, sizeof(*rr));
    rr->shard = -1;
    rr->plans = xcalloc(n > 0 ? n : 1, sizeof(*rr->plans));
    int shards_differ = 0, fan = 0, any = -1, routed_bad = -1;
    size_t id = 0;
    for (size_t i = 0; i < n; i++) {
        if (pieces[i].kind == IQL_EMPTY)
            continue;
        int shard;
        enum route ro = plan_statement(r, qp, qp->q.data + pieces[i].text_off, pieces[i].text_len,
                                       pieces[i].name, &rr->plans[id], &shard);
        if (ro == ROUTE_REFUSE) {
            rr->route = ROUTE_REFUSE;
            rr->refused = id;
            rr->why = rr->plans[id].why;
            return;
        }
        if (ro == ROUTE_ANY && any < 0)
            any = (int)i;
        if (ro == ROUTE_FAN)
            fan = 1;
        if (ro == ROUTE_SHARD) {
            if (rr->shard >= 0 && shard != rr->shard)
                shards_differ = 1;
            rr->shard = shard;
            if (rr->plans[id].kind == SHARD_MERGE_ERROR && routed_bad < 0)
                routed_bad = (int)id;
        }
        id++;
    }
    rr->n_plans = id;
    if (!fan && !shards_differ) {
        rr->route = rr->shard >= 0 ? ROUTE_SHARD : ROUTE_ANY;
        return;
    }
    rr->route = ROUTE_FAN;
    if (any >= 0) {
        size_t k = 0;
        for (size_t i = 0; i < (size_t)any; i++)
            k += pieces[i].kind != IQL_EMPTY;
        rr->route = ROUTE_REFUSE;
        rr->refused = k;
        snprintf(rr->plans[k].why, sizeof(rr->plans[k].why),
                 "%s answers for one server and cannot be merged across shards: send it in a "
                 "query of its own",
                 pieces[any].name);
        rr->why = rr->plans[k].why;
    } else if (routed_bad >= 0 && rr->plans[routed_bad].why[0] != '\0') {
        rr->route = ROUTE_REFUSE;
        rr->refused = (size_t)routed_bad;
        rr->why = rr->plans[routed_bad].why;
    }
}

/* influxd's answer to a query with a statement it will not run: 200, the refused statement's
 * error and "not executed" for each of the others (nothing of the query was run). */
static void respond_refused(struct conn *c, const struct read_route *rr)
{
    struct buf body;
    buf_init(&body);
    buf_append_str(&body, "{\"results\":[");
    size_t n = rr->n_plans > rr->refused ? rr->n_plans : rr->refused + 1;
    for (size_t i = 0; i < n; i++) {
        buf_printf(&body, "%s{\"statement_id\":%zu,\"error\":", i > 0 ? "," : "", i);
        buf_append_json_quoted(&body, i == rr->refused ? rr->why : "not executed");
        buf_append_str(&body, "}");
    }
    buf_append_str(&body, "]}\n");
    log_info("event=query_not_merged statement=%zu", rr->refused);
    http_respond(c, 200, "Content-Type: application/json\r\n", body.data, body.len);
    buf_deinit(&body);
}

/* A read with shards: to the one shard it needs, to any backend, merged from every shard, or
 * refused. */
static void shard_read(struct conn *c, struct http_req *req, const struct query_params *qp,
                       const struct iql_stmt *pieces, size_t n)
{
    struct read_route rr;
    plan_reads(c->relay, qp, pieces, n, &rr);
    const char *bad = rr.route == ROUTE_FAN ? fan_refusal(req) : NULL;
    if (bad != NULL) {
        http_respond_error(c, 400, bad, strlen(bad));
        free(rr.plans);
    } else if (rr.route == ROUTE_REFUSE) {
        /* n_plans counts up to the refusal only: the rest are not executed either */
        size_t total = 0;
        for (size_t i = 0; i < n; i++)
            total += pieces[i].kind != IQL_EMPTY;
        rr.n_plans = total;
        respond_refused(c, &rr);
        free(rr.plans);
    } else if (rr.route == ROUTE_FAN) {
        fan_out(c, req, rr.plans, rr.n_plans);
    } else {
        free(rr.plans);
        proxy_to(c, req, 0, NULL,
                 rr.route == ROUTE_SHARD ? shard_split_name(c->relay->split, (size_t)rr.shard)
                                         : NULL);
    }
}

static void proxy_read(struct conn *c, struct http_req *req, int unparsed, const char *shard)
{
    proxy_to(c, req, unparsed, NULL, shard);
}

void query_forward(struct conn *c, struct http_req *req, const char *peer)
{
    log_info("event=statement_forwarded leader=%s", peer);
    proxy_to(c, req, 0, peer, NULL);
}

/* ---- which path a query takes ---------------------------------------------------------------- */

/* The value of header 'name' among the passed-on ones, or NULL; *len set. */
static const char *fwd_header(const struct http_req *req, const char *name, size_t *len)
{
    size_t n = strlen(name);
    if (req->fwd.data == NULL) /* nothing passed on (and NULL + 0 is undefined) */
        return NULL;
    const char *p = req->fwd.data, *end = p + req->fwd.len;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (eol == NULL)
            break;
        if ((size_t)(eol - p) > n + 1 && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (v < eol && *v == ' ')
                v++;
            *len = (size_t)(eol - v);
            return v;
        }
        p = eol + 2;
    }
    return NULL;
}

static int type_is(const char *v, size_t len, const char *want)
{
    size_t n = strlen(want);
    return v != NULL && len >= n && strncasecmp(v, want, n) == 0;
}

static void params_of(struct http_req *req, const char *qs, size_t qslen, struct query_params *p)
{
    p->has_q = query_get(qs, qslen, "q", &p->q);
    query_get(qs, qslen, "db", &p->db);
    query_get(qs, qslen, "rp", &p->rp);
    size_t tlen = 0;
    const char *type = fwd_header(req, "Content-Type", &tlen);
    if (req->method != HTTP_POST || !type_is(type, tlen, "application/x-www-form-urlencoded"))
        return;
    /* Go's FormValue: a value in the form body comes before one in the URL. */
    struct buf v;
    buf_init(&v);
    const char *body = req->body.data != NULL ? req->body.data : "";
    if (query_get(body, req->body.len, "q", &v)) {
        p->has_q = 1;
        buf_clear(&p->q);
        buf_append(&p->q, v.data, v.len);
    }
    if (query_get(body, req->body.len, "db", &v)) {
        buf_clear(&p->db);
        buf_append(&p->db, v.data, v.len);
    }
    if (query_get(body, req->body.len, "rp", &v)) {
        buf_clear(&p->rp);
        buf_append(&p->rp, v.data, v.len);
    }
    buf_deinit(&v);
}

void query_handle(struct conn *c, struct http_req *req)
{
    size_t qslen;
    const char *qs = req_query(req, &qslen);
    size_t tlen = 0;
    const char *type = fwd_header(req, "Content-Type", &tlen);
    if (req->method == HTTP_POST && type_is(type, tlen, "multipart/")) {
        /* influxd reads q from a multipart body too; the relay cannot tell what it holds. */
        static const char msg[] = "a multipart /query cannot go through the relay: send q= in "
                                  "the URL or in an application/x-www-form-urlencoded body";
        http_respond_error(c, 400, msg, sizeof(msg) - 1);
        return;
    }
    struct query_params qp;
    buf_init(&qp.q);
    buf_init(&qp.db);
    buf_init(&qp.rp);
    params_of(req, qs, qslen, &qp);
    size_t n = qp.has_q ? iql_split(qp.q.data, qp.q.len, NULL, 0) : 0;
    struct iql_stmt *pieces = xcalloc(n > 0 ? n : 1, sizeof(*pieces));
    if (n > 0)
        iql_split(qp.q.data, qp.q.len, pieces, n);
    size_t reads = 0, logged = 0, unknown = 0;
    const char *per_server = NULL;
    for (size_t i = 0; i < n; i++) {
        switch (pieces[i].kind) {
        case IQL_EMPTY:
            break;
        case IQL_READ:
            reads++;
            break;
        case IQL_WRITE:
        case IQL_SELECT_INTO:
            logged++;
            break;
        case IQL_PER_SERVER:
            if (per_server == NULL)
                per_server = pieces[i].name;
            break;
        case IQL_UNKNOWN:
            unknown++;
            break;
        }
    }
    if (unknown > 0) {
        /* influxd parses the whole query first: one bad statement fails all of it. */
        proxy_read(c, req, 1, NULL);
    } else if (per_server != NULL) {
        char msg[200];
        int len = snprintf(msg, sizeof(msg),
                           "%s only makes sense on one server: run it on each server directly, "
                           "not through the relay",
                           per_server);
        http_respond_error(c, 400, msg, (size_t)len);
    } else if (logged == 0 && c->relay->split != NULL && n > 0) {
        shard_read(c, req, &qp, pieces, n);
    } else if (logged == 0) {
        proxy_read(c, req, 0, NULL);
    } else if (reads > 0) {
        static const char msg[] = "a query that mixes reads (SELECT, SHOW) with statements that "
                                  "change schema or data cannot go through the relay: send them "
                                  "as separate queries";
        http_respond_error(c, 400, msg, sizeof(msg) - 1);
    } else {
        statement_handle(c, req, qs, qslen, &qp, pieces, n);
    }
    free(pieces);
    buf_deinit(&qp.q);
    buf_deinit(&qp.db);
    buf_deinit(&qp.rp);
}
