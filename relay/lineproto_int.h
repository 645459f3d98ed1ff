/* The pieces of the line-protocol validator shared by its files (see lineproto.h for the API):
 * the parsed line and its verdict (lineproto.c, the scanner), the Go number replicas
 * (lineproto_gonum.c) and influxd's error texts (lineproto_errors.c). Pure, any thread. */
#ifndef IWR_LINEPROTO_INT_H
#define IWR_LINEPROTO_INT_H

#include "relay/lineproto.h"

#include <stddef.h>
#include <stdint.h>

#define LP_MAX_KEY 65535 /* models.MaxKeyLength */

enum lp_reason {
    R_OK = 0,
    R_MISSING_MEASUREMENT,
    R_MISSING_FIELDS,
    R_MISSING_TAG_KEY,
    R_MISSING_TAG_VALUE,
    R_INVALID_TAG_FORMAT,
    R_DUPLICATE_TAGS,
    R_TAG_PANIC, /* influxd 1.6.7 panics on 100 * 2^k tags; num = the count */
    R_MAX_KEY,   /* num = the size */
    R_MISSING_FIELD_KEY,
    R_MISSING_FIELD_VALUE,
    R_UNBALANCED_QUOTES,
    R_INVALID_FIELD_FORMAT,
    R_INVALID_NUMBER,
    R_INVALID_FLOAT,
    R_INVALID_BOOLEAN,
    R_INT_RANGE,     /* span = the digits */
    R_UINT_RANGE,    /* span = the digits */
    R_INVALID_VALUE, /* span = the field key */
    R_BAD_TIMESTAMP,
    R_TS_SYNTAX, /* span = the timestamp */
    R_TS_RANGE,  /* span = the timestamp */
    R_TIME_RANGE,
    R_POINT_INVALID,
    R_TIME_TAG,
    R_TIME_FIELD,
    R_TYPE_CONFLICT, /* fields cf[0] and cf[1] */
    R_ENGINE,        /* influxd's storage engine cannot read field cf[1]'s value */
    R_AMBIGUOUS,
};

/* Field types as influxd's field iterator reads them from the first and last byte. */
enum lp_type { T_FLOAT = 0, T_INTEGER, T_UNSIGNED, T_STRING, T_BOOLEAN, T_EMPTY };

struct lp_field {
    const unsigned char *k; /* the key as sent (escaped) */
    size_t kn;
    const unsigned char *v; /* the value as influxd's walkFields splits it */
    size_t vn;
    enum lp_type type;
};

/* One parsed line. Offsets are into 'b'. */
struct lp_point {
    const unsigned char *b;
    size_t n;
    size_t key_len;      /* measurement and tags: b[0, key_len) */
    size_t fields_start; /* fields: b[fields_start, fields_end) */
    size_t fields_end;
    size_t ts_start; /* timestamp as sent: b[ts_start, ts_end); empty if none */
    size_t ts_end;
    int64_t ts;         /* as sent, in units of the precision */
    int time_tag;       /* some tag key is exactly "time" */
    int fields_escaped; /* the fields hold a backslash */
    size_t nfields;     /* '=' seen by the field scanner */
    enum lp_reason reason;
    size_t ea, eb;         /* the span of b the reason quotes */
    size_t num;            /* the number the reason quotes */
    struct lp_field cf[2]; /* a type conflict: the first field, then the later one */
};

/* ---- Go's strconv, as influxd 1.6.7 reads numbers (lineproto_gonum.c) ---------------------- */

/* Go's strconv.ParseInt (is_signed) or ParseUint range check on b[a, e): an optional '-' then
 * digits (callers let nothing else through). Returns 1 if out of range. */
int gonum_int_out_of_range(const unsigned char *b, size_t a, size_t e, int is_signed);

/* Go's strconv.ParseInt(s, 10, 64) or ParseUint: 0 ok, 1 bad syntax, 2 out of range. */
int gonum_int_invalid(const unsigned char *s, size_t n, int is_signed);
/* Go's strconv.ParseFloat(s, 64) failing on b[a, e): 0 ok, 1 bad syntax, 2 a result of +-Inf. */
int gonum_float_invalid(const unsigned char *b, size_t a, size_t e);

/* ---- influxd's rejection texts (lineproto_errors.c) --------------------------------------- */

/* Count the rejected line 'pt' in res->rejected and, while at most 'max_errors' are described,
 * append influxd's text for it to res->errors ("\n"-joined). 'now_ns' is the default timestamp
 * (an engine error prints the point). */
void lp_error_add(struct lp_result *res, size_t max_errors, const struct lp_point *pt,
                  int64_t now_ns);

/* The next byte of an escaped key as influxd's escape.Unescape reads it: a backslash before
 * , " space or = is dropped. Inline: the scanner's field-key comparison runs it per byte. */
static inline unsigned char lp_unesc_next(const unsigned char *k, size_t n, size_t *i)
{
    unsigned char ch = k[*i];
    if (ch == '\\' && *i + 1 < n &&
        (k[*i + 1] == ',' || k[*i + 1] == '"' || k[*i + 1] == ' ' || k[*i + 1] == '=')) {
        ch = k[*i + 1];
        (*i)++;
    }
    (*i)++;
    return ch;
}

/* ---- the scanner's pieces shared with the reader (lineproto.c, lineproto_read.c) ---------- */

struct lp_span {
    const unsigned char *p;
    size_t n;
};

struct lp_ctx {
    int allow_unsigned;
    size_t max_errors;
    int64_t now;           /* the default timestamp, truncated to the precision */
    struct lp_span *spans; /* scratch for the duplicate-tag check of unsorted tags */
    size_t spans_cap;
    struct lp_field *fields; /* scratch for the type check of lines with many fields */
    size_t fields_cap;
};

/* influxd's scanLine: the end of the line starting at 'i' (a '\n' or 'n'). */
size_t lp_scan_line(const unsigned char *b, size_t i, size_t n);
/* The line b[*ls, *end) as lp_normalize takes it ("\r" and the final "\n" dropped, leading
 * whitespace skipped); 0 for a blank or '#' comment line. */
int lp_line_trim(const unsigned char *b, size_t *ls, size_t *end);
/* One field of b[p, end) as influxd's walkFields splits it: the key ends at *eq, the value at
 * the return value. */
size_t lp_walk_field(const unsigned char *b, size_t p, size_t end, size_t *eq);
/* influxd's parsePoint and its shard's stateless refusals, timestamps multiplied by 'mult'
 * into ns. c's scratch arrays are the caller's to free. */
int lp_parse_point(struct lp_ctx *c, struct lp_point *pt, const unsigned char *b, size_t n,
                int64_t mult);

#endif
