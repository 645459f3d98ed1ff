/* A growable byte buffer. The struct is owned by the caller (buf_init/buf_deinit); the bytes
 * are owned by the buffer. Growth is checked (xalloc) and callers bound sizes before appending. */
#ifndef IWR_BUF_H
#define IWR_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

void buf_init(struct buf *b);
void buf_deinit(struct buf *b);
/* Make room for 'n' more bytes; returns a pointer to the free space (len is unchanged). */
char *buf_reserve(struct buf *b, size_t n);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_append_str(struct buf *b, const char *s);
void buf_append_u64(struct buf *b, uint64_t v);
void buf_append_i64(struct buf *b, int64_t v);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append 's' as the inside of a JSON string (quotes not included). */
void buf_append_json_str(struct buf *b, const char *s, size_t n);
/* Append the NUL-terminated 's' as a JSON string, quotes included. */
void buf_append_json_quoted(struct buf *b, const char *s);
/* Take the bytes: the caller frees the result; the buffer is left empty. */
char *buf_steal(struct buf *b);
/* The value of a hexadecimal digit, or -1 (percent-decoding, TOML escapes). */
static inline int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static inline void buf_clear(struct buf *b)
{
    b->len = 0;
}

#endif
