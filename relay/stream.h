/* Stream listeners (protocols with no answer: UDP line protocol, Graphite over TCP and UDP,
 * OpenTSDB telnet): the one batching of what they read into log records, committed when a
 * batch reaches STREAM_BATCH_BYTES or STREAM_FLUSH_MS after its first line; the per-listener
 * counters /metrics and /health show; TCP line connections (limits, idle timeout, reading
 * paused while the log refuses appends). Internal to relay/. Loop thread only. */
#ifndef IWR_STREAM_H
#define IWR_STREAM_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct relay;

#define STREAM_BATCH_BYTES (1024 * 1024)
#define STREAM_FLUSH_MS 100
#define STREAM_LINE_MAX (1024 * 1024) /* a longer line is dropped (reason too_long) */

enum stream_drop { DROP_MALFORMED, DROP_TOO_LONG, DROP_LOG_FULL, DROP_NAN, DROP_REASONS };
extern const char *const stream_drop_names[DROP_REASONS];

/* What /metrics shows for one listener (label listener="PROTO/TRANSPORT/ADDR"). */
struct stream_stats {
    char label[160];
    uint64_t points_total;        /* committed */
    uint64_t bytes_total;         /* read from the socket */
    uint64_t lines_total;         /* lines (or datagrams' lines) seen */
    uint64_t dropped_total[DROP_REASONS]; /* lines (log_full: points) dropped, by reason */
    uint64_t connections;         /* open now (TCP) */
    uint64_t connections_total;
    uint64_t connections_refused_total;
    int paused;                   /* TCP reading stopped: the log is full */
};

/* A batch being filled for one database and retention policy. Allocated by stream_sink_new,
 * freed once stream_sink_close was called and its last append completed. */
struct stream_sink;

/* 'hold_on_full': a batch the log refuses as full is kept and retried (TCP: the caller stops
 * reading via 'pause'), else dropped and counted (UDP). 'stats' is borrowed and must outlive
 * the sink's appends: the sink owns a copy of it and the caller reads it with stream_sink_stats. */
struct stream_sink *stream_sink_new(struct relay *r, const char *label, const char *db,
                                    const char *rp, int hold_on_full,
                                    void (*pause)(void *arg, int paused), void *pause_arg);
/* Append normalised line protocol ('points' lines, each ending in '\n', timestamps in ns). */
void stream_sink_add(struct stream_sink *s, const char *lp, size_t len, size_t points,
                     uint64_t recv_ns);
/* Append 'lp' now, outside the batch, for a client that waits for its answer (OpenTSDB's
 * HTTP /api/put): 'done' runs on the loop with 0 once it is committed, IWR_EFULL-class codes
 * while the log is full, or another error; the points are counted when committed. */
void stream_sink_append_now(struct stream_sink *s, const char *lp, size_t len, size_t points,
                            uint64_t recv_ns, void (*done)(void *arg, int rc), void *arg);
/* The counters, to read and to add to (bytes, lines, drops, connections). */
struct stream_stats *stream_sink_stats(struct stream_sink *s);
/* 1 while a refused batch is held (TCP listeners must not read). */
int stream_sink_held(const struct stream_sink *s);
/* Commit what is batched now. */
void stream_sink_flush(struct stream_sink *s);
/* Flush, stop, and free once nothing is in flight; the pause callback is not called after. */
void stream_sink_close(struct stream_sink *s);
/* Rate-limited logging of a dropped line: at most one line per listener per second, with how
 * many were dropped since the last. */
void stream_sink_log_drop(struct stream_sink *s, const char *why, const char *line, size_t len);

/* The hook a listener calls before its first commit: the database it writes to is created on
 * every backend first, as influxd's inputs create theirs: a CREATE DATABASE statement record
 * (WAL_REC_STATEMENT), once per sink and daemon run, ahead of its first points. */
void stream_sink_before_first(struct stream_sink *s);

/* The stream listeners of the relay (graphite, opentsdb), started and closed by relay.c. */
struct relay_stream;
int stream_start_all(struct relay *r, const struct relay_stream *cfg, size_t n);
void stream_close_all(struct relay *r);
/* Each listener's counters, for /metrics and /health: n of them, borrowed. */
size_t stream_stats_all(struct relay *r, const struct stream_stats **out, size_t max);

#endif
