/* The loader: the TOML tree (config/toml.c) walked with one table of fields per section, so
 * unknown keys and bad values stop the load with the file and line; our layout ([http],
 * [auth], [[auth.user]], [wal], [log], [[backend]], [[udp]]; packaging/relay.toml documents
 * every key), the dispatch to influxdb-relay's (config/influxdb_relay.c), and the flags. A load
 * builds a fresh config and swaps it in only when the whole file was good, which is what SIGHUP
 * needs. Ignored keys are accepted and logged once each (event=config_key_ignored) when the
 * load succeeds. One thread at a time (log_warn). */
#include "config/config_int.h"
#include "replay/generation.h"

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- loading: the walk over the tree ----------------------------------------------------- */

int ld_fail(struct loader *ld, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return toml_error(ld->err, ld->err_cap, ld->name, line, "%s", msg);
}

int ld_bad(struct loader *ld, const char *sect, const struct toml_node *v, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return toml_error(ld->err, ld->err_cap, ld->name, v->line, "%s.%s: %s", sect, v->key, msg);
}

int ld_wrong_type(struct loader *ld, const char *sect, const struct toml_node *v, const char *want)
{
    return ld_bad(ld, sect, v, "expected %s, got %s", want, toml_type_name(v->type));
}

void ld_warn(struct loader *ld, const char *sect, const char *key, int line, const char *why)
{
    for (size_t i = 0; i < ld->n_warn; i++)
        if (strcmp(ld->warn[i].sect, sect) == 0 && strcmp(ld->warn[i].key, key) == 0)
            return;
    if (ld->n_warn < CFG_MAX_WARNINGS)
        ld->warn[ld->n_warn++] = (struct cfg_warning){sect, key, why, line};
}

int ld_get_str(struct loader *ld, const char *sect, const struct toml_node *v, int required,
               void *dst)
{
    if (v->type != TOML_STRING)
        return ld_wrong_type(ld, sect, v, "a string");
    if (required && v->str_len == 0)
        return ld_bad(ld, sect, v, "must not be empty");
    char *old, *s = v->str_len == 0 ? NULL : xstrdup(v->str);
    memcpy(&old, dst, sizeof(old));
    free(old);
    memcpy(dst, &s, sizeof(s));
    return 0;
}

static int get_bool(struct loader *ld, const char *sect, const struct toml_node *v, int *dst)
{
    if (v->type != TOML_BOOL)
        return ld_wrong_type(ld, sect, v, "a boolean (true or false)");
    *dst = v->b;
    return 0;
}

static int get_count(struct loader *ld, const char *sect, const struct toml_node *v, size_t *dst)
{
    if (v->type != TOML_INT)
        return ld_wrong_type(ld, sect, v, "an integer");
    if (v->i < 0)
        return ld_bad(ld, sect, v, "must not be negative");
    *dst = (size_t)v->i;
    return 0;
}

static int get_size(struct loader *ld, const char *sect, const struct toml_node *v, size_t *dst)
{
    if (v->type == TOML_INT)
        return get_count(ld, sect, v, dst);
    if (v->type != TOML_STRING)
        return ld_wrong_type(ld, sect, v, "a size (bytes, or a string like \"64KiB\")");
    const char *why = cfg_size_why(v->str, dst);
    if (why != NULL)
        return ld_bad(ld, sect, v, "\"%.64s\" %s", v->str, why);
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
        return ld_bad(ld, sect, v, "%lld needs a unit (ms, s, m, h or d), e.g. \"10s\"",
                      (long long)v->i);
    }
    if (v->type != TOML_STRING)
        return ld_wrong_type(ld, sect, v, "a duration (a string like \"10s\")");
    const char *why = cfg_duration_why(v->str, dst);
    if (why != NULL)
        return ld_bad(ld, sect, v, "\"%.64s\" %s", v->str, why);
    return 0;
}

static int get_addr(struct loader *ld, const char *sect, const struct toml_node *v, char **dst)
{
    if (v->type != TOML_STRING)
        return ld_wrong_type(ld, sect, v, "a string \"HOST:PORT\"");
    const char *why = cfg_hostport_why(v->str);
    if (why != NULL)
        return ld_bad(ld, sect, v, "\"%.64s\" %s", v->str, why);
    free(*dst);
    *dst = xstrdup(v->str);
    return 0;
}

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
    FIELD("tls-cert", K_STR_OPT, struct config, tls.cert),
    FIELD("tls-key", K_STR_OPT, struct config, tls.key),
    FIELD("tls-combined-pem", K_STR_OPT, struct config, tls.combined_pem),
    FIELD("tls-client-ca", K_STR_OPT, struct config, tls.client_ca),
    FIELD("tls-min-version", K_STR_OPT, struct config, tls.min_version),
};

static const struct field auth_fields[] = {
    FIELD("enabled", K_BOOL, struct config, auth_enabled),
    FIELD("status-public", K_BOOL, struct config, status_public),
    LATER("user"),
};

static const struct field user_fields[] = {
    FIELD("name", K_STR, struct cfg_user, name),
    FIELD("password", K_STR, struct cfg_user, password),
    FIELD("admin", K_BOOL, struct cfg_user, admin),
    FIELD("token", K_STR_OPT, struct cfg_user, token),
};

static const struct field query_fields[] = {
    FIELD("statement-timeout", K_DURATION, struct config, statement_timeout_ms),
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
    FIELD("name", K_NAME, struct replay_backend_opts, name),
    FIELD("url", K_URL, struct replay_backend_opts, url),
    FIELD("username", K_STR_OPT, struct replay_backend_opts, username),
    FIELD("password", K_STR_OPT, struct replay_backend_opts, password),
    FIELD("token", K_STR_OPT, struct replay_backend_opts, token),
    FIELD("ca-file", K_STR_OPT, struct replay_backend_opts, ca_file),
    FIELD("insecure-skip-verify", K_BOOL, struct replay_backend_opts, insecure_skip_verify),
    FIELD("gzip", K_BOOL, struct replay_backend_opts, gzip),
    FIELD("timeout", K_DURATION, struct replay_backend_opts, timeout_ms),
    FIELD("connect-timeout", K_DURATION, struct replay_backend_opts, connect_timeout_ms),
    FIELD("batch-max-bytes", K_SIZE, struct replay_backend_opts, batch_max_bytes),
    FIELD("batch-min-bytes", K_SIZE, struct replay_backend_opts, batch_min_bytes),
    FIELD("batch-max-points", K_COUNT, struct replay_backend_opts, batch_max_points),
    FIELD("min-in-flight", K_COUNT, struct replay_backend_opts, min_in_flight),
    FIELD("max-in-flight", K_COUNT, struct replay_backend_opts, max_in_flight),
    FIELD("retry-max-delay", K_DURATION, struct replay_backend_opts, retry_max_delay_ms),
    FIELD("start", K_START, struct replay_backend_opts, start),
    FIELD("create-database", K_BOOL, struct replay_backend_opts, create_database),
    FIELD("give-up-after", K_DURATION, struct replay_backend_opts, give_up_after_ms),
    FIELD("give-up-size", K_SIZE, struct replay_backend_opts, give_up_bytes),
    FIELD("api", K_API, struct replay_backend_opts, api),
    FIELD("org", K_STR_OPT, struct replay_backend_opts, org),
    FIELD("bucket-template", K_STR_OPT, struct replay_backend_opts, bucket_template),
    FIELD("database-template", K_STR_OPT, struct replay_backend_opts, database_template),
    FIELD("accept-partial", K_BOOL, struct replay_backend_opts, accept_partial),
    FIELD("no-sync", K_BOOL, struct replay_backend_opts, no_sync),
};

static const struct field udp_fields[] = {
    FIELD("listen", K_ADDR, struct cfg_udp, listen),
    FIELD("database", K_STR, struct cfg_udp, database),
    FIELD("retention-policy", K_STR_OPT, struct cfg_udp, retention_policy),
    FIELD("precision", K_PRECISION, struct cfg_udp, precision),
    FIELD("read-buffer", K_SIZE, struct cfg_udp, read_buffer_bytes),
};

/* [[graphite]] and [[opentsdb]]: ours and influxd 1.6's names. influxd's batching keys are
 * accepted and have no effect: every stream listener commits within 100 ms or 1 MiB. */
static const struct field graphite_fields[] = {
    FIELD("listen", K_ADDR, struct cfg_stream, listen),
    FIELD("bind-address", K_ADDR, struct cfg_stream, listen),
    FIELD("protocol", K_STR, struct cfg_stream, protocol),
    FIELD("database", K_STR, struct cfg_stream, database),
    FIELD("retention-policy", K_STR_OPT, struct cfg_stream, retention_policy),
    FIELD("separator", K_STR_OPT, struct cfg_stream, separator),
    FIELD("enabled", K_BOOL, struct cfg_stream, enabled),
    FIELD("udp-read-buffer", K_SIZE, struct cfg_stream, read_buffer_bytes),
    LATER("templates"),
    LATER("tags"),
    ACCEPTED("batch-size"),
    ACCEPTED("batch-pending"),
    ACCEPTED("batch-timeout"),
    ACCEPTED("consistency-level"),
};

static const struct field opentsdb_fields[] = {
    FIELD("listen", K_ADDR, struct cfg_stream, listen),
    FIELD("bind-address", K_ADDR, struct cfg_stream, listen),
    FIELD("database", K_STR, struct cfg_stream, database),
    FIELD("retention-policy", K_STR_OPT, struct cfg_stream, retention_policy),
    FIELD("enabled", K_BOOL, struct cfg_stream, enabled),
    ACCEPTED("batch-size"),
    ACCEPTED("batch-pending"),
    ACCEPTED("batch-timeout"),
    ACCEPTED("consistency-level"),
    ACCEPTED("log-point-errors"),
    IGNORED("tls-enabled", "TLS on stream listeners is not supported; the listener is plain TCP"),
    IGNORED("certificate", "TLS on stream listeners is not supported"),
};

static int apply_field(struct loader *ld, const char *sect, const struct toml_node *v,
                       const struct field *f, void *base)
{
    if (f->kind == K_IGNORED) {
        ld_warn(ld, sect, v->key, v->line, f->why);
        return 0;
    }
    if (f->kind == K_LATER || f->kind == K_ACCEPTED)
        return 0;
    void *dst = (char *)base + f->off; /* only now: 'base' is NULL for tables of such keys */
    const char *why;
    int rc;
    switch (f->kind) {
    case K_STR:
        return ld_get_str(ld, sect, v, 1, dst);
    case K_STR_OPT:
        return ld_get_str(ld, sect, v, 0, dst);
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
            return ld_wrong_type(ld, sect, v, "a string");
        if (!cfg_name_ok(v->str))
            return ld_bad(ld, sect, v, "'%.80s' %s", v->str, cfg_name_rule);
        return ld_get_str(ld, sect, v, 1, dst);
    case K_URL: {
        char *url;
        rc = ld_get_str(ld, sect, v, 1, dst);
        if (rc != 0)
            return rc;
        memcpy(&url, dst, sizeof(url));
        cfg_url_normalise(url);
        why = config_url_why(url);
        if (why != NULL)
            return ld_bad(ld, sect, v, "\"%.80s\" %s", v->str, why);
        return 0;
    }
    case K_PRECISION:
        if (v->type != TOML_STRING)
            return ld_wrong_type(ld, sect, v, "a string");
        if (!cfg_precision_ok(v->str))
            return ld_bad(ld, sect, v, "\"%.16s\" is not one of ns, n, u, us, ms, s, m, h", v->str);
        if (v->str_len == 0)
            return 0;
        return ld_get_str(ld, sect, v, 1, dst);
    case K_LEVEL: {
        enum log_level level;
        if (v->type != TOML_STRING)
            return ld_wrong_type(ld, sect, v, "a string");
        if (log_parse_level(v->str, &level) != 0)
            return ld_bad(ld, sect, v, "\"%.16s\" is not one of debug, info, warn, error, off",
                          v->str);
        return ld_get_str(ld, sect, v, 1, dst);
    }
    case K_FULL:
        if (v->type != TOML_STRING)
            return ld_wrong_type(ld, sect, v, "a string");
        if (strcmp(v->str, "reject") == 0)
            *(enum wal_full_policy *)dst = WAL_FULL_REJECT;
        else if (strcmp(v->str, "drop-oldest") == 0)
            *(enum wal_full_policy *)dst = WAL_FULL_DROP_OLDEST;
        else
            return ld_bad(ld, sect, v, "\"%.16s\" is not one of reject, drop-oldest", v->str);
        return 0;
    case K_START:
        if (v->type != TOML_STRING)
            return ld_wrong_type(ld, sect, v, "a string");
        if (strcmp(v->str, "latest") == 0)
            *(enum replay_start *)dst = REPLAY_START_LATEST;
        else if (strcmp(v->str, "earliest") == 0)
            *(enum replay_start *)dst = REPLAY_START_EARLIEST;
        else
            return ld_bad(ld, sect, v, "\"%.16s\" is not one of latest, earliest", v->str);
        return 0;
    case K_API:
        if (v->type != TOML_STRING)
            return ld_wrong_type(ld, sect, v, "a string");
        if (replay_api_parse(v->str, (enum replay_api *)dst) != 0)
            return ld_bad(ld, sect, v, "\"%.16s\" is not one of v1, v2, v3", v->str);
        return 0;
    case K_KIB: {
        size_t kib;
        rc = get_count(ld, sect, v, &kib);
        if (rc != 0)
            return rc;
        if (kib > SIZE_MAX / 1024)
            return ld_bad(ld, sect, v, "is too large");
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

int ld_apply_fields(struct loader *ld, const struct toml_node *table, const char *title,
                    const char *sect, const struct field *fields, size_t n_fields, void *base)
{
    for (size_t i = 0; i < table->n_kids; i++) {
        const struct toml_node *v = table->kids[i];
        const struct field *f = NULL;
        for (size_t j = 0; j < n_fields && f == NULL; j++)
            if (strcmp(fields[j].key, v->key) == 0)
                f = &fields[j];
        if (f == NULL)
            return ld_fail(ld, v->line, "unknown key '%.80s' in %s", v->key, title);
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
    return ld_fail(ld, v->line, "'%.80s' must be the table %s, not %s", v->key, title,
                   toml_type_name(v->type));
}

int ld_need_tables(struct loader *ld, const struct toml_node *v, const char *title)
{
    if (v->type != TOML_ARRAY)
        return ld_fail(ld, v->line, "'%.80s' must be an array of tables %s, not %s", v->key, title,
                       toml_type_name(v->type));
    for (size_t i = 0; i < v->n_kids; i++)
        if (v->kids[i]->type != TOML_TABLE)
            return ld_fail(ld, v->kids[i]->line, "'%.80s' must be an array of tables %s, not %s",
                           v->key, title, toml_type_name(v->kids[i]->type));
    return 0;
}

int ld_add_listen(struct loader *ld, char *addr, int line)
{
    if (!ld->file_listen) {
        cfg_listen_clear(ld->c);
        ld->file_listen = 1;
    }
    if (ld->c->n_listen >= CFG_MAX_LIST) {
        free(addr);
        return ld_fail(ld, line, "more than %d listen addresses", CFG_MAX_LIST);
    }
    cfg_listen_push(ld->c, addr, NULL);
    return 0;
}

/* http.listen: one address or an array of them. */
static int load_listen(struct loader *ld, const struct toml_node *v)
{
    if (v->type == TOML_STRING) {
        char *addr = NULL;
        int rc = get_addr(ld, "http", v, &addr);
        return rc != 0 ? rc : ld_add_listen(ld, addr, v->line);
    }
    if (v->type != TOML_ARRAY)
        return ld_wrong_type(ld, "http", v, "a string or an array of strings");
    if (!ld->file_listen) { /* an empty list says "none", which config_validate reports */
        cfg_listen_clear(ld->c);
        ld->file_listen = 1;
    }
    for (size_t i = 0; i < v->n_kids; i++) {
        const struct toml_node *e = v->kids[i];
        char *addr = NULL;
        if (e->type != TOML_STRING)
            return ld_fail(ld, e->line, "http.listen: expected strings, got %s",
                           toml_type_name(e->type));
        const char *why = cfg_hostport_why(e->str);
        if (why != NULL)
            return ld_fail(ld, e->line, "http.listen: \"%.64s\" %s", e->str, why);
        addr = xstrdup(e->str);
        int rc = ld_add_listen(ld, addr, e->line);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int load_http(struct loader *ld, const struct toml_node *t)
{
    struct config *c = ld->c;
    int rc = ld_apply_fields(ld, t, "[http]", "http", http_fields, NFIELDS(http_fields), c);
    const struct toml_node *v = toml_get(t, "listen");
    if (rc == 0 && v != NULL)
        rc = load_listen(ld, v);
    /* [http]'s TLS keys are every listener's, the built-in one included. */
    for (size_t i = 0; rc == 0 && i < c->n_listen; i++) {
        cfg_tls_deinit(&c->listen_tls[i]);
        cfg_tls_copy(&c->listen_tls[i], &c->tls);
    }
    /* The gzip bound follows the body limit unless it is set too. */
    if (rc == 0 && toml_get(t, "max-inflated-size") == NULL)
        c->max_inflated_bytes = c->max_body_bytes > SIZE_MAX / 4 ? SIZE_MAX : 4 * c->max_body_bytes;
    return rc;
}

static int load_auth(struct loader *ld, const struct toml_node *t)
{
    struct config *c = ld->c;
    int rc = ld_apply_fields(ld, t, "[auth]", "auth", auth_fields, NFIELDS(auth_fields), c);
    const struct toml_node *users = toml_get(t, "user");
    if (rc != 0 || users == NULL)
        return rc;
    rc = ld_need_tables(ld, users, "[[auth.user]]");
    for (size_t i = 0; rc == 0 && i < users->n_kids; i++) {
        const struct toml_node *u = users->kids[i];
        if (c->n_users >= CFG_MAX_USERS)
            return ld_fail(ld, u->line, "more than %d users", CFG_MAX_USERS);
        c->users = xrealloc(c->users, (c->n_users + 1) * sizeof(*c->users));
        struct cfg_user *user = &c->users[c->n_users++];
        memset(user, 0, sizeof(*user));
        rc = ld_apply_fields(ld, u, "[[auth.user]]", "auth.user", user_fields, NFIELDS(user_fields),
                             user);
        if (rc == 0 && (user->name == NULL || user->password == NULL))
            rc = ld_fail(ld, u->line, "[[auth.user]] needs '%s'",
                         user->name == NULL ? "name" : "password");
        for (size_t j = 0; rc == 0 && j + 1 < c->n_users; j++)
            if (strcmp(c->users[j].name, user->name) == 0)
                rc = ld_fail(ld, u->line, "auth.user: duplicate name '%.64s'", user->name);
    }
    return rc;
}

int ld_add_backend(struct loader *ld, struct replay_backend_opts *b, int line, int merge,
                   size_t *index)
{
    struct config *c = ld->c;
    if (!ld->file_backends) {
        cfg_backends_clear(c);
        ld->file_backends = 1;
    }
    for (size_t i = 0; i < c->n_backends; i++) {
        const struct replay_backend_opts *o = &c->backends[i];
        if (strcmp(o->name, b->name) != 0)
            continue;
        if (!merge) {
            int rc = ld_fail(ld, line, "duplicate backend name '%s' (first on line %d)", b->name,
                             ld->backend_lines[i]);
            config_backend_deinit(b);
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
            rc = ld_fail(ld, line, "output '%s' differs from the output of that name on line %d",
                         b->name, ld->backend_lines[i]);
        config_backend_deinit(b);
        *index = i;
        return rc;
    }
    if (c->n_backends >= CFG_MAX_LIST) {
        config_backend_deinit(b);
        return ld_fail(ld, line, "more than %d backends", CFG_MAX_LIST);
    }
    ld->backend_lines =
        xrealloc(ld->backend_lines, (c->n_backends + 1) * sizeof(*ld->backend_lines));
    ld->backend_lines[c->n_backends] = line;
    *index = c->n_backends;
    cfg_backend_push(c, b);
    return 0;
}

static int load_backend(struct loader *ld, const struct toml_node *t)
{
    struct replay_backend_opts b;
    size_t index;
    replay_backend_opts_defaults(&b);
    int rc = ld_apply_fields(ld, t, "[[backend]]", "backend", backend_fields,
                             NFIELDS(backend_fields), &b);
    if (rc == 0 && (b.name == NULL || b.url == NULL))
        rc = ld_fail(ld, t->line, "[[backend]] needs '%s'", b.name == NULL ? "name" : "url");
    if (rc != 0) {
        config_backend_deinit(&b);
        return rc;
    }
    return ld_add_backend(ld, &b, t->line, 0, &index);
}

int ld_add_udp(struct loader *ld, struct cfg_udp *u, int line)
{
    if (ld->c->n_udp >= CFG_MAX_LIST) {
        cfg_udp_deinit(u);
        return ld_fail(ld, line, "more than %d UDP listeners", CFG_MAX_LIST);
    }
    cfg_udp_push(ld->c, u);
    return 0;
}

static const struct field bucket_fields[] = {
    FIELD("name", K_STR, struct cfg_bucket, name),
    FIELD("database", K_STR, struct cfg_bucket, database),
    FIELD("retention-policy", K_STR_OPT, struct cfg_bucket, retention_policy),
};

static int load_bucket(struct loader *ld, const struct toml_node *t)
{
    struct config *c = ld->c;
    if (c->n_buckets >= CFG_MAX_LIST)
        return ld_fail(ld, t->line, "more than %d [[bucket]] mappings", CFG_MAX_LIST);
    struct cfg_bucket b = {0};
    int rc = ld_apply_fields(ld, t, "[[bucket]]", "bucket", bucket_fields, NFIELDS(bucket_fields),
                             &b);
    if (rc == 0 && (b.name == NULL || b.database == NULL || b.name[0] == '\0' ||
                    b.database[0] == '\0'))
        rc = ld_fail(ld, t->line, "[[bucket]] needs a non-empty '%s'",
                     b.name == NULL || b.name[0] == '\0' ? "name" : "database");
    for (size_t i = 0; rc == 0 && i < c->n_buckets; i++)
        if (strcmp(c->buckets[i].name, b.name) == 0)
            rc = ld_fail(ld, t->line, "bucket: duplicate name '%.64s'", b.name);
    if (rc != 0) {
        free(b.name);
        free(b.database);
        free(b.retention_policy);
        return rc;
    }
    c->buckets = cfg_push(c->buckets, &c->n_buckets, &b, sizeof(b));
    return 0;
}

static int load_udp(struct loader *ld, const struct toml_node *t)
{
    struct cfg_udp u;
    cfg_udp_defaults(&u);
    int rc = ld_apply_fields(ld, t, "[[udp]]", "udp", udp_fields, NFIELDS(udp_fields), &u);
    if (rc == 0 && (u.listen == NULL || u.database == NULL))
        rc = ld_fail(ld, t->line, "[[udp]] needs '%s'", u.listen == NULL ? "listen" : "database");
    if (rc != 0) {
        cfg_udp_deinit(&u);
        return rc;
    }
    return ld_add_udp(ld, &u, t->line);
}

/* A list of strings (templates, tags) into *out. */
static int get_strings(struct loader *ld, const char *sect, const struct toml_node *v, char ***out,
                       size_t *n)
{
    if (v->type != TOML_ARRAY)
        return ld_wrong_type(ld, sect, v, "an array of strings");
    if (v->n_kids > CFG_MAX_LIST)
        return ld_bad(ld, sect, v, "more than %d entries", CFG_MAX_LIST);
    for (size_t i = 0; i < v->n_kids; i++)
        if (v->kids[i]->type != TOML_STRING)
            return ld_wrong_type(ld, sect, v->kids[i], "a string");
    *out = xcalloc(v->n_kids ? v->n_kids : 1, sizeof(**out));
    for (size_t i = 0; i < v->n_kids; i++)
        (*out)[i] = xstrdup(v->kids[i]->str);
    *n = v->n_kids;
    return 0;
}

static int load_stream(struct loader *ld, const struct toml_node *t, enum cfg_stream_kind kind)
{
    struct cfg_stream s;
    memset(&s, 0, sizeof(s));
    s.kind = kind;
    s.enabled = 1;
    const char *title = kind == CFG_GRAPHITE ? "[[graphite]]" : "[[opentsdb]]";
    const char *sect = kind == CFG_GRAPHITE ? "graphite" : "opentsdb";
    int rc = kind == CFG_GRAPHITE
                 ? ld_apply_fields(ld, t, title, sect, graphite_fields, NFIELDS(graphite_fields), &s)
                 : ld_apply_fields(ld, t, title, sect, opentsdb_fields, NFIELDS(opentsdb_fields), &s);
    const struct toml_node *v;
    if (rc == 0 && kind == CFG_GRAPHITE && (v = toml_get(t, "templates")) != NULL)
        rc = get_strings(ld, sect, v, &s.templates, &s.n_templates);
    if (rc == 0 && kind == CFG_GRAPHITE && (v = toml_get(t, "tags")) != NULL)
        rc = get_strings(ld, sect, v, &s.tags, &s.n_tags);
    if (rc == 0 && s.protocol == NULL)
        s.protocol = xstrdup("tcp");
    if (rc == 0 && strcmp(s.protocol, "tcp") != 0 && (kind != CFG_GRAPHITE || strcmp(s.protocol, "udp") != 0))
        rc = ld_fail(ld, t->line, "%s protocol must be %s", title,
                     kind == CFG_GRAPHITE ? "\"tcp\" or \"udp\"" : "\"tcp\"");
    /* influxd's defaults: graphite listens on :2003 into "graphite", opentsdb on :4242 into
     * "opentsdb". */
    if (rc == 0 && s.listen == NULL)
        s.listen = xstrdup(kind == CFG_GRAPHITE ? ":2003" : ":4242");
    if (rc == 0 && s.database == NULL)
        s.database = xstrdup(kind == CFG_GRAPHITE ? "graphite" : "opentsdb");
    if (rc == 0 && ld->c->n_streams >= CFG_MAX_LIST)
        rc = ld_fail(ld, t->line, "more than %d stream listeners", CFG_MAX_LIST);
    if (rc != 0) {
        cfg_stream_deinit(&s);
        return rc;
    }
    cfg_stream_push(ld->c, &s);
    return 0;
}

static int load_root(struct loader *ld, const struct toml_node *root)
{
    int relay = compat_is_layout(root);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < root->n_kids; i++) {
        const struct toml_node *v = root->kids[i];
        const char *k = v->key;
        if (strcmp(k, "http") == 0 && !relay) {
            rc = need_table(ld, v, "[http]");
            if (rc == 0)
                rc = load_http(ld, v);
        } else if (strcmp(k, "http") == 0) {
            rc = ld_need_tables(ld, v, "[[http]]");
            for (size_t j = 0; rc == 0 && j < v->n_kids; j++)
                rc = compat_load_http(ld, v->kids[j]);
        } else if (strcmp(k, "auth") == 0) {
            rc = need_table(ld, v, "[auth]");
            if (rc == 0)
                rc = load_auth(ld, v);
        } else if (strcmp(k, "wal") == 0) {
            rc = need_table(ld, v, "[wal]");
            if (rc == 0)
                rc = ld_apply_fields(ld, v, "[wal]", "wal", wal_fields, NFIELDS(wal_fields), ld->c);
            if (rc == 0 && toml_get(v, "min-free") != NULL)
                ld->c->min_free_set = 1;
        } else if (strcmp(k, "query") == 0 && !relay) {
            rc = need_table(ld, v, "[query]");
            if (rc == 0)
                rc = ld_apply_fields(ld, v, "[query]", "query", query_fields,
                                     NFIELDS(query_fields), ld->c);
        } else if (strcmp(k, "log") == 0) {
            rc = need_table(ld, v, "[log]");
            if (rc == 0)
                rc = ld_apply_fields(ld, v, "[log]", "log", log_fields, NFIELDS(log_fields), ld->c);
        } else if (strcmp(k, "scrub") == 0 && !relay) {
            rc = need_table(ld, v, "[scrub]");
            if (rc == 0)
                rc = cfg_load_scrub(ld, v);
        } else if (strcmp(k, "relay") == 0 && !relay) {
            rc = need_table(ld, v, "[relay]");
            if (rc == 0)
                rc = cfg_load_relay(ld, v);
        } else if (strcmp(k, "peer") == 0 && !relay) {
            rc = ld_need_tables(ld, v, "[[peer]]");
            for (size_t j = 0; rc == 0 && j < v->n_kids; j++)
                rc = cfg_load_peer(ld, v->kids[j]);
        } else if (strcmp(k, "shard") == 0 && !relay) {
            rc = ld_need_tables(ld, v, "[[shard]]");
            for (size_t j = 0; rc == 0 && j < v->n_kids; j++)
                rc = cfg_load_shard(ld, v->kids[j]);
        } else if (strcmp(k, "sharding") == 0 && !relay) {
            rc = need_table(ld, v, "[sharding]");
            if (rc == 0)
                rc = cfg_load_sharding(ld, v);
        } else if (strcmp(k, "backend") == 0) {
            rc = ld_need_tables(ld, v, "[[backend]]");
            for (size_t j = 0; rc == 0 && j < v->n_kids; j++)
                rc = load_backend(ld, v->kids[j]);
        } else if (strcmp(k, "bucket") == 0 && !relay) {
            rc = ld_need_tables(ld, v, "[[bucket]]");
            for (size_t j = 0; rc == 0 && j < v->n_kids; j++)
                rc = load_bucket(ld, v->kids[j]);
        } else if (strcmp(k, "udp") == 0) {
            rc = ld_need_tables(ld, v, "[[udp]]");
            for (size_t j = 0; rc == 0 && j < v->n_kids; j++)
                rc = relay ? compat_load_udp(ld, v->kids[j]) : load_udp(ld, v->kids[j]);
        } else if (strcmp(k, "graphite") == 0 || strcmp(k, "opentsdb") == 0) {
            int g = k[0] == 'g';
            rc = ld_need_tables(ld, v, g ? "[[graphite]]" : "[[opentsdb]]");
            for (size_t j = 0; rc == 0 && j < v->n_kids; j++)
                rc = load_stream(ld, v->kids[j], g ? CFG_GRAPHITE : CFG_OPENTSDB);
        } else if (v->type == TOML_TABLE) {
            rc = ld_fail(ld, v->line, "unknown table [%.80s]", k);
        } else if (v->type == TOML_ARRAY && v->n_kids > 0 && v->kids[0]->type == TOML_TABLE) {
            rc = ld_fail(ld, v->line, "unknown table [[%.80s]]", k);
        } else {
            rc = ld_fail(ld, v->line, "unknown key '%.80s' at the top level", k);
        }
    }
    if (rc == 0 && relay)
        compat_check_routing(ld);
    return rc;
}

static void log_warnings(const struct loader *ld)
{
    char file[256];
    log_quote(file, sizeof(file), ld->name, strlen(ld->name));
    for (size_t i = 0; i < ld->n_warn; i++) {
        const struct cfg_warning *w = &ld->warn[i];
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
        cfg_fail(err, err_cap, "%s: cannot open: %s", path, strerror(-rc));
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
            cfg_fail(err, err_cap, "%s: cannot read: %s", path, strerror(-rc));
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
        return cfg_fail(err, err_cap, "backend \"%.200s\": expected NAME=URL", arg);
    struct replay_backend_opts b;
    replay_backend_opts_defaults(&b);
    char *url = xstrdup(eq + 1);
    cfg_url_normalise(url);
    b.name = xstrndup(arg, (size_t)(eq - arg));
    b.url = url;
    const char *why = config_url_why(b.url);
    int rc = 0;
    if (!cfg_name_ok(b.name))
        rc = cfg_fail(err, err_cap, "backend \"%.200s\": the name %s", arg, cfg_name_rule);
    else if (why != NULL)
        rc = cfg_fail(err, err_cap, "backend \"%.200s\": the URL %s", arg, why);
    if (rc == 0 && !c->backend_flags_seen) {
        cfg_backends_clear(c);
        c->backend_flags_seen = 1;
    }
    for (size_t i = 0; rc == 0 && i < c->n_backends; i++)
        if (strcmp(c->backends[i].name, b.name) == 0)
            rc = cfg_fail(err, err_cap, "backend \"%.200s\": the name '%s' is already used", arg,
                          b.name);
    if (rc == 0 && c->n_backends >= CFG_MAX_LIST)
        rc = cfg_fail(err, err_cap, "backend \"%.200s\": more than %d backends", arg, CFG_MAX_LIST);
    if (rc != 0) {
        config_backend_deinit(&b);
        return rc;
    }
    cfg_backend_push(c, &b);
    return 0;
}

/* "ADDR:PORT=DB[@PRECISION]", the form of every stream listener's flag ('kind' names it in
 * messages): the address, the database and the precision (NULL when none is given) as new
 * strings, or IWR_EPARSE with the reason in err. The precision follows the last '@', so a
 * database name may hold an '@' only when a precision follows it. */
static int stream_flag_split(const char *kind, const char *arg, char **listen, char **db,
                             char **precision, char *err, size_t err_cap)
{
    const char *eq = strchr(arg, '=');
    *listen = *db = *precision = NULL;
    if (eq == NULL || eq == arg || eq[1] == '\0')
        return cfg_fail(err, err_cap, "%s \"%.200s\": expected ADDR:PORT=DATABASE",
                        kind, arg);
    const char *at = strrchr(eq + 1, '@');
    const char *why = NULL;
    *listen = xstrndup(arg, (size_t)(eq - arg));
    if (at != NULL) {
        *db = xstrndup(eq + 1, (size_t)(at - eq - 1));
        *precision = xstrdup(at + 1);
    } else {
        *db = xstrdup(eq + 1);
    }
    int rc = 0;
    if ((why = cfg_hostport_why(*listen)) != NULL)
        rc = cfg_fail(err, err_cap, "%s \"%.200s\": the address %s", kind, arg, why);
    else if ((*db)[0] == '\0')
        rc = cfg_fail(err, err_cap, "%s \"%.200s\": the database must not be empty", kind, arg);
    else if (*precision != NULL && ((*precision)[0] == '\0' || !cfg_precision_ok(*precision)))
        rc = cfg_fail(err, err_cap,
                      "%s \"%.200s\": precision \"%.16s\" is not one of ns, n, u, us, ms, s, m, h",
                      kind, arg, *precision);
    if (rc != 0) {
        free(*listen);
        free(*db);
        free(*precision);
        *listen = *db = *precision = NULL;
    }
    return rc;
}

int config_add_udp_flag(struct config *c, const char *arg, char *err, size_t err_cap)
{
    struct cfg_udp u;
    cfg_udp_defaults(&u);
    char *precision;
    int rc = stream_flag_split("udp", arg, &u.listen, &u.database, &precision, err, err_cap);
    if (rc == 0 && precision != NULL) {
        free(u.precision);
        u.precision = precision;
    }
    if (rc == 0 && c->n_udp >= CFG_MAX_LIST)
        rc =
            cfg_fail(err, err_cap, "udp \"%.200s\": more than %d UDP listeners", arg, CFG_MAX_LIST);
    if (rc != 0) {
        cfg_udp_deinit(&u);
        return rc;
    }
    cfg_udp_push(c, &u);
    return 0;
}

/* --graphite and --opentsdb: ADDR:PORT=DB[@PRECISION]. The precision is accepted for the one
 * syntax of every stream listener; both protocols say their own (seconds, or influxd's rules
 * for OpenTSDB's 10 and 13 digit timestamps). */
static int add_stream_flag(struct config *c, enum cfg_stream_kind kind, const char *arg,
                           char *err, size_t err_cap)
{
    const char *name = kind == CFG_GRAPHITE ? "graphite" : "opentsdb";
    struct cfg_stream s;
    memset(&s, 0, sizeof(s));
    s.kind = kind;
    s.enabled = 1;
    if (kind == CFG_OPENTSDB)
        s.protocol = xstrdup("tcp");
    char *precision;
    int rc = stream_flag_split(name, arg, &s.listen, &s.database, &precision, err, err_cap);
    free(precision);
    if (rc == 0 && c->n_streams >= CFG_MAX_LIST)
        rc = cfg_fail(err, err_cap, "%s \"%.200s\": more than %d stream listeners", name, arg,
                      CFG_MAX_LIST);
    if (rc != 0) {
        cfg_stream_deinit(&s);
        return rc;
    }
    cfg_stream_push(c, &s);
    return 0;
}

int config_add_graphite_flag(struct config *c, const char *arg, char *err, size_t err_cap)
{
    return add_stream_flag(c, CFG_GRAPHITE, arg, err, err_cap);
}

int config_add_opentsdb_flag(struct config *c, const char *arg, char *err, size_t err_cap)
{
    return add_stream_flag(c, CFG_OPENTSDB, arg, err, err_cap);
}

int config_set_listen_flag(struct config *c, const char *arg, char *err, size_t err_cap)
{
    const char *why = cfg_hostport_why(arg);
    if (why != NULL)
        return cfg_fail(err, err_cap, "listen \"%.200s\" %s", arg, why);
    if (!c->listen_flags_seen) {
        /* A flag's listener takes [http]'s TLS keys. Listeners whose TLS came from elsewhere
         * (influxdb-relay's per-[[http]] ssl-combined-pem) must not turn plain by a flag. */
        for (size_t i = 0; !config_tls_on(&c->tls) && i < c->n_listen; i++)
            if (config_tls_on(&c->listen_tls[i]))
                return cfg_fail(err, err_cap,
                                "listen \"%.200s\": the file's listener %.64s serves TLS (its "
                                "[[http]] ssl-combined-pem); --listen would replace it with plain "
                                "HTTP: set the addresses in the file instead",
                                arg, c->listen[i]);
        cfg_listen_clear(c);
        c->listen_flags_seen = 1;
    }
    if (c->n_listen >= CFG_MAX_LIST)
        return cfg_fail(err, err_cap, "listen \"%.200s\": more than %d addresses", arg,
                        CFG_MAX_LIST);
    cfg_listen_push(c, xstrdup(arg), &c->tls);
    return 0;
}