/* Reading stored lines back (influx-wal audit, scrub): the lines lp_normalize stored, walked
 * with its own scanner (lineproto.c) into measurement, tags, fields and timestamp. Pure, any
 * thread. */
#include "relay/lineproto_int.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

int lp_line_next(const char *body, size_t len, size_t *pos, enum lp_precision p,
                 struct lp_line *out)
{
    const unsigned char *b = (const unsigned char *)body;
    /* Stored lines passed lp_normalize with or without unsigned fields: take both. */
    struct lp_ctx c = {.allow_unsigned = 1, .max_errors = 1};
    while (*pos < len) {
        /* The line walk of lp_normalize. */
        size_t ls = *pos, end = lp_scan_line(b, ls, len);
        *pos = end + 1;
        if (!lp_line_trim(b, &ls, &end))
            continue;
        struct lp_point pt;
        int rc = lp_parse_point(&c, &pt, b + ls, end - ls, lp_precision_ns(p));
        free(c.spans);
        free(c.fields);
        if (rc != 0)
            return IWR_EPARSE;
        size_t m = 1; /* the measurement's first byte is never its end */
        while (m < pt.key_len && !(b[ls + m] == ',' && b[ls + m - 1] != '\\'))
            m++;
        *out = (struct lp_line){
            .line = body + ls,
            .len = end - ls,
            .measurement_len = m,
            .key_len = pt.key_len,
            .fields_start = pt.fields_start,
            .fields_end = pt.fields_end,
            .has_ts = pt.ts_end > pt.ts_start,
            .ts_ns = pt.ts,
        };
        return 1;
    }
    return 0;
}

int lp_line_next_tag(const struct lp_line *ln, size_t *pos, const char **tag, size_t *tag_len)
{
    /* scan_key's rule: a comma is a separator unless the byte before it is a backslash. */
    size_t i = *pos < ln->measurement_len ? ln->measurement_len : *pos;
    if (i >= ln->key_len)
        return 0;
    size_t start = ++i; /* past the ',' */
    while (i < ln->key_len && !(ln->line[i] == ',' && ln->line[i - 1] != '\\'))
        i++;
    *tag = ln->line + start;
    *tag_len = i - start;
    *pos = i;
    return 1;
}

int lp_line_next_field(const struct lp_line *ln, size_t *pos, struct buf *key)
{
    const unsigned char *b = (const unsigned char *)ln->line;
    size_t p = *pos < ln->fields_start ? ln->fields_start : *pos, end = ln->fields_end;
    while (p < end) {
        size_t j, q = lp_walk_field(b, p, end, &j);
        size_t k = p, kn = j - p;
        p = q < end ? q + 1 : end;
        if (kn == 4 && memcmp(b + k, "time", 4) == 0)
            continue;
        buf_clear(key);
        lp_unescape(key, ln->line + k, kn);
        *pos = p;
        return 1;
    }
    *pos = p;
    return 0;
}

void lp_unescape(struct buf *out, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char ch = lp_unesc_next(u, n, &i);
        buf_append(out, &ch, 1);
    }
}
