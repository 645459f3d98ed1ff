/* The scrub's comparison, shared by `influx-wal scrub` (cmd/influx-wal/scrub*.c) and the
 * daemon's background scrub (scrub/bgscrub.c): the window of a point (database, retention
 * policy, measurement, hour), the figures of a window (per field: count, and sum where the type
 * allows) as one InfluxQL SELECT builds them and its answer gives them, the rule that says two
 * figures differ, and the windows a log record holds points in. Pure: no I/O, any thread. */
#ifndef IWR_SCRUB_WINDOW_H
#define IWR_SCRUB_WINDOW_H

#include "common/buf.h"
#include "wal/wal.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SCRUB_HOUR_NS (3600 * (int64_t)1000000000)

/* A set of 64-bit hashes, or a map of them to 64-bit values; open addressing, 0 is stored as 1.
 * Zeroed is empty; owns its arrays (scrub_hmap_deinit). Used only as a set (scrub_hmap_add),
 * it holds no values: 8 bytes a slot. */
struct scrub_hmap {
    uint64_t *keys, *vals; /* vals: NULL until the first scrub_hmap_put */
    size_t cap, n;
};
void scrub_hmap_deinit(struct scrub_hmap *m);
/* Insert or overwrite. */
void scrub_hmap_put(struct scrub_hmap *m, uint64_t key, uint64_t val);
/* Insert 'key' if absent (its value 0, if the map has values): 1 if added, 0 if it was there. */
int scrub_hmap_add(struct scrub_hmap *m, uint64_t key);
/* 1 and *val when present (val may be NULL; 0 for a key only added), else 0. */
int scrub_hmap_get(const struct scrub_hmap *m, uint64_t key, uint64_t *val);

/* FNV-1a of p[0, n) from 'h', finished with hash_mix64 (common/hash.h). */
uint64_t scrub_hash(uint64_t h, const void *p, size_t n);
/* The key of a window: database, retention policy ("" for the default, or for any), measurement,
 * hour (its first nanosecond). */
uint64_t scrub_window_key(const char *db, const char *rp, const char *m, int64_t hour);
/* The hour a timestamp (ns) falls in, as influxd's GROUP BY time(1h) puts it. */
int64_t scrub_hour_of(int64_t ts_ns);
/* Put the window of every point of 'rec' into 'set', its value or'd with 'bits'. With keep_rp
 * the record's retention policy is part of the key (empty: the default), else "" is. Returns
 * the points seen. */
uint64_t scrub_record_windows(const struct wal_record *rec, int keep_rp, struct scrub_hmap *set,
                              uint64_t bits);

enum scrub_ftype {
    SCRUB_FT_NONE = 0,
    SCRUB_FT_FLOAT,
    SCRUB_FT_INTEGER,
    SCRUB_FT_UNSIGNED,
    SCRUB_FT_STRING,
    SCRUB_FT_BOOLEAN
};
/* From SHOW FIELD KEYS' fieldType ("float", ...); NULL or unknown: SCRUB_FT_NONE. */
enum scrub_ftype scrub_ftype_of(const char *s);
const char *scrub_ftype_name(enum scrub_ftype t);

struct scrub_field {
    char *name;
    enum scrub_ftype type[2]; /* per side; SCRUB_FT_NONE: not there */
};

/* One database, retention policy and measurement, and the union of both sides' fields. Owns
 * its strings (scrub_unit_deinit). */
struct scrub_unit {
    char *db, *rp, *m;
    const char *where; /* borrowed, may be NULL: a condition on tags the unit's series meet
                        * (a reshard's series, shard_keys_where), ANDed into every SELECT */
    struct scrub_field *fields;
    size_t n_fields;
};
void scrub_unit_deinit(struct scrub_unit *u);
/* Add field 'name' of type 'type' on 'side' to 'u' (once per name). */
void scrub_unit_add_field(struct scrub_unit *u, const char *name, int side, enum scrub_ftype type);

/* A sum is taken when both sides give the field the same numeric type. */
int scrub_summable(const struct scrub_field *f);

/* The figures of one field in one window. */
struct scrub_fig {
    int64_t count;
    int has_sum, sum_is_int;
    int64_t sum_i;
    double sum_f;
};

/* The windows of one unit with a point on one side: hour[i], then n_fields figures per row in
 * fig. Zeroed is empty; owns its arrays (scrub_rows_deinit). */
struct scrub_rows {
    int64_t *hour;
    struct scrub_fig *fig;
    size_t n, cap, n_fields;
};
void scrub_rows_deinit(struct scrub_rows *r);

/* The SELECT giving the figures of 'u' per hour in [since, until) into 'q' (cleared first,
 * NUL-terminated, the NUL not counted in q->len). */
void scrub_figures_query(struct buf *q, const struct scrub_unit *u, int64_t since, int64_t until);
/* Add the rows of one statement result of that SELECT ({"series":[...]}) to 'r' (set
 * r->n_fields = u->n_fields before the first call). */
void scrub_figures_add(struct scrub_rows *r, const struct scrub_unit *u, const json_t *result);
/* Whether two figures differ: counts, then sums when both have one (a relative slack of 1e-9
 * for float sums, which influxd may add in another order). */
int scrub_fig_differs(const struct scrub_fig *a, const struct scrub_fig *b);
/* Walk the rows of both sides in hour order: 'fn' gets each hour present on either side, with
 * the figures of each side (a side without the hour gives counts of 0 and no sums). Returns the
 * windows seen; stops early when fn returns non-zero and stores it in *rc (may be NULL). */
typedef int scrub_window_fn(void *arg, int64_t hour, const struct scrub_fig *a,
                            const struct scrub_fig *b, int differs);
uint64_t scrub_rows_walk(const struct scrub_rows *a, const struct scrub_rows *b, size_t n_fields,
                         scrub_window_fn *fn, void *arg, int *rc);

/* " a_count=N a_sum=S" (side "a") into b. */
void scrub_fig_text(const struct scrub_fig *f, const char *side, struct buf *b);
/* {"count":N,"sum":S} into b. */
void scrub_fig_json(const struct scrub_fig *f, struct buf *b);

/* An InfluxQL identifier in double quotes; an InfluxQL string in single quotes. */
void scrub_quote_ident(struct buf *b, const char *s);
void scrub_quote_string(struct buf *b, const char *s);


#endif
