/* replay/generation.c: the write URL of each backend kind (v1, v2, v3), the bucket and
 * database mappings, 3.x's per-line errors and the statements mapped for v2/v3. The 3.x
 * bodies are the shapes of InfluxDB 3 Core's documented write_lp answers (the stand-in,
 * tests/integ/standin_influx3.py, answers the same). */
#include "tests/unit/tap.h"

#include "common/err.h"
#include "common/precision.h"
#include "replay/generation.h"

#include <stdio.h>
#include <string.h>

static void check_url(const struct gen_target *t, const char *db, const char *rp, const char *want,
                      const char *name)
{
    struct buf b;
    buf_init(&b);
    gen_write_url(&b, t, db, rp, LP_NS);
    CHECK_EQ_STR(b.data, want, name);
    buf_deinit(&b);
}

/* Every byte is encoded as curl_easy_escape encodes it: the statement requests used that. */
static void test_escape(void)
{
    int same = 0;
    for (int c = 0; c < 256; c++) {
        char in = (char)c;
        struct buf b;
        buf_init(&b);
        gen_append_escaped(&b, &in, 1);
        buf_append(&b, "", 1);
        char *e = curl_easy_escape(NULL, &in, 1);
        if (e != NULL && strcmp(b.data, e) == 0)
            same++;
        else
            printf("#   byte %d: %s, curl %s\n", c, b.data, e != NULL ? e : "(null)");
        curl_free(e);
        buf_deinit(&b);
    }
    CHECK_EQ_INT(same, 256, "each of the 256 bytes encoded as curl_easy_escape does");
    struct buf b;
    buf_init(&b);
    gen_append_escaped(&b, "a b/\xc3\xa9~-._Z9", 12);
    buf_append(&b, "", 1);
    CHECK_EQ_STR(b.data, "a%20b%2F%C3%A9~-._Z9", "unreserved kept, the rest %XX in upper case");
    buf_deinit(&b);
}

static void test_urls(void)
{
    struct gen_target v1 = {REPLAY_API_V1, "http://h:8086", NULL, NULL, NULL, 0, 0};
    check_url(&v1, "telegraf", "", "http://h:8086/write?db=telegraf&precision=ns", "v1, no rp");
    check_url(&v1, "my db", "week", "http://h:8086/write?db=my%20db&rp=week&precision=ns",
              "v1, rp, escaped");
    struct gen_target v2 = {REPLAY_API_V2, "http://h:8086", "my org", NULL, NULL, 0, 0};
    check_url(&v2, "telegraf", "",
              "http://h:8086/api/v2/write?org=my%20org&bucket=telegraf%2Fautogen&precision=ns",
              "v2: no rp is autogen in the default {db}/{rp}");
    check_url(&v2, "telegraf", "week",
              "http://h:8086/api/v2/write?org=my%20org&bucket=telegraf%2Fweek&precision=ns",
              "v2: db/rp");
    v2.bucket_template = "{db}";
    check_url(&v2, "telegraf", "week",
              "http://h:8086/api/v2/write?org=my%20org&bucket=telegraf&precision=ns",
              "v2: a template without {rp}");
    v2.bucket_template = "b-{rp}-{db}{";
    check_url(&v2, "d", "",
              "http://h:8086/api/v2/write?org=my%20org&bucket=b-autogen-d%7B&precision=ns",
              "v2: other text copied");
    struct gen_target v3 = {REPLAY_API_V3, "http://h:8181", NULL, NULL, NULL, 0, 0};
    check_url(&v3, "telegraf", "week",
              "http://h:8181/api/v3/write_lp?db=telegraf&precision=nanosecond&accept_partial=false",
              "v3: the database alone by default, every rp in it");
    v3.accept_partial = 1;
    v3.no_sync = 1;
    v3.database_template = "{db}_{rp}";
    check_url(&v3, "telegraf", "",
              "http://h:8181/api/v3/write_lp?db=telegraf_autogen&precision=nanosecond"
              "&accept_partial=true&no_sync=true",
              "v3: accept_partial, no_sync, a template");
    struct buf b;
    buf_init(&b);
    gen_write_url(&b, &v3, "x", "", LP_MS);
    CHECK(strstr(b.data, "precision=millisecond") != NULL, "v3 precision names: %s", b.data);
    buf_clear(&b);
    v2.bucket_template = NULL;
    gen_write_url(&b, &v2, "x", "", LP_US);
    CHECK(strstr(b.data, "precision=us") != NULL, "v2 precision names: %s", b.data);
    buf_deinit(&b);
    CHECK_EQ_STR(gen_ping_path(REPLAY_API_V1), "/ping", "v1 liveness");
    CHECK_EQ_STR(gen_ping_path(REPLAY_API_V2), "/health", "v2 liveness");
    CHECK_EQ_STR(gen_ping_path(REPLAY_API_V3), "/health", "v3 liveness");
    enum replay_api a = REPLAY_API_V1;
    CHECK(replay_api_parse("v3", &a) == 0 && a == REPLAY_API_V3, "parse v3");
    CHECK(replay_api_parse("v4", &a) != 0 && a == REPLAY_API_V3, "v4 is refused, unchanged");
    CHECK_EQ_STR(replay_api_name(REPLAY_API_V2), "v2", "name v2");
}

struct v3row {
    const char *name;
    long http;
    const char *body;
    size_t lines;
    enum replay_action action;
    size_t split_after;
};

static void test_v3_errors(void)
{
    static const char partial[] =
        "{\"error\":\"partial write of line protocol occurred\",\"data\":["
        "{\"original_line\":\"m,t=1 t=2i\",\"line_number\":3,\"error_message\":"
        "\"invalid column type for column 't', expected iox::column_type::tag, got "
        "iox::column_type::field::integer\"},"
        "{\"original_line\":\"m,new=1 v=1\",\"line_number\":5,\"error_message\":"
        "\"write to table m with new tag column new; schema is fixed\"}]}";
    static const char first[] =
        "{\"error\":\"parsing failed for write_lp endpoint\",\"data\":{\"original_line\":"
        "\"bad\",\"line_number\":1,\"error_message\":\"No fields were provided\"}}";
    static const struct v3row rows[] = {
        {"204", 204, "", 10, REPLAY_ACK, 0},
        {"partial write: split before the first refused line (3)", 400, partial, 10, REPLAY_SPLIT,
         2},
        {"the first line refused: it alone", 400, first, 10, REPLAY_SPLIT, 1},
        {"one line, refused: dead", 400, first, 1, REPLAY_DEAD, 0},
        {"400 not about a line: the whole batch", 400, "{\"error\":\"invalid database name: a/b\"}",
         10, REPLAY_DEAD, 0},
        {"a line number past the batch: whole", 400, partial, 2, REPLAY_DEAD, 0},
        {"the smallest line number, not the first listed", 400,
         "{\"data\":[{\"line_number\":7},{\"line_number\": 4},{\"line_number\":9}]}", 10,
         REPLAY_SPLIT, 3},
        {"line number 0 is none", 400, "{\"data\":[{\"line_number\":0},{\"line_number\":6}]}", 10,
         REPLAY_SPLIT, 5},
        {"a key without a number is none", 400, "{\"data\":[{\"line_number\":null}]}", 10,
         REPLAY_DEAD, 0},
        {"401", 401, "{\"error\":\"unauthorized access\"}", 10, REPLAY_HOLD, 0},
        {"403", 403, "{\"error\":\"forbidden\"}", 10, REPLAY_HOLD, 0},
        {"413 too large: halve", 413, "", 10, REPLAY_SPLIT, 0},
        {"500", 500, "", 10, REPLAY_RETRY, 0},
        {"503", 503, "", 10, REPLAY_RETRY, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct v3row *t = &rows[i];
        size_t after = 99;
        struct replay_verdict v =
            gen_classify_v3(CURLE_OK, t->http, t->body, strlen(t->body), t->lines, &after);
        if (!CHECK(v.action == t->action && after == t->split_after && !v.db_missing,
                   "v3: %s -> %s after %zu", t->name, replay_action_name(t->action),
                   t->split_after))
            printf("#   got %s after %zu\n", replay_action_name(v.action), after);
    }
    size_t after = 0;
    struct replay_verdict v = gen_classify_v3(CURLE_COULDNT_CONNECT, 0, NULL, 0, 3, &after);
    CHECK(v.action == REPLAY_RETRY && v.down, "v3: connection refused is down, retry");
    /* A body cut short (the sender keeps 4 KiB) before any line number: whole batch. */
    v = gen_classify_v3(CURLE_OK, 400, partial, 60, 10, &after);
    CHECK(v.action == REPLAY_DEAD, "v3: a body cut before line_number refuses the whole batch");
    size_t listed[4];
    size_t nl = gen_v3_partial_lines(partial, strlen(partial), 10, listed, 4);
    CHECK(nl == 2 && listed[0] == 3 && listed[1] == 5, "partial write lists lines 3 and 5");
    nl = gen_v3_partial_lines(first, strlen(first), 10, listed, 4);
    CHECK_EQ_INT(nl, 0, "a rejected (not partial) write: nothing was stored, nothing listed");
    static const char unsorted[] =
        "{\"error\":\"partial write of line protocol occurred\",\"data\":[{\"line_number\":7},"
        "{\"line_number\":2},{\"line_number\":7},{\"line_number\":99},{\"line_number\":4}]}";
    nl = gen_v3_partial_lines(unsorted, strlen(unsorted), 10, listed, 4);
    CHECK(nl == 3 && listed[0] == 2 && listed[1] == 4 && listed[2] == 7,
          "sorted, without repeats, none past the batch");
    nl = gen_v3_partial_lines(unsorted, strlen(unsorted), 10, listed, 1);
    CHECK(nl == 1 && listed[0] == 2, "at most cap, the smallest kept");
    nl = gen_v3_partial_lines(unsorted, strlen(unsorted), 10, listed, 2);
    CHECK(nl == 2 && listed[0] == 2 && listed[1] == 4, "cap 2: the two smallest");
    v = gen_classify_v2(CURLE_OK, 404,
                        "{\"code\":\"not found\",\"message\":\"bucket \\\"x\\\" not found\"}", 52);
    CHECK(v.action == REPLAY_HOLD && !v.db_missing,
          "v2: bucket not found holds, no CREATE DATABASE");
    v = gen_classify_v2(CURLE_OK, 400, "{\"code\":\"invalid\",\"message\":\"unable to parse\"}",
                        45);
    CHECK(v.action == REPLAY_SPLIT, "v2: 400 splits");
    static const char no_org[] =
        "{\"code\":\"invalid\",\"message\":\"failed to decode request body: organization not found\"}";
    v = gen_classify_v2(CURLE_OK, 400, no_org, strlen(no_org));
    CHECK(v.action == REPLAY_HOLD, "v2: 400 organization not found holds, no dead letters");
    v = gen_classify_v2(CURLE_OK, 401,
                        "{\"code\":\"unauthorized\",\"message\":\"unauthorized access\"}", 55);
    CHECK(v.action == REPLAY_HOLD, "v2: 401 holds");
}

static void test_statements(void)
{
    char db[65];
    const char *q = "CREATE DATABASE \"my \\\"db\\\"\"";
    CHECK_EQ_INT(gen_statement_kind(q, strlen(q), db, sizeof(db)), GEN_STMT_CREATE_DATABASE,
                 "CREATE DATABASE quoted");
    CHECK_EQ_STR(db, "my \"db\"", "its name unescaped");
    q = "  drop database telegraf ;  ";
    CHECK_EQ_INT(gen_statement_kind(q, strlen(q), db, sizeof(db)), GEN_STMT_DROP_DATABASE,
                 "drop database, any case, a semicolon");
    CHECK_EQ_STR(db, "telegraf", "bare name");
    static const char *const unsupported[] = {
        "CREATE DATABASE x WITH DURATION 1d",
        "CREATE RETENTION POLICY r ON x DURATION 1d REPLICATION 1",
        "DELETE FROM m WHERE time < now()",
        "DROP MEASUREMENT m",
        "CREATE DATABASE",
        "CREATE DATABASE \"\"",
        "CREATE DATABASE a; DROP DATABASE b",
        "CREATE USER u WITH PASSWORD 'p'",
        "CREATE DATABASE \"abc",
        "DROP DATABASE x;;",
    };
    for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
        CHECK_EQ_INT(gen_statement_kind(unsupported[i], strlen(unsupported[i]), db, sizeof(db)),
                     GEN_STMT_UNSUPPORTED, unsupported[i]);
    char small[4];
    q = "CREATE DATABASE abcdef";
    CHECK_EQ_INT(gen_statement_kind(q, strlen(q), small, sizeof(small)), GEN_STMT_UNSUPPORTED,
                 "a name longer than the buffer");
    q = "CREATE DATABASE \"abcdef\"";
    CHECK_EQ_INT(gen_statement_kind(q, strlen(q), small, sizeof(small)), GEN_STMT_UNSUPPORTED,
                 "a quoted name longer than the buffer");
    q = "DROP DATABASE \"abc\";";
    CHECK_EQ_INT(gen_statement_kind(q, strlen(q), small, sizeof(small)), GEN_STMT_DROP_DATABASE,
                 "a quoted name that just fits, then a semicolon");
    CHECK_EQ_STR(small, "abc", "the quoted name that just fits");
    struct replay_verdict v = gen_classify_v3_statement(CURLE_OK, 409, GEN_STMT_CREATE_DATABASE);
    CHECK_EQ_INT(v.action, REPLAY_ACK, "3.x CREATE of an existing database: applied");
    v = gen_classify_v3_statement(CURLE_OK, 404, GEN_STMT_DROP_DATABASE);
    CHECK_EQ_INT(v.action, REPLAY_ACK, "3.x DROP of a missing database: applied");
    v = gen_classify_v3_statement(CURLE_OK, 404, GEN_STMT_CREATE_DATABASE);
    CHECK_EQ_INT(v.action, REPLAY_DEAD, "3.x 404 to CREATE: refused");
    v = gen_classify_v3_statement(CURLE_OK, 401, GEN_STMT_CREATE_DATABASE);
    CHECK_EQ_INT(v.action, REPLAY_HOLD, "3.x 401: hold");
    v = gen_classify_v2_statement(CURLE_OK, 200, GEN_STMT_DROP_DATABASE, 0);
    CHECK_EQ_INT(v.action, REPLAY_ACK, "2.x DROP: no bucket of that name, nothing to drop");
    v = gen_classify_v2_statement(CURLE_OK, 200, GEN_STMT_CREATE_DATABASE, 0);
    CHECK_EQ_INT(v.action, REPLAY_DEAD, "2.x CREATE: the org lookup found no ID");
    v = gen_classify_v2_statement(CURLE_OK, 404, GEN_STMT_DROP_DATABASE, 0);
    CHECK_EQ_INT(v.action, REPLAY_DEAD, "2.x DROP: no such org is refused");
    v = gen_classify_v2_statement(CURLE_OK, 201, GEN_STMT_CREATE_DATABASE, 1);
    CHECK_EQ_INT(v.action, REPLAY_ACK, "2.x bucket created");
    v = gen_classify_v2_statement(CURLE_OK, 422, GEN_STMT_CREATE_DATABASE, 1);
    CHECK_EQ_INT(v.action, REPLAY_ACK, "2.x bucket exists: applied");
    v = gen_classify_v2_statement(CURLE_OK, 404, GEN_STMT_DROP_DATABASE, 1);
    CHECK_EQ_INT(v.action, REPLAY_ACK, "2.x bucket gone already: applied");
    v = gen_classify_v2_statement(CURLE_OK, 401, GEN_STMT_DROP_DATABASE, 0);
    CHECK_EQ_INT(v.action, REPLAY_HOLD, "2.x 401 on the lookup: hold");
    v = gen_classify_v3_statement(CURLE_OK, 500, GEN_STMT_DROP_DATABASE);
    CHECK(v.action == REPLAY_RETRY && v.down, "3.x 500: retry, down");
    static const struct {
        CURLcode result;
        long http;
        enum gen_stmt kind;
        enum replay_action want;
        int down;
    } v3[] = {
        {CURLE_OK, 204, GEN_STMT_CREATE_DATABASE, REPLAY_ACK, 0},
        {CURLE_OK, 200, GEN_STMT_DROP_DATABASE, REPLAY_ACK, 0},
        {CURLE_OK, 409, GEN_STMT_DROP_DATABASE, REPLAY_DEAD, 0},
        {CURLE_OK, 404, GEN_STMT_DELETE, REPLAY_DEAD, 0},
        {CURLE_OK, 400, GEN_STMT_CREATE_DATABASE, REPLAY_DEAD, 0},
        {CURLE_OK, 403, GEN_STMT_DROP_DATABASE, REPLAY_HOLD, 0},
        {CURLE_OK, 408, GEN_STMT_CREATE_DATABASE, REPLAY_RETRY, 0},
        {CURLE_OK, 429, GEN_STMT_CREATE_DATABASE, REPLAY_RETRY, 0},
        {CURLE_OK, 503, GEN_STMT_CREATE_DATABASE, REPLAY_RETRY, 1},
        {CURLE_OK, 301, GEN_STMT_CREATE_DATABASE, REPLAY_HOLD, 0},
        {CURLE_COULDNT_CONNECT, 0, GEN_STMT_CREATE_DATABASE, REPLAY_RETRY, 1},
        {CURLE_COULDNT_CONNECT, 409, GEN_STMT_CREATE_DATABASE, REPLAY_RETRY, 1},
        {CURLE_URL_MALFORMAT, 0, GEN_STMT_DROP_DATABASE, REPLAY_HOLD, 1},
    };
    for (size_t i = 0; i < sizeof(v3) / sizeof(v3[0]); i++) {
        v = gen_classify_v3_statement(v3[i].result, v3[i].http, v3[i].kind);
        CHECK(v.action == v3[i].want && v.down == v3[i].down && v.db_missing == 0,
              "3.x statement curl %d http %ld kind %d: %s down %d (got %s down %d)",
              (int)v3[i].result, v3[i].http, (int)v3[i].kind, replay_action_name(v3[i].want),
              v3[i].down, replay_action_name(v.action), v.down);
    }
}

/* InfluxQL DELETE to 2.x's /api/v2/delete body: start and stop both inclusive, RFC 3339 in
 * nanoseconds; only what 2.x's predicate can say is mapped. */
static void test_v2_delete(void)
{
    static const struct {
        const char *q, *want;
    } ok[] = {
        {"DELETE FROM cpu WHERE time >= '2024-01-01T00:00:00Z' AND time < '2024-01-02T00:00:00Z'",
         "{\"start\":\"2024-01-01T00:00:00.000000000Z\","
         "\"stop\":\"2024-01-01T23:59:59.999999999Z\","
         "\"predicate\":\"_measurement=\\\"cpu\\\"\"}"},
        {"delete from \"c p\"", "{\"start\":\"1677-09-21T00:12:43.145224194Z\","
                                "\"stop\":\"2262-04-11T23:47:16.854775806Z\","
                                "\"predicate\":\"_measurement=\\\"c p\\\"\"}"},
        {"DELETE FROM m WHERE time > 1000000000 AND time <= 1700000000000000000 - 1h;",
         "{\"start\":\"1970-01-01T00:00:01.000000001Z\","
         "\"stop\":\"2023-11-14T21:13:20.000000000Z\","
         "\"predicate\":\"_measurement=\\\"m\\\"\"}"},
        {"DELETE FROM m WHERE host = 'a\\'b' AND \"time\" < '2000-01-01'",
         "{\"start\":\"1677-09-21T00:12:43.145224194Z\","
         "\"stop\":\"1999-12-31T23:59:59.999999999Z\","
         "\"predicate\":\"_measurement=\\\"m\\\" AND host=\\\"a'b\\\"\"}"},
        {"DELETE FROM m WHERE host = ''",
         "{\"start\":\"1677-09-21T00:12:43.145224194Z\","
         "\"stop\":\"2262-04-11T23:47:16.854775806Z\","
         "\"predicate\":\"_measurement=\\\"m\\\" AND host=\\\"\\\"\"}"},
        {"DELETE WHERE time >= '2024-03-01T12:00:00.5+01:00'",
         "{\"start\":\"2024-03-01T11:00:00.500000000Z\","
         "\"stop\":\"2262-04-11T23:47:16.854775806Z\"}"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct buf out;
        buf_init(&out);
        int rc = gen_v2_delete_body(&out, ok[i].q, strlen(ok[i].q));
        buf_append(&out, "", 1);
        CHECK(rc == 0 && strcmp(out.data, ok[i].want) == 0, "%s -> %s (got %d %s)", ok[i].q,
              ok[i].want, rc, out.data);
        buf_deinit(&out);
    }
    static const char *const refused[] = {
        "DELETE",
        "DELETE FROM a, b",
        "DELETE FROM /c.*/",
        "DELETE FROM m WHERE host != 'a'",
        "DELETE FROM m WHERE host =~ /a/",
        "DELETE FROM m WHERE host = 'a' OR host = 'b'",
        "DELETE FROM m WHERE value = 1",
        "DELETE FROM m WHERE time = 5",
        "DELETE FROM m WHERE time < 5 AND time > 10",
        "DELETE FROM m WHERE time < 'yesterday'",
        "DELETE FROM m WHERE \"a-b\" = 'x'",
        "DELETE FROM m; DROP SERIES FROM m",
        "DROP SERIES FROM m",
        "DELETE FROM \"m",
        "DELETE FROM m WHERE host = 'a",
        "DELETE FROM m;;",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        struct buf out;
        buf_init(&out);
        int rc = gen_v2_delete_body(&out, refused[i], strlen(refused[i]));
        CHECK(rc == IWR_EINVAL && out.len == 0, "not mapped: %s", refused[i]);
        buf_deinit(&out);
    }
    struct replay_verdict v = gen_classify_v2_statement(CURLE_OK, 204, GEN_STMT_DELETE, 0);
    CHECK_EQ_INT(v.action, REPLAY_ACK, "2.x delete 204: applied");
    v = gen_classify_v2_statement(CURLE_OK, 404, GEN_STMT_DELETE, 0);
    CHECK_EQ_INT(v.action, REPLAY_ACK, "2.x delete of a bucket not there: nothing to delete");
    v = gen_classify_v2_statement(CURLE_OK, 400, GEN_STMT_DELETE, 0);
    CHECK_EQ_INT(v.action, REPLAY_DEAD, "2.x delete 400: refused");
    v = gen_classify_v2_statement(CURLE_OK, 401, GEN_STMT_DELETE, 0);
    CHECK_EQ_INT(v.action, REPLAY_HOLD, "2.x delete 401: hold");
}

int main(void)
{
    test_escape();
    test_urls();
    test_v2_delete();
    test_v3_errors();
    test_statements();
    return tap_done();
}
