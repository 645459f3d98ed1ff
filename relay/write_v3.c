/* The write endpoints of the later generations: POST /api/v3/write_lp as InfluxDB 3 Core answers
 * it, and POST /api/v2/write as InfluxDB 2.x answers it when the request carries 'org' (a 2.x
 * client's request; without 'org', write.c answers as 1.8 does). Each validates as /write does,
 * commits to the log before it answers (no_sync changes nothing here: the answer always follows
 * the fsync) and answers with its generation's status codes and JSON error bodies. The texts
 * for bad lines are 1.x's (lineproto.c), the body around them the generation's. Parameters and
 * credentials are checked on the loop; inflating, validating and encoding run on libuv's pool
 * (struct gen_work, an ingest_work), and the answer or the commit follows back on the loop. */
#include "relay/lpv3.h"
#include "relay/relay_int.h"
#include "relay/shard_split.h"

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>

static const char text_plain[] = "text/plain; charset=utf-8";

/* 2.x's error body: {"code":"...","message":"..."}. */
static void respond_v2(struct conn *c, int status, const char *headers, const char *code,
                       const char *msg, size_t msg_len)
{
    struct buf b;
    buf_init(&b);
    buf_append_str(&b, "{\"code\":\"");
    buf_append_str(&b, code);
    buf_append_str(&b, "\",\"message\":\"");
    buf_append_json_str(&b, msg, msg_len);
    buf_append_str(&b, "\"}\n");
    http_respond(c, status, headers, b.data, b.len);
    buf_deinit(&b);
}

#define V2_INVALID(c, msg) respond_v2((c), 400, NULL, "invalid", (msg), strlen(msg))

/* 3.x answers many refusals with a bare text, not JSON. */
static void respond_v3_text(struct conn *c, int status, const char *msg)
{
    c->req.content_type = text_plain;
    http_respond(c, status, NULL, msg, strlen(msg));
}

void write_map_bucket(const struct relay_options *cfg, const char *bucket, size_t len,
                      struct buf *db, struct buf *rp)
{
    buf_clear(db);
    buf_clear(rp);
    for (size_t i = 0; i < cfg->n_buckets; i++) {
        const struct relay_bucket *m = &cfg->buckets[i];
        if (strlen(m->name) == len && memcmp(m->name, bucket, len) == 0) {
            buf_append_str(db, m->database);
            if (m->retention_policy != NULL)
                buf_append_str(rp, m->retention_policy);
            goto out;
        }
    }
    const char *slash = len ? memchr(bucket, '/', len) : NULL;
    if (slash == NULL) {
        buf_append(db, bucket, len);
    } else {
        buf_append(db, bucket, (size_t)(slash - bucket));
        buf_append(rp, slash + 1, len - (size_t)(slash - bucket) - 1);
    }
out:
    buf_reserve(db, 1)[0] = '\0';
    buf_reserve(rp, 1)[0] = '\0';
}

/* The commit's end. req->lp.errors holds the body of a 3.x partial write when lines were
 * refused (req->lp.rejected > 0). */
static void write_v3_done(void *arg, int rc, uint64_t seq)
{
    struct conn *c = arg;
    (void)seq;
    if (write_done_settle(c, rc))
        return;
    struct http_req *req = &c->req;
    int v3 = req->ep == EP_WRITE_V3;
    if (rc == 0) {
        if (req->lp.rejected == 0)
            http_respond(c, 204, NULL, NULL, 0);
        else
            http_respond(c, 400, NULL, req->lp.errors.data, req->lp.errors.len);
        return;
    }
    char msg[160];
    int status = write_failure_text(rc, req->lp.points, msg, sizeof(msg));
    size_t n = strlen(msg);
    const char *hdr = status == 503 ? "Retry-After: 5\r\n" : NULL;
    if (v3) {
        http_respond_error_hdr(c, status, hdr, msg, n);
    } else {
        respond_v2(c, status, hdr, status == 503 ? "unavailable" : "internal error", msg, n);
    }
}

/* A 2.x or 3.x write's job. The loop fills the inputs; the pool inflates and validates into
 * req->norm and req->lp (with 'res' for 3.x), and encodes the record when there are no shards
 * (write_target). */
struct gen_work {
    struct ingest_work iw; /* first */
    struct write_target t; /* db, rp, 2.x's precision, the record */
    int v3;
    struct lpv3_precision v3_prec;  /* 3.x */
    int accept_partial;             /* 3.x */
    size_t max_inflated_bytes;
    int zrc;               /* gzip_inflate's answer; 0 for a plain body */
    const char *zerr;
    const char *body;      /* the body validated: the request's, or its inflated copy */
    size_t body_len;
    struct lpv3_result res; /* 3.x */
};

static void gen_work_run(struct ingest_work *iw)
{
    struct gen_work *gw = (struct gen_work *)iw;
    struct http_req *req = &iw->c->req;
    gw->zrc = ingest_body(req, gw->max_inflated_bytes, &gw->body, &gw->body_len, &gw->zerr);
    if (gw->zrc != 0)
        return;
    if (gw->v3) {
        struct lp_options lo = {.allow_unsigned = gw->t.allow_unsigned};
        lpv3_normalize_borrow(gw->body, gw->body_len, gw->v3_prec, (int64_t)req->recv_ns, &lo,
                              &req->norm, &gw->res);
        req->lp.points = gw->res.points;
        req->lp.rejected = gw->res.rejected;
        req->lp.stamped = gw->res.stamped;
        req->lp.as_received = gw->res.as_received;
        if (gw->res.rejected > 0 && !gw->accept_partial)
            return; /* nothing is written */
    } else {
        struct lp_options lo = {.allow_unsigned = gw->t.allow_unsigned, .max_errors = 1};
        lp_normalize_borrow(gw->body, gw->body_len, gw->t.precision, (int64_t)req->recv_ns, &lo,
                            &req->norm, &req->lp);
        if (req->lp.rejected > 0)
            return; /* 2.x refuses the whole batch */
    }
    write_target_encode(&gw->t, req, gw->body, gw->body_len);
}

static void gen_work_free(struct ingest_work *iw)
{
    struct gen_work *gw = (struct gen_work *)iw;
    write_target_deinit(&gw->t);
    lpv3_result_deinit(&gw->res);
    free(gw);
}

/* 0 with auth off or good credentials; else 1, logged, the caller answers. */
static int auth_refused(struct conn *c, struct http_req *req, const char *q, size_t qlen)
{
    const struct relay_options *cfg = &c->relay->cfg_limits;
    int have = 0;
    if (!cfg->auth_enabled || auth_verify(cfg, req, q, qlen, &have))
        return 0;
    log_info("event=auth_failed endpoint=%s reason=%s", endpoint_names[req->ep],
             have ? "bad_credentials" : "no_credentials");
    return 1;
}

/* The answer to a gzip body that did not inflate (gw->zrc != 0), in the generation's shape. */
static void answer_gzip_error(struct gen_work *gw)
{
    struct conn *c = gw->iw.c;
    if (gw->zrc == IWR_EFULL) {
        char msg[96];
        snprintf(msg, sizeof(msg), "max request size (%zu bytes) exceeded",
                 gw->max_inflated_bytes);
        if (gw->v3) {
            respond_v3_text(c, 413, msg);
        } else {
            /* The 2.x reference's OSS 413 example, word for word (2.x clients read the code). */
            static const char v2msg[] = "unable to read data: points batch is too large";
            respond_v2(c, 413, NULL, "request too large", v2msg, sizeof(v2msg) - 1);
        }
        return;
    }
    char msg[128];
    snprintf(msg, sizeof(msg), "error decoding gzip stream: %s", gw->zerr);
    if (gw->v3)
        respond_v3_text(c, 400, msg);
    else
        V2_INVALID(c, msg);
}

/* A job for 'c' writing to bucket[0, len) as the configuration maps it. */
static struct gen_work *gen_work_new(struct conn *c, int v3, const char *bucket, size_t len)
{
    struct relay *r = c->relay;
    struct gen_work *gw = xcalloc(1, sizeof(*gw));
    gw->v3 = v3;
    struct buf db, rp;
    buf_init(&db);
    buf_init(&rp);
    write_map_bucket(&r->cfg_limits, bucket, len, &db, &rp);
    write_target_init(&gw->t, r, &db, &rp, LP_NS, 0);
    lpv3_result_init(&gw->res);
    gw->max_inflated_bytes = r->cfg_limits.max_inflated_bytes;
    gw->iw.free = gen_work_free;
    return gw;
}

static int path_equals(const struct http_req *req, const char *path)
{
    size_t n = strlen(path);
    return req->url.data != NULL && req->path_len == n && memcmp(req->url.data, path, n) == 0;
}

int write_gen_too_large(struct conn *c, const struct http_req *req)
{
    size_t qlen;
    const char *q = req_query(req, &qlen);
    if (path_equals(req, "/api/v3/write_lp")) {
        char msg[96];
        snprintf(msg, sizeof(msg), "max request size (%zu bytes) exceeded",
                 c->relay->cfg_limits.max_body_bytes);
        respond_v3_text(c, 413, msg);
        return 1;
    }
    struct buf org;
    buf_init(&org);
    int v2_client = path_equals(req, "/api/v2/write") && query_get(q, qlen, "org", &org) &&
                    org.len > 0;
    buf_deinit(&org);
    if (!v2_client)
        return 0;
    /* The 2.x reference's OSS 413 example, as after inflating (take_body). */
    static const char v2msg[] = "unable to read data: points batch is too large";
    respond_v2(c, 413, NULL, "request too large", v2msg, sizeof(v2msg) - 1);
    return 1;
}

/* serde's reading of a bool in a query string: 1, 0, or -1 when it is neither. */
static int query_bool(const char *q, size_t qlen, const char *key, int dflt, struct buf *tmp)
{
    if (!query_get(q, qlen, key, tmp))
        return dflt;
    if (strcmp(tmp->data, "true") == 0)
        return 1;
    if (strcmp(tmp->data, "false") == 0)
        return 0;
    return -1;
}

static void gen_work_answer(struct ingest_work *iw);

/* The answer to a 3.x write whose body inflated. */
static void v3_answer(struct gen_work *gw)
{
    struct conn *c = gw->iw.c;
    struct relay *r = c->relay;
    struct http_req *req = &c->req;
    const struct lpv3_result *res = &gw->res;
    r->ctr.rejected_lines_total += res->rejected;
    r->ctr.stamped_points_total += res->stamped;
    buf_clear(&req->lp.errors);
    if (res->rejected > 0 && !gw->accept_partial) {
        /* 3.x stops at the first bad line and writes nothing. The text is the server's (3.x's
         * source, and clients' tests against 3.11); the write guide's example still shows an
         * older one, "parsing failed for write_lp endpoint". */
        buf_append_str(&req->lp.errors, "{\"error\":\"line protocol parsing error\",\"data\":");
        buf_append(&req->lp.errors, res->first_json.data, res->first_json.len);
        buf_append_str(&req->lp.errors, "}\n");
        http_respond(c, 400, NULL, req->lp.errors.data, req->lp.errors.len);
        return;
    }
    if (res->points == 0 && res->rejected == 0) {
        respond_v3_text(c, 400, "incoming write was empty");
        return;
    }
    if (res->rejected > 0) {
        buf_append_str(&req->lp.errors,
                       "{\"error\":\"partial write of line protocol occurred\",\"data\":[");
        buf_append(&req->lp.errors, res->errors_json.data, res->errors_json.len);
        buf_append_str(&req->lp.errors, "]}\n");
    }
    if (res->points == 0)
        http_respond(c, 400, NULL, req->lp.errors.data, req->lp.errors.len);
    else if (gw->t.db.len > UINT16_MAX || gw->t.rp.len > UINT16_MAX)
        http_respond_error(c, 400, "database or retention policy name too long", 42);
    else
        write_target_append(&gw->t, c, gw->body, gw->body_len, write_v3_done);
}

void write_v3_handle(struct conn *c, struct http_req *req)
{
    struct relay *r = c->relay;
    size_t qlen;
    const char *q = req_query(req, &qlen);
    if (auth_refused(c, req, q, qlen)) {
        static const char body[] = "{\"error\": \"the request was not authenticated\"}";
        http_respond(c, 401, NULL, body, sizeof(body) - 1);
        return;
    }
    struct buf name, tmp;
    buf_init(&name);
    buf_init(&tmp);
    struct lpv3_precision prec = {1, LP_NS};
    int accept_partial = query_bool(q, qlen, "accept_partial", 1, &tmp);
    int no_sync = query_bool(q, qlen, "no_sync", 0, &tmp);
    const char *bad_name = NULL;
    if (req->url.len == req->path_len) {
        respond_v3_text(c, 400, "missing query parameter 'db'");
        goto out;
    }
    if (!query_get(q, qlen, "db", &name)) {
        respond_v3_text(c, 400, "serde error: missing field `db`");
        goto out;
    }
    if (query_get(q, qlen, "precision", &tmp) &&
        lpv3_parse_precision(tmp.data, tmp.len, &prec) != 0) {
        struct buf msg;
        buf_init(&msg);
        buf_printf(&msg, "serde error: unknown variant `%.*s`, expected one of `auto`, "
                         "`second`, `millisecond`, `microsecond`, `nanosecond`",
                   (int)(tmp.len < 64 ? tmp.len : 64), tmp.data);
        buf_append(&msg, "", 1); /* buf_printf does not end it with a NUL */
        respond_v3_text(c, 400, msg.data);
        buf_deinit(&msg);
        goto out;
    }
    if (accept_partial < 0 || no_sync < 0) {
        respond_v3_text(c, 400, "serde error: provided string was not `true` or `false`");
        goto out;
    }
    bad_name = lpv3_check_db_name(name.data, name.len);
    if (bad_name != NULL) {
        http_respond_error(c, 400, bad_name, strlen(bad_name));
        goto out;
    }
    if (req->bad_encoding) {
        respond_v3_text(c, 400, "unacceptable content-encoding");
        goto out;
    }
    r->ctr.bytes_total += req->body.len;
    struct gen_work *gw = gen_work_new(c, 1, name.data, name.len);
    gw->v3_prec = prec;
    gw->accept_partial = accept_partial;
    gw->iw.run = gen_work_run;
    gw->iw.answer = gen_work_answer;
    ingest_work_queue(c, &gw->iw);
out:
    buf_deinit(&name);
    buf_deinit(&tmp);
}

/* The answer to a 2.x write whose body inflated. */
static void v2_answer(struct gen_work *gw)
{
    struct conn *c = gw->iw.c;
    struct relay *r = c->relay;
    struct http_req *req = &c->req;
    r->ctr.rejected_lines_total += req->lp.rejected;
    if (req->lp.rejected > 0) {
        /* 2.x refuses the whole batch at its first bad point. */
        respond_v2(c, 400, NULL, "invalid", req->lp.errors.data, req->lp.errors.len);
        return;
    }
    r->ctr.stamped_points_total += req->lp.stamped;
    if (req->lp.points == 0)
        http_respond(c, 204, NULL, NULL, 0);
    else
        write_target_append(&gw->t, c, gw->body, gw->body_len, write_v3_done);
}

static void gen_work_answer(struct ingest_work *iw)
{
    struct gen_work *gw = (struct gen_work *)iw;
    if (gw->zrc != 0)
        answer_gzip_error(gw);
    else if (gw->v3)
        v3_answer(gw);
    else
        v2_answer(gw);
}

void write_v2_org_handle(struct conn *c, struct http_req *req)
{
    struct relay *r = c->relay;
    size_t qlen;
    const char *q = req_query(req, &qlen);
    if (auth_refused(c, req, q, qlen)) {
        static const char msg[] = "unauthorized access";
        respond_v2(c, 401, NULL, "unauthorized", msg, sizeof(msg) - 1);
        return;
    }
    struct buf bucket, tmp;
    buf_init(&bucket);
    buf_init(&tmp);
    enum lp_precision p = LP_NS;
    struct gen_work *gw = NULL;
    query_get(q, qlen, "bucket", &bucket);
    if (bucket.len == 0) {
        V2_INVALID(c, "bucket is required");
        goto out;
    }
    query_get(q, qlen, "precision", &tmp);
    if (lp_parse_precision(tmp.data, tmp.len, 1, &p) != 0) {
        V2_INVALID(c, "invalid precision; valid precision units are ns, us, ms, and s");
        goto out;
    }
    if (req->bad_encoding) {
        V2_INVALID(c, "unsupported Content-Encoding (use gzip or identity)");
        goto out;
    }
    gw = gen_work_new(c, 0, bucket.data, bucket.len);
    if (gw->t.db.len == 0 || gw->t.db.len > UINT16_MAX || gw->t.rp.len > UINT16_MAX) {
        struct buf msg;
        buf_init(&msg);
        buf_printf(&msg, "bucket \"%.200s\" not found", bucket.data);
        respond_v2(c, 404, NULL, "not found", msg.data, msg.len);
        buf_deinit(&msg);
        gen_work_free(&gw->iw);
        goto out;
    }
    r->ctr.bytes_total += req->body.len;
    gw->t.precision = p;
    gw->iw.run = gen_work_run;
    gw->iw.answer = gen_work_answer;
    ingest_work_queue(c, &gw->iw);
out:
    buf_deinit(&bucket);
    buf_deinit(&tmp);
}
