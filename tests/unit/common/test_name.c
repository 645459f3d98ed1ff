/* Tests of common/name.c: the one name rule, [A-Za-z0-9_.-]{1,64}, at its edges. */
#include "tests/unit/tap.h"

#include "common/name.h"

int main(void)
{
    static const struct {
        const char *s;
        int ok;
    } t[] = {
        {"a", 1},         {"influx-1.eu_west", 1},
        {"ABCxyz019", 1}, {"...", 1},
        {"-", 1},         {"", 0},
        {"a b", 0},       {"a/b", 0},
        {"a=b", 0},       {"a\"b", 0},
        {"a\\b", 0},      {"a,b", 0},
        {"a\nb", 0},      {"\xc3\xa9t\xc3\xa9", 0},
        {"a:b", 0},       {"a~b", 0},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        CHECK(name_valid(t[i].s) == t[i].ok, "name_valid(\"%s\") is %d", t[i].s, t[i].ok);
    CHECK(!name_valid(NULL), "NULL is not a name");

    char s[NAME_LEN_MAX + 2];
    memset(s, 'x', sizeof(s));
    s[NAME_LEN_MAX] = '\0';
    CHECK(name_valid(s), "%d bytes is a name", NAME_LEN_MAX);
    s[NAME_LEN_MAX] = 'x';
    s[NAME_LEN_MAX + 1] = '\0';
    CHECK(!name_valid(s), "%d bytes is too long", NAME_LEN_MAX + 1);
    s[NAME_LEN_MAX - 1] = '!';
    s[NAME_LEN_MAX] = '\0';
    CHECK(!name_valid(s), "a bad last byte is refused");
    return tap_done();
}
