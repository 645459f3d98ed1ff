/* influx-wal scrub's pieces: scrub.c runs the command (schema on both sides, the figures per
 * window, the comparison and the report), scrub_log.c finds the windows still in flight in the
 * logs, scrub_repair.c compares one window point by point and copies it. One thread; all owned
 * by the struct scrub of one run. */
#ifndef IWR_SCRUB_H
#define IWR_SCRUB_H

#include "cmd/influx-wal/influx.h"
#include "cmd/influx-wal/progress.h"

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

#define SCRUB_HOUR_NS (3600 * (int64_t)1000000000)

/* A set of 64-bit hashes, or a map of them to 64-bit values; open addressing, 0 is stored as 1. */
struct hmap {
    uint64_t *keys, *vals;
    size_t cap, n;
};
void hmap_deinit(struct hmap *m);
/* Insert or overwrite. */
void hmap_put(struct hmap *m, uint64_t key, uint64_t val);
/* 1 and *val when present (val may be NULL). */
int hmap_get(const struct hmap *m, uint64_t key, uint64_t *val);

uint64_t scrub_hash(uint64_t h, const void *p, size_t n);
/* The window key of the in-flight set: database, retention policy ("" for the default),
 * measurement, hour. */
uint64_t scrub_window_key(const char *db, const char *rp, const char *m, int64_t hour);

enum ftype { FT_NONE = 0, FT_FLOAT, FT_INTEGER, FT_UNSIGNED, FT_STRING, FT_BOOLEAN };

struct sfield {
    char *name;
    enum ftype type[2]; /* per side; FT_NONE: not there */
};

/* One database, retention policy and measurement, and the union of its fields. */
struct unit {
    char *db, *rp, *m;
    struct sfield *fields;
    size_t n_fields;
};

/* A retention policy as SHOW RETENTION POLICIES gives it (for --repair to create it). */
struct srp {
    char *db, *name, *duration, *shard_duration;
    int is_default;
    int on; /* bit 0: side A, bit 1: side B */
};

struct scrub {
    struct cli *cli;
    struct cli_backend be[2];
    struct influx *c[2];
    const char *database; /* --database, or NULL */
    int64_t since, until; /* [since, until) in ns */
    int json, repair;
    struct srp *rps;
    size_t n_rps;
    struct hmap in_flight; /* scrub_window_key -> 1 + the side (0 or 1) not caught up */
    uint64_t in_flight_records;
    int logs_read;
    struct progress prog;
    /* Results. */
    uint64_t units, windows, differ, flight, schema, repaired, refused;
    struct buf out; /* --json: the arrays being built */
    struct buf j_diff, j_flight, j_schema;
};

/* Read every log (cli->data_dirs, or the default one when it exists) and put the windows of
 * the records after either backend's cursor into s->in_flight. 0, or 1 after a message.
 * scrub_log.c. */
int scrub_read_logs(struct scrub *s);

/* The default retention policy of 'db' on either side, or NULL. scrub.c. */
const char *scrub_default_rp(const struct scrub *s, const char *db);
const struct srp *scrub_find_rp(const struct scrub *s, const char *db, const char *rp);

/* --repair of the window of unit 'u' at 'hour': point by point, from the side that holds every
 * point of the other to the other. Sets *from to the source side (0, 1) after a copy, -1 when
 * the window was refused (neither side a superset) or the points were equal already. 0, or 1
 * after a message (a failed query or write). Prints what it did. scrub_repair.c. */
int scrub_repair_window(struct scrub *s, const struct unit *u, int64_t hour, int *from,
                        uint64_t *written);

/* "2026-01-01T10:00:00Z" for 'ns' into buf (at least 40 bytes). */
const char *scrub_time_str(int64_t ns, char *buf, size_t cap);

#endif
