/* Replay: one sender per backend on the daemon's libuv loop. Each reads the log after its
 * cursor, merges consecutive records with the same db/rp/precision into batches, POSTs them with
 * libcurl multi driven by the loop, and moves its cursor (through the log's writer) once the
 * backend acknowledged. Retries with backoff on transport errors and 5xx; isolates the lines a
 * backend refuses (400) into the dead-letter table and moves on. Loop thread only. */
#ifndef IWR_REPLAY_H
#define IWR_REPLAY_H

#include "common/hist.h"
#include "wal/wal.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct replay;

enum replay_start { REPLAY_START_LATEST = 0, REPLAY_START_EARLIEST = 1 };

/* The generation of InfluxDB a backend is, which decides its write API (replay/generation.h):
 * v1 /write (and 1.8's /api/v2/write callers never see), v2 /api/v2/write with an org and a
 * bucket, v3 /api/v3/write_lp with a database. */
enum replay_api { REPLAY_API_V1 = 0, REPLAY_API_V2 = 2, REPLAY_API_V3 = 3 };

/* A backend's options: the only definition, used by the daemon's config (config/ keeps one per
 * [[backend]]), the daemon and the CLI. replay_backend_opts_defaults gives the defaults shown;
 * a zero number given to replay_set_backends also means that default. The strings are
 * borrowed: replay_set_backends copies what it keeps, so whoever filled them frees them
 * (config_deinit for a loaded config's backends).
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
    uint64_t timeout_ms;         /* whole request; 10000 (/ping: at most 5000) */
    uint64_t connect_timeout_ms; /* 2000 */
    size_t batch_max_bytes;      /* 4 MiB; a single longer line is sent alone */
    size_t batch_max_points;     /* 5000 lines */
    size_t max_in_flight;        /* 2 */
    uint64_t retry_max_delay_ms; /* backoff cap; 30000 (it starts at 100 ms, with jitter) */
    enum replay_start start;     /* where a backend unknown to the log starts; latest */
    int create_database;         /* on 404 "database not found": CREATE DATABASE once, retry */
    uint64_t give_up_after_ms;   /* 0: never */
    size_t give_up_bytes;        /* 0: never */
    const char *shard;           /* NULL: every record; else only records with a part for this
                                  * shard (and the unsharded ones: statements, requeues) */
    /* The backend's generation and what it needs (api = "v1" | "v2" | "v3"). v2: 'org' (a
     * name), 'bucket_template' ({db} and {rp} replaced; NULL: "{db}/{rp}", an empty rp being
     * "autogen"); the token goes as "Authorization: Token". v3: 'database_template' (NULL:
     * "{db}": 3.x has no retention policies, every rp of a db lands in one database),
     * accept_partial and no_sync as write_lp's parameters; the token as "Bearer". v2 and v3
     * answer liveness on /health; create_database is for v1 only. */
    enum replay_api api;
    const char *org;
    const char *bucket_template;
    const char *database_template;
    int accept_partial;
    int no_sync;
    /* Ephemeral mode (influx-wal replay): send a range of the log to any URL, once. The sender
     * keeps its position in memory only: it never creates, moves or forgets a cursor and never
     * writes dead letters, so it also works on a log opened read-only. It sends the records
     * for backend 'source' (those targeted at no backend or at 'source'), starting after
     * from_seq - 1, or after the stored cursor of 'source' when from_seq is 0, through to_seq,
     * or through the log's highest sequence when it started when to_seq is 0 (a to_seq beyond
     * that is lowered to it). It never gives up (give_up_* are ignored); lines the URL refuses
     * go to 'refused' and are counted in dead_letters_total. replay_range_status tells when
     * it is done. 'name' only names it in status and logs. */
    int ephemeral;
    const char *source;          /* [A-Za-z0-9_.-]{1,64} */
    uint64_t from_seq;           /* 0: after the cursor of 'source' */
    uint64_t to_seq;             /* 0: the highest sequence at start */
    /* Lines the URL refused (a 4xx that a retry cannot fix): 'rec' is a view of them as a
     * record (rec->seq: the record they came from), 'answer' the HTTP status and body ("400
     * {...}"); both borrowed for the call. Runs on the loop; must not call into the engine.
     * NULL: logged as a warning. */
    void (*refused)(void *arg, const struct wal_record *rec, const char *answer,
                    size_t answer_len);
    void *refused_arg;
};

/* Fill 'o' with the defaults of every option: zero and NULL, except timeout 10 s, connect
 * timeout 2 s, batches of at most 4 MiB and 5000 points, 2 in flight, retry backoff capped at
 * 30 s, start latest. Any thread. */
void replay_backend_opts_defaults(struct replay_backend_opts *o);

/* Create the replay engine on 'loop' over log 'w' (borrowed; both outlive it). The log's
 * completions must run on this loop's thread (wal_options.wake -> uv_async_send -> an async
 * callback calling wal_complete). Calls curl_global_init once. 0 or -errno. */
int replay_new(struct replay **out, uv_loop_t *loop, struct wal *w);
/* Start or reconfigure: backends not present before start (their cursor is created at the
 * log's end, or before its first record with REPLAY_START_EARLIEST, unless the log already has
 * one); backends gone from the list stop and their cursor is forgotten, so they no longer hold
 * truncation back; the others take the new options (transfers in flight finish with the old
 * ones). Copies what it needs from 'b'. An ephemeral backend keeps the source and range it
 * started with, and stopping it forgets nothing. 0, IWR_EINVAL (bad or duplicate name, bad URL,
 * an ephemeral backend without a valid source, a backend turned ephemeral or back; nothing
 * changed) or IWR_ESTOPPED after replay_stop. */
int replay_set_backends(struct replay *r, const struct replay_backend_opts *b, size_t n);
/* New records were committed: wake the idle senders. Cheap; call after each append: kicks
 * within the same millisecond become one read. Without kicks, idle senders still look at
 * the log once a second (records appended by another process, a cursor moved by the CLI). */
void replay_kick(struct replay *r);
/* Sizes of the arrays in struct replay_backend_status. */
#define REPLAY_NAME_MAX 64          /* a backend name's bytes ([A-Za-z0-9_.-]) */
#define REPLAY_URL_MAX 255          /* the display URL's bytes (options allow 200) */
#define REPLAY_ERROR_MAX 255
#define REPLAY_CODES 8              /* distinct answer codes counted per backend */

/* One backend as its sender sees it: a copy, owned by whoever asked for it (replay_status),
 * made on the loop thread and safe to read anywhere afterwards. The lag figures are the only
 * lag there is: they agree with the log's head as of the last commit, are 0 exactly when the
 * backend is caught up, and nobody downstream should recompute them. */
struct replay_backend_status {
    char name[REPLAY_NAME_MAX + 1];
    char url[REPLAY_URL_MAX + 1]; /* without any user:password@ */
    char shard[REPLAY_NAME_MAX + 1]; /* its shard ([[shard]]); "" without shards */
    char kind[4];                 /* its api: "v1", "v2", "v3" */
    uint64_t unsupported_total;   /* statements with no equivalent for its kind (dead letters) */
    int up;                       /* last request or /ping reached it and got an answer it accepts */
    int caught_up;                /* cursor at the head of the log (for it), nothing in flight */
    int given_up;                 /* the give-up bound was hit; it no longer holds the log */
    uint64_t cursor;              /* last acknowledged sequence */
    uint64_t lag_records;         /* records logged after the cursor (ephemeral: of its range) */
    uint64_t lag_bytes;           /* body bytes after the cursor */
    double lag_seconds;           /* age of the oldest record after the cursor */
    uint64_t sent_points_total;   /* lines acknowledged by this backend (this process) */
    uint64_t sent_batches_total;
    uint64_t dead_letters_total;  /* lines sent to the dead letters (or refused) by this process */
    uint64_t retries_total;
    uint64_t corrupt_records_total; /* records that failed their checksum: skipped, never sent */
    uint64_t down_since_ns;       /* realtime; 0 while up */
    uint64_t last_ok_ns;
    char last_error[REPLAY_ERROR_MAX + 1]; /* "" after a success; never holds credentials */
    /* Write requests by answer: code_counts[i] counts answers codes[i] (0: transport failure),
     * in order of first sight; once all slots are taken, a new code is counted with a code of
     * its class (5xx, ...). */
    long codes[REPLAY_CODES];
    uint64_t code_counts[REPLAY_CODES];
    struct hist duration;         /* write requests' durations, seconds; static bounds */
    double drain_records_per_second; /* moving average of the cursor's speed */
    /* Being rebuilt from another backend (replay_rebuild): its sender is paused, its cursor
     * held at rebuild_from_seq (the source's position when the rebuild started) unless the
     * start point was lost (the log neared its limit: the cursor was let go). */
    int rebuilding;
    int rebuild_lost;
    uint64_t rebuild_from_seq;
    uint64_t rebuild_started_ns; /* realtime */
    char rebuild_source[REPLAY_NAME_MAX + 1];
    /* The statement barrier between relays (replay_set_peers). fence_wait_seq: the sender
     * holds at a fence until relay fence_origin applied its statement fence_wait_seq here (0:
     * not at a fence); fence_passed_*: the last fence it passed. barrier_wait_seq: the sender
     * holds statement barrier_wait_seq until every peer's sender for this backend is at its
     * fence (0: not waiting), since barrier_wait_since_ns (realtime). The timeouts count
     * waits given up after peer-timeout without an answer or progress. */
    uint64_t fence_wait_seq;
    char fence_origin[REPLAY_NAME_MAX + 1];
    uint64_t fence_passed_seq;
    char fence_passed_origin[REPLAY_NAME_MAX + 1];
    uint64_t barrier_wait_seq;
    uint64_t barrier_wait_since_ns;
    uint64_t barrier_timeouts_total, fence_timeouts_total;
    uint64_t oldest_unacked_ns; /* receive time of the first record after the cursor; 0 none */
};

/* A snapshot of every backend's status, in configuration order; caller frees *out (NULL when
 * n is 0). The senders refresh their lag once a second; the snapshot brings the record count
 * up to the log's head as of its last commit. Loop thread. */
void replay_status(struct replay *r, struct replay_backend_status **out, size_t *n);
/* Where an ephemeral backend is. The range is (after_seq, to_seq]. */
struct replay_range_status {
    int started;             /* the range is known (after_seq, to_seq are set) */
    int done;                /* every record in the range was acknowledged or refused */
    int rc;                  /* 0, or why it cannot start: IWR_ENOTFOUND (no cursor for
                              * 'source' in the log); done is set then */
    uint64_t after_seq, to_seq;
    uint64_t position;       /* everything up to here is acknowledged or refused */
    uint64_t records;        /* records of the range read so far */
    uint64_t points;         /* lines acknowledged */
    uint64_t batches;        /* writes acknowledged */
    uint64_t refused_lines;  /* lines the URL refused */
    uint64_t corrupt_records; /* records that failed their checksum: skipped, never sent */
};
/* The progress of ephemeral backend 'name'. 0, or IWR_ENOTFOUND when there is no ephemeral
 * backend of that name. Loop thread. */
int replay_range_status(struct replay *r, const char *name, struct replay_range_status *out);
/* ---- reads passed on to one backend (the daemon's GET|POST /query) ---- */

/* Every pointer is borrowed for the call. */
struct replay_query_req {
    const char *backend;  /* a configured backend's name */
    int post;             /* else GET */
    const char *target;   /* path and query string, "/query?db=..": appended to the base URL */
    size_t target_len;
    const char *headers;  /* request headers to send, "Name: value\r\n" each (the client's) */
    size_t headers_len;
    const char *body;
    size_t body_len;
};
/* How the answer comes back, on the loop thread ('arg' is replay_query's):
 * head: once, before any data: the status and the answer's headers worth passing on
 *   (Content-Type, Content-Encoding, Content-Length, Date, Request-Id, X-Request-Id,
 *   X-Influxdb-Version, X-Influxdb-Build, X-Influxdb-Error, WWW-Authenticate; "Name: value\r\n"
 *   each). data: a piece of the body, chunked framing removed, content encoding kept; return 0
 *   for more, 1 to pause until replay_query_resume, -1 to abort. done: once, last: rc 0 when the
 *   whole answer came, else the HTTP status fit for the failure (502 unreachable or broken, 504
 *   timed out, 503 stopping) with 'err' saying why. */
struct replay_query_cbs {
    void (*head)(void *arg, long status, const char *headers, size_t len);
    int (*data)(void *arg, const char *p, size_t len);
    void (*done)(void *arg, int rc, const char *err);
};
struct replay_query;
/* Send 'q' to backend q->backend on the engine's multi handle, with that backend's URL, TLS
 * options (ca_file, insecure_skip_verify) and timeouts (timeout_ms for the whole answer,
 * connect_timeout_ms), but never its credentials: the backend's username, password, token and
 * any user:password@ in its URL stay out; only what the caller put in headers and target go.
 * 0 with *out set (the transfer lives until 'done' ran), or IWR_ENOTFOUND (no such backend) or
 * IWR_ESTOPPED; no callback then. Loop thread. */
int replay_query(struct replay *r, const struct replay_query_req *q,
                 const struct replay_query_cbs *cb, void *arg, struct replay_query **out);
/* The daemon's own query, for its own purposes (the background scrub): as replay_query, but
 * with the backend's configured credentials (its URL's user:password@, username and password,
 * or token; never a client's), so the caller must not put any in q->headers or q->target.
 * For a client's request only to a 2.x or 3.x backend, after relay/ checked the client (those
 * know tokens, not the relay's users); otherwise the client would gain the backend's
 * privileges. Same returns. Loop thread. */
int replay_query_own(struct replay *r, const struct replay_query_req *q,
                     const struct replay_query_cbs *cb, void *arg, struct replay_query **out);
/* Resume a transfer whose data callback returned 1. Buffered data may be delivered from inside
 * this call. Loop thread. */
void replay_query_resume(struct replay_query *q);

/* ---- logged statements (records with WAL_REC_STATEMENT) ---- */

/* Each sender applies a statement record at its place in its stream: after every batch before
 * it is acknowledged (or dead-lettered), before anything after it is sent, with POST /query
 * (q, db, rp from the record; the backend's own credentials). 2xx without an "error" in the
 * answer: applied. An "error" in a 2xx answer, or another 4xx than 401/403: refused, a dead
 * letter with the answer, the stream moves on. 401/403: hold; 5xx and transport failures:
 * retry, as for writes. */

/* The first outcome of statement 'seq' on any backend. Borrowed for the callback. */
struct replay_statement_answer {
    const char *backend;
    long status;       /* the backend's HTTP status */
    const char *body;  /* its body (up to 64 KiB), not NUL-terminated */
    size_t body_len;
    int applied;       /* 1 applied, 0 refused */
};
/* rc 0 with 'a' set, -ETIMEDOUT when no backend applied or refused it within the timeout
 * (a NULL 'a'), IWR_ESTOPPED when the engine stops first. Runs on the loop, once. */
typedef void replay_statement_cb(void *arg, int rc, const struct replay_statement_answer *a);
/* Call 'cb' once statement record 'seq' is first applied or refused by a backend (at once when
 * that already happened lately), or after 'timeout_ms'. 0, or IWR_ESTOPPED (no callback).
 * Loop thread. */
int replay_statement_wait(struct replay *r, uint64_t seq, uint64_t timeout_ms,
                          replay_statement_cb *cb, void *arg);
/* ---- several relays: the statement barrier (fence.c) ---- */

/* Another relay feeding the same backends (under the same names). Borrowed for the call. */
struct replay_peer_opts {
    const char *name;     /* its [relay] name */
    const char *url;      /* its HTTP base URL */
    const char *username; /* NULL: none (Basic auth otherwise) */
    const char *password;
    const char *ca_file;  /* NULL: system CAs */
};
/* This relay is 'self'; its peers are 'p' (copied; replaces the previous list). Their
 * /api/peer/status is polled (every 200 ms while a barrier waits, else every second); every
 * barrier wait gives up after 'timeout_ms' without an answer or progress. 0 or IWR_EINVAL
 * (a bad URL or name). Loop thread. */
int replay_set_peers(struct replay *r, const char *self, const struct replay_peer_opts *p,
                     size_t n, uint64_t timeout_ms);
/* Statement record 'seq' was committed here: ask every peer to commit a fence for it
 * (POST /api/peer/fence?origin=SELF&seq=N); a peer that does not answer within the timeout
 * is counted and not waited for at that statement. Loop thread. */
void replay_peer_fence(struct replay *r, uint64_t seq);
/* The statement leader: the lowest name among this relay and its peers that answer. NULL when
 * it is this relay, else the peer's name (borrowed until the next call into the engine). */
const char *replay_peer_leader(struct replay *r);
/* As replay_query, to peer 'peer' (q->backend is not read): a statement forwarded to the
 * leader with the client's own credentials. IWR_ENOTFOUND: no such peer. Loop thread. */
int replay_peer_query(struct replay *r, const char *peer, const struct replay_query_req *q,
                      const struct replay_query_cbs *cb, void *arg, struct replay_query **out);
/* A peer as the last poll saw it. */
struct replay_peer_status {
    char name[REPLAY_NAME_MAX + 1];
    char url[REPLAY_URL_MAX + 1]; /* without any user:password@ */
    char kind[4];                 /* its api: "v1", "v2", "v3" */
    uint64_t unsupported_total;   /* statements with no equivalent for its kind (dead letters) */
    int up;                       /* its last poll answered (or none failed yet) */
    uint64_t last_ok_ns;          /* realtime of its last answer; 0: never */
    uint64_t polls_failed_total;
    uint64_t fences_failed_total; /* fence requests it did not answer in time */
    uint64_t barrier_timeouts_total; /* barriers given up waiting for it */
    /* Its backends: the most its senders lag (records) and the oldest receive time they have
     * not delivered (realtime ns, 0: none), for the background scrub's in-flight rule. */
    uint64_t max_lag_records;
    uint64_t oldest_unacked_ns;
};
/* Every peer, in configuration order; caller frees *out. Loop thread. */
void replay_peer_status(struct replay *r, struct replay_peer_status **out, size_t *n);
/* What the peers still hold for backends 'a' and 'b' (either), as their last polls said: the
 * most records any of their senders for a or b lags (*lag) and the oldest receive time those
 * senders have not delivered (*oldest_ns, realtime; 0: none). 1 when that is not known: a peer
 * is down or has not answered yet (*lag and *oldest_ns then cover the others); else 0. A peer
 * that does not feed a or b holds nothing for it. No peers: 0 with both 0. Loop thread. */
int replay_peer_pair_lag(struct replay *r, const char *a, const char *b, uint64_t *lag,
                         uint64_t *oldest_ns);

/* ---- rebuilding a backend from another (the daemon's /api/rebuild) ---- */

enum replay_rebuild_op {
    REPLAY_REBUILD_START = 0,  /* pause 'backend', hold its cursor at the source's position */
    REPLAY_REBUILD_FINISH = 1, /* the restore is done: resume sending after that position */
    REPLAY_REBUILD_ABORT = 2,  /* give up the rebuild: resume sending as FINISH does */
};
/* A rebuild as its backend's sender holds it. */
struct replay_rebuild_info {
    char backend[REPLAY_NAME_MAX + 1];
    char source[REPLAY_NAME_MAX + 1];
    int active;          /* the backend is paused for a rebuild */
    int lost;            /* the start point was let go: start again for a new one */
    int resumed;         /* START found this very rebuild already under way (same source) */
    uint64_t from_seq;   /* the start point P: the source had applied every record <= P */
    uint64_t started_ns; /* realtime */
    uint64_t head_seq;   /* the log's highest sequence when answered */
};
/* 'done' runs on the loop once the change is durable in the log (the state and the cursor
 * survive a restart), or at once on a refusal: rc 0 with 'info' set; IWR_ENOTFOUND (no such
 * backend or source), IWR_EINVAL (backend and source the same, an ephemeral one, the source
 * itself being rebuilt, a rebuild from another source under way, FINISH or ABORT of a backend
 * not being rebuilt), IWR_ECONFLICT (FINISH after the start point was lost), IWR_ESTOPPED,
 * or a log error; 'msg' says why in one sentence (static or borrowed for the call). */
typedef void replay_rebuild_cb(void *arg, int rc, const struct replay_rebuild_info *info,
                               const char *msg);
/* START pauses the backend's sender within the call (writes in flight are aborted, nothing
 * queued is kept: the records stay in the log), sets its cursor to the source's stored cursor
 * P and records the rebuild (the log's per-backend state, wal_state_set); a START of a rebuild
 * already under way from the same source answers the same P (resumed), unless its start point
 * was lost, when it takes a new one. While paused, once a second: when the log passes 90% of
 * its limit, or its cursor was moved by someone else (drop-oldest, the CLI), the start point is
 * lost: the cursor is forgotten, so that it no longer holds truncation back, and FINISH refuses
 * until a new START. FINISH and ABORT clear the state; the sender then resumes after its
 * stored cursor (P), or at the log's end when it was lost (ABORT). 'source' is read by START
 * only. Loop thread. */
void replay_rebuild(struct replay *r, enum replay_rebuild_op op, const char *backend,
                    const char *source, replay_rebuild_cb *done, void *arg);
/* The rebuild of 'backend' as it stands (info->active 0: none). 0 or IWR_ENOTFOUND. Loop. */
int replay_rebuild_status(struct replay *r, const char *backend, struct replay_rebuild_info *info);

/* Stop: abort what is in flight (the records stay in the log; queries get done(503)), close
 * every handle. 'done'
 * runs on the loop once all handles are closed and every log operation the senders submitted
 * has completed, so the caller keeps running wal_complete (its async handle) until then.
 * Call once; then replay_free. */
void replay_stop(struct replay *r, void (*done)(void *arg), void *arg);
/* Free the engine after replay_stop's 'done' ran. NULL is fine. */
void replay_free(struct replay *r);

#endif
