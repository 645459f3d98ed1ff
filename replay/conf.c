/* A backend's options as a sender uses them: copied, defaulted, with the header lists curl
 * sends, immutable once made and shared by reference with the transfers that use them, so a
 * reconfiguration never pulls a string from under a request. Also what a base URL may be, and
 * its display form (both through libcurl's URL parser).
 * Loop thread only (the refcount is not atomic). */
#include "replay/replay_int.h"

#include "replay/generation.h"

#include "common/err.h"
#include "common/url.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <string.h>

#define BACKOFF_START_MS 100 /* keep in step with sender.c: the cap is never below the start */

char *replay_display_url(const char *url)
{
    return url_display(url);
}

/* An http(s) base URL libcurl reads, written out with "://" (curl would also take "http:/h"),
 * at most 200 bytes, no white space (curl refuses it). */
int replay_url_valid(const char *url)
{
    if (strlen(url) > 200 || strstr(url, "://") == NULL)
        return 0;
    CURLU *u = NULL;
    char *scheme = NULL;
    int ok = url_parse(url, &u) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
             (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
    curl_free(scheme);
    curl_url_cleanup(u);
    return ok;
}

static char *dup_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

struct sender_conf *sender_conf_new(const struct replay_backend_opts *o)
{
    struct replay_backend_opts d; /* zero numbers take the defaults */
    replay_backend_opts_defaults(&d);
    struct sender_conf *c = xcalloc(1, sizeof(*c));
    c->refs = 1;
    c->name = xstrdup(o->name);
    size_t n = strlen(o->url);
    while (n > 0 && o->url[n - 1] == '/')
        n--;
    char *trimmed = xstrndup(o->url, n);
    c->url = url_for_curl(trimmed); /* a password's '@' as curl must be given it */
    free(trimmed);
    c->display_url = replay_display_url(c->url);
    c->username = dup_or_null(o->username);
    c->password = o->password != NULL ? xstrdup(o->password) : NULL;
    c->token = dup_or_null(o->token);
    c->ca_file = dup_or_null(o->ca_file);
    c->shard = dup_or_null(o->shard);
    c->insecure_skip_verify = o->insecure_skip_verify;
    c->gzip = o->gzip;
    c->api = o->api;
    c->create_database = o->create_database && o->api == REPLAY_API_V1;
    c->org = dup_or_null(o->org);
    c->bucket_template = dup_or_null(o->bucket_template);
    c->database_template = dup_or_null(o->database_template);
    c->accept_partial = o->accept_partial;
    c->no_sync = o->no_sync;
    c->timeout_ms = o->timeout_ms ? o->timeout_ms : d.timeout_ms;
    c->connect_timeout_ms =
        o->connect_timeout_ms ? o->connect_timeout_ms : d.connect_timeout_ms;
    c->retry_max_delay_ms = o->retry_max_delay_ms ? o->retry_max_delay_ms : d.retry_max_delay_ms;
    if (c->retry_max_delay_ms < BACKOFF_START_MS)
        c->retry_max_delay_ms = BACKOFF_START_MS;
    c->give_up_after_ms = o->ephemeral ? 0 : o->give_up_after_ms;
    c->give_up_bytes = o->ephemeral ? 0 : o->give_up_bytes;
    c->batch_max_bytes = o->batch_max_bytes ? o->batch_max_bytes : d.batch_max_bytes;
    c->batch_max_points = o->batch_max_points ? o->batch_max_points : d.batch_max_points;
    c->max_in_flight = o->max_in_flight ? o->max_in_flight : d.max_in_flight;
    c->min_in_flight = o->min_in_flight ? o->min_in_flight : d.min_in_flight;
    if (c->min_in_flight > c->max_in_flight) /* config_validate refuses it; the CLI's flags */
        c->min_in_flight = c->max_in_flight;
    c->batch_min_bytes = o->batch_min_bytes ? o->batch_min_bytes : d.batch_min_bytes;
    if (c->batch_min_bytes > c->batch_max_bytes) /* a small batch-max-bytes wins */
        c->batch_min_bytes = c->batch_max_bytes;
    c->start = o->start;
    c->ephemeral = o->ephemeral;
    c->source = o->ephemeral && o->source != NULL ? xstrdup(o->source) : NULL;
    c->from_seq = o->from_seq;
    c->to_seq = o->to_seq;
    c->refused = o->refused;
    c->refused_arg = o->refused_arg;

    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: text/plain; charset=utf-8");
    /* No "Expect: 100-continue" round trip before large bodies. */
    h = curl_slist_append(h, "Expect:");
    if (c->gzip)
        h = curl_slist_append(h, "Content-Encoding: gzip");
    struct curl_slist *ctl = NULL;
    if (c->token != NULL) {
        size_t len = strlen(c->token) + 32;
        char *line = xmalloc(len);
        /* 3.x documents Bearer; 1.8 and 2.x take Token. */
        snprintf(line, len, "Authorization: %s %s", c->api == REPLAY_API_V3 ? "Bearer" : "Token",
                 c->token);
        h = curl_slist_append(h, line);
        ctl = curl_slist_append(ctl, line);
        free(line);
    }
    IWR_ASSERT(h != NULL && (c->token == NULL || ctl != NULL)); /* only fails out of memory */
    c->write_headers = h;
    c->ctl_headers = ctl;
    struct curl_slist *js = curl_slist_append(NULL, "Content-Type: application/json");
    for (struct curl_slist *l = ctl; l != NULL; l = l->next)
        js = curl_slist_append(js, l->data);
    IWR_ASSERT(js != NULL);
    c->json_headers = js;
    return c;
}

void sender_conf_unref(struct sender_conf *c)
{
    if (c == NULL || --c->refs > 0)
        return;
    free(c->name);
    free(c->url);
    free(c->display_url);
    free(c->username);
    if (c->password != NULL) {
        memset(c->password, 0, strlen(c->password));
        free(c->password);
    }
    if (c->token != NULL) {
        memset(c->token, 0, strlen(c->token));
        free(c->token);
    }
    free(c->ca_file);
    free(c->source);
    free(c->shard);
    free(c->org);
    free(c->bucket_template);
    free(c->database_template);
    curl_slist_free_all(c->write_headers);
    curl_slist_free_all(c->ctl_headers);
    curl_slist_free_all(c->json_headers);
    free(c);
}
