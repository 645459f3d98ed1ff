/* A fixed-bucket histogram, and its Prometheus text. The struct is plain data owned by the caller
 * (hist_init, no deinit); the bounds are borrowed and live as long as it (static tables). Not
 * locked: one thread observes, and a reader on another thread copies it under the owner's lock.
 * A copy is a snapshot (the bounds pointer is shared). */
#ifndef IWR_HIST_H
#define IWR_HIST_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

#define HIST_BOUNDS_MAX 16

struct hist {
    const double *bounds; /* 'nbounds' upper bounds, ascending; borrowed */
    size_t nbounds;
    /* Observations per bucket, not cumulative: buckets[i] counts v <= bounds[i] and above the
     * bound before; buckets[nbounds] counts those above the last bound. */
    uint64_t buckets[HIST_BOUNDS_MAX + 1];
    double sum;
    uint64_t count;
};

/* An empty histogram over bounds[0, nbounds), nbounds <= HIST_BOUNDS_MAX. Borrows 'bounds'. */
void hist_init(struct hist *h, const double *bounds, size_t nbounds);
/* Count one observation of 'v'. */
void hist_observe(struct hist *h, double v);
/* Append h's samples in Prometheus text format (no # HELP / # TYPE lines):
 *   name_bucket{LABELS,le="B"} N   one per bound, cumulative, B printed with %g
 *   name_bucket{LABELS,le="+Inf"} COUNT
 *   name_sum{LABELS} SUM           hist_append_value's spelling
 *   name_count{LABELS} COUNT
 * 'labels' is the inside of the braces (escaped by the caller) or NULL. COUNT is never below the
 * finite buckets' total, so a copy taken between two field updates cannot contradict itself. */
void hist_render(struct buf *out, const char *name, const char *labels, const struct hist *h);
/* A sample value as Prometheus parses it: integers exactly (below 2^53), NaN, +Inf and -Inf
 * spelled out, anything else with 15 significant digits. */
void hist_append_value(struct buf *out, double v);

#endif
