/* Go's field splitting and float reading as influxd's inputs use them, and the writing of one
 * converted point as line protocol (see lpwrite.h). Pure; any thread. */
#include "relay/lpwrite.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* influxd's models.MaxKeyLength: a series key (measurement, tags, "#!~#", field) beyond it is
 * refused. */
#define MAX_KEY_BYTES 65535

size_t lpw_space_len(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0)
        return 0;
    switch (u[0]) {
    case ' ': case '\t': case '\n': case '\v': case '\f': case '\r':
        return 1;
    case 0xC2: /* U+0085, U+00A0 */
        return n >= 2 && (u[1] == 0x85 || u[1] == 0xA0) ? 2 : 0;
    case 0xE1: /* U+1680 */
        return n >= 3 && u[1] == 0x9A && u[2] == 0x80 ? 3 : 0;
    case 0xE2: /* U+2000..U+200A, U+2028, U+2029, U+202F, U+205F */
        if (n < 3)
            return 0;
        if (u[1] == 0x80 && ((u[2] >= 0x80 && u[2] <= 0x8A) || u[2] == 0xA8 || u[2] == 0xA9 ||
                             u[2] == 0xAF))
            return 3;
        return u[1] == 0x81 && u[2] == 0x9F ? 3 : 0;
    case 0xE3: /* U+3000 */
        return n >= 3 && u[1] == 0x80 && u[2] == 0x80 ? 3 : 0;
    default:
        return 0;
    }
}

size_t lpw_fields(const char *s, size_t n, struct lpw_span *out, size_t max)
{
    size_t count = 0, i = 0;
    while (i < n) {
        size_t sp;
        while (i < n && (sp = lpw_space_len(s + i, n - i)) > 0)
            i += sp;
        if (i >= n)
            break;
        size_t start = i;
        while (i < n && lpw_space_len(s + i, n - i) == 0)
            i++;
        if (count < max)
            out[count] = (struct lpw_span){s + start, i - start};
        count++;
    }
    return count;
}

static int eq_nocase(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return 0;
    }
    return 1;
}

int lpw_parse_float(const char *s, size_t n, double *out)
{
    if (n == 0)
        return -1;
    /* Go's special(): the names, before the number syntax. */
    size_t sign = (s[0] == '+' || s[0] == '-') ? 1 : 0;
    if (eq_nocase(s + sign, n - sign, "inf") || eq_nocase(s + sign, n - sign, "infinity")) {
        *out = s[0] == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    if (!sign && eq_nocase(s, n, "nan")) {
        *out = NAN;
        return 0;
    }
    size_t i = sign;
    int digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits = 1;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, digits = 1;
    }
    if (!digits)
        return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return -1;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i != n)
        return -1;
    /* The syntax is strtod's decimal subset now: copy to terminate it (bounded for the stack,
     * heap beyond: a long mantissa is rare but legal). */
    char small[128];
    char *tmp = n < sizeof(small) ? small : malloc(n + 1);
    if (tmp == NULL)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    double v = strtod(tmp, NULL);
    int range = errno == ERANGE;
    if (tmp != small)
        free(tmp);
    /* Go reports only overflow; an underflow keeps its (correctly rounded) tiny value. */
    if (range && isinf(v))
        return -1;
    *out = v;
    return 0;
}

/* How many bytes 'sp' takes escaped with a backslash before each byte of 'esc'; -1 when a
 * backslash in it would be read back as an escape (before one of 'esc', or last). */
static long escaped_len(struct lpw_span sp, const char *esc)
{
    long len = 0;
    for (size_t i = 0; i < sp.n; i++) {
        char c = sp.p[i];
        if (c == '\\' && (i + 1 == sp.n || strchr(esc, sp.p[i + 1]) != NULL))
            return -1;
        len += (c != '\0' && strchr(esc, c) != NULL) ? 2 : 1;
    }
    return len;
}

static void append_escaped(struct buf *out, struct lpw_span sp, const char *esc)
{
    for (size_t i = 0; i < sp.n; i++) {
        char c = sp.p[i];
        if (c != '\0' && strchr(esc, c) != NULL)
            buf_append(out, "\\", 1);
        buf_append(out, &c, 1);
    }
}

static int span_cmp(struct lpw_span a, struct lpw_span b)
{
    size_t n = a.n < b.n ? a.n : b.n;
    int c = memcmp(a.p, b.p, n);
    if (c != 0)
        return c;
    return a.n < b.n ? -1 : a.n > b.n;
}

static int tag_cmp(const void *x, const void *y)
{
    const struct lpw_tag *a = x, *b = y;
    return span_cmp(a->key, b->key);
}

/* The shortest "%.Ng" that reads back as 'v' (Go's 'g' -1 formatting picks the same digits). */
static void append_float(struct buf *out, double v)
{
    char tmp[40];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    if (prec == 17)
        snprintf(tmp, sizeof(tmp), "%.17g", v);
    /* Plain digits where they are short (1000, not 1e+03), as Go writes them. */
    double a = fabs(v);
    if (strchr(tmp, 'e') != NULL && a >= 1e-4 && a < 1e16) {
        char alt[40];
        for (int q = prec + 1; q <= 17; q++) {
            snprintf(alt, sizeof(alt), "%.*g", q, v);
            if (strchr(alt, 'e') == NULL) {
                memcpy(tmp, alt, sizeof(tmp));
                break;
            }
        }
    }
    buf_append_str(out, tmp);
}

int lpw_point(struct buf *out, struct lpw_span measurement, struct lpw_tag *tags, size_t n_tags,
              struct lpw_span field, double value, int64_t ts_ns, const char **why)
{
    static const char m_esc[] = ", ", k_esc[] = ",= ";
    if (isnan(value) || isinf(value)) {
        *why = isnan(value) ? "NaN is an unsupported value" : "+/-Inf is an unsupported value";
        return -1;
    }
    if (field.n == 0) {
        *why = "all fields must have non-empty names";
        return -1;
    }
    qsort(tags, n_tags, sizeof(*tags), tag_cmp);
    long key = escaped_len(measurement, m_esc);
    long flen = escaped_len(field, k_esc);
    int bad = key < 0 || flen < 0 || measurement.n == 0 || measurement.p[0] == '#' ||
              measurement.p[0] == '\0';
    for (size_t i = 0; !bad && i < n_tags; i++) {
        if (tags[i].value.n == 0)
            continue;
        long kl = escaped_len(tags[i].key, k_esc), vl = escaped_len(tags[i].value, k_esc);
        bad = kl < 0 || vl < 0 || tags[i].key.n == 0;
        key += 2 + kl + vl;
    }
    if (bad) {
        *why = "a name line protocol cannot carry as it is";
        return -1;
    }
    if ((size_t)key + 4 + field.n > MAX_KEY_BYTES) {
        *why = "max key length exceeded";
        return -1;
    }
    append_escaped(out, measurement, m_esc);
    for (size_t i = 0; i < n_tags; i++) {
        if (tags[i].value.n == 0)
            continue;
        buf_append(out, ",", 1);
        append_escaped(out, tags[i].key, k_esc);
        buf_append(out, "=", 1);
        append_escaped(out, tags[i].value, k_esc);
    }
    buf_append(out, " ", 1);
    append_escaped(out, field, k_esc);
    buf_append(out, "=", 1);
    append_float(out, value);
    buf_append(out, " ", 1);
    buf_append_i64(out, ts_ns);
    buf_append(out, "\n", 1);
    return 0;
}
