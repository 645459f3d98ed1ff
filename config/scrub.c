/* The [scrub] table: the daemon's background scrub (scrub/bgscrub.h). Its defaults, loading,
 * checks and freeing, kept apart from loader.c so the section is read in one place. One thread
 * at a time, as the rest of config/. */
#include "config/config_int.h"

#include "common/xalloc.h"
#include "replay/generation.h"

#include <stdlib.h>
#include <string.h>

static const struct field scrub_fields[] = {
    FIELD("enabled", K_BOOL, struct cfg_scrub, enabled),
    FIELD("interval", K_DURATION, struct cfg_scrub, interval_ms),
    FIELD("window", K_DURATION, struct cfg_scrub, window_ms),
    FIELD("rate", K_COUNT, struct cfg_scrub, rate),
    LATER("backends"),
};

void cfg_scrub_defaults(struct cfg_scrub *s)
{
    memset(s, 0, sizeof(*s));
    s->interval_ms = 3600 * 1000;
    s->window_ms = 24 * 3600 * 1000;
    s->rate = 2;
}

void cfg_scrub_deinit(struct cfg_scrub *s)
{
    for (size_t i = 0; i < s->n_backends; i++)
        free(s->backends[i]);
    free(s->backends);
    memset(s, 0, sizeof(*s));
}

int cfg_load_scrub(struct loader *ld, const struct toml_node *t)
{
    struct cfg_scrub *s = &ld->c->scrub;
    int rc = ld_apply_fields(ld, t, "[scrub]", "scrub", scrub_fields, NFIELDS(scrub_fields), s);
    const struct toml_node *v = toml_get(t, "backends");
    if (rc != 0 || v == NULL)
        return rc;
    if (v->type != TOML_ARRAY)
        return ld_wrong_type(ld, "scrub", v, "an array of backend names");
    for (size_t i = 0; i < s->n_backends; i++)
        free(s->backends[i]);
    s->n_backends = 0;
    for (size_t i = 0; i < v->n_kids; i++) {
        const struct toml_node *e = v->kids[i];
        if (e->type != TOML_STRING || e->str_len == 0)
            return ld_fail(ld, e->line, "scrub.backends: expected backend names");
        s->backends = xrealloc(s->backends, (s->n_backends + 1) * sizeof(*s->backends));
        s->backends[s->n_backends++] = xstrdup(e->str);
    }
    return 0;
}

int cfg_validate_scrub(const struct config *c, char *err, size_t err_cap)
{
    const struct cfg_scrub *s = &c->scrub;
    if (s->interval_ms == 0)
        return cfg_fail(err, err_cap, "scrub.interval must be greater than 0");
    if (s->window_ms < 3600 * 1000)
        return cfg_fail(err, err_cap, "scrub.window must be at least 1h (windows are hours)");
    if (s->rate == 0)
        return cfg_fail(err, err_cap, "scrub.rate must be at least 1 (queries per second)");
    for (size_t i = 0; i < s->n_backends; i++) {
        const struct replay_backend_opts *b = config_find_backend(c, s->backends[i]);
        if (b == NULL)
            return cfg_fail(err, err_cap, "scrub.backends: no backend named \"%.64s\"",
                            s->backends[i]);
        /* Scrub compares InfluxQL counts: 1.x only, as influx-wal scrub refuses the others. */
        if (b->api != REPLAY_API_V1)
            return cfg_fail(err, err_cap,
                            "scrub.backends: \"%.64s\" is api = \"%s\"; scrub is for api = "
                            "\"v1\" backends only",
                            s->backends[i], replay_api_name(b->api));
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->backends[i], s->backends[j]) == 0)
                return cfg_fail(err, err_cap, "scrub.backends: \"%.64s\" is named twice",
                                s->backends[i]);
    }
    if (s->enabled && s->n_backends == 1)
        return cfg_fail(err, err_cap, "scrub.backends: name at least two backends to compare");
    return 0;
}
