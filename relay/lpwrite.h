/* What the protocol converters (graphite.c, opentsdb.c) share: Go's way of splitting text into
 * fields and of reading a float, as influxd's inputs use them, and the writing of one converted
 * point (measurement, tags, one float field, a nanosecond timestamp) as a line of line
 * protocol, with the checks influxd's models.NewPoint makes. Pure; any thread. */
#ifndef IWR_LPWRITE_H
#define IWR_LPWRITE_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

/* A borrowed piece of text. */
struct lpw_span {
    const char *p;
    size_t n;
};

/* Go's strings.Fields: the runs of 's' between Unicode white space (ASCII and the UTF-8 encoded
 * spaces unicode.IsSpace knows). Up to 'max' spans into 'out'; returns how many there are in
 * all (which may be more than 'max'). */
size_t lpw_fields(const char *s, size_t n, struct lpw_span *out, size_t max);
/* The length of the Unicode space at s[0..n), or 0 when there is none. */
size_t lpw_space_len(const char *s, size_t n);

/* Go 1.10's strconv.ParseFloat(s, 64), which influxd 1.6.7 was built with: decimal syntax
 * ([+-] digits [. digits] [e [+-] digits], a digit somewhere in the mantissa), or "NaN", "Inf",
 * "Infinity" in any case (a sign only for the infinities). 0 with *out, or -1 (a syntax error,
 * or beyond the float range: Go's ErrRange). */
int lpw_parse_float(const char *s, size_t n, double *out);

/* A tag of a converted point; empty values are left out of the series, as influxd does. */
struct lpw_tag {
    struct lpw_span key, value;
};

/* Append "measurement[,tags] field=value ts\n" to 'out': tags sorted by key (no two the same),
 * names escaped for line protocol, the value in its shortest exact decimal form. 0, or -1 with
 * a static reason in *why ('out' unchanged): a value that is NaN or infinite, a series key over
 * influxd's 65535 bytes, or a name line protocol cannot carry back as it is (a backslash at its
 * end or before a character that is escaped there). Sorts 'tags' in place. */
int lpw_point(struct buf *out, struct lpw_span measurement, struct lpw_tag *tags, size_t n_tags,
              struct lpw_span field, double value, int64_t ts_ns, const char **why);

#endif
