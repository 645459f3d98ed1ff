/* The point-by-point look at one window, shared by `influx-wal scrub --repair`
 * (cmd/influx-wal/scrub_repair.c) and `influx-wal reshard`'s copy (cmd/influx-wal/reshard_copy.c):
 * the rows of a SELECT * ... GROUP BY * answer (epoch=ns) as values keyed by (series, time,
 * field) with a hash of their type and value, and as points of line protocol with the field
 * types of SHOW FIELD KEYS. Pure: no I/O, any thread. */
#ifndef IWR_SCRUB_POINTS_H
#define IWR_SCRUB_POINTS_H

#include "common/buf.h"
#include "scrub/window.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* What one window may hold for a point-by-point look: the map of one side is bounded by it. */
#define SCRUB_POINTS_MAX_VALUES ((size_t)1 << 23)

/* Line protocol as influxd reads it back: 's' with a backslash before each byte of 'special'
 * (", " for a measurement, ",= " for keys and tag values); a field's value 'v' of type 'ft'
 * as influxd answered it (integers with i, unsigned with u, strings quoted). */
void scrub_lp_escape(struct buf *b, const char *s, const char *special);
void scrub_lp_value(struct buf *b, enum scrub_ftype ft, const json_t *v);
/* The key of one value in a window: the series' hash, the point's time and the field's name. */
uint64_t scrub_point_key(uint64_t series, int64_t t, const char *field);
/* The hash of a field's value as the sides are compared (type and value). */
uint64_t scrub_value_hash(enum scrub_ftype t, const json_t *v);
/* The type of field 'name' of 'u' on 'side', the other side's when 'side' lacks it;
 * SCRUB_FT_NONE when 'u' has no such field. */
enum scrub_ftype scrub_unit_ftype(const struct scrub_unit *u, const char *name, int side);

/* One value of the answer: 0 to go on, with *write set to 1 to put it into its point's line;
 * non-zero stops the walk. */
typedef int scrub_value_fn(void *arg, uint64_t key, uint64_t val, int *write);
/* A point with at least one value written: "measurement,tags fields time\n", 'len' bytes. 0 to
 * go on, non-zero stops the walk. */
typedef int scrub_point_fn(void *arg, const char *line, size_t len);

/* One walk over the answers of one side. Keeping (keep != NULL): every value goes into 'keep',
 * at most SCRUB_POINTS_MAX_VALUES (then too_many is set and the walk stops with 1), and no
 * callback is called. Else each value goes to 'value' and each point with a value written to
 * 'point'. Owns its scratch buffers (scrub_points_deinit). */
struct scrub_points {
    const struct scrub_unit *u; /* the measurement, and its fields' types */
    int side;                   /* whose types come first (scrub_unit_ftype) */
    struct scrub_hmap *keep;
    size_t n_values;
    int too_many;
    scrub_value_fn *value;
    scrub_point_fn *point;
    void *arg;
    struct buf series, line;
};
void scrub_points_init(struct scrub_points *p, const struct scrub_unit *u, int side);
void scrub_points_deinit(struct scrub_points *p);
/* Walk one statement result of the SELECT ({"series":[...]}: each series with its tags,
 * "" where it has none, and its rows: time, then a column per field, null where the point lacks
 * it). A series is its non-empty tags in any order. 0, or the value that stopped the walk. */
int scrub_points_add(struct scrub_points *p, const json_t *result);

#endif
