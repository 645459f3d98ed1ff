/* influx-wal reshard: one measurement from an old shard's backend to a new shard's backend.
 * Per retention policy of the source's database: the field keys of both sides, the figures of
 * every hour on both (scrub_figures_query, the scrub's window comparison), and for each hour
 * whose figures differ a point-by-point pass: the target's (series, time, field) keys into a
 * map, then the source's points, of which the fields the target lacks are written to the
 * target as line protocol (scrub/points.c), in batches. After the switch a field the target
 * holds is never written again, whatever its value: a rewrite of the same series and
 * timestamp lands on the new shard only, and the copy of the old shard's value must not undo
 * it (RESHARD_FILL); before the switch the target holds only copies, and a value that differs
 * is the old shard's newer one (RESHARD_OVERWRITE). Memory: one hour's keys and value hashes of
 * one side, bounded by SCRUB_POINTS_MAX_VALUES. */
#include "cmd/influx-wal/reshard.h"
#include "cmd/influx-wal/scrub.h"

#include "common/xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MIN_TIME (-9223372036854775807LL + 2) /* influxd's own bounds */
#define MAX_TIME 9223372036854775806LL
#define BATCH_BYTES ((size_t)4 << 20)

struct names_list {
    char **v;
    int *flag; /* retention policies: the default one */
    char **dur, **sdur;
    size_t n;
};

static void names_free(struct names_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i]);
        free(l->dur[i]);
        free(l->sdur[i]);
    }
    free(l->v);
    free(l->flag);
    free(l->dur);
    free(l->sdur);
    memset(l, 0, sizeof(*l));
}

struct ctx {
    struct cli *cli;
    struct influx *c[2]; /* 0 the source, 1 the target */
    struct scrub_unit u;
    struct scrub_rows rows[2];
    int side;
    struct names_list *list;
    /* the point pass */
    struct scrub_hmap have; /* the target's values, kept by the pass over it */
    enum reshard_mode mode;
    struct buf batch;
    uint64_t lacking, written, differing;
    struct progress *pg;
};

/* A row of SHOW RETENTION POLICIES (name, duration, shardGroupDuration, replicaN, default) or
 * SHOW FIELD KEYS (fieldKey, fieldType). */
static int take_row(void *arg, const json_t *row, const char *v0)
{
    struct ctx *x = arg;
    if (x->list == NULL) { /* field keys */
        scrub_unit_add_field(&x->u, v0, x->side,
                             scrub_ftype_of(json_string_value(json_array_get(row, 1))));
        return 0;
    }
    struct names_list *l = x->list;
    l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
    l->flag = xrealloc(l->flag, (l->n + 1) * sizeof(*l->flag));
    l->dur = xrealloc(l->dur, (l->n + 1) * sizeof(*l->dur));
    l->sdur = xrealloc(l->sdur, (l->n + 1) * sizeof(*l->sdur));
    const char *d = json_string_value(json_array_get(row, 1));
    const char *sd = json_string_value(json_array_get(row, 2));
    l->v[l->n] = xstrdup(v0);
    l->dur[l->n] = xstrdup(d != NULL ? d : "0s");
    l->sdur[l->n] = xstrdup(sd != NULL ? sd : "0s");
    l->flag[l->n] = json_is_true(json_array_get(row, 4));
    l->n++;
    return 0;
}

static int rows_result(void *arg, const json_t *res)
{
    if (influx_str_at(res, "error") != NULL)
        return 0; /* no such database or measurement on this side: nothing */
    return influx_rows(res, take_row, arg);
}

static int figures_result(void *arg, const json_t *res)
{
    struct ctx *x = arg;
    int rc;
    if (influx_result_error(x->c[x->side], res, &rc))
        return rc;
    scrub_figures_add(&x->rows[x->side], &x->u, res);
    return 0;
}

/* The database and the source's retention policies on the target (influxd keeps one that
 * exists as it is). */
static int ensure_target(struct ctx *x, const char *db, const struct names_list *rps)
{
    int rc = influx_create_database(x->c[1], db);
    for (size_t i = 0; rc == 0 && i < rps->n; i++)
        rc = influx_create_rp(x->c[1], db, rps->v[i], rps->dur[i], rps->sdur[i], rps->flag[i]);
    return rc;
}

static int flush(struct ctx *x)
{
    if (x->batch.len == 0)
        return 0;
    int rc = influx_write(x->c[1], x->u.db, x->u.rp, x->batch.data, x->batch.len);
    buf_clear(&x->batch);
    return rc;
}

/* A value of the source: written when the target lacks it; before the switch also when the
 * target holds another value. */
static int source_value(void *arg, uint64_t key, uint64_t val, int *write)
{
    struct ctx *x = arg;
    uint64_t held;
    if (scrub_hmap_get(&x->have, key, &held) && (x->mode != RESHARD_OVERWRITE || held == val)) {
        x->differing += held != val; /* kept: the target's may be a rewrite */
        return 0; /* the target has it (after the switch: never overwritten) */
    }
    x->lacking++;
    *write = x->mode != RESHARD_COUNT;
    return 0;
}

static int source_point(void *arg, const char *line, size_t len)
{
    struct ctx *x = arg;
    buf_append(&x->batch, line, len);
    x->written++;
    return x->batch.len >= BATCH_BYTES && flush(x) != 0;
}

static int hour_pass(struct ctx *x, int side, int64_t hour)
{
    /* The source's field types on both sides: the hashes of the two compare alike. */
    struct scrub_points pts;
    scrub_points_init(&pts, &x->u, 0);
    pts.keep = side == 1 ? &x->have : NULL;
    pts.value = source_value;
    pts.point = source_point;
    pts.arg = x;
    int rc = scrub_read_window(x->c[side], &x->u, hour, &pts);
    if (pts.too_many)
        rc = cli_fail(x->cli,
                      "db=%s rp=%s measurement=%s: more than %zu values in one hour on %s: too "
                      "large to compare point by point",
                      x->u.db, x->u.rp, x->u.m, SCRUB_POINTS_MAX_VALUES, influx_name(x->c[side]));
    scrub_points_deinit(&pts);
    if (rc == 0 && side == 0)
        rc = flush(x);
    return rc;
}

static int on_window(void *arg, int64_t hour, const struct scrub_fig *a, const struct scrub_fig *b,
                     int differs)
{
    struct ctx *x = arg;
    (void)a;
    (void)b;
    if (!differs)
        return 0;
    scrub_hmap_deinit(&x->have);
    uint64_t before = x->written, lacking = x->lacking;
    int rc = hour_pass(x, 1, hour);
    if (rc == 0)
        rc = hour_pass(x, 0, hour);
    scrub_hmap_deinit(&x->have);
    char when[40];
    if (x->pg != NULL && (x->written > before || x->lacking > lacking))
        progress_step(x->pg, x->written - before,
                      "db=%s rp=%s measurement=%s hour=%s to=%s lacking=%" PRIu64
                      " written=%" PRIu64,
                      x->u.db, x->u.rp, x->u.m, scrub_time_str(hour, when, sizeof(when)),
                      influx_name(x->c[1]), x->lacking - lacking, x->written - before);
    return rc;
}

static int sync_rp(struct ctx *x, const char *rp)
{
    x->u.rp = xstrdup(rp);
    struct buf q;
    buf_init(&q);
    int rc = 0;
    for (int side = 0; side < 2 && rc == 0; side++) {
        buf_clear(&q);
        buf_append_str(&q, "SHOW FIELD KEYS ON ");
        influx_quote_ident(&q, x->u.db);
        buf_append_str(&q, " FROM ");
        influx_quote_ident(&q, x->u.db);
        buf_append(&q, ".", 1);
        influx_quote_ident(&q, rp);
        buf_append(&q, ".", 1);
        influx_quote_ident(&q, x->u.m);
        buf_append(&q, "", 1);
        x->side = side;
        x->list = NULL;
        rc = influx_query(x->c[side], NULL, q.data, rows_result, x);
    }
    for (int side = 0; side < 2 && rc == 0 && x->u.n_fields > 0; side++) {
        x->rows[side].n_fields = x->u.n_fields;
        scrub_figures_query(&q, &x->u, MIN_TIME, MAX_TIME);
        x->side = side;
        rc = influx_query(x->c[side], x->u.db, q.data, figures_result, x);
    }
    buf_deinit(&q);
    int wrc = 0;
    if (rc == 0 && x->u.n_fields > 0)
        scrub_rows_walk(&x->rows[0], &x->rows[1], x->u.n_fields, on_window, x, &wrc);
    scrub_rows_deinit(&x->rows[0]);
    scrub_rows_deinit(&x->rows[1]);
    memset(x->rows, 0, sizeof(x->rows));
    for (size_t i = 0; i < x->u.n_fields; i++)
        free(x->u.fields[i].name);
    free(x->u.fields);
    x->u.fields = NULL;
    x->u.n_fields = 0;
    free(x->u.rp);
    x->u.rp = NULL;
    return rc != 0 ? rc : wrc;
}

int reshard_sync_measurement(struct cli *cli, struct influx *src, struct influx *dst,
                             const char *db, const char *m, const char *where,
                             enum reshard_mode mode,
                             struct progress *pg, struct reshard_sync *out)
{
    memset(out, 0, sizeof(*out));
    struct ctx x;
    memset(&x, 0, sizeof(x));
    x.cli = cli;
    x.c[0] = src;
    x.c[1] = dst;
    x.mode = mode;
    x.pg = pg;
    x.u.db = xstrdup(db);
    x.u.m = xstrdup(m);
    x.u.where = where;
    buf_init(&x.batch);
    struct names_list rps = {0};
    struct buf q;
    buf_init(&q);
    buf_append_str(&q, "SHOW RETENTION POLICIES ON ");
    influx_quote_ident(&q, db);
    buf_append(&q, "", 1);
    x.list = &rps;
    int rc = influx_query(src, NULL, q.data, rows_result, &x);
    buf_deinit(&q);
    if (rc == 0 && mode != RESHARD_COUNT)
        rc = ensure_target(&x, db, &rps);
    for (size_t i = 0; rc == 0 && i < rps.n; i++)
        rc = sync_rp(&x, rps.v[i]);
    out->lacking = x.lacking;
    out->differing = x.differing;
    out->written = x.written;
    names_free(&rps);
    buf_deinit(&x.batch);
    scrub_hmap_deinit(&x.have);
    free(x.u.db);
    free(x.u.m);
    return rc;
}
