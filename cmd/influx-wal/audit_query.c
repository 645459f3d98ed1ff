/* influx-wal audit, the backend side: one SELECT count(*) ... GROUP BY time(1h) per group of
 * windows on the backend's /query, through the CLI's influxd client (influx.h: chunked answers,
 * one statement result at a time). count(*) gives one column per field, "count_<field key>". */
#include "cmd/influx-wal/audit.h"
#include "cmd/influx-wal/influx.h"

#include "common/err.h"

#include <inttypes.h>
#include <string.h>

/* One row of counts, [time, count_<field>...] under 'cols', into the window of its hour. */
static void take_row(struct audit *a, struct window *lo, struct window *hi, const json_t *cols,
                     const json_t *row)
{
    const json_t *t = json_array_get(row, 0);
    if (!json_is_integer(t))
        return;
    struct window *w = lo;
    while (w < hi && w->hour != json_integer_value(t))
        w++;
    if (w == hi)
        return;
    for (size_t c = 1; c < json_array_size(cols) && c < json_array_size(row); c++) {
        const json_t *name = json_array_get(cols, c), *v = json_array_get(row, c);
        const char *s = json_string_value(name);
        size_t len = json_string_length(name);
        if (s == NULL || !json_is_integer(v) || len < 6 || memcmp(s, "count_", 6) != 0)
            continue;
        for (size_t f = 0; f < w->n_fields; f++) {
            size_t id = w->fields[f].field;
            if (a->field_names.len[id] == len - 6 &&
                memcmp(a->field_names.str[id], s + 6, len - 6) == 0) {
                json_int_t n = json_integer_value(v);
                w->fields[f].backend = n > 0 ? (uint64_t)n : 0;
            }
        }
    }
}

struct fetch {
    struct audit *a;
    const struct influx *c;
    struct window *lo, *hi;
    const char *db;
    struct buf *notes;
};

/* One statement result of the answer (one chunk of it). */
static int fetch_result(void *arg, const json_t *res)
{
    struct fetch *f = arg;
    const char *err = influx_str_at(res, "error");
    if (err != NULL) {
        /* Nothing there: every count is 0. Anything else is a failure. */
        if (strstr(err, "not found") == NULL)
            return cli_fail(f->a->cli, "querying %s (db %s): %s", influx_shown(f->c), f->db, err);
        if (f->notes->len == 0 || strstr(f->notes->data, err) == NULL)
            buf_printf(f->notes, "note: the backend answered \"%s\": its counts are 0\n", err);
        return 0;
    }
    const json_t *all = json_object_get(res, "series");
    for (size_t s = 0; s < json_array_size(all); s++) {
        const json_t *series = json_array_get(all, s);
        const json_t *cols = json_object_get(series, "columns"),
                     *vals = json_object_get(series, "values");
        for (size_t r = 0; r < json_array_size(vals); r++)
            take_row(f->a, f->lo, f->hi, cols, json_array_get(vals, r));
    }
    return 0;
}

/* Windows [lo, hi) of one group (sorted by hour, all within MAX_QUERY_HOURS): their backend
 * counts. 0, or 1 after a message. 'notes' collects "database not found" and the like. */
static int fetch_counts(struct audit *a, struct influx *c, struct window *lo, struct window *hi,
                        struct buf *notes)
{
    const char *g = a->groups.str[lo->group];
    const char *db = g, *rp = db + strlen(db) + 1, *m = rp + strlen(rp) + 1;
    struct buf q;
    buf_init(&q);
    buf_append_str(&q, "SELECT count(*) FROM ");
    if (rp[0] != '\0') {
        influx_quote_ident(&q, rp);
        buf_append(&q, ".", 1);
    }
    influx_quote_ident(&q, m);
    buf_printf(&q, " WHERE time >= %" PRId64 " AND time < %" PRId64 " GROUP BY time(1h)", lo->hour,
               (hi - 1)->hour + HOUR_NS);
    buf_append(&q, "", 1);
    struct fetch f = {a, c, lo, hi, db, notes};
    int rc = influx_query(c, db, q.data, fetch_result, &f);
    buf_deinit(&q);
    return rc;
}

int audit_query_all(struct audit *a, struct buf *notes)
{
    struct cli_backend b;
    memset(&b, 0, sizeof(b));
    snprintf(b.name, sizeof(b.name), "%s", a->backend);
    b.url = (char *)a->url; /* borrowed: b is not deinit'd */
    struct influx *c;
    if (influx_open(a->cli, &b, &c) != 0)
        return 1;
    int rc = 0;
    for (size_t i = 0; i < a->n_win && rc == 0;) {
        size_t j = i + 1;
        while (j < a->n_win && a->win[j].group == a->win[i].group &&
               a->win[j].hour - a->win[i].hour < MAX_QUERY_HOURS * HOUR_NS)
            j++;
        rc = fetch_counts(a, c, &a->win[i], &a->win[j], notes);
        i = j;
    }
    influx_close(c);
    return rc;
}
