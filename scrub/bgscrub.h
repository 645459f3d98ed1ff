/* The daemon's background scrub: a slow, rate-limited comparison of the recent windows of the
 * backends ([scrub] in the config), each backend against the first, with the same figures and
 * the same rule as `influx-wal scrub` (scrub/window.h). It sends its queries through replay/'s
 * curl multi with each backend's own credentials (replay_query_own), reads the log to tell
 * windows in flight from differences, and keeps the last result for /metrics and /health
 * (struct relay_scrub_view). It sits above relay/ and replay/ (it joins relay/'s line-protocol
 * reader, replay/'s HTTP client and the view relay/ renders), below cmd/. Loop thread only;
 * never blocks the loop: one query at a time, the log read in slices.
 *
 * In flight: a window (database, measurement, hour; every retention policy) is not reported as
 * differing when the log holds a point of it in a record after the cursor either backend of the
 * pair had when that window's queries started, up to the log's head when they ended: such a
 * point may have reached one side and not the other. When that backlog is over
 * BGSCRUB_SCAN_MAX records, every differing window of the rest of the run counts as in flight.
 * Other relays (several relays feeding the same backends, [[peer]]): their logs are not read
 * here, their status polls are (replay_peer_pair_lag). While a peer is down or has not answered
 * yet, every differing window counts as in flight; while a peer's sender for either side of
 * the pair lags, a differing window at or after the hour in which that peer received the oldest
 * record it has not delivered counts as in flight. A peer's point timestamped before that hour
 * (a backfill) can still be reported as differing until the peer delivers it. */
#ifndef IWR_SCRUB_BGSCRUB_H
#define IWR_SCRUB_BGSCRUB_H

#include "relay/relay.h"
#include "replay/replay.h"
#include "wal/wal.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Records read from the log per run to find windows in flight, at most. */
#define BGSCRUB_SCAN_MAX 200000

struct bgscrub;

/* Borrowed for the call; the engine copies what it keeps. */
struct bgscrub_opts {
    uint64_t interval_ms;        /* from one run's start to the next's; > 0 */
    uint64_t window_ms;          /* each run compares the hours of the last window_ms */
    size_t rate;                 /* queries per second at most; > 0 */
    const char *const *backends; /* names, each compared with the first; n 0: every backend */
    size_t n_backends;
};

/* Create the scrub on 'loop' over engine 'rp' and log 'w' (borrowed, outliving it) and start
 * it: the first run starts a few seconds after. 0 or -errno. Loop thread. */
int bgscrub_new(struct bgscrub **out, uv_loop_t *loop, struct replay *rp, struct wal *w,
                const struct bgscrub_opts *o);
/* New options (SIGHUP): taken by the next run. */
void bgscrub_set_options(struct bgscrub *s, const struct bgscrub_opts *o);
/* The last result into *out (enabled is set). */
void bgscrub_view(struct bgscrub *s, struct relay_scrub_view *out);
/* Stop: no new query or run; call before replay_stop (which ends a query in flight). */
void bgscrub_stop(struct bgscrub *s);
/* Free once the loop ran dry. NULL is fine. */
void bgscrub_free(struct bgscrub *s);

#endif
