/* The precision of line-protocol timestamps: one table for the whole tree. relay/ parses it from
 * a /write query string and normalises timestamps with it, the log stores it as one byte per
 * record (wal_record.precision), replay/ names it again when it posts a batch. The lp_ prefix
 * is the line protocol's: these are the names relay/lineproto.h has always exported. Pure. */
#ifndef IWR_PRECISION_H
#define IWR_PRECISION_H

#include <stddef.h>
#include <stdint.h>

/* The values are stored in the log: never renumber. */
enum lp_precision { LP_NS = 0, LP_US, LP_MS, LP_S, LP_M, LP_H };

/* The query-string spellings of InfluxDB 1.x /write: "" (= ns), "n", "ns", "u", "us", "ms", "s",
 * "m", "h". With v2 != 0 only the /api/v2/write set: "", "ns", "us", "ms", "s". 0 or IWR_EPARSE
 * (*out unchanged). 's' need not be NUL-terminated. Note: influxd 1.6.7 itself reads any
 * spelling it does not know, "us" included, as nanoseconds; here "us" is microseconds, as in
 * InfluxDB 2.x and later 1.x, and unknown spellings are refused. */
int lp_parse_precision(const char *s, size_t len, int v2, enum lp_precision *out);
/* Nanoseconds in one unit of 'p'; 1 for a value outside the enum. */
int64_t lp_precision_ns(enum lp_precision p);
/* The canonical name ("ns", "us", "ms", "s", "m", "h"); "?" outside the enum. */
const char *lp_precision_name(enum lp_precision p);
/* The spelling to send to an InfluxDB 1.x backend's /write ("ns", "u", "ms", "s", "m", "h"):
 * 1.6.7 reads "us" as nanoseconds, "u" right. A stored byte outside the enum is sent as "ns",
 * as lp_precision_ns reads it. */
const char *lp_precision_v1_name(unsigned p);

#endif
