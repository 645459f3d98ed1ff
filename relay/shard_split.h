/* Splitting a request's normalised lines by shard before they are committed (relay/
 * shard_split.c). Loop thread only. */
#ifndef IWR_SHARD_SPLIT_H
#define IWR_SHARD_SPLIT_H

#include "common/buf.h"
#include "wal/wal.h"

#include <stddef.h>

struct relay;
struct shard_split;

/* The name of the log's state that holds the active shards (relay/shard_active.c):
 * "active=NAME,NAME seq=N", N the switch record's sequence (0: none yet). Readers:
 * `influx-wal status`, `influx-wal reshard`. */
#define SHARD_ACTIVE_STATE ".shards"

/* A splitter over the shards named in 'shards' (the ring's order does not depend on theirs)
 * with the key elements 'key' ("database", "measurement", "tag:NAME"; validated by config/).
 * Copies what it keeps. NULL when n_shards is 0: nothing is split. */
struct shard_split *shard_split_new(const char *const *shards, size_t n_shards,
                                    const char *const *key, size_t n_key);
void shard_split_free(struct shard_split *s);

/* The index of the shard that holds a line of database 'db' ('line' one normalised line,
 * with or without its '\n'). */
size_t shard_split_line(struct shard_split *s, const char *db, size_t db_len, const char *line,
                        size_t len);

/* Whether the InfluxQL text q[0, len) is one DROP MEASUREMENT or DELETE FROM (no WHERE) of
 * one measurement; its name in line protocol's escaped form in 'm'. */
int shard_split_statement_measurement(const char *q, size_t len, struct buf *m);

/* Whether the read statement q[0, len) (SELECT, EXPLAIN SELECT, SHOW ... FROM) names exactly
 * one measurement: one FROM outside parentheses, followed by one identifier, bare or quoted,
 * not qualified (db.rp.m), not a regex, not a list, not a subquery, and no ON outside
 * parentheses (SHOW ... ON db names another database). Its name in line protocol's escaped
 * form (' ' and ',' after a backslash) in 'm'. 0 otherwise: the shard is not known. Pure. */
int shard_split_read_measurement(const char *q, size_t len, struct buf *m);

/* The index of the shard holding measurement 'm' (m_len bytes, line protocol's escaped form)
 * of database 'db', or -1 when the key names a tag (any shard may hold some of it). */
int shard_split_measurement_shard(struct shard_split *s, const char *db, size_t db_len,
                                  const char *m, size_t m_len);

/* The tag names of the shard key ("tag:NAME" elements, borrowed, in key order) into
 * tags[0, max) and their lengths into lens; returns how many there are. */
size_t shard_split_key_tags(const struct shard_split *s, const char **tags, size_t *lens,
                            size_t max);

/* The number of shards, and the name of shard 'i' (< that; borrowed, lives with 's'). */
size_t shard_split_count(const struct shard_split *s);
const char *shard_split_name(const struct shard_split *s, size_t i);

/* Append 'rec' (line protocol, every line ending in '\n') to the relay's log as wal_append
 * does, but with its lines grouped by shard into parts (struct wal_record in wal/wal.h): one
 * record, so one transaction and one 'done'. A statement (WAL_REC_STATEMENT) is every
 * shard's, except a DROP MEASUREMENT or DELETE FROM of one measurement when the key is made of
 * database and measurement only: one part for the shard holding it (a tag in the key makes the
 * holders unknown: every shard). Without shards it is wal_append. Borrows 'rec' for the
 * call. */
void shard_split_append(struct relay *r, const struct wal_record *rec, wal_done_cb *done,
                        void *arg);

/* Append a mark record to 'w': a statement whose one part is WAL_PART_MARK (no sender sends
 * it), 'text' its body (a comment saying what it marks), so that its sequence is a point in
 * log order: every record appended before is before it. Borrows 'text' for the call. */
void shard_split_append_mark(struct wal *w, const char *text, size_t len, wal_done_cb *done,
                             void *arg);

#endif
