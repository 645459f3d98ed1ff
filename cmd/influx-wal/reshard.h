/* influx-wal reshard's pieces: reshard.c runs the command and the steps of --apply,
 * reshard_plan.c talks to the relays, makes the plan and keeps the state file, reshard_copy.c
 * brings one measurement from an old shard's backend to a new
 * shard's backend (and says what the new one still lacks). One thread; everything is owned by
 * the struct reshard of one run. */
#ifndef IWR_RESHARD_H
#define IWR_RESHARD_H

#include "cmd/influx-wal/influx.h"
#include "cmd/influx-wal/progress.h"

#include <jansson.h>

#include <stddef.h>
#include <stdint.h>

/* What moves: database, measurement (as SHOW MEASUREMENTS names it), the shard it leaves and
 * the one it goes to, its points on the old shard when planned. With a tag in the [sharding]
 * key a move is some of the measurement's series: 'keys' (owned) lists the values of the key's
 * tags of each (a JSON array of objects, at most RS_KEYS_PER_MOVE; "" for a series without the
 * tag) and 'where' is the InfluxQL condition they meet (shard_keys_where); both NULL when the
 * whole measurement moves. */
struct reshard_move {
    char *db, *m, *from, *to;
    json_t *keys;
    char *where;
    uint64_t points;
    uint64_t drop_seq; /* --apply: the DROP's sequence in the log of relay drop_relay */
    size_t drop_relay; /* the relay that took it: with [[peer]]s the leader, else the first */
};

#define RS_KEYS_PER_MOVE 64

/* What the copy of one measurement did: the values (a field of a point) the target lacked, the
 * points written to it (0 with RESHARD_COUNT) and, after the switch, the values both sides
 * hold with different values (the target's kept). */
struct reshard_sync {
    uint64_t lacking, written;
    uint64_t differing; /* RESHARD_FILL, RESHARD_COUNT: values both hold, not alike (kept) */
};

/* What reshard_sync_measurement writes to the target. */
enum reshard_mode {
    RESHARD_OVERWRITE, /* every field the target lacks or holds with another value: before the
                        * switch, when the target holds nothing but copies */
    RESHARD_FILL,      /* only the fields the target lacks: after the switch, when a value the
                        * target holds may be a rewrite that went to the new shard */
    RESHARD_COUNT      /* nothing: count what the target lacks */
};

/* Bring measurement 'm' of 'db' (every retention policy 'src' has for it; with 'where' not
 * NULL only its series meeting that condition) from 'src' to 'dst': for each hour whose figures (scrub/window.h: count and sum per field) differ, read the
 * hour point by point on both sides and write to 'dst' the fields 'mode' says, as line
 * protocol. Creates the database and retention policies on 'dst' as 'src' has them (not with
 * RESHARD_COUNT). out->lacking counts the values 'dst' lacks (RESHARD_FILL, RESHARD_COUNT) or
 * lacks or holds otherwise (RESHARD_OVERWRITE). 'pg' (may be NULL) is stepped by the points
 * written. 0, or 1 after a message. */
int reshard_sync_measurement(struct cli *cli, struct influx *src, struct influx *dst,
                             const char *db, const char *m, const char *where,
                             enum reshard_mode mode,
                             struct progress *pg, struct reshard_sync *out);

#include "cmd/influx-wal/rebuild.h"
#include "config/config.h"

#define MAX_URLS 16
#define MAX_SHARDS 64

/* A relay the reshard switches: its URL, and the sequence of its switch record. */
struct rs_relay {
    const char *url;
    char *shown; /* url for messages, without its user:password@ (url_display) */
    uint64_t switch_seq; /* 0: not switched yet */
    uint64_t moving_seq; /* the record of the moving set it was given (this run) */
};

/* rs_backend_on_relays's 'seq' for each relay's own record: the switch, the moving set. */
#define RS_SEQ_SWITCH UINT64_MAX
#define RS_SEQ_MOVING (UINT64_MAX - 1)

/* One run of `influx-wal reshard` (reshard.c). */
struct reshard {
    struct cli *cli;
    const char *config_path;
    struct config cfg;
    const char *urls[MAX_URLS];
    size_t n_urls;
    struct rs_relay relays[MAX_RELAYS];
    size_t n_relays;
    char *active[MAX_SHARDS], *target[MAX_SHARDS]; /* the rings: now, and every shard */
    size_t n_active, n_target;
    struct reshard_move *moves;
    size_t n_moves;
    char state_path[1100];
    char phase[16]; /* the step reached: "copy", "switch", "settle", "sync", "drop", "done" */
    int json, keep_old;
    uint64_t timeout_ms;
    struct progress pg;
    uint64_t copied; /* points written to the new shards, this run */
};

/* A backend opened by name (rs_conn_open). */
struct rs_conn {
    struct cli_backend be;
    struct influx *c;
};

/* The largest value of any column but time in a SELECT count(*) answer (rs_count_result). */
struct rs_count {
    uint64_t max;
};

/* reshard_plan.c: the relays, the backends, the plan and the state file. Each int function
 * returns 0, or 1 after a message.
 *   rs_names_clear/rs_names_have/rs_names_of: a list of shard names (owned strings)
 *   rs_moves_clear: forget the moves
 *   rs_csv: "a,b,c" into b (NUL after it, not counted)
 *   rs_relay_shards: GET /api/shards on relay i into *doc (caller decrefs)
 *   rs_read_active: the active shards, the same on every relay, into rs->active
 *   rs_backend_on_relays: whether backend 'name' is up and caught up on every relay (*ok), and
 *     whether its cursor is at or past 'seq' on every relay (*passed; seq per relay from
 *     rs->relays[].switch_seq with RS_SEQ_SWITCH, .moving_seq with RS_SEQ_MOVING; with 'seq'
 *     0: whether it is up on every relay)
 *   rs_shard_cfg: the [[shard]] named so, or NULL
 *   rs_pick_backend: a backend of the shard, caught up on every relay if one is (asked a few
 *     times: under load a backend is caught up between batches), else one up on every relay
 *   rs_conn_open/rs_conn_close: a backend by name, as the config or --url gives it
 *   rs_show_names: the first column of a SHOW's rows; rs_count_result: the collector for
 *     struct rs_count; rs_count_points: the points of measurement 'm' in every retention
 *     policy of 'db' (per policy the largest field count of SELECT count(*), summed; with
 *     'where' not NULL of its series meeting it)
 *   rs_make_plan: the moves from rs->active to rs->target (added to rs->moves, except those
 *     it already has: the sync plans again for what appeared since); rs_print_plan: them on
 *     stdout
 *   rs_state_save/rs_state_load (rs->phase "" when there is no file)/rs_set_phase */
void rs_names_clear(char **v, size_t *n);
int rs_names_have(char *const *v, size_t n, const char *s);
void rs_names_of(const json_t *a, char **v, size_t *n);
void rs_moves_clear(struct reshard *rs);
void rs_csv(struct buf *b, char *const *v, size_t n);
int rs_relay_shards(struct reshard *rs, size_t i, json_t **doc);
int rs_read_active(struct reshard *rs);
int rs_backend_on_relays(struct reshard *rs, const char *name, uint64_t seq, int *ok, int *passed);
const struct cfg_shard *rs_shard_cfg(const struct reshard *rs, const char *name);
int rs_pick_backend(struct reshard *rs, const char *name, const char **out);
int rs_conn_open(struct reshard *rs, const char *name, struct rs_conn *k);
void rs_conn_close(struct rs_conn *k);
int rs_show_names(struct reshard *rs, struct influx *c, const char *q, struct names *out);
int rs_count_result(void *arg, const json_t *res);
int rs_count_points(struct reshard *rs, struct influx *c, const char *db, const char *m,
                    const char *where, uint64_t *out);
int rs_make_plan(struct reshard *rs);
void rs_print_plan(const struct reshard *rs);
int rs_state_save(struct reshard *rs);
int rs_state_load(struct reshard *rs);
int rs_set_phase(struct reshard *rs, const char *phase);

#endif
