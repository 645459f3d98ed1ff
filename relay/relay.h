/* The ingest side of the daemon: HTTP and UDP listeners on the libuv loop, the InfluxDB
 * endpoints, and the hand-off of validated records to the log. Loop thread only. */
#ifndef IWR_RELAY_H
#define IWR_RELAY_H

#include "common/status.h"
#include "wal/wal.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct relay;

/* A user of /write and /query when auth is on. */
struct relay_user {
    const char *name;
    const char *password;
};

/* A UDP line-protocol listener. */
struct relay_udp {
    const char *listen;           /* "ADDR:PORT" (common/hostport.h) */
    const char *database;
    const char *retention_policy; /* NULL: the database's default */
    const char *precision;        /* NULL or "": ns; any /write spelling */
    size_t read_buffer_bytes;     /* SO_RCVBUF; 0: the kernel's default */
};

/* What the relay is configured with (the daemon fills it from its config). Every pointer is
 * borrowed for the call that takes it; the relay copies what it keeps. */
struct relay_options {
    const char *const *listen;   /* HTTP "ADDR:PORT" each (relay_new only) */
    size_t n_listen;
    const struct relay_udp *udp; /* relay_new only */
    size_t n_udp;
    size_t max_body_bytes;       /* over it: 413 */
    size_t max_inflated_bytes;   /* a gzip body's bound once inflated */
    size_t max_connections;
    size_t max_header_bytes;     /* over it: 431 */
    size_t max_pending_bytes;    /* bodies held at once, all clients; over it: 503 */
    uint64_t idle_timeout_ms;    /* keep-alive idle */
    uint64_t read_timeout_ms;    /* headers and body must arrive within */
    int allow_unsigned;          /* accept "u" integer fields */
    int auth_enabled;
    const struct relay_user *users;
    size_t n_users;
    /* The log's size limit and full policy, for /health and /metrics. */
    size_t max_bytes;
    enum wal_full_policy full_policy;
};

/* What the daemon wires in from the other parts (relay/ never includes replay/). */
struct relay_hooks {
    void *arg;
    /* A snapshot of the backends for /health, /metrics and /query routing; caller frees. */
    void (*backends)(void *arg, struct backend_status **out, size_t *n);
};

/* Create the relay on 'loop' writing to 'w' (both borrowed, outliving it), with the limits,
 * users and listeners of 'opts' (copied). Binds every listener: 0, or a -errno with the failing
 * address logged. */
int relay_new(struct relay **out, uv_loop_t *loop, struct wal *w,
              const struct relay_options *opts, const struct relay_hooks *hooks);
/* SIGHUP: take the new limits and users (listeners stay as they are; 'opts' listen and udp
 * are not read). */
void relay_reload(struct relay *r, const struct relay_options *opts);
/* Graceful stop: close the listeners, answer every request already received after its commit,
 * close idle connections; 'done' runs on the loop when the last connection closed. */
void relay_shutdown(struct relay *r, void (*done)(void *arg), void *arg);
void relay_free(struct relay *r);
/* Serve a connected stream socket as an HTTP client connection (tests and fuzzing drive the
 * server through a socketpair with this). Takes 'fd'. */
void relay_adopt_fd(struct relay *r, int fd);

#endif
