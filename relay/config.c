/* The daemon's configuration: built-in defaults, then a TOML file mapped onto struct config,
 * then flags. The file is parsed into a tree by relay/toml.c and walked here with one table of
 * fields per section, so unknown keys and bad values stop the load with the file and line. A
 * load builds a fresh config and swaps it in only when the whole file was good, which is what
 * SIGHUP needs. Owns every string and array in struct config. Loop thread only (log_warn).
 *
 * Two layouts are read. Ours ([http], [auth], [[auth.user]], [wal], [log], [[backend]],
 * [[udp]]; packaging/relay.toml documents every key) and influxdb-relay's relay.toml, detected
 * by `http` being an array of tables ([[http]]) or, without one, by a [[udp]] table that has
 * `bind-addr` or `output`. The two differ in shape: influxdb-relay gives each listener its own
 * outputs, while here every listener feeds one log and every backend reads all of it. So the
 * outputs of all [[http]] tables become one list of backends (an output named in several
 * [[http]] tables is one backend if all its settings agree, else an error), and a warning says
 * so when the tables listed different outputs. [wal], [log], [auth] and [[backend]] may be added
 * to such a file. Ignored keys are accepted and logged once each (event=config_key_ignored) when
 * the load succeeds.
 *
 * influxdb-relay's UDP listener forwards datagrams to UDP outputs, whose InfluxDB put them in
 * the database of its own [[udp]] section, which this relay cannot see. Here a UDP datagram is
 * validated, committed to the log and written to every backend's /write like HTTP writes, so it
 * needs a database: an influxdb-relay [[udp]] table must get a `database` key (and may get
 * `retention-policy`); without one the load stops and says so. Its `output` list is ignored.
 *
 * influxdb-relay keys, honoured:
 *   [[http]] bind-addr             -> http.listen (":PORT" means "0.0.0.0:PORT")
 *   [[http]] output                -> one [[backend]] per output, merged by name
 *   output name                    -> backend.name (missing: made from the location's host:port)
 *   output location               -> backend.url ("/write" and trailing "/" stripped)
 *   output timeout                 -> backend.timeout
 *   output skip-tls-verification   -> backend.insecure-skip-verify
 *   output http-user, http-pass    -> backend.username, backend.password
 *   output max-batch-kb            -> backend.batch-max-bytes (KiB; 0 keeps the default)
 *   output max-delay-interval      -> backend.retry-max-delay
 *   [[udp]] bind-addr              -> udp.listen
 *   [[udp]] precision, read-buffer -> udp.precision, udp.read-buffer
 *   [[udp]] database, retention-policy (ours, added to the table) -> udp.database, ...
 *   [[http]] name, [[udp]] name    -> accepted; display names only, also in influxdb-relay
 * influxdb-relay keys, accepted and ignored with a warning:
 *   [[http]] ssl-combined-pem         this relay serves plain HTTP (terminate TLS in front)
 *   [[http]] default-retention-policy writes without rp= go to the database's default policy
 *   [[http]] default-ping-response    /ping always answers 204
 *   output buffer-size-mb             everything is buffered on disk (wal.max-size bounds it)
 *   [[udp]] output (name, location, mtu)  UDP points go to every backend over HTTP */
#include "relay/config.h"

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "relay/toml.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Caps on list lengths: far beyond any real deployment, and they keep the duplicate checks
 * (quadratic, by design simple) cheap on hostile files. */
#define CFG_MAX_LIST 256
#define CFG_MAX_USERS 1024
#define CFG_MAX_WARNINGS 16

static const char *const default_listen = "127.0.0.1:9096";

/* ---- messages ---------------------------------------------------------------------------- */

/* Flag and validation messages have no file position; the same one-line rule applies. */
__attribute__((format(printf, 3, 4))) static int set_err(char *err, size_t err_cap, const char *fmt,
                                                         ...)
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

/* ---- values: sizes, durations, addresses, URLs, names ------------------------------------ */

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
static const char *duration_why(const char *s, uint64_t *out)
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
    return duration_why(s, out) == NULL ? 0 : IWR_EPARSE;
}

/* Why 's' is not a size, or NULL with *out set. */
static const char *size_why(const char *s, size_t *out)
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
    return size_why(s, out) == NULL ? 0 : IWR_EPARSE;
}

/* Why 's' is not "HOST:PORT", or NULL with the host (brackets removed) and port set. */
static const char *hostport_why(const char *s, char *host, size_t host_cap, int *port)
{
    static const char *const shape = "is not HOST:PORT, e.g. 127.0.0.1:9096 or [::1]:9096";
    const char *h, *colon;
    size_t hlen;
    int v6 = s[0] == '[';
    if (v6) {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return shape;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return shape;
        h = s;
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0)
        return "has no host; use 0.0.0.0:PORT or [::]:PORT for every interface";
    char tmp[64];
    unsigned char addr[16];
    if (hlen >= sizeof(tmp))
        return "has a host that is not an IP address (hostnames are not resolved here)";
    memcpy(tmp, h, hlen);
    tmp[hlen] = '\0';
    if (inet_pton(v6 ? AF_INET6 : AF_INET, tmp, addr) != 1)
        return v6 ? "has a bad IPv6 address"
                  : "has a host that is not an IP address (IPv6 goes in brackets; hostnames are "
                    "not resolved here)";
    const char *p = colon + 1;
    long v = 0;
    if (*p == '\0' || strlen(p) > 5)
        return "has a bad port; use 0 to 65535";
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return "has a bad port; use 0 to 65535";
        v = v * 10 + (*p - '0');
    }
    if (v > 65535)
        return "has a bad port; use 0 to 65535";
    if (host != NULL && host_cap > 0) {
        if (hlen >= host_cap)
            return "has a host too long for the caller's buffer";
        memcpy(host, h, hlen);
        host[hlen] = '\0';
    }
    if (port != NULL)
        *port = (int)v;
    return NULL;
}

int config_parse_hostport(const char *s, char *host, size_t host_cap, int *port)
{
    return hostport_why(s, host, host_cap, port) == NULL ? 0 : IWR_EPARSE;
}

/* Where the authority of an http(s) URL starts, or NULL. */
static const char *url_authority(const char *u)
{
    if (strncasecmp(u, "http://", 7) == 0)
        return u + 7;
    if (strncasecmp(u, "https://", 8) == 0)
        return u + 8;
    return NULL;
}

/* Why 'u' is not a usable backend base URL, or NULL. */
static const char *url_why(const char *u)
{
    const char *a = url_authority(u);
    if (a == NULL)
        return "must start with http:// or https://";
    for (const char *q = u; *q != '\0'; q++) {
        if ((unsigned char)*q <= 0x20 || *q == 0x7f)
            return "must not contain spaces or control characters";
        if (*q == '?' || *q == '#')
            return "must not have a query or fragment (the database comes with each write)";
    }
    size_t alen = strcspn(a, "/");
    const char *at = memchr(a, '@', alen);
    while (at != NULL) { /* user:password@ goes before the host; the last '@' ends it */
        alen -= (size_t)(at + 1 - a);
        a = at + 1;
        at = memchr(a, '@', alen);
    }
    const char *host_end;
    if (alen > 0 && a[0] == '[') {
        host_end = memchr(a, ']', alen);
        if (host_end == NULL || host_end == a + 1)
            return "has a bad IPv6 address";
        host_end++;
    } else {
        host_end = memchr(a, ':', alen);
        if (host_end == NULL)
            host_end = a + alen;
        if (host_end == a)
            return "has no host";
    }
    size_t rest = alen - (size_t)(host_end - a);
    if (rest == 0)
        return NULL;
    if (*host_end != ':' || rest < 2 || rest > 6)
        return "has a bad port";
    long port = 0;
    for (size_t i = 1; i < rest; i++) {
        if (host_end[i] < '0' || host_end[i] > '9')
            return "has a bad port";
        port = port * 10 + (host_end[i] - '0');
    }
    if (port < 1 || port > 65535)
        return "has a bad port";
    return NULL;
}

/* Drop a trailing "/write" and trailing slashes from the path, in place: the sender appends
 * "/write" itself, and influxdb-relay's locations name the endpoint. */
static void url_normalise(char *u)
{
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

static int name_ok(const char *s)
{
    size_t n = s == NULL ? 0 : strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

static const char *const name_rule = "must be 1 to 64 characters from A-Z a-z 0-9 _ . -";

static int precision_ok(const char *s)
{
    static const char *const ok[] = {"", "n", "ns", "u", "us", "ms", "s", "m", "h"};
    if (s == NULL)
        return 1;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcmp(s, ok[i]) == 0)
            return 1;
    return 0;
}

/* ---- the struct -------------------------------------------------------------------------- */

static void backend_defaults(struct cfg_backend *b)
{
    memset(b, 0, sizeof(*b));
    b->timeout_ms = 10000;
    b->connect_timeout_ms = 2000;
    b->batch_max_bytes = 4 * 1024 * 1024;
    b->batch_max_points = 5000;
    b->max_in_flight = 2;
    b->retry_max_delay_ms = 30000;
    b->start = CFG_START_LATEST;
}

static void backend_deinit(struct cfg_backend *b)
{
    free(b->name);
    free(b->url);
    free(b->username);
    free(b->password);
    free(b->token);
    free(b->ca_file);
    memset(b, 0, sizeof(*b));
}

static void udp_defaults(struct cfg_udp *u)
{
    memset(u, 0, sizeof(*u));
    u->precision = xstrdup("ns");
}

static void udp_deinit(struct cfg_udp *u)
{
    free(u->listen);
    free(u->database);
    free(u->retention_policy);
    free(u->precision);
    memset(u, 0, sizeof(*u));
}

static void listen_clear(struct config *c)
{
    for (size_t i = 0; i < c->n_listen; i++)
        free(c->listen[i]);
    free(c->listen);
    c->listen = NULL;
    c->n_listen = 0;
}

static void listen_push(struct config *c, char *addr)
{
    c->listen = xrealloc(c->listen, (c->n_listen + 1) * sizeof(*c->listen));
    c->listen[c->n_listen++] = addr;
}

static void backends_clear(struct config *c)
{
    for (size_t i = 0; i < c->n_backends; i++)
        backend_deinit(&c->backends[i]);
    free(c->backends);
    c->backends = NULL;
    c->n_backends = 0;
}

/* Takes the strings in 'b'. */
static void backend_push(struct config *c, struct cfg_backend *b)
{
    c->backends = xrealloc(c->backends, (c->n_backends + 1) * sizeof(*c->backends));
    c->backends[c->n_backends++] = *b;
    memset(b, 0, sizeof(*b));
}

static void udp_push(struct config *c, struct cfg_udp *u)
{
    c->udp = xrealloc(c->udp, (c->n_udp + 1) * sizeof(*c->udp));
    c->udp[c->n_udp++] = *u;
    memset(u, 0, sizeof(*u));
}

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c));
    listen_push(c, xstrdup(default_listen));
    c->max_body_bytes = 25000000;
    c->max_inflated_bytes = 4 * c->max_body_bytes;
    c->max_connections = 1024;
    c->max_header_bytes = 64 * 1024;
    c->max_pending_bytes = (size_t)512 << 20;
    c->idle_timeout_ms = 60000;
    c->read_timeout_ms = 30000;
    c->data_dir = xstrdup("./data");
    c->max_bytes = (size_t)1 << 30;
    c->full_policy = CFG_FULL_REJECT;
    c->sync = 1;
    c->min_free_bytes = (size_t)64 << 20;
    c->log_level = xstrdup("info");
    struct cfg_backend b;
    backend_defaults(&b);
    b.name = xstrdup("local");
    b.url = xstrdup("http://127.0.0.1:8086");
    backend_push(c, &b);
}

void config_deinit(struct config *c)
{
    free(c->path);
    listen_clear(c);
    for (size_t i = 0; i < c->n_users; i++) {
        free(c->users[i].name);
        free(c->users[i].password);
    }
    free(c->users);
    free(c->data_dir);
    free(c->log_level);
    backends_clear(c);
    for (size_t i = 0; i < c->n_udp; i++)
        udp_deinit(&c->udp[i]);
    free(c->udp);
    memset(c, 0, sizeof(*c));
}

/* ---- loading: the walk over the tree ----------------------------------------------------- */

struct warning {
    const char *sect;
    const char *key;
    const char *why;
    int line;
};

struct backend_ref { /* which [[http]] table named which backend, for the merge warning */
    size_t section;
    size_t backend;
};

struct loader {
    const char *name;
    struct config *c; /* the config being built; swapped in only on success */
    char *err;
    size_t err_cap;
    int file_listen;    /* the file gave a listen address: the built-in one is gone */
    int file_backends;  /* the file named a backend: the built-in one is gone */
    int *backend_lines; /* the line of each backend the file named */
    struct backend_ref *refs;
    size_t n_refs;
    size_t n_http; /* influxdb-relay [[http]] tables seen */
    struct warning warn[CFG_MAX_WARNINGS];
    size_t n_warn;
};

__attribute__((format(printf, 3, 4))) static int lfail(struct loader *ld, int line, const char *fmt,
                                                       ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return toml_error(ld->err, ld->err_cap, ld->name, line, "%s", msg);
}

/* A bad value: "NAME:LINE: sect.key: reason". */
__attribute__((format(printf, 4, 5))) static int
bad(struct loader *ld, const char *sect, const struct toml_node *v, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return toml_error(ld->err, ld->err_cap, ld->name, v->line, "%s.%s: %s", sect, v->key, msg);
}

static int wrong_type(struct loader *ld, const char *sect, const struct toml_node *v,
                      const char *want)
{
    return bad(ld, sect, v, "expected %s, got %s", want, toml_type_name(v->type));
}

static void note_warning(struct loader *ld, const char *sect, const char *key, int line,
                         const char *why)
{
    for (size_t i = 0; i < ld->n_warn; i++)
        if (strcmp(ld->warn[i].sect, sect) == 0 && strcmp(ld->warn[i].key, key) == 0)
            return;
    if (ld->n_warn < CFG_MAX_WARNINGS)
        ld->warn[ld->n_warn++] = (struct warning){sect, key, why, line};
}

/* Replace *dst with the string 'v'. Required strings must not be empty; optional ones are
 * NULL when empty. */
static int get_str(struct loader *ld, const char *sect, const struct toml_node *v, int required,
                   char **dst)
{
    if (v->type != TOML_STRING)
        return wrong_type(ld, sect, v, "a string");
    if (required && v->str_len == 0)
        return bad(ld, sect, v, "must not be empty");
    free(*dst);
    *dst = v->str_len == 0 ? NULL : xstrdup(v->str);
    return 0;
}

static int get_bool(struct loader *ld, const char *sect, const struct toml_node *v, int *dst)
{
    if (v->type != TOML_BOOL)
        return wrong_type(ld, sect, v, "a boolean (true or false)");
    *dst = v->b;
    return 0;
}

static int get_count(struct loader *ld, const char *sect, const struct toml_node *v, size_t *dst)
{
    if (v->type != TOML_INT)
        return wrong_type(ld, sect, v, "an integer");
    if (v->i < 0)
        return bad(ld, sect, v, "must not be negative");
    *dst = (size_t)v->i;
    return 0;
}

static int get_size(struct loader *ld, const char *sect, const struct toml_node *v, size_t *dst)
{
    if (v->type == TOML_INT)
        return get_count(ld, sect, v, dst);
    if (v->type != TOML_STRING)
        return wrong_type(ld, sect, v, "a size (bytes, or a string like \"64KiB\")");
    const char *why = size_why(v->str, dst);
    if (why != NULL)
        return bad(ld, sect, v, "\"%.64s\" %s", v->str, why);
    return 0;
}

static int get_duration(struct loader *ld, const char *sect, const struct toml_node *v,
                        uint64_t *dst)
{
    if (v->type == TOML_INT) {
        if (v->i == 0) {
            *dst = 0;
            return 0;
        }
        return bad(ld, sect, v, "%lld needs a unit (ms, s, m, h or d), e.g. \"10s\"",
                   (long long)v->i);
    }
    if (v->type != TOML_STRING)
        return wrong_type(ld, sect, v, "a duration (a string like \"10s\")");
    const char *why = duration_why(v->str, dst);
    if (why != NULL)
        return bad(ld, sect, v, "\"%.64s\" %s", v->str, why);
    return 0;
}

static int get_addr(struct loader *ld, const char *sect, const struct toml_node *v, char **dst)
{
    if (v->type != TOML_STRING)
        return wrong_type(ld, sect, v, "a string \"HOST:PORT\"");
    const char *why = hostport_why(v->str, NULL, 0, NULL);
    if (why != NULL)
        return bad(ld, sect, v, "\"%.64s\" %s", v->str, why);
    free(*dst);
    *dst = xstrdup(v->str);
    return 0;
}

enum kind {
    K_STR,       /* char *, not empty */
    K_STR_OPT,   /* char *, "" is NULL */
    K_BOOL,      /* int */
    K_COUNT,     /* size_t, a plain integer */
    K_SIZE,      /* size_t, bytes or "64KiB" */
    K_DURATION,  /* uint64_t milliseconds */
    K_NAME,      /* char *, a backend name */
    K_URL,       /* char *, a backend URL, normalised */
    K_ADDR,      /* char *, "HOST:PORT" */
    K_PRECISION, /* char *, a /write precision; "" keeps "ns" */
    K_LEVEL,     /* char *, a log level */
    K_FULL,      /* enum cfg_full_policy */
    K_START,     /* enum cfg_start */
    K_KIB,       /* size_t, influxdb-relay's integer KiB; 0 keeps the default */
    K_LATER,     /* the caller reads it (lists, sub-tables) */
    K_ACCEPTED,  /* influxdb-relay's display names: nothing to do */
    K_IGNORED,   /* influxdb-relay keys we cannot honour: warned about */
};

struct field {
    const char *key;
    enum kind kind;
    size_t off;
    const char *why; /* K_IGNORED: what happens instead */
};

/* clang-format takes the braces in these macros for blocks. */
/* clang-format off */
#define FIELD(key, kind, type, member) {key, kind, offsetof(type, member), NULL}
#define LATER(key) {key, K_LATER, 0, NULL}
#define ACCEPTED(key) {key, K_ACCEPTED, 0, NULL}
#define IGNORED(key, why) {key, K_IGNORED, 0, why}
/* clang-format on */
#define NFIELDS(a) (sizeof(a) / sizeof(a[0]))

static const struct field http_fields[] = {
    LATER("listen"),
    FIELD("max-body-size", K_SIZE, struct config, max_body_bytes),
    FIELD("max-inflated-size", K_SIZE, struct config, max_inflated_bytes),
    FIELD("max-connections", K_COUNT, struct config, max_connections),
    FIELD("max-header-size", K_SIZE, struct config, max_header_bytes),
    FIELD("max-pending-size", K_SIZE, struct config, max_pending_bytes),
    FIELD("idle-timeout", K_DURATION, struct config, idle_timeout_ms),
    FIELD("read-timeout", K_DURATION, struct config, read_timeout_ms),
    FIELD("allow-unsigned", K_BOOL, struct config, allow_unsigned),
};

static const struct field auth_fields[] = {
    FIELD("enabled", K_BOOL, struct config, auth_enabled),
    LATER("user"),
};

static const struct field user_fields[] = {
    FIELD("name", K_STR, struct cfg_user, name),
    FIELD("password", K_STR, struct cfg_user, password),
};

static const struct field wal_fields[] = {
    FIELD("dir", K_STR, struct config, data_dir),
    FIELD("max-size", K_SIZE, struct config, max_bytes),
    FIELD("full-policy", K_FULL, struct config, full_policy),
    FIELD("sync", K_BOOL, struct config, sync),
    FIELD("retain", K_DURATION, struct config, retain_ms),
    FIELD("min-free", K_SIZE, struct config, min_free_bytes),
};

static const struct field log_fields[] = {
    FIELD("level", K_LEVEL, struct config, log_level),
};

static const struct field backend_fields[] = {
    FIELD("name", K_NAME, struct cfg_backend, name),
    FIELD("url", K_URL, struct cfg_backend, url),
    FIELD("username", K_STR_OPT, struct cfg_backend, username),
    FIELD("password", K_STR_OPT, struct cfg_backend, password),
    FIELD("token", K_STR_OPT, struct cfg_backend, token),
    FIELD("ca-file", K_STR_OPT, struct cfg_backend, ca_file),
    FIELD("insecure-skip-verify", K_BOOL, struct cfg_backend, insecure_skip_verify),
    FIELD("gzip", K_BOOL, struct cfg_backend, gzip),
    FIELD("timeout", K_DURATION, struct cfg_backend, timeout_ms),
    FIELD("connect-timeout", K_DURATION, struct cfg_backend, connect_timeout_ms),
    FIELD("batch-max-bytes", K_SIZE, struct cfg_backend, batch_max_bytes),
    FIELD("batch-max-points", K_COUNT, struct cfg_backend, batch_max_points),
    FIELD("max-in-flight", K_COUNT, struct cfg_backend, max_in_flight),
    FIELD("retry-max-delay", K_DURATION, struct cfg_backend, retry_max_delay_ms),
    FIELD("start", K_START, struct cfg_backend, start),
    FIELD("create-database", K_BOOL, struct cfg_backend, create_database),
    FIELD("give-up-after", K_DURATION, struct cfg_backend, give_up_after_ms),
    FIELD("give-up-size", K_SIZE, struct cfg_backend, give_up_bytes),
};

static const struct field udp_fields[] = {
    FIELD("listen", K_ADDR, struct cfg_udp, listen),
    FIELD("database", K_STR, struct cfg_udp, database),
    FIELD("retention-policy", K_STR_OPT, struct cfg_udp, retention_policy),
    FIELD("precision", K_PRECISION, struct cfg_udp, precision),
    FIELD("read-buffer", K_SIZE, struct cfg_udp, read_buffer_bytes),
};

static const struct field relay_http_fields[] = {
    ACCEPTED("name"),
    LATER("bind-addr"),
    LATER("output"),
    IGNORED("ssl-combined-pem", "this relay serves plain HTTP; terminate TLS in front of it"),
    IGNORED("default-retention-policy",
            "writes without rp= go to the database's default retention policy"),
    IGNORED("default-ping-response", "/ping always answers 204"),
};

static const struct field relay_output_fields[] = {
    LATER("name"),
    FIELD("location", K_URL, struct cfg_backend, url),
    FIELD("timeout", K_DURATION, struct cfg_backend, timeout_ms),
    FIELD("skip-tls-verification", K_BOOL, struct cfg_backend, insecure_skip_verify),
    FIELD("http-user", K_STR_OPT, struct cfg_backend, username),
    FIELD("http-pass", K_STR_OPT, struct cfg_backend, password),
    FIELD("max-batch-kb", K_KIB, struct cfg_backend, batch_max_bytes),
    FIELD("max-delay-interval", K_DURATION, struct cfg_backend, retry_max_delay_ms),
    IGNORED("buffer-size-mb", "every write is buffered on disk; wal.max-size bounds the log"),
};

static const struct field relay_udp_fields[] = {
    ACCEPTED("name"),
    LATER("bind-addr"),
    FIELD("read-buffer", K_SIZE, struct cfg_udp, read_buffer_bytes),
    FIELD("precision", K_PRECISION, struct cfg_udp, precision),
    FIELD("database", K_STR, struct cfg_udp, database),
    FIELD("retention-policy", K_STR_OPT, struct cfg_udp, retention_policy),
    IGNORED("output", "UDP points are stored in the log and written to every backend over HTTP"),
};

static int apply_field(struct loader *ld, const char *sect, const struct toml_node *v,
                       const struct field *f, void *base)
{
    if (f->kind == K_IGNORED) {
        note_warning(ld, sect, v->key, v->line, f->why);
        return 0;
    }
    if (f->kind == K_LATER || f->kind == K_ACCEPTED)
        return 0;
    void *dst = (char *)base + f->off; /* only now: 'base' is NULL for tables of such keys */
    const char *why;
    int rc;
    switch (f->kind) {
    case K_STR:
        return get_str(ld, sect, v, 1, dst);
    case K_STR_OPT:
        return get_str(ld, sect, v, 0, dst);
    case K_BOOL:
        return get_bool(ld, sect, v, dst);
    case K_COUNT:
        return get_count(ld, sect, v, dst);
    case K_SIZE:
        return get_size(ld, sect, v, dst);
    case K_DURATION:
        return get_duration(ld, sect, v, dst);
    case K_ADDR:
        return get_addr(ld, sect, v, dst);
    case K_NAME:
        if (v->type != TOML_STRING)
            return wrong_type(ld, sect, v, "a string");
        if (!name_ok(v->str))
            return bad(ld, sect, v, "'%.80s' %s", v->str, name_rule);
        return get_str(ld, sect, v, 1, dst);
    case K_URL:
        rc = get_str(ld, sect, v, 1, dst);
        if (rc != 0)
            return rc;
        url_normalise(*(char **)dst);
        why = url_why(*(char **)dst);
        if (why != NULL)
            return bad(ld, sect, v, "\"%.80s\" %s", v->str, why);
        return 0;
    case K_PRECISION:
        if (v->type != TOML_STRING)
            return wrong_type(ld, sect, v, "a string");
        if (!precision_ok(v->str))
            return bad(ld, sect, v, "\"%.16s\" is not one of ns, n, u, us, ms, s, m, h", v->str);
        if (v->str_len == 0)
            return 0;
        return get_str(ld, sect, v, 1, dst);
    case K_LEVEL: {
        enum log_level level;
        if (v->type != TOML_STRING)
            return wrong_type(ld, sect, v, "a string");
        if (log_parse_level(v->str, &level) != 0)
            return bad(ld, sect, v, "\"%.16s\" is not one of debug, info, warn, error, off",
                       v->str);
        return get_str(ld, sect, v, 1, dst);
    }
    case K_FULL:
        if (v->type != TOML_STRING)
            return wrong_type(ld, sect, v, "a string");
        if (strcmp(v->str, "reject") == 0)
            *(enum cfg_full_policy *)dst = CFG_FULL_REJECT;
        else if (strcmp(v->str, "drop-oldest") == 0)
            *(enum cfg_full_policy *)dst = CFG_FULL_DROP_OLDEST;
        else
            return bad(ld, sect, v, "\"%.16s\" is not one of reject, drop-oldest", v->str);
        return 0;
    case K_START:
        if (v->type != TOML_STRING)
            return wrong_type(ld, sect, v, "a string");
        if (strcmp(v->str, "latest") == 0)
            *(enum cfg_start *)dst = CFG_START_LATEST;
        else if (strcmp(v->str, "earliest") == 0)
            *(enum cfg_start *)dst = CFG_START_EARLIEST;
        else
            return bad(ld, sect, v, "\"%.16s\" is not one of latest, earliest", v->str);
        return 0;
    case K_KIB: {
        size_t kib;
        rc = get_count(ld, sect, v, &kib);
        if (rc != 0)
            return rc;
        if (kib > SIZE_MAX / 1024)
            return bad(ld, sect, v, "is too large");
        if (kib > 0)
            *(size_t *)dst = kib * 1024;
        return 0;
    }
    case K_IGNORED:
    case K_LATER:
    case K_ACCEPTED:
        return 0;
    }
    return 0;
}

/* Every key of 'table' must be one of 'fields'; 'title' names the table in messages. */
static int apply_fields(struct loader *ld, const struct toml_node *table, const char *title,
                        const char *sect, const struct field *fields, size_t n_fields, void *base)
{
    for (size_t i = 0; i < table->n_kids; i++) {
        const struct toml_node *v = table->kids[i];
        const struct field *f = NULL;
        for (size_t j = 0; j < n_fields && f == NULL; j++)
            if (strcmp(fields[j].key, v->key) == 0)
                f = &fields[j];
        if (f == NULL)
            return lfail(ld, v->line, "unknown key '%.80s' in %s", v->key, title);
        int rc = apply_field(ld, sect, v, f, base);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int need_table(struct loader *ld, const struct toml_node *v, const char *title)
{
    if (v->type == TOML_TABLE)
        return 0;
    return lfail(ld, v->line, "'%.80s' must be the table %s, not %s", v->key, title,
                 toml_type_name(v->type));
}

/* An array whose elements are all tables: [[x]], or x = [{...}, ...]. */
static int need_tables(struct loader *ld, const struct toml_node *v, const char *title)
{
    if (v->type != TOML_ARRAY)
        return lfail(ld, v->line, "'%.80s' must be an array of tables %s, not %s", v->key, title,
                     toml_type_name(v->type));
    for (size_t i = 0; i < v->n_kids; i++)
        if (v->kids[i]->type != TOML_TABLE)
            return lfail(ld, v->kids[i]->line, "'%.80s' must be an array of tables %s, not %s",
                         v->key, title, toml_type_name(v->kids[i]->type));
    return 0;
}

/* The file's first address replaces the built-in one. Takes 'addr'. */
static int add_listen(struct loader *ld, char *addr, int line)
{
    if (!ld->file_listen) {
        listen_clear(ld->c);
        ld->file_listen = 1;
    }
    if (ld->c->n_listen >= CFG_MAX_LIST) {
        free(addr);
        return lfail(ld, line, "more than %d listen addresses", CFG_MAX_LIST);
    }
    listen_push(ld->c, addr);
    return 0;
}

/* http.listen: one address or an array of them. */
static int load_listen(struct loader *ld, const struct toml_node *v)
{
    if (v->type == TOML_STRING) {
        char *addr = NULL;
        int rc = get_addr(ld, "http", v, &addr);
        return rc != 0 ? rc : add_listen(ld, addr, v->line);
    }
    if (v->type != TOML_ARRAY)
        return wrong_type(ld, "http", v, "a string or an array of strings");
    if (!ld->file_listen) { /* an empty list says "none", which config_validate reports */
        listen_clear(ld->c);
        ld->file_listen = 1;
    }
    for (size_t i = 0; i < v->n_kids; i++) {
        const struct toml_node *e = v->kids[i];
        char *addr = NULL;
        if (e->type != TOML_STRING)
            return lfail(ld, e->line, "http.listen: expected strings, got %s",
                         toml_type_name(e->type));
        const char *why = hostport_why(e->str, NULL, 0, NULL);
        if (why != NULL)
            return lfail(ld, e->line, "http.listen: \"%.64s\" %s", e->str, why);
        addr = xstrdup(e->str);
        int rc = add_listen(ld, addr, e->line);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int load_http(struct loader *ld, const struct toml_node *t)
{
    struct config *c = ld->c;
    int rc = apply_fields(ld, t, "[http]", "http", http_fields, NFIELDS(http_fields), c);
    const struct toml_node *v = toml_get(t, "listen");
    if (rc == 0 && v != NULL)
        rc = load_listen(ld, v);
    /* The gzip bound follows the body limit unless it is set too. */
    if (rc == 0 && toml_get(t, "max-inflated-size") == NULL)
        c->max_inflated_bytes = c->max_body_bytes > SIZE_MAX / 4 ? SIZE_MAX : 4 * c->max_body_bytes;
    return rc;
}

static int load_auth(struct loader *ld, const struct toml_node *t)
{
    struct config *c = ld->c;
    int rc = apply_fields(ld, t, "[auth]", "auth", auth_fields, NFIELDS(auth_fields), c);
    const struct toml_node *users = toml_get(t, "user");
    if (rc != 0 || users == NULL)
        return rc;
    rc = need_tables(ld, users, "[[auth.user]]");
    for (size_t i = 0; rc == 0 && i < users->n_kids; i++) {
        const struct toml_node *u = users->kids[i];
        if (c->n_users >= CFG_MAX_USERS)
            return lfail(ld, u->line, "more than %d users", CFG_MAX_USERS);
        c->users = xrealloc(c->users, (c->n_users + 1) * sizeof(*c->users));
        struct cfg_user *user = &c->users[c->n_users++];
        memset(user, 0, sizeof(*user));
        rc = apply_fields(ld, u, "[[auth.user]]", "auth.user", user_fields, NFIELDS(user_fields),
                          user);
        if (rc == 0 && (user->name == NULL || user->password == NULL))
            rc = lfail(ld, u->line, "[[auth.user]] needs '%s'",
                       user->name == NULL ? "name" : "password");
        for (size_t j = 0; rc == 0 && j + 1 < c->n_users; j++)
            if (strcmp(c->users[j].name, user->name) == 0)
                rc = lfail(ld, u->line, "auth.user: duplicate name '%.64s'", user->name);
    }
    return rc;
}

/* Add the file's backend 'b' (taking its strings), or merge it into an identical one of the
 * same name when 'merge' is set (influxdb-relay lists one output under several [[http]]). The
 * index it ends up at goes to *index. */
static int add_backend(struct loader *ld, struct cfg_backend *b, int line, int merge, size_t *index)
{
    struct config *c = ld->c;
    if (!ld->file_backends) {
        backends_clear(c);
        ld->file_backends = 1;
    }
    for (size_t i = 0; i < c->n_backends; i++) {
        const struct cfg_backend *o = &c->backends[i];
        if (strcmp(o->name, b->name) != 0)
            continue;
        if (!merge) {
            int rc = lfail(ld, line, "duplicate backend name '%s' (first on line %d)", b->name,
                           ld->backend_lines[i]);
            backend_deinit(b);
            return rc;
        }
        /* Only what an influxdb-relay output can set needs comparing. */
        int same = strcmp(o->url, b->url) == 0 && o->timeout_ms == b->timeout_ms &&
                   o->insecure_skip_verify == b->insecure_skip_verify &&
                   (o->username == NULL) == (b->username == NULL) &&
                   (o->username == NULL || strcmp(o->username, b->username) == 0) &&
                   (o->password == NULL) == (b->password == NULL) &&
                   (o->password == NULL || strcmp(o->password, b->password) == 0) &&
                   o->batch_max_bytes == b->batch_max_bytes &&
                   o->retry_max_delay_ms == b->retry_max_delay_ms;
        int rc = 0;
        if (!same)
            rc = lfail(ld, line, "output '%s' differs from the output of that name on line %d",
                       b->name, ld->backend_lines[i]);
        backend_deinit(b);
        *index = i;
        return rc;
    }
    if (c->n_backends >= CFG_MAX_LIST) {
        backend_deinit(b);
        return lfail(ld, line, "more than %d backends", CFG_MAX_LIST);
    }
    ld->backend_lines =
        xrealloc(ld->backend_lines, (c->n_backends + 1) * sizeof(*ld->backend_lines));
    ld->backend_lines[c->n_backends] = line;
    *index = c->n_backends;
    backend_push(c, b);
    return 0;
}

static int load_backend(struct loader *ld, const struct toml_node *t)
{
    struct cfg_backend b;
    size_t index;
    backend_defaults(&b);
    int rc =
        apply_fields(ld, t, "[[backend]]", "backend", backend_fields, NFIELDS(backend_fields), &b);
    if (rc == 0 && (b.name == NULL || b.url == NULL))
        rc = lfail(ld, t->line, "[[backend]] needs '%s'", b.name == NULL ? "name" : "url");
    if (rc != 0) {
        backend_deinit(&b);
        return rc;
    }
    return add_backend(ld, &b, t->line, 0, &index);
}

static int add_udp(struct loader *ld, struct cfg_udp *u, int line)
{
    if (ld->c->n_udp >= CFG_MAX_LIST) {
        udp_deinit(u);
        return lfail(ld, line, "more than %d UDP listeners", CFG_MAX_LIST);
    }
    udp_push(ld->c, u);
    return 0;
}

static int load_udp(struct loader *ld, const struct toml_node *t)
{
    struct cfg_udp u;
    udp_defaults(&u);
    int rc = apply_fields(ld, t, "[[udp]]", "udp", udp_fields, NFIELDS(udp_fields), &u);
    if (rc == 0 && (u.listen == NULL || u.database == NULL))
        rc = lfail(ld, t->line, "[[udp]] needs '%s'", u.listen == NULL ? "listen" : "database");
    if (rc != 0) {
        udp_deinit(&u);
        return rc;
    }
    return add_udp(ld, &u, t->line);
}

/* influxdb-relay's bind-addr: Go reads ":9096" as every interface. */
static int relay_bind_addr(struct loader *ld, const char *sect, const struct toml_node *t,
                           char **out)
{
    const struct toml_node *v = toml_get(t, "bind-addr");
    if (v == NULL)
        return lfail(ld, t->line, "[[%s]] needs 'bind-addr'", sect);
    if (v->type != TOML_STRING)
        return wrong_type(ld, sect, v, "a string \"HOST:PORT\"");
    char *addr;
    if (v->str[0] == ':') {
        size_t n = strlen(v->str);
        addr = xmalloc(n + 8);
        memcpy(addr, "0.0.0.0", 7);
        memcpy(addr + 7, v->str, n + 1);
    } else {
        addr = xstrdup(v->str);
    }
    const char *why = hostport_why(addr, NULL, 0, NULL);
    if (why != NULL) {
        free(addr);
        return bad(ld, sect, v, "\"%.64s\" %s", v->str, why);
    }
    *out = addr;
    return 0;
}

/* A backend name for an output without one: its host and port, e.g. "127.0.0.1_8086". */
static char *name_from_url(const char *url)
{
    const char *a = url_authority(url);
    size_t n = strcspn(a, "/");
    const char *at = memchr(a, '@', n);
    while (at != NULL) {
        n -= (size_t)(at + 1 - a);
        a = at + 1;
        at = memchr(a, '@', n);
    }
    if (n > 64)
        n = 64;
    char *name = xstrndup(a, n);
    for (char *q = name; *q != '\0'; q++)
        if (!name_ok((char[]){*q, '\0'}))
            *q = '_';
    return name;
}

static int load_relay_output(struct loader *ld, const struct toml_node *o)
{
    struct cfg_backend b;
    size_t index = 0;
    backend_defaults(&b);
    int rc = apply_fields(ld, o, "[[http]] output", "http.output", relay_output_fields,
                          NFIELDS(relay_output_fields), &b);
    const struct toml_node *name = toml_get(o, "name");
    if (rc == 0 && b.url == NULL)
        rc = lfail(ld, o->line, "[[http]] output needs 'location'");
    if (rc == 0 && name != NULL)
        rc = get_str(ld, "http.output", name, 0, &b.name);
    if (rc == 0 && b.name == NULL)
        b.name = name_from_url(b.url);
    if (rc == 0 && !name_ok(b.name))
        rc = lfail(ld, name != NULL ? name->line : o->line, "http.output.name: '%.80s' %s", b.name,
                   name_rule);
    if (rc != 0) {
        backend_deinit(&b);
        return rc;
    }
    rc = add_backend(ld, &b, o->line, 1, &index);
    if (rc == 0) {
        ld->refs = xrealloc(ld->refs, (ld->n_refs + 1) * sizeof(*ld->refs));
        ld->refs[ld->n_refs++] = (struct backend_ref){ld->n_http, index};
    }
    return rc;
}

static int load_relay_http(struct loader *ld, const struct toml_node *t)
{
    char *addr = NULL;
    int rc = apply_fields(ld, t, "[[http]]", "http", relay_http_fields, NFIELDS(relay_http_fields),
                          NULL);
    if (rc == 0)
        rc = relay_bind_addr(ld, "http", t, &addr);
    if (rc == 0)
        rc = add_listen(ld, addr, t->line);
    const struct toml_node *out = toml_get(t, "output");
    if (rc == 0 && out != NULL)
        rc = need_tables(ld, out, "(output = [{ name = ..., location = ... }])");
    for (size_t i = 0; rc == 0 && out != NULL && i < out->n_kids; i++)
        rc = load_relay_output(ld, out->kids[i]);
    ld->n_http++;
    return rc;
}

static int load_relay_udp(struct loader *ld, const struct toml_node *t)
{
    struct cfg_udp u;
    udp_defaults(&u);
    int rc = apply_fields(ld, t, "[[udp]]", "udp", relay_udp_fields, NFIELDS(relay_udp_fields), &u);
    if (rc == 0)
        rc = relay_bind_addr(ld, "udp", t, &u.listen);
    if (rc == 0 && u.database == NULL)
        rc = lfail(ld, t->line,
                   "[[udp]] needs 'database': influxdb-relay forwarded datagrams, this relay "
                   "stores them and writes them to every backend, so add database = \"NAME\"");
    if (rc != 0) {
        udp_deinit(&u);
        return rc;
    }
    return add_udp(ld, &u, t->line);
}

/* influxdb-relay gives each [[http]] its own outputs; here each listener feeds every backend.
 * Say so when the tables did not all list the same outputs. */
static void check_relay_routing(struct loader *ld)
{
    size_t n = ld->c->n_backends;
    if (ld->n_http < 2 || n == 0)
        return;
    unsigned char *all = xcalloc(n, 1), *mine = xcalloc(n, 1);
    size_t total = 0;
    for (size_t i = 0; i < ld->n_refs; i++)
        if (!all[ld->refs[i].backend]) {
            all[ld->refs[i].backend] = 1;
            total++;
        }
    for (size_t s = 0; s < ld->n_http; s++) {
        size_t count = 0;
        memset(mine, 0, n);
        for (size_t i = 0; i < ld->n_refs; i++)
            if (ld->refs[i].section == s && !mine[ld->refs[i].backend]) {
                mine[ld->refs[i].backend] = 1;
                count++;
            }
        if (count != total) {
            note_warning(ld, "http", "output", 0,
                         "[[http]] tables list different outputs; here every listener "
                         "feeds every backend");
            break;
        }
    }
    free(all);
    free(mine);
}

static int is_relay_layout(const struct toml_node *root)
{
    const struct toml_node *http = toml_get(root, "http"), *udp = toml_get(root, "udp");
    if (http != NULL)
        return http->type == TOML_ARRAY;
    if (udp == NULL || udp->type != TOML_ARRAY)
        return 0;
    for (size_t i = 0; i < udp->n_kids; i++)
        if (toml_get(udp->kids[i], "bind-addr") != NULL || toml_get(udp->kids[i], "output") != NULL)
            return 1;
    return 0;
}

static int load_root(struct loader *ld, const struct toml_node *root)
{
    int relay = is_relay_layout(root);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < root->n_kids; i++) {
        const struct toml_node *v = root->kids[i];
        const char *k = v->key;
        if (strcmp(k, "http") == 0 && !relay) {
            rc = need_table(ld, v, "[http]");
            if (rc == 0)
                rc = load_http(ld, v);
        } else if (strcmp(k, "http") == 0) {
            rc = need_tables(ld, v, "[[http]]");
            for (size_t j = 0; rc == 0 && j < v->n_kids; j++)
                rc = load_relay_http(ld, v->kids[j]);
        } else if (strcmp(k, "auth") == 0) {
            rc = need_table(ld, v, "[auth]");
            if (rc == 0)
                rc = load_auth(ld, v);
        } else if (strcmp(k, "wal") == 0) {
            rc = need_table(ld, v, "[wal]");
            if (rc == 0)
                rc = apply_fields(ld, v, "[wal]", "wal", wal_fields, NFIELDS(wal_fields), ld->c);
        } else if (strcmp(k, "log") == 0) {
            rc = need_table(ld, v, "[log]");
            if (rc == 0)
                rc = apply_fields(ld, v, "[log]", "log", log_fields, NFIELDS(log_fields), ld->c);
        } else if (strcmp(k, "backend") == 0) {
            rc = need_tables(ld, v, "[[backend]]");
            for (size_t j = 0; rc == 0 && j < v->n_kids; j++)
                rc = load_backend(ld, v->kids[j]);
        } else if (strcmp(k, "udp") == 0) {
            rc = need_tables(ld, v, "[[udp]]");
            for (size_t j = 0; rc == 0 && j < v->n_kids; j++)
                rc = relay ? load_relay_udp(ld, v->kids[j]) : load_udp(ld, v->kids[j]);
        } else if (v->type == TOML_TABLE) {
            rc = lfail(ld, v->line, "unknown table [%.80s]", k);
        } else if (v->type == TOML_ARRAY && v->n_kids > 0 && v->kids[0]->type == TOML_TABLE) {
            rc = lfail(ld, v->line, "unknown table [[%.80s]]", k);
        } else {
            rc = lfail(ld, v->line, "unknown key '%.80s' at the top level", k);
        }
    }
    if (rc == 0 && relay)
        check_relay_routing(ld);
    return rc;
}

static void log_warnings(const struct loader *ld)
{
    char file[256];
    log_quote(file, sizeof(file), ld->name, strlen(ld->name));
    for (size_t i = 0; i < ld->n_warn; i++) {
        const struct warning *w = &ld->warn[i];
        if (w->line > 0)
            log_warn("event=config_key_ignored file=%s line=%d key=%s.%s reason=\"%s\"", file,
                     w->line, w->sect, w->key, w->why);
        else
            log_warn("event=config_outputs_merged file=%s reason=\"%s\"", file, w->why);
    }
}

int config_load_string(struct config *c, const char *name, const char *text, size_t len, char *err,
                       size_t err_cap)
{
    struct toml_node *root;
    int rc = toml_parse(name, text, len, &root, err, err_cap);
    if (rc != 0)
        return rc;
    struct config fresh;
    config_defaults(&fresh);
    fresh.path = xstrdup(name);
    struct loader ld = {.name = name, .c = &fresh, .err = err, .err_cap = err_cap};
    rc = load_root(&ld, root);
    if (rc == 0)
        log_warnings(&ld); /* before toml_free: the warnings borrow the tree's keys */
    toml_free(root);
    free(ld.backend_lines);
    free(ld.refs);
    if (rc != 0) {
        config_deinit(&fresh);
        return rc;
    }
    config_deinit(c);
    *c = fresh;
    return 0;
}

int config_load_file(struct config *c, const char *path, char *err, size_t err_cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        set_err(err, err_cap, "%s: cannot open: %s", path, strerror(-rc));
        return rc;
    }
    /* One byte over the limit is enough for toml_parse to say the file is too large. */
    size_t cap = TOML_MAX_INPUT + 1, len = 0;
    char *text = xmalloc(cap);
    int rc = 0;
    while (len < cap) {
        ssize_t n = read(fd, text + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            set_err(err, err_cap, "%s: cannot read: %s", path, strerror(-rc));
            break;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (rc == 0)
        rc = config_load_string(c, path, text, len, err, err_cap);
    free(text);
    return rc;
}

/* ---- flags ------------------------------------------------------------------------------- */

int config_add_backend_flag(struct config *c, const char *arg, char *err, size_t err_cap)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg || eq[1] == '\0')
        return set_err(err, err_cap, "backend \"%.200s\": expected NAME=URL", arg);
    struct cfg_backend b;
    backend_defaults(&b);
    b.name = xstrndup(arg, (size_t)(eq - arg));
    b.url = xstrdup(eq + 1);
    url_normalise(b.url);
    const char *why = url_why(b.url);
    int rc = 0;
    if (!name_ok(b.name))
        rc = set_err(err, err_cap, "backend \"%.200s\": the name %s", arg, name_rule);
    else if (why != NULL)
        rc = set_err(err, err_cap, "backend \"%.200s\": the URL %s", arg, why);
    if (rc == 0 && !c->backend_flags_seen) {
        backends_clear(c);
        c->backend_flags_seen = 1;
    }
    for (size_t i = 0; rc == 0 && i < c->n_backends; i++)
        if (strcmp(c->backends[i].name, b.name) == 0)
            rc = set_err(err, err_cap, "backend \"%.200s\": the name '%s' is already used", arg,
                         b.name);
    if (rc == 0 && c->n_backends >= CFG_MAX_LIST)
        rc = set_err(err, err_cap, "backend \"%.200s\": more than %d backends", arg, CFG_MAX_LIST);
    if (rc != 0) {
        backend_deinit(&b);
        return rc;
    }
    backend_push(c, &b);
    return 0;
}

int config_add_udp_flag(struct config *c, const char *arg, char *err, size_t err_cap)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg || eq[1] == '\0')
        return set_err(err, err_cap, "udp \"%.200s\": expected ADDR:PORT=DATABASE", arg);
    struct cfg_udp u;
    udp_defaults(&u);
    u.listen = xstrndup(arg, (size_t)(eq - arg));
    u.database = xstrdup(eq + 1);
    const char *why = hostport_why(u.listen, NULL, 0, NULL);
    int rc = 0;
    if (why != NULL)
        rc = set_err(err, err_cap, "udp \"%.200s\": the address %s", arg, why);
    else if (c->n_udp >= CFG_MAX_LIST)
        rc = set_err(err, err_cap, "udp \"%.200s\": more than %d UDP listeners", arg, CFG_MAX_LIST);
    if (rc != 0) {
        udp_deinit(&u);
        return rc;
    }
    udp_push(c, &u);
    return 0;
}

int config_set_listen_flag(struct config *c, const char *arg, char *err, size_t err_cap)
{
    const char *why = hostport_why(arg, NULL, 0, NULL);
    if (why != NULL)
        return set_err(err, err_cap, "listen \"%.200s\" %s", arg, why);
    if (!c->listen_flags_seen) {
        listen_clear(c);
        c->listen_flags_seen = 1;
    }
    if (c->n_listen >= CFG_MAX_LIST)
        return set_err(err, err_cap, "listen \"%.200s\": more than %d addresses", arg,
                       CFG_MAX_LIST);
    listen_push(c, xstrdup(arg));
    return 0;
}

/* ---- validation -------------------------------------------------------------------------- */

static int validate_http(const struct config *c, char *err, size_t err_cap)
{
    if (c->n_listen == 0)
        return set_err(err, err_cap, "no HTTP listen address: set http.listen or --listen");
    for (size_t i = 0; i < c->n_listen; i++) {
        const char *why =
            c->listen[i] == NULL ? "is missing" : hostport_why(c->listen[i], NULL, 0, NULL);
        if (why != NULL)
            return set_err(err, err_cap, "http.listen \"%.64s\" %s",
                           c->listen[i] ? c->listen[i] : "", why);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->listen[i], c->listen[j]) == 0)
                return set_err(err, err_cap, "http.listen \"%.64s\" is given twice", c->listen[i]);
    }
    if (c->max_body_bytes == 0)
        return set_err(err, err_cap, "http.max-body-size must be greater than 0");
    if (c->max_inflated_bytes < c->max_body_bytes)
        return set_err(err, err_cap,
                       "http.max-inflated-size (%zu bytes) must be at least http.max-body-size "
                       "(%zu bytes)",
                       c->max_inflated_bytes, c->max_body_bytes);
    if (c->max_connections == 0)
        return set_err(err, err_cap, "http.max-connections must be greater than 0");
    if (c->max_header_bytes < 1024)
        return set_err(err, err_cap, "http.max-header-size must be at least 1KiB");
    if (c->max_pending_bytes < c->max_body_bytes)
        return set_err(err, err_cap, "http.max-pending-size must be at least http.max-body-size");
    if (c->idle_timeout_ms == 0)
        return set_err(err, err_cap, "http.idle-timeout must be greater than 0");
    if (c->read_timeout_ms == 0)
        return set_err(err, err_cap, "http.read-timeout must be greater than 0");
    return 0;
}

static int validate_auth(const struct config *c, char *err, size_t err_cap)
{
    if (c->auth_enabled && c->n_users == 0)
        return set_err(err, err_cap, "auth.enabled is true but there is no [[auth.user]]");
    for (size_t i = 0; i < c->n_users; i++) {
        const struct cfg_user *u = &c->users[i];
        if (u->name == NULL || u->name[0] == '\0' || u->password == NULL || u->password[0] == '\0')
            return set_err(err, err_cap, "auth.user %zu needs a name and a password", i + 1);
        for (size_t j = 0; j < i; j++)
            if (strcmp(u->name, c->users[j].name) == 0)
                return set_err(err, err_cap, "auth.user '%.64s' is given twice", u->name);
    }
    return 0;
}

static int validate_backend(const struct config *c, size_t i, char *err, size_t err_cap)
{
    const struct cfg_backend *b = &c->backends[i];
    const char *why;
    if (!name_ok(b->name))
        return set_err(err, err_cap, "backend name '%.80s' %s", b->name ? b->name : "", name_rule);
    for (size_t j = 0; j < i; j++)
        if (strcmp(b->name, c->backends[j].name) == 0)
            return set_err(err, err_cap, "backend name '%s' is used twice", b->name);
    why = b->url == NULL ? "is missing" : url_why(b->url);
    if (why != NULL)
        return set_err(err, err_cap, "backend '%s': url \"%.80s\" %s", b->name,
                       b->url ? b->url : "", why);
    if (b->timeout_ms == 0)
        return set_err(err, err_cap, "backend '%s': timeout must be greater than 0", b->name);
    if (b->connect_timeout_ms == 0)
        return set_err(err, err_cap, "backend '%s': connect-timeout must be greater than 0",
                       b->name);
    if (b->batch_max_bytes == 0)
        return set_err(err, err_cap, "backend '%s': batch-max-bytes must be greater than 0",
                       b->name);
    if (b->batch_max_points == 0)
        return set_err(err, err_cap, "backend '%s': batch-max-points must be greater than 0",
                       b->name);
    if (b->max_in_flight == 0)
        return set_err(err, err_cap, "backend '%s': max-in-flight must be greater than 0", b->name);
    if (b->retry_max_delay_ms == 0)
        return set_err(err, err_cap, "backend '%s': retry-max-delay must be greater than 0",
                       b->name);
    if (b->start != CFG_START_LATEST && b->start != CFG_START_EARLIEST)
        return set_err(err, err_cap, "backend '%s': start is neither latest nor earliest", b->name);
    return 0;
}

static int validate_udp(const struct config *c, size_t i, char *err, size_t err_cap)
{
    const struct cfg_udp *u = &c->udp[i];
    const char *why = u->listen == NULL ? "is missing" : hostport_why(u->listen, NULL, 0, NULL);
    if (why != NULL)
        return set_err(err, err_cap, "udp.listen \"%.64s\" %s", u->listen ? u->listen : "", why);
    for (size_t j = 0; j < i; j++)
        if (strcmp(u->listen, c->udp[j].listen) == 0)
            return set_err(err, err_cap, "udp.listen \"%.64s\" is given twice", u->listen);
    if (u->database == NULL || u->database[0] == '\0')
        return set_err(err, err_cap, "udp \"%.64s\": database must not be empty", u->listen);
    if (!precision_ok(u->precision))
        return set_err(err, err_cap,
                       "udp \"%.64s\": precision \"%.16s\" is not one of ns, n, u, us, ms, s, m, "
                       "h",
                       u->listen, u->precision);
    return 0;
}

int config_validate(const struct config *c, char *err, size_t err_cap)
{
    enum log_level level;
    int rc = validate_http(c, err, err_cap);
    if (rc == 0)
        rc = validate_auth(c, err, err_cap);
    if (rc != 0)
        return rc;
    if (c->data_dir == NULL || c->data_dir[0] == '\0')
        return set_err(err, err_cap, "wal.dir must not be empty");
    if (c->max_bytes == 0)
        return set_err(err, err_cap, "wal.max-size must be greater than 0");
    if (c->full_policy != CFG_FULL_REJECT && c->full_policy != CFG_FULL_DROP_OLDEST)
        return set_err(err, err_cap, "wal.full-policy is neither reject nor drop-oldest");
    if (c->log_level == NULL || log_parse_level(c->log_level, &level) != 0)
        return set_err(err, err_cap,
                       "log.level \"%.16s\" is not one of debug, info, warn, "
                       "error, off",
                       c->log_level ? c->log_level : "");
    if (c->n_backends == 0)
        return set_err(err, err_cap, "no backends: add a [[backend]] or --backend NAME=URL");
    for (size_t i = 0; rc == 0 && i < c->n_backends; i++)
        rc = validate_backend(c, i, err, err_cap);
    for (size_t i = 0; rc == 0 && i < c->n_udp; i++)
        rc = validate_udp(c, i, err, err_cap);
    return rc;
}
