/* influx-wal rebuild's questions to influxd: whether a backend answers /ping, /query answers
 * collected and sorted (names, or whole rows as text for comparing), and a backend's RPC
 * address for backup and restore. One thread. */
#include "cmd/influx-wal/rebuild.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/url.h"
#include "common/xalloc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RPC_DEFAULT_PORT "8088"

/* A source that does not answer /ping is down. 0, or 1 after a message. */
int rb_ping(struct rb *r, const struct cli_backend *b, const char *role)
{
    CURL *e = curl_easy_init();
    IWR_ASSERT(e != NULL);
    struct buf url;
    buf_init(&url);
    buf_printf(&url, "%s/ping", b->url);
    buf_append(&url, "", 1);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, url.data);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    if (b->ca_file != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, b->ca_file);
    if (b->insecure_skip_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode cc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    buf_deinit(&url);
    if (cc != CURLE_OK)
        return cli_fail(r->cli, "%s %s is down: %s", role, b->name,
                        errbuf[0] ? errbuf : curl_easy_strerror(cc));
    if (status < 200 || status > 299)
        return cli_fail(r->cli, "%s %s is down: /ping answered %ld", role, b->name, status);
    return 0;
}

/* Append 's' (the list takes it). */
static void names_push(struct names *nm, char *s)
{
    if (nm->n == nm->cap) {
        nm->cap = nm->cap ? nm->cap * 2 : 16;
        nm->v = xrealloc(nm->v, nm->cap * sizeof(*nm->v));
    }
    nm->v[nm->n++] = s;
}

static int name_row(void *arg, const json_t *row, const char *first)
{
    (void)row;
    names_push(arg, xstrdup(first));
    return 0;
}

int rb_collect_names(void *arg, const json_t *result)
{
    struct names *nm = arg;
    if (influx_str_at(result, "error") != NULL) {
        nm->err = "refused";
        return 5;
    }
    return influx_rows(result, name_row, nm);
}

void rb_names_free(struct names *nm)
{
    for (size_t i = 0; i < nm->n; i++)
        free(nm->v[i]);
    free(nm->v);
    memset(nm, 0, sizeof(*nm));
}

int rb_names_has(const struct names *nm, const char *s)
{
    for (size_t i = 0; i < nm->n; i++)
        if (strcmp(nm->v[i], s) == 0)
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every row of every series as one text line ("series|col=val|..."), sorted: a digest of an
 * answer for comparison, with the columns named. */
int rb_collect_rows(void *arg, const json_t *result)
{
    struct names *nm = arg;
    if (influx_str_at(result, "error") != NULL) {
        nm->err = "refused";
        return 5;
    }
    json_t *series = json_object_get(result, "series");
    for (size_t i = 0; i < json_array_size(series); i++) {
        json_t *s = json_array_get(series, i);
        json_t *cols = json_object_get(s, "columns");
        json_t *values = json_object_get(s, "values");
        const char *name = influx_str_at(s, "name");
        for (size_t j = 0; j < json_array_size(values); j++) {
            json_t *row = json_array_get(values, j);
            struct buf line;
            buf_init(&line);
            buf_append_str(&line, name != NULL ? name : "");
            for (size_t k = 0; k < json_array_size(row); k++) {
                const char *col = json_string_value(json_array_get(cols, k));
                if (col != NULL && strcmp(col, "time") == 0)
                    continue; /* count(*) answers with time 0 */
                char *v = json_dumps(json_array_get(row, k), JSON_ENCODE_ANY);
                buf_printf(&line, "|%s=%s", col != NULL ? col : "?", v != NULL ? v : "null");
                free(v);
            }
            buf_append(&line, "", 1);
            names_push(nm, buf_steal(&line));
        }
    }
    return 0;
}

/* Run 'q' (on 'db'), collect what 'collect' takes from each result into 'out', sorted. 0, or 1
 * after a message. */
int rb_query_sorted(struct rb *r, struct influx *c, const char *db, const char *q,
                    influx_result_fn *collect, struct names *out)
{
    memset(out, 0, sizeof(*out));
    int rc = influx_query(c, db, q, collect, out);
    if (rc == 5)
        rc = cli_fail(r->cli, "%s refused %s", influx_name(c), q);
    if (rc == 0 && out->n > 1)
        qsort(out->v, out->n, sizeof(*out->v), cmp_str);
    return rc;
}

/* "host:port" of a backend's RPC service: given, or the URL's host with port 8088. */
int rb_rpc_of(struct rb *r, const struct cli_backend *b, const char *given, char *out, size_t cap)
{
    if (given != NULL) {
        snprintf(out, cap, "%s", given);
        return 0;
    }
    CURLU *u = curl_url();
    char *host = NULL;
    int ok = curl_url_set(u, CURLUPART_URL, b->url, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK;
    if (ok)
        snprintf(out, cap, "%s:%s", host, RPC_DEFAULT_PORT);
    curl_free(host);
    curl_url_cleanup(u);
    if (ok)
        return 0;
    char *shown = url_display(b->url);
    int rc = cli_fail(r->cli, "cannot tell the RPC address of %s from %s: give it", b->name, shown);
    free(shown);
    return rc;
}
