/* Internals shared by the files of relay/: the relay, its connections and requests, its
 * counters. Not for use outside relay/. Loop thread only, except a /write's request buffers
 * while its work runs on the pool (write.c). */
#ifndef IWR_RELAY_INT_H
#define IWR_RELAY_INT_H

#include "common/buf.h"
#include "common/hist.h"
#include "common/hostport.h"
#include "relay/lineproto.h"
#include "relay/relay.h"

#include <llhttp.h>
#include <stdint.h>
#include <uv.h>

enum endpoint {
    EP_WRITE,
    EP_WRITE_V2,
    EP_PING,
    EP_HEALTH,
    EP_METRICS,
    EP_QUERY,
    EP_STATUS,
    EP_PROM_WRITE,
    EP_WRITE_V3,
    EP_OTHER,
    EP_COUNT
};
extern const char *const endpoint_names[EP_COUNT];

/* Status codes counted per endpoint in /metrics. */
#define CODE_SLOTS 12
extern const int counted_codes[CODE_SLOTS];

#define DURATION_BUCKETS 12
extern const double request_duration_bounds[DURATION_BUCKETS];

struct relay_counters {
    uint64_t requests[EP_COUNT][CODE_SLOTS + 1]; /* last slot: any other code */
    uint64_t points_total;
    uint64_t bytes_total;          /* request bodies as received (before inflating) */
    uint64_t rejected_lines_total;
    uint64_t stamped_points_total; /* points that got the receive time */
    uint64_t abandoned_writes_total; /* HTTP writes whose client was gone when their pool
                                      * work ended: nothing appended */
    uint64_t udp_datagrams_total;
    uint64_t udp_rejected_lines_total;
    uint64_t udp_dropped_points_total; /* lost to a full log: UDP has no way to say 503 */
    uint64_t connections_total;
    uint64_t connections_refused_total;
    uint64_t tls_handshakes_total;         /* TLS sessions established */
    uint64_t tls_handshake_failures_total; /* TLS sessions that failed before a request */
    uint64_t tls_reload_failures_total;    /* SIGHUP reloads that kept an old certificate */
    struct hist duration; /* seconds, over request_duration_bounds */
};

struct http_req {
    llhttp_method_t method;
    struct buf url;
    size_t path_len;               /* url[0, path_len) is the path; a '?' and the query follow */
    struct buf auth;               /* Authorization header value */
    struct buf fwd;                /* headers a proxied /query passes on, "Name: value\r\n" */
    struct buf field;              /* the header name being read */
    struct buf value;              /* the header value being read */
    int gzip;                      /* Content-Encoding: gzip */
    int bad_encoding;              /* another Content-Encoding we cannot read */
    int expect_continue;
    int forwarded;                 /* X-Influx-Wal-Forwarded: a peer relay sent it on */
    size_t header_bytes;
    struct buf body;
    size_t body_counted;           /* of body.len, what relay.pending_bytes holds for it */
    uint64_t start_ns;             /* monotonic, first byte of the request */
    uint64_t recv_ns;              /* realtime, when the request was complete */
    enum endpoint ep;
    const char *content_type;      /* of the answer; NULL: application/json */
    struct buf norm;               /* the normalised body handed to the log */
    struct buf inflated;           /* a gzip body, inflated */
    struct lp_result lp;           /* what line-protocol validation found */
};

struct tls_conn;
struct tls_ctx;

struct conn {
    uv_tcp_t tcp;                  /* first: the handle's address is the conn's */
    uv_timer_t timer;
    struct relay *relay;
    struct tls_conn *tls;          /* the transport: NULL is plain TCP (relay/tls.h) */
    struct conn *prev, *next;
    llhttp_t parser;
    struct http_req req;
    char *rbuf;                    /* read buffer handed to libuv */
    struct buf pending;            /* bytes read but not parsed yet (a request was in progress) */
    int in_request;                /* between message begin and complete */
    int busy;                      /* a complete request is being handled; reading paused */
    int draining;                  /* answers over WRITE_QUEUE_MAX queued: reading paused */
    int keep_alive;                /* of the request being handled */
    int closing;
    int reading;
    int handles_open;              /* tcp + timer, closed one by one */
    int waiting_wal;               /* a write's work on the pool, an append or a proxied query
                                    * is in flight: free only after it ends */
    int refused;                   /* over the connection limit: answered 503 and closing */
    int fail_status;               /* a limit hit inside a parser callback: 413 or 431 */
    int pumping;                   /* a parse loop is running further up the stack */
};

struct udp_listener;
struct status_ring;
struct stream_listener;
struct stream_stats;

/* Moving averages as /metrics and /health last saw them; updated in
 * metrics.c from counters and the monotonic clock whenever either is read (no timer, no lock). */
struct relay_rates {
    uint64_t at_ns;                /* monotonic time of the last sample; 0: none yet */
    uint64_t last_seq, removed, points; /* the counters then */
    double records_per_second;     /* appended to the log */
    double removed_per_second;     /* deleted from the log: trimmed or dropped */
    double points_per_second;      /* committed */
    int known;                     /* the rates have been measured at least once */
};

struct relay {
    uv_loop_t *loop;
    struct wal *wal;
    struct relay_hooks hooks;
    struct relay_options cfg_limits; /* the limits and users in force (owned copies; no
                                      * listeners) */
    struct shard_split *split; /* NULL without shards; over the active shards only, replaced
                                * by a switch (relay/shard_active.c) */
    struct shard_active *active; /* the configured and active shards; NULL without shards */
    uv_tcp_t *servers;
    struct tls_ctx **server_tls;   /* per server: its TLS context, NULL for plain HTTP */
    size_t n_servers;
    size_t servers_open;
    struct udp_listener **udp;
    size_t n_udp;
    struct stream_listener **streams; /* stream.c: graphite, opentsdb */
    size_t n_streams;
    struct conn *conns;
    size_t n_conns;
    int shutting_down;
    void (*shutdown_done)(void *arg);
    void *shutdown_arg;
    uint64_t started_ns;
    struct relay_counters ctr;
    size_t pending_bytes;          /* request bodies held now, all connections */
    size_t writes_working;         /* write.c: write jobs queued on the pool (ingest_work) */
    llhttp_settings_t settings;
    struct relay_rates rates;      /* metrics.c: moving averages */
    struct status_ring *ring;      /* status.c: the charts' samples; NULL once closed */
};

/* http.c */
/* Answer the request being handled on 'c' (exactly once per request). 'headers' are extra
 * header lines, each ending in "\r\n" (may be NULL). Resumes reading and parsing. */
void http_respond(struct conn *c, int status, const char *headers, const char *body,
                  size_t body_len);
/* A proxied answer: raw bytes as the backend sent them, then the end of the request with the
 * status it had (the connection closes once everything is flushed). */
void http_send_raw(struct conn *c, const char *data, size_t len);
void http_end_raw(struct conn *c, int status);
/* The reason phrase for a status line ("Unknown" for codes we do not answer with). */
const char *http_reason(int status);
/* A JSON error body {"error":"..."} built from 'msg' (escaped). */
void http_respond_error(struct conn *c, int status, const char *msg, size_t msg_len);
/* The same with extra header lines ("Name: value\r\n"...), or NULL. */
void http_respond_error_hdr(struct conn *c, int status, const char *headers, const char *msg,
                           size_t msg_len);
int relay_listen_tcp(struct relay *r, const char *hostport, uv_tcp_t *server);
void relay_close_idle(struct relay *r);
void relay_http_settings(llhttp_settings_t *s);
/* The append for 'c' completed after the connection closed: free it now if nothing else holds
 * it. */
void conn_release_after_wal(struct conn *c);
/* Whether the client of 'c' is gone: the connection is closing, or its socket was reset (then
 * it is closed here). An EOF is not gone: the client may have half-closed and wait for its
 * answer. */
int conn_peer_gone(struct conn *c);

/* routes.c: dispatch a complete request. */
void relay_route(struct conn *c, struct http_req *req);
/* Query-string lookup: the decoded value of 'key' in 'q' into 'out' (cleared first). 1 when
 * present (even empty), 0 when absent. */
int query_get(const char *q, size_t qlen, const char *key, struct buf *out);
/* The query string of 'req', after its '?' (empty when there is none), its length in *qlen. */
const char *req_query(const struct http_req *req, size_t *qlen);
/* Whether the path of 'req' is 'p', or 'p' and a '/' (tolerated, as InfluxDB's router does). */
int req_path_is(const struct http_req *req, const char *p);

/* write.c */
/* POST /write and 1.8's /api/v2/write: checks on the loop, then inflating, validating and
 * encoding on libuv's pool; the answer comes later, after the commit. */
void write_handle(struct conn *c, struct http_req *req, int v2);
/* Inflate a gzip body (one or more members) into 'out', at most 'max' bytes. 0, IWR_EPARSE
 * (not gzip or corrupt; 'err' says why), IWR_EFULL (over 'max'). */
int gzip_inflate(const char *in, size_t len, size_t max, struct buf *out, const char **err);
/* A write's CPU work (inflating, converting, validating, encoding) on libuv's thread pool, for
 * every HTTP write endpoint. The endpoint embeds it first in its own job, fills on the loop
 * what 'run' reads (copies of the configuration it needs: a SIGHUP may replace it meanwhile)
 * and queues it. Until 'answer' the connection is busy (nothing more is parsed from it, so its
 * records stay in request order) and the loop touches neither the request nor the job. */
struct ingest_work {
    uv_work_t work;
    struct conn *c;
    /* On the pool: reads the job and c->req's body; writes the job and c->req's inflated,
     * norm and lp. */
    void (*run)(struct ingest_work *w);
    /* On the loop, once 'run' is done and the client is still there: answers, or submits the
     * record (whose commit answers). */
    void (*answer)(struct ingest_work *w);
    /* On the loop, after 'answer' or instead of it: frees the job. */
    void (*free)(struct ingest_work *w);
};
/* Queue 'w' (its callbacks set) for 'c'. A client that reset its connection while the work ran
 * gets nothing appended and nothing answered (counted as abandoned). */
void ingest_work_queue(struct conn *c, struct ingest_work *w);

/* Any thread: the body a write's job validates, in *body and *len: the request's, or with
 * Content-Encoding gzip its inflated copy in req->inflated (at most 'max' bytes). 0, or
 * gzip_inflate's error (its text in *zerr). */
int ingest_body(struct http_req *req, size_t max, const char **body, size_t *len,
                const char **zerr);

struct wal_op;
/* The /write path's part after decoding, for every endpoint whose body becomes 1.x line
 * protocol (/write, 1.8's /api/v2/write, Prometheus remote write). */
struct write_target {
    struct buf db, rp;        /* owned */
    enum lp_precision precision;
    uint8_t consistency;
    int allow_unsigned;
    int encode;               /* no shards when queued: encode the record on the pool too */
    struct wal_op *op;        /* the encoded record, when 'encode' and points were accepted */
};
/* On the loop: take 'db' and 'rp' (left empty) and copy the configuration 'prepare' reads. */
void write_target_init(struct write_target *t, struct relay *r, struct buf *db, struct buf *rp,
                       enum lp_precision p, uint8_t consistency);
/* Any thread: validate and normalise 'body' into req->norm and req->lp (adding to what
 * req->lp holds), then write_target_encode. */
void write_target_prepare(struct write_target *t, struct http_req *req, const char *body,
                          size_t body_len);
/* Any thread: when t->encode and req->lp has points, encode their record into t->op: 'body'
 * itself when req->lp.as_received, else req->norm. */
void write_target_encode(struct write_target *t, const struct http_req *req, const char *body,
                         size_t body_len);
/* On the loop: append req->lp's points (the record 'body' or req->norm, as above): t->op when
 * it was encoded and there are still no shards, else split by the ring in force; 'done' answers
 * after the commit. Takes t->op. */
void write_target_append(struct write_target *t, struct conn *c, const char *body,
                         size_t body_len, wal_done_cb *done);
/* On the loop: count, answer at once when nothing is left to write (204, or the 400 of the
 * lines refused), else write_target_append; the commit answers (204, a partial write's 400,
 * 503 when the log is full). 'body' is what 'prepare' read. Takes t->op. */
void write_target_submit(struct write_target *t, struct conn *c, const char *body,
                         size_t body_len);
void write_target_deinit(struct write_target *t);
/* The start of every write's commit callback: a committed record's points are counted; a
 * client that went away is released (1: nothing more to do), else 0 and the answer is due. */
int write_done_settle(struct conn *c, int rc);
/* A failed commit's status (503 when the log is full, 500 otherwise, logged) and its text. */
int write_failure_text(int rc, size_t points, char *msg, size_t size);
/* "", any, one, quorum, all -> 0..4; IWR_EPARSE for anything else. */
int write_parse_consistency(const char *s, uint8_t *out);

/* write_v3.c: POST /api/v3/write_lp as InfluxDB 3 Core answers it. */
void write_v3_handle(struct conn *c, struct http_req *req);
/* write_v3.c: POST /api/v2/write carrying 'org', as InfluxDB 2.x answers it ({"code","message"}
 * bodies, the whole batch refused at a bad line). */
void write_v2_org_handle(struct conn *c, struct http_req *req);
/* write_v3.c: the 413 for a body over max-body-size (refused by http.c before routing) in the
 * generation's shape when 'req' is a 2.x client's /api/v2/write (with 'org') or a
 * /api/v3/write_lp: 1 when it answered, 0 when the caller gives 1.x's. */
int write_gen_too_large(struct conn *c, const struct http_req *req);
/* The db and rp (cleared first, NUL-terminated, rp empty for the default) that the bucket or
 * 3.x database name bucket[0, len) is written to: cfg's [[bucket]] mapping, else "db/rp" or
 * "db". */
void write_map_bucket(const struct relay_options *cfg, const char *bucket, size_t len,
                      struct buf *db, struct buf *rp);

/* promhttp.c: POST /api/v1/prom/write (Prometheus remote write 1.0). */
void promwrite_handle(struct conn *c, struct http_req *req);

/* auth.c */
/* With auth enabled: 0 when the request carries a configured user's credentials, else 401
 * with the body InfluxDB gives has been sent and -1 returned. */
int auth_check(struct conn *c, struct http_req *req, const char *q, size_t qlen);
/* 1 when the request carries a configured user's credentials (whether auth is on or not), else
 * 0; *have says whether it carried any. Answers nothing, logs nothing. */
int auth_verify(const struct relay_options *cfg, const struct http_req *req, const char *q,
                size_t qlen, int *have);
/* Base64 (standard or URL-safe alphabet, padding optional) of 's' appended to 'out'; 0 or -1. */
int b64_decode(const char *s, size_t n, struct buf *out);
/* The same, and *admin says whether the user is marked admin (0 when auth is off). */
int auth_check_admin(struct conn *c, struct http_req *req, const char *q, size_t qlen,
                     int *admin);
/* With [auth], only an admin user passes: else 401 (no or bad credentials) or 403 "'what' need a
 * relay user with admin = true", answered here. Returns 0 to go on, -1 once answered. */
int auth_require_admin(struct conn *c, struct http_req *req, const char *q, size_t qlen,
                       const char *what);

/* udp.c */
int udp_start(struct relay *r, const struct relay_udp *u, struct udp_listener **out);
void udp_close_all(struct relay *r);
/* The listener's counters (stream.h), borrowed. */
const struct stream_stats *udp_stats(const struct udp_listener *u);

/* query.c: GET|POST /query proxied to the most current backend that is up, or, for
 * statements that change schema or data, committed to the log (statement.c). */
void query_handle(struct conn *c, struct http_req *req);
/* q, db and rp of a /query as influxd reads them: a urlencoded form body wins over the URL. */
struct query_params {
    struct buf q, db, rp;
    int has_q;
};
struct iql_stmt;
/* statement.c: commit the statements of 'qp' (pieces[0, n) classified, none READ, UNKNOWN or
 * PER_SERVER) after the privilege check, then answer with the first backend's answer. 'qs' is
 * the URL's query string (u, p). */
void statement_handle(struct conn *c, struct http_req *req, const char *qs, size_t qslen,
                      const struct query_params *qp, const struct iql_stmt *pieces, size_t n);
/* Which backend a read goes to: up and caught up, else up and least behind, never one being
 * rebuilt; -1 if none. */
int query_pick_backend(const struct relay_backend_view *st, size_t n);
/* The backends' views into *st (NULL before; the caller frees it) and query_pick_backend's
 * choice among them; -1 also when the relay has no query hook. The choice is among the 1.x
 * (api = "v1") backends when one is up: the privilege probe speaks 1.x's /write and /query
 * with the client's 1.x credentials, which a 2.x or 3.x server would refuse; among any
 * otherwise. */
int query_backend_for_read(struct relay *r, struct relay_backend_view **st);

/* admin.c: POST /api/rebuild/{start,finish,abort}?backend=..[&from=..], GET /api/rebuild. */
void admin_rebuild_handle(struct conn *c, struct http_req *req);
/* What every operator endpoint (rebuild, shards, peer) starts with: the URL's query string
 * into *q, *qlen (borrowed from 'req'), then, with [auth], an admin user only
 * (auth_require_admin; 'what' names the endpoints in its 403). 0 to go on, -1 once answered. */
int admin_begin(struct conn *c, struct http_req *req, const char *what, const char **q,
                size_t *qlen);
/* The value of 'key' from the query string q[0, qlen), else from an urlencoded body, into 'out':
 * 1 when one of them has it not empty, else 0. */
int admin_param(const struct http_req *req, const char *q, size_t qlen, const char *key,
                struct buf *out);
/* shard_active.c: the active shards, kept in the log's state under SHARD_ACTIVE_STATE
 * (relay/shard_split.h).
 * shard_active_start reads it (or makes the configured shards active on the first start) and
 * builds r->split over the active ones: 0, IWR_ECONFLICT (the log names a shard the config
 * lacks), IWR_ECORRUPT (an unreadable state, or moving set: relay/shard_moving.h); logged.
 * shard_active_json appends "shards":{...} (nothing without shards). admin_shards_handle:
 * GET /api/shards, POST /api/shards/activate, /api/shards/drop and /api/shards/moving. */
int shard_active_start(struct relay *r, const struct relay_options *cfg);
void shard_active_free(struct relay *r);
void shard_active_json(struct buf *b, const struct relay *r);
void admin_shards_handle(struct conn *c, struct http_req *req);
/* peer.c: GET /api/peer/status and POST /api/peer/fence (other relays ask them). */
void peer_handle(struct conn *c, struct http_req *req);
/* query.c: pass a logged statement on to the leader relay 'peer' as the client sent it. */
void query_forward(struct conn *c, struct http_req *req, const char *peer);

/* health.c, metrics.c */
/* What /metrics and /health both report about the log, from counters only (no LMDB access). */
struct relay_view {
    struct wal_counters wc;
    int writable;                  /* wc.writable: the log's judgement, rendered as is */
    int rates_known;
    double records_per_second, removed_per_second, points_per_second;
    double full_eta_seconds;       /* until the log reaches its limit; +Inf: not filling;
                                    * NAN: not known yet */
};
/* Sample the counters (the log's writability among them), update the moving averages. */
void relay_view_get(struct relay *r, struct relay_view *v);
/* The background scrub's view (enabled 0 without one); caller frees. metrics.c. */
struct relay_scrub_view *relay_scrub_view_get(struct relay *r);
/* A backend's catch-up ETA in seconds from its lag (as the backends' side reports it) and the
 * append rate: 0 caught up, +Inf not gaining. */
double relay_backend_eta(const struct relay_view *v, const struct relay_backend_view *s);
void health_handle(struct conn *c, struct http_req *req);
void metrics_handle(struct conn *c, struct http_req *req);

/* status.c: the status page's figures, the ring behind its charts, its endpoints. */
/* Everything /health, /metrics and the status page show at one instant, gathered once: the
 * shared view, the backends (relay_hooks.backends) and their ETAs. */
struct relay_snapshot {
    struct relay_view v;
    struct relay_backend_view *st; /* n of them; owned */
    double *eta;                   /* n of them; owned */
    size_t n;
    uint64_t now_ns;               /* realtime */
    /* Several relays: the peers (n_peers, owned; none without [[peer]]) and the statement
     * leader's name (this relay's own when it leads). */
    struct relay_peer_view *peers;
    size_t n_peers;
    char leader[65];
};
void relay_snapshot_get(struct relay *r, struct relay_snapshot *s);
void relay_snapshot_deinit(struct relay_snapshot *s);
/* The statement barrier's waits of backend 'x' as JSON members, each with a leading comma:
 * ,"fence_wait":{"origin","seq"} while its sender holds at a peer's fence and
 * ,"barrier_wait":{"seq","since","seconds"} while it holds a statement for the peers; nothing
 * while it waits for neither. */
void relay_waits_json(struct buf *b, const struct relay_backend_view *x, uint64_t now_ns);
/* ,"leader":NAME,"peers":[{name,url,up,leader,last_ok,polls_failed,fences_failed,
 * barrier_timeouts,max_lag_records,oldest_unacked}]; nothing without peers. */
void relay_peers_json(struct buf *b, const struct relay_snapshot *s);
/* Start the ring's 5 s sampling timer (unreferenced: it never keeps the loop alive) and keep
 * copies of the listener addresses the page lists. */
void status_ring_start(struct relay *r, const struct relay_options *opts);
/* Stop sampling; the ring is freed from the timer's close callback. Idempotent. */
void status_ring_close(struct relay *r);
/* GET / and /status (HTML), GET /status.json. */
void status_handle(struct conn *c, struct http_req *req, int json);
/* status_page.c: the page around 's' rendered by the server; 'json' is the same figures as
 * /status.json (the page embeds nothing else). Appends to 'out'. */
void status_page_render(struct buf *out, const char *json, size_t json_len);

#endif
