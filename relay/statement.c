/* /query statements that change schema or data (query.c decides which): they are committed to
 * the log as a record of their own (WAL_REC_STATEMENT), in order with the writes, and every
 * backend's sender applies them at that place in its stream. Here: the privilege check, the
 * commit (now() replaced by the commit time first), and the answer, which is the first
 * backend's own (relay_hooks.statement_wait), or 202 "committed" when none answered within
 * [query] statement-timeout.
 *
 * Privilege, so that nobody gains one through the relay:
 * - [auth] enabled: only a relay user marked admin may send them (others get 403); the
 *   backends then see the relay's configured credentials, as for writes.
 * - [auth] off: before anything is committed, a backend that is up is asked something that
 *   needs the same privilege and changes nothing, with the client's own credentials (its
 *   Authorization header, u and p of its URL): SHOW USERS (admin) for every statement except
 *   DELETE and DROP SERIES with a db=, which need write access there: an empty POST /write to
 *   that database (influxd 1.6 answers 204 with the privilege, 401/403 without, 404 when the
 *   database does not exist). Any other answer goes back to the client and nothing is
 *   committed; no backend up: 503.
 *
 * The statement's text is never logged (user statements hold passwords). Loop thread only. */
#include "relay/relay_int.h"
#include "relay/shard_moving.h"
#include "relay/shard_split.h"

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "relay/influxql.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define PROBE_BODY_MAX (64 * 1024)
#define STATEMENT_TIMEOUT_DEFAULT_MS 10000

struct stmt_req {
    struct conn *client;
    struct relay *relay;
    struct buf q, db, rp;
    int write_probe;  /* the probe is an empty /write to db (else SHOW USERS) */
    char backend[65]; /* the probe's */
    long probe_status;
    struct buf probe_body;
    void *probe_handle;
    uint64_t seq;
};

static void stmt_free(struct stmt_req *sr)
{
    buf_deinit(&sr->q);
    buf_deinit(&sr->db);
    buf_deinit(&sr->rp);
    buf_deinit(&sr->probe_body);
    free(sr);
}

/* The end of the request: answer the client unless it left. Frees 'sr'. */
static void stmt_finish(struct stmt_req *sr, int status, const char *headers, const char *body,
                        size_t len)
{
    struct conn *c = sr->client;
    if (c->closing) {
        conn_release_after_wal(c);
    } else {
        c->waiting_wal = 0;
        http_respond(c, status, headers, body, len);
    }
    stmt_free(sr);
}

static void stmt_fail(struct stmt_req *sr, int status, const char *msg)
{
    struct conn *c = sr->client;
    if (c->closing) {
        conn_release_after_wal(c);
    } else {
        c->waiting_wal = 0;
        http_respond_error(c, status, msg, strlen(msg));
    }
    stmt_free(sr);
}

/* ---- the answer ---------------------------------------------------------------------------- */

static void answered(void *arg, int rc, const struct relay_statement_answer *a)
{
    struct stmt_req *sr = arg;
    char hdr[160];
    if (rc == 0) {
        snprintf(hdr, sizeof(hdr), "X-Influx-Wal-Backend: %s\r\nX-Influx-Wal-Seq: %" PRIu64 "\r\n",
                 a->backend, sr->seq);
        stmt_finish(sr, (int)a->status, hdr, a->body, a->body_len);
        return;
    }
    /* Committed all the same: every backend gets it in its place. */
    const struct relay_options *o = &sr->relay->cfg_limits;
    uint64_t ms = o->statement_timeout_ms ? o->statement_timeout_ms : STATEMENT_TIMEOUT_DEFAULT_MS;
    struct buf b;
    buf_init(&b);
    buf_printf(&b,
               "{\"error\":\"the statement is committed to the log (seq %" PRIu64 ") and will be "
               "applied to every backend in log order, but no backend applied it within %" PRIu64
               " ms%s\",\"committed\":true,\"seq\":%" PRIu64 "}\n",
               sr->seq, rc == -ETIMEDOUT ? ms : 0,
               rc == -ETIMEDOUT ? "" : " (the relay is stopping)", sr->seq);
    snprintf(hdr, sizeof(hdr), "X-Influx-Wal-Seq: %" PRIu64 "\r\n", sr->seq);
    log_info("event=statement_pending seq=%" PRIu64 " reason=%s", sr->seq,
             rc == -ETIMEDOUT ? "timeout" : "stopping");
    stmt_finish(sr, 202, hdr, b.data, b.len);
    buf_deinit(&b);
}

/* ---- the commit ---------------------------------------------------------------------------- */

static void committed(void *arg, int rc, uint64_t seq)
{
    struct stmt_req *sr = arg;
    struct relay *r = sr->relay;
    if (rc != 0) {
        if (iwr_is_full(rc)) {
            static const char body[] = "{\"error\":\"write-ahead log is full, retry later: the "
                                       "statement was not committed\"}\n";
            stmt_finish(sr, 503, "Retry-After: 5\r\n", body, sizeof(body) - 1);
        } else {
            log_error("event=append_failed kind=statement err=\"%s\"", iwr_strerror(rc));
            stmt_fail(sr, 500, "internal error: statement not committed");
        }
        return;
    }
    sr->seq = seq;
    log_info("event=statement_committed seq=%" PRIu64, seq);
    if (r->hooks.peer_fence != NULL) /* the other relays' writes on either side of it */
        r->hooks.peer_fence(r->hooks.arg, seq);
    if (sr->client->closing) { /* nobody to answer; the backends get it all the same */
        conn_release_after_wal(sr->client);
        stmt_free(sr);
        return;
    }
    uint64_t ms = r->cfg_limits.statement_timeout_ms;
    if (ms == 0)
        ms = STATEMENT_TIMEOUT_DEFAULT_MS;
    if (r->hooks.statement_wait == NULL ||
        r->hooks.statement_wait(r->hooks.arg, seq, ms, answered, sr) != 0)
        answered(sr, IWR_ESTOPPED, NULL);
}

static void commit(struct stmt_req *sr)
{
    struct relay *r = sr->relay;
    /* Checked here, in the loop turn of the append, so that a statement let through is in
     * the log before the mark record of a moving set that refuses it (shard_moving.c). */
    struct buf why;
    buf_init(&why);
    if (shard_moving_refuses(shard_active_moving(r), sr->q.data, sr->q.len, sr->db.data,
                             sr->db.len, &why)) {
        log_info("event=statement_refused reason=reshard_moving");
        buf_append(&why, "", 1);
        stmt_fail(sr, 409, why.data);
        buf_deinit(&why);
        return;
    }
    buf_deinit(&why);
    uint64_t now = wal_now_ns();
    /* now() is the commit time for every backend, however late it applies the statement. */
    struct buf text;
    buf_init(&text);
    iql_rewrite_now(sr->q.data, sr->q.len, (int64_t)now, &text);
    struct wal_record rec = {0};
    rec.recv_ns = now;
    rec.flags = WAL_REC_STATEMENT;
    rec.db = sr->db.data != NULL ? sr->db.data : "";
    rec.db_len = sr->db.len;
    rec.rp = sr->rp.data != NULL ? sr->rp.data : "";
    rec.rp_len = sr->rp.len;
    rec.body = text.data;
    rec.body_len = text.len;
    shard_split_append(r, &rec, committed, sr); /* wal_append, to the shards concerned */
    buf_deinit(&text);
}

/* ---- the probe ----------------------------------------------------------------------------- */

static void probe_head(void *arg, long status, const char *headers, size_t len)
{
    struct stmt_req *sr = arg;
    (void)headers;
    (void)len;
    sr->probe_status = status;
}

static int probe_data(void *arg, const char *p, size_t len)
{
    struct stmt_req *sr = arg;
    if (sr->probe_body.len + len > PROBE_BODY_MAX)
        len = PROBE_BODY_MAX - sr->probe_body.len;
    buf_append(&sr->probe_body, p, len);
    return 0;
}

static int has_error(const struct buf *b)
{
    return b->len >= 7 && memmem(b->data, b->len, "\"error\"", 7) != NULL;
}

static void probe_done(void *arg, int rc, const char *err)
{
    struct stmt_req *sr = arg;
    sr->probe_handle = NULL;
    if (rc != 0) {
        log_warn("event=statement_probe_failed backend=%s status=%d", sr->backend, rc);
        stmt_fail(sr, rc, err != NULL ? err : "the backend failed to check the credentials");
        return;
    }
    long st = sr->probe_status;
    int ok = st >= 200 && st < 300 && !has_error(&sr->probe_body);
    if (!ok) {
        /* influxd's own refusal, as it gave it: nothing is committed. */
        log_info("event=statement_refused_by_probe backend=%s http=%ld", sr->backend, st);
        char hdr[96];
        snprintf(hdr, sizeof(hdr), "X-Influx-Wal-Backend: %s\r\n", sr->backend);
        int code = st >= 100 && st < 600 ? (int)st : 502;
        if (code < 300) /* a 2xx with an "error": the statement would not pass either */
            code = 403;
        stmt_finish(sr, code, hdr, sr->probe_body.data, sr->probe_body.len);
        return;
    }
    if (sr->client->closing) {
        conn_release_after_wal(sr->client);
        stmt_free(sr);
        return;
    }
    commit(sr);
}

static void append_param(struct buf *out, const char *key, const struct buf *v)
{
    static const char hex[] = "0123456789ABCDEF";
    buf_printf(out, "&%s=", key);
    for (size_t i = 0; i < v->len; i++) {
        unsigned char ch = (unsigned char)v->data[i];
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            buf_append(out, &v->data[i], 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            buf_append(out, e, 3);
        }
    }
}

static void probe(struct stmt_req *sr, struct http_req *req, const char *qs, size_t qslen)
{
    struct relay *r = sr->relay;
    struct relay_backend_view *st = NULL;
    int i = query_backend_for_read(r, &st);
    if (i < 0) {
        free(st);
        static const char body[] = "{\"error\":\"no backend is up to check the credentials of "
                                   "the statement: nothing was committed\"}\n";
        stmt_finish(sr, 503, "Retry-After: 5\r\n", body, sizeof(body) - 1);
        return;
    }
    snprintf(sr->backend, sizeof(sr->backend), "%s", st[i].name);
    free(st);
    /* The client's credentials and nothing else: its Authorization header, its u and p. */
    struct buf target, headers, u, p;
    buf_init(&target);
    buf_init(&headers);
    buf_init(&u);
    buf_init(&p);
    if (sr->write_probe) {
        buf_append_str(&target, "/write?precision=ns");
        append_param(&target, "db", &sr->db);
    } else {
        buf_append_str(&target, "/query?q=SHOW%20USERS");
    }
    if (query_get(qs, qslen, "u", &u)) {
        append_param(&target, "u", &u);
        query_get(qs, qslen, "p", &p);
        append_param(&target, "p", &p);
    }
    if (req->auth.len > 0) {
        buf_append_str(&headers, "Authorization: ");
        buf_append(&headers, req->auth.data, req->auth.len);
        buf_append_str(&headers, "\r\n");
    }
    struct relay_query q = {
        .backend = sr->backend,
        .post = sr->write_probe,
        .target = target.data,
        .target_len = target.len,
        .headers = headers.data != NULL ? headers.data : "",
        .headers_len = headers.len,
        .body = "",
        .body_len = 0,
    };
    static const struct relay_query_cbs cbs = {probe_head, probe_data, probe_done};
    int rc = r->hooks.query(r->hooks.arg, &q, &cbs, sr, &sr->probe_handle);
    buf_deinit(&target);
    buf_deinit(&headers);
    buf_deinit(&u);
    buf_deinit(&p);
    if (rc != 0)
        stmt_fail(sr, 503, "the chosen backend is gone (reconfigured): try again");
}

/* ---- entry --------------------------------------------------------------------------------- */

void statement_handle(struct conn *c, struct http_req *req, const char *qs, size_t qslen,
                      const struct query_params *qp, const struct iql_stmt *pieces, size_t n)
{
    struct relay *r = c->relay;
    /* With peers, only the leader commits statements (the barrier, replay/fence.c): it does
     * the privilege check too, and its answer is the client's. */
    const char *leader = r->hooks.peer_leader != NULL && !req->forwarded
                             ? r->hooks.peer_leader(r->hooks.arg)
                             : NULL;
    if (leader != NULL) {
        query_forward(c, req, leader);
        return;
    }
    int admin = 0;
    if (r->cfg_limits.auth_enabled) {
        if (auth_check_admin(c, req, qs, qslen, &admin) != 0)
            return; /* 401 sent */
        if (!admin) {
            static const char msg[] = "statements that change schema or data go through the "
                                      "relay's log and need a relay user with admin = true";
            log_info("event=statement_forbidden reason=not_admin");
            http_respond_error(c, 403, msg, sizeof(msg) - 1);
            return;
        }
    }
    if (qp->db.len > UINT16_MAX || qp->rp.len > UINT16_MAX) {
        static const char msg[] = "database or retention policy name too long";
        http_respond_error(c, 400, msg, sizeof(msg) - 1);
        return;
    }
    struct stmt_req *sr = xcalloc(1, sizeof(*sr));
    sr->client = c;
    sr->relay = r;
    buf_init(&sr->q);
    buf_init(&sr->db);
    buf_init(&sr->rp);
    buf_init(&sr->probe_body);
    buf_append(&sr->q, qp->q.data, qp->q.len);
    buf_append(&sr->db, qp->db.data, qp->db.len);
    buf_append(&sr->rp, qp->rp.data, qp->rp.len);
    /* DELETE and DROP SERIES need write access to db= (influxql's RequiredPrivileges); every
     * other logged statement admin, or a database it names itself, which the probe could not
     * tell apart: admin then too, which never grants more than influxd would. */
    sr->write_probe = qp->db.len > 0;
    for (size_t i = 0; i < n; i++) {
        if (pieces[i].kind == IQL_EMPTY)
            continue;
        if (strcmp(pieces[i].name, "DELETE") != 0 && strcmp(pieces[i].name, "DROP SERIES") != 0)
            sr->write_probe = 0;
    }
    c->waiting_wal = 1; /* the connection outlives a client that leaves, until we are done */
    if (r->cfg_limits.auth_enabled)
        commit(sr);
    else
        probe(sr, req, qs, qslen);
}
