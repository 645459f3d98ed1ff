/* Growable byte buffer; see buf.h. */
#include "common/buf.h"

#include "common/xalloc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

void buf_init(struct buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_deinit(struct buf *b)
{
    free(b->data);
    buf_init(b);
}

char *buf_reserve(struct buf *b, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
    return b->data + b->len;
}

void buf_append(struct buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    memcpy(buf_reserve(b, n), p, n);
    b->len += n;
}

void buf_append_str(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void buf_append_u64(struct buf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    buf_append(b, tmp + i, sizeof(tmp) - i);
}

void buf_append_i64(struct buf *b, int64_t v)
{
    if (v < 0) {
        buf_append(b, "-", 1);
        buf_append_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        buf_append_u64(b, (uint64_t)v);
    }
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        buf_append(b, tmp, (size_t)n);
        return;
    }
    char *dst = buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_append_json_str(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            buf_append(b, e, 2);
        } else if (c == '\n') {
            buf_append(b, "\\n", 2);
        } else if (c == '\t') {
            buf_append(b, "\\t", 2);
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_append(b, e, 6);
        } else {
            buf_append(b, &s[i], 1);
        }
    }
}

void buf_append_json_quoted(struct buf *b, const char *s)
{
    buf_append(b, "\"", 1);
    buf_append_json_str(b, s, strlen(s));
    buf_append(b, "\"", 1);
}

char *buf_steal(struct buf *b)
{
    buf_reserve(b, 1)[0] = '\0';
    char *p = b->data;
    buf_init(b);
    return p;
}
