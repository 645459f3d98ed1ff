/* The write endpoints of the later generations: POST /api/v3/write_lp as InfluxDB 3 Core answers
 * it, and POST /api/v2/write as InfluxDB 2.x answers it when the request carries 'org' (a 2.x
 * client's request; without 'org', write.c answers as 1.8 does). Each validates as /write does,
 * commits to the log before it answers (no_sync changes nothing here: the answer always follows
 * the fsync) and answers with its generation's status codes and JSON error bodies. The texts
 * for bad lines are 1.x's (lineproto.c), the body around them the generation's. Loop thread only. */
#include "relay/lpv3.h"
#include "relay/relay_int.h"
#include "relay/shard_split.h"

#include "common/err.h"
#include "common/log.h"

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

/* Append the normalised body norm[0, norm_len) (req->lp.points points: req->norm, or the body
 * as received when nothing in it was rewritten; wal_append copies it) for db/rp;
 * write_v3_done answers. */
static void commit_norm(struct conn *c, struct http_req *req, const char *norm, size_t norm_len,
                        const struct buf *db, const struct buf *rp)
{
    struct wal_record rec = {0};
    rec.recv_ns = req->recv_ns;
    rec.points = (uint32_t)req->lp.points;
    rec.precision = LP_NS;
    rec.db = db->data;
    rec.db_len = db->len;
    rec.rp = rp->data ? rp->data : "";
    rec.rp_len = rp->len;
    rec.body = norm;
    rec.body_len = norm_len;
    c->waiting_wal = 1;
    shard_split_append(c->relay, &rec, write_v3_done, c); /* wal_append, by shard */
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

/* The body of 'req', inflated when it is gzip; 0, or an answer was sent (-1). 'v3' picks the
 * generation's texts. */
static int take_body(struct conn *c, struct http_req *req, int v3, const char **body,
                     size_t *body_len)
{
    struct relay *r = c->relay;
    *body = req->body.data;
    *body_len = req->body.len;
    r->ctr.bytes_total += req->body.len;
    if (!req->gzip)
        return 0;
    const char *err = NULL;
    size_t max = r->cfg_limits.max_inflated_bytes;
    int zrc = gzip_inflate(req->body.data, req->body.len, max, &req->inflated, &err);
    if (zrc == IWR_EFULL) {
        char msg[96];
        snprintf(msg, sizeof(msg), "max request size (%zu bytes) exceeded", max);
        if (v3) {
            respond_v3_text(c, 413, msg);
        } else {
            /* The 2.x reference's OSS 413 example, word for word (2.x clients read the code). */
            static const char v2msg[] = "unable to read data: points batch is too large";
            respond_v2(c, 413, NULL, "request too large", v2msg, sizeof(v2msg) - 1);
        }
        return -1;
    }
    if (zrc != 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "error decoding gzip stream: %s", err);
        if (v3)
            respond_v3_text(c, 400, msg);
        else
            V2_INVALID(c, msg);
        return -1;
    }
    *body = req->inflated.data;
    *body_len = req->inflated.len;
    return 0;
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
    struct buf name, db, rp, tmp;
    buf_init(&name);
    buf_init(&db);
    buf_init(&rp);
    buf_init(&tmp);
    struct lpv3_precision prec = {1, LP_NS};
    const char *body;
    size_t body_len;
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
    if (take_body(c, req, 1, &body, &body_len) != 0)
        goto out;
    write_map_bucket(&r->cfg_limits, name.data, name.len, &db, &rp);

    struct lp_options lo = {.allow_unsigned = r->cfg_limits.allow_unsigned};
    struct lpv3_result res;
    lpv3_result_init(&res);
    lpv3_normalize_borrow(body, body_len, prec, (int64_t)req->recv_ns, &lo, &req->norm, &res);
    r->ctr.rejected_lines_total += res.rejected;
    r->ctr.stamped_points_total += res.stamped;
    req->lp.points = res.points;
    req->lp.rejected = res.rejected;
    buf_clear(&req->lp.errors);
    if (res.rejected > 0 && !accept_partial) {
        /* 3.x stops at the first bad line and writes nothing. The text is the server's (3.x's
         * source, and clients' tests against 3.11); the write guide's example still shows an
         * older one, "parsing failed for write_lp endpoint". */
        buf_append_str(&req->lp.errors, "{\"error\":\"line protocol parsing error\",\"data\":");
        buf_append(&req->lp.errors, res.first_json.data, res.first_json.len);
        buf_append_str(&req->lp.errors, "}\n");
        http_respond(c, 400, NULL, req->lp.errors.data, req->lp.errors.len);
    } else if (res.points == 0 && res.rejected == 0) {
        respond_v3_text(c, 400, "incoming write was empty");
    } else {
        if (res.rejected > 0) {
            buf_append_str(&req->lp.errors,
                           "{\"error\":\"partial write of line protocol occurred\",\"data\":[");
            buf_append(&req->lp.errors, res.errors_json.data, res.errors_json.len);
            buf_append_str(&req->lp.errors, "]}\n");
        }
        if (res.points == 0)
            http_respond(c, 400, NULL, req->lp.errors.data, req->lp.errors.len);
        else if (db.len > UINT16_MAX || rp.len > UINT16_MAX)
            http_respond_error(c, 400, "database or retention policy name too long", 42);
        else if (res.as_received)
            commit_norm(c, req, body, body_len, &db, &rp);
        else
            commit_norm(c, req, req->norm.data, req->norm.len, &db, &rp);
    }
    lpv3_result_deinit(&res);
out:
    buf_deinit(&name);
    buf_deinit(&db);
    buf_deinit(&rp);
    buf_deinit(&tmp);
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
    struct buf bucket, db, rp, tmp;
    buf_init(&bucket);
    buf_init(&db);
    buf_init(&rp);
    buf_init(&tmp);
    enum lp_precision p = LP_NS;
    const char *body;
    size_t body_len;
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
    write_map_bucket(&r->cfg_limits, bucket.data, bucket.len, &db, &rp);
    if (db.len == 0 || db.len > UINT16_MAX || rp.len > UINT16_MAX) {
        struct buf msg;
        buf_init(&msg);
        buf_printf(&msg, "bucket \"%.200s\" not found", bucket.data);
        respond_v2(c, 404, NULL, "not found", msg.data, msg.len);
        buf_deinit(&msg);
        goto out;
    }
    if (take_body(c, req, 0, &body, &body_len) != 0)
        goto out;
    struct lp_options lo = {.allow_unsigned = r->cfg_limits.allow_unsigned, .max_errors = 1};
    lp_normalize_borrow(body, body_len, p, (int64_t)req->recv_ns, &lo, &req->norm, &req->lp);
    r->ctr.rejected_lines_total += req->lp.rejected;
    if (req->lp.rejected > 0) {
        /* 2.x refuses the whole batch at its first bad point. */
        respond_v2(c, 400, NULL, "invalid", req->lp.errors.data, req->lp.errors.len);
        goto out;
    }
    r->ctr.stamped_points_total += req->lp.stamped;
    if (req->lp.points == 0)
        http_respond(c, 204, NULL, NULL, 0);
    else if (req->lp.as_received)
        commit_norm(c, req, body, body_len, &db, &rp); /* nothing to rewrite: stored as sent */
    else
        commit_norm(c, req, req->norm.data, req->norm.len, &db, &rp);
out:
    buf_deinit(&bucket);
    buf_deinit(&db);
    buf_deinit(&rp);
    buf_deinit(&tmp);
}
