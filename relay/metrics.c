/* GET /metrics: Prometheus text exposition (version 0.0.4). Everything comes from counters the
 * loop keeps, the log's counters (a mutex-guarded copy the writer refreshes after each commit)
 * and the senders' status snapshot: a scrape costs no LMDB transaction and takes no lock on
 * the write path. Loop thread only. */
#include "relay/relay_int.h"

#include "common/xalloc.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>


static void family(struct buf *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_u64(struct buf *b, const char *name, const char *labels, uint64_t v)
{
    buf_printf(b, "%s%s %" PRIu64 "\n", name, labels ? labels : "", v);
}

static void sample_f(struct buf *b, const char *name, const char *labels, double v)
{
    if (isinf(v))
        buf_printf(b, "%s%s %s\n", name, labels ? labels : "", v > 0 ? "+Inf" : "-Inf");
    else
        buf_printf(b, "%s%s %.9g\n", name, labels ? labels : "", v);
}

/* A histogram with cumulative buckets; 'extra' labels go before "le". */
static void histogram(struct buf *b, const char *name, const char *extra, const double *bounds,
                      size_t nb, const uint64_t *counts, double sum, uint64_t count)
{
    uint64_t cum = 0;
    for (size_t i = 0; i <= nb; i++) {
        cum += counts[i];
        if (i < nb)
            buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name, extra ? extra : "",
                       extra ? "," : "", bounds[i], cum);
        else
            buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, extra ? extra : "",
                       extra ? "," : "", cum);
    }
    char lbl[160];
    snprintf(lbl, sizeof(lbl), "%s%s%s", extra ? "{" : "", extra ? extra : "", extra ? "}" : "");
    buf_printf(b, "%s_sum%s %.9g\n%s_count%s %" PRIu64 "\n", name, lbl, sum, name, lbl, count);
}

static void label_escape(struct buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            buf_append(b, "\\", 1);
        if (*s == '\n')
            buf_append_str(b, "\\n");
        else
            buf_append(b, s, 1);
    }
}

void metrics_handle(struct conn *c, struct http_req *req)
{
    struct relay *r = c->relay;
    struct relay_counters *k = &r->ctr;
    struct buf b;
    buf_init(&b);
    (void)req;

    family(&b, "influx_wal_build_info", "gauge", "Version of the relay; always 1.");
    buf_printf(&b, "influx_wal_build_info{version=\"%s\"} 1\n", IWR_VERSION);
    family(&b, "influx_wal_start_time_seconds", "gauge", "When the process started (Unix time).");
    sample_f(&b, "influx_wal_start_time_seconds", NULL, (double)r->started_ns / 1e9);
    family(&b, "influx_wal_open_connections", "gauge", "HTTP connections open now.");
    sample_u64(&b, "influx_wal_open_connections", NULL, r->n_conns);
    family(&b, "influx_wal_connections_refused_total", "counter",
           "Connections refused over the connection limit.");
    sample_u64(&b, "influx_wal_connections_refused_total", NULL, k->connections_refused_total);

    family(&b, "influx_wal_ingest_requests_total", "counter", "HTTP requests by endpoint and code.");
    for (int ep = 0; ep < EP_COUNT; ep++) {
        for (int s = 0; s <= CODE_SLOTS; s++) {
            uint64_t v = k->requests[ep][s];
            if (v == 0 && !(ep == EP_WRITE && s == 1))
                continue;
            char lbl[96];
            if (s < CODE_SLOTS)
                snprintf(lbl, sizeof(lbl), "{endpoint=\"%s\",code=\"%d\"}", endpoint_names[ep],
                         counted_codes[s]);
            else
                snprintf(lbl, sizeof(lbl), "{endpoint=\"%s\",code=\"other\"}", endpoint_names[ep]);
            sample_u64(&b, "influx_wal_ingest_requests_total", lbl, v);
        }
    }
    family(&b, "influx_wal_ingest_request_duration_seconds", "histogram",
           "Time from a request's first byte to its answer.");
    histogram(&b, "influx_wal_ingest_request_duration_seconds", NULL, request_duration_bounds,
              DURATION_BUCKETS, k->duration_buckets, k->duration_sum, k->duration_count);
    family(&b, "influx_wal_ingest_points_total", "counter", "Points committed to the log.");
    sample_u64(&b, "influx_wal_ingest_points_total", NULL, k->points_total);
    family(&b, "influx_wal_ingest_bytes_total", "counter", "Request body bytes received.");
    sample_u64(&b, "influx_wal_ingest_bytes_total", NULL, k->bytes_total);
    family(&b, "influx_wal_ingest_rejected_lines_total", "counter",
           "Lines of line protocol refused (HTTP and UDP).");
    sample_u64(&b, "influx_wal_ingest_rejected_lines_total", NULL,
               k->rejected_lines_total + k->udp_rejected_lines_total);
    family(&b, "influx_wal_ingest_stamped_points_total", "counter",
           "Points without a timestamp that got the receive time.");
    sample_u64(&b, "influx_wal_ingest_stamped_points_total", NULL, k->stamped_points_total);
    family(&b, "influx_wal_udp_datagrams_total", "counter", "UDP datagrams received.");
    sample_u64(&b, "influx_wal_udp_datagrams_total", NULL, k->udp_datagrams_total);
    family(&b, "influx_wal_udp_dropped_points_total", "counter",
           "UDP points lost because the log was full.");
    sample_u64(&b, "influx_wal_udp_dropped_points_total", NULL, k->udp_dropped_points_total);

    struct wal_counters wc;
    wal_counters_get(r->wal, &wc);
    family(&b, "influx_wal_wal_bytes", "gauge", "Bytes of pages holding records.");
    sample_u64(&b, "influx_wal_wal_bytes", NULL, wc.log_bytes);
    family(&b, "influx_wal_wal_limit_bytes", "gauge", "The log's size limit.");
    sample_u64(&b, "influx_wal_wal_limit_bytes", NULL, r->cfg_limits.max_bytes);
    family(&b, "influx_wal_wal_writable", "gauge", "1 while the log accepts writes.");
    sample_u64(&b, "influx_wal_wal_writable", NULL, (uint64_t)relay_wal_writable(r, &wc));
    family(&b, "influx_wal_wal_records", "gauge", "Records in the log.");
    sample_u64(&b, "influx_wal_wal_records", NULL, wc.records);
    family(&b, "influx_wal_wal_first_sequence", "gauge", "Oldest sequence in the log (0: empty).");
    sample_u64(&b, "influx_wal_wal_first_sequence", NULL, wc.first_seq);
    family(&b, "influx_wal_wal_last_sequence", "gauge", "Highest sequence ever assigned.");
    sample_u64(&b, "influx_wal_wal_last_sequence", NULL, wc.last_seq);
    family(&b, "influx_wal_wal_dropped_records_total", "counter",
           "Records deleted unsent by the drop-oldest policy.");
    sample_u64(&b, "influx_wal_wal_dropped_records_total", NULL, wc.dropped_records);
    family(&b, "influx_wal_wal_rejected_appends_total", "counter",
           "Appends refused because the log was full.");
    sample_u64(&b, "influx_wal_wal_rejected_appends_total", NULL, wc.rejected_full);
    struct wal_hist hs, hr;
    wal_commit_hist_get(r->wal, &hs, &hr);
    family(&b, "influx_wal_commit_duration_seconds", "histogram",
           "Duration of a group commit, fsync included.");
    histogram(&b, "influx_wal_commit_duration_seconds", NULL, wal_commit_seconds_bounds,
              WAL_HIST_BUCKETS, hs.count, hs.sum, hs.n);
    family(&b, "influx_wal_commit_batch_records", "histogram", "Operations per group commit.");
    histogram(&b, "influx_wal_commit_batch_records", NULL, wal_commit_records_bounds,
              WAL_HIST_BUCKETS, hr.count, hr.sum, hr.n);

    struct backend_status *st = NULL;
    size_t n = 0;
    if (r->hooks.backends)
        r->hooks.backends(r->hooks.arg, &st, &n);
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"influx_wal_backend_up", "gauge", "1 while the backend answers."},
        {"influx_wal_backend_caught_up", "gauge", "1 when the backend holds everything logged."},
        {"influx_wal_backend_cursor", "gauge", "Last sequence the backend acknowledged."},
        {"influx_wal_backend_lag_records", "gauge", "Records the backend has not acknowledged."},
        {"influx_wal_backend_lag_bytes", "gauge", "Bytes the backend has not acknowledged."},
        {"influx_wal_backend_lag_seconds", "gauge", "Age of the oldest unacknowledged record."},
        {"influx_wal_backend_sent_points_total", "counter", "Points the backend acknowledged."},
        {"influx_wal_backend_dead_letters", "gauge", "Lines the backend refused (dead letters)."},
        {"influx_wal_backend_retries_total", "counter", "Batches sent again after a failure."},
        {"influx_wal_backend_drain_records_per_second", "gauge",
         "Records per second the backend's cursor advances (moving average)."},
        {"influx_wal_backend_catchup_eta_seconds", "gauge",
         "Lag divided by the drain rate; +Inf when not draining."},
    };
    for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
        family(&b, fam[f].name, fam[f].type, fam[f].help);
        for (size_t i = 0; i < n; i++) {
            const struct backend_status *s = &st[i];
            struct buf lbl;
            buf_init(&lbl);
            buf_append_str(&lbl, "{backend=\"");
            label_escape(&lbl, s->name);
            buf_append_str(&lbl, "\"}");
            double v = 0;
            switch (f) {
            case 0: v = s->up; break;
            case 1: v = s->caught_up; break;
            case 2: v = (double)s->cursor; break;
            case 3: v = (double)s->lag_records; break;
            case 4: v = (double)s->lag_bytes; break;
            case 5: v = s->lag_seconds; break;
            case 6: v = (double)s->sent_points_total; break;
            case 7: v = (double)s->dead_letters_total; break;
            case 8: v = (double)s->retries_total; break;
            case 9: v = s->drain_records_per_second; break;
            default:
                v = s->lag_records == 0 ? 0
                    : s->drain_records_per_second > 0
                        ? (double)s->lag_records / s->drain_records_per_second
                        : INFINITY;
            }
            sample_f(&b, fam[f].name, lbl.data, v);
            buf_deinit(&lbl);
        }
    }
    family(&b, "influx_wal_backend_requests_total", "counter",
           "Requests to the backend by answer (code 0: no answer).");
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < STATUS_CODES; j++) {
            if (st[i].code_counts[j] == 0)
                continue;
            struct buf lbl;
            buf_init(&lbl);
            buf_append_str(&lbl, "{backend=\"");
            label_escape(&lbl, st[i].name);
            buf_printf(&lbl, "\",code=\"%ld\"}", st[i].codes[j]);
            sample_u64(&b, "influx_wal_backend_requests_total", lbl.data, st[i].code_counts[j]);
            buf_deinit(&lbl);
        }
    }
    family(&b, "influx_wal_backend_request_duration_seconds", "histogram",
           "Duration of requests to the backend.");
    for (size_t i = 0; i < n; i++) {
        struct buf lbl;
        buf_init(&lbl);
        buf_append_str(&lbl, "backend=\"");
        label_escape(&lbl, st[i].name);
        buf_append_str(&lbl, "\"");
        histogram(&b, "influx_wal_backend_request_duration_seconds", lbl.data,
                  status_duration_bounds, 12, st[i].duration_buckets, st[i].duration_sum,
                  st[i].duration_count);
        buf_deinit(&lbl);
    }
    free(st);
    c->req.content_type = "text/plain; version=0.0.4; charset=utf-8";
    http_respond(c, 200, NULL, b.data, b.len);
    buf_deinit(&b);
}
