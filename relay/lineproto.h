/* Line protocol validation and normalisation, as InfluxDB 1.x parses it. Pure: no I/O, no
 * globals, any thread. Used by the HTTP and UDP front ends before anything reaches the log. */
#ifndef IWR_LINEPROTO_H
#define IWR_LINEPROTO_H

#include "common/buf.h"
#include "common/precision.h" /* enum lp_precision, lp_parse_precision */

#include <stddef.h>
#include <stdint.h>

struct lp_options {
    int allow_unsigned; /* accept "123u" fields; InfluxDB 1.x OSS rejects them by default */
    size_t max_errors;  /* how many rejected lines to describe in 'errors' (0 = 1) */
};

struct lp_result {
    size_t points;     /* accepted lines, one point each */
    size_t rejected;   /* rejected lines */
    size_t stamped;    /* accepted lines that had no timestamp and got 'now_ns' */
    struct buf errors; /* InfluxDB's text for the rejected lines, "\n"-joined; caller owns */
    int as_received;   /* lp_normalize_borrow: its last body is stored as received */
    /* The smallest and largest |timestamp|, in ns, of the accepted lines that had one
     * (UINT64_MAX and 0 if none): lpv3's auto precision reads each timestamp's unit from its
     * size. */
    uint64_t ts_mag_min;
    uint64_t ts_mag_max;
};

void lp_result_init(struct lp_result *r);
void lp_result_deinit(struct lp_result *r);

/* Validate the body 'in' line by line and append every accepted line to 'out', normalised:
 * - the line's bytes are kept as sent from its first byte that is not a space, tab or NUL up to
 *   the end of its fields, then one space and the timestamp in nanoseconds (whitespace around the
 *   timestamp is not kept);
 * - a line without a timestamp gets 'now_ns' truncated to the precision 'p' (as InfluxDB does),
 *   written in nanoseconds;
 * - each line ends in "\n"; a "\r" before the "\n" (or ending the body) is dropped; blank and
 *   '#' comment lines are dropped. A quoted string may hold a "\n", so may a stored line.
 * Lines are split, and accepted or rejected, exactly as influxd 1.6.7 does it, quirks included;
 * the rejection texts are influxd's: "unable to parse '<line>': <reason>", '<line>' being the
 * line without leading whitespace (or "\r"). Also rejected, with influxd's reason in the same
 * wrapping, are the lines influxd parses but can never store, since stored they would fail
 * every batch they are replayed in: a tag key "time" or only fields named "time" (a 400), one
 * field given two types in the same line ("field type conflict", a 400 for the whole write),
 * 100, 200, 400, ... tags (influxd 1.6.7 crashes the request: a 500), and values its storage
 * engine cannot read (a 500; only with odd backslashes in field keys). Deliberate differences:
 * CRLF is accepted (1.6.7 refuses the "\r"), and a line whose normalised form would parse
 * differently (influxd takes an unclosed quote or a trailing backslash only on a body's last
 * line) is rejected as "ambiguous line: ...". Invalid UTF-8 and NUL bytes are taken as bytes.
 * At most opt->max_errors lines (0 = 1) are described, "\n"-joined, but all are counted in
 * res->rejected. 'opt' may be NULL (no unsigned, one description). Returns 0 (even if lines were
 * rejected: see res). Borrows 'in'; appends to 'out' (never truncates it) and to res->errors;
 * adds to the counts in 'res'. One pass, no allocation per line. */
int lp_normalize(const char *in, size_t len, enum lp_precision p, int64_t now_ns,
                 const struct lp_options *opt, struct buf *out, struct lp_result *res);
/* lp_normalize, except that when every byte of a non-empty 'in' would be stored as it is (every
 * line accepted, ending in "\n", with a canonical nanosecond timestamp and nothing around it)
 * nothing is appended to 'out' and res->as_received is set: the normalised body is 'in' itself,
 * for the caller to store. Otherwise res->as_received is cleared and 'out' is as lp_normalize
 * leaves it. */
int lp_normalize_borrow(const char *in, size_t len, enum lp_precision p, int64_t now_ns,
                        const struct lp_options *opt, struct buf *out, struct lp_result *res);

/* ---- Reading stored lines back (influx-wal audit) ------------------------------------------ */

/* One line of a stored body, split by the scanner lp_normalize validates with. Offsets are into
 * 'line'; names are as sent (escaped): see lp_unescape. */
struct lp_line {
    const char *line; /* the line, without its "\n" */
    size_t len;
    size_t measurement_len; /* line[0, measurement_len): the measurement */
    size_t key_len;         /* line[0, key_len): the measurement and its tags */
    size_t fields_start;    /* line[fields_start, fields_end): the field set */
    size_t fields_end;
    int has_ts;
    int64_t ts_ns; /* has_ts: the timestamp, in nanoseconds */
};

/* The next line of 'body' from *pos: lines end where lp_normalize ends them (a quoted "\n" does
 * not end one), blank and '#' lines are skipped. Returns 1 with 'out' filled, 0 at the end of the
 * body, or IWR_EPARSE for a line influxd would refuse (unsigned fields allowed); *pos moves past
 * the line in every case. Timestamps are in units of 'p'. Borrows 'body': 'out' points into it. */
int lp_line_next(const char *body, size_t len, size_t *pos, enum lp_precision p,
                 struct lp_line *out);
/* The next tag of 'ln' from *pos (0 for the first): "key=value" as sent. 1, or 0 after the last. */
int lp_line_next_tag(const struct lp_line *ln, size_t *pos, const char **tag, size_t *tag_len);
/* The next field of 'ln' from *pos (0 for the first), split as influxd's walkFields splits it:
 * its key, unescaped (lp_unescape) into 'key' (cleared first). Fields named "time", which influxd
 * drops, are skipped. 1, or 0 after the last. */
int lp_line_next_field(const struct lp_line *ln, size_t *pos, struct buf *key);
/* Append s[0, n) as influxd names a measurement or field key (escape.Unescape: a backslash
 * before , " space or = is dropped). */
void lp_unescape(struct buf *out, const char *s, size_t n);

#endif
