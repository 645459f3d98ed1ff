/* The HTTP side of an OpenTSDB listener: a connection whose first line is an HTTP request line
 * is served as influxd's opentsdb handler serves it (POST /api/put with a JSON object or
 * array, gzip or not; /api/metadata/put answered 204; anything else 404, other methods 405),
 * with the relay's guarantee: 204 only once the points are committed to the log (503 with
 * Retry-After while it is full). One request at a time per connection, as Go's server does.
 * Internal to relay/; stream.c owns the socket. Loop thread only. */
#ifndef IWR_OPENTSDB_HTTP_H
#define IWR_OPENTSDB_HTTP_H

#include <stddef.h>

struct relay;
struct stream_sink;
struct tsdb_http;

/* What the connection does for the HTTP side (all called on the loop). */
struct tsdb_http_io {
    /* Send 'n' bytes (copied); close the connection once sent if 'close_after'. */
    void (*send)(void *arg, const char *p, size_t n, int close_after);
    /* Stop (1) or resume (0) reading: a request waits for its commit. */
    void (*hold)(void *arg, int hold);
    void *arg;
};

/* Borrows 'sink' (the listener's, for its database and counters) until tsdb_http_free. */
struct tsdb_http *tsdb_http_new(struct relay *r, struct stream_sink *sink,
                                const struct tsdb_http_io *io);
/* Parse what the connection read (bytes after a request that waits are kept for later). */
void tsdb_http_feed(struct tsdb_http *h, const char *p, size_t n);
/* 1 while a request waits for its commit (reading must stay stopped). */
int tsdb_http_busy(const struct tsdb_http *h);
/* Free it; a commit still in flight completes without touching it. */
void tsdb_http_free(struct tsdb_http *h);

#endif
