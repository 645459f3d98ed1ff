/* Stream listeners: the batching every protocol without an answer shares (UDP line protocol,
 * Graphite over TCP and UDP, OpenTSDB telnet), and the Graphite and OpenTSDB listeners
 * themselves (an OpenTSDB connection whose first line is an HTTP request line is handed to
 * opentsdb_http.c, which answers after the commit). A sink
 * owns one batch; a TCP line connection splits what it reads into lines, converts each, and
 * hands the normalised result to its listener's sink. While the log refuses a batch as full,
 * the batch is held and retried and TCP reading stops, so the agent's own buffer holds the
 * rest; UDP has no such lever and counts the points as dropped (log_full). A client that goes
 * away mid-line loses that line only. Loop thread only. */
#include "relay/shard_split.h"
#include "relay/stream.h"

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "relay/graphite.h"
#include "relay/opentsdb.h"
#include "relay/opentsdb_http.h"
#include "relay/relay_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define RETRY_FULL_MS 1000
#define DATAGRAM_MAX 65536
#define READ_CHUNK 65536

const char *const stream_drop_names[DROP_REASONS] = {"malformed", "too_long", "log_full", "nan"};

/* ---- sinks: the one batching ----------------------------------------------------------- */

struct stream_sink {
    struct relay *relay;
    char *db, *rp;
    int hold_on_full;
    void (*pause)(void *arg, int paused);
    void *pause_arg;
    struct buf batch;
    size_t points;
    uint64_t recv_ns;
    uv_timer_t timer;
    int in_flight;     /* appends not completed yet */
    int closed;        /* stream_sink_close was called */
    int timer_open;
    int first_done;    /* stream_sink_before_first ran */
    struct buf held;   /* a batch the log refused as full, to retry */
    size_t held_points;
    uint64_t held_recv_ns;
    int holding;
    uint64_t log_at_ns, log_skipped;
    struct stream_stats st;
};

struct sink_commit {
    struct stream_sink *s;
    size_t points;
    uint64_t recv_ns;
    char *body; /* kept for a retry when hold_on_full */
    size_t body_len;
    void (*done)(void *arg, int rc); /* stream_sink_append_now's caller */
    void *done_arg;
};

static void sink_maybe_free(struct stream_sink *s)
{
    if (!s->closed || s->in_flight > 0 || s->timer_open)
        return;
    buf_deinit(&s->batch);
    buf_deinit(&s->held);
    free(s->db);
    free(s->rp);
    free(s);
}

static void on_sink_timer_closed(uv_handle_t *h)
{
    struct stream_sink *s = h->data;
    s->timer_open = 0;
    sink_maybe_free(s);
}

static void sink_append(struct stream_sink *s, const char *body, size_t len, size_t points,
                        uint64_t recv_ns);

static void on_sink_timer(uv_timer_t *t)
{
    struct stream_sink *s = t->data;
    if (s->holding) {
        s->holding = 0;
        struct buf held = s->held;
        size_t points = s->held_points;
        buf_init(&s->held);
        s->held_points = 0; /* a second refusal holds them again, counted once */
        sink_append(s, held.data, held.len, points, s->held_recv_ns);
        buf_deinit(&held);
        /* Lines batched while holding had no flush timer: they go next, in order. */
        stream_sink_flush(s);
        return;
    }
    stream_sink_flush(s);
}

static void sink_commit_done(void *arg, int rc, uint64_t seq)
{
    struct sink_commit *sc = arg;
    struct stream_sink *s = sc->s;
    struct relay *r = s->relay;
    (void)seq;
    s->in_flight--;
    if (sc->done != NULL) {
        if (rc == 0) {
            s->st.points_total += sc->points;
            r->ctr.points_total += sc->points;
        }
        sc->done(sc->done_arg, rc);
    } else if (rc == 0) {
        s->st.points_total += sc->points;
        r->ctr.points_total += sc->points;
        if (s->st.paused && !s->holding && !s->closed) {
            s->st.paused = 0;
            if (s->pause)
                s->pause(s->pause_arg, 0);
        }
    } else if (rc == IWR_EFULL && s->hold_on_full && !s->closed) {
        /* Keep it in order ahead of what comes next: what was batched since goes after it. */
        buf_append(&s->held, sc->body, sc->body_len);
        s->held_points += sc->points;
        if (!s->holding)
            s->held_recv_ns = sc->recv_ns;
        s->holding = 1;
        if (!s->st.paused) {
            s->st.paused = 1;
            log_warn("event=stream_paused listener=%s reason=log_full", s->st.label);
            if (s->pause)
                s->pause(s->pause_arg, 1);
        }
        uv_timer_start(&s->timer, on_sink_timer, RETRY_FULL_MS, 0);
    } else {
        s->st.dropped_total[DROP_LOG_FULL] += sc->points;
        r->ctr.udp_dropped_points_total += sc->points;
        log_warn("event=stream_batch_dropped listener=%s points=%zu err=\"%s\"", s->st.label,
                 sc->points, iwr_strerror(rc));
    }
    free(sc->body);
    free(sc);
    sink_maybe_free(s);
}

static void sink_append_cb(struct stream_sink *s, const char *body, size_t len, size_t points,
                           uint64_t recv_ns, void (*done)(void *arg, int rc), void *done_arg)
{
    if (!s->first_done)
        stream_sink_before_first(s);
    struct wal_record rec = {0};
    rec.recv_ns = recv_ns;
    rec.points = (uint32_t)points;
    rec.precision = LP_NS;
    rec.db = s->db;
    rec.db_len = strlen(s->db);
    rec.rp = s->rp ? s->rp : "";
    rec.rp_len = strlen(rec.rp);
    rec.body = body;
    rec.body_len = len;
    struct sink_commit *sc = xcalloc(1, sizeof(*sc));
    sc->s = s;
    sc->points = points;
    sc->recv_ns = recv_ns;
    sc->done = done;
    sc->done_arg = done_arg;
    if (s->hold_on_full && done == NULL) {
        sc->body = xmalloc(len);
        memcpy(sc->body, body, len);
        sc->body_len = len;
    }
    s->in_flight++;
    shard_split_append(s->relay, &rec, sink_commit_done, sc); /* wal_append, by shard */
}

static void sink_append(struct stream_sink *s, const char *body, size_t len, size_t points,
                        uint64_t recv_ns)
{
    sink_append_cb(s, body, len, points, recv_ns, NULL, NULL);
}

void stream_sink_append_now(struct stream_sink *s, const char *lp, size_t len, size_t points,
                            uint64_t recv_ns, void (*done)(void *arg, int rc), void *arg)
{
    sink_append_cb(s, lp, len, points, recv_ns, done, arg);
}

/* The CREATE DATABASE record is durable, or refused: then the next append tries it again, so
 * that it still goes before the listener's first points. */
static void created_done(void *arg, int rc, uint64_t seq)
{
    struct stream_sink *s = arg;
    (void)seq;
    s->in_flight--;
    if (rc != 0) {
        s->first_done = 0;
        log_warn("event=stream_create_database_failed listener=%s db=%s err=\"%s\"", s->st.label,
                 s->db, iwr_strerror(rc));
    }
    sink_maybe_free(s);
}

void stream_sink_before_first(struct stream_sink *s)
{
    s->first_done = 1;
    /* influxd's inputs create their database; so does every backend, in log order, before
     * this listener's first points (a statement record, which each sender runs through
     * /query at its place in the log; CREATE DATABASE of one that exists changes nothing). */
    struct buf q;
    buf_init(&q);
    buf_append_str(&q, "CREATE DATABASE \"");
    for (const char *p = s->db; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_append(&q, "\\", 1);
        buf_append(&q, p, 1);
    }
    buf_append_str(&q, "\"");
    struct wal_record rec = {0};
    rec.recv_ns = wal_now_ns();
    rec.precision = LP_NS;
    rec.flags = WAL_REC_STATEMENT;
    rec.db = s->db;
    rec.db_len = strlen(s->db);
    rec.rp = "";
    rec.body = q.data;
    rec.body_len = q.len;
    s->in_flight++;
    wal_append(s->relay->wal, &rec, created_done, s);
    buf_deinit(&q);
}

struct stream_sink *stream_sink_new(struct relay *r, const char *label, const char *db,
                                    const char *rp, int hold_on_full,
                                    void (*pause)(void *arg, int paused), void *pause_arg)
{
    struct stream_sink *s = xcalloc(1, sizeof(*s));
    s->relay = r;
    s->db = xstrdup(db);
    s->rp = rp != NULL && rp[0] != '\0' ? xstrdup(rp) : NULL;
    s->hold_on_full = hold_on_full;
    s->pause = pause;
    s->pause_arg = pause_arg;
    snprintf(s->st.label, sizeof(s->st.label), "%s", label);
    uv_timer_init(r->loop, &s->timer);
    s->timer.data = s;
    s->timer_open = 1;
    return s;
}

struct stream_stats *stream_sink_stats(struct stream_sink *s)
{
    return &s->st;
}

int stream_sink_held(const struct stream_sink *s)
{
    return s->holding;
}

void stream_sink_add(struct stream_sink *s, const char *lp, size_t len, size_t points,
                     uint64_t recv_ns)
{
    if (points == 0 || s->closed)
        return;
    if (s->points == 0)
        s->recv_ns = recv_ns;
    buf_append(&s->batch, lp, len);
    s->points += points;
    if (s->batch.len >= STREAM_BATCH_BYTES)
        stream_sink_flush(s);
    else if (!s->holding && !uv_is_active((uv_handle_t *)&s->timer))
        uv_timer_start(&s->timer, on_sink_timer, STREAM_FLUSH_MS, 0);
}

void stream_sink_flush(struct stream_sink *s)
{
    if (s->points == 0)
        return;
    if (s->holding) {
        /* Behind the held batch, in order; TCP stops reading, so this stays bounded. */
        buf_append(&s->held, s->batch.data, s->batch.len);
        s->held_points += s->points;
    } else {
        if (!s->holding)
            uv_timer_stop(&s->timer);
        sink_append(s, s->batch.data, s->batch.len, s->points, s->recv_ns);
    }
    buf_clear(&s->batch);
    s->points = 0;
}

void stream_sink_close(struct stream_sink *s)
{
    if (s->holding) {
        /* Shutting down with the log full: the held lines were never acknowledged to anyone,
         * but they were read; say how many are lost. */
        log_warn("event=stream_held_dropped listener=%s points=%zu", s->st.label, s->held_points);
        s->holding = 0;
    }
    stream_sink_flush(s);
    s->closed = 1;
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, on_sink_timer_closed);
}

void stream_sink_log_drop(struct stream_sink *s, const char *why, const char *line, size_t len)
{
    uint64_t now = clock_monotonic_ns();
    if (s->log_at_ns != 0 && now - s->log_at_ns < 1000000000ull) {
        s->log_skipped++;
        return;
    }
    int n = len > 200 ? 200 : (int)len;
    char shown[201];
    for (int i = 0; i < n; i++)
        shown[i] = (line[i] >= 0x20 && line[i] < 0x7f && line[i] != '"' && line[i] != '\\')
                       ? line[i]
                       : '?';
    shown[n] = '\0';
    log_warn("event=stream_line_dropped listener=%s reason=\"%s\" line=\"%s\" dropped_since_last=%" PRIu64,
             s->st.label, why, shown, s->log_skipped);
    s->log_at_ns = now;
    s->log_skipped = 0;
}

/* ---- listeners ----------------------------------------------------------------------------- */

struct line_conn;

struct stream_listener {
    struct relay *relay;
    enum relay_stream_kind kind;
    char *addr;
    struct graphite *graphite;  /* RELAY_GRAPHITE */
    struct stream_sink *sink;   /* shared by the TCP and UDP sides */
    struct stream_sink *usink;  /* UDP side: drops when full */
    uv_tcp_t tcp;
    uv_udp_t udp;
    int tcp_open, udp_open;
    struct line_conn *conns;
    char *rbuf;                 /* UDP datagrams */
    struct buf conv;            /* converted lines of one read, before normalising */
    struct buf norm;
    int closing;
    int handles;
};

struct line_conn {
    uv_tcp_t tcp;
    uv_timer_t idle;
    struct stream_listener *l;
    struct line_conn *prev, *next;
    struct buf partial;         /* a line not ended yet */
    int skipping;               /* inside a line over STREAM_LINE_MAX: drop up to its '\n' */
    int reading;
    int first_seen;             /* OpenTSDB: the first line was looked at (HTTP or telnet) */
    struct tsdb_http *http;     /* OpenTSDB: the connection speaks HTTP */
    int handles;
    char rbuf[READ_CHUNK];
};

static void conn_send(void *arg, const char *p, size_t n, int close_after);

/* Convert 'line' into l->conv; count what is dropped. 'c': the TCP connection it came from
 * (NULL for UDP), for OpenTSDB's "version" answer. */
static void convert_line(struct stream_listener *l, struct stream_sink *s, struct line_conn *c,
                         const char *line, size_t len, int64_t now)
{
    struct stream_stats *st = stream_sink_stats(s);
    const char *why = "malformed";
    int rc;
    if (l->kind == RELAY_OPENTSDB) {
        rc = opentsdb_line(line, len, &l->conv, &why);
        if (rc == OPENTSDB_EMPTY)
            return;
        if (rc == OPENTSDB_VERSION) {
            if (c != NULL)
                conn_send(c, OPENTSDB_VERSION_TEXT, strlen(OPENTSDB_VERSION_TEXT), 0);
            return;
        }
    } else {
        rc = graphite_line(l->graphite, line, len, now, &l->conv, &why);
        if (rc == GRAPHITE_EMPTY)
            return;
    }
    st->lines_total++;
    if (l->kind == RELAY_GRAPHITE && rc == GRAPHITE_NAN) {
        st->dropped_total[DROP_NAN]++;
    } else if (rc != 0) {
        st->dropped_total[DROP_MALFORMED]++;
        stream_sink_log_drop(s, why, line, len);
    }
}

/* Normalise what was converted (nothing malformed reaches the log) and batch it. */
static void commit_converted(struct stream_listener *l, struct stream_sink *s, uint64_t now)
{
    if (l->conv.len == 0)
        return;
    struct lp_result res;
    lp_result_init(&res);
    struct lp_options lo = {.allow_unsigned = 0, .max_errors = 1};
    buf_clear(&l->norm);
    lp_normalize(l->conv.data, l->conv.len, LP_NS, (int64_t)now, &lo, &l->norm, &res);
    if (res.rejected > 0) {
        stream_sink_stats(s)->dropped_total[DROP_MALFORMED] += res.rejected;
        stream_sink_log_drop(s, res.errors.data ? res.errors.data : "invalid", "", 0);
    }
    stream_sink_add(s, l->norm.data, l->norm.len, res.points, now);
    lp_result_deinit(&res);
    buf_clear(&l->conv);
}

/* One handle of the listener (its sockets, its connections) is gone: free it after the last,
 * once it is closing. */
static void listener_release(struct stream_listener *l)
{
    if (--l->handles > 0 || !l->closing)
        return;
    buf_deinit(&l->conv);
    buf_deinit(&l->norm);
    free(l->rbuf);
    free(l->addr);
    graphite_free(l->graphite);
    free(l);
}

static void on_conn_closed(uv_handle_t *h)
{
    struct line_conn *c = h->data;
    if (--c->handles > 0)
        return;
    struct stream_listener *l = c->l;
    buf_deinit(&c->partial);
    if (c->http)
        tsdb_http_free(c->http);
    free(c);
    listener_release(l);
}

static void conn_close(struct line_conn *c)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    struct stream_listener *l = c->l;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    stream_sink_stats(l->sink)->connections--;
    /* A line not ended when the client went away is lost: it was never whole. */
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    uv_close((uv_handle_t *)&c->idle, on_conn_closed);
}

static void on_idle(uv_timer_t *t)
{
    conn_close(t->data);
}

static void on_conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct line_conn *c = h->data;
    (void)suggested;
    *b = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void conn_line(struct line_conn *c, const char *p, size_t n, int64_t now)
{
    struct stream_listener *l = c->l;
    if (c->partial.len > 0) {
        if (c->partial.len + n > STREAM_LINE_MAX) {
            stream_sink_stats(l->sink)->dropped_total[DROP_TOO_LONG]++;
            buf_clear(&c->partial);
            return;
        }
        buf_append(&c->partial, p, n);
        convert_line(l, l->sink, c, c->partial.data, c->partial.len, now);
        buf_clear(&c->partial);
    } else {
        convert_line(l, l->sink, c, p, n, now);
    }
}

struct send_req {
    uv_write_t w;
    struct line_conn *c;
    int close_after;
    char data[];
};

static void on_sent(uv_write_t *w, int status)
{
    struct send_req *sr = (struct send_req *)w;
    if (sr->close_after || status < 0)
        conn_close(sr->c);
    free(sr);
}

/* Write to the client (OpenTSDB's answers); the bytes are copied. */
static void conn_send(void *arg, const char *p, size_t n, int close_after)
{
    struct line_conn *c = arg;
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    struct send_req *sr = xmalloc(sizeof(*sr) + n);
    sr->c = c;
    sr->close_after = close_after;
    memcpy(sr->data, p, n);
    uv_buf_t b = uv_buf_init(sr->data, (unsigned)n);
    if (uv_write(&sr->w, (uv_stream_t *)&c->tcp, &b, 1, on_sent) != 0) {
        free(sr);
        conn_close(c);
    }
}

static void on_conn_read(uv_stream_t *h, ssize_t n, const uv_buf_t *b);
static void on_conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);

/* The HTTP side holds reading while a request waits for its commit. */
static void conn_hold(void *arg, int hold)
{
    struct line_conn *c = arg;
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    if (hold && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    } else if (!hold && !c->reading && !stream_sink_held(c->l->sink)) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_conn_alloc, on_conn_read) == 0)
            c->reading = 1;
    }
}

/* OpenTSDB: once the first line is whole, an HTTP request line makes this an HTTP connection
 * (influxd tries http.ReadRequest first). Returns 1 when the bytes went to the HTTP side. */
static int conn_maybe_http(struct line_conn *c, const char *p, size_t n)
{
    const char *nl = memchr(p, '\n', n);
    if (nl == NULL) {
        if (c->partial.len + n > STREAM_LINE_MAX)
            c->first_seen = 1; /* too long for a request line: the line path drops it */
        return 0;
    }
    c->first_seen = 1;
    struct buf first;
    buf_init(&first);
    buf_append(&first, c->partial.data, c->partial.len);
    buf_append(&first, p, (size_t)(nl - p));
    int http = opentsdb_is_http(first.data, first.len);
    buf_deinit(&first);
    if (!http)
        return 0;
    struct tsdb_http_io io = {conn_send, conn_hold, c};
    c->http = tsdb_http_new(c->l->relay, c->l->sink, &io);
    struct buf all = c->partial;
    buf_init(&c->partial);
    buf_append(&all, p, n);
    tsdb_http_feed(c->http, all.data, all.len);
    buf_deinit(&all);
    return 1;
}

static void on_conn_read(uv_stream_t *h, ssize_t n, const uv_buf_t *b)
{
    struct line_conn *c = h->data;
    struct stream_listener *l = c->l;
    if (n < 0) {
        conn_close(c);
        return;
    }
    if (n == 0)
        return;
    struct relay *r = l->relay;
    if (r->cfg_limits.idle_timeout_ms > 0)
        uv_timer_start(&c->idle, on_idle, r->cfg_limits.idle_timeout_ms, 0);
    struct stream_stats *st = stream_sink_stats(l->sink);
    st->bytes_total += (uint64_t)n;
    if (c->http != NULL) {
        tsdb_http_feed(c->http, b->base, (size_t)n);
        return;
    }
    if (l->kind == RELAY_OPENTSDB && !c->first_seen && conn_maybe_http(c, b->base, (size_t)n))
        return;
    uint64_t now = wal_now_ns();
    const char *p = b->base, *end = b->base + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL) {
            size_t rest = (size_t)(end - p);
            if (c->skipping || c->partial.len + rest > STREAM_LINE_MAX) {
                if (!c->skipping)
                    st->dropped_total[DROP_TOO_LONG]++;
                c->skipping = 1;
                buf_clear(&c->partial);
            } else {
                buf_append(&c->partial, p, rest);
            }
            break;
        }
        if (c->skipping)
            c->skipping = 0;
        else
            conn_line(c, p, (size_t)(nl - p), (int64_t)now);
        p = nl + 1;
    }
    commit_converted(l, l->sink, now);
}

static void listener_pause(void *arg, int paused)
{
    struct stream_listener *l = arg;
    struct relay *r = l->relay;
    for (struct line_conn *c = l->conns; c != NULL; c = c->next) {
        if (paused && c->reading) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = 0;
            /* Not idle while we do not read: closing it would lose what waits in the socket. */
            uv_timer_stop(&c->idle);
        } else if (!paused && !c->reading && !(c->http && tsdb_http_busy(c->http))) {
            if (uv_read_start((uv_stream_t *)&c->tcp, on_conn_alloc, on_conn_read) == 0)
                c->reading = 1;
            if (r->cfg_limits.idle_timeout_ms > 0)
                uv_timer_start(&c->idle, on_idle, r->cfg_limits.idle_timeout_ms, 0);
        }
    }
}

static void on_stream_connection(uv_stream_t *server, int status)
{
    struct stream_listener *l = server->data;
    struct relay *r = l->relay;
    if (status < 0)
        return;
    struct line_conn *c = xcalloc(1, sizeof(*c));
    c->l = l;
    uv_tcp_init(r->loop, &c->tcp);
    uv_timer_init(r->loop, &c->idle);
    c->tcp.data = c;
    c->idle.data = c;
    c->handles = 2;
    l->handles++;
    struct stream_stats *st = stream_sink_stats(l->sink);
    c->next = l->conns;
    if (l->conns)
        l->conns->prev = c;
    l->conns = c;
    st->connections++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    if (r->cfg_limits.max_connections > 0 && st->connections > r->cfg_limits.max_connections) {
        st->connections_refused_total++;
        conn_close(c);
        return;
    }
    st->connections_total++;
    if (r->cfg_limits.idle_timeout_ms > 0)
        uv_timer_start(&c->idle, on_idle, r->cfg_limits.idle_timeout_ms, 0);
    if (!stream_sink_held(l->sink) &&
        uv_read_start((uv_stream_t *)&c->tcp, on_conn_alloc, on_conn_read) == 0)
        c->reading = 1;
}

static void on_dgram_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct stream_listener *l = h->data;
    (void)suggested;
    *b = uv_buf_init(l->rbuf, DATAGRAM_MAX);
}

static void on_dgram(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *addr,
                     unsigned flags)
{
    struct stream_listener *l = h->data;
    (void)addr;
    if (n <= 0)
        return;
    struct stream_stats *st = stream_sink_stats(l->usink);
    st->bytes_total += (uint64_t)n;
    if (flags & UV_UDP_PARTIAL) {
        st->dropped_total[DROP_TOO_LONG]++;
        return;
    }
    uint64_t now = wal_now_ns();
    const char *p = b->base, *end = b->base + n;
    while (p <= end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        convert_line(l, l->usink, NULL, p, (size_t)(e - p), (int64_t)now);
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    commit_converted(l, l->usink, now);
}

static int sockaddr_of(const char *hostport, struct sockaddr_storage *ss)
{
    char host[256];
    int port;
    if (hostport_parse(hostport, host, sizeof(host), &port, NULL) != 0)
        return IWR_EINVAL;
    return strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss)
                             : uv_ip4_addr(host[0] ? host : "0.0.0.0", port,
                                           (struct sockaddr_in *)ss);
}

static void on_listener_handle_closed(uv_handle_t *h)
{
    listener_release(h->data);
}

static const char *kind_name(enum relay_stream_kind k)
{
    return k == RELAY_GRAPHITE ? "graphite" : "opentsdb";
}

static int listener_start(struct relay *r, const struct relay_stream *cs,
                          struct stream_listener **out)
{
    struct sockaddr_storage ss;
    int rc = sockaddr_of(cs->listen, &ss);
    if (rc != 0)
        return rc;
    struct stream_listener *l = xcalloc(1, sizeof(*l));
    l->relay = r;
    l->kind = cs->kind;
    l->addr = xstrdup(cs->listen);
    *out = l;
    char err[256];
    struct graphite_opts go = {cs->separator, cs->templates, cs->n_templates, cs->tags, cs->n_tags};
    if (cs->kind == RELAY_GRAPHITE)
        rc = graphite_new(&l->graphite, &go, err, sizeof(err));
    if (rc != 0) {
        log_error("event=listen_failed proto=%s addr=%s err=\"%s\"", kind_name(cs->kind),
                  cs->listen, err);
        return rc;
    }
    char label[160];
    if (cs->tcp) {
        snprintf(label, sizeof(label), "%s/tcp/%s", kind_name(cs->kind), cs->listen);
        l->sink = stream_sink_new(r, label, cs->database, cs->retention_policy, 1,
                                  listener_pause, l);
        uv_tcp_init(r->loop, &l->tcp);
        l->tcp.data = l;
        l->tcp_open = 1;
        l->handles++;
        rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
        if (rc == 0)
            rc = uv_listen((uv_stream_t *)&l->tcp, 511, on_stream_connection);
    }
    if (rc == 0 && cs->udp && cs->kind == RELAY_GRAPHITE) {
        snprintf(label, sizeof(label), "%s/udp/%s", kind_name(cs->kind), cs->listen);
        l->usink = stream_sink_new(r, label, cs->database, cs->retention_policy, 0, NULL, NULL);
        l->rbuf = xmalloc(DATAGRAM_MAX);
        uv_udp_init(r->loop, &l->udp);
        l->udp.data = l;
        l->udp_open = 1;
        l->handles++;
        rc = uv_udp_bind(&l->udp, (struct sockaddr *)&ss, 0);
        if (rc == 0 && cs->read_buffer_bytes > 0) {
            int size = (int)cs->read_buffer_bytes;
            uv_recv_buffer_size((uv_handle_t *)&l->udp, &size);
        }
        if (rc == 0)
            rc = uv_udp_recv_start(&l->udp, on_dgram_alloc, on_dgram);
    }
    if (rc != 0)
        log_error("event=listen_failed proto=%s addr=%s err=\"%s\"", kind_name(cs->kind),
                  cs->listen, uv_strerror(rc));
    else
        log_info("event=listening proto=%s addr=%s tcp=%d udp=%d db=%s", kind_name(cs->kind),
                 cs->listen, cs->tcp, cs->udp, cs->database);
    return rc;
}

static void listener_close(struct stream_listener *l)
{
    l->closing = 1;
    for (struct line_conn *c = l->conns, *next; c != NULL; c = next) {
        next = c->next;
        conn_close(c);
    }
    if (l->sink)
        stream_sink_close(l->sink);
    if (l->usink)
        stream_sink_close(l->usink);
    l->sink = l->usink = NULL;
    /* Held by itself until its handles are closed, so a listener with none is freed here. */
    l->handles++;
    if (l->tcp_open)
        uv_close((uv_handle_t *)&l->tcp, on_listener_handle_closed);
    if (l->udp_open)
        uv_close((uv_handle_t *)&l->udp, on_listener_handle_closed);
    listener_release(l);
}

int stream_start_all(struct relay *r, const struct relay_stream *cfg, size_t n)
{
    r->streams = xcalloc(n ? n : 1, sizeof(*r->streams));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = listener_start(r, &cfg[i], &r->streams[i]);
        r->n_streams = i + 1;
    }
    return rc;
}

void stream_close_all(struct relay *r)
{
    for (size_t i = 0; i < r->n_streams; i++) {
        if (r->streams[i] != NULL)
            listener_close(r->streams[i]);
        r->streams[i] = NULL;
    }
}

size_t stream_stats_all(struct relay *r, const struct stream_stats **out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n_udp && k < max; i++)
        if (r->udp[i] != NULL)
            out[k++] = udp_stats(r->udp[i]);
    for (size_t i = 0; i < r->n_streams; i++) {
        struct stream_listener *l = r->streams[i];
        if (l == NULL)
            continue;
        if (l->sink && k < max)
            out[k++] = stream_sink_stats(l->sink);
        if (l->usink && k < max)
            out[k++] = stream_sink_stats(l->usink);
    }
    return k;
}
