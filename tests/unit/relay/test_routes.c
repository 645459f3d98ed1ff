/* Table test of query_get (relay/routes.c): the query-string reader behind every endpoint's
 * parameters, and its percent-decoding, which follows Go's url.ParseQuery ('+' is a space, a
 * bad escape is kept as it is). */
#include "tests/unit/tap.h"

#include "relay/relay_int.h"

struct row {
    const char *name;
    const char *query;
    const char *key;
    int found;
    const char *value; /* decoded; "" when absent */
    size_t value_len;  /* bytes, for values holding a NUL */
};

static const struct row rows[] = {
    {"plain value", "db=telegraf", "db", 1, "telegraf", 8},
    {"second parameter", "db=a&precision=s", "precision", 1, "s", 1},
    {"absent key", "db=a&precision=s", "rp", 0, "", 0},
    {"empty query", "", "db", 0, "", 0},
    {"empty value", "db=&rp=x", "db", 1, "", 0},
    {"key without '='", "u&db=x", "u", 1, "", 0},
    {"first of two", "db=one&db=two", "db", 1, "one", 3},
    {"prefix of a key is not the key", "dbx=1&db=2", "db", 1, "2", 1},
    {"plus is a space", "q=a+b", "q", 1, "a b", 3},
    {"%20 is a space", "q=a%20b", "q", 1, "a b", 3},
    {"%2B is a plus", "q=a%2Bb", "q", 1, "a+b", 3},
    {"hex digits in either case", "q=%2f%2F%c3%A9", "q", 1, "//\xc3\xa9", 4},
    {"%26 does not split", "q=a%26b=c&z=1", "q", 1, "a&b=c", 5},
    {"%3D in the value", "q=x%3Dy", "q", 1, "x=y", 3},
    {"%00 decodes to a NUL", "q=a%00b", "q", 1, "a\0b", 3},
    {"bad escape kept: %zz", "q=%zz", "q", 1, "%zz", 3},
    {"bad escape kept: one hex digit", "q=%4g", "q", 1, "%4g", 3},
    {"truncated escape at the end kept", "q=ab%4", "q", 1, "ab%4", 4},
    {"lone percent at the end kept", "q=ab%", "q", 1, "ab%", 3},
    {"escape ending the value decoded", "q=ab%41", "q", 1, "abA", 3},
    {"escaped key matches", "d%62=x", "db", 1, "x", 1},
    {"plus in a key is a space", "a+b=1", "a b", 1, "1", 1},
    {"empty pieces skipped", "&&db=x&", "db", 1, "x", 1},
    {"value with '=' after the first", "q=a=b", "q", 1, "a=b", 3},
};

int main(void)
{
    struct buf out;
    buf_init(&out);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        int found = query_get(r->query, strlen(r->query), r->key, &out);
        int ok = found == r->found && out.len == r->value_len &&
                 memcmp(out.data, r->value, r->value_len) == 0 && out.data[out.len] == '\0';
        if (!CHECK(ok, "%s: %s -> %s", r->name, r->query, r->found ? "found" : "absent"))
            printf("#   found=%d len=%zu value=\"%.*s\"\n", found, out.len, (int)out.len, out.data);
    }
    /* The length bounds the read: a key past qlen is not seen. */
    CHECK(query_get("db=a&rp=b", 4, "rp", &out) == 0 && out.len == 0,
          "the query string ends at qlen, not at its NUL");
    /* Reused output buffers are cleared first. */
    buf_append_str(&out, "stale");
    CHECK(query_get("x=1", 3, "db", &out) == 0 && out.len == 0 && out.data[0] == '\0',
          "the output is cleared when the key is absent");
    buf_deinit(&out);
    return tap_done();
}
