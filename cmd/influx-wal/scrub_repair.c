/* influx-wal scrub --repair: one window (database, retention policy, measurement, hour) read
 * point by point on both sides with SELECT * ... GROUP BY * (tags per series, epoch=ns,
 * chunked), each (series, time, field) and its value hashed into a map per side. The side whose
 * map holds every entry of the other with the same value is the source; the points the target
 * lacks or holds with another value are read again from the source and written to the target's
 * /write as line protocol with the field types of SHOW FIELD KEYS (integers with i, strings
 * quoted), in batches. Neither side a superset: refused, nothing written. Memory: the two maps
 * of one window, bounded by MAX_WINDOW_VALUES. */
#include "cmd/influx-wal/scrub.h"

#include "common/xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MAX_WINDOW_VALUES ((size_t)1 << 23)
#define BATCH_BYTES ((size_t)4 << 20)

struct pass {
    struct scrub *s;
    const struct scrub_unit *u;
    int side;
    struct scrub_hmap *map;         /* pass 1: fill it */
    const struct scrub_hmap *other; /* pass 2: write what it lacks */
    struct buf batch, line, tagk;
    uint64_t written, n_values;
    int too_many;
};

static enum scrub_ftype field_type(const struct scrub_unit *u, const char *name, int side)
{
    for (size_t i = 0; i < u->n_fields; i++)
        if (strcmp(u->fields[i].name, name) == 0)
            return u->fields[i].type[side] != SCRUB_FT_NONE ? u->fields[i].type[side]
                                                      : u->fields[i].type[1 - side];
    return SCRUB_FT_NONE;
}

uint64_t scrub_value_hash(enum scrub_ftype t, const json_t *v)
{
    uint64_t h = (uint64_t)t * 0x9e3779b97f4a7c15ull;
    if (t == SCRUB_FT_FLOAT) {
        double d = json_number_value(v);
        return scrub_hash(h, &d, sizeof(d));
    }
    if (t == SCRUB_FT_INTEGER || t == SCRUB_FT_UNSIGNED) {
        int64_t i = json_integer_value(v);
        return scrub_hash(h, &i, sizeof(i));
    }
    if (t == SCRUB_FT_BOOLEAN)
        return scrub_hash(h, json_is_true(v) ? "t" : "f", 1);
    const char *s = json_string_value(v);
    return scrub_hash(h, s ? s : "", s ? json_string_length(v) : 0);
}

uint64_t scrub_point_key(uint64_t series, int64_t t, const char *field)
{
    /* The time is hashed as bytes, not xor'ed into the series' hash: FNV-1a starts by xor'ing
     * the first byte, so (h ^ t1, "n") and (h ^ t2, "v") collided whenever t1 ^ t2 was 'n' ^ 'v'
     * (24 ns apart), and a point the other side lacked was taken for present. */
    return scrub_hash(scrub_hash(series, &t, sizeof(t)), field, strlen(field));
}

void scrub_lp_escape(struct buf *b, const char *s, const char *special)
{
    for (; *s != '\0'; s++) {
        if (strchr(special, *s) != NULL)
            buf_append(b, "\\", 1);
        buf_append(b, s, 1);
    }
}

void scrub_lp_value(struct buf *b, enum scrub_ftype ft, const json_t *v)
{
    if (ft == SCRUB_FT_FLOAT) {
        buf_printf(b, "%.17g", json_number_value(v));
    } else if (ft == SCRUB_FT_INTEGER || ft == SCRUB_FT_UNSIGNED) {
        buf_printf(b, "%" PRId64 "%s", (int64_t)json_integer_value(v),
                   ft == SCRUB_FT_INTEGER ? "i" : "u");
    } else if (ft == SCRUB_FT_BOOLEAN) {
        buf_append_str(b, json_is_true(v) ? "true" : "false");
    } else {
        const char *sv = json_string_value(v);
        buf_append(b, "\"", 1);
        scrub_lp_escape(b, sv ? sv : "", "\"\\");
        buf_append(b, "\"", 1);
    }
}

static int flush(struct pass *p)
{
    if (p->batch.len == 0)
        return 0;
    int rc = influx_write(p->s->c[1 - p->side], p->u->db, p->u->rp, p->batch.data, p->batch.len);
    buf_clear(&p->batch);
    return rc;
}

static int pass_result(void *arg, const json_t *res)
{
    struct pass *p = arg;
    const char *err = influx_str_at(res, "error");
    if (err != NULL)
        return strstr(err, "not found") != NULL
                   ? 0
                   : cli_fail(p->s->cli, "%s: %s", p->s->be[p->side].name, err);
    const json_t *all = json_object_get(res, "series");
    for (size_t i = 0; i < json_array_size(all); i++) {
        const json_t *ser = json_array_get(all, i);
        const json_t *tags = json_object_get(ser, "tags"), *cols = json_object_get(ser, "columns");
        const json_t *vals = json_object_get(ser, "values");
        /* The series: its non-empty tags, in any order (GROUP BY * names every tag key of the
         * measurement, "" where the series has none). */
        uint64_t sh = 0;
        const char *k;
        json_t *v;
        buf_clear(&p->tagk);
        scrub_lp_escape(&p->tagk, p->u->m, ", ");
        json_object_foreach((json_t *)tags, k, v)
        {
            const char *tv = json_string_value(v);
            if (tv == NULL || tv[0] == '\0')
                continue;
            uint64_t th = scrub_hash(0, k, strlen(k) + 1);
            sh += scrub_hash(th, tv, strlen(tv));
            buf_append(&p->tagk, ",", 1);
            scrub_lp_escape(&p->tagk, k, ",= ");
            buf_append(&p->tagk, "=", 1);
            scrub_lp_escape(&p->tagk, tv, ",= ");
        }
        for (size_t r = 0; r < json_array_size(vals); r++) {
            const json_t *row = json_array_get(vals, r);
            int64_t t = json_integer_value(json_array_get(row, 0));
            int missing = 0;
            buf_clear(&p->line);
            for (size_t c = 1; c < json_array_size(cols) && c < json_array_size(row); c++) {
                const json_t *cv = json_array_get(row, c);
                const char *fname = json_string_value(json_array_get(cols, c));
                if (json_is_null(cv) || fname == NULL)
                    continue;
                enum scrub_ftype ft = field_type(p->u, fname, p->side);
                uint64_t key = scrub_point_key(sh, t, fname);
                uint64_t val = scrub_value_hash(ft, cv), other;
                if (p->map != NULL) {
                    if (++p->n_values > MAX_WINDOW_VALUES) {
                        p->too_many = 1;
                        return 1;
                    }
                    scrub_hmap_put(p->map, key, val);
                    continue;
                }
                missing |= !scrub_hmap_get(p->other, key, &other) || other != val;
                buf_append(&p->line, p->line.len ? "," : " ", 1);
                scrub_lp_escape(&p->line, fname, ",= ");
                buf_append(&p->line, "=", 1);
                scrub_lp_value(&p->line, ft, cv);
            }
            if (p->map != NULL || !missing || p->line.len == 0)
                continue;
            buf_append(&p->batch, p->tagk.data, p->tagk.len);
            buf_append(&p->batch, p->line.data, p->line.len);
            buf_printf(&p->batch, " %" PRId64 "\n", t);
            p->written++;
            if (p->batch.len >= BATCH_BYTES && flush(p) != 0)
                return 1;
        }
    }
    return 0;
}

static int window_pass(struct scrub *s, const struct scrub_unit *u, int64_t hour, struct pass *p)
{
    struct buf q;
    buf_init(&q);
    buf_append_str(&q, "SELECT * FROM ");
    influx_quote_ident(&q, u->db);
    buf_append(&q, ".", 1);
    influx_quote_ident(&q, u->rp);
    buf_append(&q, ".", 1);
    influx_quote_ident(&q, u->m);
    buf_printf(&q, " WHERE time >= %" PRId64 " AND time < %" PRId64 " GROUP BY *", hour,
               hour + SCRUB_HOUR_NS);
    buf_append(&q, "", 1);
    int rc = influx_query(s->c[p->side], u->db, q.data, pass_result, p);
    buf_deinit(&q);
    if (rc == 0 && p->map == NULL)
        rc = flush(p);
    return rc;
}

/* How many entries of 'x' 'y' lacks or holds with another value. */
static uint64_t lacking(const struct scrub_hmap *x, const struct scrub_hmap *y)
{
    uint64_t n = 0, v;
    for (size_t i = 0; i < x->cap; i++)
        if (x->keys[i] != 0 && (!scrub_hmap_get(y, x->keys[i], &v) || v != x->vals[i]))
            n++;
    return n;
}

/* The target lacks the database or retention policy: create them as the source has them. */
static int ensure_target(struct scrub *s, const struct scrub_unit *u, int target)
{
    const struct srp *p = scrub_find_rp(s, u->db, u->rp);
    if (p == NULL || (p->on & (1 << target)))
        return 0;
    struct buf q;
    buf_init(&q);
    buf_append_str(&q, "CREATE DATABASE ");
    influx_quote_ident(&q, u->db);
    buf_append(&q, "", 1);
    int rc = influx_query(s->c[target], NULL, q.data, NULL, NULL);
    if (rc == 0) {
        buf_clear(&q);
        /* SHOW RETENTION POLICIES gives Go durations ("168h0m0s"); InfluxQL wants one unit. */
        long long secs[2] = {0, 0};
        const char *d[2] = {p->duration, p->shard_duration};
        for (int k = 0; k < 2; k++) {
            long long n = 0;
            for (const char *c = d[k]; *c; c++) {
                if (*c >= '0' && *c <= '9')
                    n = n * 10 + (*c - '0');
                else {
                    secs[k] += n * (*c == 'h' ? 3600 : *c == 'm' ? 60 : *c == 's' ? 1 : 0);
                    n = 0;
                }
            }
        }
        buf_append_str(&q, "CREATE RETENTION POLICY ");
        influx_quote_ident(&q, u->rp);
        buf_append_str(&q, " ON ");
        influx_quote_ident(&q, u->db);
        if (secs[0] > 0)
            buf_printf(&q, " DURATION %llds", secs[0]);
        else
            buf_append_str(&q, " DURATION INF");
        buf_append_str(&q, " REPLICATION 1");
        if (secs[1] > 0)
            buf_printf(&q, " SHARD DURATION %llds", secs[1]);
        if (p->is_default)
            buf_append_str(&q, " DEFAULT");
        buf_append(&q, "", 1);
        /* influxd answers "retention policy already exists" when it differs: that is an error
         * inside the result, which this call does not look at; the write tells. */
        rc = influx_query(s->c[target], NULL, q.data, NULL, NULL);
    }
    buf_deinit(&q);
    return rc;
}

int scrub_repair_window(struct scrub *s, const struct scrub_unit *u, int64_t hour, int *from,
                        uint64_t *written)
{
    struct scrub_hmap maps[2];
    memset(maps, 0, sizeof(maps));
    *from = -1;
    *written = 0;
    char when[40];
    scrub_time_str(hour, when, sizeof(when));
    int rc = 0;
    uint64_t lack[2] = {0, 0}; /* lack[x]: entries of side x the other side lacks */
    for (int side = 0; side < 2 && rc == 0; side++) {
        struct pass p = {s, u, side, &maps[side], NULL, {0}, {0}, {0}, 0, 0, 0};
        rc = window_pass(s, u, hour, &p);
        buf_deinit(&p.batch);
        buf_deinit(&p.line);
        buf_deinit(&p.tagk);
        if (p.too_many)
            rc = cli_fail(s->cli,
                          "db=%s rp=%s measurement=%s hour=%s: more than %zu values in "
                          "one window on %s: too large to compare point by point",
                          u->db, u->rp, u->m, when, MAX_WINDOW_VALUES, s->be[side].name);
    }
    if (rc == 0) {
        lack[0] = lacking(&maps[0], &maps[1]);
        lack[1] = lacking(&maps[1], &maps[0]);
    }
    if (rc == 0 && lack[0] > 0 && lack[1] > 0) {
        if (!s->json)
            printf("refused db=%s rp=%s measurement=%s hour=%s: neither side is a superset (a "
                   "has %" PRIu64 " values b lacks or holds otherwise, b has %" PRIu64
                   " a lacks or holds otherwise)\n",
                   u->db, u->rp, u->m, when, lack[0], lack[1]);
    } else if (rc == 0 && (lack[0] > 0 || lack[1] > 0)) {
        int src = lack[0] > 0 ? 0 : 1;
        rc = ensure_target(s, u, 1 - src);
        struct pass p = {s, u, src, NULL, &maps[1 - src], {0}, {0}, {0}, 0, 0, 0};
        if (rc == 0)
            rc = window_pass(s, u, hour, &p);
        *written = p.written;
        *from = src;
        buf_deinit(&p.batch);
        buf_deinit(&p.line);
        buf_deinit(&p.tagk);
        progress_step(&s->prog, 0,
                      "event_detail=scrub_repair db=%s rp=%s measurement=%s hour=%s "
                      "from=%s to=%s points=%" PRIu64,
                      u->db, u->rp, u->m, when, s->be[src].name, s->be[1 - src].name, p.written);
    } else if (rc == 0) {
        *written = 1; /* equal point by point: nothing to copy, compared again by the caller */
        *from = 0;
    }
    scrub_hmap_deinit(&maps[0]);
    scrub_hmap_deinit(&maps[1]);
    return rc;
}
