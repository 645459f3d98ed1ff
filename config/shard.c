/* [[shard]] (a named group of mirrored backends) and [sharding] (the shard key), and the
 * --shard NAME=BACKEND,BACKEND flag: defaults, loading, checks and freeing in one place.
 * Without any shard every backend gets every record, as before. One thread at a time, as the
 * rest of config/. */
#include "config/config_int.h"

#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>

static void strs_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void shard_deinit(struct cfg_shard *s)
{
    free(s->name);
    strs_free(s->backends, s->n_backends);
    memset(s, 0, sizeof(*s));
}

void cfg_shards_defaults(struct config *c)
{
    c->shards = NULL;
    c->n_shards = 0;
    c->shard_key = xcalloc(2, sizeof(*c->shard_key));
    c->shard_key[0] = xstrdup("database");
    c->shard_key[1] = xstrdup("measurement");
    c->n_shard_key = 2;
    c->shard_flags_seen = 0;
}

void cfg_shards_deinit(struct config *c)
{
    for (size_t i = 0; i < c->n_shards; i++)
        shard_deinit(&c->shards[i]);
    free(c->shards);
    strs_free(c->shard_key, c->n_shard_key);
    c->shards = NULL;
    c->shard_key = NULL;
    c->n_shards = c->n_shard_key = 0;
}

static void shard_push(struct config *c, struct cfg_shard *s)
{
    c->shards = cfg_push(c->shards, &c->n_shards, s, sizeof(*s));
}

/* A list of non-empty strings at 'v' into *out (replacing what was there). */
static int load_names(struct loader *ld, const char *what, const struct toml_node *v, char ***out,
                      size_t *n)
{
    if (v->type != TOML_ARRAY)
        return ld_wrong_type(ld, what, v, "an array of strings");
    if (v->n_kids > CFG_MAX_LIST)
        return ld_fail(ld, v->line, "%s: more than %d entries", what, CFG_MAX_LIST);
    char **names = xcalloc(v->n_kids + 1, sizeof(*names));
    for (size_t i = 0; i < v->n_kids; i++) {
        const struct toml_node *e = v->kids[i];
        if (e->type != TOML_STRING || e->str_len == 0) {
            strs_free(names, i);
            return ld_fail(ld, e->line, "%s: expected non-empty strings", what);
        }
        names[i] = xstrdup(e->str);
    }
    strs_free(*out, *n);
    *out = names;
    *n = v->n_kids;
    return 0;
}

int cfg_load_shard(struct loader *ld, const struct toml_node *t)
{
    static const struct field fields[] = {
        FIELD("name", K_NAME, struct cfg_shard, name),
        LATER("backends"),
    };
    struct cfg_shard s = {0};
    int rc = ld_apply_fields(ld, t, "[[shard]]", "shard", fields, NFIELDS(fields), &s);
    const struct toml_node *v = toml_get(t, "backends");
    if (rc == 0 && v != NULL)
        rc = load_names(ld, "shard.backends", v, &s.backends, &s.n_backends);
    if (rc == 0 && (s.name == NULL || s.n_backends == 0))
        rc = ld_fail(ld, t->line, "[[shard]] needs '%s'", s.name == NULL ? "name" : "backends");
    if (rc == 0 && ld->c->n_shards >= CFG_MAX_LIST)
        rc = ld_fail(ld, t->line, "more than %d shards", CFG_MAX_LIST);
    if (rc != 0) {
        shard_deinit(&s);
        return rc;
    }
    shard_push(ld->c, &s);
    return 0;
}

int cfg_load_sharding(struct loader *ld, const struct toml_node *t)
{
    static const struct field fields[] = {LATER("key")};
    int rc = ld_apply_fields(ld, t, "[sharding]", "sharding", fields, NFIELDS(fields), ld->c);
    const struct toml_node *v = toml_get(t, "key");
    if (rc != 0 || v == NULL)
        return rc;
    rc = load_names(ld, "sharding.key", v, &ld->c->shard_key, &ld->c->n_shard_key);
    for (size_t i = 0; rc == 0 && i < ld->c->n_shard_key; i++)
        if (!config_shard_key_ok(ld->c->shard_key[i]))
            rc = ld_fail(ld, v->line,
                         "sharding.key: '%.64s' is not database, measurement or tag:NAME",
                         ld->c->shard_key[i]);
    return rc;
}

int config_shard_key_ok(const char *k)
{
    return strcmp(k, "database") == 0 || strcmp(k, "measurement") == 0 ||
           (strncmp(k, "tag:", 4) == 0 && k[4] != '\0');
}

int config_add_shard_flag(struct config *c, const char *arg, char *err, size_t err_cap)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg || eq[1] == '\0')
        return cfg_fail(err, err_cap, "--shard '%.80s': expected NAME=BACKEND,BACKEND", arg);
    struct cfg_shard s = {0};
    s.name = xstrndup(arg, (size_t)(eq - arg));
    if (!cfg_name_ok(s.name)) {
        shard_deinit(&s);
        return cfg_fail(err, err_cap, "--shard '%.80s': the name %s", arg, cfg_name_rule);
    }
    for (const char *p = eq + 1;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (n == 0 || s.n_backends >= CFG_MAX_LIST) {
            shard_deinit(&s);
            return cfg_fail(err, err_cap, "--shard '%.80s': expected NAME=BACKEND,BACKEND", arg);
        }
        s.backends = xrealloc(s.backends, (s.n_backends + 1) * sizeof(*s.backends));
        s.backends[s.n_backends++] = xstrndup(p, n);
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    if (!c->shard_flags_seen) { /* the first flag replaces the file's shards */
        for (size_t i = 0; i < c->n_shards; i++)
            shard_deinit(&c->shards[i]);
        c->n_shards = 0;
        c->shard_flags_seen = 1;
    }
    shard_push(c, &s);
    return 0;
}

const struct cfg_shard *config_shard_of(const struct config *c, const char *backend)
{
    for (size_t i = 0; i < c->n_shards; i++)
        for (size_t j = 0; j < c->shards[i].n_backends; j++)
            if (strcmp(c->shards[i].backends[j], backend) == 0)
                return &c->shards[i];
    return NULL;
}

int cfg_validate_shards(const struct config *c, char *err, size_t err_cap)
{
    for (size_t i = 0; i < c->n_shards; i++) {
        const struct cfg_shard *s = &c->shards[i];
        if (s->name[0] == '.') /* reserved: the log's markers (WAL_PART_MARK) */
            return cfg_fail(err, err_cap, "shard name '%s': names starting with '.' are reserved",
                            s->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->name, c->shards[j].name) == 0)
                return cfg_fail(err, err_cap, "shard name '%s' is used twice", s->name);
        for (size_t j = 0; j < s->n_backends; j++) {
            const char *b = s->backends[j];
            if (config_find_backend(c, b) == NULL)
                return cfg_fail(err, err_cap, "shard '%s': backend '%.64s' is not a [[backend]]",
                                s->name, b);
            const struct cfg_shard *first = config_shard_of(c, b);
            if (first != s)
                return cfg_fail(err, err_cap, "backend '%.64s' is in two shards ('%s' and '%s')",
                                b, first->name, s->name);
            for (size_t k = 0; k < j; k++)
                if (strcmp(b, s->backends[k]) == 0)
                    return cfg_fail(err, err_cap, "shard '%s': backend '%.64s' is listed twice",
                                    s->name, b);
        }
    }
    for (size_t i = 0; c->n_shards > 0 && i < c->n_backends; i++)
        if (config_shard_of(c, c->backends[i].name) == NULL)
            return cfg_fail(err, err_cap,
                            "backend '%s' is in no shard: with [[shard]], every backend must be "
                            "in one",
                            c->backends[i].name);
    /* The background scrub compares backends with the first it names: mirrors only, so with
     * shards it must name backends of one shard. */
    if (c->n_shards > 0 && c->scrub.enabled) {
        const struct cfg_shard *first =
            c->scrub.n_backends > 0 ? config_shard_of(c, c->scrub.backends[0]) : NULL;
        int one = c->scrub.n_backends > 0;
        for (size_t i = 1; one && i < c->scrub.n_backends; i++)
            one = config_shard_of(c, c->scrub.backends[i]) == first;
        if (!one)
            return cfg_fail(err, err_cap,
                            "scrub.backends must name backends of one shard when there are "
                            "shards (it compares mirrors)");
    }
    if (c->n_shard_key == 0)
        return cfg_fail(err, err_cap, "sharding.key must not be empty");
    for (size_t i = 0; i < c->n_shard_key; i++)
        if (!config_shard_key_ok(c->shard_key[i]))
            return cfg_fail(err, err_cap,
                            "sharding.key: '%.64s' is not database, measurement or tag:NAME",
                            c->shard_key[i]);
    return 0;
}
