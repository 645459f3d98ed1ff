/* GET /health (the relay as a whole) and GET /health/backend/NAME (one backend, for an HAProxy
 * http-check on a read pool). Built from the same view as /metrics (relay_view_get,
 * relay_backend_eta), so the two always agree: no LMDB access, no write. Loop thread only.
 *
 * status: "pass" when the log is writable and every backend is up and caught up; "warn" when
 * the log is writable but a backend is down, behind or given up (the log holds what it lacks,
 * except for a given-up one: "reasons" says which); "fail" when the log is not writable
 * (writes get 503), or "warn" as well when the background scrub's last run found windows
 * that differ ("scrub" holds the result), or while a backend's sender waits at the statement
 * barrier between relays (its "fence_wait" or "barrier_wait" says for what; "peers" lists the
 * peer relays, which are up and which one leads). 200 for pass and warn, 503 for fail: a relay whose
 * backends are down still takes writes safely, so a load balancer keeps it in the write pool. */
#include "relay/relay_int.h"

#include "common/err.h"
#include "common/xalloc.h"
#include "relay/stream.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* A number or, for NaN and infinities (which JSON lacks), null. */
static void json_num(struct buf *b, double v)
{
    if (isnan(v) || isinf(v))
        buf_append_str(b, "null");
    else
        buf_printf(b, "%.3f", v);
}

static void backend_json(struct buf *b, const struct relay_backend_view *s, double eta,
                         uint64_t now_ns)
{
    buf_append_str(b, "{\"name\":");
    buf_append_json_quoted(b, s->name);
    buf_append_str(b, ",\"url\":");
    buf_append_json_quoted(b, s->url);
    if (s->shard[0] != '\0') {
        buf_append_str(b, ",\"shard\":");
        buf_append_json_quoted(b, s->shard);
    }
    buf_append_str(b, ",\"kind\":");
    buf_append_json_quoted(b, s->kind[0] != '\0' ? s->kind : "v1");
    buf_printf(b, ",\"unsupported_statements\":%" PRIu64, s->unsupported_total);
    buf_printf(b,
               ",\"up\":%s,\"caught_up\":%s,\"given_up\":%s,\"cursor\":%" PRIu64
               ",\"lag_records\":%" PRIu64 ",\"lag_bytes\":%" PRIu64
               ",\"lag_seconds\":%.3f,\"sent_points\":%" PRIu64 ",\"dead_letters\":%" PRIu64
               ",\"retries\":%" PRIu64 ",\"drain_records_per_second\":%.3f"
               ",\"catchup_eta_seconds\":",
               s->up ? "true" : "false", s->caught_up ? "true" : "false",
               s->given_up ? "true" : "false", s->cursor, s->lag_records, s->lag_bytes,
               s->lag_seconds, s->sent_points_total, s->dead_letters_total, s->retries_total,
               s->drain_records_per_second);
    json_num(b, eta);
    buf_printf(b, ",\"rebuilding\":%s", s->rebuilding ? "true" : "false");
    if (s->rebuilding) {
        buf_append_str(b, ",\"rebuild\":{\"from\":\"");
        buf_append_json_str(b, s->rebuild_source, strlen(s->rebuild_source));
        buf_printf(b, "\",\"from_seq\":%" PRIu64 ",\"start_point_lost\":%s}", s->rebuild_from_seq,
                   s->rebuild_lost ? "true" : "false");
    }
    relay_waits_json(b, s, now_ns);
    buf_append_str(b, ",\"last_error\":\"");
    buf_append_json_str(b, s->last_error, strlen(s->last_error));
    buf_append_str(b, "\"}");
}

/* One reason in the "reasons" array: why the status is not pass. */
static void reason(struct buf *b, int *first, const char *what, const char *name)
{
    buf_append_str(b, *first ? "\"" : ",\"");
    *first = 0;
    if (name != NULL) {
        buf_append_str(b, "backend ");
        buf_append_json_str(b, name, strlen(name));
        buf_append_str(b, " ");
    }
    buf_append_str(b, what);
    buf_append_str(b, "\"");
}

static void one_backend(struct conn *c, struct http_req *req, const struct relay_backend_view *st,
                        const double *eta, size_t n, uint64_t now_ns)
{
    const char *name = req->url.data + 16;
    size_t nlen = req->path_len - 16;
    size_t k = n;
    for (size_t i = 0; i < n; i++)
        if (strlen(st[i].name) == nlen && memcmp(st[i].name, name, nlen) == 0)
            k = i;
    if (k == n) {
        static const char msg[] = "no such backend";
        http_respond_error(c, 404, msg, sizeof(msg) - 1);
        return;
    }
    const struct relay_backend_view *s = &st[k];
    struct buf b;
    buf_init(&b);
    backend_json(&b, s, eta[k], now_ns);
    buf_append_str(&b, "\n");
    http_respond(c, s->up && s->caught_up ? 200 : 503, NULL, b.data, b.len);
    buf_deinit(&b);
}

static void json_kv(struct buf *b, const char *key, const char *s)
{
    buf_printf(b, "\"%s\":", key);
    buf_append_json_quoted(b, s);
}

/* The background scrub's last result: "scrub":{...}, the first few differing windows with
 * both sides' figures. */
static void scrub_json(struct buf *b, const struct relay_scrub_view *v)
{
    buf_printf(b,
               ",\"scrub\":{\"running\":%s,\"runs\":%" PRIu64 ",\"last_run_timestamp\":%.3f"
               ",\"last_run_seconds\":%.3f,\"windows_compared\":%" PRIu64
               ",\"differing_windows\":%" PRIu64 ",\"in_flight_windows\":%" PRIu64 ",\"pairs\":[",
               v->running ? "true" : "false", v->runs_total, (double)v->last_run_ns / 1e9,
               v->last_run_seconds, v->windows_compared_total, v->differing_windows,
               v->in_flight_windows);
    for (size_t i = 0; i < v->n_pairs; i++) {
        const struct relay_scrub_pair *p = &v->pairs[i];
        buf_append_str(b, i ? ",{" : "{");
        json_kv(b, "a", p->a);
        buf_append_str(b, ",");
        json_kv(b, "b", p->b);
        buf_printf(b,
                   ",\"windows\":%" PRIu64 ",\"differing\":%" PRIu64 ",\"in_flight\":%" PRIu64 ",",
                   p->windows, p->differing, p->in_flight);
        json_kv(b, "error", p->error);
        buf_append_str(b, "}");
    }
    buf_append_str(b, "],\"differences\":[");
    for (size_t i = 0; i < v->n_diffs; i++) {
        const struct relay_scrub_diff *d = &v->diffs[i];
        buf_append_str(b, i ? ",{" : "{");
        json_kv(b, "a", d->a);
        buf_append_str(b, ",");
        json_kv(b, "b", d->b);
        buf_append_str(b, ",");
        json_kv(b, "database", d->db);
        buf_append_str(b, ",");
        json_kv(b, "retention_policy", d->rp);
        buf_append_str(b, ",");
        json_kv(b, "measurement", d->measurement);
        buf_append_str(b, ",");
        json_kv(b, "field", d->field);
        buf_printf(b, ",\"hour\":%" PRId64 ",\"a_figures\":", d->hour_ns);
        buf_append_str(b, d->fa);
        buf_append_str(b, ",\"b_figures\":");
        buf_append_str(b, d->fb);
        buf_append_str(b, "}");
    }
    buf_append_str(b, "]}");
}

/* "listeners": each stream listener (label "KIND/TRANSPORT/ADDRESS") with what it committed
 * and dropped. */
static void listeners_json(struct buf *b, struct relay *r)
{
    const struct stream_stats *st[512];
    size_t n = stream_stats_all(r, st, sizeof(st) / sizeof(st[0]));
    buf_append_str(b, ",\"listeners\":[");
    for (size_t i = 0; i < n; i++) {
        const char *l = st[i]->label, *s1 = strchr(l, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
        uint64_t dropped = 0;
        for (int k = 0; k < DROP_REASONS; k++)
            dropped += st[i]->dropped_total[k];
        buf_append_str(b, i ? ",{\"kind\":\"" : "{\"kind\":\"");
        buf_append_json_str(b, l, s1 ? (size_t)(s1 - l) : strlen(l));
        buf_append_str(b, "\",\"transport\":\"");
        if (s2)
            buf_append_json_str(b, s1 + 1, (size_t)(s2 - s1 - 1));
        buf_append_str(b, "\",\"address\":\"");
        if (s2)
            buf_append_json_str(b, s2 + 1, strlen(s2 + 1));
        buf_printf(b,
                   "\",\"points\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"connections\":%" PRIu64
                   ",\"paused\":%s}",
                   st[i]->points_total, dropped, st[i]->connections,
                   st[i]->paused ? "true" : "false");
    }
    buf_append_str(b, "]");
}

void health_handle(struct conn *c, struct http_req *req)
{
    struct relay *r = c->relay;
    struct relay_snapshot snap;
    relay_snapshot_get(r, &snap);
    const struct relay_view *v = &snap.v;
    const struct relay_backend_view *st = snap.st;
    const double *eta = snap.eta;
    size_t n = snap.n;
    if (req->path_len > 16 && memcmp(req->url.data, "/health/backend/", 16) == 0) {
        one_backend(c, req, st, eta, n, snap.now_ns);
        relay_snapshot_deinit(&snap);
        return;
    }
    int all_current = 1;
    for (size_t i = 0; i < n; i++) {
        all_current &= st[i].up && st[i].caught_up && !st[i].given_up &&
                       st[i].fence_wait_seq == 0 && st[i].barrier_wait_seq == 0;
    }
    struct relay_scrub_view *sv = relay_scrub_view_get(r);
    all_current &= !(sv->enabled && sv->differing_windows > 0);
    const char *status = !v->writable ? "fail" : all_current ? "pass" : "warn";
    const struct wal_counters *wc = &v->wc;
    struct buf b;
    buf_init(&b);
    buf_printf(&b,
               "{\"name\":\"influx-wal-relay\",\"version\":\"%s\",\"status\":\"%s\",\"reasons\":[",
               IWR_VERSION, status);
    int first = 1;
    if (!v->writable) {
        /* The log names the limit that was hit; rendered as it says. */
        char why[200];
        snprintf(why, sizeof(why), "the log is not writable: writes get 503 (%s)",
                 wc->fatal != 0 ? iwr_strerror(wc->fatal)
                                : wal_full_reason_text(wc->full_reason));
        reason(&b, &first, why, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        const struct relay_backend_view *s = &st[i];
        if (s->rebuilding)
            reason(&b, &first,
                   s->rebuild_lost ? "is being rebuilt but its start point was lost: run the "
                                     "rebuild again"
                                   : "is being rebuilt: its sender is paused, the log keeps its "
                                     "records",
                   s->name);
        else if (s->given_up)
            reason(&b, &first, "was given up: records logged meanwhile are not kept for it",
                   s->name);
        else if (!s->up || !s->caught_up) {
            char why[160];
            snprintf(why, sizeof(why), "%s: the log keeps its records%s%s%s",
                     !s->up ? "is down" : "is behind", s->shard[0] ? " (shard " : "", s->shard,
                     s->shard[0] ? ")" : "");
            reason(&b, &first, why, s->name);
        }
        if (s->fence_wait_seq != 0) {
            char why[160];
            snprintf(why, sizeof(why),
                     "waits at a fence until relay %s applied its statement %" PRIu64,
                     s->fence_origin, s->fence_wait_seq);
            reason(&b, &first, why, s->name);
        }
        if (s->barrier_wait_seq != 0) {
            char why[160];
            snprintf(why, sizeof(why),
                     "holds statement %" PRIu64 " until every peer relay delivered what it "
                     "committed before it", s->barrier_wait_seq);
            reason(&b, &first, why, s->name);
        }
    }
    if (sv->enabled && sv->differing_windows > 0)
        reason(&b, &first, "the background scrub found windows that differ between backends", NULL);
    buf_printf(&b,
               "],\"wal\":{\"writable\":%s,\"first_sequence\":%" PRIu64
               ",\"last_sequence\":%" PRIu64 ",\"records\":%" PRIu64 ",\"bytes\":%" PRIu64
               ",\"limit_bytes\":%zu,\"min_free_bytes\":%zu,\"full_limit\":\"%s\""
               ",\"dropped_records\":%" PRIu64 ",\"rejected_appends\":%" PRIu64
               ",\"full_eta_seconds\":",
               v->writable ? "true" : "false", wc->first_seq, wc->last_seq, wc->records,
               wc->log_bytes, wc->limit_bytes, wc->min_free_bytes,
               wal_full_reason_name(wc->full_reason), wc->dropped_records, wc->rejected_full);
    json_num(&b, v->full_eta_seconds);
    /* With shards one log holds every shard's records: the backend furthest behind (not given
     * up) holds truncation back for all, and its shard is named. */
    const struct relay_backend_view *held = NULL;
    for (size_t i = 0; i < n; i++)
        if (!st[i].given_up && !st[i].caught_up && (held == NULL || st[i].cursor < held->cursor))
            held = &st[i];
    if (held != NULL && held->shard[0] != '\0') {
        buf_append_str(&b, ",\"held_by\":{\"backend\":");
        buf_append_json_quoted(&b, held->name);
        buf_append_str(&b, ",\"shard\":");
        buf_append_json_quoted(&b, held->shard);
        buf_append_str(&b, "}");
    }
    buf_append_str(&b, "},");
    if (r->active != NULL) {
        shard_active_json(&b, r);
        buf_append_str(&b, ",");
    }
    buf_append_str(&b, "\"backends\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf_append_str(&b, ",");
        backend_json(&b, &st[i], eta[i], snap.now_ns);
    }
    buf_append_str(&b, "]");
    relay_peers_json(&b, &snap);
    if (sv->enabled)
        scrub_json(&b, sv);
    free(sv);
    listeners_json(&b, c->relay);
    buf_append_str(&b, "}\n");
    http_respond(c, v->writable ? 200 : 503, NULL, b.data, b.len);
    relay_snapshot_deinit(&snap);
    buf_deinit(&b);
}
