/* The measurements a reshard is moving, and the statements refused meanwhile.
 *
 * `influx-wal reshard --apply` copies a moving measurement from its old shard to its new one
 * while writes go on, switches the ring, and syncs again from the old shard. A DELETE or DROP
 * of such a measurement during that time reaches the shard the ring gives it then, but the
 * copy may already have put (or may yet put) the points on the other one, where they would
 * come back. So from the moment the CLI registers the moves (POST /api/shards/moving) until it
 * clears them, every statement that could delete points of one of them is refused with a 409,
 * nothing committed.
 *
 * Order: setting the set appends a mark record (a statement whose one part is WAL_PART_MARK,
 * which no sender sends) in the same loop turn as the set takes effect, so every statement
 * let through before it has a lower sequence; the CLI waits until the old shards' backends
 * passed that record before it copies. The set is kept in the log's state (SHARD_MOVING_STATE:
 * its JSON text in pieces of WAL_STATE_MAX bytes under a new generation, then the header
 * naming them, then the old pieces deleted; the writer applies them in submission order, so a
 * crash leaves the old set or the new one) and read back at start. Loop thread only. */
#include "relay/shard_moving.h"

#include "relay/influxql.h"
#include "relay/influxql_select.h"
#include "relay/relay_int.h"
#include "relay/shard_split.h"

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The set's JSON text at most: 1024 pieces of state. */
#define MOVING_TEXT_MAX (1024 * WAL_STATE_MAX)

struct move {
    char *db, *m, *from, *to;
};

struct shard_moving {
    struct wal *wal;
    struct move *v;
    size_t n;
    char *text;     /* the set as kept: a JSON array of the moves, "[]" when empty */
    uint64_t seq;   /* the mark record of the set in force; 0 when empty */
    unsigned gen;   /* the generation of the pieces in the state */
    size_t n_chunks;
    int changing;   /* a change is being committed */
};

static void moves_free(struct move *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].db);
        free(v[i].m);
        free(v[i].from);
        free(v[i].to);
    }
    free(v);
}

/* The moves of JSON array 'a' into *v, *n; -1 when one lacks a non-empty string. */
static int moves_of(const json_t *a, struct move **v, size_t *n)
{
    static const char *const keys[] = {"database", "measurement", "from", "to"};
    *v = NULL;
    *n = 0;
    if (!json_is_array(a))
        return -1;
    *v = xcalloc(json_array_size(a) + 1, sizeof(**v));
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *o = json_array_get(a, i);
        char *f[4];
        for (size_t k = 0; k < 4; k++) {
            const char *s = json_string_value(json_object_get(o, keys[k]));
            if (s == NULL || s[0] == '\0') {
                for (size_t j = 0; j < k; j++)
                    free(f[j]);
                return -1;
            }
            f[k] = xstrdup(s);
        }
        (*v)[(*n)++] = (struct move){f[0], f[1], f[2], f[3]};
    }
    return 0;
}

/* The moves as one JSON array (the keys in this order): what is kept, and compared. */
static json_t *moves_json(const struct move *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s}", "database", v[i].db,
                                           "measurement", v[i].m, "from", v[i].from, "to",
                                           v[i].to));
    return a;
}

static char *moves_text(const struct move *v, size_t n)
{
    json_t *a = moves_json(v, n);
    char *s = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(a);
    IWR_ASSERT(s != NULL);
    return s;
}

static void chunk_name(char *out, size_t cap, unsigned gen, size_t i)
{
    snprintf(out, cap, "%s.%u.%zu", SHARD_MOVING_STATE, gen, i);
}

int shard_moving_load(struct wal *w, struct shard_moving **out)
{
    struct shard_moving *mv = xcalloc(1, sizeof(*mv));
    mv->wal = w;
    mv->text = moves_text(NULL, 0);
    *out = mv;
    struct wal_reader *rd = NULL;
    if (w == NULL || wal_reader_new(w, &rd) != 0 || wal_reader_begin(rd) != 0) {
        wal_reader_free(rd);
        return 0;
    }
    char head[WAL_STATE_MAX + 1], piece[WAL_STATE_MAX + 1];
    int rc = 0;
    struct buf text;
    buf_init(&text);
    if (wal_reader_state(rd, SHARD_MOVING_STATE, head, sizeof(head)) == 0) {
        unsigned gen = 0;
        size_t n = 0;
        uint64_t seq = 0;
        if (sscanf(head, "gen=%u n=%zu seq=%" SCNu64, &gen, &n, &seq) != 3 ||
            n > MOVING_TEXT_MAX / WAL_STATE_MAX)
            rc = IWR_ECORRUPT;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            char name[WAL_NAME_MAX + 1];
            chunk_name(name, sizeof(name), gen, i);
            if (wal_reader_state(rd, name, piece, sizeof(piece)) != 0)
                rc = IWR_ECORRUPT;
            else
                buf_append_str(&text, piece);
        }
        json_t *a = rc == 0 ? json_loadb(text.data ? text.data : "", text.len, 0, NULL) : NULL;
        if (rc == 0 && moves_of(a, &mv->v, &mv->n) != 0)
            rc = IWR_ECORRUPT;
        json_decref(a);
        if (rc == 0) {
            free(mv->text);
            mv->text = moves_text(mv->v, mv->n);
            mv->gen = gen;
            mv->n_chunks = n;
            mv->seq = seq;
            log_info("event=shards_moving measurements=%zu seq=%" PRIu64, mv->n, mv->seq);
        } else {
            log_error("event=shards_moving_state_bad state=\"%.200s\" reason=\"the moving "
                      "measurements of a reshard cannot be read back from the log\"",
                      head);
        }
    }
    wal_reader_end(rd);
    wal_reader_free(rd);
    buf_deinit(&text);
    return rc;
}

void shard_moving_free(struct shard_moving *mv)
{
    if (mv == NULL)
        return;
    moves_free(mv->v, mv->n);
    free(mv->text);
    free(mv);
}

void shard_moving_json(struct buf *b, const struct shard_moving *mv)
{
    if (mv == NULL)
        return;
    buf_printf(b, ",\"moving\":%s,\"moving_seq\":%" PRIu64, mv->text, mv->seq);
}

/* ---- the endpoint ---------------------------------------------------------------------------- */

/* A change being committed: the connection waits for it; the set it replaced, to go back. */
struct moving_call {
    struct conn *c;
    struct relay *r;
    struct shard_moving *mv;
    struct move *old_v;
    size_t old_n;
    char *old_text;
};

static void call_end(struct moving_call *mc, int status, const char *err)
{
    struct conn *c = mc->c;
    mc->mv->changing = 0;
    if (c->closing) {
        conn_release_after_wal(c); /* the client left: nobody to answer */
    } else {
        c->waiting_wal = 0;
        if (err != NULL) {
            http_respond_error(c, status, err, strlen(err));
        } else {
            struct buf b;
            buf_init(&b);
            buf_append_str(&b, "{");
            shard_active_json(&b, mc->r);
            buf_append_str(&b, "}\n");
            http_respond(c, 200, NULL, b.data, b.len);
            buf_deinit(&b);
        }
    }
    moves_free(mc->old_v, mc->old_n);
    free(mc->old_text);
    free(mc);
}

static void piece_saved(void *arg, int rc, uint64_t seq)
{
    (void)arg;
    (void)seq;
    if (rc != 0)
        log_error("event=shards_moving_state_failed reason=\"%s\"", iwr_strerror(rc));
}

static void moving_saved(void *arg, int rc, uint64_t seq)
{
    struct moving_call *mc = arg;
    (void)seq;
    if (rc != 0) {
        /* In force here, but a restart would read the set before: the CLI is told. */
        log_error("event=shards_moving_state_failed reason=\"%s\"", iwr_strerror(rc));
        call_end(mc, rc == IWR_EFULL ? 503 : 500, iwr_strerror(rc));
        return;
    }
    call_end(mc, 200, NULL);
}

/* The header for the set in force (deleted when it is empty), its pieces before it, then the
 * pieces of the generation before deleted. */
static void state_write(struct moving_call *mc)
{
    struct shard_moving *mv = mc->mv;
    char name[WAL_NAME_MAX + 1];
    unsigned old_gen = mv->gen;
    size_t old_chunks = mv->n_chunks;
    if (mv->n == 0) {
        mv->n_chunks = 0;
        wal_state_set(mv->wal, SHARD_MOVING_STATE, "", 0, moving_saved, mc);
    } else {
        size_t len = strlen(mv->text);
        mv->gen = old_gen + 1;
        mv->n_chunks = (len + WAL_STATE_MAX - 1) / WAL_STATE_MAX;
        for (size_t i = 0; i < mv->n_chunks; i++) {
            size_t at = i * WAL_STATE_MAX;
            chunk_name(name, sizeof(name), mv->gen, i);
            wal_state_set(mv->wal, name, mv->text + at,
                          len - at < WAL_STATE_MAX ? len - at : WAL_STATE_MAX, piece_saved, NULL);
        }
        char head[96];
        int n = snprintf(head, sizeof(head), "gen=%u n=%zu seq=%" PRIu64, mv->gen, mv->n_chunks,
                         mv->seq);
        wal_state_set(mv->wal, SHARD_MOVING_STATE, head, (size_t)n, moving_saved, mc);
    }
    for (size_t i = 0; i < old_chunks; i++) {
        chunk_name(name, sizeof(name), old_gen, i);
        wal_state_set(mv->wal, name, "", 0, piece_saved, NULL);
    }
}

static void mark_committed(void *arg, int rc, uint64_t seq)
{
    struct moving_call *mc = arg;
    struct shard_moving *mv = mc->mv;
    if (rc != 0) { /* nothing recorded: the set before is in force again */
        log_error("event=shards_moving_failed reason=\"%s\"", iwr_strerror(rc));
        moves_free(mv->v, mv->n);
        free(mv->text);
        mv->v = mc->old_v;
        mv->n = mc->old_n;
        mv->text = mc->old_text;
        mc->old_v = NULL;
        mc->old_n = 0;
        mc->old_text = NULL;
        call_end(mc, rc == IWR_EFULL ? 503 : 500, iwr_strerror(rc));
        return;
    }
    mv->seq = seq;
    log_info("event=shards_moving_set measurements=%zu seq=%" PRIu64, mv->n, seq);
    state_write(mc);
}

void shard_moving_handle(struct conn *c, struct http_req *req, struct shard_moving *mv)
{
    static const char usage[] = "expected a JSON body {\"moves\":[{\"database\":\"D\","
                                "\"measurement\":\"M\",\"from\":\"S1\",\"to\":\"S2\"}, ...]} "
                                "(an empty list clears the set)";
    if (mv->wal == NULL) {
        http_respond_error(c, 503, "no log", 6);
        return;
    }
    if (mv->changing) {
        static const char msg[] = "a change of the moving measurements is in flight";
        http_respond_error(c, 409, msg, sizeof(msg) - 1);
        return;
    }
    json_t *doc = json_loadb(req->body.data ? req->body.data : "", req->body.len, 0, NULL);
    struct move *v = NULL;
    size_t n = 0;
    int bad = moves_of(json_object_get(doc, "moves"), &v, &n);
    json_decref(doc);
    if (bad) {
        moves_free(v, n);
        http_respond_error(c, 400, usage, sizeof(usage) - 1);
        return;
    }
    char *text = moves_text(v, n);
    if (strlen(text) > MOVING_TEXT_MAX) {
        static const char msg[] = "too many moves to keep in the log's state";
        moves_free(v, n);
        free(text);
        http_respond_error(c, 413, msg, sizeof(msg) - 1);
        return;
    }
    struct moving_call *mc = xcalloc(1, sizeof(*mc));
    mc->c = c;
    mc->r = c->relay;
    mc->mv = mv;
    mv->changing = 1;
    if (strcmp(text, mv->text) == 0) { /* already so: the reshard sets it again on resume */
        moves_free(v, n);
        free(text);
        call_end(mc, 200, NULL);
        return;
    }
    mc->old_v = mv->v;
    mc->old_n = mv->n;
    mc->old_text = mv->text;
    mv->v = v;
    mv->n = n;
    mv->text = text;
    c->waiting_wal = 1;
    if (n == 0) { /* clearing needs no place in the log: nothing is copied any more */
        log_info("event=shards_moving_cleared");
        mv->seq = 0;
        state_write(mc);
        return;
    }
    /* From this loop turn on statements are checked against the new set, and the mark record
     * comes after every one let through before (the writer applies appends in order). */
    struct buf body;
    buf_init(&body);
    buf_printf(&body, "-- shards moving measurements=%zu", n);
    shard_split_append_mark(mv->wal, body.data, body.len, mark_committed, mc);
    buf_deinit(&body);
}

/* ---- a reshard's series ---------------------------------------------------------------------- */

int shard_keys_where(struct buf *b, const json_t *keys)
{
    if (!json_is_array(keys) || json_array_size(keys) == 0)
        return -1;
    for (size_t i = 0; i < json_array_size(keys); i++) {
        const json_t *o = json_array_get(keys, i);
        if (!json_is_object(o) || json_object_size(o) == 0)
            return -1;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)o, k, v)
        {
            if (!json_is_string(v) || k[0] == '\0')
                return -1;
        }
    }
    buf_append(b, "(", 1);
    for (size_t i = 0; i < json_array_size(keys); i++) {
        const json_t *o = json_array_get(keys, i);
        buf_append_str(b, i > 0 ? " OR (" : "(");
        const char *k;
        json_t *v;
        int first = 1;
        json_object_foreach((json_t *)o, k, v)
        {
            buf_append_str(b, first ? "" : " AND ");
            iql_quote_ident(b, k);
            buf_append_str(b, " = ");
            iql_quote_string(b, json_string_value(v));
            first = 0;
        }
        buf_append(b, ")", 1);
    }
    buf_append(b, ")", 1);
    return 0;
}

/* ---- the check ------------------------------------------------------------------------------- */

/* The next token of q[*at, end) that is not whitespace or a comment; 0 at the end. */
static int next_token(const char *q, size_t end, size_t *at, struct iql_token *prev,
                      struct iql_token *t)
{
    while (*at < end) {
        *at = iql_scan(q, end, *at, prev->regex_next, t);
        if (t->tok == IQL_T_WS || t->tok == IQL_T_COMMENT)
            continue;
        *prev = *t;
        return 1;
    }
    return 0;
}

static int same(const char *a, const char *b, size_t b_len)
{
    return strlen(a) == b_len && memcmp(a, b, b_len) == 0;
}

/* The first move of measurement 'm' (NULL: any) in database 'db' (empty: any). */
static const struct move *find(const struct shard_moving *mv, const char *db, size_t db_len,
                               const struct buf *m)
{
    for (size_t i = 0; i < mv->n; i++)
        if ((db_len == 0 || same(mv->v[i].db, db, db_len)) &&
            (m == NULL || same(mv->v[i].m, m->data ? m->data : "", m->len)))
            return &mv->v[i];
    return NULL;
}

static void reason(struct buf *msg, const char *what, const struct move *hit)
{
    buf_clear(msg);
    if (what != NULL)
        buf_printf(msg, "%s may delete points of measurement \"%s\" in database \"%s\", which ",
                   what, hit->m, hit->db);
    else
        buf_printf(msg, "measurement \"%s\" in database \"%s\" ", hit->m, hit->db);
    buf_printf(msg, "is being moved from shard %s to %s by a reshard: retry when it is done",
               hit->from, hit->to);
}

/* One statement: the move it would delete points of, and what makes it reach all of a
 * database's measurements (NULL when it names the measurement). */
static const struct move *piece_hit(const struct shard_moving *mv, const char *q,
                                    const struct iql_stmt *s, const char *db, size_t db_len,
                                    const char **what)
{
    size_t at = s->text_off, end = s->text_off + s->text_len;
    struct iql_token t, prev = {.tok = IQL_T_EOF};
    const struct move *hit = NULL;
    struct buf name;
    buf_init(&name);
    *what = NULL;
    int skip = strcmp(s->name, "DELETE") == 0                  ? 1
               : strcmp(s->name, "DROP SERIES") == 0           ? 2
               : strcmp(s->name, "DROP MEASUREMENT") == 0      ? 2
               : strcmp(s->name, "DROP DATABASE") == 0         ? 2
               : strcmp(s->name, "DROP RETENTION POLICY") == 0 ? 3
                                                               : 0;
    for (int i = 0; i < skip; i++)
        next_token(q, end, &at, &prev, &t);
    if (skip == 0) {
        /* other statements delete no measurement's points */
    } else if (strcmp(s->name, "DROP DATABASE") == 0 ||
               strcmp(s->name, "DROP RETENTION POLICY") == 0) {
        int ok = next_token(q, end, &at, &prev, &t);
        if (ok && skip == 3) /* the policy's name, ON, then the database */
            ok = next_token(q, end, &at, &prev, &t) && next_token(q, end, &at, &prev, &t);
        *what = s->name;
        hit = ok && iql_ident_value(q, &t, 0, &name) ? find(mv, name.data, name.len, NULL)
                                                     : find(mv, "", 0, NULL);
    } else if (strcmp(s->name, "DROP MEASUREMENT") == 0) {
        if (next_token(q, end, &at, &prev, &t) && iql_ident_value(q, &t, 0, &name)) {
            hit = find(mv, db, db_len, &name);
        } else {
            *what = s->name;
            hit = find(mv, db, db_len, NULL);
        }
    } else if (!next_token(q, end, &at, &prev, &t) ||
               !iql_token_is(q, &t, IQL_T_KEYWORD, "FROM")) { /* DELETE WHERE: everything */
        *what = strcmp(s->name, "DELETE") == 0 ? "DELETE without FROM" : "DROP SERIES without FROM";
        hit = find(mv, db, db_len, NULL);
    } else {
        for (int more = 1; more && hit == NULL && next_token(q, end, &at, &prev, &t);) {
            buf_clear(&name);
            if (t.tok != IQL_T_REGEX && iql_ident_value(q, &t, 0, &name)) {
                hit = find(mv, db, db_len, &name);
            } else if ((hit = find(mv, db, db_len, NULL)) != NULL) {
                *what = "a regex in FROM"; /* it may match any of them */
            }
            more = next_token(q, end, &at, &prev, &t) && iql_token_is(q, &t, IQL_T_PUNCT, ",");
        }
    }
    buf_deinit(&name);
    return hit;
}

int shard_moving_reads(const struct shard_moving *mv, const struct iql_select *s, const char *db,
                       size_t db_len, struct buf *msg)
{
    if (mv == NULL || mv->n == 0)
        return 0;
    const struct move *hit = NULL;
    struct buf name;
    buf_init(&name);
    for (size_t i = 0; i < s->n_sources && hit == NULL; i++) {
        const struct iql_source *src = &s->sources[i];
        const char *m = s->names.data + src->m_off;
        buf_clear(&name);
        for (size_t k = 0; k < src->m_len; k++) { /* line protocol's escapes off */
            if (m[k] == '\\' && k + 1 < src->m_len && (m[k + 1] == ' ' || m[k + 1] == ','))
                k++;
            buf_append(&name, m + k, 1);
        }
        hit = src->has_db ? find(mv, s->names.data + src->db_off, src->db_len, &name)
                          : find(mv, db, db_len, &name);
    }
    if (hit == NULL && (s->sources_unknown || s->n_sources == 0))
        hit = find(mv, db, db_len, NULL); /* a regex or a subquery: any of them */
    buf_deinit(&name);
    if (hit == NULL)
        return 0;
    buf_clear(msg);
    buf_printf(msg,
               "measurement \"%s\" in database \"%s\" is being moved from shard %s to %s by a "
               "reshard, and with a tag in the shard key some of its series are on both shards "
               "until it ends: no SELECT of it is merged meanwhile (SHOW statements are); retry "
               "when it is done",
               hit->m, hit->db, hit->from, hit->to);
    return 1;
}

int shard_moving_refuses(const struct shard_moving *mv, const char *q, size_t len, const char *db,
                         size_t db_len, struct buf *msg)
{
    if (mv == NULL || mv->n == 0)
        return 0;
    struct iql_stmt few[16], *pieces = few;
    size_t n = iql_split(q, len, few, 16);
    if (n > 16) {
        pieces = xcalloc(n, sizeof(*pieces));
        iql_split(q, len, pieces, n);
    }
    int refused = 0;
    for (size_t i = 0; i < n && !refused; i++) {
        if (pieces[i].kind != IQL_WRITE)
            continue;
        const char *what = NULL;
        const struct move *hit = piece_hit(mv, q, &pieces[i], db, db_len, &what);
        if (hit != NULL) {
            reason(msg, what, hit);
            refused = 1;
        }
    }
    if (pieces != few)
        free(pieces);
    return refused;
}
