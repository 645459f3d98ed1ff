/* influx-wal scrub's pieces: scrub.c runs the command (schema on both sides, the figures per
 * window, the comparison and the report), scrub_log.c finds the windows still in flight in the
 * logs, scrub_repair.c compares one window point by point and copies it. One thread; all owned
 * by the struct scrub of one run. */
#ifndef IWR_SCRUB_H
#define IWR_SCRUB_H

#include "cmd/influx-wal/influx.h"
#include "cmd/influx-wal/progress.h"

#include "common/buf.h"
#include "scrub/points.h"
#include "scrub/window.h"

#include <stddef.h>
#include <stdint.h>

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
    struct scrub_hmap in_flight; /* scrub_window_key -> 1 + the side (0 or 1) not caught up */
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
int scrub_repair_window(struct scrub *s, const struct scrub_unit *u, int64_t hour, int *from,
                        uint64_t *written);

/* Read window 'hour' of unit 'u' on 'c' point by point (SELECT * ... GROUP BY *) into 'pts'.
 * 0, 1 after a message (a failed query, or an error in the answer other than "not found"), or
 * the value a callback of 'pts' stopped the walk with (1 when pts->too_many). scrub_repair.c;
 * also reshard_copy.c. */
int scrub_read_window(struct influx *c, const struct scrub_unit *u, int64_t hour,
                      struct scrub_points *pts);

/* "2026-01-01T10:00:00Z" for 'ns' into buf (at least 40 bytes). */
const char *scrub_time_str(int64_t ns, char *buf, size_t cap);

#endif
