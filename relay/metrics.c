/* GET /metrics: Prometheus text exposition (version 0.0.4), and the figures /metrics and
 * /health share (relay_view_get, relay_backend_eta). Everything comes from counters the loop
 * keeps, the log's counters (a copy the writer refreshes after each commit and at least once a
 * second, behind its own small mutex, never the append queue's) and the senders' status
 * snapshot: a scrape costs no LMDB access, and the write path pays nothing for it beyond the
 * counters it bumps anyway. Loop thread only.
 *
 * Rates (ingest, removal from the log) are exponentially weighted moving averages with a
 * RATE_TAU_S time constant, updated from the counters and the monotonic clock whenever /metrics
 * or /health is read, at most once per RATE_MIN_DT_NS: decay by elapsed time, so scrapes at
 * any interval (or several scrapers) give the same averages. The first read only takes the
 * baseline; forecasts that need a rate are left out until the second. */
#include "relay/relay_int.h"
#include "relay/stream.h"

#include "common/clock.h"
#include "common/xalloc.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>

#define RATE_TAU_S 10.0
#define RATE_MIN_DT_NS 1000000000ull
/* ---- the shared view ---------------------------------------------------------------------- */

static void ewma(double *avg, double inst, double alpha, int known)
{
    *avg = known ? *avg + alpha * (inst - *avg) : inst;
}

void relay_view_get(struct relay *r, struct relay_view *v)
{
    struct relay_rates *q = &r->rates;
    memset(v, 0, sizeof(*v));
    wal_counters_get(r->wal, &v->wc);
    const struct wal_counters *wc = &v->wc;
    uint64_t now = clock_monotonic_ns();
    /* Records ever removed from the front of the log: sequences are contiguous. */
    uint64_t removed = wc->last_seq > wc->records ? wc->last_seq - wc->records : 0;
    int sample = q->at_ns == 0 || now - q->at_ns >= RATE_MIN_DT_NS;
    v->writable = wc->writable; /* the log's own judgement */
    if (sample && q->at_ns != 0) {
        double dt = (double)(now - q->at_ns) / 1e9;
        double alpha = 1.0 - exp(-dt / RATE_TAU_S);
        /* Counters only grow; a smaller value (none today) is taken as a fresh start. */
        double d_seq = wc->last_seq >= q->last_seq ? (double)(wc->last_seq - q->last_seq) : 0;
        double d_rm = removed >= q->removed ? (double)(removed - q->removed) : 0;
        uint64_t pts = r->ctr.points_total;
        double d_pts = pts >= q->points ? (double)(pts - q->points) : 0;
        ewma(&q->records_per_second, d_seq / dt, alpha, q->known);
        ewma(&q->removed_per_second, d_rm / dt, alpha, q->known);
        ewma(&q->points_per_second, d_pts / dt, alpha, q->known);
        q->known = 1;
    }
    if (sample) {
        q->at_ns = now;
        q->last_seq = wc->last_seq;
        q->removed = removed;
        q->points = r->ctr.points_total;
    }
    v->rates_known = q->known;
    v->records_per_second = q->records_per_second;
    v->removed_per_second = q->removed_per_second;
    v->points_per_second = q->points_per_second;

    /* Full ETA: room left over the net growth (appends minus removals, in records) times the
     * average size of a record in the log's pages. */
    double max = (double)wc->limit_bytes;
    double net = v->records_per_second - v->removed_per_second;
    if (!q->known)
        v->full_eta_seconds = NAN;
    else if ((double)wc->log_bytes >= max)
        v->full_eta_seconds = 0;
    else if (net <= 1e-9 || wc->records == 0)
        v->full_eta_seconds = INFINITY;
    else
        v->full_eta_seconds =
            (max - (double)wc->log_bytes) / (net * (double)wc->log_bytes / (double)wc->records);
}

double relay_backend_eta(const struct relay_view *v, const struct relay_backend_view *s)
{
    if (s->lag_records == 0)
        return 0;
    /* The lag shrinks by what it drains minus what keeps arriving. */
    double gain = s->drain_records_per_second - (v->rates_known ? v->records_per_second : 0);
    return gain > 1e-9 ? (double)s->lag_records / gain : INFINITY;
}

/* ---- text format -------------------------------------------------------------------------- */

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{labels} v; 'labels' is the inside of the braces or NULL. */
static void sample_f(struct buf *b, const char *name, const char *labels, double v)
{
    buf_append_str(b, name);
    if (labels != NULL && labels[0] != '\0')
        buf_printf(b, "{%s}", labels);
    buf_append(b, " ", 1);
    hist_append_value(b, v);
    buf_append(b, "\n", 1);
}

static void sample_u64(struct buf *b, const char *name, const char *labels, uint64_t v)
{
    buf_append_str(b, name);
    if (labels != NULL && labels[0] != '\0')
        buf_printf(b, "{%s}", labels);
    buf_printf(b, " %" PRIu64 "\n", v);
}

static void gauge_f(struct buf *b, const char *name, const char *help, double v)
{
    family(b, name, "gauge", help);
    sample_f(b, name, NULL, v);
}

static void one_u64(struct buf *b, const char *name, const char *type, const char *help, uint64_t v)
{
    family(b, name, type, help);
    sample_u64(b, name, NULL, v);
}

/* backend="NAME" (escaped) into 'out', with ',extra' after it when given. Names are at most
 * 64 bytes, so 'out' of 256 always fits. */
static void backend_labels(char *out, size_t cap, const char *name, const char *extra)
{
    size_t n = (size_t)snprintf(out, cap, "backend=\"");
    for (const char *p = name; *p != '\0' && n + 4 < cap; p++) {
        if (*p == '\\' || *p == '"') {
            out[n++] = '\\';
            out[n++] = *p;
        } else if (*p == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else {
            out[n++] = *p;
        }
    }
    snprintf(out + n, cap - n, "\"%s%s", extra != NULL ? "," : "", extra != NULL ? extra : "");
}

/* ---- the families ------------------------------------------------------------------------- */

static void process_families(struct buf *b, struct relay *r)
{
    family(b, "influx_wal_build_info", "gauge", "Version of the relay; always 1.");
    buf_printf(b, "influx_wal_build_info{version=\"%s\"} 1\n", IWR_VERSION);
    gauge_f(b, "influx_wal_start_time_seconds", "When the process started (Unix time).",
            (double)r->started_ns / 1e9);
    one_u64(b, "influx_wal_open_connections", "gauge", "HTTP connections open now.", r->n_conns);
    one_u64(b, "influx_wal_connections_total", "counter", "HTTP connections accepted.",
            r->ctr.connections_total);
    one_u64(b, "influx_wal_connections_refused_total", "counter",
            "Connections refused over the connection limit.", r->ctr.connections_refused_total);
    one_u64(b, "influx_wal_tls_handshakes_total", "counter",
            "TLS sessions established on the HTTP listeners.", r->ctr.tls_handshakes_total);
    one_u64(b, "influx_wal_tls_handshake_failures_total", "counter",
            "TLS handshakes that failed or timed out (plain HTTP to a TLS port, refused client "
            "certificates, half-open handshakes).",
            r->ctr.tls_handshake_failures_total);
    one_u64(b, "influx_wal_tls_reload_failures_total", "counter",
            "SIGHUP certificate reloads that failed; the old certificate stays in use.",
            r->ctr.tls_reload_failures_total);
}

/* Every stream listener (UDP, Graphite TCP and UDP, ...), label listener="PROTO/TRANSPORT/ADDR". */
static void stream_families(struct buf *b, struct relay *r)
{
    const struct stream_stats *st[512];
    size_t n = stream_stats_all(r, st, sizeof(st) / sizeof(st[0]));
    static const struct {
        const char *name, *type, *help;
        size_t off;
    } fams[] = {
        {"influx_wal_listener_points_total", "counter", "Points a stream listener committed.",
         offsetof(struct stream_stats, points_total)},
        {"influx_wal_listener_bytes_total", "counter", "Bytes a stream listener read.",
         offsetof(struct stream_stats, bytes_total)},
        {"influx_wal_listener_lines_total", "counter", "Lines a stream listener read.",
         offsetof(struct stream_stats, lines_total)},
        {"influx_wal_listener_connections", "gauge", "Open connections of a TCP stream listener.",
         offsetof(struct stream_stats, connections)},
        {"influx_wal_listener_connections_total", "counter",
         "Connections a TCP stream listener accepted.",
         offsetof(struct stream_stats, connections_total)},
        {"influx_wal_listener_connections_refused_total", "counter",
         "Connections refused over max-connections.",
         offsetof(struct stream_stats, connections_refused_total)},
    };
    char lbl[256];
    for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
        family(b, fams[f].name, fams[f].type, fams[f].help);
        for (size_t i = 0; i < n; i++) {
            uint64_t v;
            memcpy(&v, (const char *)st[i] + fams[f].off, sizeof(v));
            snprintf(lbl, sizeof(lbl), "listener=\"%s\"", st[i]->label);
            sample_u64(b, fams[f].name, lbl, v);
        }
    }
    family(b, "influx_wal_listener_dropped_lines_total", "counter",
           "Lines a stream listener dropped, by reason (log_full counts points).");
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < DROP_REASONS; d++) {
            snprintf(lbl, sizeof(lbl), "listener=\"%s\",reason=\"%s\"", st[i]->label,
                     stream_drop_names[d]);
            sample_u64(b, "influx_wal_listener_dropped_lines_total", lbl, st[i]->dropped_total[d]);
        }
    family(b, "influx_wal_listener_paused", "gauge",
           "1 while a TCP stream listener stopped reading because the log is full.");
    for (size_t i = 0; i < n; i++) {
        snprintf(lbl, sizeof(lbl), "listener=\"%s\"", st[i]->label);
        sample_u64(b, "influx_wal_listener_paused", lbl, (uint64_t)st[i]->paused);
    }
}

static void ingest_families(struct buf *b, struct relay *r, const struct relay_view *v)
{
    const struct relay_counters *k = &r->ctr;
    family(b, "influx_wal_ingest_requests_total", "counter",
           "HTTP requests answered, by endpoint and status code.");
    for (int ep = 0; ep < EP_COUNT; ep++) {
        for (int s = 0; s <= CODE_SLOTS; s++) {
            uint64_t n = k->requests[ep][s];
            /* Zeros are left out, except the series an ingest-rate query needs. */
            if (n == 0 && !((ep == EP_WRITE || ep == EP_PROM_WRITE) && s < CODE_SLOTS &&
                            counted_codes[s] == 204))
                continue;
            char lbl[96];
            if (s < CODE_SLOTS)
                snprintf(lbl, sizeof(lbl), "endpoint=\"%s\",code=\"%d\"", endpoint_names[ep],
                         counted_codes[s]);
            else
                snprintf(lbl, sizeof(lbl), "endpoint=\"%s\",code=\"other\"", endpoint_names[ep]);
            sample_u64(b, "influx_wal_ingest_requests_total", lbl, n);
        }
    }
    family(b, "influx_wal_ingest_request_duration_seconds", "histogram",
           "Time from a request's first byte to its answer (every endpoint; writes include "
           "the fsync'd commit).");
    hist_render(b, "influx_wal_ingest_request_duration_seconds", NULL, &k->duration);
    one_u64(b, "influx_wal_ingest_points_total", "counter",
            "Points committed to the log (HTTP and UDP): acknowledged.", k->points_total);
    one_u64(b, "influx_wal_ingest_bytes_total", "counter",
            "Request body bytes received, as sent (before gzip decoding).", k->bytes_total);
    one_u64(b, "influx_wal_ingest_rejected_lines_total", "counter",
            "Lines of line protocol refused as malformed (HTTP and UDP).",
            k->rejected_lines_total + k->udp_rejected_lines_total);
    one_u64(b, "influx_wal_ingest_stamped_points_total", "counter",
            "Points without a timestamp that got the receive time.", k->stamped_points_total);
    one_u64(b, "influx_wal_ingest_abandoned_writes_total", "counter",
            "HTTP writes (every write endpoint) whose client reset the connection before their "
            "decoding and validation ended: nothing of them was appended.",
            k->abandoned_writes_total);
    one_u64(b, "influx_wal_udp_datagrams_total", "counter", "UDP datagrams received.",
            k->udp_datagrams_total);
    one_u64(b, "influx_wal_udp_dropped_points_total", "counter",
            "UDP points lost because the log refused them (UDP cannot answer 503).",
            k->udp_dropped_points_total);
    stream_families(b, r);
    if (v->rates_known)
        gauge_f(b, "influx_wal_ingest_points_per_second",
                "Points committed per second (moving average, 10 s time constant).",
                v->points_per_second);
}

static void wal_families(struct buf *b, struct relay *r, const struct relay_view *v)
{
    const struct wal_counters *wc = &v->wc;
    one_u64(b, "influx_wal_wal_bytes", "gauge", "Bytes of the pages holding records.",
            wc->log_bytes);
    one_u64(b, "influx_wal_wal_limit_bytes", "gauge",
            "The log's size limit in force: max-size, or the filesystem less the reserve when "
            "that is smaller.",
            wc->limit_bytes);
    one_u64(b, "influx_wal_wal_min_free_bytes", "gauge",
            "The free-space reserve kept on the log's filesystem (min-free); 0: none.",
            wc->min_free_bytes);
    one_u64(b, "influx_wal_wal_writable", "gauge",
            "1 while the log accepts writes; 0 when writes get 503 (full, disk reserve).",
            (uint64_t)v->writable);
    one_u64(b, "influx_wal_wal_records", "gauge", "Records in the log.", wc->records);
    one_u64(b, "influx_wal_wal_dead_letters", "gauge",
            "Dead letters in the log now, every backend (survives restarts, drops on purge).",
            wc->dead_letters);
    one_u64(b, "influx_wal_wal_first_sequence", "gauge", "Oldest sequence in the log (0: empty).",
            wc->first_seq);
    one_u64(b, "influx_wal_wal_last_sequence", "gauge", "Highest sequence ever assigned.",
            wc->last_seq);
    one_u64(b, "influx_wal_wal_appended_records_total", "counter",
            "Records appended by this process.", wc->appended);
    one_u64(b, "influx_wal_wal_dropped_records_total", "counter",
            "Records deleted unsent by the drop-oldest policy (ever, kept in the log).",
            wc->dropped_records);
    one_u64(b, "influx_wal_wal_rejected_appends_total", "counter",
            "Appends refused because the log was full or the disk reserve reached.",
            wc->rejected_full);
    family(b, "influx_wal_wal_rejected_appends_by_limit_total", "counter",
           "Appends refused, by the limit that was hit: max-size, min-free (the filesystem "
           "reserve) or filesystem (ENOSPC).");
    const uint64_t by_limit[] = {wc->rejected_max_size, wc->rejected_reserve, wc->rejected_disk};
    for (int i = 0; i < 3; i++) {
        char label[40];
        snprintf(label, sizeof(label), "limit=\"%s\"",
                 wal_full_reason_name((enum wal_full_reason)(WAL_FULL_MAX_SIZE + i)));
        sample_u64(b, "influx_wal_wal_rejected_appends_by_limit_total", label, by_limit[i]);
    }
    one_u64(b, "influx_wal_commits_total", "counter", "Group commits (fsync'd transactions).",
            wc->commits);
    struct hist hs, hr;
    wal_commit_hist_get(r->wal, &hs, &hr);
    family(b, "influx_wal_commit_duration_seconds", "histogram",
           "Duration of a group commit, fsync included.");
    hist_render(b, "influx_wal_commit_duration_seconds", NULL, &hs);
    family(b, "influx_wal_commit_batch_records", "histogram",
           "Operations (appends, cursor moves, dead letters) per group commit.");
    hist_render(b, "influx_wal_commit_batch_records", NULL, &hr);
    if (v->rates_known) {
        gauge_f(b, "influx_wal_wal_append_records_per_second",
                "Records appended per second (moving average, 10 s time constant).",
                v->records_per_second);
        gauge_f(b, "influx_wal_wal_remove_records_per_second",
                "Records deleted from the log per second, once every backend has them "
                "(moving average, 10 s time constant).",
                v->removed_per_second);
        gauge_f(b, "influx_wal_wal_full_eta_seconds",
                "Seconds until the log reaches its size limit at the current append and "
                "removal rates; +Inf when it is not growing.",
                v->full_eta_seconds);
    }
}

enum bfam {
    BF_UP,
    BF_CAUGHT_UP,
    BF_GIVEN_UP,
    BF_CURSOR,
    BF_LAG_RECORDS,
    BF_LAG_BYTES,
    BF_LAG_SECONDS,
    BF_SENT_POINTS,
    BF_SENT_BATCHES,
    BF_DEAD,
    BF_RETRIES,
    BF_CORRUPT,
    BF_DOWN_SINCE,
    BF_DRAIN,
    BF_ETA,
    BF_REBUILDING,
    BF_BARRIER_WAITING,
    BF_BARRIER_TIMEOUTS,
    BF_FENCE_WAITING,
    BF_FENCE_TIMEOUTS,
    BF_IN_FLIGHT,
    BF_IN_FLIGHT_LIMIT,
    BF_IN_FLIGHT_RAISES,
    BF_IN_FLIGHT_CUTS,
    BF_BATCH_LIMIT,
    BF_BATCH_RAISES,
    BF_BATCH_CUTS,
    BF_COUNT
};

static const struct {
    const char *name, *type, *help;
} bfams[BF_COUNT] = {
    {"influx_wal_backend_up", "gauge", "1 while the backend answers its writes and pings."},
    {"influx_wal_backend_caught_up", "gauge", "1 when the backend holds every logged record."},
    {"influx_wal_backend_given_up", "gauge",
     "1 after the give-up bound was hit: the log no longer keeps records for it."},
    {"influx_wal_backend_cursor", "gauge", "Last sequence the backend acknowledged."},
    {"influx_wal_backend_lag_records", "gauge",
     "Records logged after the backend's cursor; 0 exactly when it is caught up."},
    {"influx_wal_backend_lag_bytes", "gauge", "Body bytes the backend has not acknowledged."},
    {"influx_wal_backend_lag_seconds", "gauge", "Age of the oldest unacknowledged record."},
    {"influx_wal_backend_sent_points_total", "counter",
     "Points the backend acknowledged (this process)."},
    {"influx_wal_backend_sent_batches_total", "counter",
     "Batches the backend acknowledged (this process)."},
    {"influx_wal_backend_dead_letters", "gauge",
     "Lines the backend refused that this process stored as dead letters (since it started)."},
    {"influx_wal_backend_retries_total", "counter", "Batches sent again after a failure."},
    {"influx_wal_backend_corrupt_records_total", "counter",
     "Records that failed their checksum when this backend's sender read them: skipped, never "
     "sent (this process)."},
    {"influx_wal_backend_down_since_seconds", "gauge",
     "When the backend went down (Unix time); 0 while up."},
    {"influx_wal_backend_drain_records_per_second", "gauge",
     "Records per second the backend's cursor advances (moving average)."},
    {"influx_wal_backend_catchup_eta_seconds", "gauge",
     "Lag over (drain rate - append rate): seconds to catch up; 0 caught up, +Inf not gaining."},
    {"influx_wal_backend_rebuilding", "gauge",
     "1 while the backend is being rebuilt from another (its sender paused); 2 once the "
     "rebuild's start point was lost (run it again)."},
    {"influx_wal_peer_barrier_waiting", "gauge",
     "1 while the backend's sender holds a statement until every peer relay delivered to it "
     "what it committed before the statement (replay/fence.c)."},
    {"influx_wal_peer_barrier_timeouts_by_backend_total", "counter",
     "Statements sent to the backend after peer-timeout without every peer relay at its fence."},
    {"influx_wal_peer_fence_waiting", "gauge",
     "1 while the backend's sender holds at a fence until the leader relay applied its "
     "statement."},
    {"influx_wal_peer_fence_timeouts_total", "counter",
     "Fences passed after peer-timeout without the leader relay applying the statement."},
    {"influx_wal_backend_in_flight", "gauge", "Writes to the backend in flight now."},
    {"influx_wal_backend_in_flight_limit", "gauge",
     "Writes the sender may have in flight now, adapted to the backend's answers between "
     "min-in-flight and max-in-flight."},
    {"influx_wal_backend_in_flight_limit_raises_total", "counter",
     "Times the in-flight limit was raised (throughput held with the window in use)."},
    {"influx_wal_backend_in_flight_limit_cuts_total", "counter",
     "Times the in-flight limit was lowered (timeouts, 5xx, refused connections, latency)."},
    {"influx_wal_backend_batch_bytes_limit", "gauge",
     "Body bytes a batch may have now, adapted between batch-min-bytes and batch-max-bytes."},
    {"influx_wal_backend_batch_bytes_limit_raises_total", "counter",
     "Times the batch size was doubled (answers well within the timeout)."},
    {"influx_wal_backend_batch_bytes_limit_cuts_total", "counter",
     "Times the batch size was halved (timeouts, 413, answers near the timeout)."},
};

static double bvalue(enum bfam f, const struct relay_backend_view *s, double eta)
{
    switch (f) {
    case BF_UP:
        return s->up ? 1 : 0;
    case BF_CAUGHT_UP:
        return s->caught_up ? 1 : 0;
    case BF_GIVEN_UP:
        return s->given_up ? 1 : 0;
    case BF_CURSOR:
        return (double)s->cursor;
    case BF_LAG_RECORDS:
        return (double)s->lag_records;
    case BF_LAG_BYTES:
        return (double)s->lag_bytes;
    case BF_LAG_SECONDS:
        return s->lag_seconds;
    case BF_SENT_POINTS:
        return (double)s->sent_points_total;
    case BF_SENT_BATCHES:
        return (double)s->sent_batches_total;
    case BF_DEAD:
        return (double)s->dead_letters_total;
    case BF_RETRIES:
        return (double)s->retries_total;
    case BF_CORRUPT:
        return (double)s->corrupt_records_total;
    case BF_DOWN_SINCE:
        return (double)s->down_since_ns / 1e9;
    case BF_DRAIN:
        return s->drain_records_per_second;
    case BF_ETA:
        return eta;
    case BF_REBUILDING:
        return s->rebuilding ? (s->rebuild_lost ? 2 : 1) : 0;
    case BF_BARRIER_WAITING:
        return s->barrier_wait_seq != 0 ? 1 : 0;
    case BF_BARRIER_TIMEOUTS:
        return (double)s->barrier_timeouts_total;
    case BF_FENCE_WAITING:
        return s->fence_wait_seq != 0 ? 1 : 0;
    case BF_FENCE_TIMEOUTS:
        return (double)s->fence_timeouts_total;
    case BF_IN_FLIGHT:
        return (double)s->in_flight;
    case BF_IN_FLIGHT_LIMIT:
        return (double)s->in_flight_limit;
    case BF_IN_FLIGHT_RAISES:
        return (double)s->in_flight_raises_total;
    case BF_IN_FLIGHT_CUTS:
        return (double)s->in_flight_cuts_total;
    case BF_BATCH_LIMIT:
        return (double)s->batch_bytes_limit;
    case BF_BATCH_RAISES:
        return (double)s->batch_bytes_raises_total;
    case BF_BATCH_CUTS:
        return (double)s->batch_bytes_cuts_total;
    case BF_COUNT:
        break;
    }
    return NAN;
}

static void backend_families(struct buf *b, const struct relay_backend_view *st, const double *eta,
                             size_t n)
{
    char lbl[256];
    for (int f = 0; f < BF_COUNT; f++) {
        family(b, bfams[f].name, bfams[f].type, bfams[f].help);
        for (size_t i = 0; i < n; i++) {
            backend_labels(lbl, sizeof(lbl), st[i].name, NULL);
            sample_f(b, bfams[f].name, lbl, bvalue((enum bfam)f, &st[i], eta[i]));
        }
    }
    family(b, "influx_wal_backend_info", "gauge",
           "Always 1; kind is the backend's InfluxDB generation (its api: v1, v2 or v3).");
    for (size_t i = 0; i < n; i++) {
        char kind[32];
        snprintf(kind, sizeof(kind), "kind=\"%s\"", st[i].kind[0] != '\0' ? st[i].kind : "v1");
        backend_labels(lbl, sizeof(lbl), st[i].name, kind);
        sample_f(b, "influx_wal_backend_info", lbl, 1);
    }
    family(b, "influx_wal_backend_unsupported_statements_total", "counter",
           "Logged statements the backend's kind has no equivalent of: dead letters (this "
           "process).");
    for (size_t i = 0; i < n; i++) {
        backend_labels(lbl, sizeof(lbl), st[i].name, NULL);
        sample_f(b, "influx_wal_backend_unsupported_statements_total", lbl,
                 (double)st[i].unsupported_total);
    }
    family(b, "influx_wal_backend_requests_total", "counter",
           "Requests to the backend (writes) by answer; code 0: no answer (refused, timeout).");
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < RELAY_BACKEND_CODES; j++) {
            if (st[i].code_counts[j] == 0)
                continue;
            char code[32];
            snprintf(code, sizeof(code), "code=\"%ld\"", st[i].codes[j]);
            backend_labels(lbl, sizeof(lbl), st[i].name, code);
            sample_u64(b, "influx_wal_backend_requests_total", lbl, st[i].code_counts[j]);
        }
    }
    family(b, "influx_wal_backend_request_duration_seconds", "histogram",
           "Duration of write requests to the backend.");
    for (size_t i = 0; i < n; i++) {
        backend_labels(lbl, sizeof(lbl), st[i].name, NULL);
        hist_render(b, "influx_wal_backend_request_duration_seconds", lbl, &st[i].duration);
    }
}

struct relay_scrub_view *relay_scrub_view_get(struct relay *r)
{
    struct relay_scrub_view *v = xcalloc(1, sizeof(*v));
    if (r->hooks.scrub != NULL)
        r->hooks.scrub(r->hooks.arg, v);
    return v;
}

/* The background scrub (relay_scrub_view), when the daemon runs one. */
static void scrub_families(struct buf *b, struct relay *r)
{
    if (r->hooks.scrub == NULL)
        return;
    struct relay_scrub_view *v = relay_scrub_view_get(r);
    if (v->enabled) {
        one_u64(b, "influx_wal_scrub_runs_total", "counter",
                "Background scrub runs finished (this process).", v->runs_total);
        one_u64(b, "influx_wal_scrub_windows_compared_total", "counter",
                "Windows (database, RP, measurement, hour) the background scrub compared.",
                v->windows_compared_total);
        one_u64(b, "influx_wal_scrub_queries_total", "counter",
                "Queries the background scrub sent to the backends.", v->queries_total);
        one_u64(b, "influx_wal_scrub_errors_total", "counter",
                "Background scrub comparisons of a pair that failed (a backend down, an error).",
                v->errors_total);
        gauge_f(b, "influx_wal_scrub_last_run_timestamp_seconds",
                "When the last background scrub run finished (Unix time); 0: none yet.",
                (double)v->last_run_ns / 1e9);
        gauge_f(b, "influx_wal_scrub_last_run_duration_seconds",
                "How long the last background scrub run took.", v->last_run_seconds);
        one_u64(b, "influx_wal_scrub_in_flight_windows", "gauge",
                "Windows that differed in the last run while a backend had not acknowledged "
                "points of them: not reported as differences.",
                v->in_flight_windows);
        family(b, "influx_wal_scrub_windows_differing", "gauge",
               "Windows that differ between the two backends in the last run that compared them.");
        char lbl[200];
        for (size_t i = 0; i < v->n_pairs; i++) {
            snprintf(lbl, sizeof(lbl), "backend_a=\"%s\",backend_b=\"%s\"", v->pairs[i].a,
                     v->pairs[i].b); /* names are [A-Za-z0-9_.-]: nothing to escape */
            sample_u64(b, "influx_wal_scrub_windows_differing", lbl, v->pairs[i].differing);
        }
    }
    free(v);
}

/* The peer relays (the statement barrier), when there are any. */
static void peer_families(struct buf *b, struct relay *r)
{
    struct relay_peer_view *p = NULL;
    size_t n = 0;
    if (r->hooks.peers != NULL)
        r->hooks.peers(r->hooks.arg, &p, &n);
    if (n == 0)
        return;
    char lbl[128];
    family(b, "influx_wal_peer_up", "gauge", "1 while the peer relay answers its status polls.");
    for (size_t i = 0; i < n; i++) {
        snprintf(lbl, sizeof(lbl), "peer=\"%s\"", p[i].name); /* [A-Za-z0-9_.-] */
        sample_f(b, "influx_wal_peer_up", lbl, p[i].up ? 1 : 0);
    }
    family(b, "influx_wal_peer_barrier_timeouts_total", "counter",
           "Statements sent after peer-timeout while this peer relay was not at its fence.");
    for (size_t i = 0; i < n; i++) {
        snprintf(lbl, sizeof(lbl), "peer=\"%s\"", p[i].name);
        sample_u64(b, "influx_wal_peer_barrier_timeouts_total", lbl, p[i].barrier_timeouts_total);
    }
    family(b, "influx_wal_peer_fences_failed_total", "counter",
           "Fence requests the peer relay did not commit in time (its writes may land on either "
           "side of that statement).");
    for (size_t i = 0; i < n; i++) {
        snprintf(lbl, sizeof(lbl), "peer=\"%s\"", p[i].name);
        sample_u64(b, "influx_wal_peer_fences_failed_total", lbl, p[i].fences_failed_total);
    }
    free(p);
}

void metrics_handle(struct conn *c, struct http_req *req)
{
    struct relay *r = c->relay;
    (void)req;
    struct relay_snapshot snap;
    relay_snapshot_get(r, &snap);

    struct buf b;
    buf_init(&b);
    process_families(&b, r);
    ingest_families(&b, r, &snap.v);
    wal_families(&b, r, &snap.v);
    backend_families(&b, snap.st, snap.eta, snap.n);
    scrub_families(&b, r);
    peer_families(&b, r);
    relay_snapshot_deinit(&snap);
    c->req.content_type = "text/plain; version=0.0.4; charset=utf-8";
    http_respond(c, 200, NULL, b.data, b.len);
    buf_deinit(&b);
}
