/* The measurements a reshard is moving (relay/shard_moving.c): set by `influx-wal reshard
 * --apply` through POST /api/shards/moving, kept in the log's state, and the reason a relay
 * refuses a DELETE, DROP SERIES, DROP MEASUREMENT, DROP DATABASE or DROP RETENTION POLICY
 * that would delete points of one of them while they are copied. Loop thread only. */
#ifndef IWR_SHARD_MOVING_H
#define IWR_SHARD_MOVING_H

#include "common/buf.h"

#include <jansson.h>

#include <stddef.h>

struct conn;
struct iql_select;
struct http_req;
struct relay;
struct shard_moving;
struct wal;

/* The log's state that holds the set: "gen=G n=K seq=S", the set's JSON text in K pieces
 * named SHARD_MOVING_STATE ".G.I" (a state holds at most WAL_STATE_MAX bytes), S the
 * sequence of the mark record appended when it was set. Absent: nothing moves. */
#define SHARD_MOVING_STATE ".shards.moving"

/* The set kept in the log 'w' (may be NULL: empty) into *out (shard_moving_free). 0, or
 * IWR_ECORRUPT when the state cannot be read back (logged). */
int shard_moving_load(struct wal *w, struct shard_moving **out);
void shard_moving_free(struct shard_moving *mv);

/* ,"moving":[{"database":..,"measurement":..,"from":..,"to":..}],"moving_seq":S appended to
 * the shards object being written. */
void shard_moving_json(struct buf *b, const struct shard_moving *mv);

/* POST /api/shards/moving with a JSON body {"moves":[{"database","measurement","from","to"},
 * ...]} (other keys ignored): the set from now on; an empty list clears it; the same set again
 * changes nothing. Answers as GET /api/shards without backends, after the state is committed.
 * The caller checked admin credentials. */
void shard_moving_handle(struct conn *c, struct http_req *req, struct shard_moving *mv);

/* The relay's set (NULL without shards); relay/shard_active.c owns it. */
struct shard_moving *shard_active_moving(const struct relay *r);

/* Whether query q[0, len) (statements the log takes, db= 'db') would delete points of a
 * moving measurement: 1 with the reason in 'msg' (a sentence, for a 409), else 0. A DELETE or
 * DROP SERIES without FROM or with a regex, and DROP DATABASE or DROP RETENTION POLICY, count
 * for every measurement of their database; an empty 'db' matches every database. Pure over
 * the set. */
int shard_moving_refuses(const struct shard_moving *mv, const char *q, size_t len, const char *db,
                         size_t db_len, struct buf *msg);

/* Whether SELECT 's' (db= 'db') reads a moving measurement, with a tag in the shard key: its
 * moving series are then on the old shard and on the new one (copied) at once, and a merge
 * would count them twice. 1 with the reason in 'msg' (the statement's error), else 0. A
 * regex or subquery in FROM counts for every measurement of the database. Pure over the set. */
int shard_moving_reads(const struct shard_moving *mv, const struct iql_select *s, const char *db,
                       size_t db_len, struct buf *msg);

/* The InfluxQL condition met by the series whose tags match one of 'keys', a JSON array of
 * objects of tag names to values (a value "" matches a series without the tag, as influxd
 * has it), appended to 'b': (("a" = 'x' AND "b" = 'y') OR (...)). -1 (nothing appended) when
 * 'keys' is not a non-empty array of non-empty objects of strings. A reshard with a tag in
 * the shard key moves series by such keys: its copy selects them, its drop (POST
 * /api/shards/drop with {"keys":[...]}) deletes them. Pure. */
int shard_keys_where(struct buf *b, const json_t *keys);

#endif
