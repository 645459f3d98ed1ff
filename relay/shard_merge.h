/* Merging the answers several shards give to one read (relay/shard_merge.c). Pure: no I/O, no
 * globals; any thread. */
#ifndef IWR_SHARD_MERGE_H
#define IWR_SHARD_MERGE_H

#include "common/buf.h"
#include "relay/influxql_select.h"

#include <stddef.h>
#include <stdint.h>

/* Whether every statement of the InfluxQL text q[0, len) is a SHOW whose answers from several
 * shards merge exactly by concatenating series and removing duplicate values: SHOW
 * MEASUREMENTS, DATABASES, SERIES, TAG KEYS, TAG VALUES, FIELD KEYS, RETENTION POLICIES,
 * without CARDINALITY, LIMIT, OFFSET, SLIMIT or SOFFSET (a per-shard count or page is not the
 * whole one's). */
int shard_merge_mergeable(const char *q, size_t len);

/* Merge the n JSON answers bodies[i] (lens[i] bytes; InfluxDB 1.x's {"results":[...]}) into one,
 * appended to 'out' with a '\n': result by result (statement_id), a result with an "error" wins;
 * else the series of every answer, those with the same name, tags and columns made one, their
 * values sorted (by their JSON text) and each kept once. 0, or IWR_EPARSE with 'err' saying
 * why (an answer that is not such JSON, answers with different numbers of results). */
int shard_merge_answers(const char *const *bodies, const size_t *lens, size_t n, struct buf *out,
                        struct buf *err);

/* How one statement's answers from several shards are merged. */
enum shard_merge_kind {
    SHARD_MERGE_SHOW = 0, /* series made one by name, tags and columns; values sorted, unique */
    SHARD_MERGE_SERIES,   /* each output series on one shard: series concatenated (one that
                           * comes from several all the same has its rows merged by time) */
    SHARD_MERGE_POINTS,   /* raw points of one series on several shards: merged by time */
    SHARD_MERGE_BUCKETS,  /* count, sum, min, max of one series on several shards: combined
                           * row by row of equal time (the buckets of GROUP BY time) */
    SHARD_MERGE_ERROR,    /* only an error passes; else the answer is 'why' */
};

enum shard_merge_op { SHARD_OP_KEEP = 0, SHARD_OP_ADD, SHARD_OP_MIN, SHARD_OP_MAX };

struct shard_merge_plan {
    enum shard_merge_kind kind;
    int desc;          /* rows and series in descending order (ORDER BY time DESC) */
    int widen_columns; /* a wildcard: every series gets the union of the columns, sorted after
                        * "time", null where it had none (influxd's columns of a whole query) */
    int widen_tags;    /* GROUP BY *: the series of one measurement get the union of its tag
                        * keys, "" where they had none */
    int64_t limit;     /* POINTS, BUCKETS: rows kept per series after the merge; 0 all */
    int select_row;    /* BUCKETS: one min() or max() alone: the row holding the winner */
    int one_row;       /* BUCKETS without GROUP BY time: a series' rows make one */
    enum shard_merge_op ops[IQL_SEL_CALLS_MAX]; /* BUCKETS: column i + 1's */
    size_t n_ops;
    int op_all;    /* ops[0] for every column (count(*)) */
    char why[512]; /* ERROR's text */
};

/* The plan for merging the answers of every shard to SELECT 's' when the shard key's tags are
 * key_tags[0, n) (lens in key_tag_lens). 1 with 'p' set; 0 when they cannot be merged exactly,
 * with p->why saying why and which functions can (the text the client gets). Exact means the
 * answer one server holding every shard's points gives: each output series on one shard
 * (no tag in the key, or every key tag in GROUP BY, or GROUP BY *) merges whatever it
 * computes; a series on several shards merges raw points, and count(), sum(), min() and max()
 * (fill null, none, or 0 for count and sum); LIMIT is applied after the merge, OFFSET,
 * SLIMIT, SOFFSET are refused there, and EXPLAIN and subqueries always. */
int shard_merge_plan_select(const struct iql_select *s, const char *const *key_tags,
                            const size_t *key_tag_lens, size_t n, struct shard_merge_plan *p);

/* shard_merge_answers with plans[k] for the k-th result of every answer (statement_id k; a
 * result past n_plans is merged as a SHOW). */
int shard_merge_answers_plan(const char *const *bodies, const size_t *lens, size_t n,
                             const struct shard_merge_plan *plans, size_t n_plans, struct buf *out,
                             struct buf *err);

#endif
