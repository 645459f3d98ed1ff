/* The rebuild endpoints, through which `influx-wal rebuild` tells every relay about a backend
 * being rebuilt from another (the work itself is the backends' side's, relay_hooks.rebuild):
 *
 *   POST /api/rebuild/start?backend=B&from=A   pause B, hold its cursor at A's position P
 *   POST /api/rebuild/finish?backend=B         B resumes after P
 *   POST /api/rebuild/abort?backend=B          B resumes without a restore
 *   GET  /api/rebuild[?backend=B]              every backend's rebuild state (or B's)
 *
 * Parameters come from the query string or an urlencoded form body. Answers are JSON: the
 * rebuild's state, or {"error": "..."} with 400 (a missing parameter), 404 (no such backend),
 * 409 (refused in the rebuild's present state), 503 (stopping). With [auth] enabled a
 * configured user's credentials are required, as on /write. Loop thread only. */
#include "relay/relay_int.h"

#include "common/err.h"
#include "common/xalloc.h"

#include <inttypes.h>
#include <string.h>

/* A change in flight: the connection waits for it (waiting_wal, as a proxied query does). */
struct admin_call {
    struct conn *c;
};

static void info_json(struct buf *b, const struct relay_rebuild_info *i)
{
    buf_append_str(b, "\"backend\":");
    buf_append_json_quoted(b, i->backend);
    buf_append_str(b, ",\"source\":");
    buf_append_json_quoted(b, i->source);
    buf_printf(b,
               ",\"rebuilding\":%s,\"start_point_lost\":%s,\"resumed\":%s,\"from_seq\":%" PRIu64
               ",\"started_ns\":%" PRIu64 ",\"head_seq\":%" PRIu64,
               i->active ? "true" : "false", i->lost ? "true" : "false",
               i->resumed ? "true" : "false", i->from_seq, i->started_ns, i->head_seq);
}

static int status_of(int rc)
{
    switch (rc) {
    case 0:
        return 200;
    case IWR_ENOTFOUND:
        return 404;
    case IWR_EINVAL:
    case IWR_ECONFLICT:
        return 409;
    case IWR_ESTOPPED:
        return 503;
    default:
        return 500;
    }
}

static void answer(struct conn *c, int rc, const struct relay_rebuild_info *info, const char *msg)
{
    struct buf b;
    buf_init(&b);
    buf_append_str(&b, "{");
    if (rc != 0) {
        const char *m = msg != NULL ? msg : iwr_strerror(rc);
        buf_append_str(&b, "\"error\":\"");
        buf_append_json_str(&b, m, strlen(m));
        buf_append_str(&b, info != NULL ? "\"," : "\"");
    }
    if (info != NULL)
        info_json(&b, info);
    buf_append_str(&b, "}\n");
    http_respond(c, status_of(rc), NULL, b.data, b.len);
    buf_deinit(&b);
}

static void change_done(void *arg, int rc, const struct relay_rebuild_info *info, const char *msg)
{
    struct admin_call *a = arg;
    struct conn *c = a->c;
    free(a);
    if (c->closing) {
        conn_release_after_wal(c); /* the client left: nobody to answer */
        return;
    }
    c->waiting_wal = 0;
    answer(c, rc, info, msg);
}

/* Every backend's rebuild state, or one backend's. */
static void rebuild_status_handle(struct conn *c, const char *backend)
{
    struct relay *r = c->relay;
    struct relay_backend_view *st = NULL;
    size_t n = 0;
    if (r->hooks.backends)
        r->hooks.backends(r->hooks.arg, &st, &n);
    struct buf b;
    buf_init(&b);
    buf_append_str(&b, "{\"rebuilds\":[");
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        const struct relay_backend_view *s = &st[i];
        if (backend != NULL && strcmp(s->name, backend) != 0)
            continue;
        struct relay_rebuild_info info = {0};
        memcpy(info.backend, s->name, sizeof(info.backend));
        memcpy(info.source, s->rebuild_source, sizeof(info.source));
        info.active = s->rebuilding;
        info.lost = s->rebuild_lost;
        info.from_seq = s->rebuild_from_seq;
        info.started_ns = s->rebuild_started_ns;
        info.head_seq = s->cursor + s->lag_records;
        buf_append_str(&b, found++ ? ",{" : "{");
        info_json(&b, &info);
        buf_append_str(&b, "}");
    }
    buf_append_str(&b, "]}\n");
    free(st);
    if (backend != NULL && !found) {
        static const char msg[] = "no such backend";
        http_respond_error(c, 404, msg, sizeof(msg) - 1);
    } else {
        http_respond(c, 200, NULL, b.data, b.len);
    }
    buf_deinit(&b);
}

int admin_begin(struct conn *c, struct http_req *req, const char *what, const char **q,
                size_t *qlen)
{
    *q = req_query(req, qlen);
    /* Pausing a backend, moving a cursor or the ring, fencing: an operator's acts. */
    return auth_require_admin(c, req, *q, *qlen, what);
}

int admin_param(const struct http_req *req, const char *q, size_t qlen, const char *key,
                struct buf *out)
{
    if (query_get(q, qlen, key, out) && out->len > 0)
        return 1;
    return req->body.len > 0 && query_get(req->body.data, req->body.len, key, out) && out->len > 0;
}

void admin_rebuild_handle(struct conn *c, struct http_req *req)
{
    struct relay *r = c->relay;
    const char *q;
    size_t qlen;
    if (admin_begin(c, req, "the rebuild endpoints", &q, &qlen) != 0)
        return;
    struct buf backend, source;
    buf_init(&backend);
    buf_init(&source);
    int have_backend = admin_param(req, q, qlen, "backend", &backend);
    enum relay_rebuild_op op = RELAY_REBUILD_START;
    if (req_path_is(req, "/api/rebuild")) {
        rebuild_status_handle(c, have_backend ? backend.data : NULL);
        goto out;
    } else if (req_path_is(req, "/api/rebuild/finish")) {
        op = RELAY_REBUILD_FINISH;
    } else if (req_path_is(req, "/api/rebuild/abort")) {
        op = RELAY_REBUILD_ABORT;
    }
    if (!have_backend ||
        (op == RELAY_REBUILD_START && !admin_param(req, q, qlen, "from", &source))) {
        static const char msg[] = "missing parameter: backend= (and from= to start)";
        http_respond_error(c, 400, msg, sizeof(msg) - 1);
        goto out;
    }
    if (r->hooks.rebuild == NULL) {
        static const char msg[] = "rebuilds are not available";
        http_respond_error(c, 503, msg, sizeof(msg) - 1);
        goto out;
    }
    struct admin_call *a = xcalloc(1, sizeof(*a));
    a->c = c;
    c->waiting_wal = 1; /* the connection outlives a client that leaves, until done */
    r->hooks.rebuild(r->hooks.arg, op, backend.data, op == RELAY_REBUILD_START ? source.data : NULL,
                     change_done, a);
out:
    buf_deinit(&backend);
    buf_deinit(&source);
}
