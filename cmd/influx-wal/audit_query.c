/* influx-wal audit, the backend side: one SELECT count(*) ... GROUP BY time(1h) per group of
 * windows on the backend's /query, with libcurl easy (one blocking request at a time), the
 * answer read with libjansson. count(*) gives one column per field, "count_<field key>". */
#include "cmd/influx-wal/audit.h"

#include "common/err.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <string.h>

#define MAX_RESPONSE ((size_t)64 << 20)
#define QUERY_TIMEOUT_MS 60000L
#define CONNECT_TIMEOUT_MS 5000L

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    if (b->len + size * n > MAX_RESPONSE)
        return 0; /* curl fails the transfer: an answer this large is not ours */
    buf_append(b, p, size * n);
    return size * n;
}

/* The URL of /query under a->url (a path prefix, if any, kept). Caller frees with curl_free.
 * 0, or 1 after a message. */
static int query_url(struct audit *a, char **out)
{
    CURLU *u = curl_url();
    IWR_ASSERT(u != NULL); /* only fails out of memory */
    char *path = NULL;
    struct buf p;
    buf_init(&p);
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, a->url, 0);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_PATH, &path, 0);
    if (uc == CURLUE_OK) {
        size_t n = strlen(path);
        while (n > 0 && path[n - 1] == '/')
            n--;
        buf_append(&p, path, n);
        buf_append(&p, "/query", sizeof("/query")); /* with its NUL */
        uc = curl_url_set(u, CURLUPART_PATH, p.data, 0);
    }
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_URL, out, 0);
    curl_free(path);
    buf_deinit(&p);
    curl_url_cleanup(u);
    if (uc != CURLUE_OK) /* cli_url accepted it; curl may still refuse an '@' in a password */
        return cli_fail(a->cli, "querying %s: %s", a->url, curl_url_strerror(uc));
    return 0;
}

/* The string value of o[key], or NULL. */
static const char *str_at(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* POST one query; the parsed answer into *doc (caller json_decref's it). 0, or 1 after a
 * message. */
static int query(struct audit *a, CURL *e, const char *url, const char *db, const char *q,
                 json_t **doc)
{
    struct buf form, resp;
    buf_init(&form);
    buf_init(&resp);
    char *eq = curl_easy_escape(e, q, 0), *edb = curl_easy_escape(e, db, 0);
    IWR_ASSERT(eq != NULL && edb != NULL); /* only fails out of memory */
    buf_printf(&form, "q=%s&db=%s&epoch=ns", eq, edb);
    curl_free(eq);
    curl_free(edb);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, form.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form.len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cc = curl_easy_perform(e);
    long http = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &http);
    int rc = 0;
    *doc = NULL;
    if (cc != CURLE_OK) {
        rc = cli_fail(a->cli, "querying %s: %s", a->url,
                      errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else {
        /* Any JSON value is read ("404 page not found" is none: its "404" is followed by more);
         * \u0000 in names is kept, as line protocol allows NUL bytes. */
        json_error_t jerr;
        *doc = json_loadb(resp.data ? resp.data : "", resp.len, JSON_DECODE_ANY | JSON_ALLOW_NUL,
                          &jerr);
        const char *err = str_at(*doc, "error");
        if (*doc == NULL)
            rc = cli_fail(a->cli, "querying %s: http %ld, not JSON: %.*s", a->url, http,
                          (int)(resp.len < 200 ? resp.len : 200), resp.data ? resp.data : "");
        else if (http != 200 || json_object_get(*doc, "error") != NULL)
            rc = cli_fail(a->cli, "querying %s: http %ld: %s", a->url, http,
                          err != NULL ? err : "no error message");
        if (rc != 0) {
            json_decref(*doc);
            *doc = NULL;
        }
    }
    buf_deinit(&form);
    buf_deinit(&resp);
    return rc;
}

/* An InfluxQL identifier in double quotes. */
static void quote_ident(struct buf *b, const char *s)
{
    buf_append(b, "\"", 1);
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            buf_append(b, "\\", 1);
        buf_append(b, s, 1);
    }
    buf_append(b, "\"", 1);
}

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

/* Windows [lo, hi) of one group (sorted by hour, all within MAX_QUERY_HOURS): their backend
 * counts. 0, or 1 after a message. 'notes' collects "database not found" and the like. */
static int fetch_counts(struct audit *a, CURL *e, const char *url, struct window *lo,
                        struct window *hi, struct buf *notes)
{
    const char *g = a->groups.str[lo->group];
    const char *db = g, *rp = db + strlen(db) + 1, *m = rp + strlen(rp) + 1;
    struct buf q;
    buf_init(&q);
    buf_append_str(&q, "SELECT count(*) FROM ");
    if (rp[0] != '\0') {
        quote_ident(&q, rp);
        buf_append(&q, ".", 1);
    }
    quote_ident(&q, m);
    buf_printf(&q, " WHERE time >= %" PRId64 " AND time < %" PRId64 " GROUP BY time(1h)", lo->hour,
               (hi - 1)->hour + HOUR_NS);
    buf_append(&q, "", 1);
    json_t *doc;
    int rc = query(a, e, url, db, q.data, &doc);
    buf_deinit(&q);
    if (rc != 0)
        return rc;
    const json_t *res = json_array_get(json_object_get(doc, "results"), 0);
    const char *err = str_at(res, "error");
    if (err != NULL) {
        /* Nothing there: every count is 0. Anything else is a failure. */
        if (strstr(err, "not found") == NULL)
            rc = cli_fail(a->cli, "querying %s (db %s): %s", a->url, db, err);
        else if (notes->len == 0 || strstr(notes->data, err) == NULL)
            buf_printf(notes, "note: the backend answered \"%s\": its counts are 0\n", err);
        json_decref(doc);
        return rc;
    }
    const json_t *series = json_array_get(json_object_get(res, "series"), 0);
    const json_t *cols = json_object_get(series, "columns"),
                 *vals = json_object_get(series, "values");
    for (size_t r = 0; r < json_array_size(vals); r++)
        take_row(a, lo, hi, cols, json_array_get(vals, r));
    json_decref(doc);
    return 0;
}

int audit_query_all(struct audit *a, struct buf *notes)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return cli_fail(a->cli, "cannot initialise libcurl");
    char *url;
    if (query_url(a, &url) != 0)
        return 1;
    CURL *e = curl_easy_init();
    IWR_ASSERT(e != NULL); /* only fails out of memory, like xmalloc */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, QUERY_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    int rc = 0;
    for (size_t i = 0; i < a->n_win && rc == 0;) {
        size_t j = i + 1;
        while (j < a->n_win && a->win[j].group == a->win[i].group &&
               a->win[j].hour - a->win[i].hour < MAX_QUERY_HOURS * HOUR_NS)
            j++;
        rc = fetch_counts(a, e, url, &a->win[i], &a->win[j], notes);
        i = j;
    }
    curl_easy_cleanup(e);
    curl_free(url);
    return rc;
}
