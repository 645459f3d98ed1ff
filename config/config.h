/* The daemon's configuration: defaults, the TOML file (ours, or influxdb-relay's relay.toml
 * layout), and the quick-use flags layered on top; read by the daemon and the CLI. Pure data
 * and parsing; one thread at a time (loading logs ignored keys with log_warn).
 *
 * Files: values.c (sizes, durations, URLs, names; the defaults and freeing), loader.c (the
 * tree walk, our layout, the flags), influxdb_relay.c (influxdb-relay's layout), validate.c
 * (cross-field checks). The option types are their owners': struct replay_backend_opts and
 * enum replay_start (replay/replay.h), enum wal_full_policy (wal/wal.h).
 *
 * Ownership: a struct config owns every string and array in it, including the strings of its
 * backends (declared const char * in struct replay_backend_opts, allocated here, freed by
 * config_deinit or config_backend_deinit). Whoever reads them borrows them for as long as the
 * config lives; replay_set_backends copies what it keeps. */
#ifndef IWR_CONFIG_H
#define IWR_CONFIG_H

#include "replay/replay.h"
#include "wal/wal.h"

#include <stddef.h>
#include <stdint.h>

struct cfg_user {
    char *name;
    char *password;
    char *token; /* NULL: none; "Authorization: Token X" or "Bearer X" with X this token */
    int admin; /* may send statements that go through the log (CREATE DATABASE, ...) */
};

/* [[bucket]]: a 2.x bucket or 3.x database name written to a db/rp. */
struct cfg_bucket {
    char *name;
    char *database;
    char *retention_policy; /* NULL: the database's default */
};

struct cfg_udp {
    char *listen; /* "ADDR:PORT" */
    char *database;
    char *retention_policy;   /* NULL: default */
    char *precision;          /* "ns" default; any /write spelling */
    size_t read_buffer_bytes; /* SO_RCVBUF; 0: kernel default */
};

/* TLS on an HTTP listener. No certificate (cert and combined_pem NULL): plain HTTP. */
struct cfg_tls {
    char *cert;         /* tls-cert: PEM certificate chain */
    char *key;          /* tls-key: PEM private key */
    char *combined_pem; /* tls-combined-pem (influxdb-relay's ssl-combined-pem): both in one */
    char *client_ca;    /* tls-client-ca: require client certificates signed by it */
    char *min_version;  /* tls-min-version: "1.2" (default, also when NULL) or "1.3" */
};

/* [scrub]: the daemon's background scrub of recent windows (scrub/bgscrub.h). */
struct cfg_scrub {
    int enabled;          /* default 0 */
    uint64_t interval_ms; /* from the start of one run to the next; default 1h */
    uint64_t window_ms;   /* how far back each run looks; default 24h, at least 1h */
    size_t rate;          /* queries per second at most, all backends together; default 2 */
    char **backends;      /* names; each is compared with the first; NULL: every backend */
    size_t n_backends;
};

/* [[graphite]] and [[opentsdb]]: a stream listener (relay/stream.c). influxd 1.6's own key
 * names are accepted too (bind-address, enabled, batch-size, ...). */
enum cfg_stream_kind { CFG_GRAPHITE, CFG_OPENTSDB };
struct cfg_stream {
    enum cfg_stream_kind kind;
    char *listen;             /* "ADDR:PORT" (influxd: bind-address) */
    char *protocol;           /* graphite: "tcp" (default) or "udp"; NULL from the flag: both */
    char *database;
    char *retention_policy;   /* NULL: default */
    char *separator;          /* graphite; NULL: "." */
    char **templates;         /* graphite */
    size_t n_templates;
    char **tags;              /* graphite default tags, "k=v" */
    size_t n_tags;
    size_t read_buffer_bytes; /* graphite UDP: udp-read-buffer */
    int enabled;              /* influxd's enabled; false: the section is kept but not started */
};

/* [[peer]]: another relay feeding the same backends (the statement barrier, replay/fence.c). */
struct cfg_peer {
    char *name;     /* its [relay] name */
    char *url;      /* its HTTP base URL */
    char *username; /* a relay user (admin) of that relay when its [auth] is on; NULL: none */
    char *password;
    char *ca_file;  /* NULL: system CAs */
};

/* [[shard]] / --shard: a group of mirrored backends that holds its share of the keys
 * (relay/shard_ring.h places keys on shards). */
struct cfg_shard {
    char *name;      /* [A-Za-z0-9_.-]{1,64}, unique */
    char **backends; /* names of [[backend]] entries; each backend is in at most one shard */
    size_t n_backends;
};

struct config {
    char *path; /* file it came from; NULL for built-in defaults */
    /* [http] */
    char **listen; /* "ADDR:PORT" each; default {"127.0.0.1:9096"} */
    size_t n_listen;
    /* n_listen entries: each listener's TLS. Our layout's [http] keys (in 'tls') apply to
     * every listener it names, and to --listen ones; influxdb-relay's ssl-combined-pem is per
     * [[http]] table. */
    struct cfg_tls *listen_tls;
    struct cfg_tls tls;
    size_t max_body_bytes;     /* default 25 MB (25000000), InfluxDB's own */
    size_t max_inflated_bytes; /* gzip output bound; default 4 x max_body_bytes */
    size_t max_connections;    /* default 1024 */
    size_t max_header_bytes;   /* default 64 KiB; over it: 431 */
    uint64_t idle_timeout_ms;  /* keep-alive idle; default 60000 */
    uint64_t read_timeout_ms;  /* headers and body must arrive within; default 30000 */
    int allow_unsigned;        /* accept "u" integer fields; default 0 */
    /* [auth] */
    int auth_enabled; /* default 0 */
    int status_public; /* the status page (/, /status, /status.json) without credentials even
                        * when auth is on; default 0 */
    struct cfg_user *users;
    size_t n_users;
    /* [[bucket]] */
    struct cfg_bucket *buckets;
    size_t n_buckets;
    /* [wal] */
    char *data_dir;                   /* default "./data" */
    size_t max_bytes;                 /* log size limit; default 1 GiB */
    enum wal_full_policy full_policy; /* default reject */
    int sync;                         /* default 1; 0 is for benchmarks only */
    uint64_t retain_ms;               /* keep acknowledged records this long; default 0 */
    size_t min_free_bytes; /* free disk space reserve checked with statvfs; default 64 MiB */
    int min_free_set;      /* min-free is in the file; else the log's default rule applies */
    /* [log] */
    char *log_level; /* "info" default */
    /* [[backend]]: replay_backend_opts_defaults, then the file's keys; names unique,
     * [A-Za-z0-9_.-]{1,64}; url a base URL without "/write". Only the fields the file can set
     * are filled (no ephemeral mode, no callbacks). */
    struct replay_backend_opts *backends;
    size_t n_backends;
    /* [[udp]] */
    struct cfg_udp *udp;
    size_t n_udp;
    /* [[graphite]], [[opentsdb]], --graphite, --opentsdb */
    struct cfg_stream *streams;
    size_t n_streams;
    /* Set by the first config_add_backend_flag / config_set_listen_flag, so that later ones
     * add to the list the first one started instead of replacing it again. */
    int backend_flags_seen;
    int listen_flags_seen;
    /* [http] max-pending-size: request bodies held in memory at once, all clients together;
     * a body that would go past it gets 503 (default 512 MiB). */
    size_t max_pending_bytes;
    /* [scrub] */
    struct cfg_scrub scrub;
    /* [query] statement-timeout: how long a logged statement's answer waits for the first
     * backend to apply it (default 10 s); past it the client gets 202 "committed". */
    uint64_t statement_timeout_ms;
    /* [relay] name: this relay's name among its peers (default "relay"); peer-timeout: how
     * long a barrier waits for a peer that does not answer or makes no progress (30 s). */
    char *relay_name;
    uint64_t peer_timeout_ms;
    /* [[peer]] */
    struct cfg_peer *peers;
    size_t n_peers;
    /* [[shard]], --shard (the first flag replaces the file's shards); none: every backend
     * gets every record. [sharding] key: what places a point, each "database",
     * "measurement" or "tag:NAME"; default {"database", "measurement"}. */
    struct cfg_shard *shards;
    size_t n_shards;
    char **shard_key;
    size_t n_shard_key;
    int shard_flags_seen;
};

/* Fill 'c' with the built-in defaults (listen 127.0.0.1:9096, data dir ./data, one backend
 * local=http://127.0.0.1:8086 with replay_backend_opts_defaults). Caller frees with
 * config_deinit. */
void config_defaults(struct config *c);
void config_deinit(struct config *c);
/* Free the strings of one backend the config allocated (name, url, username, password, token,
 * ca_file) and zero it. */
void config_backend_deinit(struct replay_backend_opts *b);
/* The backend called 'name', borrowed from 'c'; NULL when there is none. */
const struct replay_backend_opts *config_find_backend(const struct config *c, const char *name);

/* Replace 'c' with what the TOML file at 'path' says, on top of the defaults (the built-in
 * backend is dropped when the file names any, the built-in listen address when it names one).
 * Accepts our layout and influxdb-relay's (see config/influxdb_relay.c for how its keys map);
 * its keys we cannot honour are logged once each with log_warn when the load succeeds. 'c' must
 * hold a config (config_defaults or an earlier load); it is freed and replaced, so flags go on
 * after. Per-value checks are done here with the line; cross-field ones are config_validate's.
 * Returns 0, or IWR_EPARSE with "path:line: reason" in err (one line, no newline), or -errno
 * when the file cannot be read (err says so too). On failure 'c' is left as it was. */
int config_load_file(struct config *c, const char *path, char *err, size_t err_cap);
/* Same, from a buffer ('name' is used in messages). */
int config_load_string(struct config *c, const char *name, const char *text, size_t len, char *err,
                       size_t err_cap);

/* Flags: "NAME=URL" adds a backend (the first use drops the file's and built-in backends),
 * "ADDR:PORT=DB[@PRECISION]" adds a UDP listener (precision: any /write spelling; default ns).
 * 0 or IWR_EPARSE with a reason in err. */
int config_add_backend_flag(struct config *c, const char *arg, char *err, size_t err_cap);
int config_add_udp_flag(struct config *c, const char *arg, char *err, size_t err_cap);
/* "ADDR:PORT=DB[@PRECISION]": a Graphite listener, TCP and UDP on that port (the precision is
 * accepted for the common flag form; Graphite timestamps are seconds whatever it says). */
int config_add_opentsdb_flag(struct config *c, const char *arg, char *err, size_t err_cap);
int config_add_graphite_flag(struct config *c, const char *arg, char *err, size_t err_cap);
/* "NAME=BACKEND,BACKEND": a shard (the first use drops the file's shards). */
int config_add_shard_flag(struct config *c, const char *arg, char *err, size_t err_cap);
/* The shard holding backend 'backend', borrowed from 'c'; NULL when it is in none. */
const struct cfg_shard *config_shard_of(const struct config *c, const char *backend);
/* Whether 'k' is a shard key element: "database", "measurement" or "tag:NAME". */
int config_shard_key_ok(const char *k);
/* "--listen ADDR:PORT" (the first use replaces the listen list). */
int config_set_listen_flag(struct config *c, const char *arg, char *err, size_t err_cap);

/* Whether 'c' asks for TLS on the listener it describes. */
int config_tls_on(const struct cfg_tls *t);
/* The certificate file and the key file of a TLS listener (the same file for a combined PEM),
 * borrowed from 't'; the TLS minor version (2 or 3) of its minimum. */
const char *config_tls_cert(const struct cfg_tls *t);
const char *config_tls_key(const struct cfg_tls *t);
int config_tls_min_minor(const struct cfg_tls *t);

/* Cross-field checks, run after the file and the flags: at least one listen address and one
 * backend, unique backend names, parsable URLs and addresses, limits that make sense together
 * (max_inflated_bytes >= max_body_bytes, batch caps and timeouts > 0), users when auth is on,
 * UDP precisions, TLS keys that go together (a certificate with its key, or a combined PEM;
 * tls-client-ca and tls-min-version only with a certificate; minimum "1.2" or "1.3"; the files
 * themselves are the daemon's to load); shards naming existing backends, each backend in
 * exactly one shard when there are any. 0 or IWR_EPARSE with a reason in err (no file position). */
int config_validate(const struct config *c, char *err, size_t err_cap);

/* Helpers also used by flags and tests. 0 or IWR_EPARSE. */
/* "500ms" "10s" "5m" "2h" "7d" "1h30m" "1.5s" "0"; a non-zero number needs a unit, and the
 * result must be whole milliseconds. */
int config_parse_duration_ms(const char *s, uint64_t *out);
/* "25MB" "64KiB" "10GiB" "1024" "1.5GiB": B, KB (also kB), MB, GB, TB = 1000^n; KiB, MiB, GiB,
 * TiB = 1024^n; no unit means bytes; the result must be whole bytes and fit in size_t. */
int config_parse_size(const char *s, size_t *out);
/* Why 'url' is not a usable backend base URL (http or https, a host, a port 1..65535 if any,
 * no query, fragment, spaces or control characters; parsed with libcurl's URL API), or NULL
 * when it is one. The reason completes "URL ...", e.g. "has a bad port". */
const char *config_url_why(const char *url);
/* Listen addresses are checked with common/hostport.h (hostport_parse). */

#endif
