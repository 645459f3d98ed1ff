/* influx-wal scrub --repair: one window (database, retention policy, measurement, hour) read
 * point by point on both sides with SELECT * ... GROUP BY * (tags per series, epoch=ns,
 * chunked), each (series, time, field) and its value hashed into a map per side (scrub/points.c).
 * The side whose map holds every entry of the other with the same value is the source; the
 * points the target lacks or holds with another value are read again from the source and
 * written to the target's /write as line protocol with the field types of SHOW FIELD KEYS, in
 * batches. Neither side a superset: refused, nothing written. Memory: the two maps of one
 * window, bounded by SCRUB_POINTS_MAX_VALUES. */
#include "cmd/influx-wal/scrub.h"

#include "common/xalloc.h"
#include "scrub/points.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define BATCH_BYTES ((size_t)4 << 20)

struct pass {
    struct scrub *s;
    const struct scrub_unit *u;
    int side;
    struct scrub_points pts;        /* pass 1: pts.keep is the map to fill */
    const struct scrub_hmap *other; /* pass 2: write the points with a value it lacks */
    int missing;                    /* pass 2: the point being read has one */
    struct buf batch;
    uint64_t written;
};

static int flush(struct pass *p)
{
    if (p->batch.len == 0)
        return 0;
    int rc = influx_write(p->s->c[1 - p->side], p->u->db, p->u->rp, p->batch.data, p->batch.len);
    buf_clear(&p->batch);
    return rc;
}

static int pass_value(void *arg, uint64_t key, uint64_t val, int *write)
{
    struct pass *p = arg;
    uint64_t other;
    p->missing |= !scrub_hmap_get(p->other, key, &other) || other != val;
    *write = 1; /* the whole point: a value that is there is written again as it is */
    return 0;
}

static int pass_point(void *arg, const char *line, size_t len)
{
    struct pass *p = arg;
    int missing = p->missing;
    p->missing = 0;
    if (!missing)
        return 0;
    buf_append(&p->batch, line, len);
    p->written++;
    return p->batch.len >= BATCH_BYTES && flush(p) != 0;
}

/* Pass 1 over 'side' when 'map' is given (fill it), else pass 2 (write what 'other' lacks). */
static void pass_init(struct pass *p, struct scrub *s, const struct scrub_unit *u, int side,
                      struct scrub_hmap *map, const struct scrub_hmap *other)
{
    memset(p, 0, sizeof(*p));
    p->s = s;
    p->u = u;
    p->side = side;
    scrub_points_init(&p->pts, u, side);
    p->pts.keep = map;
    p->pts.value = pass_value;
    p->pts.point = pass_point;
    p->pts.arg = p;
    p->other = other;
    buf_init(&p->batch);
}

static void pass_deinit(struct pass *p)
{
    scrub_points_deinit(&p->pts);
    buf_deinit(&p->batch);
}

struct window_read {
    struct influx *c;
    struct scrub_points *pts;
};

static int window_result(void *arg, const json_t *res)
{
    struct window_read *w = arg;
    int rc;
    if (influx_result_error(w->c, res, &rc))
        return rc;
    return scrub_points_add(w->pts, res);
}

int scrub_read_window(struct influx *c, const struct scrub_unit *u, int64_t hour,
                      struct scrub_points *pts)
{
    struct buf q;
    buf_init(&q);
    buf_append_str(&q, "SELECT * FROM ");
    influx_quote_ident(&q, u->db);
    buf_append(&q, ".", 1);
    influx_quote_ident(&q, u->rp);
    buf_append(&q, ".", 1);
    influx_quote_ident(&q, u->m);
    buf_append_str(&q, " WHERE ");
    if (u->where != NULL) {
        buf_append_str(&q, u->where);
        buf_append_str(&q, " AND ");
    }
    buf_printf(&q, "time >= %" PRId64 " AND time < %" PRId64 " GROUP BY *", hour,
               hour + SCRUB_HOUR_NS);
    buf_append(&q, "", 1);
    struct window_read w = {c, pts};
    int rc = influx_query(c, u->db, q.data, window_result, &w);
    buf_deinit(&q);
    return rc;
}

static int window_pass(struct scrub *s, const struct scrub_unit *u, int64_t hour, struct pass *p)
{
    int rc = scrub_read_window(s->c[p->side], u, hour, &p->pts);
    if (rc == 0 && p->pts.keep == NULL)
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
    int rc = influx_create_database(s->c[target], u->db);
    if (rc == 0)
        rc = influx_create_rp(s->c[target], u->db, u->rp, p->duration, p->shard_duration,
                              p->is_default);
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
        struct pass p;
        pass_init(&p, s, u, side, &maps[side], NULL);
        rc = window_pass(s, u, hour, &p);
        if (p.pts.too_many)
            rc = cli_fail(s->cli,
                          "db=%s rp=%s measurement=%s hour=%s: more than %zu values in "
                          "one window on %s: too large to compare point by point",
                          u->db, u->rp, u->m, when, SCRUB_POINTS_MAX_VALUES, s->be[side].name);
        pass_deinit(&p);
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
        struct pass p;
        pass_init(&p, s, u, src, NULL, &maps[1 - src]);
        if (rc == 0)
            rc = window_pass(s, u, hour, &p);
        *written = p.written;
        *from = src;
        pass_deinit(&p);
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
