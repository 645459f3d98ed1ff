/* Tests of common/utf8.c: Go's UTF-8 rules at their edges (the lead bytes that start nothing,
 * overlong forms, surrogates, past U+10FFFF, short input) and the encoder at each length. */
#include "tests/unit/tap.h"

#include "common/utf8.h"

#include <string.h>

int main(void)
{
    static const struct {
        const char *s;
        size_t n, len;
    } t[] = {
        {"a", 1, 1},
        {"\x7f", 1, 1},
        {"\xc2\x80", 2, 2},         /* U+0080, the first two-byte one */
        {"\xdf\xbf", 2, 2},         /* U+07FF */
        {"\xc0\x80", 2, 0},         /* overlong NUL */
        {"\xc1\xbf", 2, 0},         /* overlong */
        {"\xc2", 1, 0},             /* cut short */
        {"\xc2\x41", 2, 0},         /* not a continuation byte */
        {"\xe0\xa0\x80", 3, 3},     /* U+0800 */
        {"\xe0\x9f\xbf", 3, 0},     /* overlong */
        {"\xed\x9f\xbf", 3, 3},     /* U+D7FF */
        {"\xed\xa0\x80", 3, 0},     /* U+D800, a surrogate */
        {"\xef\xbf\xbf", 3, 3},     /* U+FFFF */
        {"\xe2\x82", 2, 0},         /* cut short */
        {"\xf0\x90\x80\x80", 4, 4}, /* U+10000 */
        {"\xf0\x8f\xbf\xbf", 4, 0}, /* overlong */
        {"\xf4\x8f\xbf\xbf", 4, 4}, /* U+10FFFF */
        {"\xf4\x90\x80\x80", 4, 0}, /* past U+10FFFF */
        {"\xf5\x80\x80\x80", 4, 0}, /* a lead byte that starts nothing */
        {"\xff", 1, 0},
        {"\x80", 1, 0},             /* a lone continuation byte */
        {"\xf0\x90\x80\x41", 4, 0}, /* the last byte not a continuation */
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        CHECK(utf8_valid_len((const unsigned char *)t[i].s, t[i].n) == t[i].len,
              "utf8_valid_len of case %zu is %zu", i, t[i].len);

    static const struct {
        unsigned cp;
        const char *want;
    } e[] = {
        {0x41, "A"},          {0x7f, "\x7f"},          {0x80, "\xc2\x80"},
        {0x7ff, "\xdf\xbf"},  {0x800, "\xe0\xa0\x80"}, {0x20ac, "\xe2\x82\xac"},
        {0xffff, "\xef\xbf\xbf"}, {0x10000, "\xf0\x90\x80\x80"}, {0x10ffff, "\xf4\x8f\xbf\xbf"},
    };
    for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
        struct buf b;
        buf_init(&b);
        utf8_put(&b, e[i].cp);
        size_t n = strlen(e[i].want);
        CHECK(b.len == n && memcmp(b.data, e[i].want, n) == 0, "utf8_put(U+%04X)", e[i].cp);
        CHECK(utf8_valid_len((const unsigned char *)b.data, b.len) == n,
              "U+%04X as written reads back whole", e[i].cp);
        buf_deinit(&b);
    }
    return tap_done();
}
