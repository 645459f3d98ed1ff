/* Internals shared by the files of replay/: batches (batch.c), one sender per backend
 * (sender.c) and the engine that owns the CURLM, the timer and the socket watches (replay.c).
 * Not for use outside replay/. Everything here runs on the loop thread, except the pure batch
 * functions, which any thread may call. */
#ifndef IWR_REPLAY_INT_H
#define IWR_REPLAY_INT_H

#include "common/buf.h"
#include "common/status.h"
#include "replay/classify.h"
#include "replay/replay.h"
#include "wal/wal.h"

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* ---- batch.c: building and splitting batches (pure) ---------------------------------------- */

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
/* Set end_seq from the last segment: its record's seq when the record ends here, else the seq
 * before it (so the cursor never passes a record with lines still unsent). Returns it. */
uint64_t batch_seal(struct batch *b, uint64_t prev_end);
/* Split a batch of two or more lines into two halves by line count; 'b' is left untouched.
 * The halves are sealed (first->end_seq may be below b's). Caller frees them. */
void batch_split(const struct batch *b, struct batch **first, struct batch **second);
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
/* The query-string name of an enum lp_precision value (replay/ does not include relay/). */
const char *batch_precision_name(uint8_t precision);

/* ---- sender.c: one backend ----------------------------------------------------------------- */

/* A backend's options, copied and defaulted; immutable once made, shared by the requests that
 * use them (refcounted), so a reconfiguration never pulls strings from under a transfer. */
struct sender_conf {
    int refs;
    char *name;
    char *url;         /* base, no trailing '/' */
    char *display_url; /* without any user:password@ */
    char *username, *password, *token, *ca_file;
    int insecure_skip_verify, gzip, create_database;
    uint64_t timeout_ms, connect_timeout_ms, retry_max_delay_ms, give_up_after_ms;
    size_t batch_max_bytes, batch_max_points, max_in_flight, give_up_bytes;
    enum replay_start start;
    int ephemeral; /* see struct replay_backend_opts */
    char *source;
    uint64_t from_seq, to_seq;
    void (*refused)(void *arg, const struct wal_record *rec, const char *answer,
                    size_t answer_len);
    void *refused_arg;
    struct curl_slist *write_headers; /* Content-Type, Expect:, encoding, token */
    struct curl_slist *ctl_headers;   /* token */
};

enum sender_mode {
    MODE_STARTING = 0, /* finding or creating its cursor */
    MODE_UP,
    MODE_DOWN,     /* unreachable or 5xx: nothing is sent until /ping answers */
    MODE_HOLD,     /* refused for configuration reasons: resend after backoff */
    MODE_GIVEN_UP, /* cursor forgotten; probing /ping to resume at the end */
    MODE_STOPPED,
};

enum req_kind { REQ_WRITE = 0, REQ_PING, REQ_CREATE_DB };

#define REPLAY_RESP_MAX 4096

/* One transfer on the engine's multi handle. */
struct request {
    struct request *next; /* in its sender's list */
    struct sender *s;
    struct sender_conf *conf; /* a reference */
    enum req_kind kind;
    struct batch *batch; /* REQ_WRITE: borrowed from the sender's queue */
    CURL *easy;
    struct buf resp; /* the first REPLAY_RESP_MAX bytes of the answer */
    char errbuf[CURL_ERROR_SIZE];
    int added;  /* on the multi handle */
    int failed; /* on the engine's failed list */
    struct request *fail_next;
};

struct sender {
    struct sender *next;
    struct replay *r;
    struct sender_conf *conf;
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
    struct backend_status st;
    uint64_t oldest_unacked_ns; /* receive time of the first record after the cursor; 0 none */
    uint64_t rate_cursor;
    uint64_t rate_ms;
    uint64_t corrupt_total;
    uint64_t last_contact_ms; /* loop time the backend last answered a write or a /ping */
    /* Ephemeral mode: the backend whose records it sends (fixed at creation) and the range.
     * The cursor fields above live in memory only then. */
    char source[WAL_NAME_MAX + 1];
    struct replay_range_status range;
};

struct sender *sender_new(struct replay *r, struct sender_conf *conf);
/* Find or create the cursor, then start reading. */
void sender_start(struct sender *s);
/* Take new options (takes a reference on 'conf'). */
void sender_reconfigure(struct sender *s, struct sender_conf *conf);
/* Stop for good: abort transfers, drop the batches; with 'forget', also forget the cursor.
 * The caller moves it to the retired list; it is freed by sender_release. */
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
/* A transfer finished (or was failed by a rebuild of the multi handle): classify and act.
 * Frees 'q'. */
void sender_request_done(struct request *q, CURLcode result, long http_status,
                         uint64_t duration_us);
void sender_status(const struct sender *s, struct backend_status *out);

/* Unlink 'q' from its sender, clean up its easy handle, free it (not on the multi). */
void request_free(struct request *q);
struct sender_conf *sender_conf_new(const struct replay_backend_opts *o);
void sender_conf_unref(struct sender_conf *c);

/* ---- replay.c: the engine ------------------------------------------------------------------ */

struct replay {
    uv_loop_t *loop;
    struct wal *w;
    CURLM *multi;
    uv_timer_t timer;       /* the engine's only timer: curl's timeouts and every due below */
    struct watch *watches;  /* uv_poll handles, one per socket curl watches */
    struct sender *senders; /* configured backends */
    struct sender *retired; /* removed or stopped, waiting for their log callbacks */
    struct request *failed; /* could not be added to the multi: finished from the timer */
    uint64_t curl_due_ms;   /* 0: curl wants no timeout */
    uint64_t kick_due_ms;
    uint64_t tick_due_ms;
    uint64_t rng;
    int handles_open; /* timer + polls not yet closed */
    int stopping;
    int done_called;
    void (*done)(void *arg);
    void *done_arg;
};

/* Start a transfer on the multi handle; on failure the request is finished as a transport
 * failure from a later timer pass, never re-entrantly. */
void replay_add_request(struct replay *r, struct request *q);
/* Take a transfer off the multi handle and free it, without a completion (aborts). */
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
