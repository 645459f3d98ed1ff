/* What a read SELECT asks for, as far as merging its answers from several shards needs to know
 * (relay/influxql_select.c, over iql_scan): the measurements it reads, the functions it calls,
 * its GROUP BY, fill, ORDER BY and paging. Pure: no I/O, no globals; any thread.
 *
 * It reads the shape influxd 1.6's parser accepts and no more: a statement it cannot follow is
 * reported as such (iql_select_read returns IWR_EPARSE), never guessed at; influxd then gives
 * its own parse error, or the caller refuses to merge. */
#ifndef IWR_INFLUXQL_SELECT_H
#define IWR_INFLUXQL_SELECT_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

#define IQL_SEL_SOURCES_MAX 64 /* more measurements than this read as "unknown" (every shard) */
#define IQL_SEL_CALLS_MAX 16   /* more calls than this: calls_overflow */
#define IQL_SEL_TAGS_MAX 16    /* more GROUP BY tags than this: group_regex (unknown) */
#define IQL_SEL_NAME_MAX 24    /* a function name longer than this is kept cut (no such one) */

enum iql_fill {
    IQL_FILL_NULL = 0, /* the default */
    IQL_FILL_NONE,
    IQL_FILL_ZERO,   /* fill(0) */
    IQL_FILL_NUMBER, /* any other number */
    IQL_FILL_PREVIOUS,
    IQL_FILL_LINEAR,
};

/* One measurement of FROM, spans into iql_select.names: the database (empty when not named:
 * the request's db= applies) and the measurement in line protocol's escaped form (' ' and ','
 * after a backslash), as the shard ring keys it. */
struct iql_source {
    size_t db_off, db_len;
    size_t m_off, m_len;
    int has_db;
};

struct iql_select {
    int explain; /* EXPLAIN [ANALYZE] SELECT */
    struct iql_source sources[IQL_SEL_SOURCES_MAX];
    size_t n_sources;    /* the named measurements */
    int sources_unknown; /* a regex, a subquery or too many: any measurement */
    int subquery;        /* FROM (SELECT ...) */
    int wildcard;        /* a field list of * or a regex: the columns are the union */
    char calls[IQL_SEL_CALLS_MAX][IQL_SEL_NAME_MAX]; /* the top-level calls, lower case */
    size_t n_calls;
    int calls_overflow;
    int call_wildcard; /* a call of * or a regex: count(*) (one column per field) */
    int call_expr;     /* a call inside another or inside an expression */
    int raw_fields;    /* a field (or an expression without calls) in the list */
    int group_time;    /* GROUP BY time(...) */
    int group_all;     /* GROUP BY * */
    int group_regex;   /* GROUP BY /re/, or more tags than IQL_SEL_TAGS_MAX */
    size_t group_tags[IQL_SEL_TAGS_MAX][2]; /* offset, length of each tag's name in 'names' */
    size_t n_group_tags;
    enum iql_fill fill;
    int64_t limit, offset, slimit, soffset; /* 0 when absent */
    int desc;                               /* ORDER BY time DESC */
    struct buf names;                       /* owned: the names the spans above point into */
};

/* Read the one statement q[0, len) (no ';') as a SELECT without INTO (EXPLAIN allowed) into
 * 's' (initialised here; iql_select_deinit after, whatever the result). 0, or IWR_EPARSE when
 * it is not one or not in a shape followed here. */
int iql_select_read(const char *q, size_t len, struct iql_select *s);
void iql_select_deinit(struct iql_select *s);

/* Whether GROUP BY names tag 'tag' (tag_len bytes, as the shard key holds it). */
int iql_select_groups_by(const struct iql_select *s, const char *tag, size_t tag_len);

#endif
