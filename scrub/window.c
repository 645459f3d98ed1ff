/* The scrub's comparison of windows (window.h): hashing and the window set, the figures
 * SELECT and its answer, the rule that two figures differ, the windows of a log record. Pure;
 * any thread. Shared by the CLI's scrub and the daemon's background scrub so the two can never
 * disagree about what "differs" means. */
#include "scrub/window.h"

#include "common/hash.h"
#include "common/xalloc.h"
#include "relay/influxql.h"
#include "relay/lineproto.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- hashing and the set ------------------------------------------------------------------- */

uint64_t scrub_hash(uint64_t h, const void *p, size_t n)
{
    h = hash_fnv1a(h ^ HASH_FNV_OFFSET, p, n);
    return hash_mix64(h ^ n);
}

uint64_t scrub_window_key(const char *db, const char *rp, const char *m, int64_t hour)
{
    uint64_t h = scrub_hash(0, db, strlen(db) + 1);
    h = scrub_hash(h, rp, strlen(rp) + 1);
    h = scrub_hash(h, m, strlen(m) + 1);
    return hash_mix64(h ^ (uint64_t)hour);
}

int64_t scrub_hour_of(int64_t ts_ns)
{
    int64_t hour = ts_ns / SCRUB_HOUR_NS * SCRUB_HOUR_NS;
    if (ts_ns < 0 && ts_ns % SCRUB_HOUR_NS != 0)
        hour -= SCRUB_HOUR_NS;
    return hour;
}

void scrub_hmap_deinit(struct scrub_hmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* Double the table; values come along when the map has them. */
static void hmap_grow(struct scrub_hmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    uint64_t *keys = xcalloc(cap, sizeof(*keys));
    uint64_t *vals = m->vals != NULL ? xcalloc(cap, sizeof(*vals)) : NULL;
    for (size_t j = 0; j < m->cap; j++) {
        if (m->keys[j] == 0)
            continue;
        size_t i = m->keys[j] & (cap - 1);
        while (keys[i] != 0)
            i = (i + 1) & (cap - 1);
        keys[i] = m->keys[j];
        if (vals != NULL)
            vals[i] = m->vals[j];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
}

/* The slot holding 'key' (not 0), or the empty slot where it goes; the table has room. */
static size_t hmap_slot(const struct scrub_hmap *m, uint64_t key)
{
    size_t i = key & (m->cap - 1);
    while (m->keys[i] != 0 && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    return i;
}

void scrub_hmap_put(struct scrub_hmap *m, uint64_t key, uint64_t val)
{
    key = key ? key : 1;
    if (m->vals == NULL) /* the first value: from now on the map holds them (an empty one too) */
        m->vals = xcalloc(m->cap ? m->cap : 1, sizeof(*m->vals));
    if ((m->n + 1) * 2 > m->cap)
        hmap_grow(m);
    size_t i = hmap_slot(m, key);
    if (m->keys[i] == 0)
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
}

int scrub_hmap_add(struct scrub_hmap *m, uint64_t key)
{
    key = key ? key : 1;
    if ((m->n + 1) * 2 > m->cap)
        hmap_grow(m);
    size_t i = hmap_slot(m, key);
    if (m->keys[i] != 0)
        return 0;
    m->keys[i] = key;
    if (m->vals != NULL)
        m->vals[i] = 0;
    m->n++;
    return 1;
}

int scrub_hmap_get(const struct scrub_hmap *m, uint64_t key, uint64_t *val)
{
    key = key ? key : 1;
    if (m->cap == 0)
        return 0;
    size_t i = hmap_slot(m, key);
    if (m->keys[i] == 0)
        return 0;
    if (val)
        *val = m->vals != NULL ? m->vals[i] : 0;
    return 1;
}

uint64_t scrub_record_windows(const struct wal_record *rec, int keep_rp, struct scrub_hmap *set,
                              uint64_t bits)
{
    struct buf db, rp, m;
    buf_init(&db);
    buf_init(&rp);
    buf_init(&m);
    buf_append(&db, rec->db, rec->db_len);
    buf_append(&db, "", 1);
    if (keep_rp)
        buf_append(&rp, rec->rp, rec->rp_len);
    buf_append(&rp, "", 1);
    enum lp_precision prec = rec->precision <= LP_H ? (enum lp_precision)rec->precision : LP_NS;
    size_t pos = 0;
    uint64_t points = 0;
    struct lp_line ln;
    int rc;
    while ((rc = lp_line_next(rec->body, rec->body_len, &pos, prec, &ln)) != 0) {
        if (rc < 0 || !ln.has_ts)
            continue; /* stored lines carry a timestamp; one influxd refuses is no point */
        points++;
        buf_clear(&m);
        lp_unescape(&m, ln.line, ln.measurement_len);
        buf_append(&m, "", 1);
        uint64_t key = scrub_window_key(db.data, rp.data, m.data, scrub_hour_of(ln.ts_ns)), v = 0;
        scrub_hmap_get(set, key, &v);
        scrub_hmap_put(set, key, v | bits);
    }
    buf_deinit(&db);
    buf_deinit(&rp);
    buf_deinit(&m);
    return points;
}

/* ---- fields and units ---------------------------------------------------------------------- */

enum scrub_ftype scrub_ftype_of(const char *s)
{
    static const char *const names[] = {"float", "integer", "unsigned", "string", "boolean"};
    for (size_t i = 0; s != NULL && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i]) == 0)
            return (enum scrub_ftype)(i + 1);
    return SCRUB_FT_NONE;
}

const char *scrub_ftype_name(enum scrub_ftype t)
{
    static const char *const names[] = {"none",     "float",  "integer",
                                        "unsigned", "string", "boolean"};
    return names[t];
}

void scrub_unit_deinit(struct scrub_unit *u)
{
    for (size_t f = 0; f < u->n_fields; f++)
        free(u->fields[f].name);
    free(u->fields);
    free(u->db);
    free(u->rp);
    free(u->m);
    memset(u, 0, sizeof(*u));
}

void scrub_unit_add_field(struct scrub_unit *u, const char *name, int side, enum scrub_ftype type)
{
    for (size_t i = 0; i < u->n_fields; i++)
        if (strcmp(u->fields[i].name, name) == 0) {
            u->fields[i].type[side] = type;
            return;
        }
    u->fields = xrealloc(u->fields, (u->n_fields + 1) * sizeof(*u->fields));
    struct scrub_field *f = &u->fields[u->n_fields++];
    memset(f, 0, sizeof(*f));
    f->name = xstrdup(name);
    f->type[side] = type;
}

int scrub_summable(const struct scrub_field *f)
{
    return f->type[0] == f->type[1] &&
           (f->type[0] == SCRUB_FT_FLOAT || f->type[0] == SCRUB_FT_INTEGER ||
            f->type[0] == SCRUB_FT_UNSIGNED);
}

/* ---- figures ------------------------------------------------------------------------------- */

/* 's' between two 'q's, with 'q' and '\\' escaped by a backslash: InfluxQL's one rule for
 * quoted identifiers and strings. */
void scrub_quote_ident(struct buf *b, const char *s)
{
    iql_quote_ident(b, s);
}

void scrub_quote_string(struct buf *b, const char *s)
{
    iql_quote_string(b, s);
}

void scrub_rows_deinit(struct scrub_rows *r)
{
    free(r->hour);
    free(r->fig);
    memset(r, 0, sizeof(*r));
}

void scrub_figures_query(struct buf *q, const struct scrub_unit *u, int64_t since, int64_t until)
{
    buf_clear(q);
    buf_append_str(q, "SELECT ");
    for (size_t i = 0; i < u->n_fields; i++) {
        buf_printf(q, "%scount(", i ? ", " : "");
        scrub_quote_ident(q, u->fields[i].name);
        buf_printf(q, ") AS \"c%zu\"", i);
        if (scrub_summable(&u->fields[i])) {
            buf_append_str(q, ", sum(");
            scrub_quote_ident(q, u->fields[i].name);
            buf_printf(q, ") AS \"s%zu\"", i);
        }
    }
    buf_append_str(q, " FROM ");
    scrub_quote_ident(q, u->db);
    buf_append(q, ".", 1);
    scrub_quote_ident(q, u->rp);
    buf_append(q, ".", 1);
    scrub_quote_ident(q, u->m);
    buf_append_str(q, " WHERE ");
    if (u->where != NULL) {
        buf_append_str(q, u->where);
        buf_append_str(q, " AND ");
    }
    buf_printf(q, "time >= %" PRId64 " AND time < %" PRId64 " GROUP BY time(1h) fill(none)", since,
               until);
    buf_append(q, "", 1);
    q->len--;
}

void scrub_figures_add(struct scrub_rows *r, const struct scrub_unit *u, const json_t *result)
{
    const json_t *all = json_object_get(result, "series");
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
                r->fig =
                    xrealloc(r->fig, r->cap * (r->n_fields ? r->n_fields : 1) * sizeof(*r->fig));
            }
            r->hour[r->n] = json_integer_value(t);
            struct scrub_fig *f = &r->fig[r->n * r->n_fields];
            memset(f, 0, r->n_fields * sizeof(*f));
            /* Columns: time, then c<i> (and s<i> when summable) per field, in order. */
            size_t col = 1;
            for (size_t fi = 0; fi < r->n_fields; fi++) {
                const json_t *c = json_array_get(row, col++);
                f[fi].count = json_is_integer(c) ? json_integer_value(c) : 0;
                if (scrub_summable(&u->fields[fi])) {
                    const json_t *sv = json_array_get(row, col++);
                    f[fi].has_sum = 1;
                    if (json_is_integer(sv) && u->fields[fi].type[0] != SCRUB_FT_FLOAT) {
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
}

int scrub_fig_differs(const struct scrub_fig *a, const struct scrub_fig *b)
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

uint64_t scrub_rows_walk(const struct scrub_rows *a, const struct scrub_rows *b, size_t n_fields,
                         scrub_window_fn *fn, void *arg, int *rc_out)
{
    struct scrub_fig *zero = xcalloc(n_fields ? n_fields : 1, sizeof(*zero));
    uint64_t windows = 0;
    size_t i = 0, j = 0;
    int rc = 0;
    while (rc == 0 && (i < a->n || j < b->n)) {
        int64_t ha = i < a->n ? a->hour[i] : INT64_MAX, hb = j < b->n ? b->hour[j] : INT64_MAX;
        int64_t hour = ha < hb ? ha : hb;
        const struct scrub_fig *fa = ha == hour ? &a->fig[i * n_fields] : zero;
        const struct scrub_fig *fb = hb == hour ? &b->fig[j * n_fields] : zero;
        int differs = 0;
        for (size_t k = 0; k < n_fields && !differs; k++)
            differs = scrub_fig_differs(&fa[k], &fb[k]);
        rc = fn(arg, hour, fa, fb, differs);
        windows++;
        i += ha == hour;
        j += hb == hour;
    }
    free(zero);
    if (rc_out != NULL)
        *rc_out = rc;
    return windows;
}

void scrub_fig_text(const struct scrub_fig *f, const char *side, struct buf *b)
{
    buf_printf(b, " %s_count=%" PRId64, side, f->count);
    if (f->has_sum && f->sum_is_int)
        buf_printf(b, " %s_sum=%" PRId64, side, f->sum_i);
    else if (f->has_sum)
        buf_printf(b, " %s_sum=%.17g", side, f->sum_f);
}

void scrub_fig_json(const struct scrub_fig *f, struct buf *b)
{
    buf_printf(b, "{\"count\":%" PRId64, f->count);
    if (f->has_sum && f->sum_is_int)
        buf_printf(b, ",\"sum\":%" PRId64, f->sum_i);
    else if (f->has_sum && isfinite(f->sum_f))
        buf_printf(b, ",\"sum\":%.17g", f->sum_f);
    buf_append_str(b, "}");
}
