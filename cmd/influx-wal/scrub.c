/* influx-wal scrub: prove that two mirrored backends hold the same data. The schema of both
 * (databases, retention policies, measurements, field keys and types) is read and merged; each
 * database, retention policy and measurement is then compared per field and hour with one
 * SELECT count(f), sum(f) ... GROUP BY time(1h) fill(none) on each side (sum for float and
 * integer fields only), one measurement at a time, so memory holds the hours of one
 * measurement. Windows whose points a log still holds for a backend that has not acknowledged
 * them are in flight (scrub_log.c), not differences. --repair hands each differing window to
 * scrub_repair.c, then compares it again. The logs are opened read-only. */
#include "cmd/influx-wal/scrub.h"

#include "common/err.h"
#include "common/xalloc.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_TIME (-9223372036854775807LL + 2) /* influxd's own bounds */
#define MAX_TIME 9223372036854775806LL

static const char *const SIDE[2] = {"a", "b"};

/* ---- hashing ------------------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

uint64_t scrub_hash(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    h ^= 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return mix64(h ^ n);
}

uint64_t scrub_window_key(const char *db, const char *rp, const char *m, int64_t hour)
{
    uint64_t h = scrub_hash(0, db, strlen(db) + 1);
    h = scrub_hash(h, rp, strlen(rp) + 1);
    h = scrub_hash(h, m, strlen(m) + 1);
    return mix64(h ^ (uint64_t)hour);
}

void hmap_deinit(struct hmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

static void hmap_grow(struct hmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    uint64_t *keys = xcalloc(cap, sizeof(*keys)), *vals = xcalloc(cap, sizeof(*vals));
    for (size_t j = 0; j < m->cap; j++) {
        if (m->keys[j] == 0)
            continue;
        size_t i = m->keys[j] & (cap - 1);
        while (keys[i] != 0)
            i = (i + 1) & (cap - 1);
        keys[i] = m->keys[j];
        vals[i] = m->vals[j];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
}

void hmap_put(struct hmap *m, uint64_t key, uint64_t val)
{
    key = key ? key : 1;
    if ((m->n + 1) * 2 > m->cap)
        hmap_grow(m);
    size_t i = key & (m->cap - 1);
    while (m->keys[i] != 0 && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (m->keys[i] == 0)
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
}

int hmap_get(const struct hmap *m, uint64_t key, uint64_t *val)
{
    key = key ? key : 1;
    for (size_t i = key & (m->cap - 1); m->cap > 0 && m->keys[i] != 0; i = (i + 1) & (m->cap - 1))
        if (m->keys[i] == key) {
            if (val)
                *val = m->vals[i];
            return 1;
        }
    return 0;
}

const char *scrub_time_str(int64_t ns, char *buf, size_t cap)
{
    time_t secs = (time_t)(ns / 1000000000);
    if (ns % 1000000000 != 0 && ns < 0)
        secs--;
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* ---- the schema of both sides -------------------------------------------------------------- */

/* One thing the schema holds: kind 'D' database, 'R' retention policy, 'M' measurement, 'F'
 * field; key "kind db\0[rp|m]\0[f]\0". */
struct ent {
    char *key;
    size_t len;
    int on;             /* bit per side */
    enum ftype type[2]; /* fields */
};

struct schema {
    struct ent *e;
    size_t n, cap;
    struct hmap ids; /* hash of key -> index + 1 */
};

static void schema_deinit(struct schema *sc)
{
    for (size_t i = 0; i < sc->n; i++)
        free(sc->e[i].key);
    free(sc->e);
    hmap_deinit(&sc->ids);
    memset(sc, 0, sizeof(*sc));
}

static struct ent *schema_add(struct schema *sc, int side, char kind, const char *a, const char *b,
                              const char *c)
{
    struct buf k;
    buf_init(&k);
    buf_append(&k, &kind, 1);
    buf_append(&k, a, strlen(a) + 1);
    if (b != NULL)
        buf_append(&k, b, strlen(b) + 1);
    if (c != NULL)
        buf_append(&k, c, strlen(c) + 1);
    uint64_t h = scrub_hash(0, k.data, k.len), id;
    struct ent *e = NULL;
    if (hmap_get(&sc->ids, h, &id)) {
        e = &sc->e[id - 1];
        buf_deinit(&k);
    } else {
        if (sc->n == sc->cap) {
            sc->cap = sc->cap ? sc->cap * 2 : 64;
            sc->e = xrealloc(sc->e, sc->cap * sizeof(*sc->e));
        }
        e = &sc->e[sc->n++];
        memset(e, 0, sizeof(*e));
        e->len = k.len;
        e->key = buf_steal(&k);
        hmap_put(&sc->ids, h, sc->n);
    }
    e->on |= 1 << side;
    return e;
}

/* The parts of a key: db, then the second and third names (NULL when absent). */
static void ent_parts(const struct ent *e, const char **db, const char **x, const char **y)
{
    const char *p = e->key + 1, *end = e->key + e->len;
    *db = p;
    p += strlen(p) + 1;
    *x = p < end ? p : NULL;
    p = *x ? p + strlen(p) + 1 : end;
    *y = p < end ? p : NULL;
}

static int ent_cmp(const void *x, const void *y)
{
    const struct ent *a = x, *b = y;
    int c = memcmp(a->key, b->key, a->len < b->len ? a->len : b->len);
    return c != 0 ? c : (a->len > b->len) - (a->len < b->len);
}

static enum ftype ftype_of(const char *s)
{
    if (s == NULL)
        return FT_NONE;
    if (strcmp(s, "float") == 0)
        return FT_FLOAT;
    if (strcmp(s, "integer") == 0)
        return FT_INTEGER;
    if (strcmp(s, "unsigned") == 0)
        return FT_UNSIGNED;
    if (strcmp(s, "string") == 0)
        return FT_STRING;
    return strcmp(s, "boolean") == 0 ? FT_BOOLEAN : FT_NONE;
}

static const char *ftype_name(enum ftype t)
{
    static const char *const names[] = {"none",     "float",  "integer",
                                        "unsigned", "string", "boolean"};
    return names[t];
}

/* Collecting the rows of a SHOW statement: each row to 'row'. */
struct show {
    struct scrub *s;
    int side;
    struct schema *sc;
    const char *db, *m;
    char kind;
    int not_found; /* the answer said the database is not there */
};

static int show_result(void *arg, const json_t *res)
{
    struct show *sh = arg;
    const char *err = influx_str_at(res, "error");
    if (err != NULL) {
        if (strstr(err, "not found") != NULL) {
            sh->not_found = 1;
            return 0;
        }
        return cli_fail(sh->s->cli, "%s: %s", sh->s->be[sh->side].name, err);
    }
    const json_t *all = json_object_get(res, "series");
    for (size_t i = 0; i < json_array_size(all); i++) {
        const json_t *vals = json_object_get(json_array_get(all, i), "values");
        for (size_t r = 0; r < json_array_size(vals); r++) {
            const json_t *row = json_array_get(vals, r);
            const char *v0 = json_string_value(json_array_get(row, 0));
            if (v0 == NULL)
                continue;
            if (sh->kind == 'D') {
                if (strcmp(v0, "_internal") != 0 &&
                    (sh->s->database == NULL || strcmp(v0, sh->s->database) == 0))
                    schema_add(sh->sc, sh->side, 'D', v0, NULL, NULL);
            } else if (sh->kind == 'R') {
                schema_add(sh->sc, sh->side, 'R', sh->db, v0, NULL);
                struct scrub *s = sh->s;
                struct srp *p = NULL;
                for (size_t k = 0; k < s->n_rps && p == NULL; k++)
                    if (strcmp(s->rps[k].db, sh->db) == 0 && strcmp(s->rps[k].name, v0) == 0)
                        p = &s->rps[k];
                if (p == NULL) {
                    s->rps = xrealloc(s->rps, (s->n_rps + 1) * sizeof(*s->rps));
                    p = &s->rps[s->n_rps++];
                    memset(p, 0, sizeof(*p));
                    p->db = xstrdup(sh->db);
                    p->name = xstrdup(v0);
                    const char *d = json_string_value(json_array_get(row, 1));
                    const char *sd = json_string_value(json_array_get(row, 2));
                    p->duration = xstrdup(d != NULL ? d : "0s");
                    p->shard_duration = xstrdup(sd != NULL ? sd : "0s");
                }
                p->on |= 1 << sh->side;
                p->is_default |= json_is_true(json_array_get(row, 4));
            } else if (sh->kind == 'M') {
                schema_add(sh->sc, sh->side, 'M', sh->db, v0, NULL);
            } else {
                struct ent *e = schema_add(sh->sc, sh->side, 'F', sh->db, sh->m, v0);
                if (e->type[sh->side] == FT_NONE)
                    e->type[sh->side] = ftype_of(json_string_value(json_array_get(row, 1)));
            }
        }
    }
    return 0;
}

static int show(struct scrub *s, int side, struct schema *sc, char kind, const char *db,
                const char *m)
{
    struct buf q;
    buf_init(&q);
    if (kind == 'D') {
        buf_append_str(&q, "SHOW DATABASES");
    } else {
        buf_append_str(&q, kind == 'R'   ? "SHOW RETENTION POLICIES ON "
                           : kind == 'M' ? "SHOW MEASUREMENTS ON "
                                         : "SHOW FIELD KEYS ON ");
        influx_quote_ident(&q, db);
        if (kind == 'F') {
            buf_append_str(&q, " FROM ");
            influx_quote_ident(&q, m);
        }
    }
    buf_append(&q, "", 1);
    struct show sh = {s, side, sc, db, m, kind, 0};
    int rc = influx_query(s->c[side], NULL, q.data, show_result, &sh);
    buf_deinit(&q);
    return rc;
}

/* Both sides' schema into 'sc', sorted. 0, or 1 after a message. */
static int discover(struct scrub *s, struct schema *sc)
{
    int rc = 0;
    for (int side = 0; side < 2 && rc == 0; side++) {
        rc = show(s, side, sc, 'D', NULL, NULL);
        for (size_t i = 0; i < sc->n && rc == 0; i++) {
            if (sc->e[i].key[0] != 'D' || !(sc->e[i].on & (1 << side)))
                continue;
            char *db = xstrdup(sc->e[i].key + 1); /* sc->e moves as it grows */
            rc = show(s, side, sc, 'R', db, NULL);
            size_t from = sc->n;
            if (rc == 0)
                rc = show(s, side, sc, 'M', db, NULL);
            for (size_t j = 0; j < sc->n && rc == 0; j++) {
                const char *edb, *m, *unused;
                if (sc->e[j].key[0] != 'M' || !(sc->e[j].on & (1 << side)))
                    continue;
                ent_parts(&sc->e[j], &edb, &m, &unused);
                if (strcmp(edb, db) != 0)
                    continue;
                char *mm = xstrdup(m);
                rc = show(s, side, sc, 'F', db, mm);
                free(mm);
            }
            (void)from;
            free(db);
        }
    }
    if (rc == 0)
        qsort(sc->e, sc->n, sizeof(*sc->e), ent_cmp);
    hmap_deinit(&sc->ids); /* indexes are stale after the sort */
    return rc;
}

const struct srp *scrub_find_rp(const struct scrub *s, const char *db, const char *rp)
{
    for (size_t k = 0; k < s->n_rps; k++)
        if (strcmp(s->rps[k].db, db) == 0 && strcmp(s->rps[k].name, rp) == 0)
            return &s->rps[k];
    return NULL;
}

const char *scrub_default_rp(const struct scrub *s, const char *db)
{
    for (size_t k = 0; k < s->n_rps; k++)
        if (strcmp(s->rps[k].db, db) == 0 && s->rps[k].is_default)
            return s->rps[k].name;
    return NULL;
}

/* A difference of schema: printed, and in the JSON report. */
static void schema_diff(struct scrub *s, const struct ent *e, int print)
{
    const char *db, *x, *y;
    ent_parts(e, &db, &x, &y);
    static const char *const kinds[] = {"database", "retention_policy", "measurement", "field"};
    const char *kind = kinds[e->key[0] == 'D'   ? 0
                             : e->key[0] == 'R' ? 1
                             : e->key[0] == 'M' ? 2
                                                : 3];
    int types = e->on == 3; /* a field on both sides, of other types */
    s->schema++;
    if (!print)
        return;
    if (!s->json) {
        printf("schema %s db=%s", types ? "field_type" : kind, db);
        if (x != NULL)
            printf(" %s=%s", e->key[0] == 'R' ? "rp" : "measurement", x);
        if (y != NULL)
            printf(" field=%s", y);
        if (types)
            printf(" a_type=%s b_type=%s\n", ftype_name(e->type[0]), ftype_name(e->type[1]));
        else
            printf(" only_on=%s\n", SIDE[e->on == 1 ? 0 : 1]);
        return;
    }
    struct buf *j = &s->j_schema;
    buf_printf(j, "%s{\"kind\":\"%s\",\"database\":\"", j->len ? "," : "",
               types ? "field_type" : kind);
    buf_append_json_str(j, db, strlen(db));
    buf_append_str(j, "\"");
    if (x != NULL) {
        buf_printf(j, ",\"%s\":\"", e->key[0] == 'R' ? "retention_policy" : "measurement");
        buf_append_json_str(j, x, strlen(x));
        buf_append_str(j, "\"");
    }
    if (y != NULL) {
        buf_append_str(j, ",\"field\":\"");
        buf_append_json_str(j, y, strlen(y));
        buf_append_str(j, "\"");
    }
    if (types)
        buf_printf(j, ",\"a_type\":\"%s\",\"b_type\":\"%s\"}", ftype_name(e->type[0]),
                   ftype_name(e->type[1]));
    else
        buf_printf(j, ",\"only_on\":\"%s\"}", SIDE[e->on == 1 ? 0 : 1]);
}

static void schema_diffs(struct scrub *s, const struct schema *sc, int print)
{
    s->schema = 0;
    for (size_t i = 0; i < sc->n; i++) {
        const struct ent *e = &sc->e[i];
        if (e->on != 3 || (e->key[0] == 'F' && e->type[0] != e->type[1]))
            schema_diff(s, e, print);
    }
}

/* The units: each retention policy of a database times each of its measurements, with the
 * fields of that measurement. Caller frees with units_free. */
static struct unit *make_units(const struct schema *sc, size_t *n_out)
{
    struct unit *u = NULL;
    size_t n = 0, cap = 0;
    for (size_t r = 0; r < sc->n; r++) {
        if (sc->e[r].key[0] != 'R')
            continue;
        const char *db, *rp, *unused;
        ent_parts(&sc->e[r], &db, &rp, &unused);
        for (size_t m = 0; m < sc->n; m++) {
            const char *mdb, *mname;
            if (sc->e[m].key[0] != 'M')
                continue;
            ent_parts(&sc->e[m], &mdb, &mname, &unused);
            if (strcmp(mdb, db) != 0)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                u = xrealloc(u, cap * sizeof(*u));
            }
            struct unit *x = &u[n++];
            memset(x, 0, sizeof(*x));
            x->db = xstrdup(db);
            x->rp = xstrdup(rp);
            x->m = xstrdup(mname);
            for (size_t f = 0; f < sc->n; f++) {
                const char *fdb, *fm, *fname;
                if (sc->e[f].key[0] != 'F')
                    continue;
                ent_parts(&sc->e[f], &fdb, &fm, &fname);
                if (strcmp(fdb, db) != 0 || strcmp(fm, mname) != 0)
                    continue;
                x->fields = xrealloc(x->fields, (x->n_fields + 1) * sizeof(*x->fields));
                struct sfield *sf = &x->fields[x->n_fields++];
                sf->name = xstrdup(fname);
                sf->type[0] = sc->e[f].type[0];
                sf->type[1] = sc->e[f].type[1];
            }
        }
    }
    *n_out = n;
    return u;
}

static void units_free(struct unit *u, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t f = 0; f < u[i].n_fields; f++)
            free(u[i].fields[f].name);
        free(u[i].fields);
        free(u[i].db);
        free(u[i].rp);
        free(u[i].m);
    }
    free(u);
}

/* ---- the figures of one unit --------------------------------------------------------------- */

struct fig {
    int64_t count;
    int has_sum, sum_is_int;
    int64_t sum_i;
    double sum_f;
};

struct rows {
    int64_t *hour;
    struct fig *fig; /* n_fields per row */
    size_t n, cap, n_fields;
};

static void rows_deinit(struct rows *r)
{
    free(r->hour);
    free(r->fig);
    memset(r, 0, sizeof(*r));
}

/* A sum is taken when both sides say the field is a float, or both an integer. */
static int summable(const struct sfield *f)
{
    return f->type[0] == f->type[1] &&
           (f->type[0] == FT_FLOAT || f->type[0] == FT_INTEGER || f->type[0] == FT_UNSIGNED);
}

struct figq {
    struct scrub *s;
    const struct unit *u;
    struct rows *r;
    int side;
};

static int fig_result(void *arg, const json_t *res)
{
    struct figq *q = arg;
    const char *err = influx_str_at(res, "error");
    if (err != NULL) {
        if (strstr(err, "not found") != NULL)
            return 0; /* no such database or retention policy on this side: no points */
        return cli_fail(q->s->cli, "%s: %s", q->s->be[q->side].name, err);
    }
    const json_t *all = json_object_get(res, "series");
    struct rows *r = q->r;
    for (size_t i = 0; i < json_array_size(all); i++) {
        const json_t *vals = json_object_get(json_array_get(all, i), "values");
        for (size_t k = 0; k < json_array_size(vals); k++) {
            const json_t *row = json_array_get(vals, k);
            const json_t *t = json_array_get(row, 0);
            if (!json_is_integer(t))
                continue;
            if (r->n == r->cap) {
                r->cap = r->cap ? r->cap * 2 : 64;
                r->hour = xrealloc(r->hour, r->cap * sizeof(*r->hour));
                r->fig = xrealloc(r->fig, r->cap * r->n_fields * sizeof(*r->fig));
            }
            r->hour[r->n] = json_integer_value(t);
            struct fig *f = &r->fig[r->n * r->n_fields];
            memset(f, 0, r->n_fields * sizeof(*f));
            /* Columns: time, then c<i> (and s<i> when summable) per field, in order. */
            size_t col = 1;
            for (size_t fi = 0; fi < r->n_fields; fi++) {
                const json_t *c = json_array_get(row, col++);
                f[fi].count = json_is_integer(c) ? json_integer_value(c) : 0;
                if (summable(&q->u->fields[fi])) {
                    const json_t *sv = json_array_get(row, col++);
                    f[fi].has_sum = 1;
                    if (json_is_integer(sv) && q->u->fields[fi].type[0] != FT_FLOAT) {
                        f[fi].sum_is_int = 1;
                        f[fi].sum_i = json_integer_value(sv);
                    } else {
                        f[fi].sum_f = json_is_number(sv) ? json_number_value(sv) : 0;
                    }
                }
            }
            r->n++;
        }
    }
    return 0;
}

/* The figures of unit 'u' on 'side' in [since, until), per hour with a point. */
static int figures(struct scrub *s, const struct unit *u, int side, int64_t since, int64_t until,
                   struct rows *r)
{
    memset(r, 0, sizeof(*r));
    r->n_fields = u->n_fields;
    if (u->n_fields == 0)
        return 0;
    struct buf q;
    buf_init(&q);
    buf_append_str(&q, "SELECT ");
    for (size_t i = 0; i < u->n_fields; i++) {
        buf_printf(&q, "%scount(", i ? ", " : "");
        influx_quote_ident(&q, u->fields[i].name);
        buf_printf(&q, ") AS \"c%zu\"", i);
        if (summable(&u->fields[i])) {
            buf_append_str(&q, ", sum(");
            influx_quote_ident(&q, u->fields[i].name);
            buf_printf(&q, ") AS \"s%zu\"", i);
        }
    }
    buf_append_str(&q, " FROM ");
    influx_quote_ident(&q, u->db);
    buf_append(&q, ".", 1);
    influx_quote_ident(&q, u->rp);
    buf_append(&q, ".", 1);
    influx_quote_ident(&q, u->m);
    buf_printf(&q, " WHERE time >= %" PRId64 " AND time < %" PRId64 " GROUP BY time(1h) fill(none)",
               since, until);
    buf_append(&q, "", 1);
    struct figq fq = {s, u, r, side};
    int rc = influx_query(s->c[side], u->db, q.data, fig_result, &fq);
    buf_deinit(&q);
    return rc;
}

static int fig_differs(const struct fig *a, const struct fig *b)
{
    if (a->count != b->count)
        return 1;
    if (!a->has_sum || !b->has_sum)
        return 0;
    if (a->sum_is_int && b->sum_is_int)
        return a->sum_i != b->sum_i;
    double x = a->sum_is_int ? (double)a->sum_i : a->sum_f;
    double y = b->sum_is_int ? (double)b->sum_i : b->sum_f;
    /* The same points summed in the same order give the same bits; a tiny relative slack
     * covers influxd summing shards in another order. */
    return fabs(x - y) > 1e-9 * fmax(fabs(x), fabs(y));
}

static void fig_text(const struct fig *f, const char *side, struct buf *b)
{
    buf_printf(b, " %s_count=%" PRId64, side, f->count);
    if (f->has_sum && f->sum_is_int)
        buf_printf(b, " %s_sum=%" PRId64, side, f->sum_i);
    else if (f->has_sum)
        buf_printf(b, " %s_sum=%.17g", side, f->sum_f);
}

static void fig_json(const struct fig *f, struct buf *b)
{
    buf_printf(b, "{\"count\":%" PRId64, f->count);
    if (f->has_sum && f->sum_is_int)
        buf_printf(b, ",\"sum\":%" PRId64, f->sum_i);
    else if (f->has_sum && isfinite(f->sum_f))
        buf_printf(b, ",\"sum\":%.17g", f->sum_f);
    buf_append_str(b, "}");
}

static void json_names(struct buf *j, const struct unit *u, int64_t hour)
{
    char when[40];
    buf_append_str(j, "{\"database\":\"");
    buf_append_json_str(j, u->db, strlen(u->db));
    buf_append_str(j, "\",\"retention_policy\":\"");
    buf_append_json_str(j, u->rp, strlen(u->rp));
    buf_append_str(j, "\",\"measurement\":\"");
    buf_append_json_str(j, u->m, strlen(u->m));
    buf_printf(j, "\",\"hour\":%" PRId64 ",\"time\":\"%s\"", hour,
               scrub_time_str(hour, when, sizeof(when)));
}

/* Which sides have not acknowledged points of this window: bit per side, 0 when none. */
static int in_flight(const struct scrub *s, const struct unit *u, int64_t hour)
{
    uint64_t v = 0;
    int sides = 0;
    if (hmap_get(&s->in_flight, scrub_window_key(u->db, u->rp, u->m, hour), &v))
        sides |= (int)v;
    const struct srp *p = scrub_find_rp(s, u->db, u->rp);
    if (p != NULL && p->is_default &&
        hmap_get(&s->in_flight, scrub_window_key(u->db, "", u->m, hour), &v))
        sides |= (int)v;
    return sides;
}

/* One window that differs on some field: report it, repair it when asked. */
static int window_differs(struct scrub *s, const struct unit *u, int64_t hour, const struct fig *fa,
                          const struct fig *fb)
{
    char when[40];
    scrub_time_str(hour, when, sizeof(when));
    int sides = in_flight(s, u, hour);
    progress_clear(&s->prog);
    if (sides != 0) {
        s->flight++;
        if (!s->json) {
            printf("in-flight db=%s rp=%s measurement=%s hour=%s not_acknowledged_by=%s%s%s\n",
                   u->db, u->rp, u->m, when, sides & 1 ? "a" : "", sides == 3 ? "," : "",
                   sides & 2 ? "b" : "");
        } else {
            struct buf *j = &s->j_flight;
            if (j->len)
                buf_append_str(j, ",");
            json_names(j, u, hour);
            buf_printf(j, ",\"not_acknowledged_by\":[%s%s%s]}", sides & 1 ? "\"a\"" : "",
                       sides == 3 ? "," : "", sides & 2 ? "\"b\"" : "");
        }
        return 0;
    }
    s->differ++;
    struct buf line, jf;
    buf_init(&line);
    buf_init(&jf);
    for (size_t i = 0; i < u->n_fields; i++) {
        if (!fig_differs(&fa[i], &fb[i]))
            continue;
        const struct sfield *f = &u->fields[i];
        enum ftype t = f->type[0] != FT_NONE ? f->type[0] : f->type[1];
        if (!s->json) {
            buf_clear(&line);
            fig_text(&fa[i], "a", &line);
            fig_text(&fb[i], "b", &line);
            printf("differs db=%s rp=%s measurement=%s hour=%s field=%s type=%s%.*s\n", u->db,
                   u->rp, u->m, when, f->name, ftype_name(t), (int)line.len, line.data);
        } else {
            buf_append_str(&jf, jf.len ? ",{\"field\":\"" : "{\"field\":\"");
            buf_append_json_str(&jf, f->name, strlen(f->name));
            buf_printf(&jf, "\",\"type\":\"%s\",\"a\":", ftype_name(t));
            fig_json(&fa[i], &jf);
            buf_append_str(&jf, ",\"b\":");
            fig_json(&fb[i], &jf);
            buf_append_str(&jf, "}");
        }
    }
    const char *result = NULL;
    int rc = 0;
    if (s->repair) {
        int from = -1;
        uint64_t written = 0;
        rc = scrub_repair_window(s, u, hour, &from, &written);
        if (rc == 0 && from < 0 && written == 0) {
            result = "refused";
            s->refused++;
        } else if (rc == 0) {
            struct rows ra, rb;
            rc = figures(s, u, 0, hour, hour + SCRUB_HOUR_NS, &ra);
            if (rc == 0)
                rc = figures(s, u, 1, hour, hour + SCRUB_HOUR_NS, &rb);
            int same = rc == 0 && ra.n == rb.n;
            for (size_t k = 0; same && k < ra.n * u->n_fields; k++)
                same = !fig_differs(&ra.fig[k], &rb.fig[k]);
            rows_deinit(&ra);
            rows_deinit(&rb);
            result = same ? "fixed" : "still differs";
            s->repaired += same;
            if (!s->json && rc == 0)
                printf("repaired db=%s rp=%s measurement=%s hour=%s from=%s to=%s points=%" PRIu64
                       " %s\n",
                       u->db, u->rp, u->m, when, SIDE[from], SIDE[1 - from], written, result);
        }
    }
    if (s->json) {
        struct buf *j = &s->j_diff;
        if (j->len)
            buf_append_str(j, ",");
        json_names(j, u, hour);
        buf_printf(j, ",\"fields\":[%.*s]", (int)jf.len, jf.data ? jf.data : "");
        if (result != NULL)
            buf_printf(j, ",\"repair\":\"%s\"", result);
        buf_append_str(j, "}");
    }
    buf_deinit(&line);
    buf_deinit(&jf);
    return rc;
}

/* Compare one unit over the whole range. */
static int scrub_unit(struct scrub *s, const struct unit *u)
{
    struct rows r[2];
    int rc = figures(s, u, 0, s->since, s->until, &r[0]);
    if (rc != 0)
        return rc;
    rc = figures(s, u, 1, s->since, s->until, &r[1]);
    if (rc != 0) {
        rows_deinit(&r[0]);
        return rc;
    }
    struct fig *zero = xcalloc(u->n_fields ? u->n_fields : 1, sizeof(*zero));
    uint64_t windows = 0, differ_before = s->differ;
    size_t i = 0, j = 0;
    while (rc == 0 && (i < r[0].n || j < r[1].n)) {
        int64_t ha = i < r[0].n ? r[0].hour[i] : MAX_TIME,
                hb = j < r[1].n ? r[1].hour[j] : MAX_TIME;
        int64_t hour = ha < hb ? ha : hb;
        const struct fig *fa = ha == hour ? &r[0].fig[i * u->n_fields] : zero;
        const struct fig *fb = hb == hour ? &r[1].fig[j * u->n_fields] : zero;
        if (fa == zero || fb == zero) /* zero has no sums: compare counts only */
            for (size_t k = 0; k < u->n_fields; k++)
                zero[k].has_sum = 0;
        int differs = 0;
        for (size_t k = 0; k < u->n_fields && !differs; k++)
            differs = fig_differs(&fa[k], &fb[k]);
        if (differs)
            rc = window_differs(s, u, hour, fa, fb);
        windows++;
        i += ha == hour;
        j += hb == hour;
    }
    s->windows += windows;
    progress_step(&s->prog, 1, "db=%s rp=%s measurement=%s windows=%" PRIu64 " differ=%" PRIu64,
                  u->db, u->rp, u->m, windows, s->differ - differ_before);
    free(zero);
    rows_deinit(&r[0]);
    rows_deinit(&r[1]);
    return rc;
}

/* ---- the command --------------------------------------------------------------------------- */

static void print_report(struct scrub *s, int agree)
{
    char since[40], until[40];
    if (s->json) {
        struct buf j;
        buf_init(&j);
        buf_append_str(&j, "{");
        for (int side = 0; side < 2; side++) {
            buf_printf(&j, "\"%s\":{\"name\":\"", SIDE[side]);
            buf_append_json_str(&j, s->be[side].name, strlen(s->be[side].name));
            buf_append_str(&j, "\"},");
        }
        buf_printf(&j,
                   "\"since\":%" PRId64 ",\"until\":%" PRId64 ",\"measurements\":%" PRIu64
                   ",\"windows\":%" PRIu64 ",\"differ\":%" PRIu64 ",\"in_flight_windows\":%" PRIu64
                   ",\"schema_differences\":%" PRIu64 ",\"repaired\":%" PRIu64
                   ",\"refused\":%" PRIu64 ",\"logs_read\":%d,\"agree\":%s",
                   s->since, s->until, s->units, s->windows, s->differ, s->flight, s->schema,
                   s->repaired, s->refused, s->logs_read, agree ? "true" : "false");
        buf_printf(&j, ",\"differences\":[%.*s]", (int)s->j_diff.len,
                   s->j_diff.data ? s->j_diff.data : "");
        buf_printf(&j, ",\"in_flight\":[%.*s]", (int)s->j_flight.len,
                   s->j_flight.data ? s->j_flight.data : "");
        buf_printf(&j, ",\"schema\":[%.*s]}\n", (int)s->j_schema.len,
                   s->j_schema.data ? s->j_schema.data : "");
        fwrite(j.data, 1, j.len, stdout);
        buf_deinit(&j);
        return;
    }
    printf("scrub a=%s b=%s from %s to %s: %" PRIu64 " measurements, %" PRIu64 " windows, %" PRIu64
           " differ, %" PRIu64 " in flight, %" PRIu64 " schema differences",
           s->be[0].name, s->be[1].name,
           s->since == MIN_TIME ? "the start" : scrub_time_str(s->since, since, sizeof(since)),
           s->until == MAX_TIME ? "the end" : scrub_time_str(s->until, until, sizeof(until)),
           s->units, s->windows, s->differ, s->flight, s->schema);
    if (s->repair)
        printf(", %" PRIu64 " repaired, %" PRIu64 " refused", s->repaired, s->refused);
    printf(": %s\n", agree ? "the backends agree" : "the backends differ");
    if (!s->logs_read)
        printf("note: no log read: windows in flight could not be told from differences\n");
}

int cmd_scrub(struct cli *cli)
{
    const char *names[8], *urls[64];
    size_t n_names = 0, n_urls = 0;
    const char *config_path = NULL, *since_s = NULL, *until_s = NULL, *database = NULL;
    int json = 0, repair = 0;
    int rc = cli_take_all(cli, "--backend", names, 8, &n_names);
    if (rc == 0)
        rc = cli_take_all(cli, "--url", urls, 64, &n_urls);
    if (rc != 0)
        return rc;
    const struct cli_opt opts[] = {{"--config", &config_path, NULL},
                                   {"--database", &database, NULL},
                                   {"--since", &since_s, NULL},
                                   {"--until", &until_s, NULL},
                                   {"--json", NULL, &json},
                                   {"--repair", NULL, &repair},
                                   {NULL, NULL, NULL}};
    if ((rc = cli_parse(cli, opts, NULL, 0, NULL)) != 0)
        return rc;
    if (n_names != 2)
        return cli_usage(cli, "give --backend twice: the two backends to compare");
    if (strcmp(names[0], names[1]) == 0)
        return cli_usage(cli, "--backend %s given twice: compare two backends", names[0]);
    struct scrub s;
    memset(&s, 0, sizeof(s));
    s.cli = cli;
    s.database = database;
    s.json = json;
    s.repair = repair;
    s.since = MIN_TIME;
    s.until = MAX_TIME;
    uint64_t t;
    if (since_s != NULL) {
        if ((rc = cli_time(cli, "--since", since_s, &t)) != 0)
            return rc;
        s.since = (int64_t)t / SCRUB_HOUR_NS * SCRUB_HOUR_NS; /* whole windows */
    }
    if (until_s != NULL) {
        if ((rc = cli_time(cli, "--until", until_s, &t)) != 0)
            return rc;
        s.until = ((int64_t)t + SCRUB_HOUR_NS - 1) / SCRUB_HOUR_NS * SCRUB_HOUR_NS;
    }
    if (s.since >= s.until)
        return cli_usage(cli, "--since is not before --until");
    for (int side = 0; side < 2 && rc == 0; side++)
        rc = cli_backend_resolve(cli, config_path, urls, n_urls, names[side], &s.be[side]);
    for (int side = 0; side < 2 && rc == 0; side++)
        rc = influx_open(cli, &s.be[side], &s.c[side]);
    struct schema sc;
    memset(&sc, 0, sizeof(sc));
    struct unit *units = NULL;
    size_t n_units = 0;
    /* The logs are read before and after the comparison: a window is in flight when either
     * read finds it, so a write that reached one backend while the scrub ran is not taken for
     * a difference. */
    if (rc == 0)
        rc = scrub_read_logs(&s);
    if (rc == 0)
        rc = discover(&s, &sc);
    if (rc == 0)
        rc = scrub_read_logs(&s);
    if (rc == 0) {
        units = make_units(&sc, &n_units);
        s.units = n_units;
        progress_init(&s.prog, "scrub_measurement", "measurements", n_units);
        schema_diffs(&s, &sc, 1);
        for (size_t i = 0; i < n_units && rc == 0; i++)
            rc = scrub_unit(&s, &units[i]);
        progress_end(&s.prog);
    }
    if (rc == 0 && s.repair && s.repaired > 0 && s.schema > 0) {
        /* Repairs may have created what one side lacked: count the schema again. */
        schema_deinit(&sc);
        rc = discover(&s, &sc);
        if (rc == 0)
            schema_diffs(&s, &sc, 0);
        if (!s.json && rc == 0)
            printf("schema differences after the repairs: %" PRIu64 "\n", s.schema);
    }
    if (rc == 0) {
        int agree = s.schema == 0 && s.differ == s.repaired;
        print_report(&s, agree);
        rc = agree ? 0 : 1;
    }
    units_free(units, n_units);
    schema_deinit(&sc);
    for (int side = 0; side < 2; side++) {
        influx_close(s.c[side]);
        cli_backend_deinit(&s.be[side]);
    }
    for (size_t k = 0; k < s.n_rps; k++) {
        free(s.rps[k].db);
        free(s.rps[k].name);
        free(s.rps[k].duration);
        free(s.rps[k].shard_duration);
    }
    free(s.rps);
    hmap_deinit(&s.in_flight);
    buf_deinit(&s.j_diff);
    buf_deinit(&s.j_flight);
    buf_deinit(&s.j_schema);
    return rc;
}
