/* influx-wal rebuild and the relays: POST /api/rebuild/start, /finish and /abort, GET
 * /api/rebuild and /health/backend/NAME on each relay with blocking curl, and which relays to
 * tell when none is named. One thread. */
#include "cmd/influx-wal/rebuild.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/url.h"
#include "common/xalloc.h"
#include "config/config.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PACKAGED_CONFIG "/etc/influx-wal-relay/relay.toml"

static size_t on_relay_body(char *p, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    if (b->len < 65536)
        buf_append(b, p, size * n);
    return size * n;
}

int rb_relay_call(struct cli *cli, const char *base, int post, const char *path, long *status,
                  json_t **doc)
{
    CURL *e = curl_easy_init();
    IWR_ASSERT(e != NULL);
    struct buf url, body;
    buf_init(&url);
    buf_init(&body);
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    buf_append(&url, base, blen);
    buf_append(&url, "", 1);
    char *shown = url_display(url.data); /* never the URL's user:password@ */
    url.len--;
    buf_append_str(&url, path);
    buf_append(&url, "", 1);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, url.data);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_relay_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
    if (post) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
    }
    CURLcode cc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(e);
    int rc = 0;
    *doc = NULL;
    if (cc != CURLE_OK) {
        rc = cli_fail(cli, "relay %s is unreachable: %s", shown,
                      errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else {
        json_error_t jerr;
        *doc = json_loadb(body.data ? body.data : "", body.len, 0, &jerr);
        if (*doc == NULL)
            rc = cli_fail(cli,
                          "relay %s answered %ld without JSON (is it an "
                          "influx-wal-relay?)",
                          shown, *status);
    }
    free(shown);
    buf_deinit(&url);
    buf_deinit(&body);
    return rc;
}

static void path_for(struct buf *p, const char *op, const char *backend, const char *from)
{
    char *eb = curl_easy_escape(NULL, backend, 0);
    buf_printf(p, "/api/rebuild%s?backend=%s", op, eb);
    curl_free(eb);
    if (from != NULL) {
        char *ef = curl_easy_escape(NULL, from, 0);
        buf_printf(p, "&from=%s", ef);
        curl_free(ef);
    }
    buf_append(p, "", 1);
}

/* One change on one relay. 0 with the answer's doc, 1 after a message (refused), or 3: the
 * relay refused because the start point was lost (409 with start_point_lost). */
int rb_relay_change(struct rb *r, size_t i, const char *op, json_t **doc)
{
    struct buf p;
    buf_init(&p);
    path_for(&p, op, r->backend, strcmp(op, "/start") == 0 ? r->from : NULL);
    long status = 0;
    int rc = rb_relay_call(r->cli, r->relays[i].url, 1, p.data, &status, doc);
    buf_deinit(&p);
    if (rc != 0)
        return rc;
    if (status == 200)
        return 0;
    if (status == 409 && json_is_true(json_object_get(*doc, "start_point_lost")))
        return 3;
    const char *err = influx_str_at(*doc, "error");
    rc = cli_fail(r->cli, "relay %s refused %s of %s: %ld %s", r->relays[i].shown, op + 1,
                  r->backend, status, err != NULL ? err : "");
    json_decref(*doc);
    *doc = NULL;
    return rc;
}

/* Abort on the relays [0, n) after a failure part of the way through a start. */
static void relays_abort(struct rb *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *doc = NULL;
        rb_relay_change(r, i, "/abort", &doc);
        json_decref(doc);
    }
}

/* The start point of every relay. 0; 1 after a message; 4 when some relay took a new start
 * point (the backup and what was restored no longer fit: start over). */
int rb_relays_start(struct rb *r)
{
    int changed = 0;
    for (size_t i = 0; i < r->n_relays; i++) {
        json_t *doc = NULL;
        int rc = rb_relay_change(r, i, "/start", &doc);
        if (rc != 0) {
            relays_abort(r, i);
            return 1;
        }
        uint64_t p = (uint64_t)json_integer_value(json_object_get(doc, "from_seq"));
        int resumed = json_is_true(json_object_get(doc, "resumed"));
        if (!resumed || !r->relays[i].known || r->relays[i].seq != p)
            changed |= r->relays[i].known || r->backup_done;
        r->relays[i].seq = p;
        r->relays[i].known = 1;
        rb_step(r, 0, "step=start relay=%s from_seq=%" PRIu64 " resumed=%d", r->relays[i].shown, p,
                resumed);
        json_decref(doc);
    }
    return changed ? 4 : 0;
}

/* Whether any relay has let the start point go. 1 lost, 0 not, -1 after a message. */
int rb_relays_lost(struct rb *r)
{
    for (size_t i = 0; i < r->n_relays; i++) {
        struct buf p;
        buf_init(&p);
        path_for(&p, "", r->backend, NULL);
        long status = 0;
        json_t *doc = NULL;
        int rc = rb_relay_call(r->cli, r->relays[i].url, 0, p.data, &status, &doc);
        buf_deinit(&p);
        if (rc != 0)
            return -1;
        json_t *one = json_array_get(json_object_get(doc, "rebuilds"), 0);
        int lost = json_is_true(json_object_get(one, "start_point_lost")) ||
                   !json_is_true(json_object_get(one, "rebuilding"));
        json_decref(doc);
        if (lost)
            return 1;
    }
    return 0;
}

/* Whether the backend is up and caught up on every relay (GET /health/backend/NAME: 200). */
int rb_relays_caught_up(struct rb *r)
{
    for (size_t i = 0; i < r->n_relays; i++) {
        char path[200];
        snprintf(path, sizeof(path), "/health/backend/%s", r->backend);
        long status = 0;
        json_t *doc = NULL;
        int rc = rb_relay_call(r->cli, r->relays[i].url, 0, path, &status, &doc);
        json_decref(doc);
        if (rc != 0 || status != 200)
            return 0;
    }
    return 1;
}

/* The relays to tell: --relay URL..., else the daemon's first listen address from its
 * config (https when that listener has TLS; its certificate must then verify with the
 * system's CAs, else give --relay), else the built-in default. */
void rb_relays_default(struct rb *r, const char *config_path, char *buf, size_t cap)
{
    const char *path = config_path;
    if (path == NULL && access(PACKAGED_CONFIG, R_OK) == 0)
        path = PACKAGED_CONFIG;
    snprintf(buf, cap, "http://127.0.0.1:9096");
    if (path != NULL) {
        struct config c;
        char err[512];
        config_defaults(&c);
        if (config_load_file(&c, path, err, sizeof(err)) == 0 && c.n_listen > 0) {
            const char *l = c.listen[0];
            const char *scheme =
                c.listen_tls != NULL && config_tls_on(&c.listen_tls[0]) ? "https" : "http";
            /* A wildcard address is reached on loopback. */
            if (strncmp(l, "0.0.0.0:", 8) == 0)
                snprintf(buf, cap, "%s://127.0.0.1:%s", scheme, l + 8);
            else if (strncmp(l, "[::]:", 5) == 0)
                snprintf(buf, cap, "%s://[::1]:%s", scheme, l + 5);
            else if (l[0] == ':')
                snprintf(buf, cap, "%s://127.0.0.1%s", scheme, l);
            else
                snprintf(buf, cap, "%s://%s", scheme, l);
        }
        config_deinit(&c);
    }
    r->relays[0].url = buf;
    r->n_relays = 1;
}
