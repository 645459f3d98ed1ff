/* Splitting a request's normalised lines by shard before they are committed (relay/
 * shard_split.c). Loop thread only. */
#ifndef IWR_SHARD_SPLIT_H
#define IWR_SHARD_SPLIT_H

#include "wal/wal.h"

#include <stddef.h>

struct relay;
struct shard_split;

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

/* Append 'rec' (line protocol, every line ending in '\n') to the relay's log as wal_append
 * does, but with its lines grouped by shard into parts (struct wal_record in wal/wal.h): one
 * record, so one transaction and one 'done'. Without shards it is wal_append. Borrows 'rec'
 * for the call. */
void shard_split_append(struct relay *r, const struct wal_record *rec, wal_done_cb *done,
                        void *arg);

#endif
