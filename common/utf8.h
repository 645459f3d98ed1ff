/* UTF-8 as Go reads and writes it: the length of a valid sequence (no overlong forms, no
 * surrogates, nothing above U+10FFFF) and the encoding of a code point. Pure, any thread. */
#ifndef IWR_UTF8_H
#define IWR_UTF8_H

#include "common/buf.h"

#include <stddef.h>

/* The length (1 to 4) of the valid UTF-8 sequence at s[0, n), n >= 1, or 0 when it is not
 * one (Go's utf8.DecodeRune then reads one byte as U+FFFD). */
size_t utf8_valid_len(const unsigned char *s, size_t n);

/* Append code point 'cp' (at most U+10FFFF; a surrogate is written as its three bytes) to 'b'
 * in UTF-8. */
void utf8_put(struct buf *b, unsigned cp);

#endif
