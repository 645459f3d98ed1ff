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
    enum scrub_ftype type[2]; /* fields */
};

struct schema {
    struct ent *e;
    size_t n, cap;
    struct scrub_hmap ids; /* hash of key -> index + 1 */
};

static void schema_deinit(struct schema *sc)
{
    for (size_t i = 0; i < sc->n; i++)
        free(sc->e[i].key);
    free(sc->e);
    scrub_hmap_deinit(&sc->ids);
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
    if (scrub_hmap_get(&sc->ids, h, &id)) {
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
        scrub_hmap_put(&sc->ids, h, sc->n);
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

/* Collecting the rows of a SHOW statement: each row to 'show_row'. */
struct show {
    struct scrub *s;
    int side;
    struct schema *sc;
    const char *db, *m;
    char kind;
};

static int show_row(void *arg, const json_t *row, const char *v0)
{
    struct show *sh = arg;
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
        if (e->type[sh->side] == SCRUB_FT_NONE)
            e->type[sh->side] = scrub_ftype_of(json_string_value(json_array_get(row, 1)));
    }
    return 0;
}

static int show_result(void *arg, const json_t *res)
{
    struct show *sh = arg;
    int rc;
    if (influx_result_error(sh->s->c[sh->side], res, &rc))
        return rc; /* "not found": the database is not there, nothing to add */
    return influx_rows(res, show_row, sh);
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
    struct show sh = {s, side, sc, db, m, kind};
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
    scrub_hmap_deinit(&sc->ids); /* indexes are stale after the sort */
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
            printf(" a_type=%s b_type=%s\n", scrub_ftype_name(e->type[0]), scrub_ftype_name(e->type[1]));
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
        buf_printf(j, ",\"a_type\":\"%s\",\"b_type\":\"%s\"}", scrub_ftype_name(e->type[0]),
                   scrub_ftype_name(e->type[1]));
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
static struct scrub_unit *make_units(const struct schema *sc, size_t *n_out)
{
    struct scrub_unit *u = NULL;
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
            struct scrub_unit *x = &u[n++];
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
                struct scrub_field *sf = &x->fields[x->n_fields++];
                sf->name = xstrdup(fname);
                sf->type[0] = sc->e[f].type[0];
                sf->type[1] = sc->e[f].type[1];
            }
        }
    }
    *n_out = n;
    return u;
}

static void units_free(struct scrub_unit *u, size_t n)
{
    for (size_t i = 0; i < n; i++)
        scrub_unit_deinit(&u[i]);
    free(u);
}

/* ---- the figures of one unit --------------------------------------------------------------- */

struct figq {
    struct scrub *s;
    const struct scrub_unit *u;
    struct scrub_rows *r;
    int side;
};

static int fig_result(void *arg, const json_t *res)
{
    struct figq *q = arg;
    int rc;
    if (influx_result_error(q->s->c[q->side], res, &rc))
        return rc; /* "not found": no such database or retention policy here, no points */
    scrub_figures_add(q->r, q->u, res);
    return 0;
}

/* The figures of unit 'u' on 'side' in [since, until), per hour with a point. */
static int figures(struct scrub *s, const struct scrub_unit *u, int side, int64_t since, int64_t until,
                   struct scrub_rows *r)
{
    memset(r, 0, sizeof(*r));
    r->n_fields = u->n_fields;
    if (u->n_fields == 0)
        return 0;
    struct buf q;
    buf_init(&q);
    scrub_figures_query(&q, u, since, until);
    struct figq fq = {s, u, r, side};
    int rc = influx_query(s->c[side], u->db, q.data, fig_result, &fq);
    buf_deinit(&q);
    return rc;
}

static void json_names(struct buf *j, const struct scrub_unit *u, int64_t hour)
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
static int in_flight(const struct scrub *s, const struct scrub_unit *u, int64_t hour)
{
    uint64_t v = 0;
    int sides = 0;
    if (scrub_hmap_get(&s->in_flight, scrub_window_key(u->db, u->rp, u->m, hour), &v))
        sides |= (int)v;
    const struct srp *p = scrub_find_rp(s, u->db, u->rp);
    if (p != NULL && p->is_default &&
        scrub_hmap_get(&s->in_flight, scrub_window_key(u->db, "", u->m, hour), &v))
        sides |= (int)v;
    return sides;
}

/* One window that differs on some field: report it, repair it when asked. */
static int window_differs(struct scrub *s, const struct scrub_unit *u, int64_t hour, const struct scrub_fig *fa,
                          const struct scrub_fig *fb)
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
        if (!scrub_fig_differs(&fa[i], &fb[i]))
            continue;
        const struct scrub_field *f = &u->fields[i];
        enum scrub_ftype t = f->type[0] != SCRUB_FT_NONE ? f->type[0] : f->type[1];
        if (!s->json) {
            buf_clear(&line);
            scrub_fig_text(&fa[i], "a", &line);
            scrub_fig_text(&fb[i], "b", &line);
            printf("differs db=%s rp=%s measurement=%s hour=%s field=%s type=%s%.*s\n", u->db,
                   u->rp, u->m, when, f->name, scrub_ftype_name(t), (int)line.len, line.data);
        } else {
            buf_append_str(&jf, jf.len ? ",{\"field\":\"" : "{\"field\":\"");
            buf_append_json_str(&jf, f->name, strlen(f->name));
            buf_printf(&jf, "\",\"type\":\"%s\",\"a\":", scrub_ftype_name(t));
            scrub_fig_json(&fa[i], &jf);
            buf_append_str(&jf, ",\"b\":");
            scrub_fig_json(&fb[i], &jf);
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
            struct scrub_rows ra, rb;
            rc = figures(s, u, 0, hour, hour + SCRUB_HOUR_NS, &ra);
            if (rc == 0)
                rc = figures(s, u, 1, hour, hour + SCRUB_HOUR_NS, &rb);
            int same = rc == 0 && ra.n == rb.n;
            for (size_t k = 0; same && k < ra.n * u->n_fields; k++)
                same = !scrub_fig_differs(&ra.fig[k], &rb.fig[k]);
            scrub_rows_deinit(&ra);
            scrub_rows_deinit(&rb);
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

struct unit_walk {
    struct scrub *s;
    const struct scrub_unit *u;
};

static int unit_window(void *arg, int64_t hour, const struct scrub_fig *fa,
                       const struct scrub_fig *fb, int differs)
{
    struct unit_walk *w = arg;
    return differs ? window_differs(w->s, w->u, hour, fa, fb) : 0;
}

/* Compare one unit over the whole range. */
static int scrub_unit(struct scrub *s, const struct scrub_unit *u)
{
    struct scrub_rows r[2];
    int rc = figures(s, u, 0, s->since, s->until, &r[0]);
    if (rc != 0)
        return rc;
    rc = figures(s, u, 1, s->since, s->until, &r[1]);
    if (rc != 0) {
        scrub_rows_deinit(&r[0]);
        return rc;
    }
    struct unit_walk w = {s, u};
    uint64_t differ_before = s->differ;
    uint64_t windows = scrub_rows_walk(&r[0], &r[1], u->n_fields, unit_window, &w, &rc);
    s->windows += windows;
    progress_step(&s->prog, 1, "db=%s rp=%s measurement=%s windows=%" PRIu64 " differ=%" PRIu64,
                  u->db, u->rp, u->m, windows, s->differ - differ_before);
    scrub_rows_deinit(&r[0]);
    scrub_rows_deinit(&r[1]);
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
    struct scrub_unit *units = NULL;
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
    scrub_hmap_deinit(&s.in_flight);
    buf_deinit(&s.j_diff);
    buf_deinit(&s.j_flight);
    buf_deinit(&s.j_schema);
    return rc;
}
