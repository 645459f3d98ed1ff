/* The endpoints other relays feeding the same backends ask (replay/fence.c is the asking
 * side):
 *
 *   GET  /api/peer/status                   this relay's name and, per backend, its cursor,
 *                                           lag, and where its sender is at the fences
 *   POST /api/peer/fence?origin=R&seq=N     commit a fence for statement N of leader R in
 *                                           this relay's log; answers {"fence": F}, F its seq
 *
 * With [auth] enabled both need a relay user with admin = true (the peers' [[peer]] tables
 * carry one). Answers are JSON; the status is flat objects so the other side's reader stays
 * small. Loop thread only. */
#include "relay/relay_int.h"

#include "common/err.h"
#include "common/log.h"
#include "common/name.h"
#include "common/xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fence_req {
    struct conn *c;
    uint64_t stmt;
};

static void status_json(struct conn *c)
{
    struct relay *r = c->relay;
    struct relay_backend_view *st = NULL;
    size_t n = 0;
    if (r->hooks.backends)
        r->hooks.backends(r->hooks.arg, &st, &n);
    const char *leader = r->hooks.peer_leader ? r->hooks.peer_leader(r->hooks.arg) : NULL;
    const char *me = r->cfg_limits.relay_name ? r->cfg_limits.relay_name : "relay";
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "{\"name\":\"%s\",\"leader\":\"%s\",\"backends\":[", me,
               leader != NULL ? leader : me);
    for (size_t i = 0; i < n; i++) {
        const struct relay_backend_view *v = &st[i];
        buf_printf(&b,
                   "%s{\"name\":\"%s\",\"up\":%s,\"cursor\":%" PRIu64 ",\"lag_records\":%" PRIu64
                   ",\"oldest_unacked_ns\":%" PRIu64 ",\"fence_origin\":\"%s\",\"fence_wait_seq\":%" PRIu64
                   ",\"fence_passed_origin\":\"%s\",\"fence_passed_seq\":%" PRIu64
                   ",\"barrier_wait_seq\":%" PRIu64 "}",
                   i ? "," : "", v->name, v->up ? "true" : "false", v->cursor, v->lag_records,
                   v->oldest_unacked_ns, v->fence_origin, v->fence_wait_seq,
                   v->fence_passed_origin, v->fence_passed_seq, v->barrier_wait_seq);
    }
    buf_append_str(&b, "]}\n");
    free(st);
    http_respond(c, 200, NULL, b.data, b.len);
    buf_deinit(&b);
}

static void fence_committed(void *arg, int rc, uint64_t seq)
{
    struct fence_req *f = arg;
    struct conn *c = f->c;
    free(f);
    if (c->closing) {
        conn_release_after_wal(c);
        return;
    }
    c->waiting_wal = 0;
    if (rc != 0) {
        log_warn("event=fence_append_failed err=\"%s\"", iwr_strerror(rc));
        const char *m = iwr_is_full(rc) ? "write-ahead log is full" : "the fence was not committed";
        http_respond_error(c, iwr_is_full(rc) ? 503 : 500, m, strlen(m));
        return;
    }
    char body[64];
    int len = snprintf(body, sizeof(body), "{\"fence\":%" PRIu64 "}\n", seq);
    http_respond(c, 200, NULL, body, (size_t)len);
}

static void fence_handle(struct conn *c, struct http_req *req, const char *q, size_t qlen)
{
    struct relay *r = c->relay;
    struct buf origin, seq;
    buf_init(&origin);
    buf_init(&seq);
    int ok = query_get(q, qlen, "origin", &origin) && query_get(q, qlen, "seq", &seq);
    if (!ok && req->body.len > 0)
        ok = query_get(req->body.data, req->body.len, "origin", &origin) &&
             query_get(req->body.data, req->body.len, "seq", &seq);
    char *end = NULL;
    uint64_t n = ok && seq.len > 0 ? strtoull(seq.data, &end, 10) : 0;
    if (!ok || n == 0 || end == NULL || *end != '\0' || !name_valid(origin.data)) {
        static const char msg[] = "missing or bad parameter: origin= (a relay name) and seq=";
        http_respond_error(c, 400, msg, sizeof(msg) - 1);
        goto out;
    }
    char body[160];
    int len = snprintf(body, sizeof(body), "-- fence origin=%s statement=%" PRIu64, origin.data, n);
    struct wal_record rec = {0};
    rec.recv_ns = wal_now_ns();
    rec.flags = WAL_REC_STATEMENT | WAL_REC_FENCE;
    rec.db = "";
    rec.rp = "";
    rec.body = body;
    rec.body_len = (size_t)len;
    struct fence_req *f = xcalloc(1, sizeof(*f));
    f->c = c;
    f->stmt = n;
    c->waiting_wal = 1;
    log_info("event=fence_requested origin=%s statement=%" PRIu64, origin.data, n);
    wal_append(r->wal, &rec, fence_committed, f);
out:
    buf_deinit(&origin);
    buf_deinit(&seq);
}

void peer_handle(struct conn *c, struct http_req *req)
{
    const char *q;
    size_t qlen;
    if (admin_begin(c, req, "the peer endpoints", &q, &qlen) != 0)
        return;
    if (req->method == HTTP_POST)
        fence_handle(c, req, q, qlen);
    else
        status_json(c);
}
