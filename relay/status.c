/* The status page's data: one snapshot of what /health and /metrics report (relay_view_get,
 * relay_backend_eta, relay_hooks.backends), the ring of samples behind its charts, access
 * control, and GET /status.json. status_page.c renders the HTML around the same JSON.
 *
 * The ring holds STATUS_RING_SAMPLES samples taken every STATUS_SAMPLE_MS by a libuv timer
 * (15 minutes): ingest points/s and requests/s, and each backend's lag in records. It is fixed
 * in size; a backend gets its own series when the sampler first sees it (a backend added by
 * SIGHUP starts then, "since" says when) and loses it when it disappears. Nothing is kept
 * across a restart. Loop thread only. */
#include "relay/relay_int.h"

#include "common/log.h"
#include "common/xalloc.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#define STATUS_SAMPLE_MS 5000
#define STATUS_RING_SAMPLES 180 /* 15 minutes of 5 s samples */

struct status_series {
    char name[65];
    uint64_t since_ns;                      /* realtime of its first sample */
    double lag[STATUS_RING_SAMPLES];        /* lag_records; NAN where it had no sample */
    char last_error[256];                   /* as last seen, to date its changes */
    uint64_t last_error_ns;                 /* realtime when it was first seen; 0: none */
    int seen;                               /* in the latest snapshot (sweep mark) */
};

/* A stream listener as the status page lists it: kind and transport are static strings. */
struct status_listener {
    const char *kind;      /* "udp", "graphite", "opentsdb" */
    const char *transport; /* "udp" or "tcp" */
    char *address, *database;
};

struct status_ring {
    uv_timer_t timer;                       /* data: the relay; the ring is freed on close */
    struct relay *relay;
    uint64_t t_ns[STATUS_RING_SAMPLES];     /* realtime of each sample */
    double points_ps[STATUS_RING_SAMPLES];  /* NAN for the first (no interval yet) */
    double requests_ps[STATUS_RING_SAMPLES];
    size_t head, count;                     /* next slot; samples held */
    /* The counters at the last sample, for the rates of the next one. */
    uint64_t prev_ns, prev_points, prev_requests[EP_COUNT], prev_udp;
    double ep_requests_ps[EP_COUNT];        /* over the last interval */
    double udp_datagrams_ps;
    struct status_series *series;
    size_t n_series, cap_series;
    char **listen;                          /* HTTP listener addresses, copied */
    size_t n_listen;
    struct status_listener *streams;        /* UDP, Graphite and OpenTSDB listeners, copied */
    size_t n_streams;
};

/* ---- the snapshot ------------------------------------------------------------------------- */

void relay_snapshot_get(struct relay *r, struct relay_snapshot *s)
{
    memset(s, 0, sizeof(*s));
    relay_view_get(r, &s->v);
    if (r->hooks.backends)
        r->hooks.backends(r->hooks.arg, &s->st, &s->n);
    s->eta = xcalloc(s->n ? s->n : 1, sizeof(*s->eta));
    for (size_t i = 0; i < s->n; i++)
        s->eta[i] = relay_backend_eta(&s->v, &s->st[i]);
    s->now_ns = wal_now_ns();
    if (r->hooks.peers != NULL)
        r->hooks.peers(r->hooks.arg, &s->peers, &s->n_peers);
    if (s->n_peers > 0) {
        const char *l = r->hooks.peer_leader ? r->hooks.peer_leader(r->hooks.arg) : NULL;
        snprintf(s->leader, sizeof(s->leader), "%s",
                 l ? l : r->cfg_limits.relay_name ? r->cfg_limits.relay_name : "relay");
    }
}

void relay_snapshot_deinit(struct relay_snapshot *s)
{
    free(s->st);
    free(s->eta);
    free(s->peers);
    s->st = NULL;
    s->eta = NULL;
    s->peers = NULL;
    s->n = 0;
    s->n_peers = 0;
}

void relay_waits_json(struct buf *b, const struct relay_backend_view *x, uint64_t now_ns)
{
    if (x->fence_wait_seq != 0) {
        buf_append_str(b, ",\"fence_wait\":{\"origin\":\"");
        buf_append_json_str(b, x->fence_origin, strlen(x->fence_origin));
        buf_printf(b, "\",\"seq\":%" PRIu64 "}", x->fence_wait_seq);
    }
    if (x->barrier_wait_seq != 0) {
        uint64_t since = x->barrier_wait_since_ns;
        buf_printf(b, ",\"barrier_wait\":{\"seq\":%" PRIu64 ",\"since\":%.3f,\"seconds\":%.3f}",
                   x->barrier_wait_seq, (double)since / 1e9,
                   since != 0 && now_ns > since ? (double)(now_ns - since) / 1e9 : 0.0);
    }
}

void relay_peers_json(struct buf *b, const struct relay_snapshot *s)
{
    if (s->n_peers == 0)
        return;
    buf_append_str(b, ",\"leader\":\"");
    buf_append_json_str(b, s->leader, strlen(s->leader));
    buf_append_str(b, "\",\"peers\":[");
    for (size_t i = 0; i < s->n_peers; i++) {
        const struct relay_peer_view *p = &s->peers[i];
        buf_append_str(b, i ? ",{\"name\":\"" : "{\"name\":\"");
        buf_append_json_str(b, p->name, strlen(p->name));
        buf_append_str(b, "\",\"url\":\"");
        buf_append_json_str(b, p->url, strlen(p->url));
        buf_printf(b,
                   "\",\"up\":%s,\"leader\":%s,\"last_ok\":%.3f,\"polls_failed\":%" PRIu64
                   ",\"fences_failed\":%" PRIu64 ",\"barrier_timeouts\":%" PRIu64
                   ",\"max_lag_records\":%" PRIu64 ",\"oldest_unacked\":%.3f}",
                   p->up ? "true" : "false", strcmp(p->name, s->leader) == 0 ? "true" : "false",
                   (double)p->last_ok_ns / 1e9, p->polls_failed_total, p->fences_failed_total,
                   p->barrier_timeouts_total, p->max_lag_records,
                   (double)p->oldest_unacked_ns / 1e9);
    }
    buf_append_str(b, "]");
}

/* ---- the ring ----------------------------------------------------------------------------- */

static uint64_t requests_of(const struct relay *r, int ep)
{
    uint64_t n = 0;
    for (int i = 0; i <= CODE_SLOTS; i++)
        n += r->ctr.requests[ep][i];
    return n;
}

static struct status_series *series_find(struct status_ring *g, const char *name)
{
    for (size_t i = 0; i < g->n_series; i++)
        if (strcmp(g->series[i].name, name) == 0)
            return &g->series[i];
    return NULL;
}

/* The series of 'name', created (empty from now on) when it is new. */
static struct status_series *series_get(struct status_ring *g, const char *name, uint64_t now)
{
    struct status_series *x = series_find(g, name);
    if (x != NULL)
        return x;
    if (g->n_series == g->cap_series) {
        g->cap_series = g->cap_series ? 2 * g->cap_series : 4;
        g->series = xrealloc(g->series, g->cap_series * sizeof(*g->series));
    }
    x = &g->series[g->n_series++];
    memset(x, 0, sizeof(*x));
    snprintf(x->name, sizeof(x->name), "%s", name);
    x->since_ns = now;
    for (size_t i = 0; i < STATUS_RING_SAMPLES; i++)
        x->lag[i] = NAN;
    return x;
}

/* Date a backend's last error: the first time this process saw the text it has now. */
static void series_note_error(struct status_series *x, const char *err, uint64_t now)
{
    if (strcmp(x->last_error, err) == 0)
        return;
    snprintf(x->last_error, sizeof(x->last_error), "%s", err);
    x->last_error_ns = err[0] != '\0' ? now : 0;
}

static void ring_sample(struct status_ring *g, struct relay *r)
{
    struct relay_snapshot s;
    relay_snapshot_get(r, &s);
    uint64_t now = s.now_ns;
    double dt = g->prev_ns != 0 && now > g->prev_ns ? (double)(now - g->prev_ns) / 1e9 : 0;
    uint64_t pts = r->ctr.points_total, req_all = 0, req_prev = 0;
    for (int ep = 0; ep < EP_COUNT; ep++) {
        uint64_t n = requests_of(r, ep);
        g->ep_requests_ps[ep] = dt > 0 ? (double)(n - g->prev_requests[ep]) / dt : 0;
        req_all += n;
        req_prev += g->prev_requests[ep];
        g->prev_requests[ep] = n;
    }
    size_t k = g->head;
    g->t_ns[k] = now;
    g->points_ps[k] = dt > 0 ? (double)(pts - g->prev_points) / dt : NAN;
    g->requests_ps[k] = dt > 0 ? (double)(req_all - req_prev) / dt : NAN;
    g->udp_datagrams_ps = dt > 0 ? (double)(r->ctr.udp_datagrams_total - g->prev_udp) / dt : 0;
    g->prev_ns = now;
    g->prev_points = pts;
    g->prev_udp = r->ctr.udp_datagrams_total;

    for (size_t i = 0; i < g->n_series; i++)
        g->series[i].seen = 0;
    for (size_t i = 0; i < s.n; i++) {
        struct status_series *x = series_get(g, s.st[i].name, now);
        x->lag[k] = (double)s.st[i].lag_records;
        x->seen = 1;
        series_note_error(x, s.st[i].last_error, now);
    }
    /* A backend removed by SIGHUP takes its series with it. */
    for (size_t i = 0; i < g->n_series;) {
        if (!g->series[i].seen)
            g->series[i] = g->series[--g->n_series];
        else
            i++;
    }
    g->head = (k + 1) % STATUS_RING_SAMPLES;
    if (g->count < STATUS_RING_SAMPLES)
        g->count++;
    relay_snapshot_deinit(&s);
}

static void on_ring_tick(uv_timer_t *t)
{
    struct status_ring *g = t->data;
    ring_sample(g, g->relay);
}

static char **strs_copy(const char *const *src, size_t n)
{
    char **out = xcalloc(n ? n : 1, sizeof(*out));
    for (size_t i = 0; i < n; i++)
        out[i] = xstrdup(src[i] ? src[i] : "");
    return out;
}

static void strs_free(char **v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i]);
    free(v);
}

static void listener_add(struct status_ring *g, const char *kind, const char *transport,
                         const char *address, const char *database)
{
    struct status_listener *l = &g->streams[g->n_streams++];
    l->kind = kind;
    l->transport = transport;
    l->address = xstrdup(address ? address : "");
    l->database = xstrdup(database ? database : "");
}

void status_ring_start(struct relay *r, const struct relay_options *opts)
{
    struct status_ring *g = xcalloc(1, sizeof(*g));
    g->relay = r;
    g->listen = strs_copy(opts->listen, opts->n_listen);
    g->n_listen = opts->n_listen;
    g->streams = xcalloc(opts->n_udp + 2 * opts->n_streams + 1, sizeof(*g->streams));
    for (size_t i = 0; i < opts->n_udp; i++)
        listener_add(g, "udp", "udp", opts->udp[i].listen, opts->udp[i].database);
    for (size_t i = 0; i < opts->n_streams; i++) {
        const struct relay_stream *cs = &opts->streams[i];
        const char *kind = cs->kind == RELAY_GRAPHITE ? "graphite" : "opentsdb";
        if (cs->tcp)
            listener_add(g, kind, "tcp", cs->listen, cs->database);
        if (cs->udp)
            listener_add(g, kind, "udp", cs->listen, cs->database);
    }
    uv_timer_init(r->loop, &g->timer);
    g->timer.data = g;
    uv_timer_start(&g->timer, on_ring_tick, STATUS_SAMPLE_MS, STATUS_SAMPLE_MS);
    uv_unref((uv_handle_t *)&g->timer);
    r->ring = g;
}

static void on_ring_closed(uv_handle_t *h)
{
    struct status_ring *g = h->data;
    strs_free(g->listen, g->n_listen);
    for (size_t i = 0; i < g->n_streams; i++) {
        free(g->streams[i].address);
        free(g->streams[i].database);
    }
    free(g->streams);
    free(g->series);
    free(g);
}

void status_ring_close(struct relay *r)
{
    if (r->ring == NULL)
        return;
    uv_timer_stop(&r->ring->timer);
    uv_close((uv_handle_t *)&r->ring->timer, on_ring_closed);
    r->ring = NULL;
}

/* ---- JSON --------------------------------------------------------------------------------- */

/* A number, or null for NaN and infinities (JSON has neither). */
static void jnum(struct buf *b, double v)
{
    if (isnan(v) || isinf(v))
        buf_append_str(b, "null");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        buf_printf(b, "%.0f", v);
    else
        buf_printf(b, "%.3f", v);
}

static void jsecs(struct buf *b, uint64_t ns)
{
    if (ns == 0)
        buf_append_str(b, "null");
    else
        buf_printf(b, "%.3f", (double)ns / 1e9);
}

/* The 'q' quantile of a commit-duration histogram, interpolated inside its bucket as
 * Prometheus' histogram_quantile does; NAN without observations. */
static double hist_quantile(const struct hist *h, double q)
{
    uint64_t total = 0;
    for (size_t i = 0; i <= h->nbounds; i++)
        total += h->buckets[i];
    if (total == 0)
        return NAN;
    double rank = q * (double)total, cum = 0;
    for (size_t i = 0; i < h->nbounds; i++) {
        double c = (double)h->buckets[i];
        if (cum + c >= rank && c > 0) {
            double lo = i == 0 ? 0 : h->bounds[i - 1];
            double hi = h->bounds[i];
            return lo + (hi - lo) * (rank - cum) / c;
        }
        cum += c;
    }
    return h->bounds[h->nbounds - 1]; /* above the last bound */
}

static const char *backend_state(const struct relay_backend_view *s)
{
    if (s->given_up)
        return "given-up";
    if (!s->up)
        return "down";
    return s->caught_up ? "up" : "catching-up";
}

static void json_backends(struct buf *b, const struct relay_snapshot *s, struct status_ring *g)
{
    buf_append_str(b, "\"backends\":[");
    for (size_t i = 0; i < s->n; i++) {
        const struct relay_backend_view *x = &s->st[i];
        struct status_series *ser = g ? series_get(g, x->name, s->now_ns) : NULL;
        if (ser != NULL)
            series_note_error(ser, x->last_error, s->now_ns);
        buf_append_str(b, i ? ",{\"name\":" : "{\"name\":");
        buf_append_json_quoted(b, x->name);
        buf_printf(b, ",\"kind\":\"%s\",\"url\":", x->kind[0] != '\0' ? x->kind : "v1");
        buf_append_json_quoted(b, x->url);
        buf_printf(b,
                   ",\"state\":\"%s\",\"up\":%s,\"caught_up\":%s,\"given_up\":%s,\"cursor\":%" PRIu64
                   ",\"lag_records\":%" PRIu64 ",\"lag_bytes\":%" PRIu64 ",\"lag_seconds\":",
                   backend_state(x), x->up ? "true" : "false", x->caught_up ? "true" : "false",
                   x->given_up ? "true" : "false", x->cursor, x->lag_records, x->lag_bytes);
        jnum(b, x->lag_seconds);
        buf_append_str(b, ",\"drain_records_per_second\":");
        jnum(b, x->drain_records_per_second);
        buf_append_str(b, ",\"catchup_eta_seconds\":");
        jnum(b, s->eta[i]);
        buf_printf(b,
                   ",\"sent_points\":%" PRIu64 ",\"dead_letters\":%" PRIu64
                   ",\"retries\":%" PRIu64 ",\"down_since\":",
                   x->sent_points_total, x->dead_letters_total, x->retries_total);
        jsecs(b, x->down_since_ns);
        buf_printf(b,
                   ",\"in_flight\":%" PRIu64 ",\"in_flight_limit\":%" PRIu64
                   ",\"batch_bytes_limit\":%" PRIu64,
                   x->in_flight, x->in_flight_limit, x->batch_bytes_limit);
        buf_append_str(b, ",\"last_error\":");
        buf_append_json_quoted(b, x->last_error);
        buf_append_str(b, ",\"last_error_at\":");
        jsecs(b, ser ? ser->last_error_ns : 0);
        relay_waits_json(b, x, s->now_ns);
        buf_append_str(b, "}");
    }
    buf_append_str(b, "]");
}

static void json_history(struct buf *b, const struct status_ring *g)
{
    size_t n = g ? g->count : 0;
    size_t first = g ? (g->head + STATUS_RING_SAMPLES - n) % STATUS_RING_SAMPLES : 0;
    buf_printf(b, "\"history\":{\"interval_seconds\":%d,\"capacity\":%d,\"since\":",
               STATUS_SAMPLE_MS / 1000, STATUS_RING_SAMPLES);
    jsecs(b, n ? g->t_ns[first] : 0);
    buf_append_str(b, ",\"t\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_append_str(b, ",");
        buf_printf(b, "%.0f", floor((double)g->t_ns[(first + i) % STATUS_RING_SAMPLES] / 1e9));
    }
    buf_append_str(b, "],\"points_per_second\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_append_str(b, ",");
        jnum(b, round(g->points_ps[(first + i) % STATUS_RING_SAMPLES] * 10) / 10);
    }
    buf_append_str(b, "],\"backends\":[");
    for (size_t j = 0; g && j < g->n_series; j++) {
        const struct status_series *x = &g->series[j];
        buf_append_str(b, j ? ",{\"name\":" : "{\"name\":");
        buf_append_json_quoted(b, x->name);
        buf_append_str(b, ",\"since\":");
        jsecs(b, x->since_ns);
        buf_append_str(b, ",\"lag_records\":[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                buf_append_str(b, ",");
            jnum(b, x->lag[(first + i) % STATUS_RING_SAMPLES]);
        }
        buf_append_str(b, "]}");
    }
    buf_append_str(b, "]}");
}

static void json_ingest(struct buf *b, struct relay *r, const struct relay_snapshot *s,
                        const struct status_ring *g)
{
    const struct relay_counters *k = &r->ctr;
    buf_append_str(b, "\"ingest\":{\"points_per_second\":");
    jnum(b, s->v.rates_known ? s->v.points_per_second : NAN);
    buf_printf(b,
               ",\"points_total\":%" PRIu64 ",\"bytes_total\":%" PRIu64
               ",\"rejected_lines_total\":%" PRIu64 ",\"udp_datagrams_total\":%" PRIu64
               ",\"udp_dropped_points_total\":%" PRIu64 ",\"udp_datagrams_per_second\":",
               k->points_total, k->bytes_total, k->rejected_lines_total, k->udp_datagrams_total,
               k->udp_dropped_points_total);
    jnum(b, g ? round(g->udp_datagrams_ps * 10) / 10 : NAN);
    buf_printf(b, ",\"open_connections\":%zu,\"endpoints\":[", r->n_conns);
    for (int ep = 0; ep < EP_COUNT; ep++) {
        uint64_t c4 = 0, c5 = 0, all = 0;
        for (int i = 0; i <= CODE_SLOTS; i++) {
            uint64_t n = k->requests[ep][i];
            all += n;
            int code = i < CODE_SLOTS ? counted_codes[i] : 0;
            if (code >= 400 && code < 500)
                c4 += n;
            else if (code >= 500 || i == CODE_SLOTS)
                c5 += n; /* the other-codes slot holds only codes we do not list: 5xx */
        }
        buf_printf(b, "%s{\"name\":\"%s\",\"requests_total\":%" PRIu64 ",\"requests_per_second\":",
                   ep ? "," : "", endpoint_names[ep], all);
        jnum(b, g ? round(g->ep_requests_ps[ep] * 10) / 10 : NAN);
        buf_printf(b, ",\"status_4xx\":%" PRIu64 ",\"status_5xx\":%" PRIu64 "}", c4, c5);
    }
    buf_append_str(b, "],\"listeners\":[");
    for (size_t i = 0; g && i < g->n_listen; i++) {
        buf_append_str(b, i ? ",{\"kind\":\"http\",\"address\":" : "{\"kind\":\"http\",\"address\":");
        buf_append_json_quoted(b, g->listen[i]);
        buf_append_str(b, "}");
    }
    for (size_t i = 0; g && i < g->n_streams; i++) {
        const struct status_listener *l = &g->streams[i];
        buf_printf(b, "%s{\"kind\":\"%s\",\"transport\":\"%s\",\"address\":",
                   i || g->n_listen ? "," : "", l->kind, l->transport);
        buf_append_json_quoted(b, l->address);
        buf_append_str(b, ",\"database\":");
        buf_append_json_quoted(b, l->database);
        buf_append_str(b, "}");
    }
    buf_append_str(b, "]}");
}

static void json_wal(struct buf *b, struct relay *r, const struct relay_snapshot *s)
{
    const struct wal_counters *wc = &s->v.wc;
    buf_printf(b,
               "\"wal\":{\"writable\":%s,\"full_limit\":\"%s\",\"records\":%" PRIu64
               ",\"bytes\":%" PRIu64 ",\"limit_bytes\":%zu,\"min_free_bytes\":%zu"
               ",\"first_sequence\":%" PRIu64 ",\"last_sequence\":%" PRIu64
               ",\"dead_letters\":%" PRIu64 ",\"dropped_records\":%" PRIu64
               ",\"rejected_appends\":%" PRIu64 ",\"fs_free_bytes\":",
               s->v.writable ? "true" : "false", wal_full_reason_name(wc->full_reason),
               wc->records, wc->log_bytes, wc->limit_bytes, wc->min_free_bytes, wc->first_seq,
               wc->last_seq, wc->dead_letters, wc->dropped_records, wc->rejected_full);
    struct statvfs fs;
    const char *dir = r->cfg_limits.data_dir;
    if (dir != NULL && statvfs(dir, &fs) == 0)
        buf_printf(b, "%llu", (unsigned long long)fs.f_bavail * (unsigned long long)fs.f_frsize);
    else
        buf_append_str(b, "null");
    struct hist hs, hr;
    wal_commit_hist_get(r->wal, &hs, &hr);
    buf_append_str(b, ",\"commit_p50_seconds\":");
    double p50 = hist_quantile(&hs, 0.5), p99 = hist_quantile(&hs, 0.99);
    if (isnan(p50))
        buf_append_str(b, "null");
    else
        buf_printf(b, "%.6f", p50);
    buf_append_str(b, ",\"commit_p99_seconds\":");
    if (isnan(p99))
        buf_append_str(b, "null");
    else
        buf_printf(b, "%.6f", p99);
    buf_append_str(b, ",\"append_records_per_second\":");
    jnum(b, s->v.rates_known ? round(s->v.records_per_second * 10) / 10 : NAN);
    /* +Inf (not filling) and unknown are both null; "filling" says which. */
    buf_append_str(b, ",\"filling\":");
    buf_append_str(b, isnan(s->v.full_eta_seconds) ? "null"
                      : isinf(s->v.full_eta_seconds) ? "false" : "true");
    buf_append_str(b, ",\"full_eta_seconds\":");
    jnum(b, s->v.full_eta_seconds);
    buf_append_str(b, "}");
}

static void status_json(struct buf *b, struct relay *r)
{
    struct relay_snapshot s;
    relay_snapshot_get(r, &s);
    buf_printf(b, "{\"name\":\"influx-wal-relay\",\"version\":\"%s\",\"now\":", IWR_VERSION);
    jsecs(b, s.now_ns);
    buf_append_str(b, ",\"started\":");
    jsecs(b, r->started_ns);
    buf_printf(b, ",\"uptime_seconds\":%.0f,\"data_dir\":",
               s.now_ns > r->started_ns ? floor((double)(s.now_ns - r->started_ns) / 1e9) : 0);
    buf_append_json_quoted(b, r->cfg_limits.data_dir ? r->cfg_limits.data_dir : "");
    buf_append_str(b, ",");
    json_wal(b, r, &s);
    buf_append_str(b, ",");
    if (r->active != NULL) {
        shard_active_json(b, r);
        buf_append_str(b, ",");
    }
    json_ingest(b, r, &s, r->ring);
    buf_append_str(b, ",");
    json_backends(b, &s, r->ring);
    relay_peers_json(b, &s);
    buf_append_str(b, ",");
    json_history(b, r->ring);
    buf_append_str(b, "}\n");
    relay_snapshot_deinit(&s);
}

/* ---- the endpoints ------------------------------------------------------------------------ */

/* 1 when 'req' may see the page: auth off, status-public on, or a configured user's
 * credentials. Else 401 with a Basic challenge (so a browser asks) has been sent. */
static int status_allowed(struct conn *c, struct http_req *req)
{
    const struct relay_options *cfg = &c->relay->cfg_limits;
    if (!cfg->auth_enabled || cfg->status_public)
        return 1;
    size_t qlen;
    const char *q = req_query(req, &qlen);
    int have = 0;
    if (auth_verify(cfg, req, q, qlen, &have))
        return 1;
    log_info("event=auth_failed endpoint=status reason=%s",
             have ? "bad_credentials" : "no_credentials");
    static const char msg[] = "{\"error\":\"authorization failed\"}\n";
    http_respond(c, 401, "WWW-Authenticate: Basic realm=\"influx-wal-relay\", charset=\"UTF-8\"\r\n",
                 msg, sizeof(msg) - 1);
    return 0;
}

void status_handle(struct conn *c, struct http_req *req, int json)
{
    if (!status_allowed(c, req))
        return;
    struct buf j;
    buf_init(&j);
    status_json(&j, c->relay);
    static const char hdr[] = "Cache-Control: no-store\r\n";
    if (json) {
        http_respond(c, 200, hdr, j.data, j.len);
    } else {
        struct buf page;
        buf_init(&page);
        status_page_render(&page, j.data, j.len);
        c->req.content_type = "text/html; charset=utf-8";
        /* Nothing but this page's own inline code and its own JSON: no external anything. */
        http_respond(c, 200,
                     "Cache-Control: no-store\r\n"
                     "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "
                     "style-src 'unsafe-inline'; connect-src 'self'; img-src data:\r\n",
                     page.data, page.len);
        buf_deinit(&page);
    }
    buf_deinit(&j);
}
