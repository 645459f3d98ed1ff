/* Replay: one sender per backend on the daemon's libuv loop. Each reads the log after its
 * cursor, merges consecutive records with the same db/rp/precision into batches, POSTs them with
 * libcurl multi driven by the loop, and moves its cursor (through the log's writer) once the
 * backend acknowledged. Retries with backoff on transport errors and 5xx; isolates the lines a
 * backend refuses (400) into the dead-letter table and moves on. Loop thread only. */
#ifndef IWR_REPLAY_H
#define IWR_REPLAY_H

#include "common/status.h"
#include "wal/wal.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct replay;

enum replay_start { REPLAY_START_LATEST = 0, REPLAY_START_EARLIEST = 1 };

struct replay_backend_opts {
    const char *name;            /* [A-Za-z0-9_.-]{1,64} */
    const char *url;             /* base URL: "http://127.0.0.1:8086" */
    const char *username;        /* NULL: none (u/p sent as Basic auth) */
    const char *password;
    const char *token;           /* NULL: none ("Authorization: Token ...") */
    const char *ca_file;         /* NULL: system CAs */
    int insecure_skip_verify;
    int gzip;
    uint64_t timeout_ms;
    uint64_t connect_timeout_ms;
    size_t batch_max_bytes;
    size_t batch_max_points;
    size_t max_in_flight;
    uint64_t retry_max_delay_ms;
    enum replay_start start;
    int create_database;
    uint64_t give_up_after_ms;   /* 0: never */
    size_t give_up_bytes;        /* 0: never */
};

/* Create the replay engine on 'loop' over log 'w' (borrowed; both outlive it). 0 or -errno. */
int replay_new(struct replay **out, uv_loop_t *loop, struct wal *w);
/* Start or reconfigure: backends not present before start (their cursor is created at the
 * log's end, or before its first record with REPLAY_START_EARLIEST, unless the log already has
 * one); backends gone from the list stop and their cursor is forgotten, so they no longer hold
 * truncation back; the others take the new options. Copies what it needs from 'b'. 0 or
 * IWR_EINVAL (bad name or URL; nothing changed). */
int replay_set_backends(struct replay *r, const struct replay_backend_opts *b, size_t n);
/* New records were committed: wake the idle senders. Cheap; call after each append. */
void replay_kick(struct replay *r);
/* A snapshot of every backend's status; caller frees *out. */
void replay_status(struct replay *r, struct backend_status **out, size_t *n);
/* Stop: abort what is in flight (the records stay in the log), close every handle. 'done'
 * runs on the loop once all handles are closed; then replay_free. */
void replay_stop(struct replay *r, void (*done)(void *arg), void *arg);
void replay_free(struct replay *r);

#endif
