/* Values of the configuration: sizes, durations, backend URLs (checked with libcurl's URL API),
 * names and precisions; the built-in defaults and the freeing of struct config. Pure; any
 * thread. */
#include "config/config_int.h"

#include "common/err.h"
#include "common/hostport.h"
#include "common/name.h"
#include "common/precision.h"
#include "common/url.h"
#include "common/xalloc.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const default_listen = "127.0.0.1:9096";

/* ---- messages ---------------------------------------------------------------------------- */

/* Flag and validation messages have no file position; the same one-line rule applies. */
int cfg_fail(char *err, size_t err_cap, const char *fmt, ...)
{
    if (err == NULL || err_cap == 0)
        return IWR_EPARSE;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_cap, fmt, ap);
    va_end(ap);
    for (char *q = err; *q != '\0'; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            *q = '?';
    return IWR_EPARSE;
}

/* ---- values: sizes, durations, URLs, names ---------------------------------------------- */

/* "12" or "1.5" at 's': the digits as one integer and how many of them follow the point.
 * Returns the characters used (0: not a number); *overflow when the digits do not fit. */
static size_t parse_decimal(const char *s, uint64_t *mant, unsigned *frac, int *overflow)
{
    size_t i = 0;
    uint64_t v = 0;
    unsigned f = 0;
    int in_frac = 0;
    *overflow = 0;
    for (;; i++) {
        if (s[i] == '.' && !in_frac && i > 0 && s[i + 1] >= '0' && s[i + 1] <= '9') {
            in_frac = 1;
            continue;
        }
        if (s[i] < '0' || s[i] > '9')
            break;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            *overflow = 1;
        else
            v = v * 10 + d;
        if (in_frac)
            f++;
    }
    *mant = v;
    *frac = f;
    return i;
}

/* mant / 10^frac * mult, exactly: 0, 1 on overflow, 2 when the result is not a whole number. */
static int scale(uint64_t mant, unsigned frac, uint64_t mult, uint64_t *out)
{
    uint64_t p, div = 1;
    if (frac > 19) /* 10^19 is the last power of ten in 64 bits */
        return 2;
    for (unsigned i = 0; i < frac; i++)
        div *= 10;
    if (__builtin_mul_overflow(mant, mult, &p))
        return 1;
    if (p % div != 0)
        return 2;
    *out = p / div;
    return 0;
}

/* Why 's' is not a duration, or NULL with *out set. */
const char *cfg_duration_why(const char *s, uint64_t *out)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    if (*s == '\0')
        return "is empty";
    if (*s == '-')
        return "must not be negative";
    if (strcmp(s, "0") == 0) {
        *out = 0;
        return NULL;
    }
    uint64_t total = 0;
    while (*s != '\0') {
        uint64_t mant, v = 0;
        unsigned frac;
        int overflow;
        size_t n = parse_decimal(s, &mant, &frac, &overflow);
        if (n == 0)
            return "is not a duration; write e.g. \"500ms\", \"10s\", \"5m\", \"2h\", \"7d\" or "
                   "\"1h30m\"";
        if (overflow)
            return "is too large";
        s += n;
        size_t u = 0;
        while (s[u] >= 'a' && s[u] <= 'z')
            u++;
        if (u == 0)
            return "needs a unit (ms, s, m, h or d), e.g. \"10s\"";
        uint64_t mult = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (strlen(units[i].unit) == u && memcmp(units[i].unit, s, u) == 0)
                mult = units[i].ms;
        if (mult == 0 && u == 2 && (memcmp(s, "us", 2) == 0 || memcmp(s, "ns", 2) == 0))
            return "is finer than a millisecond";
        if (mult == 0)
            return "has an unknown unit; use ms, s, m, h or d";
        int rc = scale(mant, frac, mult, &v);
        if (rc == 1 || __builtin_add_overflow(total, v, &total))
            return "is too large";
        if (rc == 2)
            return "is finer than a millisecond";
        s += u;
    }
    *out = total;
    return NULL;
}

int config_parse_duration_ms(const char *s, uint64_t *out)
{
    return cfg_duration_why(s, out) == NULL ? 0 : IWR_EPARSE;
}

/* Why 's' is not a size, or NULL with *out set. */
const char *cfg_size_why(const char *s, size_t *out)
{
    static const struct {
        const char *unit;
        uint64_t bytes;
    } units[] = {{"", 1},
                 {"B", 1},
                 {"KB", 1000},
                 {"kB", 1000},
                 {"MB", 1000000},
                 {"GB", 1000000000},
                 {"TB", 1000000000000ull},
                 {"KiB", 1024},
                 {"MiB", 1024 * 1024},
                 {"GiB", 1024ull * 1024 * 1024},
                 {"TiB", 1024ull * 1024 * 1024 * 1024}};
    if (*s == '\0')
        return "is empty";
    if (*s == '-')
        return "must not be negative";
    uint64_t mant, v = 0;
    unsigned frac;
    int overflow;
    size_t n = parse_decimal(s, &mant, &frac, &overflow);
    if (n == 0)
        return "is not a size; write bytes or e.g. \"64KiB\", \"25MB\", \"1GiB\"";
    if (overflow)
        return "is too large";
    s += n;
    if (*s == ' ' && s[1] != '\0')
        s++;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(s, units[i].unit) != 0)
            continue;
        int rc = scale(mant, frac, units[i].bytes, &v);
        if (rc == 1 || v > SIZE_MAX)
            return "is too large";
        if (rc == 2)
            return "is not a whole number of bytes";
        *out = (size_t)v;
        return NULL;
    }
    return "has an unknown unit; use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB";
}

int config_parse_size(const char *s, size_t *out)
{
    return cfg_size_why(s, out) == NULL ? 0 : IWR_EPARSE;
}

const char *cfg_hostport_why(const char *s)
{
    const char *why = NULL;
    hostport_parse(s, NULL, 0, NULL, &why);
    return why;
}

/* ---- backend URLs: libcurl's parser, through common/url.h (the last '@' ends the userinfo) - */

/* Where the authority of an http(s) URL starts, or NULL. */
static const char *url_authority(const char *u)
{
    if (strncasecmp(u, "http://", 7) == 0)
        return u + 7;
    if (strncasecmp(u, "https://", 8) == 0)
        return u + 8;
    return NULL;
}

const char *config_url_why(const char *u)
{
    const char *a = url_authority(u);
    if (a == NULL)
        return "must start with http:// or https://";
    /* Checked here, not left to curl: the sender appends its own path and query. */
    for (const char *q = u; *q != '\0'; q++) {
        if ((unsigned char)*q <= 0x20 || *q == 0x7f)
            return "must not contain spaces or control characters";
        if (*q == '?' || *q == '#')
            return "must not have a query or fragment (the database comes with each write)";
    }
    CURLU *h;
    const char *why = NULL;
    switch (url_parse(u, &h)) {
    case CURLUE_OK:
        break;
    case CURLUE_BAD_PORT_NUMBER:
        why = "has a bad port";
        break;
    case CURLUE_BAD_IPV6:
        why = "has a bad IPv6 address";
        break;
    case CURLUE_NO_HOST:
        why = "has no host";
        break;
    default:
        why = "is not a URL with a valid host";
        break;
    }
    /* curl takes port 0 and an empty port ("http://h:", the default); a backend has neither. */
    char *port = NULL;
    if (why == NULL && curl_url_get(h, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
        strcmp(port, "0") == 0)
        why = "has a bad port";
    curl_free(port);
    /* curl also reads "http:///h" as host h; the authority is what is written before '/'. */
    size_t alen = strcspn(a, "/");
    if (why == NULL && alen == 0)
        why = "has no host";
    else if (why == NULL && a[alen - 1] == ':')
        why = "has a bad port";
    curl_url_cleanup(h);
    return why;
}

void cfg_url_normalise(char *u)
{
    /* Only the path changes; the rest stays as written (the sender appends "/write" itself,
     * and influxdb-relay's locations name the endpoint). */
    const char *a = url_authority(u);
    if (a == NULL)
        return;
    char *path = strchr(a, '/');
    if (path == NULL)
        return;
    size_t n = strlen(path);
    while (n > 0 && path[n - 1] == '/')
        n--;
    if (n >= 6 && memcmp(path + n - 6, "/write", 6) == 0)
        n -= 6;
    while (n > 0 && path[n - 1] == '/')
        n--;
    path[n] = '\0';
}

char *cfg_name_from_url(const char *url)
{
    CURLU *h;
    char *host = NULL, *port = NULL;
    CURLUcode rc = url_parse(url, &h);
    if (rc == CURLUE_OK)
        rc = curl_url_get(h, CURLUPART_HOST, &host, 0);
    IWR_ASSERT(rc == CURLUE_OK); /* the URL passed config_url_why */
    if (curl_url_get(h, CURLUPART_PORT, &port, 0) != CURLUE_OK)
        port = NULL;
    size_t cap = strlen(host) + (port != NULL ? strlen(port) : 0) + 2;
    char *name = xmalloc(cap);
    snprintf(name, cap, "%s%s%s", host, port != NULL ? ":" : "", port != NULL ? port : "");
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(h);
    if (strlen(name) > 64)
        name[64] = '\0';
    for (char *q = name; *q != '\0'; q++)
        if (!cfg_name_ok((char[]){*q, '\0'}))
            *q = '_';
    return name;
}

/* ---- names and precisions ---------------------------------------------------------------- */

int cfg_name_ok(const char *s)
{
    return name_valid(s);
}

const char *const cfg_name_rule = "must be 1 to 64 characters from A-Z a-z 0-9 _ . -";

int cfg_precision_ok(const char *s)
{
    enum lp_precision p;
    return s == NULL || lp_parse_precision(s, strlen(s), 0, &p) == 0;
}

/* ---- defaults, lists, freeing
 * -------------------------------------------------------------------------- */

void config_backend_deinit(struct replay_backend_opts *b)
{
    /* The config allocated these; the type is const for replay/'s borrowers. */
    free((char *)b->name);
    free((char *)b->url);
    free((char *)b->username);
    free((char *)b->password);
    free((char *)b->token);
    free((char *)b->ca_file);
    free((char *)b->org);
    free((char *)b->bucket_template);
    free((char *)b->database_template);
    memset(b, 0, sizeof(*b));
}

const struct replay_backend_opts *config_find_backend(const struct config *c, const char *name)
{
    for (size_t i = 0; i < c->n_backends; i++)
        if (strcmp(c->backends[i].name, name) == 0)
            return &c->backends[i];
    return NULL;
}

void cfg_udp_defaults(struct cfg_udp *u)
{
    memset(u, 0, sizeof(*u));
    u->precision = xstrdup("ns");
}

void cfg_udp_deinit(struct cfg_udp *u)
{
    free(u->listen);
    free(u->database);
    free(u->retention_policy);
    free(u->precision);
    memset(u, 0, sizeof(*u));
}

static char *dup_opt(const char *s)
{
    return s != NULL ? xstrdup(s) : NULL;
}

void cfg_tls_copy(struct cfg_tls *dst, const struct cfg_tls *src)
{
    dst->cert = dup_opt(src->cert);
    dst->key = dup_opt(src->key);
    dst->combined_pem = dup_opt(src->combined_pem);
    dst->client_ca = dup_opt(src->client_ca);
    dst->min_version = dup_opt(src->min_version);
}

void cfg_tls_deinit(struct cfg_tls *t)
{
    free(t->cert);
    free(t->key);
    free(t->combined_pem);
    free(t->client_ca);
    free(t->min_version);
    memset(t, 0, sizeof(*t));
}

void cfg_listen_clear(struct config *c)
{
    for (size_t i = 0; i < c->n_listen; i++) {
        free(c->listen[i]);
        cfg_tls_deinit(&c->listen_tls[i]);
    }
    free(c->listen);
    free(c->listen_tls);
    c->listen = NULL;
    c->listen_tls = NULL;
    c->n_listen = 0;
}

void cfg_listen_push(struct config *c, char *addr, const struct cfg_tls *tls)
{
    c->listen = xrealloc(c->listen, (c->n_listen + 1) * sizeof(*c->listen));
    c->listen_tls = xrealloc(c->listen_tls, (c->n_listen + 1) * sizeof(*c->listen_tls));
    memset(&c->listen_tls[c->n_listen], 0, sizeof(*c->listen_tls));
    if (tls != NULL)
        cfg_tls_copy(&c->listen_tls[c->n_listen], tls);
    c->listen[c->n_listen++] = addr;
}

int config_tls_on(const struct cfg_tls *t)
{
    return t->cert != NULL || t->key != NULL || t->combined_pem != NULL;
}

const char *config_tls_cert(const struct cfg_tls *t)
{
    return t->combined_pem != NULL ? t->combined_pem : t->cert;
}

const char *config_tls_key(const struct cfg_tls *t)
{
    return t->combined_pem != NULL ? t->combined_pem : t->key;
}

int config_tls_min_minor(const struct cfg_tls *t)
{
    return t->min_version != NULL && strcmp(t->min_version, "1.3") == 0 ? 3 : 2;
}

void cfg_backends_clear(struct config *c)
{
    for (size_t i = 0; i < c->n_backends; i++)
        config_backend_deinit(&c->backends[i]);
    free(c->backends);
    c->backends = NULL;
    c->n_backends = 0;
}

void *cfg_push(void *list, size_t *n, void *item, size_t size)
{
    char *a = xrealloc(list, (*n + 1) * size);
    memcpy(a + *n * size, item, size);
    memset(item, 0, size);
    (*n)++;
    return a;
}

void cfg_backend_push(struct config *c, struct replay_backend_opts *b)
{
    c->backends = cfg_push(c->backends, &c->n_backends, b, sizeof(*b));
}

void cfg_udp_push(struct config *c, struct cfg_udp *u)
{
    c->udp = cfg_push(c->udp, &c->n_udp, u, sizeof(*u));
}

void cfg_stream_deinit(struct cfg_stream *s)
{
    free(s->listen);
    free(s->protocol);
    free(s->database);
    free(s->retention_policy);
    free(s->separator);
    for (size_t i = 0; i < s->n_templates; i++)
        free(s->templates[i]);
    free(s->templates);
    for (size_t i = 0; i < s->n_tags; i++)
        free(s->tags[i]);
    free(s->tags);
    memset(s, 0, sizeof(*s));
}

void cfg_stream_push(struct config *c, struct cfg_stream *s)
{
    c->streams = cfg_push(c->streams, &c->n_streams, s, sizeof(*s));
}

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c));
    cfg_listen_push(c, xstrdup(default_listen), NULL);
    cfg_scrub_defaults(&c->scrub);
    cfg_peers_defaults(c);
    cfg_shards_defaults(c);
    c->max_body_bytes = 25000000;
    c->max_inflated_bytes = 4 * c->max_body_bytes;
    c->max_connections = 1024;
    c->max_header_bytes = 64 * 1024;
    c->max_pending_bytes = (size_t)512 << 20;
    c->idle_timeout_ms = 60000;
    c->read_timeout_ms = 30000;
    c->statement_timeout_ms = 10000;
    c->data_dir = xstrdup("./data");
    c->max_bytes = (size_t)1 << 30;
    c->full_policy = WAL_FULL_REJECT;
    c->sync = 1;
    c->min_free_bytes = (size_t)64 << 20;
    c->log_level = xstrdup("info");
    struct replay_backend_opts b;
    replay_backend_opts_defaults(&b);
    b.name = xstrdup("local");
    b.url = xstrdup("http://127.0.0.1:8086");
    cfg_backend_push(c, &b);
}

void config_deinit(struct config *c)
{
    free(c->path);
    cfg_listen_clear(c);
    cfg_tls_deinit(&c->tls);
    for (size_t i = 0; i < c->n_users; i++) {
        free(c->users[i].name);
        free(c->users[i].password);
        free(c->users[i].token);
    }
    free(c->users);
    for (size_t i = 0; i < c->n_buckets; i++) {
        free(c->buckets[i].name);
        free(c->buckets[i].database);
        free(c->buckets[i].retention_policy);
    }
    free(c->buckets);
    free(c->data_dir);
    free(c->log_level);
    cfg_backends_clear(c);
    for (size_t i = 0; i < c->n_udp; i++)
        cfg_udp_deinit(&c->udp[i]);
    free(c->udp);
    cfg_scrub_deinit(&c->scrub);
    cfg_peers_deinit(c);
    cfg_shards_deinit(c);
    for (size_t i = 0; i < c->n_streams; i++)
        cfg_stream_deinit(&c->streams[i]);
    free(c->streams);
    memset(c, 0, sizeof(*c));
}
