/* The scanner's hot loops (relay/lineproto.c): finding the next byte of a class (a separator,
 * a quote, a backslash, a line end) or the end of a run of digits, 16 bytes at a time with SSE2
 * and by a table without it. Included by lineproto.c only; every function is inlined into the
 * scanner that calls it, most with a constant class. Pure. */
#ifndef IWR_LINEPROTO_SKIP_H
#define IWR_LINEPROTO_SKIP_H

#include <stddef.h>
#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Byte classes for the hot loops: a scanner skips bytes whose class bit for it is clear
 * (skip_to). C_END: what can end a line or make its end differ from the next '\n'; C_LINE:
 * what scan_line looks at; C_WALK: what walk_field looks at in a value; C_EQ: '=' alone. */
enum { C_MEAS = 1, C_TAG = 2, C_FIELD = 4, C_END = 8, C_LINE = 16, C_WALK = 32, C_EQ = 64 };
static const unsigned char cls[256] = {
    [','] = C_MEAS | C_TAG | C_FIELD | C_LINE | C_WALK,
    [' '] = C_MEAS | C_TAG | C_FIELD | C_LINE,
    ['='] = C_TAG | C_FIELD | C_LINE | C_EQ,
    ['\\'] = C_FIELD | C_END | C_LINE | C_WALK,
    ['"'] = C_FIELD | C_END | C_LINE | C_WALK,
    ['\n'] = C_END | C_LINE,
};

#ifdef __SSE2__
/* The bits of the bytes of 'v' in class 'mask' (bit k for byte k): one compare per byte of the
 * class. Always inlined with a constant 'mask'. */
__attribute__((always_inline)) static inline unsigned class_bits(__m128i v, unsigned mask)
{
    __m128i m = _mm_setzero_si128();
    if (mask & (C_MEAS | C_TAG | C_FIELD | C_LINE | C_WALK))
        m = _mm_cmpeq_epi8(v, _mm_set1_epi8(','));
    if (mask & (C_MEAS | C_TAG | C_FIELD | C_LINE))
        m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8(' ')));
    if (mask & (C_TAG | C_FIELD | C_LINE | C_EQ))
        m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('=')));
    if (mask & (C_FIELD | C_END | C_LINE | C_WALK)) {
        m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
    }
    if (mask & (C_END | C_LINE))
        m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
    return (unsigned)_mm_movemask_epi8(m);
}
#endif

/* From b[i], the first byte of class 'mask' (one of the classes above), or n. Always inlined
 * with a constant 'mask': 16 bytes at a time with SSE2 (one compare per byte of the class), then
 * the table for the tail; the table alone without SSE2. */
__attribute__((always_inline)) static inline size_t skip_to(const unsigned char *b, size_t i,
                                                            size_t n, unsigned mask)
{
#ifdef __SSE2__
    while (n - i >= 16) {
        unsigned bits = class_bits(_mm_loadu_si128((const __m128i *)(const void *)(b + i)), mask);
        if (bits != 0)
            return i + (size_t)__builtin_ctz(bits);
        i += 16;
    }
#endif
    while (i < n && !(cls[b[i]] & mask))
        i++;
    return i;
}

/* skip_to over a run of calls that move forward, keeping the last 16 bytes' class bits: a call
 * whose 'i' is still inside them takes the next hit from the bits instead of loading and
 * comparing again (the fields have a separator every few bytes). 'base' is the window's first
 * byte; SIZE_MAX when there is none. */
struct win {
    size_t base;
    unsigned bits;
};

__attribute__((always_inline)) static inline size_t win_skip(const unsigned char *b, size_t i,
                                                             size_t n, unsigned mask,
                                                             struct win *w)
{
#ifdef __SSE2__
    if (i >= w->base && i - w->base < 16) {
        unsigned m = w->bits >> (i - w->base);
        if (m != 0)
            return i + (size_t)__builtin_ctz(m);
        i = w->base + 16;
    }
    while (i <= n && n - i >= 16) {
        unsigned bits = class_bits(_mm_loadu_si128((const __m128i *)(const void *)(b + i)), mask);
        w->base = i;
        w->bits = bits;
        if (bits != 0)
            return i + (size_t)__builtin_ctz(bits);
        i += 16;
    }
    w->base = SIZE_MAX;
#else
    (void)w;
#endif
    while (i < n && !(cls[b[i]] & mask))
        i++;
    return i;
}

/* skip_to(b, i, n, C_END), 64 bytes a step while none of them is a '\n', '"' or '\\' (a line
 * is mostly such bytes: one branch per 64 instead of per 16). */
static inline size_t skip_to_end(const unsigned char *b, size_t i, size_t n)
{
#ifdef __SSE2__
    const __m128i nl = _mm_set1_epi8('\n'), q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
    while (n - i >= 64) {
        __m128i m = _mm_setzero_si128();
        for (int k = 0; k < 4; k++) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + i + 16 * k));
            m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(v, nl),
                                             _mm_or_si128(_mm_cmpeq_epi8(v, q),
                                                          _mm_cmpeq_epi8(v, bs))));
        }
        if (_mm_movemask_epi8(m) != 0)
            break; /* one of the 64: found below */
        i += 64;
    }
#endif
    return skip_to(b, i, n, C_END);
}

/* From b[i], the first byte that is not an ASCII digit, or n: the long runs of numbers and
 * timestamps, 16 bytes at a time with SSE2 (signed compares: bytes from 0x80 are below '0'). */
static inline size_t skip_digits(const unsigned char *b, size_t i, size_t n)
{
#ifdef __SSE2__
    while (n - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        __m128i d = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                                  _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
        unsigned bits = ~(unsigned)_mm_movemask_epi8(d) & 0xffffu;
        if (bits != 0)
            return i + (size_t)__builtin_ctz(bits);
        i += 16;
    }
#endif
    while (i < n && b[i] >= '0' && b[i] <= '9')
        i++;
    return i;
}

/* From b[i] (i >= 1), the first byte of class 'mask' not preceded by a backslash, or n: how
 * the measurement and tag scanners find their separators. Always inlined: it is their hot loop,
 * and inlined with a constant 'mask' it is as fast as the three loops it replaces. */
__attribute__((always_inline)) static inline size_t next_unescaped(const unsigned char *b, size_t i,
                                                                   size_t n, unsigned mask)
{
    for (;; i++) {
        i = skip_to(b, i, n, mask);
        if (i >= n || b[i - 1] != '\\')
            return i;
    }
}

/* next_unescaped over the window 'w' (win_skip). */
__attribute__((always_inline)) static inline size_t next_unescaped_win(const unsigned char *b,
                                                                       size_t i, size_t n,
                                                                       unsigned mask, struct win *w)
{
    for (;; i++) {
        i = win_skip(b, i, n, mask, w);
        if (i >= n || b[i - 1] != '\\')
            return i;
    }
}

#endif
