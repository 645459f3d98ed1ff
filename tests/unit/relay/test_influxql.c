/* Table tests for relay/influxql.c: the kind and flags of each statement form influxd 1.6 has,
 * splitting on ';' outside strings, identifiers, regexes and comments, the tokens themselves,
 * the now() rewrite and password redaction. */
#include "relay/influxql.h"

#include "tests/unit/tap.h"

/* A test name on one line: control bytes shown as '?'. */
static const char *shown(const char *s)
{
    static char out[512];
    size_t i = 0;
    for (; s[i] != '\0' && i + 1 < sizeof(out); i++)
        out[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    out[i] = '\0';
    return out;
}

#define R IQL_READ
#define W IQL_WRITE
#define I IQL_SELECT_INTO
#define P IQL_PER_SERVER
#define U IQL_UNKNOWN
#define E IQL_EMPTY

struct ccase {
    const char *q;
    enum iql_kind kind;
    unsigned flags; /* required flags (others may be set unless listed in 'not') */
    unsigned not;
};

static const struct ccase cases[] = {
    /* reads */
    {"SELECT * FROM cpu", R, 0, IQL_F_NOW},
    {"select value from \"my meas\" where time > 0", R, 0, 0},
    {"SELECT mean(v) FROM m WHERE time > now() - 1h GROUP BY time(5m) fill(none)", R, IQL_F_NOW, 0},
    {"SELECT * FROM /cpu.*/", R, 0, 0},
    {"SELECT * FROM a, /b;c/ WHERE host =~ /x;y/", R, 0, 0},
    {"SELECT * FROM (SELECT max(v) FROM m)", R, 0, 0},
    {"SHOW DATABASES", R, 0, 0},
    {"show measurements on db with measurement =~ /c;u/", R, 0, 0},
    {"SHOW MEASUREMENTS", R, 0, 0},
    {"SHOW RETENTION POLICIES ON db", R, 0, 0},
    {"SHOW SERIES FROM cpu", R, 0, 0},
    {"SHOW SERIES CARDINALITY", R, 0, 0},
    {"SHOW MEASUREMENT CARDINALITY", R, 0, 0},
    {"SHOW MEASUREMENT EXACT CARDINALITY ON db", R, 0, 0},
    {"SHOW TAG KEYS FROM cpu", R, 0, 0},
    {"SHOW TAG KEY CARDINALITY", R, 0, 0},
    {"SHOW TAG VALUES WITH KEY = host", R, 0, 0},
    {"SHOW TAG VALUES WITH KEY =~ /h;x/", R, 0, 0},
    {"SHOW FIELD KEYS", R, 0, 0},
    {"SHOW FIELD KEY CARDINALITY", R, 0, 0},
    {"SHOW USERS", R, 0, 0},
    {"SHOW GRANTS FOR bob", R, 0, 0},
    {"SHOW QUERIES", R, 0, 0},
    {"SHOW SHARDS", R, 0, 0},
    {"SHOW SHARD GROUPS", R, 0, 0},
    {"SHOW STATS", R, 0, 0},
    {"SHOW STATS FOR 'httpd'", R, 0, 0},
    {"SHOW DIAGNOSTICS", R, 0, 0},
    {"SHOW SUBSCRIPTIONS", R, 0, 0},
    {"SHOW CONTINUOUS QUERIES", R, 0, 0},
    {"EXPLAIN SELECT * FROM m", R, 0, 0},
    {"EXPLAIN ANALYZE SELECT * FROM m", R, 0, 0},
    {"  -- leading comment\n  SELECT 1 FROM m", R, 0, 0},
    {"/* block */ SHOW DATABASES", R, 0, 0},
    {"SeLeCt * FrOm m", R, 0, 0},
    /* logged */
    {"CREATE DATABASE db", W, 0, 0},
    {"create database \"my db\"", W, 0, 0},
    {"CREATE DATABASE db WITH DURATION 1d REPLICATION 1 SHARD DURATION 1h NAME rp", W, 0, 0},
    {"CREATE DATABASE db WITH DURATION INF", W, 0, 0},
    {"CREATE DATABASE db WITH NAME rp", W, 0, 0},
    {"DROP DATABASE db", W, 0, 0},
    {"CREATE RETENTION POLICY rp ON db DURATION 30d REPLICATION 1", W, 0, 0},
    {"CREATE RETENTION POLICY rp ON db DURATION 1h REPLICATION 1 SHARD DURATION 30m DEFAULT", W, 0, 0},
    {"CREATE RETENTION POLICY rp ON db DURATION 1w2d REPLICATION 2147483647", W, 0, 0},
    {"ALTER RETENTION POLICY rp ON db DURATION 2d", W, 0, 0},
    {"ALTER RETENTION POLICY rp ON db DEFAULT REPLICATION 2 SHARD DURATION 2h", W, 0, 0},
    {"ALTER RETENTION POLICY DEFAULT ON db DURATION INF", W, 0, 0},
    {"DROP RETENTION POLICY rp ON db", W, 0, 0},
    {"DROP MEASUREMENT cpu", W, 0, 0},
    {"DROP SERIES FROM cpu", W, 0, 0},
    {"DROP SERIES FROM cpu, /mem.*/ WHERE host = 'a'", W, 0, 0},
    {"DROP SERIES WHERE host = 'a;b' AND region =~ /us;x/", W, 0, 0},
    {"DELETE FROM cpu", W, 0, 0},
    {"DELETE FROM cpu WHERE time < now() - 1h", W, IQL_F_NOW, 0},
    {"delete where time < '2020-01-01T00:00:00Z'", W, 0, 0},
    {"DELETE FROM cpu WHERE time < NOW()", W, IQL_F_NOW, 0},
    {"DELETE FROM cpu WHERE time < \"now\"()", W, IQL_F_NOW, 0},
    {"DELETE FROM cpu WHERE time > -1h + 5 AND (host = 'a' OR host = 'b')", W, 0, 0},
    {"DELETE FROM cpu WHERE v::field > 1.5 AND x::integer < 3", W, 0, 0},
    {"CREATE CONTINUOUS QUERY cq ON db BEGIN SELECT mean(v) INTO m2 FROM m GROUP BY time(1h) END", W, 0, 0},
    {"CREATE CONTINUOUS QUERY cq ON db RESAMPLE EVERY 1m FOR 1h BEGIN SELECT mean(v) INTO m2 FROM m GROUP BY time(1h) END", W, 0, 0},
    {"CREATE CONTINUOUS QUERY cq ON db BEGIN SELECT max(v) INTO m2 FROM m WHERE time > now() - 1h GROUP BY time(1h) END", W, 0, IQL_F_NOW},
    {"DROP CONTINUOUS QUERY cq ON db", W, 0, 0},
    {"CREATE USER bob WITH PASSWORD 'secret'", W, IQL_F_USER | IQL_F_SECRET, 0},
    {"CREATE USER admin WITH PASSWORD 'x;y' WITH ALL PRIVILEGES", W, IQL_F_USER | IQL_F_SECRET, 0},
    {"SET PASSWORD FOR bob = 'n3w'", W, IQL_F_USER | IQL_F_SECRET, 0},
    {"DROP USER bob", W, IQL_F_USER, IQL_F_SECRET},
    {"GRANT ALL PRIVILEGES TO bob", W, IQL_F_USER, 0},
    {"GRANT ALL TO bob", W, IQL_F_USER, 0},
    {"GRANT READ ON db TO bob", W, IQL_F_USER, 0},
    {"GRANT WRITE ON \"db\" TO \"bob\"", W, IQL_F_USER, 0},
    {"REVOKE ALL PRIVILEGES FROM bob", W, IQL_F_USER, 0},
    {"REVOKE READ ON db FROM bob", W, IQL_F_USER, 0},
    {"SELECT * INTO m2 FROM m", I, 0, 0},
    {"SELECT mean(v) INTO db.rp.:MEASUREMENT FROM /.*/ GROUP BY *", I, 0, 0},
    {"EXPLAIN ANALYZE SELECT * INTO m2 FROM m", I, 0, 0},
    /* per server */
    {"DROP SHARD 12", P, 0, 0},
    {"KILL QUERY 36", P, 0, 0},
    {"KILL QUERY 36 ON host1", P, 0, 0},
    {"CREATE SUBSCRIPTION s ON db.rp DESTINATIONS ALL 'http://u:p@h:9090'", P, IQL_F_SECRET, 0},
    {"DROP SUBSCRIPTION s ON db.rp", P, 0, 0},
    /* unknown: influxd cannot parse these */
    {"FOO", U, 0, 0},
    {"SELEC * FROM m", U, 0, 0},
    {"CREATE", U, 0, 0},
    {"CREATE DATABASE", U, 0, 0},
    {"CREATE DATABASE a b", U, 0, 0},
    {"CREATE DATABASE db WITH", U, 0, 0},
    {"CREATE DATABASE db WITH NAME rp DURATION 1d", U, 0, 0},
    {"CREATE RETENTION POLICY rp ON db DURATION 1x REPLICATION 1", U, 0, 0},
    {"CREATE RETENTION POLICY rp ON db DURATION 1h REPLICATION 0", U, 0, 0},
    {"CREATE RETENTION POLICY rp ON db DURATION 1h REPLICATION 2147483648", U, 0, 0},
    {"CREATE RETENTION POLICY rp ON db DURATION 1h REPLICATION 1 SHARD DURATION INF", U, 0, 0},
    {"CREATE RETENTION POLICY rp ON db DURATION 1n REPLICATION 1", U, 0, 0},
    {"CREATE RETENTION POLICY rp ON db DURATION 9999999999999999999h REPLICATION 1", U, 0, 0},
    {"ALTER RETENTION POLICY rp ON db", U, 0, 0},
    {"ALTER RETENTION POLICY rp ON db DURATION 1h DURATION 2h", U, 0, 0},
    {"DROP RETENTION POLICY rp", U, 0, 0},
    {"DROP SERIES", U, 0, 0},
    {"DELETE", U, 0, 0},
    {"DELETE FROM db.rp.cpu", U, 0, 0},
    {"DELETE FROM cpu WHERE", U, 0, 0},
    {"DELETE FROM cpu WHERE host = ", U, 0, 0},
    {"DELETE FROM cpu WHERE (host = 'a'", U, 0, 0},
    {"DELETE FROM cpu WHERE host =~ 'a'", U, 0, 0},
    {"DELETE FROM cpu WHERE time < now ()", U, 0, 0},
    {"DELETE FROM cpu WHERE time < now( )", W, IQL_F_NOW, 0},
    {"DELETE FROM cpu WHERE time < now(/* c */)", U, 0, 0}, /* influxd reads a regex there */
    {"DELETE FROM /* c */ cpu", U, 0, 0},
    {"DROP MEASUREMENT", U, 0, 0},
    {"DROP MEASUREMENT a b", U, 0, 0},
    {"DROP DATABASE 'db'", U, 0, 0},
    {"CREATE USER bob WITH PASSWORD secret", U, IQL_F_SECRET, 0},
    {"CREATE USER bob WITH PASSWORD 'unterminated", U, IQL_F_SECRET, 0},
    {"SET PASSWORD FOR bob 'x'", U, IQL_F_SECRET, 0},
    {"GRANT READ TO bob", U, 0, 0},
    {"GRANT READ ON db", U, 0, 0},
    {"REVOKE ALL TO bob", U, 0, 0},
    {"DROP SHARD x", U, 0, 0},
    {"DROP SHARD 18446744073709551616", U, 0, 0},
    {"KILL QUERY", U, 0, 0},
    {"CREATE CONTINUOUS QUERY cq ON db BEGIN SELECT mean(v) FROM m GROUP BY time(1h) END", U, 0, 0},
    {"CREATE CONTINUOUS QUERY cq ON db BEGIN SELECT mean(v) INTO m2 FROM m GROUP BY time(1h)", U, 0, 0},
    {"CREATE CONTINUOUS QUERY cq ON db RESAMPLE BEGIN SELECT mean(v) INTO x FROM m END", U, 0, 0},
    {"SELECT 'unterminated FROM m", U, 0, 0},
    {"SELECT * FROM m WHERE a = 'bad \\q escape'", U, 0, 0},
    {"SELECT * FROM /unterminated", U, 0, 0},
    {"SELECT * FROM m /* unterminated", U, 0, 0},
    {"SELECT ! FROM m", U, 0, 0},
    {"SELECT \xc3\xa9 FROM m", U, 0, 0},
    {"SELECT * FROM m WHERE x = 'a\nb'", U, 0, 0},
    {"SELECT * FROM m\x01", U, 0, 0},
    {"SELECT * INTO FROM m", U, 0, 0},
    /* a read is classified by its first keywords: influxd refuses this one (a "regex" in the
     * field position), nothing changes */
    {"SELECT /* c */ v FROM m", R, IQL_F_REGEX_COMMENT, 0},
    /* unicode inside strings and identifiers is fine */
    {"DROP MEASUREMENT \"m\xc3\xa9sure\"", W, 0, 0},
    {"DELETE FROM m WHERE host = '\xe6\x97\xa5\xe6\x9c\xac'", W, 0, 0},
    {"DELETE FROM m WHERE d < 5\xc2\xb5", W, 0, 0},
    {"DELETE FROM m WHERE d < 5us", U, 0, 0},
    {"DELETE FROM m WHERE d < 5u", W, 0, 0},
    /* empty */
    {"", E, 0, 0},
    {"   ", E, 0, 0},
    {"-- only a comment", E, 0, 0},
    {"/* only */", E, 0, 0},
};

static void test_classify(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct ccase *c = &cases[i];
        size_t len = strlen(c->q);
        struct iql_stmt st;
        iql_classify(c->q, len, &st);
        int ok = st.kind == c->kind && (st.flags & c->flags) == c->flags && (st.flags & c->not) == 0;
        CHECK(ok, "classify %s: %s", iql_kind_name(c->kind), shown(c->q));
        if (!ok)
            printf("#   got %s flags %#x\n", iql_kind_name(st.kind), st.flags);
    }
}

static int tiles(const char *q, const struct iql_stmt *st, size_t n)
{
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (st[i].off != pos || st[i].len == 0)
            return 0;
        pos += st[i].len;
    }
    return pos == strlen(q);
}

struct scase {
    const char *q;
    size_t n;
    enum iql_kind kinds[4];
    const char *first_text;
};

static const struct scase splits[] = {
    {"SELECT 1 FROM m; DROP DATABASE x", 2, {R, W}, "SELECT 1 FROM m"},
    {"SELECT * FROM m WHERE a = 'x;y'; SHOW DATABASES", 2, {R, R}, "SELECT * FROM m WHERE a = 'x;y'"},
    {"SELECT * FROM \"a;b\"; SHOW USERS;", 2, {R, R}, "SELECT * FROM \"a;b\""},
    {"SELECT * FROM /a;b/ ; SHOW USERS", 2, {R, R}, "SELECT * FROM /a;b/"},
    {"SELECT a FROM m -- no; split\n; SHOW USERS", 2, {R, R}, "SELECT a FROM m"},
    {"SELECT a FROM m /* ; */ ; DROP USER u", 2, {R, W}, "SELECT a FROM m"},
    {";;SELECT 1 FROM m", 3, {E, E, R}, ""},
    {"DROP DATABASE a;DROP DATABASE b;DROP DATABASE c", 3, {W, W, W}, "DROP DATABASE a"},
    {"SELECT 1 FROM m; ", 2, {R, E}, "SELECT 1 FROM m"},
    {"SELECT a / b FROM m; SHOW USERS", 2, {R, R}, "SELECT a / b FROM m"},
    {"SELECT 'it\\'s;' FROM m; KILL QUERY 1", 2, {R, P}, "SELECT 'it\\'s;' FROM m"},
    {"CREATE USER u WITH PASSWORD 'a;b'; SHOW USERS", 2, {W, R}, "CREATE USER u WITH PASSWORD 'a;b'"},
    {"SELECT * FROM m WHERE t =~ /a\\/;b/; SHOW USERS", 2, {R, R}, "SELECT * FROM m WHERE t =~ /a\\/;b/"},
    {"SELECT 1 FROM m SELECT 2 FROM m", 1, {R}, "SELECT 1 FROM m SELECT 2 FROM m"},
    {"DROP DATABASE a DROP DATABASE b", 1, {U}, "DROP DATABASE a DROP DATABASE b"},
};

static void test_split(void)
{
    for (size_t i = 0; i < sizeof(splits) / sizeof(splits[0]); i++) {
        const struct scase *c = &splits[i];
        struct iql_stmt st[8];
        size_t n = iql_split(c->q, strlen(c->q), st, 8);
        int ok = n == c->n && tiles(c->q, st, n);
        for (size_t k = 0; ok && k < n; k++)
            ok = st[k].kind == c->kinds[k];
        char text[256] = "";
        if (n > 0 && st[0].text_len < sizeof(text)) {
            memcpy(text, c->q + st[0].text_off, st[0].text_len);
            text[st[0].text_len] = '\0';
        }
        CHECK(ok && strcmp(text, c->first_text) == 0, "split %zu: %s", i, shown(c->q));
    }
    struct iql_stmt one;
    CHECK_EQ_INT(iql_split("a;b;c;d", 7, &one, 1), 4, "split counts past max");
    CHECK_EQ_INT(iql_split("", 0, &one, 1), 0, "empty input has no pieces");
}

struct tcase {
    const char *s;
    int regex_ok;
    enum iql_tok tok;
    size_t len;
};

static const struct tcase toks[] = {
    {"abc def", 0, IQL_T_IDENT, 3},
    {"SELECT", 0, IQL_T_KEYWORD, 6},
    {"select", 0, IQL_T_KEYWORD, 6},
    {"\"quo\\\"ted\" x", 0, IQL_T_IDENT, 10},
    {"abc\"def\"ghi", 0, IQL_T_IDENT, 8},
    {"\"unterminated", 0, IQL_T_BADSTRING, 13},
    {"'str' x", 0, IQL_T_STRING, 5},
    {"'a\\'b'", 0, IQL_T_STRING, 6},
    {"'a\\qb'", 0, IQL_T_BADESCAPE, 4},
    {"'a\nb'", 0, IQL_T_BADSTRING, 3},
    {"'a\r\nb'", 0, IQL_T_BADSTRING, 4},
    {"123 ", 0, IQL_T_INTEGER, 3},
    {"1.5", 0, IQL_T_NUMBER, 3},
    {".5x", 0, IQL_T_NUMBER, 2},
    {"1.", 0, IQL_T_NUMBER, 2},
    {"1h30m ", 0, IQL_T_DURATION, 5},
    {"10\xc2\xb5s", 0, IQL_T_DURATION, 5},
    {"1x2y", 0, IQL_T_DURATION, 4},
    {"$p x", 0, IQL_T_BOUNDPARAM, 2},
    {"$\"p q\"", 0, IQL_T_BOUNDPARAM, 6},
    {"-- c\nx", 0, IQL_T_COMMENT, 5},
    {"/* c */x", 0, IQL_T_COMMENT, 7},
    {"/* c */x", 1, IQL_T_COMMENT, 7},
    {"/* c", 0, IQL_T_ILLEGAL, 4},
    {"/a;b/ x", 1, IQL_T_REGEX, 5},
    {"/a;b/ x", 0, IQL_T_OP, 1},
    {"/a\\/b/", 1, IQL_T_REGEX, 6},
    {"/a\\\\/b/", 1, IQL_T_REGEX, 7},
    {"/a\nb/", 1, IQL_T_BADREGEX, 3},
    {"=~", 0, IQL_T_OP, 2},
    {"!~", 0, IQL_T_OP, 2},
    {"<>", 0, IQL_T_OP, 2},
    {"<=", 0, IQL_T_OP, 2},
    {"!x", 0, IQL_T_ILLEGAL, 1},
    {"::", 0, IQL_T_PUNCT, 2},
    {";", 0, IQL_T_SEMICOLON, 1},
    {" \t\r\n x", 0, IQL_T_WS, 5},
    {"\f", 0, IQL_T_ILLEGAL, 1},
    {"\xc3\xa9", 0, IQL_T_ILLEGAL, 2},
    {"\xff", 0, IQL_T_ILLEGAL, 1},
};

static void test_tokens(void)
{
    for (size_t i = 0; i < sizeof(toks) / sizeof(toks[0]); i++) {
        struct iql_token t;
        size_t end = iql_scan(toks[i].s, strlen(toks[i].s), 0, toks[i].regex_ok, &t);
        int ok = t.tok == toks[i].tok && t.len == toks[i].len && end == t.len;
        CHECK(ok, "token %zu: %s", i, shown(toks[i].s));
        if (!ok)
            printf("#   got tok %d len %zu\n", (int)t.tok, t.len);
    }
    struct iql_token t;
    CHECK(iql_scan("x", 1, 1, 0, &t) == 1 && t.tok == IQL_T_EOF, "scan at the end is EOF");

    /* regex_next: after SELECT, FROM, BY, ',', '(', '.', '=', '!=' ('<>' is the same token),
     * '=~' and '!~'; not after anything else. */
    static const struct {
        const char *s;
        int regex_next;
    } after[] = {
        {"select", 1},   {"FROM", 1}, {"BY", 1},      {",", 1},   {"(", 1}, {".", 1},     {"=", 1},
        {"!=", 1},       {"<>", 1},   {"=~", 1},      {"!~", 1},  {")", 0}, {"WHERE", 0}, {"m", 0},
        {"\"from\"", 0}, {"<", 0},    {"/* c */", 0}, {"'s'", 0}, {" ", 0},
    };
    for (size_t i = 0; i < sizeof(after) / sizeof(after[0]); i++) {
        iql_scan(after[i].s, strlen(after[i].s), 0, 0, &t);
        CHECK_EQ_INT(t.regex_next, after[i].regex_next, after[i].s);
    }
    iql_scan("From", 4, 0, 0, &t);
    CHECK(iql_token_is("From", &t, IQL_T_KEYWORD, "FROM") &&
              !iql_token_is("From", &t, IQL_T_IDENT, "FROM") &&
              !iql_token_is("From", &t, IQL_T_KEYWORD, "FRO"),
          "iql_token_is: kind and spelling, any case");

    /* iql_ident_value: unquoted, escapes undone, line protocol's escapes on request. */
    static const struct {
        const char *s;
        int lp;
        int ok;
        const char *value;
    } idents[] = {
        {"cpu", 0, 1, "cpu"},
        {"\"a b,c\"", 0, 1, "a b,c"},
        {"\"a b,c\"", 1, 1, "a\\ b\\,c"},
        {"\"x\\\"y\"", 1, 1, "x\"y"},
        {"\"x\\\\y\"", 0, 1, "x\\y"},
        {"\"x\\ny\"", 0, 0, NULL},
        {"\"\"", 0, 0, NULL},
        {"abc\"def\"", 0, 0, NULL},
        {"FROM", 0, 0, NULL},
        {"'cpu'", 0, 0, NULL},
    };
    for (size_t i = 0; i < sizeof(idents) / sizeof(idents[0]); i++) {
        struct buf v;
        buf_init(&v);
        iql_scan(idents[i].s, strlen(idents[i].s), 0, 0, &t);
        int ok = iql_ident_value(idents[i].s, &t, idents[i].lp, &v);
        CHECK(ok == idents[i].ok &&
                  (!ok || (v.len == strlen(idents[i].value) &&
                           memcmp(v.data, idents[i].value, v.len) == 0)),
              "identifier value of %s (lp %d)", idents[i].s, idents[i].lp);
        buf_deinit(&v);
    }
}

struct rcase {
    const char *in;
    const char *out;
    size_t count;
};

static const struct rcase rewrites[] = {
    {"DELETE FROM m WHERE time < now()", "DELETE FROM m WHERE time < 1700000000123456789", 1},
    {"DELETE FROM m WHERE time < now() - 1h", "DELETE FROM m WHERE time < 1700000000123456789 - 1h", 1},
    {"DELETE FROM m WHERE time<NOW()-1h", "DELETE FROM m WHERE time<1700000000123456789-1h", 1},
    {"DELETE WHERE time > now() - 2d AND time < now()", "DELETE WHERE time > 1700000000123456789 - 2d AND time < 1700000000123456789", 2},
    {"DELETE WHERE time < \"now\"()", "DELETE WHERE time < 1700000000123456789", 1},
    {"DELETE WHERE a = 'now()' AND \"now()\" = 1", "DELETE WHERE a = 'now()' AND \"now()\" = 1", 0},
    {"DELETE WHERE time < now () -- now()", "DELETE WHERE time < now () -- now()", 0},
    {"DELETE WHERE time < now( ) - 1h", "DELETE WHERE time < 1700000000123456789 - 1h", 1},
    {"DELETE WHERE t =~ /now()/", "DELETE WHERE t =~ /now()/", 0},
    {"SELECT * FROM m WHERE time > now()-1h; DELETE WHERE time < now()",
     "SELECT * FROM m WHERE time > 1700000000123456789-1h; DELETE WHERE time < 1700000000123456789", 2},
    {"CREATE CONTINUOUS QUERY c ON d BEGIN SELECT max(v) INTO x FROM m WHERE time > now() GROUP BY time(1h) END",
     "CREATE CONTINUOUS QUERY c ON d BEGIN SELECT max(v) INTO x FROM m WHERE time > now() GROUP BY time(1h) END", 0},
    {"SELECT now()h FROM m", "SELECT 1700000000123456789 h FROM m", 1},
    {"no now here", "no now here", 0},
    {"", "", 0},
};

static void test_rewrite(void)
{
    for (size_t i = 0; i < sizeof(rewrites) / sizeof(rewrites[0]); i++) {
        struct buf b;
        buf_init(&b);
        size_t n = iql_rewrite_now(rewrites[i].in, strlen(rewrites[i].in),
                                   INT64_C(1700000000123456789), &b);
        buf_append(&b, "", 1);
        CHECK(n == rewrites[i].count && strcmp(b.data, rewrites[i].out) == 0, "rewrite %zu: %s",
              i, rewrites[i].in);
        if (strcmp(b.data, rewrites[i].out) != 0)
            printf("#   got \"%s\" (%zu)\n", b.data, n);
        buf_deinit(&b);
    }
}

static const struct rcase redacts[] = {
    {"CREATE USER bob WITH PASSWORD 'hunter2'", "CREATE USER bob WITH PASSWORD " IQL_REDACTED, 1},
    {"create user \"bob\" with password 'a\\'b;c' with all privileges",
     "create user \"bob\" with password " IQL_REDACTED " with all privileges", 1},
    {"SET PASSWORD FOR bob = 'n3w'", "SET PASSWORD FOR bob = " IQL_REDACTED, 1},
    {"SHOW USERS; SET PASSWORD FOR bob = 'x'; SELECT 'keep' FROM m",
     "SHOW USERS; SET PASSWORD FOR bob = " IQL_REDACTED "; SELECT 'keep' FROM m", 1},
    {"CREATE USER bob WITH PASSWORD 'a\\qsecret'; SHOW USERS",
     "CREATE USER bob WITH PASSWORD " IQL_REDACTED, 1},
    {"CREATE USER bob WITH PASSWORD 'unterminated", "CREATE USER bob WITH PASSWORD " IQL_REDACTED, 1},
    {"CREATE SUBSCRIPTION s ON d.r DESTINATIONS ALL 'http://u:pw@h'",
     "CREATE SUBSCRIPTION s ON d.r DESTINATIONS ALL " IQL_REDACTED, 1},
    {"SELECT 'password' FROM m", "SELECT " IQL_REDACTED " FROM m", 1},
    {"DROP USER bob", "DROP USER bob", 0},
    {"SELECT 'x' FROM m", "SELECT 'x' FROM m", 0},
};

static void test_redact(void)
{
    for (size_t i = 0; i < sizeof(redacts) / sizeof(redacts[0]); i++) {
        struct buf b;
        buf_init(&b);
        size_t n = iql_redact(redacts[i].in, strlen(redacts[i].in), &b);
        buf_append(&b, "", 1);
        CHECK(n == redacts[i].count && strcmp(b.data, redacts[i].out) == 0, "redact %zu: %s", i,
              redacts[i].out);
        if (strcmp(b.data, redacts[i].out) != 0)
            printf("#   got \"%s\" (%zu)\n", b.data, n);
        buf_deinit(&b);
    }
}

static void test_nul(void)
{
    static const char q[] = "SELECT 1 FROM m\0; DROP DATABASE x";
    struct iql_stmt st[4];
    size_t n = iql_split(q, sizeof(q) - 1, st, 4);
    CHECK(n == 2 && st[0].kind == U && st[1].kind == U, "a NUL makes every statement unknown");
}

int main(void)
{
    test_tokens();
    test_classify();
    test_split();
    test_rewrite();
    test_redact();
    test_nul();
    return tap_done();
}
