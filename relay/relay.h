/* The ingest side of the daemon: HTTP and UDP listeners on the libuv loop, the InfluxDB
 * endpoints, and the hand-off of validated records to the log. Loop thread only. */
#ifndef IWR_RELAY_H
#define IWR_RELAY_H

#include "common/hist.h"
#include "wal/wal.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct relay;

/* A user of /write and /query when auth is on. */
struct relay_user {
    const char *name;
    const char *password;
    const char *token; /* NULL: none; matched by "Authorization: Token X" or "Bearer X" */
    int admin; /* may send the statements that go through the log (/query) */
};

/* A 2.x bucket (or a 3.x database name) and the db/rp it is written to. A name no mapping holds
 * is read as "db/rp" or "db". */
struct relay_bucket {
    const char *name;
    const char *database;
    const char *retention_policy; /* NULL: the database's default */
};

/* A UDP line-protocol listener. */
struct relay_udp {
    const char *listen;           /* "ADDR:PORT" (common/hostport.h) */
    const char *database;
    const char *retention_policy; /* NULL: the database's default */
    const char *precision;        /* NULL or "": ns; any /write spelling */
    size_t read_buffer_bytes;     /* SO_RCVBUF; 0: the kernel's default */
};

/* TLS on one HTTP listener (relay/tls.h). The stream listeners (UDP) are always plaintext. */
struct relay_tls {
    const char *cert_file;      /* PEM certificate chain; NULL: this listener is plain HTTP */
    const char *key_file;       /* PEM private key; NULL: it is in cert_file (combined PEM) */
    const char *client_ca_file; /* NULL: no client certificate is asked for */
    int min_version;            /* 12: TLS 1.2 (0 means the same), 13: TLS 1.3 */
};

/* A Graphite or OpenTSDB listener (relay/stream.c). */
enum relay_stream_kind { RELAY_GRAPHITE, RELAY_OPENTSDB };
struct relay_stream {
    enum relay_stream_kind kind;
    const char *listen;           /* "ADDR:PORT" */
    int tcp, udp;                 /* the transports on that port (OpenTSDB: tcp only) */
    const char *database;
    const char *retention_policy; /* NULL: the database's default */
    /* Graphite: influxd's [[graphite]] separator, templates and default tags ("k=v" each). */
    const char *separator;
    const char *const *templates;
    size_t n_templates;
    const char *const *tags;
    size_t n_tags;
    size_t read_buffer_bytes;     /* UDP SO_RCVBUF; 0: the kernel's default */
};

/* What the relay is configured with (the daemon fills it from its config). Every pointer is
 * borrowed for the call that takes it; the relay copies what it keeps. */
struct relay_options {
    const char *const *listen;   /* HTTP "ADDR:PORT" each (relay_new only) */
    size_t n_listen;
    /* n_listen entries, one per listen address, or NULL: all plain. relay_new refuses to start
     * a listener whose TLS cannot be set up; relay_reload loads new certificates for the
     * listeners it has (by index) and keeps the old ones when that fails. */
    const struct relay_tls *listen_tls;
    const struct relay_udp *udp; /* relay_new only */
    size_t n_udp;
    const struct relay_stream *streams; /* relay_new only */
    size_t n_streams;
    size_t max_body_bytes;       /* over it: 413 */
    size_t max_inflated_bytes;   /* a gzip body's bound once inflated */
    size_t max_connections;
    size_t max_header_bytes;     /* over it: 431 */
    size_t max_pending_bytes;    /* bodies held at once, all clients; over it: 503 */
    uint64_t idle_timeout_ms;    /* keep-alive idle */
    uint64_t read_timeout_ms;    /* headers and body must arrive within */
    int allow_unsigned;          /* accept "u" integer fields */
    int auth_enabled;
    int status_public;           /* the status page needs no credentials even with auth on */
    const struct relay_user *users;
    size_t n_users;
    const struct relay_bucket *buckets; /* [[bucket]]: /api/v2/write and /api/v3/write_lp */
    size_t n_buckets;
    /* The log's size limit and full policy, for /health and /metrics. */
    size_t max_bytes;
    enum wal_full_policy full_policy;
    const char *data_dir;        /* shown on the status page, its free space measured; NULL: none */
    /* How long a logged statement's client waits for the first backend's answer; 0: 10 s. */
    uint64_t statement_timeout_ms;
    const char *relay_name; /* [relay] name, shown to peers; NULL: "relay" */
    /* Shards (relay_new only: changing them is a reshard): each point's line goes to the
     * shard the ring gives its key (relay/shard_ring.h); none: records are for everyone. */
    const char *const *shards;
    size_t n_shards;
    const char *const *shard_key; /* "database", "measurement", "tag:NAME" */
    size_t n_shard_key;
};

/* A backend as /health, /metrics and /query routing show it: the daemon fills it from the
 * backends' own status (relay/ computes no lag of its own). Names and sizes are relay/'s. */
#define RELAY_BACKEND_CODES 8
struct relay_backend_view {
    char name[65];
    char url[256];                 /* display form: never holds credentials */
    char shard[65];                /* its shard; "" without shards */
    char kind[4];                  /* "v1", "v2", "v3": the InfluxDB generation it is */
    uint64_t unsupported_total;    /* statements with no equivalent for its kind */
    int up, caught_up, given_up;
    uint64_t cursor;
    uint64_t lag_records, lag_bytes;
    double lag_seconds;
    uint64_t sent_points_total, sent_batches_total, dead_letters_total, retries_total;
    uint64_t corrupt_records_total;
    uint64_t down_since_ns;        /* realtime; 0 while up */
    double drain_records_per_second;
    char last_error[256];
    /* Write answers: code_counts[i] of status codes[i] (0: transport failure). */
    long codes[RELAY_BACKEND_CODES];
    uint64_t code_counts[RELAY_BACKEND_CODES];
    struct hist duration;          /* write durations, seconds; its bounds borrowed, static */
    /* Being rebuilt from another backend (POST /api/rebuild/start): its sender is paused. */
    int rebuilding, rebuild_lost; /* lost: the start point was let go, start again */
    uint64_t rebuild_from_seq;    /* the start point P */
    uint64_t rebuild_started_ns;  /* realtime */
    char rebuild_source[65];
    /* The statement barrier between relays (replay/fence.c; see relay_backend_status). */
    uint64_t fence_wait_seq, fence_passed_seq;
    char fence_origin[65], fence_passed_origin[65];
    uint64_t barrier_wait_seq, barrier_wait_since_ns;
    uint64_t barrier_timeouts_total, fence_timeouts_total;
    uint64_t oldest_unacked_ns; /* receive time of the first record not delivered; 0: none */
};

/* A peer relay as the daemon last polled it. */
struct relay_peer_view {
    char name[65];
    char url[256]; /* never holds credentials */
    int up;
    uint64_t last_ok_ns;
    uint64_t polls_failed_total, fences_failed_total, barrier_timeouts_total;
    /* Its backends as its last answer said: the most its senders lag (records) and the oldest
     * receive time they have not delivered (realtime ns, 0: none). */
    uint64_t max_lag_records, oldest_unacked_ns;
};

/* A rebuild as the backends' side answers a change of it (POST /api/rebuild/...). */
enum relay_rebuild_op { RELAY_REBUILD_START = 0, RELAY_REBUILD_FINISH, RELAY_REBUILD_ABORT };
struct relay_rebuild_info {
    char backend[65];
    char source[65];
    int active, lost, resumed; /* resumed: a START found the same rebuild under way */
    uint64_t from_seq;         /* P: the source had applied every record up to it */
    uint64_t started_ns;       /* realtime */
    uint64_t head_seq;         /* the log's highest sequence when answered */
};
/* rc 0, or an IWR_E* code with 'msg' saying why; 'info' may be NULL on a refusal. On the loop;
 * 'cb_arg' is relay_hooks.rebuild's. */
typedef void relay_rebuild_done(void *cb_arg, int rc, const struct relay_rebuild_info *info,
                                const char *msg);

/* A read relay/ hands to one backend (GET|POST /query). Every pointer is borrowed for the call. */
struct relay_query {
    const char *backend;           /* name, from a relay_backend_view */
    int post;                      /* else GET */
    const char *target;            /* path and query string as the client sent them */
    size_t target_len;
    const char *headers;           /* the client's headers to pass on, "Name: value\r\n" each */
    size_t headers_len;
    const char *body;
    size_t body_len;
    int peer; /* 'backend' names a peer relay (a statement forwarded to the leader) */
    /* The backend is 2.x or 3.x: the relay checked the client and left its credentials out of
     * 'target', 'headers' and 'body'; the backend's own token goes instead. */
    int backend_credentials;
};
/* The answer, as it comes; all on the loop thread, 'arg' is relay_hooks.query's cb_arg.
 * head: the status and the header block to pass on ("Name: value\r\n" each), once, before
 *   any data. data: a piece of the body (transfer framing removed); return 0 for more, 1 to
 *   pause until relay_hooks.query_resume, -1 to abort. done: the end, always called once, also
 *   after an abort: rc 0 (the whole answer came), or an HTTP status to answer with when no head
 *   came yet (502 unreachable, 504 timed out, 503 no such backend) and 'err' says why. */
struct relay_query_cbs {
    void (*head)(void *arg, long status, const char *headers, size_t len);
    int (*data)(void *arg, const char *p, size_t len);
    void (*done)(void *arg, int rc, const char *err);
};

/* The background scrub's last result, for /metrics and /health (the daemon fills it from
 * scrub/bgscrub.h). Names are cut to fit; figures are per field. */
#define RELAY_SCRUB_PAIRS 16
#define RELAY_SCRUB_DIFFS 5
struct relay_scrub_diff {
    char a[65], b[65]; /* the backends */
    char db[128], rp[128], measurement[128], field[128];
    int64_t hour_ns;   /* the window's first nanosecond */
    char fa[96], fb[96]; /* each side's figures as JSON: {"count":N,"sum":S} */
};
struct relay_scrub_pair {
    char a[65], b[65];
    uint64_t windows, differing, in_flight; /* of the last run that compared this pair */
    char error[256]; /* "" when the last run compared it in full; never holds credentials */
};
struct relay_scrub_view {
    int enabled;
    int running;                     /* a run is under way */
    uint64_t runs_total;             /* runs finished (this process) */
    uint64_t windows_compared_total; /* windows compared, every run */
    uint64_t queries_total, errors_total;
    uint64_t last_run_ns;            /* realtime end of the last finished run; 0: none yet */
    double last_run_seconds;         /* how long it took */
    uint64_t differing_windows;      /* last run, every pair */
    uint64_t in_flight_windows;      /* last run: differing but in flight, not reported */
    struct relay_scrub_pair pairs[RELAY_SCRUB_PAIRS];
    size_t n_pairs;
    struct relay_scrub_diff diffs[RELAY_SCRUB_DIFFS]; /* the first few differing windows */
    size_t n_diffs;
};
/* The first backend's answer to a logged statement (relay_hooks.statement_wait), borrowed for
 * the callback. rc 0 with 'a' set; else (a NULL 'a') -ETIMEDOUT when no backend applied or
 * refused it in time, or IWR_ESTOPPED. */
struct relay_statement_answer {
    const char *backend;
    long status;
    const char *body;
    size_t body_len;
    int applied;
};
typedef void relay_statement_cb(void *arg, int rc, const struct relay_statement_answer *a);

/* What the daemon wires in from the other parts (relay/ never includes replay/). */
struct relay_hooks {
    void *arg;
    /* A snapshot of the backends for /health, /metrics and /query routing; caller frees. */
    void (*backends)(void *arg, struct relay_backend_view **out, size_t *n);
    /* Start 'q' on the backends' side; the callbacks then run as described above and *handle
     * names the transfer for query_resume. 0, or an error (no callback then). NULL: /query
     * answers 503. */
    int (*query)(void *arg, const struct relay_query *q, const struct relay_query_cbs *cb,
                 void *cb_arg, void **handle);
    /* Resume a transfer whose data callback asked for a pause. */
    void (*query_resume)(void *arg, void *handle);
    /* The background scrub's result into *out (zeroed first by the caller). NULL: no scrub
     * (neither /metrics nor /health shows one). */
    void (*scrub)(void *arg, struct relay_scrub_view *out);
    /* Call 'cb' once the statement committed as record 'seq' was applied or refused by a
     * first backend, or after 'timeout_ms'. 0 (the callback runs once, later or from inside),
     * or an error (no callback). NULL: statements are answered 202 at once. */
    int (*statement_wait)(void *arg, uint64_t seq, uint64_t timeout_ms, relay_statement_cb *cb,
                          void *cb_arg);
    /* Start, finish or abort the rebuild of 'backend' ('source': START only); 'done' runs
     * once, maybe from inside the call, when the change is durable or refused. NULL: the
     * /api/rebuild endpoints answer 503. */
    void (*rebuild)(void *arg, enum relay_rebuild_op op, const char *backend, const char *source,
                    relay_rebuild_done *done, void *cb_arg);
    /* Several relays (replay/fence.c). peer_leader: NULL when this relay commits statements,
     * else the leader peer's name, to forward them to (borrowed until the next hook call).
     * peer_fence: statement 'seq' was committed here: fence it on every peer. peers: a
     * snapshot of the peers; caller frees. Any may be NULL: no peers. */
    const char *(*peer_leader)(void *arg);
    void (*peer_fence)(void *arg, uint64_t seq);
    void (*peers)(void *arg, struct relay_peer_view **out, size_t *n);
};

/* Create the relay on 'loop' writing to 'w' (both borrowed, outliving it), with the limits,
 * users and listeners of 'opts' (copied). Sets up TLS and binds every listener: 0, IWR_EINVAL
 * when a listener's TLS cannot be set up (it is never served in plaintext instead; the file
 * and reason are logged; relay_tls_check gives them to the caller first), or a -errno with the
 * failing address logged. */
int relay_new(struct relay **out, uv_loop_t *loop, struct wal *w,
              const struct relay_options *opts, const struct relay_hooks *hooks);
/* Load 'tls' as a listener would (certificate, key, their match, the client CA) and drop it:
 * 0, or IWR_EINVAL with "FILE: reason" in 'err'. For --check-config and start-up. */
int relay_tls_check(const struct relay_tls *tls, char *err, size_t err_cap);
/* SIGHUP: take the new limits and users, and reload each TLS listener's certificate, key and
 * CA from opts->listen_tls (by index); a listener whose new TLS files fail keeps the old ones
 * (logged, counted in /metrics). Listeners stay as they are: 'opts' listen and udp are not
 * read, and a listener cannot change between plain and TLS. */
void relay_reload(struct relay *r, const struct relay_options *opts);
/* Graceful stop: close the listeners, answer every request already received after its commit,
 * close idle connections; 'done' runs on the loop when the last connection closed. */
void relay_shutdown(struct relay *r, void (*done)(void *arg), void *arg);
void relay_free(struct relay *r);
/* Serve a connected stream socket as an HTTP client connection (tests and fuzzing drive the
 * server through a socketpair with this). Takes 'fd'. */
void relay_adopt_fd(struct relay *r, int fd);

#endif
