/* The write endpoints: POST /write (InfluxDB 1.x) and POST /api/v2/write (1.8's compatibility
 * endpoint). Checks parameters and credentials, inflates gzip within its bound, validates and
 * normalises the line protocol, hands the record to the log and answers once the commit holding
 * it is durable. Answers and their bodies follow InfluxDB's.
 *
 * The loop thread runs everything but a write's CPU work: inflating, validating and
 * normalising, and encoding the record (wal_append_prepare) run on libuv's thread pool, so that
 * ingest leaves the loop to replay. ingest_work is that job's frame, shared by every HTTP write
 * endpoint (write_v3.c, promhttp.c); write_target is the /write path after decoding, shared by
 * the endpoints whose body becomes 1.x line protocol. */
#include "relay/relay_int.h"
#include "relay/shard_split.h"

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int gzip_inflate(const char *in, size_t len, size_t max, struct buf *out, const char **err)
{
    *err = NULL;
    if (len < 2 || (unsigned char)in[0] != 0x1f || (unsigned char)in[1] != 0x8b) {
        *err = "gzip: invalid header";
        return IWR_EPARSE;
    }
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
        *err = "gzip: cannot initialise";
        return IWR_EPARSE;
    }
    zs.next_in = (Bytef *)in;
    char probe; /* one byte of room past the bound; zlib reads it back within inflate() */
    int rc = 0;
    size_t left = len;
    for (;;) {
        uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
        zs.avail_in = chunk;
        if (out->len == max) {
            /* Exactly at the bound: only more output would be too much. */
            zs.next_out = (Bytef *)&probe;
            zs.avail_out = 1;
        } else {
            size_t room = max - out->len < 256 * 1024 ? max - out->len : 256 * 1024;
            zs.next_out = (Bytef *)buf_reserve(out, room);
            zs.avail_out = (uInt)room;
        }
        uInt avail_out_before = zs.avail_out;
        int z = inflate(&zs, Z_NO_FLUSH);
        size_t produced = avail_out_before - zs.avail_out;
        left -= chunk - zs.avail_in;
        if (out->len == max && produced > 0) {
            rc = IWR_EFULL;
            break;
        }
        out->len += produced;
        if (z == Z_STREAM_END) {
            if (left == 0)
                break;
            /* Another gzip member follows (concatenated streams are valid gzip). */
            if (inflateReset(&zs) != Z_OK) {
                *err = "gzip: invalid header";
                rc = IWR_EPARSE;
                break;
            }
            continue;
        }
        if (z == Z_NEED_DICT || z == Z_DATA_ERROR || z == Z_MEM_ERROR) {
            *err = zs.msg && strstr(zs.msg, "check") ? "gzip: invalid checksum"
                                                     : "flate: corrupt input";
            rc = IWR_EPARSE;
            break;
        }
        if (z == Z_BUF_ERROR && left == 0 && produced == 0) {
            *err = "unexpected EOF";
            rc = IWR_EPARSE;
            break;
        }
        if (out->len > max) {
            rc = IWR_EFULL;
            break;
        }
    }
    inflateEnd(&zs);
    return rc;
}

int write_parse_consistency(const char *s, uint8_t *out)
{
    static const char *const names[] = {"", "any", "one", "quorum", "all"};
    for (uint8_t i = 0; i < 5; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    return IWR_EPARSE;
}

int write_done_settle(struct conn *c, int rc)
{
    if (rc == 0)
        c->relay->ctr.points_total += c->req.lp.points;
    if (c->closing) {
        /* The client went away; the record is durable (or not) all the same. */
        conn_release_after_wal(c);
        return 1;
    }
    c->waiting_wal = 0;
    return 0;
}

int write_failure_text(int rc, size_t points, char *msg, size_t size)
{
    if (iwr_is_full(rc)) {
        /* The limit that was hit is named by the code: max-size, min-free or ENOSPC. */
        snprintf(msg, size, "write-ahead log is full (%s), retry later",
                 wal_full_reason_text(wal_full_reason_of(rc)));
        return 503;
    }
    log_error("event=append_failed err=\"%s\" points=%zu", iwr_strerror(rc), points);
    snprintf(msg, size, "internal error: write not committed");
    return 500;
}

static void write_done(void *arg, int rc, uint64_t seq)
{
    struct conn *c = arg;
    (void)seq;
    if (write_done_settle(c, rc))
        return;
    struct http_req *req = &c->req;
    if (rc == 0) {
        if (req->lp.rejected == 0) {
            http_respond(c, 204, NULL, NULL, 0);
            return;
        }
        /* Some lines were refused: the rest is committed, and the answer says what was not,
         * as InfluxDB's partial write does. */
        struct buf msg;
        buf_init(&msg);
        buf_append_str(&msg, "partial write: ");
        buf_append(&msg, req->lp.errors.data, req->lp.errors.len);
        buf_append_str(&msg, " dropped=0");
        http_respond_error(c, 400, msg.data, msg.len);
        buf_deinit(&msg);
        return;
    }
    char msg[160];
    int status = write_failure_text(rc, req->lp.points, msg, sizeof(msg));
    http_respond_error_hdr(c, status, status == 503 ? "Retry-After: 5\r\n" : NULL, msg,
                           strlen(msg));
}

void write_target_init(struct write_target *t, struct relay *r, struct buf *db, struct buf *rp,
                       enum lp_precision p, uint8_t consistency)
{
    memset(t, 0, sizeof(*t));
    t->db = *db;
    t->rp = *rp;
    buf_init(db);
    buf_init(rp);
    t->precision = p;
    t->consistency = consistency;
    t->allow_unsigned = r->cfg_limits.allow_unsigned;
    /* A name too long for a record is refused on the loop; nothing to encode then. */
    t->encode = r->split == NULL && t->db.len <= UINT16_MAX && t->rp.len <= UINT16_MAX;
}

void write_target_deinit(struct write_target *t)
{
    wal_append_discard(t->op);
    t->op = NULL;
    buf_deinit(&t->db);
    buf_deinit(&t->rp);
}

/* The record of a normalised request: borrows 'req', 'body' and the names. Any thread. */
static void write_record_fill(struct wal_record *rec, const struct http_req *req,
                              const char *body, size_t body_len, const struct write_target *t)
{
    memset(rec, 0, sizeof(*rec));
    rec->recv_ns = req->recv_ns;
    rec->points = (uint32_t)req->lp.points;
    rec->precision = LP_NS;
    rec->consistency = t->consistency;
    rec->db = t->db.data;
    rec->db_len = t->db.len;
    rec->rp = t->rp.data ? t->rp.data : "";
    rec->rp_len = t->rp.len;
    /* A body with nothing to rewrite is stored as received (the log copies it). */
    rec->body = req->lp.as_received ? body : req->norm.data;
    rec->body_len = req->lp.as_received ? body_len : req->norm.len;
}

void write_target_encode(struct write_target *t, const struct http_req *req, const char *body,
                         size_t body_len)
{
    if (t->encode && req->lp.points > 0) {
        struct wal_record rec;
        write_record_fill(&rec, req, body, body_len, t);
        t->op = wal_append_prepare(&rec);
    }
}

void write_target_prepare(struct write_target *t, struct http_req *req, const char *body,
                          size_t body_len)
{
    struct lp_options lo = {.allow_unsigned = t->allow_unsigned, .max_errors = 8};
    lp_normalize_borrow(body, body_len, t->precision, (int64_t)req->recv_ns, &lo, &req->norm,
                        &req->lp);
    write_target_encode(t, req, body, body_len);
}

void write_target_append(struct write_target *t, struct conn *c, const char *body,
                         size_t body_len, wal_done_cb *done)
{
    struct relay *r = c->relay;
    struct wal_op *op = t->op;
    t->op = NULL;
    c->waiting_wal = 1;
    if (op != NULL && r->split == NULL) {
        wal_append_submit(r->wal, op, done, c);
        return;
    }
    wal_append_discard(op);
    struct wal_record rec;
    write_record_fill(&rec, &c->req, body, body_len, t);
    shard_split_append(r, &rec, done, c); /* wal_append, by shard */
}

/* With shards the split is chosen here, on the loop, so that every record is split by the ring
 * in force at its place in the log (a switch record swaps the ring in the loop turn that
 * submits it); an op encoded on the pool is used only without them. */
void write_target_submit(struct write_target *t, struct conn *c, const char *body,
                         size_t body_len)
{
    struct relay *r = c->relay;
    struct http_req *req = &c->req;
    r->ctr.rejected_lines_total += req->lp.rejected;
    r->ctr.stamped_points_total += req->lp.stamped;
    if (req->lp.points == 0) {
        if (req->lp.rejected > 0)
            http_respond_error(c, 400, req->lp.errors.data, req->lp.errors.len);
        else
            http_respond(c, 204, NULL, NULL, 0); /* nothing to write, as InfluxDB answers */
        return;
    }
    write_target_append(t, c, body, body_len, write_done);
}

int ingest_body(struct http_req *req, size_t max, const char **body, size_t *len,
                const char **zerr)
{
    *body = req->body.data;
    *len = req->body.len;
    *zerr = NULL;
    if (!req->gzip)
        return 0;
    int rc = gzip_inflate(*body, *len, max, &req->inflated, zerr);
    if (rc == 0) {
        *body = req->inflated.data;
        *len = req->inflated.len;
    }
    return rc;
}

static void ingest_work_run(uv_work_t *w)
{
    struct ingest_work *iw = w->data;
    iw->run(iw);
}

static void ingest_work_done(uv_work_t *w, int status)
{
    struct ingest_work *iw = w->data;
    struct conn *c = iw->c;
    struct relay *r = c->relay;
    IWR_ASSERT(status == 0); /* the work is never cancelled */
    r->writes_working--;
    /* A client that is gone gets nothing appended: it heard no answer, and InfluxDB too may or
     * may not store a write whose client went away. A reset counts as gone; an EOF does not
     * (a client that half-closes after its request still gets its answer). */
    if (conn_peer_gone(c)) {
        r->ctr.abandoned_writes_total++;
        iw->free(iw);
        conn_release_after_wal(c);
        return;
    }
    c->waiting_wal = 0;
    iw->answer(iw);
    iw->free(iw);
}

void ingest_work_queue(struct conn *c, struct ingest_work *iw)
{
    struct relay *r = c->relay;
    iw->work.data = iw;
    iw->c = c;
    /* The connection stays allocated, and its request untouched, until ingest_work_done. */
    c->waiting_wal = 1;
    r->writes_working++;
    int rc = uv_queue_work(r->loop, &iw->work, ingest_work_run, ingest_work_done);
    IWR_ASSERT(rc == 0); /* only fails for a NULL work callback */
}

/* A /write's job: gzip, then the target's validation. */
struct write_work {
    struct ingest_work iw; /* first */
    struct write_target t;
    size_t max_inflated_bytes;
    int zrc;               /* gzip_inflate's answer; 0 for a plain body */
    const char *zerr;      /* its text (static) */
    const char *body;      /* the body validated: the request's, or its inflated copy */
    size_t body_len;
};

static void write_work_run(struct ingest_work *iw)
{
    struct write_work *ww = (struct write_work *)iw;
    struct http_req *req = &iw->c->req;
    ww->zrc = ingest_body(req, ww->max_inflated_bytes, &ww->body, &ww->body_len, &ww->zerr);
    if (ww->zrc != 0)
        return;
    write_target_prepare(&ww->t, req, ww->body, ww->body_len);
}

static void write_work_answer(struct ingest_work *iw)
{
    struct write_work *ww = (struct write_work *)iw;
    struct conn *c = iw->c;
    if (ww->zrc == IWR_EFULL)
        http_respond_error(c, 413, "Request Entity Too Large", 24);
    else if (ww->zrc != 0)
        http_respond_error(c, 400, ww->zerr, strlen(ww->zerr));
    else
        write_target_submit(&ww->t, c, ww->body, ww->body_len);
}

static void write_work_free(struct ingest_work *iw)
{
    struct write_work *ww = (struct write_work *)iw;
    write_target_deinit(&ww->t);
    free(ww);
}

/* Queue the work of a checked /write; the answer comes after it. Takes 'db' and 'rp' (left
 * empty). */
static void write_queue(struct conn *c, struct buf *db, struct buf *rp, enum lp_precision p,
                        uint8_t consistency)
{
    struct relay *r = c->relay;
    struct write_work *ww = xcalloc(1, sizeof(*ww));
    write_target_init(&ww->t, r, db, rp, p, consistency);
    ww->max_inflated_bytes = r->cfg_limits.max_inflated_bytes;
    ww->iw.run = write_work_run;
    ww->iw.answer = write_work_answer;
    ww->iw.free = write_work_free;
    ingest_work_queue(c, &ww->iw);
}

#define BAD_REQUEST(c, msg) http_respond_error((c), 400, (msg), strlen(msg))

void write_handle(struct conn *c, struct http_req *req, int v2)
{
    struct relay *r = c->relay;
    size_t qlen;
    const char *q = req_query(req, &qlen);
    if (auth_check(c, req, q, qlen) != 0)
        return;
    struct buf db, rp, prec, cons;
    buf_init(&db);
    buf_init(&rp);
    buf_init(&prec);
    buf_init(&cons);
    enum lp_precision p = LP_NS;
    uint8_t consistency = 0;
    const char *err = NULL;
    if (v2) {
        /* The bucket is "db/rp" or "db"; the org is not used by InfluxDB 1.x. */
        query_get(q, qlen, "bucket", &db);
        char *slash = db.len ? memchr(db.data, '/', db.len) : NULL;
        if (slash != NULL) {
            buf_append_str(&rp, slash + 1);
            db.len = (size_t)(slash - db.data);
            db.data[db.len] = '\0';
        }
        if (db.len == 0)
            err = "bucket is required";
    } else {
        query_get(q, qlen, "db", &db);
        query_get(q, qlen, "rp", &rp);
        if (db.len == 0)
            err = "database is required";
    }
    query_get(q, qlen, "precision", &prec);
    if (err == NULL && lp_parse_precision(prec.data, prec.len, v2, &p) != 0)
        err = "invalid precision (use n, ns, u, us, ms, s, m or h)";
    if (err == NULL && !v2 && query_get(q, qlen, "consistency", &cons) &&
        write_parse_consistency(cons.data, &consistency) != 0)
        err = "invalid consistency level";
    if (err == NULL && req->bad_encoding)
        err = "unsupported Content-Encoding (use gzip or none)";
    if (err == NULL && (db.len > UINT16_MAX || rp.len > UINT16_MAX))
        err = "database or retention policy name too long";
    if (err != NULL) {
        BAD_REQUEST(c, err);
        goto out;
    }

    r->ctr.bytes_total += req->body.len;
    write_queue(c, &db, &rp, p, consistency);
out:
    buf_deinit(&db);
    buf_deinit(&rp);
    buf_deinit(&prec);
    buf_deinit(&cons);
}
