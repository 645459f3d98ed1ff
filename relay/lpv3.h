/* Line protocol as InfluxDB 3 Core's /api/v3/write_lp takes it, on top of the 1.x validation
 * of lineproto.h: its precision names, "auto" (each timestamp's unit guessed from its size, as
 * 3.x guesses it), and a verdict per line, so that a partial write can commit the valid lines
 * and name each refused one with its line number. Pure: no I/O, no globals, any thread. */
#ifndef IWR_LPV3_H
#define IWR_LPV3_H

#include "common/buf.h"
#include "relay/lineproto.h"

#include <stddef.h>
#include <stdint.h>

/* A precision of write_lp: one of lineproto's, or guessed per timestamp. */
struct lpv3_precision {
    int is_auto;
    enum lp_precision p; /* !is_auto: LP_NS, LP_US, LP_MS or LP_S */
};

/* The write_lp spellings: "auto", "second", "millisecond", "microsecond", "nanosecond" and
 * 3.x's aliases "s", "ms", "us", "u", "ns", "n". 0 or IWR_EPARSE (*out unchanged). 's' need not
 * be NUL-terminated. A missing parameter is the caller's to default (3.x: auto). */
int lpv3_parse_precision(const char *s, size_t len, struct lpv3_precision *out);
/* The unit 3.x's auto precision reads 'ts' in: below 5e9 (in absolute value) seconds, below
 * 5e12 milliseconds, below 5e15 microseconds, else nanoseconds. */
enum lp_precision lpv3_guess_precision(int64_t ts);

/* NULL when 'name' is a database name 3.x's write_lp takes (validate_db_name: ASCII letters,
 * digits, '_' and '-', starting with a letter or digit, at most one '/' that separates a
 * retention policy and does not end it, at most 511 bytes), else 3.x's text for why not. */
const char *lpv3_check_db_name(const char *name, size_t len);

/* How many refused lines lpv3_normalize describes; the rest are only counted. */
#define LPV3_MAX_DESCRIBED 100
/* How much of a refused line its description keeps, as 3.x truncates original_line. */
#define LPV3_ORIGINAL_LINE_MAX 20

struct lpv3_result {
    size_t points;   /* accepted lines */
    size_t rejected; /* refused lines */
    size_t stamped;  /* accepted lines without a timestamp, given 'now_ns' */
    int as_received; /* lpv3_normalize_borrow: the normalised body is 'in' itself */
    /* The first LPV3_MAX_DESCRIBED refused lines as JSON objects, comma-separated (no
     * brackets): {"error_message":"...","line_number":N,"original_line":"..."}, 3.x's member
     * names and order; caller owns. */
    struct buf errors_json;
    /* The first refused line alone, as above, for accept_partial=false. */
    struct buf first_json;
};

void lpv3_result_init(struct lpv3_result *r);
void lpv3_result_deinit(struct lpv3_result *r);

/* Validate 'in' line by line as lp_normalize does and append each accepted line to 'out',
 * normalised (timestamps in ns; a line without one gets 'now_ns', truncated to a fixed
 * precision and kept whole under auto, as 3.x stamps it). Line numbers count the body's
 * lines from 1, blank and comment lines included. The error texts are lp_normalize's (1.x's),
 * not 3.x's parser's. Borrows 'in'; appends to 'out' and to 'res'. Returns 0. */
int lpv3_normalize(const char *in, size_t len, struct lpv3_precision prec, int64_t now_ns,
                   const struct lp_options *opt, struct buf *out, struct lpv3_result *res);
/* lpv3_normalize, except that when every byte of 'in' would be stored as it is, nothing is
 * appended to 'out' and res->as_received is set (as lp_normalize_borrow does); otherwise
 * res->as_received is cleared and 'out' is as lpv3_normalize leaves it. */
int lpv3_normalize_borrow(const char *in, size_t len, struct lpv3_precision prec, int64_t now_ns,
                          const struct lp_options *opt, struct buf *out, struct lpv3_result *res);
/* lpv3_normalize the slow way, each line found with lp_line_next and normalised alone: the
 * reference lpv3_normalize's one pass over the body must equal (tests and the fuzz oracle). */
int lpv3_normalize_by_line(const char *in, size_t len, struct lpv3_precision prec, int64_t now_ns,
                           const struct lp_options *opt, struct buf *out, struct lpv3_result *res);

/* Append one per-line error object (see lpv3_result) to 'out'. */
void lpv3_append_line_error(struct buf *out, const char *msg, size_t msg_len, size_t line_number,
                            const char *line, size_t line_len);

#endif
