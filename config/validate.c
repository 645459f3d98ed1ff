/* Cross-field checks of a whole config, after the file and the flags. Pure; any thread. */
#include "config/config_int.h"
#include "relay/graphite.h"

#include "common/err.h"
#include "common/log.h"

#include <string.h>

/* ---- validation -------------------------------------------------------------------------- */

static int validate_tls(const struct cfg_tls *t, const char *addr, char *err, size_t err_cap)
{
    if (t->combined_pem != NULL && (t->cert != NULL || t->key != NULL))
        return cfg_fail(err, err_cap,
                        "http listener %.64s: tls-combined-pem and tls-cert/tls-key: set one or "
                        "the other",
                        addr);
    if ((t->cert == NULL) != (t->key == NULL) && t->combined_pem == NULL)
        return cfg_fail(err, err_cap, "http listener %.64s: %s needs %s (or use tls-combined-pem)",
                        addr, t->cert != NULL ? "tls-cert" : "tls-key",
                        t->cert != NULL ? "tls-key" : "tls-cert");
    if (!config_tls_on(t) && (t->client_ca != NULL || t->min_version != NULL))
        return cfg_fail(err, err_cap,
                        "http listener %.64s: %s needs a certificate (tls-cert and tls-key, or "
                        "tls-combined-pem)",
                        addr, t->client_ca != NULL ? "tls-client-ca" : "tls-min-version");
    if (t->min_version != NULL && strcmp(t->min_version, "1.2") != 0 &&
        strcmp(t->min_version, "1.3") != 0)
        return cfg_fail(err, err_cap, "http.tls-min-version \"%.16s\": use \"1.2\" or \"1.3\"",
                        t->min_version);
    return 0;
}

static int validate_http(const struct config *c, char *err, size_t err_cap)
{
    if (c->n_listen == 0)
        return cfg_fail(err, err_cap, "no HTTP listen address: set http.listen or --listen");
    for (size_t i = 0; i < c->n_listen; i++) {
        const char *why = c->listen[i] == NULL ? "is missing" : cfg_hostport_why(c->listen[i]);
        if (why != NULL)
            return cfg_fail(err, err_cap, "http.listen \"%.64s\" %s",
                            c->listen[i] ? c->listen[i] : "", why);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->listen[i], c->listen[j]) == 0)
                return cfg_fail(err, err_cap, "http.listen \"%.64s\" is given twice", c->listen[i]);
        int rc = validate_tls(&c->listen_tls[i], c->listen[i], err, err_cap);
        if (rc != 0)
            return rc;
    }
    if (c->max_body_bytes == 0)
        return cfg_fail(err, err_cap, "http.max-body-size must be greater than 0");
    if (c->max_inflated_bytes < c->max_body_bytes)
        return cfg_fail(err, err_cap,
                        "http.max-inflated-size (%zu bytes) must be at least http.max-body-size "
                        "(%zu bytes)",
                        c->max_inflated_bytes, c->max_body_bytes);
    if (c->max_connections == 0)
        return cfg_fail(err, err_cap, "http.max-connections must be greater than 0");
    if (c->max_header_bytes < 1024)
        return cfg_fail(err, err_cap, "http.max-header-size must be at least 1KiB");
    if (c->max_pending_bytes < c->max_body_bytes)
        return cfg_fail(err, err_cap, "http.max-pending-size must be at least http.max-body-size");
    if (c->idle_timeout_ms == 0)
        return cfg_fail(err, err_cap, "http.idle-timeout must be greater than 0");
    if (c->read_timeout_ms == 0)
        return cfg_fail(err, err_cap, "http.read-timeout must be greater than 0");
    if (c->statement_timeout_ms == 0)
        return cfg_fail(err, err_cap, "query.statement-timeout must be greater than 0");
    return 0;
}

static int validate_auth(const struct config *c, char *err, size_t err_cap)
{
    if (c->auth_enabled && c->n_users == 0)
        return cfg_fail(err, err_cap, "auth.enabled is true but there is no [[auth.user]]");
    for (size_t i = 0; i < c->n_users; i++) {
        const struct cfg_user *u = &c->users[i];
        if (u->name == NULL || u->name[0] == '\0' || u->password == NULL || u->password[0] == '\0')
            return cfg_fail(err, err_cap, "auth.user %zu needs a name and a password", i + 1);
        for (size_t j = 0; j < i; j++)
            if (strcmp(u->name, c->users[j].name) == 0)
                return cfg_fail(err, err_cap, "auth.user '%.64s' is given twice", u->name);
        if (u->token != NULL && u->token[0] == '\0')
            return cfg_fail(err, err_cap, "auth.user '%.64s': token is empty", u->name);
        for (size_t j = 0; u->token != NULL && j < i; j++)
            if (c->users[j].token != NULL && strcmp(u->token, c->users[j].token) == 0)
                return cfg_fail(err, err_cap, "auth.user '%.64s': token is another user's too",
                                u->name);
    }
    return 0;
}

static int is_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* A backend setting that must be greater than 0. */
struct positive {
    const char *key;
    uint64_t v;
};

/* The error for the first of p[0, n) that is 0, else 0. */
static int positive_check(const char *backend, const struct positive *p, size_t n, char *err,
                          size_t err_cap)
{
    for (size_t i = 0; i < n; i++)
        if (p[i].v == 0)
            return cfg_fail(err, err_cap, "backend '%s': %s must be greater than 0", backend,
                            p[i].key);
    return 0;
}

static int validate_backend(const struct config *c, size_t i, char *err, size_t err_cap)
{
    const struct replay_backend_opts *b = &c->backends[i];
    const char *why;
    if (!cfg_name_ok(b->name))
        return cfg_fail(err, err_cap, "backend name '%.80s' %s", b->name ? b->name : "",
                        cfg_name_rule);
    for (size_t j = 0; j < i; j++)
        if (strcmp(b->name, c->backends[j].name) == 0)
            return cfg_fail(err, err_cap, "backend name '%s' is used twice", b->name);
    why = b->url == NULL ? "is missing" : config_url_why(b->url);
    if (why != NULL)
        return cfg_fail(err, err_cap, "backend '%s': url \"%.80s\" %s", b->name,
                        b->url ? b->url : "", why);
    /* In this order: the first one wrong is the one named, the in-flight pair compared as
     * soon as both are known to be set. */
    const struct positive before[] = {
        {"timeout", b->timeout_ms},
        {"connect-timeout", b->connect_timeout_ms},
        {"batch-max-bytes", b->batch_max_bytes},
        {"batch-max-points", b->batch_max_points},
        {"max-in-flight", b->max_in_flight},
        {"min-in-flight", b->min_in_flight},
    };
    const struct positive after[] = {
        {"batch-min-bytes", b->batch_min_bytes},
        {"retry-max-delay", b->retry_max_delay_ms},
    };
    int rc = positive_check(b->name, before, NFIELDS(before), err, err_cap);
    if (rc != 0)
        return rc;
    if (b->min_in_flight > b->max_in_flight)
        return cfg_fail(err, err_cap, "backend '%s': min-in-flight (%zu) is above max-in-flight (%zu)",
                        b->name, b->min_in_flight, b->max_in_flight);
    rc = positive_check(b->name, after, NFIELDS(after), err, err_cap);
    if (rc != 0)
        return rc;
    if (b->start != REPLAY_START_LATEST && b->start != REPLAY_START_EARLIEST)
        return cfg_fail(err, err_cap, "backend '%s': start is neither latest nor earliest",
                        b->name);
    if (b->api == REPLAY_API_V2 && (b->org == NULL || b->org[0] == '\0'))
        return cfg_fail(err, err_cap, "backend '%s': api = \"v2\" needs org (an organization name)",
                        b->name);
    if (b->api != REPLAY_API_V2 && (is_set(b->org) || is_set(b->bucket_template)))
        return cfg_fail(err, err_cap, "backend '%s': org and bucket-template are for api = \"v2\"",
                        b->name);
    if (b->api != REPLAY_API_V3 && (is_set(b->database_template) || b->accept_partial || b->no_sync))
        return cfg_fail(err, err_cap,
                        "backend '%s': database-template, accept-partial and no-sync are for api = \"v3\"",
                        b->name);
    if (b->api != REPLAY_API_V1 && b->create_database)
        return cfg_fail(err, err_cap, "backend '%s': create-database is for api = \"v1\"", b->name);
    return 0;
}

static int validate_udp(const struct config *c, size_t i, char *err, size_t err_cap)
{
    const struct cfg_udp *u = &c->udp[i];
    const char *why = u->listen == NULL ? "is missing" : cfg_hostport_why(u->listen);
    if (why != NULL)
        return cfg_fail(err, err_cap, "udp.listen \"%.64s\" %s", u->listen ? u->listen : "", why);
    for (size_t j = 0; j < i; j++)
        if (strcmp(u->listen, c->udp[j].listen) == 0)
            return cfg_fail(err, err_cap, "udp.listen \"%.64s\" is given twice", u->listen);
    if (u->database == NULL || u->database[0] == '\0')
        return cfg_fail(err, err_cap, "udp \"%.64s\": database must not be empty", u->listen);
    if (!cfg_precision_ok(u->precision))
        return cfg_fail(err, err_cap,
                        "udp \"%.64s\": precision \"%.16s\" is not one of ns, n, u, us, ms, s, m, "
                        "h",
                        u->listen, u->precision);
    return 0;
}

/* Whether stream listener 's' listens on 'transport' ("tcp" or "udp"); no protocol: both. */
static int stream_on(const struct cfg_stream *s, const char *transport)
{
    return s->protocol == NULL || strcmp(s->protocol, transport) == 0;
}

static int validate_stream(const struct config *c, size_t i, char *err, size_t err_cap)
{
    const struct cfg_stream *s = &c->streams[i];
    const char *kind = s->kind == CFG_GRAPHITE ? "graphite" : "opentsdb";
    const char *why = s->listen == NULL ? "is missing" : cfg_hostport_why(s->listen);
    if (why != NULL)
        return cfg_fail(err, err_cap, "%s.listen \"%.64s\" %s", kind, s->listen ? s->listen : "",
                        why);
    if (s->database == NULL || s->database[0] == '\0')
        return cfg_fail(err, err_cap, "%s \"%.64s\": database must not be empty", kind,
                        s->listen);
    /* Two enabled listeners cannot share a port on the same transport. */
    for (size_t j = 0; s->enabled && j < i; j++) {
        const struct cfg_stream *o = &c->streams[j];
        int tcp = stream_on(s, "tcp") && stream_on(o, "tcp");
        int udp = stream_on(s, "udp") && stream_on(o, "udp");
        if (o->enabled && strcmp(o->listen, s->listen) == 0 && (tcp || udp))
            return cfg_fail(err, err_cap, "%s.listen \"%.64s\" is given twice", kind, s->listen);
    }
    if (s->kind == CFG_GRAPHITE) {
        struct graphite *g = NULL;
        struct graphite_opts o = {s->separator, (const char *const *)s->templates,
                                  s->n_templates, (const char *const *)s->tags, s->n_tags};
        char why_t[256];
        if (graphite_new(&g, &o, why_t, sizeof(why_t)) != 0)
            return cfg_fail(err, err_cap, "graphite \"%.64s\": %s", s->listen, why_t);
        graphite_free(g);
    }
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
        return cfg_fail(err, err_cap, "wal.dir must not be empty");
    if (c->max_bytes == 0)
        return cfg_fail(err, err_cap, "wal.max-size must be greater than 0");
    if (c->full_policy != WAL_FULL_REJECT && c->full_policy != WAL_FULL_DROP_OLDEST)
        return cfg_fail(err, err_cap, "wal.full-policy is neither reject nor drop-oldest");
    if (c->log_level == NULL || log_parse_level(c->log_level, &level) != 0)
        return cfg_fail(err, err_cap,
                        "log.level \"%.16s\" is not one of debug, info, warn, "
                        "error, off",
                        c->log_level ? c->log_level : "");
    if (c->n_backends == 0)
        return cfg_fail(err, err_cap, "no backends: add a [[backend]] or --backend NAME=URL");
    for (size_t i = 0; rc == 0 && i < c->n_backends; i++)
        rc = validate_backend(c, i, err, err_cap);
    for (size_t i = 0; rc == 0 && i < c->n_udp; i++)
        rc = validate_udp(c, i, err, err_cap);
    if (rc == 0)
        rc = cfg_validate_scrub(c, err, err_cap);
    if (rc == 0)
        rc = cfg_validate_peers(c, err, err_cap);
    if (rc == 0)
        rc = cfg_validate_shards(c, err, err_cap);
    for (size_t i = 0; rc == 0 && i < c->n_streams; i++)
        rc = validate_stream(c, i, err, err_cap);
    return rc;
}