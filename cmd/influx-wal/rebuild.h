/* influx-wal rebuild's pieces, shared by its files: rebuild.c runs the command (its flags, the
 * order of the steps, retrying with a new start point), rebuild_state.c keeps the state
 * directory that makes a run resumable, rebuild_relays.c talks to the relays' rebuild
 * endpoints, rebuild_influxd.c asks influxd (/ping, /query), rebuild_copy.c checks the target and
 * moves the data with influxd backup and restore, rebuild_verify.c compares source and target
 * at the end. One thread; everything is owned by the struct rb of one run. */
#ifndef IWR_REBUILD_H
#define IWR_REBUILD_H

#include "cmd/influx-wal/influx.h"
#include "cmd/influx-wal/progress.h"

#include "common/buf.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_RELAYS 16
#define MAX_DBS 4096

struct rb_relay {
    const char *url; /* borrowed from argv or the config copy */
    char *shown;     /* url for messages, without its user:password@ (url_display) */
    uint64_t seq;    /* P as this relay answered it; 0 with !known */
    int known;
};

struct rb {
    struct cli *cli;
    const char *backend, *from;
    char dir[1024];
    struct rb_relay relays[MAX_RELAYS];
    size_t n_relays;
    char *dbs[MAX_DBS]; /* to restore, as the source listed them before the backup */
    size_t n_dbs;
    int restored[MAX_DBS];
    int restoring; /* index of the database being restored, -1 none */
    int backup_done;
    int have_state; /* the file existed */
    struct cli_backend src, dst;
    struct influx *qs, *qd;
    const char *influxd;
    char src_rpc[300], dst_rpc[300];
    struct progress pg;
    uint64_t bytes_total;
    uint64_t t0_ns;
    uint64_t verify_before_ns; /* verify counts points older than this (realtime) */
};

/* The first column of every row of every series, across chunks. */
struct names {
    char **v;
    size_t n, cap;
    const char *err;
};

/* A step done: a logfmt line, or on a terminal the progress line (rebuild.c). */
__attribute__((format(printf, 3, 4))) void rb_step(struct rb *r, uint64_t n, const char *fmt, ...);

/* rebuild_state.c: the state file in r->dir (rb_state_load: 0, have_state says whether there was
 * one, or 1 after a message; rb_state_save: 0 or 1 after a message), the list of databases, and
 * the directory helpers (rb_mkdirs: 0 or -errno; rb_remove_tree: rm -rf of a tree we made;
 * rb_tree_bytes: the bytes of the files below 'path'). */
int rb_state_save(struct rb *r);
int rb_state_load(struct rb *r);
void rb_dbs_clear(struct rb *r);
int rb_mkdirs(const char *path);
void rb_remove_tree(const char *path);
uint64_t rb_tree_bytes(const char *path);

/* rebuild_relays.c: op is "/start", "/finish" or "/abort" on relay i (0 with the answer's doc,
 * caller decrefs; 1 after a message; 3 when the relay lost the start point); rb_relays_start:
 * 0, 1 after a message, 4 when a relay took a new start point; rb_relays_lost: 1 lost, 0 not,
 * -1 after a message; rb_relays_caught_up: 1 when the backend is caught up on every relay;
 * rb_relays_default: the one relay to tell when no --relay is given (its URL in 'buf'). */
/* POST (or GET) base+path to a relay; the answer's JSON into *doc (caller decrefs). 0 with
 * *status set, or 1 after a message (unreachable, not JSON). Also used by reshard.c. */
int rb_relay_call(struct cli *cli, const char *base, int post, const char *path, long *status,
                  json_t **doc);
int rb_relay_change(struct rb *r, size_t i, const char *op, json_t **doc);
int rb_relays_start(struct rb *r);
int rb_relays_lost(struct rb *r);
int rb_relays_caught_up(struct rb *r);
void rb_relays_default(struct rb *r, const char *config_path, char *buf, size_t cap);

/* rebuild_influxd.c: rb_ping: 0, or 1 after a message (the backend is down); the collectors for
 * rb_query_sorted (the first column of every row; every row as "series|col=val|..."), which
 * runs 'q' and sorts what was collected into 'out' (0, or 1 after a message; the caller frees
 * 'out' with rb_names_free); rb_rpc_of: the backend's RPC "host:port" into 'out' (0, or 1 after
 * a message). */
int rb_ping(struct rb *r, const struct cli_backend *b, const char *role);
int rb_collect_names(void *arg, const json_t *result);
int rb_collect_rows(void *arg, const json_t *result);
void rb_names_free(struct names *nm);
int rb_names_has(const struct names *nm, const char *s);
int rb_query_sorted(struct rb *r, struct influx *c, const char *db, const char *q,
                    influx_result_fn *collect, struct names *out);
int rb_rpc_of(struct rb *r, const struct cli_backend *b, const char *given, char *out, size_t cap);

/* rebuild_copy.c: the steps that touch the target, each 0 or 1 after a message (or influxd's
 * failure code): the emptiness check, starting over (drop what was restored, forget the
 * backup), the backup from A and the restore into B. */
int rb_check_target(struct rb *r);
int rb_start_over(struct rb *r);
int rb_backup(struct rb *r);
int rb_restore(struct rb *r);

/* rebuild_verify.c: after finish, wait until B caught up on every relay and compare A and B
 * (retried while writes are in flight). 0 equal (*points: the points counted on B), 1 after a
 * message. */
int rb_verify(struct rb *r, uint64_t *points);

#endif
