/* Line protocol validation and normalisation; see lineproto.h. Pure: no I/O, no globals, any
 * thread. Owns nothing beyond one lp_normalize call (scratch arrays for lines with many tags or
 * fields, freed before it returns).
 *
 * The verdicts follow InfluxDB 1.6.7 (models.ParsePointsWithPrecision, then what its shard and
 * storage engine refuse whatever the stored state), quirks included, because the relay
 * acknowledges a line before any backend sees it: a line we accept and influxd refuses is lost
 * later (and may sink the whole batch it is replayed in), and a line we refuse that influxd
 * would take is lost now. Each scanner below mirrors one influxd scanner, and each has its own
 * idea of what a backslash escapes, so they are kept separate on purpose:
 * - line splitting and field scanning skip the byte after a backslash;
 * - the measurement, tag and walkFields key scanners treat a byte as escaped when the byte before
 *   it is a backslash, so in a\\, (two backslashes) the comma is escaped there.
 * The common case (no backslash, no quote) takes the fast path: one search for the next '\n',
 * '"' or backslash finds the line end and the stored line is not parsed back. The byte searches
 * themselves (byte classes, SSE2) are in lineproto_skip.h. */
#include "relay/lineproto_int.h"

#include "common/err.h"
#include "common/xalloc.h"

#include "relay/lineproto_skip.h"

#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define LP_MIN_NANO (INT64_MIN + 2)
#define LP_MAX_NANO (INT64_MAX - 1)

void lp_result_init(struct lp_result *r)
{
    r->points = 0;
    r->rejected = 0;
    r->stamped = 0;
    r->as_received = 0;
    r->ts_mag_min = UINT64_MAX;
    r->ts_mag_max = 0;
    buf_init(&r->errors);
}

void lp_result_deinit(struct lp_result *r)
{
    buf_deinit(&r->errors);
}

/* influxd's skipWhitespace: space, tab and NUL. */
static size_t skip_ws(const unsigned char *b, size_t i, size_t n)
{
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == 0))
        i++;
    return i;
}

/* influxd's scanLine: the end of the line starting at 'i' (a '\n' or 'n'). A newline inside a
 * quoted field value, or after a backslash, does not end the line; quotes count only after the
 * first unescaped space and once more '=' than ',' have been seen, as influxd counts them. */
size_t lp_scan_line(const unsigned char *b, size_t i, size_t n)
{
    int quoted = 0, fields = 0;
    size_t equals = 0, commas = 0;
    struct win w = {SIZE_MAX, 0};
    while (i < n) {
        i = win_skip(b, i, n, C_LINE, &w);
        if (i >= n)
            break;
        unsigned char c = b[i];
        if (c == '\\' && i + 2 < n) {
            i += 2;
            continue;
        }
        if (c == ' ')
            fields = 1;
        if (fields) {
            if (!quoted && c == '=') {
                equals++;
                i++;
                continue;
            }
            if (!quoted && c == ',') {
                commas++;
                i++;
                continue;
            }
            if (c == '"' && equals > commas) {
                quoted = !quoted;
                i++;
                continue;
            }
        }
        if (c == '\n' && !quoted)
            break;
        i++;
    }
    return i;
}

/* The line b[*ls, *end) as lp_normalize takes it: a "\r" before its end dropped, leading
 * whitespace skipped, then a final "\n" (quoted or escaped, ending the body) dropped as influxd
 * strips it. 0 for a blank or '#' comment line. */
int lp_line_trim(const unsigned char *b, size_t *ls, size_t *end)
{
    if (*end > *ls && b[*end - 1] == '\r')
        (*end)--;
    *ls = skip_ws(b, *ls, *end);
    if (*ls >= *end || b[*ls] == '#')
        return 0;
    if (b[*end - 1] == '\n')
        (*end)--;
    return 1;
}

static int fail(struct lp_point *pt, enum lp_reason r)
{
    pt->reason = r;
    return -1;
}

static int fail_span(struct lp_point *pt, enum lp_reason r, size_t a, size_t e)
{
    pt->ea = a;
    pt->eb = e;
    return fail(pt, r);
}

static int span_cmp(const void *x, const void *y)
{
    const struct lp_span *a = x, *b = y;
    int c = memcmp(a->p, b->p, a->n < b->n ? a->n : b->n);
    if (c != 0)
        return c;
    return a->n < b->n ? -1 : a->n > b->n;
}

/* The tags b[i, end) are valid but out of order: influxd sorts the keys (raw, as escaped) and
 * refuses equal neighbours. Rescans with the tag scanner's rules to collect the keys. */
static int tags_have_duplicate(struct lp_ctx *c, const unsigned char *b, size_t i, size_t end,
                               size_t ntags)
{
    struct lp_span local[64];
    struct lp_span *s = local;
    if (ntags > sizeof(local) / sizeof(local[0])) {
        if (c->spans_cap < ntags) {
            free(c->spans);
            c->spans = xmalloc(ntags * sizeof(*c->spans));
            c->spans_cap = ntags;
        }
        s = c->spans;
    }
    size_t k = 0;
    while (i < end && k < ntags) {
        size_t j = i + 1; /* a key is at least one byte and never starts with '=' */
        while (j < end && !(b[j] == '=' && b[j - 1] != '\\'))
            j++;
        IWR_ASSERT(j < end); /* scan_key found this '=' */
        s[k].p = b + i;
        s[k].n = j - i;
        k++;
        j += 2; /* a value is at least one byte, and its first byte is never a separator */
        while (j < end && !(b[j] == ',' && b[j - 1] != '\\'))
            j++;
        i = j + 1;
    }
    IWR_ASSERT(k == ntags);
    qsort(s, k, sizeof(*s), span_cmp);
    for (size_t j = 1; j < k; j++) {
        if (span_cmp(&s[j - 1], &s[j]) == 0)
            return 1;
    }
    return 0;
}

/* influxd's scanKey: the measurement and the tags, up to the space before the fields. */
static int scan_key(struct lp_ctx *c, struct lp_point *pt)
{
    const unsigned char *b = pt->b;
    size_t n = pt->n, i = 0;
    if (n == 0 || b[0] == ',')
        return fail(pt, R_MISSING_MEASUREMENT);
    i = next_unescaped(b, 1, n, C_MEAS);
    if (i >= n)
        return fail(pt, R_MISSING_FIELDS);
    if (b[i] == ' ') {
        pt->key_len = i;
        return 0;
    }

    /* Tags. The duplicate check runs only once every tag scanned, as in influxd, but the first
     * (sorted) pass compares neighbours on the way. */
    size_t tags_start = ++i, ntags = 0;
    struct lp_span prev = {NULL, 0};
    struct win w = {SIZE_MAX, 0};
    int unsorted = 0, dup = 0;
    for (;;) {
        if (i >= n || b[i] == ' ' || b[i] == ',' || b[i] == '=')
            return fail(pt, R_MISSING_TAG_KEY);
        struct lp_span key = {b + i, 0};
        i = next_unescaped_win(b, i + 1, n, C_TAG, &w);
        if (i >= n || b[i] != '=')
            return fail(pt, R_MISSING_TAG_VALUE);
        key.n = (size_t)(b + i - key.p);
        if (key.n == 4 && memcmp(key.p, "time", 4) == 0)
            pt->time_tag = 1;
        if (ntags > 0 && !unsorted && !dup) {
            int r = span_cmp(&prev, &key);
            if (r > 0)
                unsorted = 1;
            else if (r == 0)
                dup = 1;
        }
        prev = key;
        ntags++;

        i++; /* the value; its first byte may be '=' but not a separator */
        if (i >= n || b[i] == ',' || b[i] == ' ')
            return fail(pt, R_MISSING_TAG_VALUE);
        i = next_unescaped_win(b, i + 1, n, C_TAG, &w);
        if (i >= n)
            return fail(pt, R_MISSING_FIELDS);
        if (b[i] == '=')
            return fail(pt, R_INVALID_TAG_FORMAT);
        if (b[i] == ' ')
            break;
        i++; /* ',': the next tag */
    }
    pt->key_len = i;
    /* influxd's tag index array starts at 100 and doubles; with exactly that many tags it
     * writes one past the end and the whole request fails with a 500. */
    for (size_t cap = 100; cap <= ntags && cap != 0; cap *= 2) {
        if (ntags == cap) {
            pt->num = ntags;
            return fail(pt, R_TAG_PANIC);
        }
    }
    if (dup || (unsorted && tags_have_duplicate(c, b, tags_start, i, ntags)))
        return fail(pt, R_DUPLICATE_TAGS);
    return 0;
}

/* influxd's scanNumber from b[*pi]; leaves *pi after the value. */
static int scan_number(struct lp_ctx *c, struct lp_point *pt, size_t *pi)
{
    const unsigned char *b = pt->b;
    size_t n = pt->n, start = *pi, i = start;
    int is_int = 0, is_uns = 0, decimal = 0, sci = 0;
    if (b[i] == '-') {
        i++;
        if (i == n)
            return fail(pt, R_INVALID_NUMBER);
    }
#ifdef __SSE2__
    /* The usual values in one look at 16 bytes: digits, with one '.' among them (a float) or
     * one 'i' after them (an integer), up to a ',' or ' ' within the 16. They get the loop's
     * verdict below (valid when a digit is among them; no range check: fewer than 16 bytes);
     * anything else takes the loop. */
    if (n - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        unsigned dig = (unsigned)_mm_movemask_epi8(
            _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                          _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1))));
        unsigned sep = (unsigned)_mm_movemask_epi8(_mm_or_si128(
            _mm_cmpeq_epi8(v, _mm_set1_epi8(',')), _mm_cmpeq_epi8(v, _mm_set1_epi8(' '))));
        if (sep != 0) {
            unsigned p = (unsigned)__builtin_ctz(sep);
            unsigned body = (1u << p) - 1, other = ~dig & body;
            unsigned digits = (unsigned)__builtin_popcount(dig & body);
            if (digits > 0 && (other & (other - 1)) == 0) {
                unsigned char o = other != 0 ? b[i + (size_t)__builtin_ctz(other)] : '0';
                if (other == 0 || o == '.' || (o == 'i' && other == 1u << (p - 1))) {
                    *pi = i + p;
                    return 0;
                }
            }
        }
    }
#endif
    for (;; i++) {
        i = skip_digits(b, i, n);
        if (i >= n)
            break;
        unsigned char ch = b[i];
        if (ch == ',' || ch == ' ')
            break;
        if (ch == 'i' && i > start && !(is_int || is_uns)) {
            is_int = 1;
            continue;
        }
        if (ch == 'u' && i > start && !(is_int || is_uns)) {
            is_uns = 1;
            continue;
        }
        if (ch == '.') {
            if (decimal)
                return fail(pt, R_INVALID_NUMBER);
            decimal = 1;
            continue;
        }
        if (i > start && (ch == 'e' || ch == 'E')) {
            sci = 1;
            continue;
        }
        if ((ch == '+' || ch == '-') && (b[i - 1] == 'e' || b[i - 1] == 'E'))
            continue;
        /* Anything else, NaN included, is not a number. */
        return fail(pt, R_INVALID_NUMBER);
    }
    *pi = i;
    if ((is_int || is_uns) && (decimal || sci))
        return fail(pt, R_INVALID_NUMBER);
    /* influxd's digit count: 'i', '.' and '-' do not count, but 'u' and 'e' do. */
    size_t nd = i - start - (size_t)is_int - (size_t)decimal - (b[start] == '-');
    if (nd == 0)
        return fail(pt, R_INVALID_NUMBER);
    if (is_int) {
        if (b[i - 1] != 'i')
            return fail(pt, R_INVALID_NUMBER);
        if (i - 1 - start >= 19 && gonum_int_out_of_range(b, start, i - 1, 1))
            return fail_span(pt, R_INT_RANGE, start, i - 1);
    } else if (is_uns) {
        if (!c->allow_unsigned || b[i - 1] != 'u' || b[start] == '-')
            return fail(pt, R_INVALID_NUMBER);
        if (i - 1 - start >= 20 && gonum_int_out_of_range(b, start, i - 1, 0))
            return fail_span(pt, R_UINT_RANGE, start, i - 1);
    } else if (sci || i - start >= 25) {
        if (gonum_float_invalid(b, start, i))
            return fail(pt, R_INVALID_FLOAT);
    }
    return 0;
}

/* influxd's scanBoolean from b[*pi]. */
static int scan_boolean(struct lp_point *pt, size_t *pi)
{
    const unsigned char *b = pt->b;
    size_t n = pt->n, start = *pi, i = start + 1;
    unsigned char ch = b[start];
    if (ch != 't' && ch != 'f' && ch != 'T' && ch != 'F')
        return fail(pt, R_INVALID_BOOLEAN);
    while (i < n && b[i] != ',' && b[i] != ' ')
        i++;
    *pi = i;
    size_t len = i - start;
    const char *s = (const char *)b + start;
    if (len == 1)
        return 0;
    if (len == 4 &&
        (memcmp(s, "true", 4) == 0 || memcmp(s, "True", 4) == 0 || memcmp(s, "TRUE", 4) == 0))
        return 0;
    if (len == 5 &&
        (memcmp(s, "false", 5) == 0 || memcmp(s, "False", 5) == 0 || memcmp(s, "FALSE", 5) == 0))
        return 0;
    return fail(pt, R_INVALID_BOOLEAN);
}

/* influxd's scanFields from the space after the key. On the way the first 'cap' fields are
 * recorded in rec[] as walkFields would split them, their count in *nrec; it is set past 'cap'
 * when the two splits may differ. They agree without a backslash in the fields unless an '='
 * outside quotes follows a string value's closing quote before the next ',' (x="s"y=1: one
 * field for walkFields, two for scanFields): a key then ends at the first '=' outside a quoted
 * value and a value at the next ',' outside one, for both. */
static int scan_fields(struct lp_ctx *c, struct lp_point *pt, struct lp_field *rec, size_t cap,
                       size_t *nrec)
{
    const unsigned char *b = pt->b;
    size_t n = pt->n;
    size_t i = skip_ws(b, pt->key_len, n);
    size_t equals = 0, commas = 0, kstart = i;
    int quoted = 0, in_string = 0; /* in_string: in a string value, up to the next ',' */
    pt->fields_start = i;
    *nrec = 0;
    struct win w = {SIZE_MAX, 0};
    /* i >= 2 below: the key is at least one byte, then the space. */
    for (;;) {
        i = win_skip(b, i, n, C_FIELD, &w);
        if (i >= n)
            break;
        unsigned char ch = b[i];
        if (ch == '\\' && i + 1 < n) {
            pt->fields_escaped = 1;
            i += 2;
            continue;
        }
        if (ch == '"' && equals > commas) {
            quoted = !quoted;
            i++;
            continue;
        }
        if (ch == '=' && !quoted) {
            equals++;
            if ((b[i - 1] == ' ' || b[i - 1] == ',') && b[i - 2] != '\\')
                return fail(pt, R_MISSING_FIELD_KEY);
            if (i + 1 >= n || b[i + 1] == ',' || b[i + 1] == ' ')
                return fail(pt, R_MISSING_FIELD_VALUE);
            unsigned char v = b[i + 1];
            if (in_string)
                *nrec = cap; /* walkFields reads this '=' as part of the value */
            struct lp_field *f = *nrec < cap ? &rec[*nrec] : NULL;
            (*nrec)++;
            if (f != NULL) {
                f->k = b + kstart;
                f->kn = i - kstart;
                f->v = b + i + 1;
                f->vn = 0; /* set at the value's end */
            }
            if ((v >= '0' && v <= '9') || v == '.' || v == '-' || v == 'N' || v == 'n') {
                i++;
                if (scan_number(c, pt, &i) != 0)
                    return -1;
                if (f != NULL)
                    f->type = b[i - 1] == 'i' ? T_INTEGER : b[i - 1] == 'u' ? T_UNSIGNED : T_FLOAT;
                continue;
            }
            if (v != '"') {
                i++;
                if (scan_boolean(pt, &i) != 0)
                    return -1;
                if (f != NULL)
                    f->type = T_BOOLEAN;
                continue;
            }
            if (f != NULL)
                f->type = T_STRING;
            in_string = 1;
        }
        if (ch == ',' && !quoted) {
            commas++;
            in_string = 0;
            if (*nrec > 0 && *nrec <= cap)
                rec[*nrec - 1].vn = (size_t)(b + i - rec[*nrec - 1].v);
            kstart = i + 1;
        }
        if (ch == ' ' && !quoted)
            break;
        if (ch == '\\')
            pt->fields_escaped = 1;
        i++;
    }
    pt->fields_end = i;
    pt->nfields = equals;
    if (*nrec > 0 && *nrec <= cap)
        rec[*nrec - 1].vn = (size_t)(b + i - rec[*nrec - 1].v);
    if (quoted)
        return fail(pt, R_UNBALANCED_QUOTES);
    if (equals == 0 || commas != equals - 1)
        return fail(pt, R_INVALID_FIELD_FORMAT);
    return 0;
}

/* Compare two field keys as influxd names them (unescaped). */
static int key_cmp(const struct lp_field *a, const struct lp_field *b)
{
    if (a->kn == b->kn && memcmp(a->k, b->k, a->kn) == 0)
        return 0;
    size_t i = 0, j = 0;
    while (i < a->kn && j < b->kn) {
        unsigned char x = lp_unesc_next(a->k, a->kn, &i), y = lp_unesc_next(b->k, b->kn, &j);
        if (x != y)
            return x < y ? -1 : 1;
    }
    return (i < a->kn) - (j < b->kn);
}

/* Whether two field keys name the same field; without a backslash in the fields ('escaped'
 * clear) that is byte equality. */
static int key_eq(const struct lp_field *a, const struct lp_field *b, int escaped)
{
    if (a->kn == b->kn && memcmp(a->k, b->k, a->kn) == 0)
        return 1;
    return escaped && key_cmp(a, b) == 0;
}

static int field_cmp(const void *x, const void *y)
{
    const struct lp_field *a = x, *b = y;
    int c = key_cmp(a, b);
    if (c != 0)
        return c;
    return a->k < b->k ? -1 : a->k > b->k; /* then in line order */
}

static int is_time(const struct lp_field *f)
{
    return f->kn == 4 && memcmp(f->k, "time", 4) == 0;
}

/* Whether the later field 'b', of a's key, fails the write: both have a type, they differ, and
 * 'b' is not named "time" (influxd drops those first). */
static int types_clash(const struct lp_field *a, const struct lp_field *b)
{
    return a->type != b->type && a->type != T_EMPTY && b->type != T_EMPTY && !is_time(b);
}

static int conflict(struct lp_point *pt, const struct lp_field *first, const struct lp_field *later)
{
    pt->cf[0] = *first;
    pt->cf[1] = *later;
    return fail(pt, R_TYPE_CONFLICT);
}

/* influxd's shard creates a new field from its first occurrence in a point and fails the whole
 * write ("field type conflict") when a later one has another type; fields named "time" are
 * dropped before that. Finds such a pair among f[0, n). */
static int type_conflict(struct lp_point *pt, struct lp_field *f, size_t n)
{
    int escaped = pt->fields_escaped;
    if (n <= 16) {
        /* Fields of one type (besides empty ones) cannot clash: the usual line. (Not past 16:
         * the sort below orders f for the caller's checks.) */
        unsigned seen = 0;
        for (size_t i = 0; i < n; i++)
            seen |= f[i].type != T_EMPTY ? 1u << f[i].type : 0u;
        if ((seen & (seen - 1)) == 0)
            return 0;
        for (size_t j = 1; j < n; j++) {
            for (size_t i = 0; i < j; i++) {
                /* f[i] may not be the first of its key, but a first with f[j]'s type would
                 * have conflicted with f[i] already. */
                if (!escaped && f[i].kn != f[j].kn)
                    continue; /* the cheapest test first: keys of other sizes differ */
                if (types_clash(&f[i], &f[j]) && key_eq(&f[i], &f[j], escaped))
                    return conflict(pt, &f[i], &f[j]);
            }
        }
        return 0;
    }
    qsort(f, n, sizeof(*f), field_cmp);
    for (size_t g = 0, j = 1; j < n; j++) {
        if (key_cmp(&f[g], &f[j]) != 0)
            g = j;
        else if (types_clash(&f[g], &f[j]))
            return conflict(pt, &f[g], &f[j]);
    }
    return 0;
}

static enum lp_type value_type(const unsigned char *v, size_t n)
{
    if (n == 0)
        return T_EMPTY;
    if (v[0] == '"')
        return T_STRING;
    /* The bytes influxd takes as the start of a number: 0-9 - . n N i I u. */
    static const unsigned char num_start[256] = {
        ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
        ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['-'] = 1, ['.'] = 1,
        ['n'] = 1, ['N'] = 1, ['i'] = 1, ['I'] = 1, ['u'] = 1,
    };
    if (!num_start[v[0]])
        return T_BOOLEAN; /* influxd's default for anything else */
    return v[n - 1] == 'i' ? T_INTEGER : v[n - 1] == 'u' ? T_UNSIGNED : T_FLOAT;
}

/* How influxd's storage engine reads a value of its type: 0 ok, 1 bad syntax, 2 out of range,
 * 3 it cannot (no value, or a one-byte string, which panics). Only reachable when walkFields
 * split the fields differently from scanFields. */
static int engine_check(const struct lp_field *f)
{
    switch (f->type) {
    case T_STRING:
        return f->vn >= 2 ? 0 : 3;
    case T_BOOLEAN: {
        static const char *const ok[] = {"1", "t", "T", "TRUE",  "true",  "True",
                                         "0", "f", "F", "FALSE", "false", "False"};
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
            if (strlen(ok[i]) == f->vn && memcmp(ok[i], f->v, f->vn) == 0)
                return 0;
        }
        return 1;
    }
    case T_INTEGER:
        return gonum_int_invalid(f->v, f->vn - 1, 1);
    case T_UNSIGNED:
        return gonum_int_invalid(f->v, f->vn - 1, 0);
    case T_FLOAT:
        return gonum_float_invalid(f->v, 0, f->vn);
    case T_EMPTY:
        break;
    }
    return 3;
}

/* One field of b[p, end) as influxd's walkFields splits it: the key ends at the first '=' not
 * preceded by a backslash (*eq; end if none), the value skips \" and \\ and ends at a ','
 * outside quotes (the return value; end if none). */
size_t lp_walk_field(const unsigned char *b, size_t p, size_t end, size_t *eq)
{
    size_t j = p;
    for (;; j++) {
        j = skip_to(b, j, end, C_EQ);
        if (j >= end || j == p || b[j - 1] != '\\')
            break;
    }
    *eq = j;
    int quoted = 0;
    size_t q = j + 1;
    while (q < end) {
        q = skip_to(b, q, end, C_WALK);
        if (q >= end)
            break;
        if (b[q] == '\\' && q + 1 < end && (b[q + 1] == '"' || b[q + 1] == '\\')) {
            q += 2;
            continue;
        }
        if (b[q] == '"')
            quoted = !quoted;
        else if (b[q] == ',' && !quoted)
            break;
        q++;
    }
    return q < end ? q : end;
}

/* influxd's walkFields, which splits the fields its own way (keys end at an '=' not preceded by
 * a backslash; values skip only \" and \\), checking each key's series key size. Then the
 * refusals of influxd's shard that need the fields: only "time" fields, or a type conflict. */
static int walk_fields(struct lp_ctx *c, struct lp_point *pt)
{
    const unsigned char *b = pt->b;
    size_t p = pt->fields_start, end = pt->fields_end, n = 0;
    struct lp_field local[16];
    struct lp_field *f = local;
    size_t cap = sizeof(local) / sizeof(local[0]);
    int all_time = 1;
    while (p < end) {
        size_t j, q = lp_walk_field(b, p, end, &j);
        if ((long long)(j - p) > (long long)(end - p) - 2)
            return fail_span(pt, R_INVALID_VALUE, p, j);
        size_t sz = pt->key_len + 4 + (j - p);
        if (sz > LP_MAX_KEY) {
            pt->num = sz;
            return fail(pt, R_MAX_KEY);
        }
        if (n == cap) {
            /* Spill to the call's scratch array, doubling: lines with many fields are rare. */
            size_t want = cap * 2;
            if (f == local) {
                if (c->fields_cap < want) {
                    free(c->fields);
                    c->fields = xmalloc(want * sizeof(*c->fields));
                    c->fields_cap = want;
                }
                memcpy(c->fields, local, n * sizeof(*f));
            } else {
                c->fields = xrealloc(c->fields, want * sizeof(*c->fields));
                c->fields_cap = want;
            }
            f = c->fields;
            cap = c->fields_cap;
        }
        f[n].k = b + p;
        f[n].kn = j - p;
        f[n].v = b + j + 1;
        f[n].vn = q - j - 1;
        f[n].type = value_type(f[n].v, f[n].vn);
        if (!is_time(&f[n]))
            all_time = 0;
        n++;
        p = q < end ? q + 1 : q;
    }
    if (all_time)
        return fail(pt, R_TIME_FIELD);
    if (type_conflict(pt, f, n) != 0)
        return -1;
    /* Without a backslash both splits agree and scanFields has validated every value. */
    for (size_t i = 0; pt->fields_escaped && i < n; i++) {
        int bad = is_time(&f[i]) ? 0 : engine_check(&f[i]);
        if (bad != 0) {
            pt->cf[1] = f[i];
            pt->num = (size_t)bad;
            return fail(pt, R_ENGINE);
        }
    }
    return 0;
}

/* influxd's scanTime and the checks after it. */
static int scan_time(struct lp_point *pt, int64_t mult)
{
    const unsigned char *b = pt->b;
    size_t n = pt->n;
    size_t start = skip_ws(b, pt->fields_end, n), i = start;
    for (;; i++) {
        i = skip_digits(b, i, n);
        if (i >= n)
            break;
        unsigned char ch = b[i];
        if (ch == '\n' || ch == ' ')
            break;
        if (i == start && ch == '-')
            continue;
        return fail(pt, R_BAD_TIMESTAMP);
    }
    pt->ts_start = start;
    pt->ts_end = i;
    if (i == start)
        return 0; /* no timestamp; influxd ignores whatever follows */
    size_t a = start;
    int neg = b[a] == '-';
    if (neg)
        a++;
    if (a == i)
        return fail_span(pt, R_TS_SYNTAX, start, i);
    if (i - a >= 19 && gonum_int_out_of_range(b, start, i, 1))
        return fail_span(pt, R_TS_RANGE, start, i);
    uint64_t mag = 0;
    for (; a < i; a++)
        mag = mag * 10 + (uint64_t)(b[a] - '0');
    int64_t v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    int64_t ns;
    if (__builtin_mul_overflow(v, mult, &ns) || ns < LP_MIN_NANO || ns > LP_MAX_NANO)
        return fail(pt, R_TIME_RANGE);
    pt->ts = ns;
    for (; i < n; i++) {
        if (b[i] != ' ')
            return fail(pt, R_POINT_INVALID);
    }
    return 0;
}

/* influxd's parsePoint, then the refusals of its shard that do not depend on stored state.
 * On success pt->ts is in nanoseconds when the line has a timestamp. */
int lp_parse_point(struct lp_ctx *c, struct lp_point *pt, const unsigned char *b, size_t n,
                int64_t mult)
{
    /* Every member but cf, which only the refusals that set it read: clearing the whole point
     * per line was a tenth of the scanner's time. */
    pt->b = b;
    pt->n = n;
    pt->key_len = pt->fields_start = pt->fields_end = pt->ts_start = pt->ts_end = 0;
    pt->ts = 0;
    pt->time_tag = pt->fields_escaped = 0;
    pt->nfields = 0;
    pt->reason = R_OK;
    pt->ea = pt->eb = pt->num = 0;
    if (scan_key(c, pt) != 0)
        return -1;
    if (pt->key_len > LP_MAX_KEY) {
        pt->num = pt->key_len;
        return fail(pt, R_MAX_KEY);
    }
    struct lp_field rec[16];
    size_t nrec;
    if (scan_fields(c, pt, rec, sizeof(rec) / sizeof(rec[0]), &nrec) != 0)
        return -1;
    /* The shard's refusal, reported after the timestamp's: its reason, number, fields. */
    enum lp_reason shard = R_OK;
    size_t shard_num = 0;
    struct lp_field shard_cf[2];
    if (!pt->fields_escaped && nrec <= sizeof(rec) / sizeof(rec[0])) {
        /* walkFields' split is scanFields' (see scan_fields): its checks on the fields as
         * recorded, in its order (each key's size, then the shard's refusals). */
        int all_time = 1;
        for (size_t k = 0; k < nrec; k++) {
            size_t sz = pt->key_len + 4 + rec[k].kn;
            if (sz > LP_MAX_KEY) {
                pt->num = sz;
                return fail(pt, R_MAX_KEY);
            }
            if (!is_time(&rec[k]))
                all_time = 0;
        }
        if (all_time)
            pt->reason = R_TIME_FIELD;
        else if (nrec > 1)
            type_conflict(pt, rec, nrec);
    } else if (walk_fields(c, pt) != 0) {
        /* walkFields' own errors come before the timestamp's; the shard's come last. */
        if (pt->reason != R_TIME_FIELD && pt->reason != R_TYPE_CONFLICT && pt->reason != R_ENGINE)
            return -1;
    }
    if (pt->reason != R_OK) {
        shard = pt->reason;
        shard_num = pt->num;
        if (shard == R_TYPE_CONFLICT)
            shard_cf[0] = pt->cf[0];
        if (shard != R_TIME_FIELD)
            shard_cf[1] = pt->cf[1];
        pt->reason = R_OK;
    }
    if (scan_time(pt, mult) != 0)
        return -1;
    if (pt->time_tag)
        return fail(pt, R_TIME_TAG);
    if (shard != R_OK) {
        if (shard == R_TYPE_CONFLICT)
            pt->cf[0] = shard_cf[0];
        if (shard != R_TIME_FIELD)
            pt->cf[1] = shard_cf[1];
        pt->num = shard_num;
        return fail(pt, shard);
    }
    return 0;
}

/* Append the accepted line to 'out': its key and fields, then either its timestamp as sent
 * (keep_ts) or " <ns>", then "\n". Returns the bytes appended. */
static size_t emit(struct buf *out, const struct lp_point *pt, int64_t ns, int keep_ts)
{
    size_t keep = keep_ts ? pt->ts_end : pt->fields_end;
    char *dst = buf_reserve(out, keep + 23);
    memcpy(dst, pt->b, keep);
    size_t k = keep;
    if (!keep_ts) {
        char tmp[24];
        size_t t = sizeof(tmp);
        uint64_t mag = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;
        do {
            tmp[--t] = (char)('0' + mag % 10);
            mag /= 10;
        } while (mag != 0);
        if (ns < 0)
            tmp[--t] = '-';
        dst[k++] = ' ';
        memcpy(dst + k, tmp + t, sizeof(tmp) - t);
        k += sizeof(tmp) - t;
    }
    dst[k++] = '\n';
    out->len += k;
    return k;
}

/* The timestamp as sent can be copied when it is already canonical nanoseconds after one space:
 * no leading zeros, no "-0". */
static int ts_canonical(const struct lp_point *pt, int64_t mult)
{
    const unsigned char *t = pt->b + pt->ts_start;
    size_t len = pt->ts_end - pt->ts_start;
    if (mult != 1 || pt->ts_start != pt->fields_end + 1 || pt->b[pt->fields_end] != ' ')
        return 0;
    if (t[0] == '-')
        return len > 1 && t[1] != '0';
    return t[0] != '0' || len == 1;
}

/* Whether the stored line o[0, olen) (ending in its "\n") reads back as 'pt' did, other lines
 * following it: its line ends at that "\n" and it parses to the same fields and timestamp. */
static int reads_back(struct lp_ctx *c, const struct lp_point *pt, const unsigned char *o,
                      size_t olen, int64_t ns)
{
    struct lp_point back;
    return lp_scan_line(o, 0, olen) == olen - 1 && lp_parse_point(c, &back, o, olen - 1, 1) == 0 &&
           back.ts_end != back.ts_start && back.ts == ns && back.fields_end == pt->fields_end;
}

static int normalize(const char *in, size_t len, enum lp_precision p, int64_t now_ns,
                     const struct lp_options *opt, struct buf *out, struct lp_result *res,
                     int may_borrow)
{
    struct lp_ctx c = {
        .allow_unsigned = opt != NULL && opt->allow_unsigned,
        .max_errors = opt != NULL && opt->max_errors > 0 ? opt->max_errors : 1,
    };
    const unsigned char *b = (const unsigned char *)in;
    int64_t mult = lp_precision_ns(p);
    /* influxd truncates the default time to the precision (time.Truncate: towards the past). */
    int64_t now;
    if (__builtin_sub_overflow(now_ns, ((now_ns % mult) + mult) % mult, &now))
        now = now_ns;
    c.now = now;
    size_t pos = 0;
    /* Lines stored exactly as received are not copied one by one: b[run_a, run_e) is the run of
     * such lines not yet appended to 'out'; 'rewritten' says whether any other line was. */
    size_t run_a = 0, run_e = 0;
    int rewritten = 0;
    res->as_received = 0;

    while (pos < len) {
        /* Only a backslash or a quote can make influxd's line end differ from the next '\n'. */
        size_t end = skip_to_end(b, pos, len);
        int special = end < len && b[end] != '\n';
        if (special)
            end = lp_scan_line(b, pos, len);
        size_t ls = pos, line_start = pos, line_end = end;
        pos = end + 1;
        /* CRLF: the '\r' is dropped (influxd 1.6.7 would refuse the line). */
        if (!lp_line_trim(b, &ls, &end))
            continue;

        struct lp_point pt;
        if (lp_parse_point(&c, &pt, b + ls, end - ls, mult) != 0) {
            lp_error_add(res, c.max_errors, &pt, c.now);
            continue;
        }
        int has_ts = pt.ts_end > pt.ts_start;
        int64_t ns = has_ts ? pt.ts : now;
        int keep_ts = has_ts && ts_canonical(&pt, mult);
        /* The stored line must mean the same to influxd when other lines follow it. It does
         * when the line had only quotes (no backslash), started at its first byte and ended at
         * an unquoted '\n' of the body: the stored bytes up to the fields' end are the same,
         * scanned from the same state, and only spaces and digits follow them. Otherwise parse
         * it back and check that its line ends at our '\n'. */
        int same_start = ls == line_start && line_end < len &&
                         (end == line_end || (end + 1 == line_end && b[end] == '\r'));
        int check = special && (!same_start || memchr(b + ls, '\\', end - ls) != NULL);
        if (keep_ts && pt.ts_end == pt.n && ls == line_start && end == line_end && line_end < len) {
            /* Stored as received: b[ls, line_end] with its '\n'. */
            if (check && !reads_back(&c, &pt, b + ls, line_end + 1 - ls, ns)) {
                pt.reason = R_AMBIGUOUS;
                lp_error_add(res, c.max_errors, &pt, c.now);
                continue;
            }
            if (run_e != ls) {
                buf_append(out, in + run_a, run_e - run_a);
                run_a = ls;
            }
            run_e = line_end + 1;
        } else {
            buf_append(out, in + run_a, run_e - run_a);
            run_a = run_e = 0;
            rewritten = 1;
            size_t at = out->len;
            size_t olen = emit(out, &pt, ns, keep_ts);
            if (check && !reads_back(&c, &pt, (const unsigned char *)out->data + at, olen, ns)) {
                out->len = at;
                pt.reason = R_AMBIGUOUS;
                lp_error_add(res, c.max_errors, &pt, c.now);
                continue;
            }
        }
        res->points++;
        if (!has_ts) {
            res->stamped++;
        } else {
            uint64_t mag = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;
            if (mag < res->ts_mag_min)
                res->ts_mag_min = mag;
            if (mag > res->ts_mag_max)
                res->ts_mag_max = mag;
        }
    }
    if (!rewritten && run_a == 0 && run_e == len && len > 0 && may_borrow)
        res->as_received = 1;
    else if (run_e > run_a) /* an empty body may be NULL */
        buf_append(out, in + run_a, run_e - run_a);
    free(c.spans);
    free(c.fields);
    return 0;
}

int lp_normalize(const char *in, size_t len, enum lp_precision p, int64_t now_ns,
                 const struct lp_options *opt, struct buf *out, struct lp_result *res)
{
    return normalize(in, len, p, now_ns, opt, out, res, 0);
}

int lp_normalize_borrow(const char *in, size_t len, enum lp_precision p, int64_t now_ns,
                        const struct lp_options *opt, struct buf *out, struct lp_result *res)
{
    return normalize(in, len, p, now_ns, opt, out, res, 1);
}
