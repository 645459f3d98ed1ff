/* Merging the answers several shards give to one read (relay/shard_merge.c). Pure: no I/O, no
 * globals; any thread. */
#ifndef IWR_SHARD_MERGE_H
#define IWR_SHARD_MERGE_H

#include "common/buf.h"

#include <stddef.h>

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

#endif
