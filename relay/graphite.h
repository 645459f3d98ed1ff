/* The Graphite plaintext protocol ("name value [timestamp]" lines) converted to line protocol
 * as influxd 1.6.7's graphite input converts it: its template language (filters, measurement,
 * measurement*, field, field*, tag names, per-template default tags), the listener's default
 * tags, its separator, its value and timestamp rules. Pure: no I/O, no clock (the caller passes
 * "now"); a struct graphite is read-only once built, so any thread may use it. */
#ifndef IWR_GRAPHITE_H
#define IWR_GRAPHITE_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

struct graphite;

/* What a [[graphite]] section says (all borrowed for graphite_new). */
struct graphite_opts {
    const char *separator;            /* joins measurement parts; NULL or "": "." */
    const char *const *templates;     /* "[filter] template [tag=value,...]" each */
    size_t n_templates;
    const char *const *tags;          /* "tag=value" each: set when a template did not */
    size_t n_tags;
};

/* Build a converter from 'o', checking it as influxd checks its [[graphite]] section (each
 * template has a measurement, filters have no blank or partial-wildcard parts and are not
 * given twice, tags are "key=value"). 0, or IWR_EPARSE with influxd's reason in 'err'.
 * graphite_free frees it. */
int graphite_new(struct graphite **out, const struct graphite_opts *o, char *err, size_t err_cap);
void graphite_free(struct graphite *g);

/* graphite_line's outcomes besides 0 (one line appended to 'out'). */
enum {
    GRAPHITE_EMPTY = 1, /* nothing but whitespace: not a line, not an error */
    GRAPHITE_NAN = 2,   /* the value is NaN: influxd drops it quietly; counted apart */
};

/* Convert one line (without its '\n'; surrounding whitespace is ignored) and append it to
 * 'out' as one line of line protocol ending in '\n', with its timestamp in nanoseconds
 * ('now_ns' when the line has none or has -1). 0; GRAPHITE_EMPTY; GRAPHITE_NAN; or IWR_EPARSE
 * with a static reason in *why ('out' unchanged). */
int graphite_line(const struct graphite *g, const char *line, size_t len, int64_t now_ns,
                  struct buf *out, const char **why);

#endif
