/* Prometheus remote write 1.0 to line protocol, as influxd 1.6.7's /api/v1/prom/write converts
 * it. Pure: no I/O, no globals, any thread. Used by the /api/v1/prom/write handler. */
#ifndef IWR_PROMWRITE_H
#define IWR_PROMWRITE_H

#include "common/buf.h"

#include <stddef.h>

struct pw_result {
    size_t points;       /* lines written to 'out' */
    size_t nan_dropped;  /* NaN samples skipped, as influxd skips them (no error) */
    size_t label_dropped; /* tags left out: an empty value (influxd does not key them) or an
                          * empty name (line protocol cannot carry one) */
    size_t unconvertible; /* samples of series line protocol cannot carry, left out */
    char reason[160];     /* unconvertible > 0: why, for the first such series (our text) */
    const char *err;     /* IWR_EPARSE: influxd's answer text (points into 'errbuf' or static) */
    char errbuf[160];
};

/* Inflate the snappy block 'in' into 'raw' (cleared first). The claimed length is read before
 * anything is allocated: over 'max' is IWR_EFULL (the caller answers 413). A bad block is
 * IWR_EPARSE with res->err "snappy: corrupt input", as Go's snappy says it. Borrows 'in'. */
int pw_inflate(const char *in, size_t len, size_t max, struct buf *raw, struct pw_result *res);

/* Decode the WriteRequest 'pb' and append one line per sample to 'out':
 *   measurement = the last "__name__" label's value, else "prom_metric_not_specified";
 *   tags        = every label, "__name__" included, sorted by name, the last of a repeated
 *                 name winning; labels with an empty value are left out (influxd's series key
 *                 skips them), so are those with an empty name;
 *   field       = value=<the sample as a float, shortest text that reads back exactly>;
 *   time        = timestamp_ms * 1e6 in nanoseconds (wrapping as Go's int64 product does).
 * NaN samples are skipped (counted). Errors are IWR_EPARSE with influxd's text in res->err and
 * nothing meaningful in 'out': the protobuf's (gogo's generated Unmarshal: "unexpected EOF",
 * "proto: wrong wireType = 0 for field Timeseries", ...), then the first sample influxd's
 * models.NewPoint refuses ("+/-Inf is an unsupported value for field value", "time outside
 * range ...", "max key length exceeded: ..."): influxd refuses the whole request for these.
 * A series whose measurement or labels line protocol cannot carry as they are (a newline, a
 * backslash line protocol would misread, an empty measurement) is left out, its samples counted
 * in res->unconvertible and the first one's reason in res->reason ("unable to convert series
 * to line protocol: ..."); the rest is converted (the caller answers a partial write). Appends
 * to 'out'; borrows 'pb'. */
int pw_convert(const char *pb, size_t len, struct buf *out, struct pw_result *res);

#endif
