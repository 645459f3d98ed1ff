/* influxdb-relay's relay.toml layout, read by the loader (config/loader.c) when it detects it:
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
 *   [[http]] ssl-combined-pem      -> that listener's http.tls-combined-pem: it serves HTTPS,
 *                                     the other [[http]] listeners plain HTTP
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
 *   [[http]] default-retention-policy writes without rp= go to the database's default policy
 *   [[http]] default-ping-response    /ping always answers 204
 *   output buffer-size-mb             everything is buffered on disk (wal.max-size bounds it)
 *   [[udp]] output (name, location, mtu)  UDP points go to every backend over HTTP */
#include "config/config_int.h"

#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>

static const struct field relay_http_fields[] = {
    ACCEPTED("name"),
    LATER("bind-addr"),
    LATER("output"),
    LATER("ssl-combined-pem"),
    IGNORED("default-retention-policy",
            "writes without rp= go to the database's default retention policy"),
    IGNORED("default-ping-response", "/ping always answers 204"),
};

static const struct field relay_output_fields[] = {
    LATER("name"),
    FIELD("location", K_URL, struct replay_backend_opts, url),
    FIELD("timeout", K_DURATION, struct replay_backend_opts, timeout_ms),
    FIELD("skip-tls-verification", K_BOOL, struct replay_backend_opts, insecure_skip_verify),
    FIELD("http-user", K_STR_OPT, struct replay_backend_opts, username),
    FIELD("http-pass", K_STR_OPT, struct replay_backend_opts, password),
    FIELD("max-batch-kb", K_KIB, struct replay_backend_opts, batch_max_bytes),
    FIELD("max-delay-interval", K_DURATION, struct replay_backend_opts, retry_max_delay_ms),
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

/* influxdb-relay's bind-addr: Go reads ":9096" as every interface. */
static int bind_addr(struct loader *ld, const char *sect, const struct toml_node *t, char **out)
{
    const struct toml_node *v = toml_get(t, "bind-addr");
    if (v == NULL)
        return ld_fail(ld, t->line, "[[%s]] needs 'bind-addr'", sect);
    if (v->type != TOML_STRING)
        return ld_wrong_type(ld, sect, v, "a string \"HOST:PORT\"");
    char *addr;
    if (v->str[0] == ':') {
        size_t n = strlen(v->str);
        addr = xmalloc(n + 8);
        memcpy(addr, "0.0.0.0", 7);
        memcpy(addr + 7, v->str, n + 1);
    } else {
        addr = xstrdup(v->str);
    }
    const char *why = cfg_hostport_why(addr);
    if (why != NULL) {
        free(addr);
        return ld_bad(ld, sect, v, "\"%.64s\" %s", v->str, why);
    }
    *out = addr;
    return 0;
}

static int load_output(struct loader *ld, const struct toml_node *o)
{
    struct replay_backend_opts b;
    size_t index = 0;
    replay_backend_opts_defaults(&b);
    int rc = ld_apply_fields(ld, o, "[[http]] output", "http.output", relay_output_fields,
                             NFIELDS(relay_output_fields), &b);
    const struct toml_node *name = toml_get(o, "name");
    if (rc == 0 && b.url == NULL)
        rc = ld_fail(ld, o->line, "[[http]] output needs 'location'");
    if (rc == 0 && name != NULL)
        rc = ld_get_str(ld, "http.output", name, 0, &b.name);
    if (rc == 0 && b.name == NULL)
        b.name = cfg_name_from_url(b.url);
    if (rc == 0 && !cfg_name_ok(b.name))
        rc = ld_fail(ld, name != NULL ? name->line : o->line, "http.output.name: '%.80s' %s",
                     b.name, cfg_name_rule);
    if (rc != 0) {
        config_backend_deinit(&b);
        return rc;
    }
    rc = ld_add_backend(ld, &b, o->line, 1, &index);
    if (rc == 0) {
        ld->refs = xrealloc(ld->refs, (ld->n_refs + 1) * sizeof(*ld->refs));
        ld->refs[ld->n_refs++] = (struct cfg_backend_ref){ld->n_http, index};
    }
    return rc;
}

int compat_load_http(struct loader *ld, const struct toml_node *t)
{
    char *addr = NULL;
    int rc = ld_apply_fields(ld, t, "[[http]]", "http", relay_http_fields,
                             NFIELDS(relay_http_fields), NULL);
    if (rc == 0)
        rc = bind_addr(ld, "http", t, &addr);
    if (rc == 0)
        rc = ld_add_listen(ld, addr, t->line);
    /* TLS per [[http]] table: this listener only. */
    const struct toml_node *pem = toml_get(t, "ssl-combined-pem");
    if (rc == 0 && pem != NULL)
        rc = ld_get_str(ld, "http", pem, 0, &ld->c->listen_tls[ld->c->n_listen - 1].combined_pem);
    const struct toml_node *out = toml_get(t, "output");
    if (rc == 0 && out != NULL)
        rc = ld_need_tables(ld, out, "(output = [{ name = ..., location = ... }])");
    for (size_t i = 0; rc == 0 && out != NULL && i < out->n_kids; i++)
        rc = load_output(ld, out->kids[i]);
    ld->n_http++;
    return rc;
}

int compat_load_udp(struct loader *ld, const struct toml_node *t)
{
    struct cfg_udp u;
    cfg_udp_defaults(&u);
    int rc =
        ld_apply_fields(ld, t, "[[udp]]", "udp", relay_udp_fields, NFIELDS(relay_udp_fields), &u);
    if (rc == 0)
        rc = bind_addr(ld, "udp", t, &u.listen);
    if (rc == 0 && u.database == NULL)
        rc = ld_fail(ld, t->line,
                     "[[udp]] needs 'database': influxdb-relay forwarded datagrams, this relay "
                     "stores them and writes them to every backend, so add database = \"NAME\"");
    if (rc != 0) {
        cfg_udp_deinit(&u);
        return rc;
    }
    return ld_add_udp(ld, &u, t->line);
}

/* influxdb-relay gives each [[http]] its own outputs; here each listener feeds every backend.
 * Say so when the tables did not all list the same outputs. */
void compat_check_routing(struct loader *ld)
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
            ld_warn(ld, "http", "output", 0,
                    "[[http]] tables list different outputs; here every listener "
                    "feeds every backend");
            break;
        }
    }
    free(all);
    free(mine);
}

int compat_is_layout(const struct toml_node *root)
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