/* Internals shared by the files of replay/: batches (batch.c), one sender per backend (its
 * options in conf.c, its transfers in request.c, its state machine in sender.c, its reading of
 * the log in sender_read.c, its status in status.c, its position and refused lines behind a
 * store: cursor.c + dead.c for the daemon, range.c for the CLI), reads passed on to a backend
 * (query.c), and the engine that owns the CURLM, the timer and the socket watches (replay.c).
 * Not for use outside replay/. Everything here runs on the loop thread, except the pure batch
 * functions, which any thread may call. */
#ifndef IWR_REPLAY_INT_H
#define IWR_REPLAY_INT_H

#include "common/buf.h"
#include "replay/adapt.h"
#include "replay/classify.h"
#include "replay/replay.h"
#include "wal/wal.h"

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* ---- batch.c: building and splitting batches (pure) ---------------------------------------- */

/* A span of time, both ends included, in ns. */
struct time_range {
    int64_t lo, hi;
};

/* Lines in a batch that came from one record. */
struct batch_seg {
    uint64_t seq; /* the record they came from */
    uint64_t recv_ns;
    uint64_t offset; /* the record's 'offset' as stored */
    uint16_t flags;
    uint8_t consistency;
    uint8_t rec_end; /* these lines end their record (nothing of it comes later) */
    size_t off, len; /* bytes in the batch body */
    size_t lines;
    /* The lowest and highest time of its lines, in the batch's precision as stored (read when
     * the lines are added); t_wild: a line's time could not be read. */
    int64_t t_lo, t_hi;
    uint8_t t_wild;
};

enum batch_state {
    BATCH_QUEUED = 0, /* built, or waiting to be resent */
    BATCH_SENDING,    /* a request is in flight */
    BATCH_DEAD,       /* its lines are being written to the dead letters */
    BATCH_DEAD_RETRY, /* writing the dead letters failed; try again after a backoff */
    BATCH_DONE,       /* acknowledged or dead-lettered: the cursor may pass it */
};

/* A run of lines with one db, rp and precision: one POST. Owns its strings and body. */
struct batch {
    struct batch *next;
    char *db;
    char *rp;
    uint8_t precision;
    struct buf body; /* line protocol, every line ending in '\n' */
    size_t lines;
    struct batch_seg *segs;
    size_t n_segs, cap_segs;
    uint64_t end_seq; /* the cursor once this batch and every one before it are done */
    /* The sender's bookkeeping. */
    enum batch_state state;
    char *gz; /* the body gzip'd, made on first send and kept for resends */
    size_t gz_len;
    size_t dead_pending; /* dead-letter writes in flight */
    int dead_failed;
    int orphan;           /* dropped by its sender while dead letters were in flight */
    struct sender *owner; /* for the dead-letter callbacks */
    char *answer;         /* DEAD: the backend's answer, stored with the lines */
    size_t answer_len;
    int fence;            /* a fence between relays (WAL_REC_FENCE, fence.c): never sent; it
                           * passes once its origin applied statement fence_stmt */
    uint64_t fence_stmt;
    char fence_origin[REPLAY_NAME_MAX + 1];
    int stmt;             /* a logged statement (WAL_REC_STATEMENT): body is its InfluxQL
                           * text, one segment; sent alone, once everything before it is done,
                           * and nothing after it goes before it is done (statement.c) */
    int native_stmt;      /* for a v2/v3 backend: its enum gen_stmt (statement.c) */
    int native_step;      /* 2.x: 0 looks up the org's or bucket's ID, 1 uses it */
    char native_id[40];   /* that ID */
    /* What batch_overlap makes on first use: 1 the times of its segments in ns, sorted and
     * merged into disjoint ranges (iv: n_iv pairs lo, hi); 2 the keys too. keys_wild: a
     * line's time could not be read (it overlaps anything). */
    int keys_made, keys_wild;
    struct time_range *iv;
    size_t n_iv;
    uint64_t *keys; /* one per line, a hash of series and time, sorted */
    size_t n_keys;
    uint64_t ticket; /* its last send (adapt_sent) */
};

struct batch_limits {
    size_t max_bytes;  /* body bytes; a single longer line still travels alone */
    size_t max_points; /* lines */
};

/* A new empty batch with rec's db, rp and precision. Caller frees (batch_free). */
struct batch *batch_new(const struct wal_record *rec);
void batch_free(struct batch *b);
/* Whether 'rec' has the batch's db, rp and precision. */
int batch_same_key(const struct batch *b, const struct wal_record *rec);
/* Append the lines of rec->body from byte 'from' (a line start) while they fit the limits; an
 * empty batch takes at least one line. Empty lines are dropped, a last line without '\n' gets
 * one. Returns the bytes of rec->body consumed; 'from' + that == body_len means rec is done. */
size_t batch_add(struct batch *b, const struct wal_record *rec, size_t from,
                 const struct batch_limits *lim);
/* What batch_add_known learnt of a record it took whole from its start, for the next sender to
 * take the same record (every sender reads every record). seq 0: nothing known. */
struct batch_known {
    uint64_t seq;
    size_t body_len, lines;
    uint64_t head, tail; /* its first and last 8 bytes (fewer: zero-padded), a check */
    int64_t t_lo, t_hi;  /* its lines' times as stored, as in a segment */
    uint8_t t_wild;
    uint8_t clean; /* every line ends in '\n' and none is empty: it may be copied whole */
};
/* batch_add, with what is known of the record: a record known to be clean that fits whole is
 * copied in one piece without reading its lines; one taken whole from its start is described
 * in 'k' for the next caller. 'k' NULL: batch_add. */
size_t batch_add_known(struct batch *b, const struct wal_record *rec, size_t from,
                       const struct batch_limits *lim, struct batch_known *k);
/* Set end_seq from the last segment: its record's seq when the record ends here, else the seq
 * before it (so the cursor never passes a record with lines still unsent). Returns it. */
uint64_t batch_seal(struct batch *b, uint64_t prev_end);
/* Split a batch of two or more lines into two halves by line count; 'b' is left untouched.
 * The halves are sealed (first->end_seq may be below b's). Caller frees them. */
void batch_split(const struct batch *b, struct batch **first, struct batch **second);
/* The same, with 'want' lines (1 <= want < b->lines) in the first part. */
void batch_split_at(const struct batch *b, size_t want, struct batch **first,
                    struct batch **second);
/* How many lines from the start of 'b' fit in 'max_bytes' (at least 1). */
size_t batch_lines_within(const struct batch *b, size_t max_bytes);
/* Whether 'a' and 'b' may hold a point of the same series (measurement and tags, in any order)
 * and timestamp: 1 when they do, or when a line's time cannot be read; 0 only when they
 * certainly do not (64-bit hashes: a collision makes a false 1, never a false 0). Caches what
 * it computes in both. */
int batch_overlap(struct batch *a, struct batch *b);
/* A view of segment 'i' as a record (for wal_dead_add): borrows b. */
void batch_seg_record(const struct batch *b, size_t i, struct wal_record *rec);
/* gzip 'len' bytes into a malloc'd buffer (caller frees). 0 or -ENOMEM/-EINVAL. */
int batch_gzip(const char *in, size_t len, char **out, size_t *out_len);
/* base + "/write?db=..&rp=..&precision=.." with the values percent-encoded; rp left out when
 * empty. */
void batch_write_url(struct buf *out, const char *base, const char *db, const char *rp,
                     uint8_t precision);
/* The form body "q=CREATE DATABASE \"db\"" for POST /query, percent-encoded. */
void batch_create_db_form(struct buf *out, const char *db);
/* The form body "q=..&db=..&rp=.." of a logged statement for POST /query, percent-encoded;
 * db and rp left out when empty. */
void batch_statement_form(struct buf *out, const char *q, size_t q_len, const char *db,
                          const char *rp);
/* The query-string name of a stored precision byte for a 1.x backend: lp_precision_v1_name. */
const char *batch_precision_name(uint8_t precision);

/* ---- conf.c: a backend's options ----------------------------------------------------------- */

/* A backend's options, copied and defaulted; immutable once made, shared by the requests that
 * use them (refcounted), so a reconfiguration never pulls strings from under a transfer. */
struct sender_conf {
    int refs;
    char *name;
    char *url;         /* base, no trailing '/' */
    char *display_url; /* without any user:password@ */
    char *username, *password, *token, *ca_file;
    char *shard; /* NULL: unsharded (see struct replay_backend_opts) */
    int insecure_skip_verify, gzip, create_database;
    enum replay_api api;
    char *org, *bucket_template, *database_template;
    int accept_partial, no_sync;
    uint64_t timeout_ms, connect_timeout_ms, retry_max_delay_ms, give_up_after_ms;
    size_t batch_max_bytes, batch_max_points, max_in_flight, give_up_bytes;
    size_t batch_min_bytes, min_in_flight; /* the adaptive limits' floors (adapt.h) */
    enum replay_start start;
    int ephemeral; /* see struct replay_backend_opts */
    char *source;
    uint64_t from_seq, to_seq;
    void (*refused)(void *arg, const struct wal_record *rec, const char *answer,
                    size_t answer_len);
    void *refused_arg;
    struct curl_slist *write_headers; /* Content-Type, Expect:, encoding, token */
    struct curl_slist *ctl_headers;   /* token */
    struct curl_slist *json_headers;  /* token, Content-Type: application/json (v3 statements) */
};

/* Copy and default 'o'; refcount 1. Caller releases with sender_conf_unref. */
struct sender_conf *sender_conf_new(const struct replay_backend_opts *o);
void sender_conf_unref(struct sender_conf *c);
/* An http(s) base URL that libcurl reads, written with "://" (curl alone would also take
 * "http:/h"), at most 200 bytes, without white space. */
int replay_url_valid(const char *url);
/* 'url' without any user:password@ (libcurl's URL parser; the text as given otherwise).
 * Caller frees. */
char *replay_display_url(const char *url);

/* ---- the sender (sender.c) -------------------------------------------------------------------- */

enum sender_mode {
    MODE_STARTING = 0, /* finding or creating its cursor */
    MODE_UP,
    MODE_DOWN,     /* unreachable or 5xx: nothing is sent until /ping answers */
    MODE_HOLD,     /* refused for configuration reasons: resend after backoff */
    MODE_GIVEN_UP, /* cursor forgotten; probing /ping to resume at the end */
    MODE_PAUSED,   /* being rebuilt from another backend: nothing is read or sent (rebuild.c) */
    MODE_STOPPED,
};

enum req_kind { REQ_WRITE = 0, REQ_PING, REQ_CREATE_DB, REQ_QUERY };

#define REPLAY_RESP_MAX 4096

/* One transfer on the engine's multi handle. */
struct request {
    struct request *next; /* in its sender's list, or the engine's queries */
    struct replay *r;
    struct sender *s;         /* NULL for REQ_QUERY */
    struct replay_query *query; /* REQ_QUERY: its callbacks and state (query.c) */
    struct sender_conf *conf; /* a reference */
    enum req_kind kind;
    struct batch *batch; /* REQ_WRITE: borrowed from the sender's queue */
    CURL *easy;
    struct buf resp; /* the first resp_max bytes of the answer (not for REQ_QUERY) */
    size_t resp_max; /* REPLAY_RESP_MAX, or more for a statement (its answer goes to a client) */
    char errbuf[CURL_ERROR_SIZE];
    int added;  /* on the multi handle */
    int failed; /* on the engine's failed list */
    struct request *fail_next;
};

#define SENDER_SPARE_BODIES 4 /* the default max-in-flight */

struct sender {
    struct sender *next;
    struct replay *r;
    struct sender_conf *conf;
    const struct sender_store *store; /* fixed at creation: the log, or memory (ephemeral) */
    struct wal_reader *reader;
    enum sender_mode mode;
    int wal_ops; /* log operations in flight whose callbacks point here */
    int retired; /* removed or engine stopping: freed once wal_ops is 0 */
    /* The cursor. */
    uint64_t acked;  /* as stored, as far as we know */
    uint64_t target; /* where it may move: everything up to here is done */
    int move_pending;
    int move_blocked; /* a move failed: wait for the backoff before the next */
    /* Reading. */
    uint64_t read_seq;  /* records up to here are in batches, sent or skipped */
    uint64_t part_seq;  /* a record read only in part (0: none) ... */
    size_t part_off;    /* ... and how many bytes of its body are in batches */
    uint64_t high_seen; /* highest sequence seen in the log */
    int fill_wanted;    /* kicked since the last read */
    int read_all;       /* the last read reached the end of the log */
    /* The window: batches in log order. */
    struct batch *head, *tail;
    size_t n_batches;
    size_t sending;
    /* Bodies of done batches, emptied and kept for the next ones (keep_body): a new
     * batch then writes into memory already mapped instead of growing a fresh buffer. */
    struct buf spare[SENDER_SPARE_BODIES];
    size_t n_spare;
    /* How many batches may be in flight and how large they are cut: adapted to the backend's
     * answers within the options' bounds (adapt.h). */
    struct adapt ad;
    struct request *reqs;
    /* Retrying. */
    unsigned fails;  /* failures since the last acknowledged write */
    uint64_t due_ms; /* loop time of the next timed step; 0: none */
    int waiting;     /* a backoff runs: nothing is sent before due_ms */
    int ping_inflight, create_inflight;
    int forget_pending;     /* a wal_cursor_forget is in flight: do not read the cursor yet */
    char *created_db;       /* CREATE DATABASE was sent for this db (once per episode) */
    long hold_code;         /* the answer that put it on hold, to warn once per change */
    uint64_t given_up_from; /* the cursor when it gave up */
    /* Status and its bookkeeping. */
    struct replay_backend_status st;
    uint64_t oldest_unacked_ns; /* receive time of the first record after the cursor; 0 none */
    uint64_t rate_cursor;
    uint64_t rate_ms;
    uint64_t last_contact_ms; /* loop time the backend last answered a write or a /ping */
    /* Whose records it sends: its own name, or an ephemeral sender's source (fixed at
     * creation). */
    char source[WAL_NAME_MAX + 1];
    /* The memory store's range and progress (range.c). */
    struct replay_range_status range;
    /* A rebuild from another backend (rebuild.c): mode is MODE_PAUSED while rb.active. */
    struct replay_rebuild_info rb;
    int rb_ops; /* rebuild log operations in flight (also counted in wal_ops) */
    /* A barrier or fence wait at the head of the window (fence.c): its record, when it
     * started, when the peers last made progress, and the figure progress is measured by. */
    uint64_t fw_seq;
    int fw_fence; /* 1: a fence, 0: a statement's barrier */
    uint64_t fw_since_ms, fw_progress_ms, fw_mark;
};

struct sender *sender_new(struct replay *r, struct sender_conf *conf);
/* Find or create the cursor, then start reading. */
void sender_start(struct sender *s);
/* Take new options (takes a reference on 'conf'). */
void sender_reconfigure(struct sender *s, struct sender_conf *conf);
/* Stop for good: abort transfers, drop the batches; with 'forget', also let the position go.
 * The caller moves it to the retired list; it is freed by sender_free once idle. */
void sender_stop(struct sender *s, int forget);
/* Retired and no log callback left to run: it may be freed (sender_free). */
int sender_idle(const struct sender *s);
void sender_free(struct sender *s);
/* New records may be there. */
void sender_kick(struct sender *s);
/* The engine's 1 s tick: lag, drain rate, give-up, idle re-read. */
void sender_tick(struct sender *s);
/* Its due_ms came. */
void sender_due(struct sender *s);
/* A transfer of this sender finished (or was failed by a rebuild of the multi handle):
 * classify and act. Frees 'q'. */
void sender_request_done(struct request *q, CURLcode result, long http_status,
                         uint64_t duration_us);

/* For the stores and the other files of the sender. */
/* Settle what can be settled, read, send: the step after every event. */
void sender_pump(struct sender *s);
/* The position is known ('cursor'): start sending after it. */
void sender_begin_from(struct sender *s, uint64_t cursor);
/* Find the position again (STARTING); 'latest': at the log's end. */
void sender_start_at(struct sender *s, int latest);
/* Start over from 'cursor': what is queued or in flight is dropped (resent if still after). */
void sender_resync(struct sender *s, uint64_t cursor);
/* Drop the window and start again from the position's store (the cursor vanished). */
void sender_restart(struct sender *s);
/* Wait before the next timed step (doubling, capped, jittered). */
void sender_schedule_backoff(struct sender *s);
/* Append 'b' to the window. */
void sender_queue_push(struct sender *s, struct batch *b);
/* sender_read.c: read records after the cursor into batches until the window is full or the
 * log ends; also with a full window, and on hold, look at the cursor. */
void sender_fill(struct sender *s);

/* ---- the store: where the position lives and where refused lines go ------------------------- */

struct sender_store {
    /* Find or create the position, then sender_begin_from(); on a failure back off and let
     * sender_due call it again. 'latest': at the log's end (resuming after a give-up). */
    void (*start)(struct sender *s, int latest);
    /* Inside sender_fill()'s read transaction: the position as stored now (0, *at set), IWR_ENOTFOUND
     * when it vanished, or 1 when nobody else can move it. */
    int (*stored)(struct sender *s, uint64_t *at);
    /* Move the position up to s->target; s->acked follows once it holds. */
    void (*advance)(struct sender *s);
    /* Take the refused lines of 'b' (b->answer holds the backend's answer): b becomes
     * BATCH_DONE, or BATCH_DEAD until a callback settles it. */
    void (*refuse)(struct sender *s, struct batch *b);
    /* The backend was removed or given up: let its position go. 1 when there was one to
     * let go (it is being forgotten), 0 when nothing was stored. */
    int (*forget)(struct sender *s);
    /* The last sequence it reads, the log's highest being 'high'. */
    uint64_t (*end)(const struct sender *s, uint64_t high);
    /* Nothing more to do, ever (the range is done). */
    int (*finished)(const struct sender *s);
    /* Whether status says caught up, 'live' being what the window says. */
    int (*caught_up)(const struct sender *s, int live);
};
/* The daemon's: the log's cursor (cursor.c) and its dead-letter table (dead.c). */
extern const struct sender_store sender_store_log;
/* The CLI's ephemeral mode: a range, the position in memory, refused lines to a callback
 * (range.c). */
extern const struct sender_store sender_store_memory;

/* dead.c: the log's dead-letter table. */
/* Store b's refused lines as dead letters (BATCH_DEAD until they are written). */
void dead_submit(struct sender *s, struct batch *b);
/* Submit again the batches whose dead letters failed, once the backoff is over. */
void dead_retry(struct sender *s);

/* ---- rebuild.c: a backend paused while it is restored from another ------------------------- */

/* At start (cursor.c's log_start): a rebuild recorded in the log for this backend puts it in
 * MODE_PAUSED again. 1 when it did (the caller stops there), 0 otherwise. */
int rebuild_restore(struct sender *s);
/* The 1 s tick of a paused sender: lag, and the start-point-lost rule. */
void rebuild_tick(struct sender *s);
/* After each commit (a kick): the near-the-limit part of that rule, from counters only. */
void rebuild_check(struct sender *s);
/* The backend is being removed: drop its rebuild state from the log too. */
void rebuild_forget(struct sender *s);

/* ---- request.c: building transfers ------------------------------------------------------------ */

/* A request to 'c' at 'url' (a reference taken) with what every one sets (the handle's private
 * pointer and write data, the error buffer, the connect timeout, http/https only); the caller
 * adds the rest and puts it on its list. */
struct request *request_alloc(struct replay *r, struct sender_conf *c, enum req_kind kind,
                              const char *url);
/* A transfer for 's' with its options (a reference taken), on its list, not yet added. */
struct request *request_new(struct sender *s, enum req_kind kind, const char *url,
                            uint64_t timeout_ms);
struct gen_target;
/* Where the writes of 'c' go (strings borrowed from 'c'). */
void request_target(const struct sender_conf *c, struct gen_target *t);
/* POST batch 'b' (borrowed: it outlives the request) to the write endpoint of its kind. */
struct request *request_write(struct sender *s, struct batch *b);
struct request *request_ping(struct sender *s, uint64_t timeout_ms);
/* POST /query CREATE DATABASE "db". */
struct request *request_create_db(struct sender *s, const char *db);
/* The backend's TLS options (ca_file, insecure_skip_verify) on 'e', and with 'credentials' its
 * username and password as Basic auth (a token travels in a header list of the caller's). */
void request_set_auth_tls(CURL *e, const struct sender_conf *c, int credentials);
/* Unlink 'q' from its list, clean up its easy handle, free it (not on the multi). */
void request_free(struct request *q);
/* Abort the sender's transfers of 'kind' (-1: all). */
void request_abort_all(struct sender *s, int kind);
/* A transfer finished: to its sender or its query. Frees 'q'. */
void request_done(struct request *q, CURLcode result, long http_status, uint64_t duration_us);

/* ---- statement.c: logged statements in a sender's stream ------------------------------------ */

#define STATEMENT_RESP_MAX (64 * 1024) /* a statement's answer kept for its client */
#define STATEMENT_RECENT 16            /* first outcomes kept for a waiter that comes late */

/* A batch holding statement record 'rec' alone (sealed: its end_seq is rec->seq). */
struct batch *statement_batch(const struct wal_record *rec, uint64_t prev_end);
/* POST /query with the statement of 'b' (q, db, rp as a form), the backend's credentials; for
 * a v2/v3 backend its equivalent, or NULL when there is none (statement_unsupported). */
struct request *request_statement(struct sender *s, struct batch *b);
/* Statement 'b' has no equivalent for the backend's kind: a dead letter answered "501
 * unsupported", counted in unsupported_total; the sender goes on at its next step. */
void statement_unsupported(struct sender *s, struct batch *b);
/* A 2.x statement's first step (the org's or bucket's ID) answered: 1 when it found the ID and
 * 'b' is to be sent again for its second step, 0 when the answer is to be classified. */
int statement_next_step(struct sender *s, struct batch *b, const struct request *q,
                        CURLcode result, long http);
/* Whether batch 'b' of the window may be sent now: a write batch unless a statement before it
 * is not done; a statement only at the head of the window with nothing in flight. Sets
 * *stop when nothing after 'b' may be sent either. */
int statement_may_send(const struct sender *s, const struct batch *b, int *stop);
/* The answer to a statement: ack (applied), dead (refused: its answer goes to the dead
 * letters), retry or hold, as for writes; the first outcome of each statement is handed to
 * whoever waits for it (replay_statement_wait). */
struct replay_verdict statement_answered(struct sender *s, struct batch *b,
                                         const struct request *q, CURLcode result, long http);
/* The engine stops: every waiter gets IWR_ESTOPPED; their timers close (handles_open). */
void statement_stop(struct replay *r);

/* ---- fence.c: the statement barrier between relays ------------------------------------------ */

/* A batch holding fence record 'rec' alone (sealed). */
struct batch *fence_batch(const struct wal_record *rec, uint64_t prev_end);
/* Whether fence 'b' at the head of the window may pass now (its origin applied its statement
 * on this backend, or the wait timed out). Keeps the wait's status. */
int fence_may_pass(struct sender *s, struct batch *b);
/* Whether statement 'b' at the head of the window may go: every peer's sender for this
 * backend waits at the statement's fence (or passed it), or the wait timed out. */
int fence_barrier_ok(struct sender *s, struct batch *b);
/* The engine's timer reached peer_due_ms: poll the peers. */
void fence_tick(struct replay *r);
/* The engine stops: the peers go (their transfers were aborted first). */
void fence_stop(struct replay *r);

/* query.c */
/* A one-off transfer to the URL of 'c' (a backend's, or a peer relay's: fence.c), as
 * replay_query ('own' 0) or replay_query_own ('own' 1). Same returns. */
int query_start_conf(struct replay *r, struct sender_conf *c, const struct replay_query_req *in,
                     int own, const struct replay_query_cbs *cb, void *arg,
                     struct replay_query **out);
/* A query transfer finished. Frees 'q'. */
void query_request_done(struct request *q, CURLcode result, long http_status);
/* Finish every query in flight with done(503) (the engine stops). */
void query_abort_all(struct replay *r);

/* ---- status.c ----------------------------------------------------------------------------- */

/* last_error from a printf format, control characters blanked, credentials scrubbed. */
__attribute__((format(printf, 2, 3))) void sender_set_error(struct sender *s, const char *fmt,
                                                            ...);
/* Describe a failed request in last_error. */
void sender_describe(struct sender *s, const struct request *q, CURLcode result, long http);
/* An empty status: the histogram's bounds set. At sender_new. */
void sender_status_init(struct sender *s);
/* Count a write answer (0: transport failure) and its duration. */
void sender_observe(struct sender *s, long code, uint64_t duration_us);
/* Lag from the log: the first record after the position and the last one (tick). */
void sender_refresh_lag(struct sender *s);
/* A copy of the status; 'head': the log's highest sequence as of its last commit. */
void sender_status(const struct sender *s, uint64_t head, struct replay_backend_status *out);
/* A quoted copy of 's' for a logfmt line. */
void sender_quote(char *out, size_t cap, const char *s);

/* ---- replay.c: the engine ------------------------------------------------------------------ */

#define REPLAY_KNOWN 4096 /* records described for the senders that read them next */

struct replay {
    uv_loop_t *loop;
    struct wal *w;
    CURLM *multi;
    uv_timer_t timer;       /* the engine's only timer: curl's timeouts and every due below */
    struct watch *watches;  /* uv_poll handles, one per socket curl watches */
    struct sender *senders; /* configured backends */
    struct sender *retired; /* removed or stopped, waiting for their log callbacks */
    struct request *failed; /* could not be added to the multi: finished from the timer */
    struct request *queries; /* reads passed on to a backend (query.c) */
    struct stmt_waiter *stmt_waiters; /* clients waiting for a statement's answer */
    struct stmt_outcome *stmt_recent[STATEMENT_RECENT]; /* ring of first outcomes */
    size_t stmt_recent_next;
    /* The other relays feeding the same backends (fence.c). */
    struct peer *peers;
    char self[REPLAY_NAME_MAX + 1];
    uint64_t peer_timeout_ms;
    uint64_t peer_due_ms; /* the next poll of the peers' status; 0: no peers */
    uint64_t curl_due_ms;   /* 0: curl wants no timeout */
    uint64_t kick_due_ms;
    uint64_t tick_due_ms;
    uint64_t rng;
    /* The last records a sender took whole, by seq modulo REPLAY_KNOWN: every sender batches
     * every record (without shard parts), and the others copy a known one without reading it
     * line by line again (batch_add_known). */
    struct batch_known known[REPLAY_KNOWN];
    int handles_open; /* timer + polls not yet closed */
    int stopping;
    int done_called;
    void (*done)(void *arg);
    void *done_arg;
};

/* Start a transfer on the multi handle; on failure the request is finished as a transport
 * failure from a later timer pass, never re-entrantly. */
void replay_add_request(struct replay *r, struct request *q);
/* Take a transfer off the multi handle and out of the failed list, without a completion and
 * without freeing it (the caller does: request_free or query_free). */
void replay_detach_request(struct replay *r, struct request *q);
/* replay_detach_request, then free it (aborts). */
void replay_abort_request(struct replay *r, struct request *q);
/* Re-arm the timer after a due time changed. */
void replay_rearm(struct replay *r);
/* Milliseconds on the loop's clock. */
uint64_t replay_now_ms(struct replay *r);
/* A random number for jitter. */
uint64_t replay_random(struct replay *r);
/* Free the retired senders that are idle; finish a stop when nothing is left. */
void replay_reap_retired(struct replay *r);

#endif
