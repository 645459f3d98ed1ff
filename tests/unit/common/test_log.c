/* log_quote (common/log.c): how a value goes into a logfmt line. Plain values stay as they are;
 * a value with a space, quote, '=', backslash or control character is quoted, quotes and
 * backslashes escaped, a newline written as \n, other control characters as '?'; the output is
 * cut to the buffer without splitting an escape or losing the closing quote. */
#include "tests/unit/tap.h"

#include "common/log.h"

struct row {
    const char *name;
    const char *in;
    size_t len;
    size_t cap;
    const char *want;
};

#define S(x) x, sizeof(x) - 1

static const struct row rows[] = {
    {"plain", S("backend-a"), 64, "backend-a"},
    {"empty is quoted", S(""), 64, "\"\""},
    {"a space", S("connection refused"), 64, "\"connection refused\""},
    {"quotes escaped", S("say \"hi\""), 64, "\"say \\\"hi\\\"\""},
    {"a newline written as \\n", S("two\nlines"), 64, "\"two\\nlines\""},
    {"an '=' is quoted", S("a=b"), 64, "\"a=b\""},
    {"a backslash escaped", S("c:\\tmp"), 64, "\"c:\\\\tmp\""},
    {"a tab becomes '?'", S("a\tb"), 64, "\"a?b\""},
    {"a CR becomes '?'", S("a\rb"), 64, "\"a?b\""},
    {"a NUL inside becomes '?'", S("a\0b"), 64, "\"a?b\""},
    {"UTF-8 passes unquoted", S("caf\xc3\xa9"), 64, "caf\xc3\xa9"},
    {"a URL is quoted for its '='", S("http://h:1/w?db=x&u=y"), 64, "\"http://h:1/w?db=x&u=y\""},
    {"len bounds the read", "abcdef", 3, 64, "abc"},
    {"plain cut to cap - 1", S("abcdef"), 4, "abc"},
    {"quoted cut keeps the closing quote", S("a b c d e"), 8, "\"a b\""},
    {"a cut never splits an escape", S("\"\"\""), 6, "\"\\\"\""},
    {"the smallest cap", S("x y"), 3, "\"\""},
};

int main(void)
{
    char out[64];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        memset(out, 'Z', sizeof(out));
        const char *got = log_quote(out, r->cap, r->in, r->len);
        CHECK_EQ_STR(got, r->want, r->name);
    }
    return tap_done();
}
