/* The CLI's influxd client (influx.h): /query answers read chunked (chunked=true: influxd sends
 * one JSON document per chunk, each ending in "\n"), every statement result handed to the
 * caller as its chunk arrives, so memory holds one chunk; /write for repairs and rebuilds.
 * libcurl easy, one blocking request at a time, on the calling thread. */
#include "cmd/influx-wal/influx.h"

#include "common/err.h"
#include "common/url.h"
#include "common/xalloc.h"
#include "scrub/window.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <string.h>

#define MAX_CHUNK ((size_t)64 << 20) /* one chunk of an answer; influxd's are far smaller */
#define DEFAULT_TIMEOUT_MS 60000L
#define CONNECT_TIMEOUT_MS 5000L

struct influx {
    struct cli *cli;
    const struct cli_backend *b;
    char *shown; /* b->url for messages: never its user:password@ */
    CURL *e;
    char *query_url; /* curl_free */
    char *write_url; /* base of /write, curl_free */
    struct curl_slist *headers;
    /* The answer being read. */
    struct buf body;
    influx_result_fn *fn;
    void *arg;
    int fn_rc; /* what fn returned, when it stopped the transfer */
    int bad;   /* a chunk was not JSON or had a top-level error: keep its text */
    struct buf bad_text;
    long http;
};

const char *influx_str_at(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

void influx_quote_ident(struct buf *b, const char *s)
{
    scrub_quote_ident(b, s);
}

void influx_quote_string(struct buf *b, const char *s)
{
    scrub_quote_string(b, s);
}

const char *influx_name(const struct influx *c)
{
    return c->b->name;
}

const char *influx_shown(const struct influx *c)
{
    return c->shown;
}

int influx_result_error(const struct influx *c, const json_t *res, int *rc)
{
    const char *err = influx_str_at(res, "error");
    if (err == NULL)
        return 0;
    *rc = strstr(err, "not found") != NULL ? 0 : cli_fail(c->cli, "%s: %s", c->b->name, err);
    return 1;
}

int influx_rows(const json_t *res, influx_row_fn *fn, void *arg)
{
    const json_t *all = json_object_get(res, "series");
    for (size_t i = 0; i < json_array_size(all); i++) {
        const json_t *vals = json_object_get(json_array_get(all, i), "values");
        for (size_t r = 0; r < json_array_size(vals); r++) {
            const json_t *row = json_array_get(vals, r);
            const char *first = json_string_value(json_array_get(row, 0));
            int rc = first != NULL ? fn(arg, row, first) : 0;
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

int influx_create_database(struct influx *c, const char *db)
{
    struct buf q;
    buf_init(&q);
    buf_append_str(&q, "CREATE DATABASE ");
    influx_quote_ident(&q, db);
    buf_append(&q, "", 1);
    int rc = influx_query(c, NULL, q.data, NULL, NULL);
    buf_deinit(&q);
    return rc;
}

/* Seconds of a Go duration ("168h0m0s"): InfluxQL wants one unit. */
static long long go_secs(const char *d)
{
    long long secs = 0, n = 0;
    for (const char *p = d; *p != '\0'; p++) {
        if (*p >= '0' && *p <= '9') {
            n = n * 10 + (*p - '0');
        } else {
            secs += n * (*p == 'h' ? 3600 : *p == 'm' ? 60 : *p == 's' ? 1 : 0);
            n = 0;
        }
    }
    return secs;
}

int influx_create_rp(struct influx *c, const char *db, const char *rp, const char *duration,
                     const char *shard_duration, int is_default)
{
    long long d = go_secs(duration), sd = go_secs(shard_duration);
    struct buf q;
    buf_init(&q);
    buf_append_str(&q, "CREATE RETENTION POLICY ");
    influx_quote_ident(&q, rp);
    buf_append_str(&q, " ON ");
    influx_quote_ident(&q, db);
    if (d > 0)
        buf_printf(&q, " DURATION %llds", d);
    else
        buf_append_str(&q, " DURATION INF");
    buf_append_str(&q, " REPLICATION 1");
    if (sd > 0)
        buf_printf(&q, " SHARD DURATION %llds", sd);
    if (is_default)
        buf_append_str(&q, " DEFAULT");
    buf_append(&q, "", 1);
    int rc = influx_query(c, NULL, q.data, NULL, NULL);
    buf_deinit(&q);
    return rc;
}

/* The URL of 'endpoint' under the base URL (a path prefix, if any, kept). Caller frees with
 * curl_free. 0, or 1 after a message. */
static int endpoint_url(struct influx *c, const char *endpoint, char **out)
{
    CURLU *u = curl_url();
    IWR_ASSERT(u != NULL); /* only fails out of memory */
    char *path = NULL;
    struct buf p;
    buf_init(&p);
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, c->b->url, 0);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_PATH, &path, 0);
    if (uc == CURLUE_OK) {
        size_t n = strlen(path);
        while (n > 0 && path[n - 1] == '/')
            n--;
        buf_append(&p, path, n);
        buf_append_str(&p, endpoint);
        buf_append(&p, "", 1);
        uc = curl_url_set(u, CURLUPART_PATH, p.data, 0);
    }
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_URL, out, 0);
    curl_free(path);
    buf_deinit(&p);
    curl_url_cleanup(u);
    if (uc != CURLUE_OK) /* cli_url accepted it; curl may still refuse an '@' in a password */
        return cli_fail(c->cli, "backend %s: %s: %s", c->b->name, c->shown, curl_url_strerror(uc));
    return 0;
}

int influx_open(struct cli *cli, const struct cli_backend *b, struct influx **out)
{
    static int curl_ready;
    if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return cli_fail(cli, "cannot initialise libcurl");
    curl_ready = 1;
    struct influx *c = xcalloc(1, sizeof(*c));
    c->cli = cli;
    c->b = b;
    c->shown = url_display(b->url);
    buf_init(&c->body);
    buf_init(&c->bad_text);
    if (endpoint_url(c, "/query", &c->query_url) != 0 ||
        endpoint_url(c, "/write", &c->write_url) != 0) {
        influx_close(c);
        return 1;
    }
    c->e = curl_easy_init();
    IWR_ASSERT(c->e != NULL); /* only fails out of memory, like xmalloc */
    CURL *e = c->e;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     b->timeout_ms > 0 ? (long)b->timeout_ms : DEFAULT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (b->token != NULL) {
        struct buf h;
        buf_init(&h);
        buf_printf(&h, "Authorization: Token %s", b->token);
        buf_append(&h, "", 1); /* buf_printf does not terminate */
        c->headers = curl_slist_append(c->headers, h.data);
        buf_deinit(&h);
    } else if (b->username != NULL) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, b->username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, b->password != NULL ? b->password : "");
    }
    if (b->ca_file != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, b->ca_file);
    if (b->insecure_skip_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    *out = c;
    return 0;
}

void influx_close(struct influx *c)
{
    if (c == NULL)
        return;
    if (c->e != NULL)
        curl_easy_cleanup(c->e);
    curl_slist_free_all(c->headers);
    free(c->shown);
    curl_free(c->query_url);
    curl_free(c->write_url);
    buf_deinit(&c->body);
    buf_deinit(&c->bad_text);
    free(c);
}

/* One JSON document of the answer: each of its results to fn. 0 to go on, else stop. */
static int take_doc(struct influx *c, const char *p, size_t n)
{
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' '))
        n--;
    if (n == 0)
        return 0;
    /* \u0000 in names is kept, as line protocol allows NUL bytes. */
    json_error_t jerr;
    json_t *doc = json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    const json_t *results = json_object_get(doc, "results");
    if (doc == NULL || json_object_get(doc, "error") != NULL || !json_is_array(results)) {
        c->bad = 1;
        const char *err = influx_str_at(doc, "error");
        buf_clear(&c->bad_text);
        if (err != NULL)
            buf_append_str(&c->bad_text, err);
        else
            buf_printf(&c->bad_text, "not an answer of influxd: %.*s", (int)(n < 200 ? n : 200), p);
        json_decref(doc);
        return 1;
    }
    int rc = 0;
    for (size_t i = 0; i < json_array_size(results) && rc == 0; i++)
        rc = c->fn != NULL ? c->fn(c->arg, json_array_get(results, i)) : 0;
    json_decref(doc);
    c->fn_rc = rc;
    return rc;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct influx *c = arg;
    size_t len = size * n;
    buf_append(&c->body, p, len);
    /* Hand over every complete document; keep the rest for the next call. */
    size_t start = 0;
    for (;;) {
        char *nl = memchr(c->body.data + start, '\n', c->body.len - start);
        if (nl == NULL)
            break;
        size_t end = (size_t)(nl - c->body.data) + 1;
        if (c->http == 0)
            curl_easy_getinfo(c->e, CURLINFO_RESPONSE_CODE, &c->http);
        if (take_doc(c, c->body.data + start, end - start) != 0)
            return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
        start = end;
    }
    memmove(c->body.data, c->body.data + start, c->body.len - start);
    c->body.len -= start;
    if (c->body.len > MAX_CHUNK) {
        c->bad = 1;
        buf_clear(&c->bad_text);
        buf_printf(&c->bad_text, "an answer chunk of more than %zu bytes", MAX_CHUNK);
        return 0;
    }
    return len;
}

/* 'prefix' and 'v' URL-encoded, appended to 'b' (a query string or form being built). */
static void append_param(struct buf *b, CURL *e, const char *prefix, const char *v)
{
    char *ev = curl_easy_escape(e, v, 0);
    IWR_ASSERT(ev != NULL); /* only fails out of memory */
    buf_append_str(b, prefix);
    buf_append_str(b, ev);
    curl_free(ev);
}

int influx_query(struct influx *c, const char *db, const char *q, influx_result_fn *fn, void *arg)
{
    CURL *e = c->e;
    struct buf form;
    buf_init(&form);
    append_param(&form, e, "q=", q);
    buf_append_str(&form, "&epoch=ns&chunked=true");
    if (db != NULL && db[0] != '\0')
        append_param(&form, e, "&db=", db);
    buf_clear(&c->body);
    c->fn = fn;
    c->arg = arg;
    c->fn_rc = 0;
    c->bad = 0;
    c->http = 0;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, c->query_url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, form.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form.len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &c->http);
    int rc = 0;
    if (cc == CURLE_OK && c->body.len > 0 && !c->bad)
        take_doc(c, c->body.data, c->body.len); /* an answer without its final "\n" */
    if (c->fn_rc != 0)
        rc = c->fn_rc;
    else if (c->bad)
        rc = cli_fail(c->cli, "querying %s (backend %s): http %ld: %.*s", c->shown, c->b->name,
                      c->http, (int)c->bad_text.len, c->bad_text.data);
    else if (cc != CURLE_OK)
        rc = cli_fail(c->cli, "querying %s (backend %s): %s", c->shown, c->b->name,
                      errbuf[0] ? errbuf : curl_easy_strerror(cc));
    else if (c->http != 200)
        rc = cli_fail(c->cli, "querying %s (backend %s): http %ld", c->shown, c->b->name, c->http);
    buf_clear(&c->body);
    buf_deinit(&form);
    return rc;
}

static size_t on_write_body(char *p, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    if (b->len < 4096)
        buf_append(b, p, size * n < 4096 - b->len ? size * n : 4096 - b->len);
    return size * n;
}

int influx_write(struct influx *c, const char *db, const char *rp, const char *body, size_t len)
{
    CURL *e = c->e;
    struct buf url, resp;
    buf_init(&url);
    buf_init(&resp);
    buf_append_str(&url, c->write_url);
    append_param(&url, e, "?db=", db);
    buf_append_str(&url, "&precision=ns");
    if (rp != NULL && rp[0] != '\0')
        append_param(&url, e, "&rp=", rp);
    buf_append(&url, "", 1);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, url.data);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cc = curl_easy_perform(e);
    long http = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &http);
    int rc = 0;
    if (cc != CURLE_OK)
        rc = cli_fail(c->cli, "writing to %s (backend %s): %s", c->shown, c->b->name,
                      errbuf[0] ? errbuf : curl_easy_strerror(cc));
    else if (http != 204)
        rc = cli_fail(c->cli, "writing to %s (backend %s): http %ld: %.*s", c->shown, c->b->name,
                      http, (int)resp.len, resp.data ? resp.data : "");
    buf_deinit(&url);
    buf_deinit(&resp);
    return rc;
}
