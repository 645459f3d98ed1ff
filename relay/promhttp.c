/* POST /api/v1/prom/write: Prometheus remote write 1.0, answered as influxd 1.6.7 answers it.
 * Credentials and parameters as for /write, the snappy block inflated within max-inflated-size
 * (its claimed length checked before anything is allocated), the WriteRequest converted to line
 * protocol by promwrite.c, then committed through the /write path. Loop thread only. */
#include "relay/promwrite.h"
#include "relay/relay_int.h"

#include "common/err.h"

#include <string.h>

void promwrite_handle(struct conn *c, struct http_req *req)
{
    struct relay *r = c->relay;
    size_t qlen;
    const char *q = req_query(req, &qlen);
    if (auth_check(c, req, q, qlen) != 0)
        return;
    struct buf db, rp, cons, lp;
    buf_init(&db);
    buf_init(&rp);
    buf_init(&cons);
    buf_init(&lp);
    struct pw_result res;
    memset(&res, 0, sizeof(res));
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
        goto out;
    }
    /* The body is a snappy block whatever Content-Encoding says (Prometheus sends "snappy"),
     * as influxd reads it. */
    r->ctr.bytes_total += req->body.len;
    int rc = pw_inflate(req->body.data, req->body.len, r->cfg_limits.max_inflated_bytes,
                        &req->inflated, &res);
    if (rc == IWR_EFULL) {
        http_respond_error(c, 413, "Request Entity Too Large", 24);
        goto out;
    }
    if (rc == 0)
        rc = pw_convert(req->inflated.data, req->inflated.len, &lp, &res);
    if (rc != 0) {
        http_respond_error(c, 400, res.err, strlen(res.err));
        goto out;
    }
    /* influxd reads the consistency level only once the points are converted. */
    if (query_get(q, qlen, "consistency", &cons) &&
        write_parse_consistency(cons.data, &consistency) != 0) {
        static const char msg[] = "invalid consistency level";
        http_respond_error(c, 400, msg, sizeof(msg) - 1);
        goto out;
    }
    if (res.unconvertible > 0) {
        /* Answered as a partial write once the rest is committed (or at once if nothing is
         * left), as line-protocol lines refused by validation are. */
        req->lp.rejected += res.unconvertible;
        buf_append_str(&req->lp.errors, res.reason);
        r->ctr.rejected_lines_total += res.unconvertible;
    }
    write_commit(c, req, lp.data ? lp.data : "", lp.len, LP_NS, &db, &rp, consistency);
out:
    buf_deinit(&db);
    buf_deinit(&rp);
    buf_deinit(&cons);
    buf_deinit(&lp);
}
