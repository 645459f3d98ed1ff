/* config/toml.c: every value type, the table rules, line numbers, every error message, and the
 * bounds that keep hostile input from blowing the stack or the clock. */
#include "config/toml.h"

#include "common/err.h"
#include "tests/unit/tap.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char err[512];

/* Parse a NUL-terminated text named "t"; NULL on error (err says why). */
static struct toml_node *parse(const char *text)
{
    struct toml_node *root = NULL;
    err[0] = '\0';
    int rc = toml_parse("t", text, strlen(text), &root, err, sizeof(err));
    return rc == 0 ? root : NULL;
}

/* Follow "a.b.c" from 'root'; numeric parts index arrays. */
static const struct toml_node *at(const struct toml_node *root, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    const struct toml_node *n = root;
    for (char *save = NULL, *part = strtok_r(buf, ".", &save); part != NULL && n != NULL;
         part = strtok_r(NULL, ".", &save)) {
        if (n->type == TOML_ARRAY) {
            size_t i = (size_t)atoi(part);
            n = i < n->n_kids ? n->kids[i] : NULL;
        } else {
            n = toml_get(n, part);
        }
    }
    return n;
}

static void check_str(const struct toml_node *root, const char *path, const char *want)
{
    const struct toml_node *n = at(root, path);
    char name[300];
    snprintf(name, sizeof(name), "%s is the string \"%s\"", path, want);
    for (char *q = name; *q != '\0'; q++) /* one TAP line per check */
        if ((unsigned char)*q < 0x20)
            *q = '?';
    CHECK_EQ_STR(n != NULL && n->type == TOML_STRING ? n->str : NULL, want, name);
}

static void check_int(const struct toml_node *root, const char *path, int64_t want)
{
    const struct toml_node *n = at(root, path);
    char name[300];
    snprintf(name, sizeof(name), "%s is the integer %lld", path, (long long)want);
    CHECK(n != NULL && n->type == TOML_INT && n->i == want, "%s", name);
}

static void check_float(const struct toml_node *root, const char *path, double want)
{
    const struct toml_node *n = at(root, path);
    CHECK(n != NULL && n->type == TOML_FLOAT && n->f == want, "%s is the float %g", path, want);
}

static void check_bool(const struct toml_node *root, const char *path, int want)
{
    const struct toml_node *n = at(root, path);
    CHECK(n != NULL && n->type == TOML_BOOL && n->b == want, "%s is %s", path,
          want ? "true" : "false");
}

static void check_line(const struct toml_node *root, const char *path, int want)
{
    const struct toml_node *n = at(root, path);
    char name[300];
    snprintf(name, sizeof(name), "%s is on line %d", path, want);
    CHECK_EQ_INT(n != NULL ? n->line : -1, want, name);
}

static void check_len(const struct toml_node *root, const char *path, size_t want)
{
    const struct toml_node *n = at(root, path);
    char name[300];
    snprintf(name, sizeof(name), "%s has %zu entries", path, want);
    CHECK_EQ_INT(n != NULL ? (long long)n->n_kids : -1, want, name);
}

static void test_strings(void)
{
    struct toml_node *r = parse("basic = \"a\\b\\t\\n\\f\\r\\\"\\\\z\"\n"
                                "u4 = \"caf\\u00e9\"\n"
                                "u8 = \"\\U0001F600\"\n"
                                "literal = 'C:\\path\\no\"escapes'\n"
                                "empty = \"\"\n"
                                "empty_lit = ''\n"
                                "raw = \"h\xc3\xa9llo\ttab\"\n"
                                "hash = \"# not a comment\" # a comment\n");
    CHECK(r != NULL, "strings parse (%s)", err);
    check_str(r, "basic", "a\b\t\n\f\r\"\\z");
    check_str(r, "u4", "caf\xc3\xa9");
    check_str(r, "u8", "\xf0\x9f\x98\x80");
    check_str(r, "literal", "C:\\path\\no\"escapes");
    check_str(r, "empty", "");
    check_str(r, "empty_lit", "");
    check_str(r, "raw", "h\xc3\xa9llo\ttab");
    check_str(r, "hash", "# not a comment");
    const struct toml_node *n = at(r, "basic");
    CHECK_EQ_INT(n ? (long long)n->str_len : -1, 9, "str_len counts the unescaped bytes");
    toml_free(r);
}

static void test_numbers(void)
{
    struct toml_node *r = parse("zero = 0\nplus = +17\nminus = -42\nneg0 = -0\n"
                                "under = 1_000_000\nhex = 0xDEAD_beef\noct = 0o755\nbin = 0b1101\n"
                                "max = 9223372036854775807\nmin = -9223372036854775808\n"
                                "hexmax = 0x7fffffffffffffff\n"
                                "f1 = 1.5\nf2 = -0.25\nf3 = 1e3\nf4 = 2E-2\nf5 = 6.5e+2\n"
                                "f6 = 1_000.000_5\nf7 = 0e0\nf8 = 0.0\n"
                                "pinf = inf\nminf = -inf\nnan = nan\npnan = +nan\n"
                                "t = true\nf = false\n");
    CHECK(r != NULL, "numbers parse (%s)", err);
    check_int(r, "zero", 0);
    check_int(r, "plus", 17);
    check_int(r, "minus", -42);
    check_int(r, "neg0", 0);
    check_int(r, "under", 1000000);
    check_int(r, "hex", 0xdeadbeef);
    check_int(r, "oct", 0755);
    check_int(r, "bin", 13);
    check_int(r, "max", INT64_MAX);
    check_int(r, "min", INT64_MIN);
    check_int(r, "hexmax", INT64_MAX);
    check_float(r, "f1", 1.5);
    check_float(r, "f2", -0.25);
    check_float(r, "f3", 1000.0);
    check_float(r, "f4", 0.02);
    check_float(r, "f5", 650.0);
    check_float(r, "f6", 1000.0005);
    check_float(r, "f7", 0.0);
    check_float(r, "f8", 0.0);
    check_float(r, "pinf", INFINITY);
    check_float(r, "minf", -INFINITY);
    const struct toml_node *n = at(r, "nan");
    CHECK(n && n->type == TOML_FLOAT && isnan(n->f), "nan is a NaN float");
    n = at(r, "pnan");
    CHECK(n && n->type == TOML_FLOAT && isnan(n->f), "+nan is a NaN float");
    check_bool(r, "t", 1);
    check_bool(r, "f", 0);
    toml_free(r);
}

static void test_arrays_and_inline(void)
{
    struct toml_node *r = parse("a = [1, 2, 3]\n"
                                "empty = []\n"
                                "nested = [[1, 2], ['x'], []]\n"
                                "multi = [   # comment after the bracket\n"
                                "  \"one\",  # first\n"
                                "\n"
                                "  # a comment line\n"
                                "  \"two\",  # trailing comma next\n"
                                "]\n"
                                "mixed = [1, 'a', 2.5, true, {x = 1}]\n"
                                "it = { name = \"n\", sub = { deep = 1 }, d.e = 2, d.f = 3 }\n"
                                "ie = {}\n");
    CHECK(r != NULL, "arrays and inline tables parse (%s)", err);
    check_len(r, "a", 3);
    check_int(r, "a.2", 3);
    check_len(r, "empty", 0);
    check_len(r, "nested", 3);
    check_int(r, "nested.0.1", 2);
    check_str(r, "nested.1.0", "x");
    check_len(r, "nested.2", 0);
    check_len(r, "multi", 2);
    check_str(r, "multi.1", "two");
    check_line(r, "multi", 4);
    check_line(r, "multi.0", 5);
    check_line(r, "multi.1", 8);
    check_float(r, "mixed.2", 2.5);
    check_int(r, "mixed.4.x", 1);
    check_str(r, "it.name", "n");
    check_int(r, "it.sub.deep", 1);
    check_int(r, "it.d.e", 2);
    check_int(r, "it.d.f", 3);
    check_len(r, "ie", 0);
    const struct toml_node *n = at(r, "it");
    CHECK(n && n->type == TOML_TABLE, "an inline table is a table");
    toml_free(r);
}

static void test_tables(void)
{
    struct toml_node *r = parse("top = 1\n"               /* 1 */
                                "[server]\n"              /* 2 */
                                "host = \"h\"\n"          /* 3 */
                                "[ a . \"b c\" . 'd' ]\n" /* 4 */
                                "x = 1\n"                 /* 5 */
                                "[a]\n"                   /* 6: defines implicit a */
                                "y = 2\n"                 /* 7 */
                                "[[item]]\n"              /* 8 */
                                "n = 1\n"                 /* 9 */
                                "[[item]]\n"              /* 10 */
                                "n = 2\n"                 /* 11 */
                                "[item.sub]\n"            /* 12: in the last item */
                                "z = 3\n"                 /* 13 */
                                "[[item.list]]\n"         /* 14 */
                                "[[item.list]]\n"         /* 15 */
                                "k.l.m = 4\n"             /* 16 */
                                "k.l.n = 5\n"             /* 17 */
                                "\"quoted key\" = 6\n"    /* 18 */
                                "'lit.key' = 7\n"         /* 19 */
                                "p . q = 8\n"             /* 20 */
                                "1234 = 9\n"              /* 21 */
                                "[dot]\n"                 /* 22 */
                                "a.b = 1\n"               /* 23 */
                                "[dot.a.c]\n"             /* 24: under a dotted table */
                                "w = 1\n");               /* 25 */
    CHECK(r != NULL, "tables parse (%s)", err);
    check_int(r, "top", 1);
    check_str(r, "server.host", "h");
    check_int(r, "a.b c.d.x", 1);
    check_int(r, "a.y", 2);
    check_line(r, "a", 6);
    check_line(r, "server", 2);
    check_len(r, "item", 2);
    check_int(r, "item.0.n", 1);
    check_int(r, "item.1.n", 2);
    check_line(r, "item.1", 10);
    check_int(r, "item.1.sub.z", 3);
    CHECK(at(r, "item.0.sub") == NULL, "[item.sub] went into the last [[item]] only");
    check_len(r, "item.1.list", 2);
    check_int(r, "item.1.list.1.k.l.m", 4);
    check_int(r, "item.1.list.1.k.l.n", 5);
    check_line(r, "item.1.list.1.k.l.n", 17);
    check_int(r, "item.1.list.1.quoted key", 6);
    const struct toml_node *list1 = at(r, "item.1.list.1");
    const struct toml_node *lit = toml_get(list1, "lit.key");
    CHECK(lit != NULL && lit->i == 7, "a quoted key may contain a dot");
    check_int(r, "item.1.list.1.p.q", 8);
    check_int(r, "item.1.list.1.1234", 9);
    check_int(r, "dot.a.b", 1);
    check_int(r, "dot.a.c.w", 1);
    CHECK(r != NULL && r->kids[0]->key != NULL && strcmp(r->kids[0]->key, "top") == 0,
          "table entries keep file order");
    CHECK(toml_get(at(r, "top"), "x") == NULL, "toml_get on a non-table is NULL");
    toml_free(r);

    r = parse("[x.y]\n[x]\n");
    CHECK(r != NULL, "a super-table may be defined after its sub-table (%s)", err);
    toml_free(r);
    r = parse("\xef\xbb\xbf"
              "a = 1\r\nb = 2\r\n# c\r\n[t]\r\nc = 3");
    CHECK(r != NULL, "BOM, CRLF and no final newline (%s)", err);
    check_line(r, "t.c", 5);
    toml_free(r);
    r = parse("");
    CHECK(r != NULL && r->n_kids == 0, "an empty text is an empty table");
    toml_free(r);
    r = parse("\n\n   # only comments\n\t\n");
    CHECK(r != NULL && r->n_kids == 0, "blank and comment lines only");
    toml_free(r);
}

struct err_case {
    const char *text;
    const char *want;
};

static void test_errors(void)
{
    static const struct err_case cases[] = {
        {"a = 1\na = 2\n", "t:2: duplicate key 'a' (first on line 1)"},
        {"a.b = 1\na.b = 2\n", "t:2: duplicate key 'a.b' (first on line 1)"},
        {"[a]\n[a]\n", "t:2: table [a] is already defined on line 1"},
        {"[a]\nb = 1\n[c]\n[a]\n", "t:4: table [a] is already defined on line 1"},
        {"a.b = 1\n[a]\n", "t:2: table [a] is already defined by dotted keys on line 1"},
        {"a = {}\n[a]\n", "t:2: table [a] is already defined inline on line 1"},
        {"a = {}\n[a.b]\n", "t:2: [a.b]: inline table 'a' (line 1) cannot be extended"},
        {"a = {b = 1}\na.c = 2\n", "t:2: key 'a.c': inline table 'a' (line 1) cannot be extended"},
        {"[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n",
         "t:4: key 'b.c.t': dotted keys cannot extend table 'b' (line 1)"},
        {"[x]\na.b = 1\n[x.a]\n", "t:3: table [x.a] is already defined by dotted keys on line 2"},
        {"a = 1\na.b = 2\n", "t:2: key 'a.b': 'a' is an integer (line 1), not a table"},
        {"a = 1\n[a]\n", "t:2: [a]: 'a' is an integer (line 1), not a table"},
        {"a = 'x'\n[a.b]\n", "t:2: [a.b]: 'a' is a string (line 1), not a table"},
        {"a = [1]\n[a.b]\n", "t:2: [a.b]: 'a' is an array value (line 1), not a table"},
        {"a = [1]\n[[a]]\n", "t:2: [[a]]: 'a' is an array value (line 1), not an array of tables"},
        {"[a]\n[[a]]\n", "t:2: [[a]]: 'a' is a table (line 1), not an array of tables"},
        {"[[a]]\n[a]\n", "t:2: [a]: 'a' is an array of tables (line 1), not a table"},
        {"[a]\nb = 1\n[a.b]\n", "t:3: [a.b]: 'a.b' is an integer (line 2), not a table"},
        {"a = {b = 1, b = 2}\n", "t:1: duplicate key 'b' (first on line 1)"},
        {"a = \"\"\"x\"\"\"\n", "t:1: multi-line strings are not supported"},
        {"a = '''x'''\n", "t:1: multi-line strings are not supported"},
        {"a = 1979-05-27\n", "t:1: dates and times are not supported"},
        {"a = 1979-05-27T07:32:00Z\n", "t:1: dates and times are not supported"},
        {"\na = 07:32:00\n", "t:2: dates and times are not supported"},
        {"a = \"abc\n", "t:1: unterminated string"},
        {"a = 'abc", "t:1: unterminated string"},
        {"a = \"abc\\", "t:1: unterminated string"},
        {"a = \"\\q\"\n", "t:1: invalid escape '\\q' in a string"},
        {"a = \"\\\x01\"\n", "t:1: invalid escape in a string"},
        {"a = \"\\u12\"\n", "t:1: \\u needs 4 hex digits"},
        {"a = \"\\U0001F60\"\n", "t:1: \\U needs 8 hex digits"},
        {"a = \"\\uD800\"\n", "t:1: \\uD800 is not a Unicode scalar value"},
        {"a = \"\\U00110000\"\n", "t:1: \\U00110000 is not a Unicode scalar value"},
        {"a = \"\\u0000\"\n", "t:1: \\u0000 (NUL) is not allowed in strings"},
        {"a = \"x\x01\"\n", "t:1: control character U+0001 in a string"},
        {"a = 'x\x7f'\n", "t:1: control character U+007F in a string"},
        {"# x\x7f\n", "t:1: control character U+007F in a comment"},
        {"a = 1 # x\x02\n", "t:1: control character U+0002 in a comment"},
        {"a = 1\r", "t:1: carriage return without a line feed"},
        {"a = \"x\ry\"\n", "t:1: unterminated string"},
        {"a = \"\xff\"\n", "t:1: invalid UTF-8"},
        {"\n\na = \"\xc0\xaf\"\n", "t:3: invalid UTF-8"},
        {"a = \"\xed\xa0\x80\"\n", "t:1: invalid UTF-8"},
        {"a = \"\xe0\x80\xaf\"\n", "t:1: invalid UTF-8"},
        {"a = \"\xf0\x80\x80\xaf\"\n", "t:1: invalid UTF-8"},
        {"a = \"\x80\"\n", "t:1: invalid UTF-8"},
        {"a = \"\xf4\x90\x80\x80\"\n", "t:1: invalid UTF-8"},
        {"a = \"\xe2\x82\"", "t:1: invalid UTF-8"},
        {"a = 01\n", "t:1: invalid number '01'"},
        {"a = 1__0\n", "t:1: invalid number '1__0'"},
        {"a = 1_\n", "t:1: invalid number '1_'"},
        {"a = _1\n", "t:1: invalid number '_1'"},
        {"a = +0x1\n", "t:1: invalid number '+0x1'"},
        {"a = 0x\n", "t:1: invalid number '0x'"},
        {"a = 0xg\n", "t:1: invalid number '0xg'"},
        {"a = 0b102\n", "t:1: invalid number '0b102'"},
        {"a = 1.\n", "t:1: invalid number '1.'"},
        {"a = .5\n", "t:1: invalid number '.5'"},
        {"a = 1.e5\n", "t:1: invalid number '1.e5'"},
        {"a = 1e\n", "t:1: invalid number '1e'"},
        {"a = 1_.5\n", "t:1: invalid number '1_.5'"},
        {"a = 00.5\n", "t:1: invalid number '00.5'"},
        {"a = tru\n", "t:1: invalid number 'tru'"},
        {"a = True\n", "t:1: invalid number 'True'"},
        {"a = 9223372036854775808\n", "t:1: integer '9223372036854775808' is out of range"},
        {"a = -9223372036854775809\n", "t:1: integer '-9223372036854775809' is out of range"},
        {"a = 0x8000000000000000\n", "t:1: integer '0x8000000000000000' is out of range"},
        {"a = 99999999999999999999999\n", "t:1: integer '99999999999999999999999' is out of range"},
        {"a = 1e400\n", "t:1: float '1e400' is out of range"},
        {"a = \n", "t:1: expected a value"},
        {"a =", "t:1: expected a value"},
        {"a = # c\n", "t:1: expected a value"},
        {"a = ?\n", "t:1: expected a value"},
        {"a\n", "t:1: expected '=' after the key 'a'"},
        {"a.b c = 1\n", "t:1: expected '=' after the key 'a.b'"},
        {"= 1\n", "t:1: expected a key"},
        {"a. = 1\n", "t:1: expected a key"},
        {"\"\"\"k\"\"\" = 1\n", "t:1: multi-line strings are not supported"},
        {"a = 1 b = 2\n", "t:1: expected the end of the line after the value"},
        {"a = \"x\" y\n", "t:1: expected the end of the line after the value"},
        {"[a] x\n", "t:1: expected the end of the line after the table header"},
        {"[a\n", "t:1: expected ']' to close the [table] header"},
        {"[[a]\n", "t:1: expected ']]' to close the [[table]] header"},
        {"[[a] ]\n", "t:1: expected ']]' to close the [[table]] header"},
        {"[]\n", "t:1: expected a key"},
        {"[ [a]]\n", "t:1: expected a key"},
        {"a = [1, 2\n", "t:1: unterminated array"},
        {"a = [\n1,\n", "t:1: unterminated array"},
        {"a = [1 2]\n", "t:1: expected ',' or ']' in an array"},
        {"a = [\n1\n2]\n", "t:3: expected ',' or ']' in an array"},
        {"a = [,]\n", "t:1: expected a value"},
        {"a = [1,,2]\n", "t:1: expected a value"},
        {"a = {b = 1\n", "t:1: unterminated inline table (it must close on the same line)"},
        {"a = {b = 1\n}\n", "t:1: unterminated inline table (it must close on the same line)"},
        {"a = {\nb = 1}\n", "t:1: expected a key"},
        {"a = {b = 1,}\n", "t:1: trailing comma in an inline table"},
        {"a = {b = 1 c = 2}\n", "t:1: expected ',' or '}' in an inline table"},
        {"a = {b}\n", "t:1: expected '=' after the key 'b'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct toml_node *r = parse(cases[i].text);
        char name[200];
        snprintf(name, sizeof(name), "error %zu: %s", i, cases[i].want);
        CHECK(r == NULL, "error %zu is rejected", i);
        CHECK_EQ_STR(err, cases[i].want, name);
        toml_free(r);
    }
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * n + tl + 1);
    memcpy(s, head, hl);
    for (size_t i = 0; i < n; i++)
        memcpy(s + hl + i * ul, unit, ul);
    memcpy(s + hl + ul * n, tail, tl + 1);
    return s;
}

static void test_bounds(void)
{
    /* "a" is at depth 1 and each '[' one deeper: 32 levels fit, 33 do not. */
    char *close32 = repeat("", "]", 32, "\n"), *close33 = repeat("", "]", 33, "\n");
    char *s = repeat("a = ", "[", 32, close32);
    struct toml_node *r = parse(s);
    CHECK(r != NULL, "32 levels of nesting are fine (%s)", err);
    toml_free(r);
    free(s);
    s = repeat("a = ", "[", 33, close33);
    r = parse(s);
    CHECK(r == NULL, "33 levels of nesting are refused");
    CHECK_EQ_STR(err, "t:1: nesting deeper than 32 levels", "the nesting error");
    free(s);
    free(close32);
    free(close33);

    s = repeat("a = ", "[", 200000, "");
    r = parse(s);
    CHECK(r == NULL, "200000 open brackets do not recurse 200000 deep");
    CHECK_EQ_STR(err, "t:1: nesting deeper than 32 levels", "deep brackets error");
    free(s);
    s = repeat("a = ", "{b = ", 100000, "");
    r = parse(s);
    CHECK_EQ_STR(err, "t:1: nesting deeper than 32 levels", "deep inline tables error");
    free(s);
    s = repeat("[a", ".a", 40, "]\n");
    r = parse(s);
    CHECK_EQ_STR(err, "t:1: key has more than 32 parts", "a 41-part header is refused");
    free(s);
    s = repeat("a", ".a", 31, " = 1\n");
    r = parse(s);
    CHECK(r != NULL, "a 32-part dotted key fits (%s)", err);
    toml_free(r);
    free(s);
    s = repeat("[a", ".a", 31, "]\nb = 1\n");
    r = parse(s);
    CHECK(r == NULL, "a key under a 32-deep table is too deep");
    CHECK_EQ_STR(err, "t:2: nesting deeper than 32 levels", "the table depth error");
    free(s);

    /* 1025 keys in one table. */
    size_t cap = 1100 * 16, o = 0;
    s = malloc(cap);
    for (int i = 0; i < 1025; i++)
        o += (size_t)snprintf(s + o, cap - o, "k%d = %d\n", i, i);
    r = parse(s);
    CHECK(r == NULL, "1025 keys in one table are refused");
    CHECK_EQ_STR(err, "t:1025: more than 1024 keys in one table", "the key count error");
    free(s);

    s = repeat("a = [", "1,", 100000, "]\n");
    r = parse(s);
    CHECK(r == NULL, "100000 values are refused");
    CHECK_EQ_STR(err, "t:1: more than 100000 values", "the value count error");
    free(s);

    s = repeat("", "#", TOML_MAX_INPUT + 1, "");
    r = parse(s);
    CHECK(r == NULL, "a text over 1 MiB is refused");
    CHECK_EQ_STR(err, "t:1: file is larger than 1048576 bytes", "the size error");
    free(s);
    s = repeat("", "#", TOML_MAX_INPUT, "");
    r = parse(s);
    CHECK(r != NULL, "a text of exactly 1 MiB is read (%s)", err);
    toml_free(r);
    free(s);

    char small[8];
    struct toml_node *out = (struct toml_node *)1;
    int rc = toml_parse("long-name", "a = ", 4, &out, small, sizeof(small));
    CHECK_EQ_INT(rc, IWR_EPARSE, "errors return IWR_EPARSE");
    CHECK(out == NULL, "a failed parse sets *out to NULL");
    CHECK_EQ_STR(small, "long-na", "the message is cut to err_cap");
    rc = toml_parse("t", "a = ", 4, &out, NULL, 0);
    CHECK_EQ_INT(rc, IWR_EPARSE, "no error buffer is fine");

    rc = toml_parse("bad\nname", "a = ", 4, &out, err, sizeof(err));
    CHECK_EQ_STR(err, "bad?name:1: expected a value", "control characters never reach the message");
    rc = toml_parse("t", "\"a\\nb\" = 1\n\"a\\nb\" = 2\n", 22, &out, err, sizeof(err));
    CHECK_EQ_STR(err, "t:2: duplicate key 'a?b' (first on line 1)", "nor do escaped keys");

    /* Embedded NUL in the text (the length is what counts). */
    rc = toml_parse("t", "a = 1\0b", 7, &out, err, sizeof(err));
    CHECK_EQ_STR(err, "t:1: expected the end of the line after the value", "a NUL byte is refused");
}

/* A backslash in a literal string once stopped the copy loop without moving it on (a hang);
 * the backslash-at-the-end cases pin the end-of-text handling around it. */
static void test_regressions(void)
{
    static const struct err_case cases[] = {
        {"a=\"\\", "t:1: unterminated string"},
        {"x='\\", "t:1: unterminated string"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct toml_node *r = parse(cases[i].text);
        char name[200];
        snprintf(name, sizeof(name), "regression %zu: %s", i, cases[i].want);
        CHECK_EQ_STR(err, cases[i].want, name);
        toml_free(r);
    }
    struct toml_node *r = parse("a = 'back\\slash'\n");
    CHECK(r != NULL, "a backslash in a literal string is a plain byte (%s)", err);
    check_str(r, "a", "back\\slash");
    toml_free(r);
}

int main(void)
{
    test_strings();
    test_numbers();
    test_arrays_and_inline();
    test_tables();
    test_errors();
    test_bounds();
    test_regressions();
    CHECK_EQ_STR(toml_type_name(TOML_BOOL), "a boolean", "toml_type_name");
    return tap_done();
}
