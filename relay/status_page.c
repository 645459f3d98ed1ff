/* The status page: relay/status_page.html (styles and the refreshing script, embedded at build
 * time as status_page_html) with the tables and charts rendered here from the same JSON that
 * /status.json serves, so a browser without JavaScript sees what the script draws, and the two
 * cannot disagree about the figures. The markup mirrors render() in the page's script: same
 * ids, classes and data- attributes (the browser test reads them). Loop thread only. */
#include "relay/relay_int.h"

#include "common/err.h"
#include "relay/status_page_html.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define CONTENT_MARK "<!--@CONTENT@-->"
#define DASH "\xe2\x80\x93"     /* en dash: no value */
#define INF_SIGN "\xe2\x88\x9e" /* not gaining */
#define CHART_W 300
#define CHART_H 60
#define CHART_SPAN_S 900

static void esc(struct buf *b, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
        case '&': buf_append_str(b, "&amp;"); break;
        case '<': buf_append_str(b, "&lt;"); break;
        case '>': buf_append_str(b, "&gt;"); break;
        case '"': buf_append_str(b, "&quot;"); break;
        case '\'': buf_append_str(b, "&#39;"); break;
        default: buf_append(b, s, 1);
        }
    }
}

/* A member as a number; NAN when absent or null. */
static double jnum_of(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *jstr_of(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void fmt_num(struct buf *b, double v, int decimals)
{
    if (isnan(v))
        buf_append_str(b, DASH);
    else
        buf_printf(b, "%.*f", decimals, v);
}

static void fmt_int(struct buf *b, double v)
{
    fmt_num(b, v, 0);
}

static void fmt_bytes(struct buf *b, double v)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    if (isnan(v)) {
        buf_append_str(b, DASH);
        return;
    }
    size_t i = 0;
    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    if (i == 0)
        buf_printf(b, "%.0f B", v);
    else
        buf_printf(b, "%.1f %s", v, units[i]);
}

static void fmt_dur(struct buf *b, double s)
{
    if (isnan(s)) {
        buf_append_str(b, INF_SIGN);
        return;
    }
    if (s < 60) {
        buf_printf(b, "%.1f s", s);
        return;
    }
    long long t = (long long)floor(s);
    if (t < 3600)
        buf_printf(b, "%lldm %llds", t / 60, t % 60);
    else if (t < 86400)
        buf_printf(b, "%lldh %lldm", t / 3600, t % 3600 / 60);
    else
        buf_printf(b, "%lldd %lldh", t / 86400, t % 86400 / 3600);
}

static void fmt_hms(struct buf *b, double t)
{
    if (isnan(t)) {
        buf_append_str(b, DASH);
        return;
    }
    time_t tt = (time_t)floor(t);
    struct tm tm;
    gmtime_r(&tt, &tm);
    buf_printf(b, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void fmt_ms(struct buf *b, double s)
{
    if (isnan(s))
        buf_append_str(b, DASH);
    else
        buf_printf(b, "%.2f ms", s * 1000);
}

/* How a figure of a JSON object is shown, in a table cell or a key-value row. */
enum fig {
    FIG_TEXT,  /* a string, escaped */
    FIG_INT,   /* a count */
    FIG_NUM1,  /* a rate, one decimal */
    FIG_BYTES, /* bytes with a binary unit */
    FIG_DUR,   /* seconds as a duration (infinity when null) */
    FIG_MS,    /* seconds as milliseconds */
    FIG_ETA,   /* a duration, or a dash when the object has no lag_records left */
};

static void fig(struct buf *b, const json_t *o, const char *k, enum fig f)
{
    double v = jnum_of(o, k);
    switch (f) {
    case FIG_TEXT: esc(b, jstr_of(o, k)); break;
    case FIG_INT: fmt_int(b, v); break;
    case FIG_NUM1: fmt_num(b, v, 1); break;
    case FIG_BYTES: fmt_bytes(b, v); break;
    case FIG_DUR: fmt_dur(b, v); break;
    case FIG_MS: fmt_ms(b, v); break;
    case FIG_ETA:
        if (jnum_of(o, "lag_records") == 0)
            buf_append_str(b, DASH);
        else
            fmt_dur(b, v);
        break;
    }
}

/* One cell of a table row: the figure o[key], in a <td> of class 'cls' (NULL: none). */
struct cell {
    const char *key;
    enum fig fig;
    const char *cls;
};

static void cells(struct buf *b, const json_t *o, const struct cell *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (c[i].cls != NULL)
            buf_printf(b, "<td class=\"%s\">", c[i].cls);
        else
            buf_append_str(b, "<td>");
        fig(b, o, c[i].key, c[i].fig);
        buf_append_str(b, "</td>");
    }
}

#define CELLS(b, o, c) cells((b), (o), (c), sizeof(c) / sizeof((c)[0]))

static void kv_open(struct buf *b, const char *k)
{
    buf_printf(b, "<tr><th>%s</th><td>", k);
}

static void kv_close(struct buf *b)
{
    buf_append_str(b, "</td></tr>");
}

/* One key-value row: 'label' and the figure o[k]. */
static void kv(struct buf *b, const char *label, const json_t *o, const char *k, enum fig f)
{
    kv_open(b, label);
    fig(b, o, k, f);
    kv_close(b);
}

/* One key-value row of two figures: o[k1], 'sep', o[k2]. */
static void kv_pair(struct buf *b, const char *label, const json_t *o, const char *k1,
                    const char *sep, const char *k2, enum fig f)
{
    kv_open(b, label);
    fig(b, o, k1, f);
    buf_append_str(b, sep);
    fig(b, o, k2, f);
    kv_close(b);
}

static void chart(struct buf *b, const char *id, const char *cls, const char *title, double since,
                  const json_t *t, const json_t *vals, double now)
{
    size_t n = json_array_size(vals);
    double max = 0;
    for (size_t i = 0; i < n; i++) {
        double v = json_is_number(json_array_get(vals, i))
                       ? json_number_value(json_array_get(vals, i)) : NAN;
        if (!isnan(v) && v > max)
            max = v;
    }
    double top = max > 0 ? max : 1;
    buf_printf(b, "<figure class=\"chart %s\" id=\"", cls);
    esc(b, id);
    buf_append_str(b, "\"><figcaption>");
    esc(b, title);
    buf_append_str(b, " (since ");
    fmt_hms(b, since);
    buf_printf(b, " UTC)</figcaption><svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">"
                  "<text x=\"2\" y=\"9\">max ", CHART_W, CHART_H, CHART_W, CHART_H);
    fmt_num(b, max, 1);
    buf_append_str(b, "</text>");
    int open = 0;
    for (size_t i = 0; i <= n; i++) {
        const json_t *v = i < n ? json_array_get(vals, i) : NULL;
        if (!json_is_number(v)) {
            if (open)
                buf_append_str(b, "\"/>");
            open = 0;
            continue;
        }
        double x = CHART_W * (json_number_value(json_array_get(t, i)) - (now - CHART_SPAN_S)) /
                   CHART_SPAN_S;
        double y = CHART_H - 2 - (CHART_H - 12) * json_number_value(v) / top;
        buf_printf(b, "%s%.1f,%.1f", open ? " " : "<polyline points=\"", x, y);
        open = 1;
    }
    buf_append_str(b, "</svg></figure>");
}

static const struct cell backend_names[] = {
    {"name", FIG_TEXT, "t"}, {"kind", FIG_TEXT, "t"}, {"url", FIG_TEXT, "t"}};
static const struct cell backend_figures[] = {
    {"cursor", FIG_INT, NULL},
    {"lag_records", FIG_INT, "lag"},
    {"lag_bytes", FIG_BYTES, NULL},
    {"lag_seconds", FIG_DUR, NULL},
    {"drain_records_per_second", FIG_NUM1, NULL},
    {"catchup_eta_seconds", FIG_ETA, NULL},
    {"sent_points", FIG_INT, NULL},
    {"dead_letters", FIG_INT, NULL},
    {"retries", FIG_INT, NULL},
};

static void render_backends(struct buf *b, const json_t *arr)
{
    buf_append_str(b, "<h2>Backends</h2><table id=\"backends\"><thead><tr><th class=\"t\">name</th>"
                      "<th class=\"t\">kind</th><th class=\"t\">URL</th><th class=\"t\">state</th>"
                      "<th>cursor</th><th>lag records</th><th>lag bytes</th><th>lag</th>"
                      "<th>drain rec/s</th><th>catch-up ETA</th><th>sent points</th>"
                      "<th>dead letters</th><th>retries</th><th class=\"t\">last error</th></tr>"
                      "</thead><tbody>");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *x = json_array_get(arr, i);
        const char *state = jstr_of(x, "state");
        buf_printf(b, "<tr class=\"backend state-%s\" data-backend=\"", state);
        esc(b, jstr_of(x, "name"));
        buf_printf(b, "\" data-state=\"%s\" data-lag-records=\"%.0f\">", state,
                   jnum_of(x, "lag_records"));
        CELLS(b, x, backend_names);
        buf_printf(b, "<td class=\"t state\">%s", state);
        const json_t *fw = json_object_get(x, "fence_wait");
        const json_t *bw = json_object_get(x, "barrier_wait");
        if (fw != NULL) {
            buf_append_str(b, " <small class=\"wait fence-wait\">at a fence for ");
            esc(b, jstr_of(fw, "origin"));
            buf_append_str(b, "'s statement ");
            fmt_int(b, jnum_of(fw, "seq"));
            buf_append_str(b, "</small>");
        }
        if (bw != NULL) {
            buf_append_str(b, " <small class=\"wait barrier-wait\">statement ");
            fmt_int(b, jnum_of(bw, "seq"));
            buf_append_str(b, " waits for the peers (");
            fmt_dur(b, jnum_of(bw, "seconds"));
            buf_append_str(b, ")</small>");
        }
        buf_append_str(b, "</td>");
        CELLS(b, x, backend_figures);
        buf_append_str(b, "<td class=\"err\">");
        esc(b, jstr_of(x, "last_error"));
        if (!isnan(jnum_of(x, "last_error_at"))) {
            buf_append_str(b, " <small>(");
            fmt_hms(b, jnum_of(x, "last_error_at"));
            buf_append_str(b, " UTC)</small>");
        }
        buf_append_str(b, "</td></tr>");
    }
    buf_append_str(b, "</tbody></table>");
}

/* The peer relays (the statement barrier), when there are any. */
static void render_peers(struct buf *b, const json_t *d)
{
    const json_t *arr = json_object_get(d, "peers");
    if (json_array_size(arr) == 0)
        return;
    buf_append_str(b, "<h2>Peer relays</h2><p>statement leader <b id=\"leader\">");
    esc(b, jstr_of(d, "leader"));
    buf_append_str(b, "</b></p><table id=\"peers\"><thead><tr><th class=\"t\">name</th>"
                      "<th class=\"t\">URL</th><th class=\"t\">state</th><th>max lag records</th>"
                      "<th>failed polls</th><th>failed fences</th><th>barrier timeouts</th>"
                      "</tr></thead><tbody>");
    static const struct cell names[] = {{"name", FIG_TEXT, "t"}, {"url", FIG_TEXT, "t"}};
    static const struct cell figures[] = {{"max_lag_records", FIG_INT, NULL},
                                          {"polls_failed", FIG_INT, NULL},
                                          {"fences_failed", FIG_INT, NULL},
                                          {"barrier_timeouts", FIG_INT, NULL}};
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *p = json_array_get(arr, i);
        int up = json_is_true(json_object_get(p, "up"));
        buf_printf(b, "<tr class=\"peer state-%s\" data-peer=\"", up ? "up" : "down");
        esc(b, jstr_of(p, "name"));
        buf_append_str(b, "\">");
        CELLS(b, p, names);
        buf_printf(b, "<td class=\"t state\">%s%s</td>", up ? "up" : "down",
                   json_is_true(json_object_get(p, "leader")) ? " (leader)" : "");
        CELLS(b, p, figures);
        buf_append_str(b, "</tr>");
    }
    buf_append_str(b, "</tbody></table>");
}

static void render_wal(struct buf *b, const json_t *w)
{
    buf_append_str(b, "<h2>Log</h2><table id=\"wal\" class=\"kv\">");
    kv_open(b, "writable");
    if (json_is_true(json_object_get(w, "writable"))) {
        buf_append_str(b, "yes");
    } else {
        buf_append_str(b, "<span class=\"bad\">no (");
        esc(b, jstr_of(w, "full_limit"));
        buf_append_str(b, ")</span>");
    }
    kv_close(b);
    kv_open(b, "records");
    fmt_int(b, jnum_of(w, "records"));
    buf_append_str(b, " (sequences ");
    fmt_int(b, jnum_of(w, "first_sequence"));
    buf_append_str(b, DASH);
    fmt_int(b, jnum_of(w, "last_sequence"));
    buf_append_str(b, ")");
    kv_close(b);
    kv_pair(b, "size", w, "bytes", " of ", "limit_bytes", FIG_BYTES);
    kv(b, "filesystem free", w, "fs_free_bytes", FIG_BYTES);
    kv_pair(b, "commit p50 / p99", w, "commit_p50_seconds", " / ", "commit_p99_seconds", FIG_MS);
    kv(b, "appends rec/s", w, "append_records_per_second", FIG_NUM1);
    kv_open(b, "full in");
    const json_t *filling = json_object_get(w, "filling");
    if (json_is_true(filling))
        fmt_dur(b, jnum_of(w, "full_eta_seconds"));
    else
        buf_append_str(b, json_is_false(filling) ? "not filling" : DASH);
    kv_close(b);
    kv(b, "dead letters", w, "dead_letters", FIG_INT);
    kv_pair(b, "dropped / rejected", w, "dropped_records", " / ", "rejected_appends", FIG_INT);
    buf_append_str(b, "</table>");
}

static void render_ingest(struct buf *b, const json_t *g)
{
    buf_append_str(b, "<h2>Ingest</h2><table id=\"ingest-summary\" class=\"kv\">");
    kv(b, "points/s", g, "points_per_second", FIG_NUM1);
    kv(b, "points", g, "points_total", FIG_INT);
    kv(b, "rejected lines", g, "rejected_lines_total", FIG_INT);
    kv_open(b, "UDP datagrams/s");
    fmt_num(b, jnum_of(g, "udp_datagrams_per_second"), 1);
    buf_append_str(b, " (");
    fmt_int(b, jnum_of(g, "udp_datagrams_total"));
    buf_append_str(b, ", ");
    fmt_int(b, jnum_of(g, "udp_dropped_points_total"));
    buf_append_str(b, " points dropped)");
    kv_close(b);
    kv(b, "open connections", g, "open_connections", FIG_INT);
    kv_open(b, "listeners");
    const json_t *ls = json_object_get(g, "listeners");
    for (size_t i = 0; i < json_array_size(ls); i++) {
        const json_t *l = json_array_get(ls, i);
        buf_append_str(b, i ? ", " : "");
        esc(b, jstr_of(l, "kind"));
        buf_append_str(b, " ");
        esc(b, jstr_of(l, "address"));
        if (jstr_of(l, "database")[0] != '\0') {
            buf_append_str(b, " \xe2\x86\x92 ");
            esc(b, jstr_of(l, "database"));
        }
    }
    if (json_array_size(ls) == 0)
        buf_append_str(b, DASH);
    kv_close(b);
    buf_append_str(b, "</table><table id=\"endpoints\"><thead><tr><th class=\"t\">endpoint</th>"
                      "<th>requests/s</th><th>requests</th><th>4xx</th><th>5xx</th></tr></thead>"
                      "<tbody>");
    static const struct cell endpoint[] = {{"name", FIG_TEXT, "t"},
                                           {"requests_per_second", FIG_NUM1, NULL},
                                           {"requests_total", FIG_INT, NULL},
                                           {"status_4xx", FIG_INT, NULL},
                                           {"status_5xx", FIG_INT, NULL}};
    const json_t *eps = json_object_get(g, "endpoints");
    for (size_t i = 0; i < json_array_size(eps); i++) {
        const json_t *e = json_array_get(eps, i);
        buf_append_str(b, "<tr data-endpoint=\"");
        esc(b, jstr_of(e, "name"));
        buf_append_str(b, "\">");
        CELLS(b, e, endpoint);
        buf_append_str(b, "</tr>");
    }
    buf_append_str(b, "</tbody></table>");
}

static void render_content(struct buf *b, const json_t *d)
{
    double now = jnum_of(d, "now");
    buf_append_str(b, "<p class=\"meta\">version <b>");
    esc(b, jstr_of(d, "version"));
    buf_append_str(b, "</b> \xc2\xb7 up ");
    fmt_dur(b, jnum_of(d, "uptime_seconds"));
    buf_append_str(b, " \xc2\xb7 data dir <code>");
    esc(b, jstr_of(d, "data_dir"));
    buf_append_str(b, "</code> \xc2\xb7 <span id=\"updated\">as of ");
    fmt_hms(b, now);
    buf_append_str(b, " UTC</span></p>");
    render_backends(b, json_object_get(d, "backends"));
    render_peers(b, d);
    render_wal(b, json_object_get(d, "wal"));
    render_ingest(b, json_object_get(d, "ingest"));
    const json_t *hi = json_object_get(d, "history");
    const json_t *t = json_object_get(hi, "t");
    buf_append_str(b, "<h2>Last 15 minutes</h2><div class=\"charts\">");
    chart(b, "chart-ingest", "ingest", "ingest points/s", jnum_of(hi, "since"), t,
          json_object_get(hi, "points_per_second"), now);
    const json_t *bs = json_object_get(hi, "backends");
    for (size_t i = 0; i < json_array_size(bs); i++) {
        const json_t *x = json_array_get(bs, i);
        char id[96], title[112];
        snprintf(id, sizeof(id), "chart-lag-%s", jstr_of(x, "name"));
        snprintf(title, sizeof(title), "lag of %s (records)", jstr_of(x, "name"));
        chart(b, id, "lag", title, jnum_of(x, "since"), t, json_object_get(x, "lag_records"), now);
    }
    buf_append_str(b, "</div>");
}

void status_page_render(struct buf *out, const char *json, size_t json_len)
{
    const char *page = status_page_html;
    const char *mark = strstr(page, CONTENT_MARK);
    IWR_ASSERT(mark != NULL);
    buf_append(out, page, (size_t)(mark - page));
    json_error_t err;
    json_t *d = json_loadb(json, json_len, 0, &err);
    if (d != NULL)
        render_content(out, d);
    else
        buf_append_str(out, "<p class=\"bad\">the status could not be rendered</p>");
    json_decref(d);
    buf_append_str(out, mark + strlen(CONTENT_MARK));
}
