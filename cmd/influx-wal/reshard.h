/* influx-wal reshard's pieces: reshard.c runs the command (the plan, the state file, the steps
 * of --apply), reshard_copy.c brings one measurement from an old shard's backend to a new
 * shard's backend (and says what the new one still lacks). One thread; everything is owned by
 * the struct reshard of one run. */
#ifndef IWR_RESHARD_H
#define IWR_RESHARD_H

#include "cmd/influx-wal/influx.h"
#include "cmd/influx-wal/progress.h"

#include <stddef.h>
#include <stdint.h>

/* One measurement that moves: database, measurement (as SHOW MEASUREMENTS names it), the
 * shard it leaves and the one it goes to, its points on the old shard when planned. */
struct reshard_move {
    char *db, *m, *from, *to;
    uint64_t points;
    uint64_t drop_seq; /* --apply: the DROP MEASUREMENT's sequence in the first relay's log */
};

/* What the copy of one measurement did: the values (a field of a point) the target lacked and
 * the points written to it (0 with copy off: only counted). */
struct reshard_sync {
    uint64_t lacking, written;
};

/* What reshard_sync_measurement writes to the target. */
enum reshard_mode {
    RESHARD_OVERWRITE, /* every field the target lacks or holds with another value: before the
                        * switch, when the target holds nothing but copies */
    RESHARD_FILL,      /* only the fields the target lacks: after the switch, when a value the
                        * target holds may be a rewrite that went to the new shard */
    RESHARD_COUNT      /* nothing: count what the target lacks */
};

/* Bring measurement 'm' of 'db' (every retention policy 'src' has for it) from 'src' to
 * 'dst': for each hour whose figures (scrub/window.h: count and sum per field) differ, read the
 * hour point by point on both sides and write to 'dst' the fields 'mode' says, as line
 * protocol. Creates the database and retention policies on 'dst' as 'src' has them (not with
 * RESHARD_COUNT). out->lacking counts the values 'dst' lacks (RESHARD_FILL, RESHARD_COUNT) or
 * lacks or holds otherwise (RESHARD_OVERWRITE). 'pg' (may be NULL) is stepped by the points
 * written. 0, or 1 after a message. */
int reshard_sync_measurement(struct cli *cli, struct influx *src, struct influx *dst,
                             const char *db, const char *m, enum reshard_mode mode,
                             struct progress *pg, struct reshard_sync *out);

#endif
