/* The daemon's background scrub (bgscrub.h): a state machine on the loop that, per run, takes
 * each v1 backend after the first in turn and compares it with the first: SHOW DATABASES on both,
 * then per database its retention policies and field keys on both, then per retention policy
 * and measurement the figures of the last hours on both (scrub/window.h), then a slice-wise
 * read of the log's backlog since the pair's cursors, and only then the classification of the
 * windows that differ: in flight or differing. One query at a time, at most 'rate' per second;
 * owns its timer, its log reader and the result it publishes. Loop thread only. */
#include "scrub/bgscrub.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "scrub/window.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_RUN_DELAY_MS 2000
#define ANSWER_MAX ((size_t)32 << 20) /* one answer; figures of a day are far smaller */
#define SLICE_RECORDS 1024            /* log records per read transaction and loop turn */

enum phase { PH_IDLE = 0, PH_DBS, PH_SCHEMA, PH_FIG, PH_SCAN };

struct bgscrub {
    uv_loop_t *loop;
    struct replay *rp;
    struct wal *w;
    struct wal_reader *reader;
    uv_timer_t timer;
    int stopping;
    /* Options (the next run takes them). */
    uint64_t interval_ms, window_ms;
    size_t rate;
    char **names;
    size_t n_names;
    /* The query in flight. */
    struct replay_query *q;
    struct buf answer;
    long http;
    int too_big;
    uint64_t last_query_ms; /* uv_now of the last start */
    /* The run. */
    enum phase ph;
    uint64_t run_start_ms, run_start_ns;
    char **run; /* the backends of this run, the first being the reference */
    size_t n_run, pair;
    int side;
    int64_t since, until;
    char **dbs;
    size_t n_dbs, i_db;
    char **rps;
    size_t n_rps;
    struct scrub_unit *ms; /* the measurements of the database (rp unset) */
    size_t n_ms;
    size_t i_unit;          /* rp index * n_ms + measurement index */
    struct scrub_unit unit; /* the one being compared */
    struct scrub_rows rows[2];
    uint64_t c0, scanned_to, scanned;
    int overflow;
    /* The peers (several relays) over the unit's queries: some peer's lag unknown, some peer
     * lagging for either side, the oldest receive time a peer had not delivered (0: none). */
    int peer_unknown, peer_lagging;
    uint64_t peer_oldest_ns;
    struct scrub_hmap flight;
    struct relay_scrub_pair cur;
    struct relay_scrub_view next; /* being filled */
    struct relay_scrub_view pub;  /* the last finished run */
};

static void schedule(struct bgscrub *s, uint64_t ms);
static void on_timer(uv_timer_t *t);

static void strs_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void strs_add_once(char ***v, size_t *n, const char *x)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], x) == 0)
            return;
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = xstrdup(x);
}

static void copy_name(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

void bgscrub_set_options(struct bgscrub *s, const struct bgscrub_opts *o)
{
    s->interval_ms = o->interval_ms > 0 ? o->interval_ms : 3600 * 1000;
    s->window_ms = o->window_ms > 0 ? o->window_ms : 24 * 3600 * 1000;
    s->rate = o->rate > 0 ? o->rate : 1;
    strs_free(s->names, s->n_names);
    s->names = NULL;
    s->n_names = 0;
    for (size_t i = 0; i < o->n_backends; i++)
        strs_add_once(&s->names, &s->n_names, o->backends[i]);
}

int bgscrub_new(struct bgscrub **out, uv_loop_t *loop, struct replay *rp, struct wal *w,
                const struct bgscrub_opts *o)
{
    struct bgscrub *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->rp = rp;
    s->w = w;
    int rc = wal_reader_new(w, &s->reader);
    if (rc != 0) {
        free(s);
        return rc;
    }
    buf_init(&s->answer);
    bgscrub_set_options(s, o);
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    schedule(s, FIRST_RUN_DELAY_MS);
    *out = s;
    return 0;
}

static void schedule(struct bgscrub *s, uint64_t ms)
{
    if (!s->stopping)
        uv_timer_start(&s->timer, on_timer, ms > 0 ? ms : 1, 0); /* 0 ms spins on libuv 1.44 */
}

/* ---- the end of a pair and of a run -------------------------------------------------------- */

static void unit_reset(struct bgscrub *s)
{
    scrub_unit_deinit(&s->unit);
    scrub_rows_deinit(&s->rows[0]);
    scrub_rows_deinit(&s->rows[1]);
}

static void db_reset(struct bgscrub *s)
{
    strs_free(s->rps, s->n_rps);
    s->rps = NULL;
    s->n_rps = 0;
    for (size_t i = 0; i < s->n_ms; i++)
        scrub_unit_deinit(&s->ms[i]);
    free(s->ms);
    s->ms = NULL;
    s->n_ms = 0;
    unit_reset(s);
}

static void pair_begin(struct bgscrub *s)
{
    memset(&s->cur, 0, sizeof(s->cur));
    copy_name(s->cur.a, sizeof(s->cur.a), s->run[0]);
    copy_name(s->cur.b, sizeof(s->cur.b), s->run[s->pair]);
    strs_free(s->dbs, s->n_dbs);
    s->dbs = NULL;
    s->n_dbs = s->i_db = 0;
    s->ph = PH_DBS;
    s->side = 0;
}

static void run_end(struct bgscrub *s)
{
    s->next.runs_total = s->pub.runs_total + 1;
    s->next.windows_compared_total += s->pub.windows_compared_total;
    s->next.queries_total = s->pub.queries_total;
    s->next.errors_total += s->pub.errors_total;
    s->next.last_run_ns = clock_realtime_ns();
    s->next.last_run_seconds = (double)(uv_now(s->loop) - s->run_start_ms) / 1000.0;
    s->pub = s->next;
    log_info("event=scrub_run_done pairs=%zu differing_windows=%" PRIu64
             " in_flight_windows=%" PRIu64 " seconds=%.3f",
             s->pub.n_pairs, s->pub.differing_windows, s->pub.in_flight_windows,
             s->pub.last_run_seconds);
    strs_free(s->run, s->n_run);
    s->run = NULL;
    s->n_run = 0;
    strs_free(s->dbs, s->n_dbs);
    s->dbs = NULL;
    s->n_dbs = 0;
    db_reset(s);
    scrub_hmap_deinit(&s->flight);
    s->ph = PH_IDLE;
    uint64_t spent = uv_now(s->loop) - s->run_start_ms;
    schedule(s, spent < s->interval_ms ? s->interval_ms - spent : 1);
}

/* The pair is done (err: why it stopped early, NULL when it went through). */
static void pair_end(struct bgscrub *s, const char *err)
{
    if (err != NULL) {
        copy_name(s->cur.error, sizeof(s->cur.error), err);
        s->next.errors_total++;
        log_warn("event=scrub_pair_failed a=%s b=%s err=\"%s\"", s->cur.a, s->cur.b, s->cur.error);
    }
    if (s->next.n_pairs < RELAY_SCRUB_PAIRS)
        s->next.pairs[s->next.n_pairs++] = s->cur;
    s->next.differing_windows += s->cur.differing;
    s->next.in_flight_windows += s->cur.in_flight;
    db_reset(s);
    if (++s->pair < s->n_run)
        pair_begin(s);
    else
        run_end(s);
}

static void run_begin(struct bgscrub *s)
{
    memset(&s->next, 0, sizeof(s->next));
    s->run_start_ms = uv_now(s->loop);
    s->run_start_ns = clock_realtime_ns();
    struct replay_backend_status *st = NULL;
    size_t n = 0;
    replay_status(s->rp, &st, &n);
    for (size_t i = 0; i < (s->n_names ? s->n_names : n); i++) {
        const char *want = s->n_names ? s->names[i] : st[i].name;
        for (size_t j = 0; j < n; j++)
            if (strcmp(st[j].name, want) == 0 && strcmp(st[j].kind, "v1") == 0)
                strs_add_once(&s->run, &s->n_run, want);
    }
    free(st);
    int64_t now = (int64_t)s->run_start_ns;
    s->since = scrub_hour_of(now - (int64_t)(s->window_ms * 1000000ull));
    s->until = scrub_hour_of(now) + SCRUB_HOUR_NS;
    s->scanned_to = 0;
    s->scanned = 0;
    s->overflow = 0;
    if (s->n_run < 2) {
        s->pair = s->n_run;
        run_end(s);
        return;
    }
    s->pair = 1;
    pair_begin(s);
}

/* ---- queries ------------------------------------------------------------------------------- */

static void on_head(void *arg, long status, const char *headers, size_t len)
{
    struct bgscrub *s = arg;
    (void)headers;
    (void)len;
    s->http = status;
}

static int on_data(void *arg, const char *p, size_t len)
{
    struct bgscrub *s = arg;
    if (s->answer.len + len > ANSWER_MAX) {
        s->too_big = 1;
        return -1;
    }
    buf_append(&s->answer, p, len);
    return 0;
}

static void answered(struct bgscrub *s, const json_t *results);

static void on_done(void *arg, int rc, const char *err)
{
    struct bgscrub *s = arg;
    s->q = NULL;
    if (s->stopping) {
        buf_clear(&s->answer);
        return;
    }
    char why[256] = "";
    json_t *root = NULL;
    if (s->too_big)
        snprintf(why, sizeof(why), "an answer over %zu bytes", ANSWER_MAX);
    else if (rc != 0)
        snprintf(why, sizeof(why), "backend %s: %s", s->run[s->side ? s->pair : 0],
                 err ? err : "failed");
    if (why[0] == '\0') {
        json_error_t je;
        root = json_loadb(s->answer.data ? s->answer.data : "", s->answer.len, 0, &je);
        const char *top = json_string_value(json_object_get(root, "error"));
        if (s->http != 200 || root == NULL || top != NULL)
            snprintf(why, sizeof(why), "backend %s: HTTP %ld: %.160s",
                     s->run[s->side ? s->pair : 0], s->http,
                     top            ? top
                     : root == NULL ? "an answer that is not JSON"
                                    : "refused");
    }
    buf_clear(&s->answer);
    if (why[0] != '\0')
        pair_end(s, why);
    else
        answered(s, json_object_get(root, "results"));
    json_decref(root);
    if (s->ph != PH_IDLE) /* else run_end scheduled the next run */
        schedule(s, 1);
}

/* Start 'q' (NUL-terminated) on db (NULL: none) with the side's backend; when it cannot start,
 * the pair ends there. */
static void ask(struct bgscrub *s, const char *db, const char *q)
{
    struct buf t;
    buf_init(&t);
    buf_append_str(&t, "/query?epoch=ns");
    if (db != NULL) {
        char *e = curl_easy_escape(NULL, db, (int)strlen(db));
        buf_printf(&t, "&db=%s", e);
        curl_free(e);
    }
    char *e = curl_easy_escape(NULL, q, (int)strlen(q));
    buf_printf(&t, "&q=%s", e);
    curl_free(e);
    const char *backend = s->run[s->side ? s->pair : 0];
    struct replay_query_req req = {backend, 0, t.data, t.len, "", 0, NULL, 0};
    struct replay_query_cbs cb = {on_head, on_data, on_done};
    s->http = 0;
    s->too_big = 0;
    buf_clear(&s->answer);
    s->last_query_ms = uv_now(s->loop);
    s->next.queries_total++;
    s->pub.queries_total++;
    int rc = replay_query_own(s->rp, &req, &cb, s, &s->q);
    buf_deinit(&t);
    if (rc != 0) {
        char why[160];
        snprintf(why, sizeof(why), "backend %s: %s", backend, iwr_strerror(rc));
        pair_end(s, why);
        if (s->ph != PH_IDLE)
            schedule(s, 1);
    }
}

/* ---- the answers --------------------------------------------------------------------------- */

static const json_t *result_at(const json_t *results, size_t i)
{
    const json_t *r = json_array_get(results, i);
    const char *err = json_string_value(json_object_get(r, "error"));
    /* A database dropped meanwhile, or one side without it: nothing there. */
    return err != NULL ? NULL : r;
}

static void take_dbs(struct bgscrub *s, const json_t *res)
{
    const json_t *all = json_object_get(res, "series");
    for (size_t i = 0; i < json_array_size(all); i++) {
        const json_t *vals = json_object_get(json_array_get(all, i), "values");
        for (size_t r = 0; r < json_array_size(vals); r++) {
            const char *v = json_string_value(json_array_get(json_array_get(vals, r), 0));
            if (v != NULL && strcmp(v, "_internal") != 0)
                strs_add_once(&s->dbs, &s->n_dbs, v);
        }
    }
}

static void take_schema(struct bgscrub *s, const json_t *rps, const json_t *fields)
{
    const json_t *all = json_object_get(rps, "series");
    for (size_t i = 0; i < json_array_size(all); i++) {
        const json_t *vals = json_object_get(json_array_get(all, i), "values");
        for (size_t r = 0; r < json_array_size(vals); r++) {
            const char *v = json_string_value(json_array_get(json_array_get(vals, r), 0));
            if (v != NULL)
                strs_add_once(&s->rps, &s->n_rps, v);
        }
    }
    all = json_object_get(fields, "series");
    for (size_t i = 0; i < json_array_size(all); i++) {
        const json_t *ser = json_array_get(all, i);
        const char *m = json_string_value(json_object_get(ser, "name"));
        if (m == NULL)
            continue;
        struct scrub_unit *u = NULL;
        for (size_t k = 0; k < s->n_ms && u == NULL; k++)
            if (strcmp(s->ms[k].m, m) == 0)
                u = &s->ms[k];
        if (u == NULL) {
            s->ms = xrealloc(s->ms, (s->n_ms + 1) * sizeof(*s->ms));
            u = &s->ms[s->n_ms++];
            memset(u, 0, sizeof(*u));
            u->m = xstrdup(m);
        }
        const json_t *vals = json_object_get(ser, "values");
        for (size_t r = 0; r < json_array_size(vals); r++) {
            const json_t *row = json_array_get(vals, r);
            const char *f = json_string_value(json_array_get(row, 0));
            const char *t = json_string_value(json_array_get(row, 1));
            if (f != NULL)
                scrub_unit_add_field(u, f, s->side, scrub_ftype_of(t));
        }
    }
}

/* The unit i_unit of the database into s->unit; 0, or 1 when there is none left. */
static int unit_load(struct bgscrub *s)
{
    unit_reset(s);
    if (s->i_unit >= s->n_rps * s->n_ms)
        return 1;
    const struct scrub_unit *m = &s->ms[s->i_unit % s->n_ms];
    struct scrub_unit *u = &s->unit;
    u->db = xstrdup(s->dbs[s->i_db]);
    u->rp = xstrdup(s->rps[s->i_unit / s->n_ms]);
    u->m = xstrdup(m->m);
    for (size_t f = 0; f < m->n_fields; f++) {
        scrub_unit_add_field(u, m->fields[f].name, 0, m->fields[f].type[0]);
        scrub_unit_add_field(u, m->fields[f].name, 1, m->fields[f].type[1]);
    }
    s->rows[0].n_fields = s->rows[1].n_fields = u->n_fields;
    return 0;
}

/* Next database, or the pair's end. */
static void next_db(struct bgscrub *s)
{
    db_reset(s);
    if (s->i_db < s->n_dbs) {
        s->ph = PH_SCHEMA;
        s->side = 0;
    } else {
        pair_end(s, NULL);
    }
}

static void next_unit(struct bgscrub *s)
{
    for (;;) {
        if (unit_load(s) != 0) {
            s->i_db++;
            next_db(s);
            return;
        }
        if (s->unit.n_fields > 0)
            break;
        s->i_unit++;
    }
    s->ph = PH_FIG;
    s->side = 0;
}

static void answered(struct bgscrub *s, const json_t *results)
{
    switch (s->ph) {
    case PH_DBS:
        take_dbs(s, result_at(results, 0));
        if (++s->side == 2)
            next_db(s);
        break;
    case PH_SCHEMA:
        take_schema(s, result_at(results, 0), result_at(results, 1));
        if (++s->side == 2) {
            s->i_unit = 0;
            next_unit(s);
        }
        break;
    case PH_FIG: {
        const json_t *r = result_at(results, 0);
        if (r != NULL)
            scrub_figures_add(&s->rows[s->side], &s->unit, r);
        if (++s->side == 2)
            s->ph = PH_SCAN;
        break;
    }
    default:
        IWR_ASSERT(0);
    }
}

/* ---- in flight and the verdict ------------------------------------------------------------- */

/* The pair's lowest cursor now: records after it may have reached one side only. */
static uint64_t pair_cursor(struct bgscrub *s)
{
    struct replay_backend_status *st = NULL;
    size_t n = 0;
    replay_status(s->rp, &st, &n);
    uint64_t c = UINT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (strcmp(st[i].name, s->run[0]) == 0 || strcmp(st[i].name, s->run[s->pair]) == 0)
            c = st[i].cursor < c ? st[i].cursor : c;
    free(st);
    return c == UINT64_MAX ? 0 : c;
}

/* Fold what the peers hold for the pair now into the unit's figures ('reset': the unit's
 * queries start). */
static void peer_note(struct bgscrub *s, int reset)
{
    uint64_t lag = 0, oldest = 0;
    int unknown = replay_peer_pair_lag(s->rp, s->run[0], s->run[s->pair], &lag, &oldest);
    if (reset) {
        s->peer_unknown = s->peer_lagging = 0;
        s->peer_oldest_ns = 0;
    }
    s->peer_unknown |= unknown;
    s->peer_lagging |= lag > 0;
    if (oldest != 0 && (s->peer_oldest_ns == 0 || oldest < s->peer_oldest_ns))
        s->peer_oldest_ns = oldest;
}

/* 1 when a peer may still hold points of the window at 'hour' for either side: a peer's lag
 * is unknown, or a peer lags and the window is at or after the hour it received the oldest
 * record it has not delivered (or it lags without saying since when). */
static int peer_in_flight(const struct bgscrub *s, int64_t hour)
{
    if (s->peer_unknown)
        return 1;
    if (!s->peer_lagging && s->peer_oldest_ns == 0)
        return 0;
    return s->peer_oldest_ns == 0 || hour >= scrub_hour_of((int64_t)s->peer_oldest_ns);
}

/* One slice of the log after max(c0, scanned_to). 1 when the head was reached. */
static int scan_slice(struct bgscrub *s)
{
    if (s->overflow)
        return 1;
    uint64_t after = s->c0 > s->scanned_to ? s->c0 : s->scanned_to;
    int rc = wal_reader_begin(s->reader), done = 0;
    for (size_t i = 0; rc == 0 && i < SLICE_RECORDS; i++) {
        struct wal_record rec;
        int nrc = wal_reader_next(s->reader, after, &rec);
        if (nrc == IWR_ENOTFOUND) {
            done = 1;
            break;
        }
        if (nrc != 0 && nrc != IWR_ECORRUPT) {
            rc = nrc;
            break;
        }
        after = rec.seq;
        if (nrc == 0)
            scrub_record_windows(&rec, 0, &s->flight, 1);
        if (++s->scanned > BGSCRUB_SCAN_MAX) {
            s->overflow = 1;
            log_warn("event=scrub_backlog_too_long records=%d note=\"differing windows of this "
                     "run count as in flight\"",
                     BGSCRUB_SCAN_MAX);
            done = 1;
            break;
        }
    }
    wal_reader_end(s->reader);
    s->scanned_to = after;
    if (rc != 0) {
        /* Without the backlog nothing can be told from a difference: all in flight. */
        log_warn("event=scrub_log_read_failed err=\"%s\"", iwr_strerror(rc));
        s->overflow = 1;
        return 1;
    }
    return done;
}

static int verdict(void *arg, int64_t hour, const struct scrub_fig *fa, const struct scrub_fig *fb,
                   int differs)
{
    struct bgscrub *s = arg;
    s->cur.windows++;
    if (!differs)
        return 0;
    const struct scrub_unit *u = &s->unit;
    peer_note(s, 0);
    if (s->overflow || scrub_hmap_get(&s->flight, scrub_window_key(u->db, "", u->m, hour), NULL) ||
        peer_in_flight(s, hour)) {
        s->cur.in_flight++;
        return 0;
    }
    s->cur.differing++;
    if (s->next.n_diffs == RELAY_SCRUB_DIFFS)
        return 0;
    size_t f = 0;
    while (f + 1 < u->n_fields && !scrub_fig_differs(&fa[f], &fb[f]))
        f++;
    struct relay_scrub_diff *d = &s->next.diffs[s->next.n_diffs++];
    copy_name(d->a, sizeof(d->a), s->cur.a);
    copy_name(d->b, sizeof(d->b), s->cur.b);
    copy_name(d->db, sizeof(d->db), u->db);
    copy_name(d->rp, sizeof(d->rp), u->rp);
    copy_name(d->measurement, sizeof(d->measurement), u->m);
    copy_name(d->field, sizeof(d->field), u->fields[f].name);
    d->hour_ns = hour;
    struct buf j;
    buf_init(&j);
    scrub_fig_json(&fa[f], &j);
    snprintf(d->fa, sizeof(d->fa), "%.*s", (int)j.len, j.data);
    buf_clear(&j);
    scrub_fig_json(&fb[f], &j);
    snprintf(d->fb, sizeof(d->fb), "%.*s", (int)j.len, j.data);
    buf_deinit(&j);
    log_warn("event=scrub_window_differs a=%s b=%s db=%s rp=%s measurement=%s hour=%" PRId64
             " field=%s a_count=%" PRId64 " b_count=%" PRId64,
             d->a, d->b, u->db, u->rp, u->m, hour, d->field, fa[f].count, fb[f].count);
    return 0;
}

/* ---- the driver ---------------------------------------------------------------------------- */

static void on_timer(uv_timer_t *t)
{
    struct bgscrub *s = t->data;
    if (s->stopping || s->q != NULL)
        return;
    if (s->ph == PH_IDLE) {
        run_begin(s);
        if (s->ph == PH_IDLE)
            return; /* nothing to compare: run_end scheduled the next */
    }
    if (s->ph == PH_SCAN) {
        if (!scan_slice(s)) {
            schedule(s, 1);
            return;
        }
        s->next.windows_compared_total +=
            scrub_rows_walk(&s->rows[0], &s->rows[1], s->unit.n_fields, verdict, s, NULL);
        s->i_unit++;
        next_unit(s);
        if (s->ph == PH_IDLE)
            return;
        schedule(s, 1);
        return;
    }
    /* A query: no sooner than 1/rate after the last one. */
    uint64_t gap = 1000 / s->rate, now = uv_now(s->loop);
    if (now - s->last_query_ms < gap) {
        schedule(s, gap - (now - s->last_query_ms));
        return;
    }
    struct buf q;
    buf_init(&q);
    switch (s->ph) {
    case PH_DBS:
        buf_append_str(&q, "SHOW DATABASES");
        buf_append(&q, "", 1);
        ask(s, NULL, q.data);
        break;
    case PH_SCHEMA:
        buf_append_str(&q, "SHOW RETENTION POLICIES ON ");
        scrub_quote_ident(&q, s->dbs[s->i_db]);
        buf_append_str(&q, "; SHOW FIELD KEYS ON ");
        scrub_quote_ident(&q, s->dbs[s->i_db]);
        buf_append(&q, "", 1);
        ask(s, s->dbs[s->i_db], q.data);
        break;
    case PH_FIG:
        if (s->side == 0) {
            /* Before the first query of the window: whatever either side lacks now is after
             * this, and whatever arrives meanwhile is after it too. */
            s->c0 = pair_cursor(s);
            peer_note(s, 1);
        }
        scrub_figures_query(&q, &s->unit, s->since, s->until);
        ask(s, s->unit.db, q.data);
        break;
    default:
        IWR_ASSERT(0);
    }
    buf_deinit(&q);
}

void bgscrub_view(struct bgscrub *s, struct relay_scrub_view *out)
{
    *out = s->pub;
    out->enabled = 1;
    out->running = s->ph != PH_IDLE;
}

static void timer_closed(uv_handle_t *h)
{
    (void)h;
}

void bgscrub_stop(struct bgscrub *s)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, timer_closed);
}

void bgscrub_free(struct bgscrub *s)
{
    if (s == NULL)
        return;
    IWR_ASSERT(s->q == NULL); /* replay_stop ended it */
    strs_free(s->names, s->n_names);
    strs_free(s->run, s->n_run);
    strs_free(s->dbs, s->n_dbs);
    db_reset(s);
    scrub_hmap_deinit(&s->flight);
    buf_deinit(&s->answer);
    wal_reader_free(s->reader);
    free(s);
}
