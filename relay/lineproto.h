/* Line protocol validation and normalisation, as InfluxDB 1.x parses it. Pure: no I/O, no
 * globals, any thread. Used by the HTTP and UDP front ends before anything reaches the log. */
#ifndef IWR_LINEPROTO_H
#define IWR_LINEPROTO_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

enum lp_precision { LP_NS = 0, LP_US, LP_MS, LP_S, LP_M, LP_H };

/* The query-string spellings of InfluxDB 1.x /write: "" (= ns), "n", "ns", "u", "us", "ms", "s",
 * "m", "h". With v2 != 0 only the /api/v2/write set: "", "ns", "us", "ms", "s". 0 or IWR_EPARSE. */
int lp_parse_precision(const char *s, size_t len, int v2, enum lp_precision *out);
/* Nanoseconds in one unit of 'p'. */
int64_t lp_precision_ns(enum lp_precision p);
const char *lp_precision_name(enum lp_precision p);

struct lp_options {
    int allow_unsigned;  /* accept "123u" fields; InfluxDB 1.x OSS rejects them by default */
    size_t max_errors;   /* how many rejected lines to describe in 'errors' (0 = 1) */
};

struct lp_result {
    size_t points;       /* accepted lines, one point each */
    size_t rejected;     /* rejected lines */
    size_t stamped;      /* accepted lines that had no timestamp and got 'now_ns' */
    struct buf errors;   /* InfluxDB's text for the rejected lines, "\n"-joined; caller owns */
};

void lp_result_init(struct lp_result *r);
void lp_result_deinit(struct lp_result *r);

/* Validate the body 'in' line by line and append every accepted line to 'out', normalised:
 * - the line's bytes are kept as sent, except that the timestamp is rewritten in nanoseconds;
 * - a line without a timestamp gets 'now_ns' truncated to the precision 'p' (as InfluxDB does),
 *   written in nanoseconds;
 * - each line ends in "\n"; a "\r" before the "\n" is dropped; blank and '#' comment lines are
 *   dropped.
 * Rejected lines are counted and described in res->errors as InfluxDB 1.x would
 * ("unable to parse '<line>': <reason>"). Returns 0 (even if lines were rejected: see res).
 * Borrows 'in'; appends to 'out' (never truncates it). */
int lp_normalize(const char *in, size_t len, enum lp_precision p, int64_t now_ns,
                 const struct lp_options *opt, struct buf *out, struct lp_result *res);

#endif
