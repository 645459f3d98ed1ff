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

/* A zero number means the default shown.
 * url: http or https, at most 200 bytes, a trailing '/' dropped; user:password@ in it works
 * but is never shown in status or logs.
 * max_in_flight: batches in memory and on the wire; after a failure one at a time until a
 * write is acknowledged. The cursor always moves in log order; with more than one in flight a
 * resent batch can land after a later one, which is harmless with explicit timestamps unless
 * one series and timestamp is written twice with different values inside the window. */
struct replay_backend_opts {
    const char *name;            /* [A-Za-z0-9_.-]{1,64} */
    const char *url;             /* base URL: "http://127.0.0.1:8086" */
    const char *username;        /* NULL: none (u/p sent as Basic auth) */
    const char *password;
    const char *token;           /* NULL: none ("Authorization: Token ..."; wins over u/p) */
    const char *ca_file;         /* NULL: system CAs */
    int insecure_skip_verify;    /* no TLS peer or host check (logged as a warning) */
    int gzip;                    /* Content-Encoding: gzip on writes */
    uint64_t timeout_ms;         /* whole request; 30000 (/ping: at most 5000) */
    uint64_t connect_timeout_ms; /* 5000 */
    size_t batch_max_bytes;      /* 1 MiB; a single longer line is sent alone */
    size_t batch_max_points;     /* 5000 lines */
    size_t max_in_flight;        /* 2 */
    uint64_t retry_max_delay_ms; /* backoff cap; 30000 (it starts at 100 ms, with jitter) */
    enum replay_start start;     /* where a backend unknown to the log starts */
    int create_database;         /* on 404 "database not found": CREATE DATABASE once, retry */
    uint64_t give_up_after_ms;   /* 0: never */
    size_t give_up_bytes;        /* 0: never */
};

/* Create the replay engine on 'loop' over log 'w' (borrowed; both outlive it). The log's
 * completions must run on this loop's thread (wal_options.wake -> uv_async_send -> an async
 * callback calling wal_complete). Calls curl_global_init once. 0 or -errno. */
int replay_new(struct replay **out, uv_loop_t *loop, struct wal *w);
/* Start or reconfigure: backends not present before start (their cursor is created at the
 * log's end, or before its first record with REPLAY_START_EARLIEST, unless the log already has
 * one); backends gone from the list stop and their cursor is forgotten, so they no longer hold
 * truncation back; the others take the new options (transfers in flight finish with the old
 * ones). Copies what it needs from 'b'. 0, IWR_EINVAL (bad or duplicate name, bad URL;
 * nothing changed) or IWR_ESTOPPED after replay_stop. */
int replay_set_backends(struct replay *r, const struct replay_backend_opts *b, size_t n);
/* New records were committed: wake the idle senders. Cheap; call after each append: kicks
 * within the same millisecond become one read. Without kicks, idle senders still look at
 * the log once a second (records appended by another process, a cursor moved by the CLI). */
void replay_kick(struct replay *r);
/* A snapshot of every backend's status, in configuration order; caller frees *out (NULL when
 * n is 0). Lag figures are refreshed once a second (0 when caught up). duration_buckets[i]
 * counts write requests that took at most status_duration_bounds[i] and more than the bound
 * before it (not cumulative, like struct wal_hist); slower ones only count in duration_count.
 * codes[]/code_counts[] count write answers (0: transport failure) in order of first sight;
 * once all slots are taken, a new code is counted with a code of its class (5xx, ...). */
void replay_status(struct replay *r, struct backend_status **out, size_t *n);
/* Stop: abort what is in flight (the records stay in the log), close every handle. 'done'
 * runs on the loop once all handles are closed and every log operation the senders submitted
 * has completed, so the caller keeps running wal_complete (its async handle) until then.
 * Call once; then replay_free. */
void replay_stop(struct replay *r, void (*done)(void *arg), void *arg);
/* Free the engine after replay_stop's 'done' ran. NULL is fine. */
void replay_free(struct replay *r);

#endif
