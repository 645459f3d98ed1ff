/* POST /api/v1/prom/write: Prometheus remote write 1.0, answered as influxd 1.6.7 answers it.
 * Credentials and parameters are checked on the loop; on libuv's pool (ingest_work) the snappy
 * block is inflated within max-inflated-size (its claimed length checked before anything is
 * allocated), the WriteRequest converted to line protocol by promwrite.c and validated as a
 * /write body is (write_target); back on the loop it is answered or committed through the
 * /write path. */
#include "relay/promwrite.h"
#include "relay/relay_int.h"

#include "common/err.h"
#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>

struct prom_work {
    struct ingest_work iw; /* first */
    struct write_target t;
    size_t max_inflated_bytes;
    int bad_consistency;   /* the consistency parameter is refused, once the body converts */
    int rc;                /* pw_inflate's or pw_convert's answer */
    struct pw_result res;
    struct buf lp;         /* the converted body */
};

static void prom_work_run(struct ingest_work *iw)
{
    struct prom_work *pw = (struct prom_work *)iw;
    struct http_req *req = &iw->c->req;
    /* The body is a snappy block whatever Content-Encoding says (Prometheus sends "snappy"),
     * as influxd reads it. */
    pw->rc = pw_inflate(req->body.data, req->body.len, pw->max_inflated_bytes, &req->inflated,
                        &pw->res);
    if (pw->rc == 0)
        pw->rc = pw_convert(req->inflated.data, req->inflated.len, &pw->lp, &pw->res);
    if (pw->rc != 0 || pw->bad_consistency)
        return;
    if (pw->res.unconvertible > 0) {
        /* Answered as a partial write once the rest is committed (or at once if nothing is
         * left), as line-protocol lines refused by validation are. */
        req->lp.rejected += pw->res.unconvertible;
        buf_append_str(&req->lp.errors, pw->res.reason);
    }
    write_target_prepare(&pw->t, req, pw->lp.data ? pw->lp.data : "", pw->lp.len);
}

static void prom_work_answer(struct ingest_work *iw)
{
    struct prom_work *pw = (struct prom_work *)iw;
    struct conn *c = iw->c;
    if (pw->rc == IWR_EFULL) {
        http_respond_error(c, 413, "Request Entity Too Large", 24);
    } else if (pw->rc != 0) {
        http_respond_error(c, 400, pw->res.err, strlen(pw->res.err));
    } else if (pw->bad_consistency) {
        /* influxd reads the consistency level only once the points are converted. */
        static const char msg[] = "invalid consistency level";
        http_respond_error(c, 400, msg, sizeof(msg) - 1);
    } else {
        write_target_submit(&pw->t, c, pw->lp.data ? pw->lp.data : "", pw->lp.len);
    }
}

static void prom_work_free(struct ingest_work *iw)
{
    struct prom_work *pw = (struct prom_work *)iw;
    write_target_deinit(&pw->t);
    buf_deinit(&pw->lp);
    free(pw);
}

void promwrite_handle(struct conn *c, struct http_req *req)
{
    struct relay *r = c->relay;
    size_t qlen;
    const char *q = req_query(req, &qlen);
    if (auth_check(c, req, q, qlen) != 0)
        return;
    struct buf db, rp, cons;
    buf_init(&db);
    buf_init(&rp);
    buf_init(&cons);
    uint8_t consistency = 0;
    query_get(q, qlen, "db", &db);
    query_get(q, qlen, "rp", &rp);
    const char *err = NULL;
    if (db.len == 0)
        err = "database is required";
    else if (db.len > UINT16_MAX || rp.len > UINT16_MAX)
        err = "database or retention policy name too long";
    if (err != NULL) {
        http_respond_error(c, 400, err, strlen(err));
    } else {
        r->ctr.bytes_total += req->body.len;
        struct prom_work *pw = xcalloc(1, sizeof(*pw));
        pw->bad_consistency = query_get(q, qlen, "consistency", &cons) &&
                              write_parse_consistency(cons.data, &consistency) != 0;
        write_target_init(&pw->t, r, &db, &rp, LP_NS, consistency);
        pw->max_inflated_bytes = r->cfg_limits.max_inflated_bytes;
        buf_init(&pw->lp);
        pw->iw.run = prom_work_run;
        pw->iw.answer = prom_work_answer;
        pw->iw.free = prom_work_free;
        ingest_work_queue(c, &pw->iw);
    }
    buf_deinit(&db);
    buf_deinit(&rp);
    buf_deinit(&cons);
}
