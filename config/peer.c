/* The [relay] table (this relay's name among its peers, peer-timeout) and [[peer]] (the other
 * relays that feed the same backends: the statement barrier of replay/fence.c). Defaults,
 * loading, checks and freeing in one place. One thread at a time, as the rest of config/. */
#include "config/config_int.h"

#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>

static const struct field relay_fields[] = {
    FIELD("name", K_NAME, struct config, relay_name),
    FIELD("peer-timeout", K_DURATION, struct config, peer_timeout_ms),
};

static const struct field peer_fields[] = {
    FIELD("name", K_NAME, struct cfg_peer, name),
    FIELD("url", K_URL, struct cfg_peer, url),
    FIELD("username", K_STR_OPT, struct cfg_peer, username),
    FIELD("password", K_STR_OPT, struct cfg_peer, password),
    FIELD("ca-file", K_STR_OPT, struct cfg_peer, ca_file),
};

static void peer_deinit(struct cfg_peer *p)
{
    free(p->name);
    free(p->url);
    free(p->username);
    free(p->password);
    free(p->ca_file);
    memset(p, 0, sizeof(*p));
}

void cfg_peers_defaults(struct config *c)
{
    c->relay_name = xstrdup("relay");
    c->peer_timeout_ms = 30000;
    c->peers = NULL;
    c->n_peers = 0;
}

void cfg_peers_deinit(struct config *c)
{
    free(c->relay_name);
    c->relay_name = NULL;
    for (size_t i = 0; i < c->n_peers; i++)
        peer_deinit(&c->peers[i]);
    free(c->peers);
    c->peers = NULL;
    c->n_peers = 0;
}

int cfg_load_relay(struct loader *ld, const struct toml_node *t)
{
    return ld_apply_fields(ld, t, "[relay]", "relay", relay_fields, NFIELDS(relay_fields), ld->c);
}

int cfg_load_peer(struct loader *ld, const struct toml_node *t)
{
    struct cfg_peer p = {0};
    int rc = ld_apply_fields(ld, t, "[[peer]]", "peer", peer_fields, NFIELDS(peer_fields), &p);
    if (rc == 0 && (p.name == NULL || p.url == NULL))
        rc = ld_fail(ld, t->line, "[[peer]] needs '%s'", p.name == NULL ? "name" : "url");
    if (rc == 0 && ld->c->n_peers >= CFG_MAX_LIST)
        rc = ld_fail(ld, t->line, "more than %d peers", CFG_MAX_LIST);
    if (rc != 0) {
        peer_deinit(&p);
        return rc;
    }
    struct config *c = ld->c;
    c->peers = cfg_push(c->peers, &c->n_peers, &p, sizeof(p));
    return 0;
}

int cfg_validate_peers(const struct config *c, char *err, size_t err_cap)
{
    if (c->peer_timeout_ms == 0)
        return cfg_fail(err, err_cap, "relay.peer-timeout must be greater than 0");
    for (size_t i = 0; i < c->n_peers; i++) {
        const struct cfg_peer *p = &c->peers[i];
        if (strcmp(p->name, c->relay_name) == 0)
            return cfg_fail(err, err_cap, "peer '%s' has this relay's own name ([relay] name)",
                            p->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->name, c->peers[j].name) == 0)
                return cfg_fail(err, err_cap, "peer name '%s' is used twice", p->name);
        if ((p->username == NULL) != (p->password == NULL))
            return cfg_fail(err, err_cap, "peer '%s': username and password go together",
                            p->name);
    }
    return 0;
}
