/* The active shards: which of the configured shards the ring is built over, recorded in the
 * log so that a restart, and every relay a reshard switches, routes with the same ring.
 *
 * A shard added to the config is pending: its backends get the statements (records without
 * parts) but no keys, until a reshard activates it (POST /api/shards/activate). The active set
 * lives in the log's state (wal_state_set, name SHARD_ACTIVE_STATE: "active=a,b seq=N") and, for
 * each switch, as a record in log order (a statement whose one part is WAL_PART_MARK, which no
 * sender sends): every record after it was split with the new ring, every record before it
 * with the old one. On the first start with shards and no state, the configured shards are
 * the active ones.
 *
 *   GET  /api/shards                         active and pending shards, the switch's sequence,
 *                                            each backend's shard and cursor
 *   POST /api/shards/activate?shards=a,b,c   route with the ring over a,b,c from now on (a
 *                                            superset of the active shards; the same set: 200)
 *   POST /api/shards/drop?shard=S&db=D&measurement=M [{"keys":[{tag: value}, ...]}]
 *                                            log DROP MEASUREMENT M for shard S only (reshard
 *                                            deletes what moved away through the log)
 *   POST /api/shards/moving  {"moves":[...]}  the measurements a reshard is moving, whose
 *                                            deletes are refused meanwhile (shard_moving.c)
 *
 * Admin credentials with [auth]. Answers JSON; errors {"error": "..."} with 400, 404 (no such
 * shard), 409 (not a superset, or a switch in flight), 503. Loop thread only. */
#include "relay/relay_int.h"
#include "relay/shard_moving.h"
#include "relay/shard_split.h"

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct shard_active {
    char **all; /* the configured shards, in config order */
    size_t n_all;
    unsigned char *active; /* per configured shard: 1 when the ring has it */
    char **key;
    size_t n_key;
    uint64_t switch_seq;          /* the record of the last switch; 0: none recorded */
    int switching;                /* an activation is being committed */
    struct shard_split **retired; /* splits replaced by a switch: a /query fan-out in flight may
                                   * still read their names, so they live until relay_free */
    size_t n_retired;
    struct shard_moving *moving; /* what a reshard is moving (shard_moving.c) */
};

static char **strs_dup(const char *const *v, size_t n)
{
    char **out = xcalloc(n ? n : 1, sizeof(*out));
    for (size_t i = 0; i < n; i++)
        out[i] = xstrdup(v[i]);
    return out;
}

static void strs_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static long shard_index(const struct shard_active *a, const char *name, size_t len)
{
    for (size_t i = 0; i < a->n_all; i++)
        if (strlen(a->all[i]) == len && memcmp(a->all[i], name, len) == 0)
            return (long)i;
    return -1;
}

/* A split over the shards marked in 'mark' (NULL when none is). */
static struct shard_split *split_of(const struct shard_active *a, const unsigned char *mark)
{
    const char **names = xcalloc(a->n_all ? a->n_all : 1, sizeof(*names));
    size_t n = 0;
    for (size_t i = 0; i < a->n_all; i++)
        if (mark[i])
            names[n++] = a->all[i];
    struct shard_split *s = shard_split_new(names, n, (const char *const *)a->key, a->n_key);
    free(names);
    return s;
}

/* 'b''s bytes as a C string (a NUL after them, not counted). */
static const char *cstr(struct buf *b)
{
    buf_reserve(b, 1)[0] = '\0';
    return b->data;
}

/* "a,b,c" of the shards marked in 'mark'. */
static void names_csv(struct buf *b, const struct shard_active *a, const unsigned char *mark)
{
    int first = 1;
    for (size_t i = 0; i < a->n_all; i++) {
        if (!mark[i])
            continue;
        if (!first)
            buf_append_str(b, ",");
        buf_append_str(b, a->all[i]);
        first = 0;
    }
}

/* Parse "a,b,c" into 'mark' (n_all bytes). 0, IWR_ENOTFOUND (a name not configured, its index
 * in the text in *bad..*bad_len), IWR_EINVAL (empty, or a name twice). */
static int parse_csv(const struct shard_active *a, const char *s, size_t len, unsigned char *mark,
                     const char **bad, size_t *bad_len)
{
    memset(mark, 0, a->n_all);
    size_t n = 0;
    for (size_t at = 0; at <= len;) {
        const char *comma = memchr(s + at, ',', len - at);
        size_t end = comma != NULL ? (size_t)(comma - s) : len;
        if (end == at)
            return IWR_EINVAL;
        long i = shard_index(a, s + at, end - at);
        if (i < 0) {
            *bad = s + at;
            *bad_len = end - at;
            return IWR_ENOTFOUND;
        }
        if (mark[i])
            return IWR_EINVAL;
        mark[i] = 1;
        n++;
        at = end + 1;
    }
    return n > 0 ? 0 : IWR_EINVAL;
}

/* The state text: "active=a,b seq=N". */
static void state_text(struct buf *b, const struct shard_active *a, const unsigned char *mark,
                       uint64_t seq)
{
    buf_append_str(b, "active=");
    names_csv(b, a, mark);
    buf_printf(b, " seq=%" PRIu64, seq);
}

static void state_saved(void *arg, int rc, uint64_t seq)
{
    (void)arg;
    (void)seq;
    if (rc != 0)
        log_error("event=shards_state_failed reason=\"%s\"", iwr_strerror(rc));
}

int shard_active_start(struct relay *r, const struct relay_options *cfg)
{
    if (cfg->n_shards == 0)
        return 0;
    struct shard_active *a = xcalloc(1, sizeof(*a));
    a->all = strs_dup(cfg->shards, cfg->n_shards);
    a->n_all = cfg->n_shards;
    a->key = strs_dup(cfg->shard_key, cfg->n_shard_key);
    a->n_key = cfg->n_shard_key;
    a->active = xcalloc(a->n_all, 1);
    r->active = a;
    char text[WAL_STATE_MAX + 1];
    int have = 0;
    struct wal_reader *rd = NULL;
    if (r->wal != NULL && wal_reader_new(r->wal, &rd) == 0 && wal_reader_begin(rd) == 0) {
        have = wal_reader_state(rd, SHARD_ACTIVE_STATE, text, sizeof(text)) == 0;
        wal_reader_end(rd);
    }
    wal_reader_free(rd);
    if (!have) { /* the first start with shards: the configured ones are active */
        memset(a->active, 1, a->n_all);
        struct buf b;
        buf_init(&b);
        state_text(&b, a, a->active, 0);
        if (r->wal != NULL)
            wal_state_set(r->wal, SHARD_ACTIVE_STATE, b.data, b.len, state_saved, NULL);
        buf_deinit(&b);
    } else {
        const char *names = strncmp(text, "active=", 7) == 0 ? text + 7 : NULL;
        const char *sp = names != NULL ? strchr(names, ' ') : NULL;
        if (sp == NULL || strncmp(sp, " seq=", 5) != 0) {
            log_error("event=shards_state_bad state=\"%.255s\"", text);
            return IWR_ECORRUPT;
        }
        a->switch_seq = strtoull(sp + 5, NULL, 10);
        const char *bad = NULL;
        size_t bad_len = 0;
        int rc = parse_csv(a, names, (size_t)(sp - names), a->active, &bad, &bad_len);
        if (rc == IWR_ENOTFOUND) {
            log_error("event=shards_active_unknown shard=%.*s reason=\"the log routes to shard "
                      "'%.*s', which the config no longer has: removing a shard is not "
                      "supported; put it back\"",
                      (int)bad_len, bad, (int)bad_len, bad);
            return IWR_ECONFLICT;
        }
        if (rc != 0) {
            log_error("event=shards_state_bad state=\"%.255s\"", text);
            return IWR_ECORRUPT;
        }
    }
    int mrc = shard_moving_load(r->wal, &a->moving);
    if (mrc != 0)
        return mrc;
    r->split = split_of(a, a->active);
    struct buf b;
    buf_init(&b);
    names_csv(&b, a, a->active);
    size_t n_pending = 0;
    for (size_t i = 0; i < a->n_all; i++)
        n_pending += !a->active[i];
    log_info("event=shards_active active=%s pending=%zu switch_seq=%" PRIu64, cstr(&b), n_pending,
             a->switch_seq);
    buf_deinit(&b);
    return 0;
}

void shard_active_free(struct relay *r)
{
    struct shard_active *a = r->active;
    if (a == NULL)
        return;
    strs_free(a->all, a->n_all);
    strs_free(a->key, a->n_key);
    free(a->active);
    for (size_t i = 0; i < a->n_retired; i++)
        shard_split_free(a->retired[i]);
    free(a->retired);
    shard_moving_free(a->moving);
    free(a);
    r->active = NULL;
}

void shard_active_json(struct buf *b, const struct relay *r)
{
    const struct shard_active *a = r->active;
    if (a == NULL)
        return;
    buf_append_str(b, "\"shards\":{\"active\":[");
    for (int pass = 0; pass < 2; pass++) {
        int first = 1;
        for (size_t i = 0; i < a->n_all; i++) {
            if (a->active[i] != (pass == 0))
                continue;
            if (!first)
                buf_append_str(b, ",");
            buf_append_json_quoted(b, a->all[i]);
            first = 0;
        }
        buf_append_str(b, pass == 0 ? "],\"pending\":[" : "]");
    }
    buf_printf(b, ",\"switch_seq\":%" PRIu64 ",\"switching\":%s", a->switch_seq,
               a->switching ? "true" : "false");
    shard_moving_json(b, a->moving);
    buf_append_str(b, "}");
}

struct shard_moving *shard_active_moving(const struct relay *r)
{
    return r->active != NULL ? r->active->moving : NULL;
}

/* ---- the endpoints ------------------------------------------------------------------------ */

static void answer_error(struct conn *c, int status, const char *msg)
{
    http_respond_error(c, status, msg, strlen(msg));
}

static void answer_state(struct conn *c, int with_backends)
{
    struct relay *r = c->relay;
    struct buf b;
    buf_init(&b);
    buf_append_str(&b, "{");
    shard_active_json(&b, r);
    if (with_backends) {
        struct relay_backend_view *st = NULL;
        size_t n = 0;
        if (r->hooks.backends)
            r->hooks.backends(r->hooks.arg, &st, &n);
        buf_append_str(&b, ",\"backends\":[");
        for (size_t i = 0; i < n; i++) {
            buf_append_str(&b, i ? ",{\"name\":" : "{\"name\":");
            buf_append_json_quoted(&b, st[i].name);
            buf_append_str(&b, ",\"shard\":");
            buf_append_json_quoted(&b, st[i].shard);
            buf_printf(&b, ",\"cursor\":%" PRIu64 ",\"up\":%s,\"caught_up\":%s}", st[i].cursor,
                       st[i].up ? "true" : "false", st[i].caught_up ? "true" : "false");
        }
        buf_append_str(&b, "]");
        free(st);
    }
    buf_append_str(&b, "}\n");
    http_respond(c, 200, NULL, b.data, b.len);
    buf_deinit(&b);
}

/* A change being committed: the connection waits for it (waiting_wal, as a rebuild does). */
struct active_call {
    struct conn *c;
    struct relay *r;
    unsigned char *mark;      /* activate: the new set */
    struct shard_split *prev; /* activate: the split it replaced */
    char *state;              /* activate: the state text, seq filled in at commit */
};

/* The connection, or NULL when the client left (then released here). */
static struct conn *call_conn(struct active_call *ac)
{
    struct conn *c = ac->c;
    if (c->closing) {
        conn_release_after_wal(c);
        return NULL;
    }
    c->waiting_wal = 0;
    return c;
}

static void call_free(struct active_call *ac)
{
    free(ac->mark);
    free(ac->state);
    free(ac);
}

static void activate_saved(void *arg, int rc, uint64_t seq)
{
    struct active_call *ac = arg;
    struct shard_active *a = ac->r->active;
    (void)seq;
    a->switching = 0;
    if (rc != 0) /* the record is in the log and routing switched: a restart reads the state */
        log_error("event=shards_state_failed reason=\"%s\"", iwr_strerror(rc));
    struct conn *c = call_conn(ac);
    if (c != NULL)
        answer_state(c, 0);
    call_free(ac);
}

static void activate_committed(void *arg, int rc, uint64_t seq)
{
    struct active_call *ac = arg;
    struct relay *r = ac->r;
    struct shard_active *a = r->active;
    if (rc != 0) {
        /* Nothing recorded: back to the old ring. Writes split meanwhile with the new one went
         * to the new shard's senders, which deliver them; the reshard tries again. */
        log_error("event=shards_switch_failed reason=\"%s\"", iwr_strerror(rc));
        a->retired = xrealloc(a->retired, (a->n_retired + 1) * sizeof(*a->retired));
        a->retired[a->n_retired++] = r->split;
        r->split = ac->prev;
        a->switching = 0;
        struct conn *c = call_conn(ac);
        if (c != NULL)
            answer_error(c, rc == IWR_EFULL ? 503 : 500, iwr_strerror(rc));
        call_free(ac);
        return;
    }
    a->retired = xrealloc(a->retired, (a->n_retired + 1) * sizeof(*a->retired));
    a->retired[a->n_retired++] = ac->prev;
    memcpy(a->active, ac->mark, a->n_all);
    a->switch_seq = seq;
    struct buf b;
    buf_init(&b);
    state_text(&b, a, a->active, seq);
    log_info("event=shards_switched state=\"%s\"", cstr(&b));
    wal_state_set(r->wal, SHARD_ACTIVE_STATE, b.data, b.len, activate_saved, ac);
    buf_deinit(&b);
}

static void activate(struct conn *c, const struct buf *list)
{
    struct relay *r = c->relay;
    struct shard_active *a = r->active;
    unsigned char *mark = xcalloc(a->n_all, 1);
    const char *bad = NULL;
    size_t bad_len = 0;
    int rc = parse_csv(a, list->data, list->len, mark, &bad, &bad_len);
    char msg[200];
    if (rc == IWR_ENOTFOUND) {
        snprintf(msg, sizeof(msg), "no such shard in the config: %.*s", (int)bad_len, bad);
        answer_error(c, 404, msg);
        free(mark);
        return;
    }
    if (rc != 0) {
        answer_error(c, 400, "shards= must list distinct shard names, comma-separated");
        free(mark);
        return;
    }
    int same = 1;
    for (size_t i = 0; i < a->n_all; i++) {
        if (a->active[i] && !mark[i]) {
            snprintf(msg, sizeof(msg),
                     "shard %s is active and missing from shards=: removing a shard is not "
                     "supported",
                     a->all[i]);
            answer_error(c, 409, msg);
            free(mark);
            return;
        }
        same &= a->active[i] == mark[i];
    }
    if (a->switching) {
        answer_error(c, 409, "a switch of the active shards is in flight");
        free(mark);
        return;
    }
    if (same) { /* already so: the reshard asks again when it resumes */
        free(mark);
        answer_state(c, 0);
        return;
    }
    struct buf body;
    buf_init(&body);
    buf_append_str(&body, "-- shards active=");
    names_csv(&body, a, mark);
    if (body.len + 40 > WAL_STATE_MAX) {
        buf_deinit(&body);
        free(mark);
        answer_error(c, 400, "the shards' names are too long to record in the log's state");
        return;
    }
    struct active_call *ac = xcalloc(1, sizeof(*ac));
    ac->c = c;
    ac->r = r;
    ac->mark = mark;
    ac->prev = r->split;
    a->switching = 1;
    c->waiting_wal = 1;
    /* The writer applies appends in submission order: every record appended after this one,
     * split with the new ring from here on, comes after it in the log. */
    shard_split_append_mark(r->wal, body.data, body.len, activate_committed, ac);
    r->split = split_of(a, mark);
    buf_deinit(&body);
}

static void drop_committed(void *arg, int rc, uint64_t seq)
{
    struct active_call *ac = arg;
    struct conn *c = call_conn(ac);
    /* A statement of the leader: the peers fence it, as relay/statement.c's are (the barrier
     * of replay/fence.c), so the old shard gets it after what they acknowledged before. */
    if (rc == 0 && ac->r->hooks.peer_fence != NULL)
        ac->r->hooks.peer_fence(ac->r->hooks.arg, seq);
    if (c != NULL) {
        if (rc != 0) {
            answer_error(c, rc == IWR_EFULL ? 503 : 500, iwr_strerror(rc));
        } else {
            char out[64];
            int n = snprintf(out, sizeof(out), "{\"seq\":%" PRIu64 "}\n", seq);
            http_respond(c, 200, NULL, out, (size_t)n);
        }
    }
    call_free(ac);
}

/* DROP MEASUREMENT with the name quoted as an InfluxQL identifier; with a body {"keys":[{tag:
 * value, ...}, ...]} (a reshard with a tag in the key moved those series) DROP SERIES FROM it
 * WHERE their tags are one of those. */
static void drop(struct conn *c, struct http_req *req, const struct buf *shard,
                 const struct buf *db, const struct buf *m)
{
    struct relay *r = c->relay;
    if (shard_index(r->active, shard->data, shard->len) < 0) {
        answer_error(c, 404, "no such shard in the config");
        return;
    }
    if (shard->len > WAL_NAME_MAX || db->len > 1024 || m->len > 4096) {
        answer_error(c, 400, "a parameter is too long");
        return;
    }
    /* With peers only the leader's log holds statements (replay/fence.c). */
    const char *leader = r->hooks.peer_leader != NULL ? r->hooks.peer_leader(r->hooks.arg) : NULL;
    if (leader != NULL) {
        struct buf e;
        buf_init(&e);
        buf_printf(&e,
                   "this relay is not the leader of its peers: relay %s commits the statements, "
                   "post the drop there",
                   leader);
        buf_append(&e, "", 1);
        answer_error(c, 409, e.data);
        buf_deinit(&e);
        return;
    }
    struct buf q;
    buf_init(&q);
    json_t *keys = NULL;
    if (req->body.len > 0) {
        json_t *doc = json_loadb(req->body.data, req->body.len, 0, NULL);
        keys = json_incref(json_object_get(doc, "keys"));
        json_decref(doc);
    }
    buf_append_str(&q, req->body.len > 0 ? "DROP SERIES FROM " : "DROP MEASUREMENT ");
    buf_append(&q, "\"", 1);
    for (size_t i = 0; i < m->len; i++) {
        if (m->data[i] == '"' || m->data[i] == '\\')
            buf_append(&q, "\\", 1);
        buf_append(&q, m->data + i, 1);
    }
    buf_append(&q, "\"", 1);
    if (req->body.len > 0) {
        buf_append_str(&q, " WHERE ");
        if (shard_keys_where(&q, keys) != 0) {
            static const char msg[] = "expected a JSON body {\"keys\":[{\"TAG\":\"VALUE\", ...}, "
                                      "...]} (the series to drop), or none";
            json_decref(keys);
            buf_deinit(&q);
            http_respond_error(c, 400, msg, sizeof(msg) - 1);
            return;
        }
    }
    json_decref(keys);
    unsigned char e[WAL_PART_ENTRY_MAX];
    struct wal_record rec = {0};
    rec.recv_ns = wal_now_ns();
    rec.flags = WAL_REC_STATEMENT;
    rec.db = db->data;
    rec.db_len = db->len;
    rec.rp = rec.target = "";
    rec.body = q.data;
    rec.body_len = q.len;
    rec.n_parts = 1;
    rec.parts = e;
    rec.parts_len = wal_part_encode(e, shard->data, (uint32_t)q.len, 0);
    struct active_call *ac = xcalloc(1, sizeof(*ac));
    ac->c = c;
    ac->r = r;
    c->waiting_wal = 1;
    wal_append(r->wal, &rec, drop_committed, ac);
    buf_deinit(&q);
}

void admin_shards_handle(struct conn *c, struct http_req *req)
{
    struct relay *r = c->relay;
    const char *q;
    size_t qlen;
    if (admin_begin(c, req, "the shards endpoints", &q, &qlen) != 0)
        return;
    if (r->active == NULL) {
        answer_error(c, 404, "this relay has no [[shard]]");
        return;
    }
    if (req_path_is(req, "/api/shards")) {
        answer_state(c, 1);
        return;
    }
    if (req_path_is(req, "/api/shards/moving")) {
        shard_moving_handle(c, req, r->active->moving);
        return;
    }
    struct buf a, b, m;
    buf_init(&a);
    buf_init(&b);
    buf_init(&m);
    if (req_path_is(req, "/api/shards/activate")) {
        if (!admin_param(req, q, qlen, "shards", &a))
            answer_error(c, 400, "missing parameter: shards=NAME,NAME");
        else if (r->wal == NULL)
            answer_error(c, 503, "no log");
        else
            activate(c, &a);
    } else {
        if (!admin_param(req, q, qlen, "shard", &a) || !admin_param(req, q, qlen, "db", &b) ||
            !admin_param(req, q, qlen, "measurement", &m))
            answer_error(c, 400, "missing parameter: shard=, db= and measurement=");
        else if (r->wal == NULL)
            answer_error(c, 503, "no log");
        else
            drop(c, req, &a, &b, &m);
    }
    buf_deinit(&a);
    buf_deinit(&b);
    buf_deinit(&m);
}
