/* The ingest side of the daemon: HTTP and UDP listeners on the libuv loop, the InfluxDB
 * endpoints, and the hand-off of validated records to the log. Loop thread only. */
#ifndef IWR_RELAY_H
#define IWR_RELAY_H

#include "common/status.h"
#include "relay/config.h"
#include "wal/wal.h"

#include <uv.h>

struct relay;

/* What the daemon wires in from the other parts (relay/ never includes replay/). */
struct relay_hooks {
    void *arg;
    /* A record was committed (kick the senders). */
    void (*appended)(void *arg);
    /* A snapshot of the backends for /health, /metrics and /query routing; caller frees. */
    void (*backends)(void *arg, struct backend_status **out, size_t *n);
};

/* Create the relay on 'loop' writing to 'w' (both borrowed, outliving it), with the limits,
 * users and listeners of 'cfg' (copied). Binds every listener: 0, or a -errno with the failing
 * address logged. */
int relay_new(struct relay **out, uv_loop_t *loop, struct wal *w, const struct config *cfg,
              const struct relay_hooks *hooks);
/* SIGHUP: take the new limits, users and log level (listeners stay as they are). */
void relay_reload(struct relay *r, const struct config *cfg);
/* Graceful stop: close the listeners, answer every request already received after its commit,
 * close idle connections; 'done' runs on the loop when the last connection closed. */
void relay_shutdown(struct relay *r, void (*done)(void *arg), void *arg);
void relay_free(struct relay *r);
/* Serve a connected stream socket as an HTTP client connection (tests and fuzzing drive the
 * server through a socketpair with this). Takes 'fd'. */
void relay_adopt_fd(struct relay *r, int fd);

#endif
