/* influx-wal reshard: the relays' shards and backends (GET /api/shards), the backends by name,
 * the plan (every active shard's measurements on one of its backends, each placed by the ring
 * over the active shards and by the one over every configured shard) and the state file that
 * makes --apply resumable (JSON, written whole to FILE.reshard.tmp, synced, renamed). One
 * thread. */
#include "cmd/influx-wal/reshard.h"

#include "common/xalloc.h"
#include "relay/shard_split.h"
#include "relay/shard_moving.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void rs_names_clear(char **v, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free(v[i]);
    *n = 0;
}

int rs_names_have(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

void rs_moves_clear(struct reshard *rs)
{
    for (size_t i = 0; i < rs->n_moves; i++) {
        free(rs->moves[i].db);
        free(rs->moves[i].m);
        free(rs->moves[i].from);
        free(rs->moves[i].to);
        json_decref(rs->moves[i].keys);
        free(rs->moves[i].where);
    }
    free(rs->moves);
    rs->moves = NULL;
    rs->n_moves = 0;
}

/* ---- the relays ---------------------------------------------------------------------------- */

/* GET /api/shards on relay i into *doc. 0, or 1 after a message. */
int rs_relay_shards(struct reshard *rs, size_t i, json_t **doc)
{
    long status = 0;
    int rc = rb_relay_call(rs->cli, rs->relays[i].url, NULL, "/api/shards", &status, doc);
    if (rc == 0 && status != 200) {
        const char *err = influx_str_at(*doc, "error");
        rc = cli_fail(rs->cli, "relay %s: GET /api/shards answered %ld %s", rs->relays[i].shown,
                      status, err != NULL ? err : "");
        json_decref(*doc);
        *doc = NULL;
    }
    return rc;
}

/* The names in array 'a' into v (replacing what was there). */
void rs_names_of(const json_t *a, char **v, size_t *n)
{
    rs_names_clear(v, n);
    for (size_t i = 0; i < json_array_size(a) && *n < MAX_SHARDS; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (s != NULL)
            v[(*n)++] = xstrdup(s);
    }
}

void rs_csv(struct buf *b, char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf_append(b, ",", 1);
        buf_append_str(b, v[i]);
    }
    buf_append(b, "", 1);
    b->len--;
}

/* The active shards, the same on every relay. 0, or 1 after a message. */
int rs_read_active(struct reshard *rs)
{
    struct buf first;
    buf_init(&first);
    int rc = 0;
    for (size_t i = 0; i < rs->n_relays && rc == 0; i++) {
        json_t *doc = NULL;
        rc = rs_relay_shards(rs, i, &doc);
        if (rc != 0)
            break;
        char *v[MAX_SHARDS];
        size_t n = 0;
        rs_names_of(json_object_get(json_object_get(doc, "shards"), "active"), v, &n);
        struct buf b;
        buf_init(&b);
        rs_csv(&b, v, n);
        if (i == 0) {
            buf_append(&first, b.data, b.len + 1);
            rs_names_clear(rs->active, &rs->n_active);
            for (size_t k = 0; k < n; k++)
                rs->active[rs->n_active++] = xstrdup(v[k]);
        } else if (strcmp(first.data, b.data) != 0) {
            rc = cli_fail(rs->cli,
                          "the relays route with different shards: %s has %s, %s has %s (a "
                          "reshard was interrupted? run --apply with the state file %s)",
                          rs->relays[0].shown, first.data, rs->relays[i].shown, b.data,
                          rs->state_path);
        }
        buf_deinit(&b);
        rs_names_clear(v, &n);
        json_decref(doc);
    }
    buf_deinit(&first);
    return rc;
}

/* Whether backend 'name' is up and caught up on every relay (*ok), and whether its cursor is
 * at or past 'seq' on every relay (*passed; RS_SEQ_SWITCH, RS_SEQ_MOVING: each relay's own;
 * with 'seq' 0: whether it is up on every relay). 0, or 1 after a message. */
int rs_backend_on_relays(struct reshard *rs, const char *name, uint64_t seq, int *ok, int *passed)
{
    *ok = *passed = 1;
    for (size_t i = 0; i < rs->n_relays; i++) {
        json_t *doc = NULL;
        if (rs_relay_shards(rs, i, &doc) != 0)
            return 1;
        json_t *bs = json_object_get(doc, "backends");
        int found = 0;
        for (size_t k = 0; k < json_array_size(bs); k++) {
            json_t *b = json_array_get(bs, k);
            if (strcmp(influx_str_at(b, "name") ? influx_str_at(b, "name") : "", name) != 0)
                continue;
            found = 1;
            uint64_t cur = (uint64_t)json_integer_value(json_object_get(b, "cursor"));
            uint64_t want = seq == RS_SEQ_SWITCH   ? rs->relays[i].switch_seq
                            : seq == RS_SEQ_MOVING ? rs->relays[i].moving_seq
                                                   : seq;
            int is_up = json_is_true(json_object_get(b, "up"));
            *ok &= is_up && json_is_true(json_object_get(b, "caught_up"));
            *passed &= cur >= want && (seq != 0 || is_up);
        }
        json_decref(doc);
        if (!found) {
            *ok = *passed = 0;
            return 0;
        }
    }
    return 0;
}

const struct cfg_shard *rs_shard_cfg(const struct reshard *rs, const char *name)
{
    for (size_t i = 0; i < rs->cfg.n_shards; i++)
        if (strcmp(rs->cfg.shards[i].name, name) == 0)
            return &rs->cfg.shards[i];
    return NULL;
}

/* A backend of shard 'name' into *out (borrowed from the config): one up and caught up on
 * every relay if there is one (asked a few times: under load a backend is caught up between
 * batches), else one up on every relay (what it still lacks reaches it from the logs; the
 * sync after the switch reads every backend of the shard). 0, or 1 after a message. */
int rs_pick_backend(struct reshard *rs, const char *name, const char **out)
{
    const struct cfg_shard *s = rs_shard_cfg(rs, name);
    if (s == NULL)
        return cli_fail(rs->cli, "shard %s is not in %s", name, rs->config_path);
    const char *up = NULL;
    for (int attempt = 0; attempt < 10; attempt++) {
        for (size_t j = 0; j < s->n_backends; j++) {
            int ok, passed;
            if (rs_backend_on_relays(rs, s->backends[j], 0, &ok, &passed) != 0)
                return 1;
            if (ok) {
                *out = s->backends[j];
                return 0;
            }
            if (passed && up == NULL) /* passed: found on every relay */
                up = s->backends[j];
        }
        usleep(100000);
    }
    if (up != NULL) {
        *out = up;
        return 0;
    }
    return cli_fail(rs->cli, "shard %s has no backend up on every relay", name);
}

int rs_conn_open(struct reshard *rs, const char *name, struct rs_conn *k)
{
    memset(k, 0, sizeof(*k));
    int rc = cli_backend_resolve(rs->cli, rs->config_path, rs->urls, rs->n_urls, name, &k->be);
    if (rc == 0)
        rc = influx_open(rs->cli, &k->be, &k->c);
    return rc;
}

void rs_conn_close(struct rs_conn *k)
{
    influx_close(k->c);
    cli_backend_deinit(&k->be);
    memset(k, 0, sizeof(*k));
}

/* ---- the plan ------------------------------------------------------------------------------ */

static int collect_first(void *arg, const json_t *res)
{
    struct names *nm = arg;
    if (influx_str_at(res, "error") != NULL)
        return 0;
    return rb_collect_names(arg, res) == 0 ? 0 : (nm->err = "refused", 5);
}

int rs_show_names(struct reshard *rs, struct influx *c, const char *q, struct names *out)
{
    memset(out, 0, sizeof(*out));
    int rc = influx_query(c, NULL, q, collect_first, out);
    if (rc == 5)
        rc = cli_fail(rs->cli, "%s refused %s", influx_name(c), q);
    return rc;
}

int rs_count_result(void *arg, const json_t *res)
{
    struct rs_count *n = arg;
    const json_t *all = json_object_get(res, "series");
    for (size_t i = 0; i < json_array_size(all); i++) {
        const json_t *vals = json_object_get(json_array_get(all, i), "values");
        for (size_t r = 0; r < json_array_size(vals); r++) {
            const json_t *row = json_array_get(vals, r);
            for (size_t c = 1; c < json_array_size(row); c++) {
                json_int_t v = json_integer_value(json_array_get(row, c));
                if (v > 0 && (uint64_t)v > n->max)
                    n->max = (uint64_t)v;
            }
        }
    }
    return 0;
}

int rs_count_points(struct reshard *rs, struct influx *c, const char *db, const char *m,
                    const char *where, uint64_t *out)
{
    *out = 0;
    struct buf q;
    buf_init(&q);
    buf_append_str(&q, "SHOW RETENTION POLICIES ON ");
    influx_quote_ident(&q, db);
    buf_append(&q, "", 1);
    struct names rps;
    int rc = rs_show_names(rs, c, q.data, &rps);
    for (size_t i = 0; i < rps.n && rc == 0; i++) {
        buf_clear(&q);
        buf_append_str(&q, "SELECT count(*) FROM ");
        influx_quote_ident(&q, db);
        buf_append_str(&q, ".");
        influx_quote_ident(&q, rps.v[i]);
        buf_append_str(&q, ".");
        influx_quote_ident(&q, m);
        if (where != NULL) {
            buf_append_str(&q, " WHERE ");
            buf_append_str(&q, where);
        }
        buf_append(&q, "", 1);
        struct rs_count cnt = {0};
        rc = influx_query(c, db, q.data, rs_count_result, &cnt);
        *out += cnt.max; /* a point is in one retention policy only */
    }
    rb_names_free(&rps);
    buf_deinit(&q);
    return rc;
}

/* Measurement 'm' as line protocol writes it (',' and ' ' escaped): the ring's key. */
static void lp_name(struct buf *b, const char *m)
{
    buf_clear(b);
    for (const char *p = m; *p; p++) {
        if (*p == ',' || *p == ' ')
            buf_append(b, "\\", 1);
        buf_append(b, p, 1);
    }
}

static int move_cmp(const void *x, const void *y)
{
    const struct reshard_move *a = x, *b = y;
    int c = strcmp(a->db, b->db);
    if (c == 0)
        c = strcmp(a->m, b->m);
    if (c == 0)
        c = strcmp(a->from, b->from);
    return c != 0 ? c : strcmp(a->where ? a->where : "", b->where ? b->where : "");
}

/* The value of tag 'tag' in series key 'key' (SHOW SERIES: the measurement and the tags as
 * line protocol writes them, escaped) into 'out' without its escapes; "" when the series has
 * no such tag. */
static void series_tag(const char *key, const char *tag, struct buf *out)
{
    buf_clear(out);
    const char *p = key;
    while (*p && *p != ',') /* the measurement */
        p += (*p == '\\' && p[1]) ? 2 : 1;
    size_t tl = strlen(tag);
    struct buf k;
    buf_init(&k);
    while (*p == ',') {
        p++;
        buf_clear(&k);
        while (*p && *p != '=') {
            if (*p == '\\' && p[1])
                p++;
            buf_append(&k, p++, 1);
        }
        p += *p == '=';
        int hit = k.len == tl && memcmp(k.data, tag, tl) == 0;
        while (*p && *p != ',') {
            if (*p == '\\' && (p[1] == ',' || p[1] == '=' || p[1] == ' '))
                p++;
            if (hit)
                buf_append(out, p, 1);
            p++;
        }
        if (hit)
            break;
    }
    buf_deinit(&k);
    buf_append(out, "", 1);
    out->len--;
}

/* Whether key object 'o' is one of an existing move of db, m, from, to. */
static int planned_key(const struct reshard *rs, size_t n_old, const char *db, const char *m,
                       const char *from, const char *to, const json_t *o)
{
    for (size_t i = 0; i < n_old; i++) {
        const struct reshard_move *x = &rs->moves[i];
        if (x->keys == NULL || strcmp(x->db, db) != 0 || strcmp(x->m, m) != 0 ||
            strcmp(x->from, from) != 0 || strcmp(x->to, to) != 0)
            continue;
        for (size_t k = 0; k < json_array_size(x->keys); k++)
            if (json_equal(json_array_get(x->keys, k), (json_t *)o))
                return 1;
    }
    return 0;
}

static struct reshard_move *add_move(struct reshard *rs, const char *db, const char *m,
                                     const char *from, const char *to)
{
    rs->moves = xrealloc(rs->moves, (rs->n_moves + 1) * sizeof(*rs->moves));
    struct reshard_move *mv = &rs->moves[rs->n_moves++];
    memset(mv, 0, sizeof(*mv));
    mv->db = xstrdup(db);
    mv->m = xstrdup(m);
    mv->from = xstrdup(from);
    mv->to = xstrdup(to);
    return mv;
}

/* Build mv->where from mv->keys. */
static void move_where(struct reshard_move *mv)
{
    struct buf w;
    buf_init(&w);
    if (shard_keys_where(&w, mv->keys) == 0) {
        buf_append(&w, "", 1);
        mv->where = xstrdup(w.data);
    }
    buf_deinit(&w);
}

/* With a tag in the key: the series of measurement 'm' (db) on shard 'here' that move, grouped
 * by the shard they go to, at most RS_KEYS_PER_MOVE keys per move; those an existing move
 * (one of the first n_old) has are left out. */
static int plan_series(struct reshard *rs, struct rs_conn *k, struct shard_split *old,
                       struct shard_split *neu, const char *here, const char *db, const char *m,
                       size_t n_old)
{
    const char *tags[16];
    size_t tag_lens[16];
    size_t n_tags = shard_split_key_tags(neu, tags, tag_lens, 16);
    struct buf q, line, val;
    buf_init(&q);
    buf_init(&line);
    buf_init(&val);
    buf_append_str(&q, "SHOW SERIES ON ");
    influx_quote_ident(&q, db);
    buf_append_str(&q, " FROM ");
    influx_quote_ident(&q, m);
    buf_append(&q, "", 1);
    struct names series;
    int rc = rs_show_names(rs, k->c, q.data, &series);
    json_t *groups = json_object(); /* shard it goes to -> array of key objects */
    for (size_t i = 0; rc == 0 && i < series.n; i++) {
        buf_clear(&line);
        buf_append_str(&line, series.v[i]);
        buf_append_str(&line, " f=1");
        const char *from =
            shard_split_name(old, shard_split_line(old, db, strlen(db), line.data, line.len));
        const char *to =
            shard_split_name(neu, shard_split_line(neu, db, strlen(db), line.data, line.len));
        if (strcmp(from, here) != 0 || strcmp(from, to) == 0)
            continue; /* not this shard's (left over), or it stays */
        json_t *o = json_object();
        for (size_t t = 0; t < n_tags; t++) {
            char name[256];
            snprintf(name, sizeof(name), "%.*s", (int)tag_lens[t], tags[t]);
            series_tag(series.v[i], name, &val);
            json_object_set_new(o, name, json_string(val.data));
        }
        json_t *g = json_object_get(groups, to);
        if (g == NULL) {
            g = json_array();
            json_object_set_new(groups, to, g);
        }
        int seen = planned_key(rs, n_old, db, m, from, to, o);
        for (size_t j = 0; !seen && j < json_array_size(g); j++)
            seen = json_equal(json_array_get(g, j), o);
        if (!seen)
            json_array_append(g, o);
        json_decref(o);
    }
    const char *to;
    json_t *g;
    json_object_foreach(groups, to, g)
    {
        for (size_t at = 0; rc == 0 && at < json_array_size(g); at += RS_KEYS_PER_MOVE) {
            struct reshard_move *mv = add_move(rs, db, m, here, to);
            mv->keys = json_array();
            for (size_t j = at; j < json_array_size(g) && j < at + RS_KEYS_PER_MOVE; j++)
                json_array_append(mv->keys, json_array_get(g, j));
            move_where(mv);
            rc = rs_count_points(rs, k->c, db, m, mv->where, &mv->points);
        }
    }
    json_decref(groups);
    rb_names_free(&series);
    buf_deinit(&q);
    buf_deinit(&line);
    buf_deinit(&val);
    return rc;
}

int rs_make_plan(struct reshard *rs)
{
    struct shard_split *old =
        shard_split_new((const char *const *)rs->active, rs->n_active,
                        (const char *const *)rs->cfg.shard_key, rs->cfg.n_shard_key);
    struct shard_split *neu =
        shard_split_new((const char *const *)rs->target, rs->n_target,
                        (const char *const *)rs->cfg.shard_key, rs->cfg.n_shard_key);
    const char *tags[1];
    size_t tag_lens[1];
    int by_series = shard_split_key_tags(neu, tags, tag_lens, 1) > 0;
    size_t n_old = rs->n_moves;
    struct buf q, key;
    buf_init(&q);
    buf_init(&key);
    int rc = 0;
    for (size_t s = 0; s < rs->n_active && rc == 0; s++) {
        const char *name = NULL;
        rc = rs_pick_backend(rs, rs->active[s], &name);
        struct rs_conn k;
        if (rc == 0)
            rc = rs_conn_open(rs, name, &k);
        if (rc != 0)
            break;
        struct names dbs;
        rc = rs_show_names(rs, k.c, "SHOW DATABASES", &dbs);
        for (size_t d = 0; d < dbs.n && rc == 0; d++) {
            const char *db = dbs.v[d];
            if (strcmp(db, "_internal") == 0)
                continue;
            buf_clear(&q);
            buf_append_str(&q, "SHOW MEASUREMENTS ON ");
            influx_quote_ident(&q, db);
            buf_append(&q, "", 1);
            struct names ms;
            rc = rs_show_names(rs, k.c, q.data, &ms);
            for (size_t j = 0; j < ms.n && rc == 0; j++) {
                if (by_series) {
                    rc = plan_series(rs, &k, old, neu, rs->active[s], db, ms.v[j], n_old);
                    continue;
                }
                lp_name(&key, ms.v[j]);
                int o = shard_split_measurement_shard(old, db, strlen(db), key.data, key.len);
                int n = shard_split_measurement_shard(neu, db, strlen(db), key.data, key.len);
                const char *from = shard_split_name(old, (size_t)o);
                const char *to = shard_split_name(neu, (size_t)n);
                if (strcmp(from, rs->active[s]) != 0 || strcmp(from, to) == 0)
                    continue; /* not this shard's (left over), or it stays */
                int seen = 0;
                for (size_t i = 0; i < n_old && !seen; i++)
                    seen = strcmp(rs->moves[i].db, db) == 0 &&
                           strcmp(rs->moves[i].m, ms.v[j]) == 0 &&
                           strcmp(rs->moves[i].from, from) == 0;
                if (seen)
                    continue; /* planned already (the sync plans again) */
                struct reshard_move *mv = add_move(rs, db, ms.v[j], from, to);
                rc = rs_count_points(rs, k.c, db, ms.v[j], NULL, &mv->points);
            }
            rb_names_free(&ms);
        }
        rb_names_free(&dbs);
        rs_conn_close(&k);
    }
    buf_deinit(&q);
    buf_deinit(&key);
    shard_split_free(old);
    shard_split_free(neu);
    if (rs->n_moves > n_old + 1)
        qsort(rs->moves + n_old, rs->n_moves - n_old, sizeof(*rs->moves), move_cmp);
    return rc;
}

static void json_strv(json_t *o, const char *key, char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    json_object_set_new(o, key, a);
}

static json_t *plan_json(const struct reshard *rs)
{
    json_t *o = json_object();
    json_strv(o, "active", rs->active, rs->n_active);
    json_strv(o, "target", rs->target, rs->n_target);
    json_t *a = json_array();
    uint64_t total = 0;
    for (size_t i = 0; i < rs->n_moves; i++) {
        const struct reshard_move *m = &rs->moves[i];
        json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:I}", "database", m->db, "measurement", m->m,
                              "from", m->from, "to", m->to, "points", (json_int_t)m->points);
        if (m->keys != NULL)
            json_object_set(e, "keys", m->keys);
        json_array_append_new(a, e);
        total += m->points;
    }
    json_object_set_new(o, "moves", a);
    json_object_set_new(o, "points", json_integer((json_int_t)total));
    return o;
}

/* A name in a logfmt value: quoted when it holds a space, '=' or '"'. */
static void lf(FILE *f, const char *s)
{
    if (s[0] != '\0' && strpbrk(s, " =\"\\") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void rs_print_plan(const struct reshard *rs)
{
    if (rs->json) {
        json_t *o = plan_json(rs);
        char *text = json_dumps(o, JSON_COMPACT);
        printf("%s\n", text);
        free(text);
        json_decref(o);
        return;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < rs->n_moves; i++) {
        const struct reshard_move *m = &rs->moves[i];
        printf("move db=");
        lf(stdout, m->db);
        printf(" measurement=");
        lf(stdout, m->m);
        if (m->keys != NULL)
            printf(" series=%zu", json_array_size(m->keys));
        printf(" from=%s to=%s points=%" PRIu64 "\n", m->from, m->to, m->points);
        total += m->points;
    }
    struct buf a, t;
    buf_init(&a);
    buf_init(&t);
    rs_csv(&a, rs->active, rs->n_active);
    rs_csv(&t, rs->target, rs->n_target);
    printf("plan active=%s target=%s measurements=%zu points=%" PRIu64 "\n", a.data, t.data,
           rs->n_moves, total);
    buf_deinit(&a);
    buf_deinit(&t);
}

/* ---- the state file ------------------------------------------------------------------------ */

int rs_state_save(struct reshard *rs)
{
    json_t *o = plan_json(rs);
    json_object_set_new(o, "phase", json_string(rs->phase));
    json_t *rl = json_array();
    for (size_t i = 0; i < rs->n_relays; i++)
        /* The URL as shown: the file never holds the relay's password. */
        json_array_append_new(rl, json_pack("{s:s,s:I}", "url", rs->relays[i].shown, "switch_seq",
                                            (json_int_t)rs->relays[i].switch_seq));
    json_object_set_new(o, "relays", rl);
    json_t *ds = json_array(), *dr = json_array();
    for (size_t i = 0; i < rs->n_moves; i++) {
        json_array_append_new(ds, json_integer((json_int_t)rs->moves[i].drop_seq));
        json_array_append_new(dr, json_string(rs->relays[rs->moves[i].drop_relay].shown));
    }
    json_object_set_new(o, "drop_seqs", ds);
    json_object_set_new(o, "drop_relays", dr); /* the relay whose log holds each drop */
    char tmp[1200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", rs->state_path);
    int rc = json_dump_file(o, tmp, JSON_INDENT(1));
    json_decref(o);
    FILE *f = rc == 0 ? fopen(tmp, "r+") : NULL;
    if (f != NULL) {
        rc = fflush(f) != 0 || fsync(fileno(f)) != 0;
        fclose(f);
    } else {
        rc = 1;
    }
    if (rc == 0 && rename(tmp, rs->state_path) != 0)
        rc = 1;
    if (rc != 0)
        return cli_fail(rs->cli, "cannot write the state file %s: %s", rs->state_path,
                        strerror(errno));
    return 0;
}

/* 0 with rs->phase "" when there is no state file; 1 after a message. */
int rs_state_load(struct reshard *rs)
{
    rs->phase[0] = '\0';
    if (access(rs->state_path, F_OK) != 0)
        return 0;
    json_error_t jerr;
    json_t *o = json_load_file(rs->state_path, 0, &jerr);
    const char *phase = influx_str_at(o, "phase");
    if (o == NULL || phase == NULL)
        return cli_fail(rs->cli,
                        "the state file %s is not readable: %s (remove it to start "
                        "over)",
                        rs->state_path, o == NULL ? jerr.text : "no phase");
    snprintf(rs->phase, sizeof(rs->phase), "%s", phase);
    rs_names_of(json_object_get(o, "active"), rs->active, &rs->n_active);
    char *t[MAX_SHARDS];
    size_t nt = 0;
    rs_names_of(json_object_get(o, "target"), t, &nt);
    int same = nt == rs->n_target;
    for (size_t i = 0; same && i < nt; i++)
        same = strcmp(t[i], rs->target[i]) == 0;
    rs_names_clear(t, &nt);
    if (!same) {
        json_decref(o);
        return cli_fail(rs->cli, "the state file %s is for other shards than %s has now",
                        rs->state_path, rs->config_path);
    }
    json_t *mv = json_object_get(o, "moves"), *ds = json_object_get(o, "drop_seqs");
    json_t *dr = json_object_get(o, "drop_relays");
    rs_moves_clear(rs);
    for (size_t i = 0; i < json_array_size(mv); i++) {
        json_t *m = json_array_get(mv, i);
        rs->moves = xrealloc(rs->moves, (rs->n_moves + 1) * sizeof(*rs->moves));
        struct reshard_move *x = &rs->moves[rs->n_moves++];
        memset(x, 0, sizeof(*x));
        x->db = xstrdup(influx_str_at(m, "database") ? influx_str_at(m, "database") : "");
        x->m = xstrdup(influx_str_at(m, "measurement") ? influx_str_at(m, "measurement") : "");
        x->from = xstrdup(influx_str_at(m, "from") ? influx_str_at(m, "from") : "");
        x->to = xstrdup(influx_str_at(m, "to") ? influx_str_at(m, "to") : "");
        x->points = (uint64_t)json_integer_value(json_object_get(m, "points"));
        json_t *keys = json_object_get(m, "keys");
        if (keys != NULL) {
            x->keys = json_incref(keys);
            move_where(x);
            if (x->where == NULL) {
                json_decref(o);
                return cli_fail(rs->cli, "the state file %s is not readable: a move's keys are "
                                         "not a list of tag values (remove it to start over)",
                                rs->state_path);
            }
        }
        x->drop_seq = (uint64_t)json_integer_value(json_array_get(ds, i));
        /* The relay that took the drop; not among those given now: dropped again (the same
         * DROP twice deletes nothing more). A file without drop_relays: the first relay. */
        const char *by = json_string_value(json_array_get(dr, i));
        int found = by == NULL;
        for (size_t k = 0; by != NULL && k < rs->n_relays && !found; k++)
            if (strcmp(rs->relays[k].shown, by) == 0) {
                x->drop_relay = k;
                found = 1;
            }
        if (!found)
            x->drop_seq = 0;
    }
    json_t *rl = json_object_get(o, "relays");
    for (size_t i = 0; i < json_array_size(rl); i++) {
        const char *url = influx_str_at(json_array_get(rl, i), "url");
        for (size_t k = 0; url != NULL && k < rs->n_relays; k++)
            if (strcmp(rs->relays[k].shown, url) == 0)
                rs->relays[k].switch_seq = (uint64_t)json_integer_value(
                    json_object_get(json_array_get(rl, i), "switch_seq"));
    }
    json_decref(o);
    return 0;
}

int rs_set_phase(struct reshard *rs, const char *phase)
{
    snprintf(rs->phase, sizeof(rs->phase), "%s", phase);
    return rs_state_save(rs);
}
