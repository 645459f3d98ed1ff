/* influx-wal audit's pieces, shared by its three files: audit_count.c counts the log into
 * windows, audit_query.c asks the backend for its counts, audit.c runs the command, compares and
 * prints. One thread; everything is owned by the struct audit of one run. */
#ifndef IWR_AUDIT_H
#define IWR_AUDIT_H

#include "cmd/influx-wal/cli.h"

#include "common/buf.h"
#include "scrub/window.h"

#include <stddef.h>
#include <stdint.h>

#define HOUR_NS SCRUB_HOUR_NS
#define MAX_QUERY_HOURS 1000         /* GROUP BY time(1h) buckets per query */
#define MAX_POINTS ((size_t)1 << 24) /* distinct points held in memory */

/* Interned strings: each distinct byte string gets an id (its index). */
struct strtab {
    char **str; /* NUL-terminated copies; the length is len[id] (they may hold NULs) */
    size_t *len;
    uint64_t *hash;
    size_t n, cap;
    uint32_t *slots; /* id + 1; 0: empty */
    size_t n_slots;
};

struct field_count {
    size_t field; /* id in the field table */
    uint64_t log, backend;
};

/* The points of one database, retention policy and measurement in one hour. */
struct window {
    size_t group; /* db, rp and measurement: id in the group table */
    int64_t hour; /* ns, a multiple of HOUR_NS */
    struct field_count *fields;
    size_t n_fields;
    uint64_t dups, refused;
    uint64_t min_seq, max_seq;
    int state; /* 0 match, 1 fewer on the backend, 2 more on the backend */
};

struct audit {
    struct cli *cli;
    const char *backend;
    const char *url; /* --url without trailing slashes */
    int64_t since_hour;
    int have_since;
    struct strtab groups; /* "db\0rp\0measurement" (the measurement as influxd names it) */
    struct strtab field_names;
    struct window *win;
    size_t n_win, cap_win;
    struct strtab win_ids; /* group id and hour (two uint64_t) -> index in 'win' */
    struct scrub_hmap points, refused; /* sets of point keys */
    uint64_t records, lines, unparsed, dups, refused_lines, pending, corrupt;
    uint64_t first_seq, last_seq;
    struct buf key, scratch;
    size_t *line_fields; /* the field ids of the line being counted */
    size_t line_fields_cap;
    int too_many;
};

/* Count the records up to the backend's cursor (those it acknowledged), less its dead letters,
 * into a->win. 0, or 1 after a message. audit_count.c. */
int audit_count_log(struct audit *a, struct wal *w);
/* Sort a->win by group, then hour (what audit_query_all and the output expect). */
void audit_sort_windows(struct audit *a);
/* Free what audit_count_log built. */
void audit_deinit(struct audit *a);

/* Fill each window's backend counts from SELECT count(*) on a->url, one query per group and
 * at most MAX_QUERY_HOURS. Answers saying a database or measurement is not there count as 0
 * and are noted once in 'notes'. 0, or 1 after a message. audit_query.c. */
int audit_query_all(struct audit *a, struct buf *notes);

#endif
