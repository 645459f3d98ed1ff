/* Internals shared by the files of config/: values.c (parsers, defaults, the lists), loader.c
 * (the tree walk and its field tables), influxdb_relay.c (influxdb-relay's layout) and
 * validate.c. Not for use outside config/. */
#ifndef IWR_CONFIG_INT_H
#define IWR_CONFIG_INT_H

#include "config/config.h"
#include "config/toml.h"

#include <stddef.h>
#include <stdint.h>

/* Caps on list lengths: far beyond any real deployment, and they keep the duplicate checks
 * (quadratic, by design simple) cheap on hostile files. */
#define CFG_MAX_LIST 256
#define CFG_MAX_USERS 1024
#define CFG_MAX_WARNINGS 16

/* ---- values.c ------------------------------------------------------------------------------ */

/* Flag and validation messages: printf into err (one line, control characters replaced).
 * Returns IWR_EPARSE. */
int cfg_fail(char *err, size_t err_cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Why 's' is not a duration / a size, or NULL with *out set. */
const char *cfg_duration_why(const char *s, uint64_t *out);
const char *cfg_size_why(const char *s, size_t *out);
/* Why 's' is not a listen address "HOST:PORT" (common/hostport.h), or NULL. */
const char *cfg_hostport_why(const char *s);
/* Drop a trailing "/write" and trailing slashes from an http(s) URL's path, in place. */
void cfg_url_normalise(char *u);
/* A backend name for an output without one: its host and port, e.g. "127.0.0.1_8086".
 * 'url' passed config_url_why. Caller frees. */
char *cfg_name_from_url(const char *url);
/* [A-Za-z0-9_.-]{1,64}; cfg_name_rule completes "the name ..." when it is not. */
int cfg_name_ok(const char *s);
extern const char *const cfg_name_rule;
/* A /write precision ("", n, ns, u, us, ms, s, m, h); NULL is fine. */
int cfg_precision_ok(const char *s);

/* The lists in struct config. The push functions take the strings of what they are given. */
/* The array 'list' of *n elements of 'size' bytes (NULL when empty), grown by one to hold a
 * copy of 'item', which is then zeroed: the list owns what it pointed to. Returns the array
 * (it may have moved); *n counts the new element. The typed push functions below use it. */
void *cfg_push(void *list, size_t *n, void *item, size_t size);
void cfg_udp_defaults(struct cfg_udp *u);
void cfg_udp_deinit(struct cfg_udp *u);
void cfg_listen_clear(struct config *c);
/* A listener at 'addr' (taken) with a copy of 'tls' (NULL: plain). */
void cfg_listen_push(struct config *c, char *addr, const struct cfg_tls *tls);
void cfg_tls_copy(struct cfg_tls *dst, const struct cfg_tls *src);
void cfg_tls_deinit(struct cfg_tls *t);
void cfg_backends_clear(struct config *c);
void cfg_backend_push(struct config *c, struct replay_backend_opts *b);
void cfg_udp_push(struct config *c, struct cfg_udp *u);
/* peer.c: the [relay] table and [[peer]]. */
void cfg_peers_defaults(struct config *c);
void cfg_peers_deinit(struct config *c);
/* shard.c: [[shard]] and [sharding]. */
void cfg_shards_defaults(struct config *c);
void cfg_shards_deinit(struct config *c);
/* scrub.c: the [scrub] table. */
void cfg_scrub_defaults(struct cfg_scrub *s);
void cfg_scrub_deinit(struct cfg_scrub *s);
void cfg_stream_deinit(struct cfg_stream *s);
void cfg_stream_push(struct config *c, struct cfg_stream *s);

/* ---- loader.c: the walk over the tree ------------------------------------------------------ */

struct cfg_warning {
    const char *sect;
    const char *key;
    const char *why;
    int line;
};

struct cfg_backend_ref { /* which [[http]] table named which backend, for the merge warning */
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
    struct cfg_backend_ref *refs;
    size_t n_refs;
    size_t n_http; /* influxdb-relay [[http]] tables seen */
    struct cfg_warning warn[CFG_MAX_WARNINGS];
    size_t n_warn;
};

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
    K_FULL,      /* enum wal_full_policy */
    K_START,     /* enum replay_start */
    K_API,       /* enum replay_api: "v1", "v2", "v3" */
    K_KIB,       /* size_t, influxdb-relay's integer KiB; 0 keeps the default */
    K_LATER,     /* the caller reads it (lists, sub-tables) */
    K_ACCEPTED,  /* influxdb-relay's display names: nothing to do */
    K_IGNORED,   /* influxdb-relay keys we cannot honour: warned about */
};

/* A string field may be char * or const char * (the backend options): both have the same
 * representation, and the loader only reads and writes them with memcpy. */
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

/* "NAME:LINE: reason" in ld->err; returns IWR_EPARSE. */
int ld_fail(struct loader *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A bad value: "NAME:LINE: sect.key: reason". */
int ld_bad(struct loader *ld, const char *sect, const struct toml_node *v, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int ld_wrong_type(struct loader *ld, const char *sect, const struct toml_node *v, const char *want);
/* Remember an ignored key (or, line 0, a remark on the file) to log once the load succeeded. */
void ld_warn(struct loader *ld, const char *sect, const char *key, int line, const char *why);
/* Replace the string at 'dst' (a char * or const char *) with the string 'v'. Required strings
 * must not be empty; optional ones are NULL when empty. */
int ld_get_str(struct loader *ld, const char *sect, const struct toml_node *v, int required,
               void *dst);
/* Every key of 'table' must be one of 'fields'; 'title' names the table in messages. */
int ld_apply_fields(struct loader *ld, const struct toml_node *table, const char *title,
                    const char *sect, const struct field *fields, size_t n_fields, void *base);
/* An array whose elements are all tables: [[x]], or x = [{...}, ...]. */
int ld_need_tables(struct loader *ld, const struct toml_node *v, const char *title);
/* The file's first address replaces the built-in one. Takes 'addr'. */
int ld_add_listen(struct loader *ld, char *addr, int line);
/* Add the file's backend 'b' (taking its strings), or merge it into an identical one of the
 * same name when 'merge' is set (influxdb-relay lists one output under several [[http]]). The
 * index it ends up at goes to *index. */
int ld_add_backend(struct loader *ld, struct replay_backend_opts *b, int line, int merge,
                   size_t *index);
/* Takes the strings in 'u'. */
int ld_add_udp(struct loader *ld, struct cfg_udp *u, int line);

/* The [scrub] table (scrub.c); its cross-field checks, run by config_validate. */
int cfg_load_scrub(struct loader *ld, const struct toml_node *t);
int cfg_validate_scrub(const struct config *c, char *err, size_t err_cap);
/* [relay] and [[peer]] (peer.c); their checks, run by config_validate. */
int cfg_load_relay(struct loader *ld, const struct toml_node *t);
int cfg_load_peer(struct loader *ld, const struct toml_node *t);
int cfg_validate_peers(const struct config *c, char *err, size_t err_cap);

/* [[shard]] and [sharding] (shard.c); their checks, run by config_validate. */
int cfg_load_shard(struct loader *ld, const struct toml_node *t);
int cfg_load_sharding(struct loader *ld, const struct toml_node *t);
int cfg_validate_shards(const struct config *c, char *err, size_t err_cap);

/* ---- influxdb_relay.c: influxdb-relay's relay.toml layout ---------------------------------- */

/* Whether 'root' is in influxdb-relay's layout: [[http]], or [[udp]] with its keys. */
int compat_is_layout(const struct toml_node *root);
/* One [[http]] table (its listener and outputs) / one [[udp]] table. */
int compat_load_http(struct loader *ld, const struct toml_node *t);
int compat_load_udp(struct loader *ld, const struct toml_node *t);
/* After the whole file: warn when the [[http]] tables listed different outputs. */
void compat_check_routing(struct loader *ld);

#endif
