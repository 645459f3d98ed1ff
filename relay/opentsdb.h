/* OpenTSDB input converted to line protocol as influxd 1.6.7's opentsdb service converts it:
 * telnet "put" lines and the JSON bodies of HTTP POST /api/put (one object or an array), each
 * point becoming "metric[,tags] value=V ts". influxd's quirks are kept, because the point must
 * land exactly where influxd's own input would put it:
 * - telnet: a timestamp of 10 characters is seconds, of 13 is milliseconds, any other length
 *   is refused; a 10 or 13 character timestamp that is not a number is time 0 (1970), since
 *   influxd counts the error and goes on with ParseInt's 0;
 * - milliseconds become sec + (ms % 1000) * 1000 ns (so 1500000000123 ms is 1500000000 s and
 *   123 us, not 123 ms): influxd passes microseconds where time.Unix wants nanoseconds;
 * - HTTP: a timestamp below 10000000000 is seconds, from it on milliseconds (same quirk);
 *   a missing one is 0 (1970);
 * - a tag that is not "k=v" with both sides non-empty is skipped, the point kept; the last of
 *   two tags with one key wins; empty tag values are left out of the series;
 * - the JSON is read as Go's encoding/json reads into influxd's struct: member names in any
 *   case, unknown members skipped, null leaves a member as it was ("tags": null clears them),
 *   numbers of the wrong kind (a fraction for the timestamp) fail the whole body, invalid
 *   UTF-8 in strings becomes U+FFFD, and anything after the first value is not read.
 * Pure: no I/O, no clock; any thread. */
#ifndef IWR_OPENTSDB_H
#define IWR_OPENTSDB_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

/* opentsdb_line's outcomes besides 0 (one line appended to 'out'). */
enum {
    OPENTSDB_EMPTY = 1,   /* nothing but white space: not a line, not an error */
    OPENTSDB_VERSION = 2, /* the "version" command: answer OPENTSDB_VERSION_TEXT, no point */
};
#define OPENTSDB_VERSION_TEXT "InfluxDB TSDB proxy" /* influxd's answer, without a newline */

/* Convert one telnet line (without its '\n'; a trailing '\r' and surrounding white space are
 * ignored) and append it to 'out' as one line of line protocol ending in '\n', timestamp in
 * ns. 0; OPENTSDB_EMPTY; OPENTSDB_VERSION; or IWR_EPARSE with a static reason in *why ('out'
 * unchanged). */
int opentsdb_line(const char *line, size_t len, struct buf *out, const char **why);

/* 1 if 'line' (a connection's first line, without '\n') is an HTTP request line
 * ("METHOD SP TARGET SP HTTP/d.d"): influxd serves such a connection as HTTP. */
int opentsdb_is_http(const char *line, size_t len);

/* Convert the (inflated) body of a POST /api/put: append every point influxd would keep to
 * 'out' and count them in *points, count the ones it drops (bad names, values or times) in
 * *dropped. 0, or IWR_EPARSE with influxd's 400 text in *why (static; 'out' unchanged):
 * "expected JSON array or hash", "json array decode error", "json object decode error",
 * "peek error: EOF". */
int opentsdb_json(const char *body, size_t len, struct buf *out, size_t *points, size_t *dropped,
                  const char **why);

#endif
