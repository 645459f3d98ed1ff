/* relay/opentsdb.c: telnet lines and /api/put bodies converted as influxd 1.6.7's opentsdb
 * service converts them, its quirks included (millisecond timestamps as sec + ms*1000 ns, a
 * non-numeric 10-character timestamp as 0, bad tags skipped, Go's JSON rules). */
#include "common/err.h"
#include "relay/opentsdb.h"
#include "tests/unit/tap.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct lcase {
    const char *line;
    int rc;
    const char *want; /* the line protocol, or NULL */
};

static void lines(void)
{
    static const struct lcase cs[] = {
        {"put sys.cpu 1500000000 42.5 host=a cpu=0", 0,
         "sys.cpu,cpu=0,host=a value=42.5 1500000000000000000\n"},
        /* 13 digits: influxd's sec + (ms % 1000) * 1000 ns */
        {"put m 1500000000123 1", 0, "m value=1 1500000000000123000\n"},
        {"put m -150000000123 1", 0, "m value=1 -150000000000123000\n"},
        {"  put\tm 1500000000 1e3 \r", 0, "m value=1000 1500000000000000000\n"},
        /* not a number but 10 characters: influxd goes on with 0 */
        {"put m abcdefghij 1", 0, "m value=1 0\n"},
        {"put m 150000000 1", IWR_EPARSE, NULL},
        {"put m 15000000001 1", IWR_EPARSE, NULL},
        {"put m 9999999999 1", IWR_EPARSE, NULL}, /* past MaxNanoTime */
        /* bad tags are skipped, the last of one key wins, empty values left out */
        {"put m 1500000000 1 a=1 =x y= z a=2 b==c", 0,
         "m,a=2,b=\\=c value=1 1500000000000000000\n"},
        {"put m 1500000000", IWR_EPARSE, NULL}, /* no value */
        {"put m 1500000000 x", IWR_EPARSE, NULL},
        {"put m 1500000000 NaN", IWR_EPARSE, NULL},
        {"put m 1500000000 +Inf", IWR_EPARSE, NULL},
        {"PUT m 1500000000 1", IWR_EPARSE, NULL},
        {"get m 1500000000 1", IWR_EPARSE, NULL},
        {"put m,x 1500000000 1 h=a b", 0, "m\\,x,h=a value=1 1500000000000000000\n"},
        {"put m 1500000000 1 time=x", IWR_EPARSE, NULL}, /* influxd's shard drops it */
        {"version", OPENTSDB_VERSION, NULL},
        {"   ", OPENTSDB_EMPTY, NULL},
        {"\x01\xff\xfe garbage", IWR_EPARSE, NULL},
    };
    for (size_t i = 0; i < N(cs); i++) {
        struct buf out;
        buf_init(&out);
        const char *why = NULL;
        int rc = opentsdb_line(cs[i].line, strlen(cs[i].line), &out, &why);
        buf_append(&out, "", 1);
        int good = rc == cs[i].rc &&
                   (cs[i].want == NULL ? out.len == 1 : strcmp(out.data, cs[i].want) == 0);
        if (!CHECK(good, "line \"%s\"", cs[i].line))
            printf("#   rc %d (%s) out \"%s\"\n", rc, why ? why : "", out.data);
        buf_deinit(&out);
    }
}

struct jcase {
    const char *body;
    int rc;
    size_t points, dropped;
    const char *want; /* the line protocol, or influxd's error text */
};

static void bodies(void)
{
    static const struct jcase cs[] = {
        {"{\"metric\":\"m\",\"timestamp\":1500000000,\"value\":2,\"tags\":{\"h\":\"a\"}}", 0, 1, 0,
         "m,h=a value=2 1500000000000000000\n"},
        {"[{\"metric\":\"m\",\"timestamp\":1500000000123,\"value\":1},"
         "{\"metric\":\"n\",\"timestamp\":9999999999,\"value\":-0.5},{\"metric\":\"n\","
         "\"timestamp\":2000000000,\"value\":-0.5}]",
         0, 2, 1, "m value=1 1500000000000123000\nn value=-0.5 2000000000000000000\n"},
        /* member names in any case, unknown members skipped, missing timestamp is 0 */
        {"{\"METRIC\":\"m\",\"Value\":1,\"x\":[1,{\"y\":null}],\"tags\":{\"a\":\"1\",\"b\":null}}",
         0, 1, 0, "m,a=1 value=1 0\n"},
        /* the long s folds to s (Go's EqualFold) */
        {"{\"metric\":\"m\",\"time\xC5\xBFtamp\":1500000000,\"value\":1}", 0, 1, 0,
         "m value=1 1500000000000000000\n"},
        /* two tags members merge; null clears */
        {"{\"metric\":\"m\",\"tags\":{\"a\":\"1\"},\"tags\":{\"b\":\"2\"},\"value\":3}", 0, 1, 0,
         "m,a=1,b=2 value=3 0\n"},
        {"{\"metric\":\"m\",\"tags\":{\"a\":\"1\"},\"tags\":null,\"value\":3}", 0, 1, 0,
         "m value=3 0\n"},
        /* escapes, a surrogate pair, invalid UTF-8 as U+FFFD */
        {"{\"metric\":\"a\\u00e9\\ud83d\\ude00\\u0041\xff\",\"value\":1}", 0, 1, 0,
         "a\xC3\xA9\xF0\x9F\x98\x80"
         "A\xEF\xBF\xBD value=1 0\n"},
        /* a newline in a name: line protocol cannot carry it, dropped */
        {"{\"metric\":\"a\\nb\",\"value\":1}", 0, 0, 1, ""},
        /* dropped points: no metric, a time out of range; the rest kept */
        {"[{\"value\":1},null,{\"metric\":\"m\",\"timestamp\":99999999999999,\"value\":1},"
         "{\"metric\":\"ok\",\"value\":1}]",
         0, 1, 3, "ok value=1 0\n"},
        {"[]", 0, 0, 0, ""},
        /* anything after the first value is not read */
        {"{\"metric\":\"m\",\"value\":1} trailing", 0, 1, 0, "m value=1 0\n"},
        {"", IWR_EPARSE, 0, 0, "peek error: EOF"},
        {" {\"metric\":\"m\"}", IWR_EPARSE, 0, 0, "expected JSON array or hash"},
        {"\x1f\x8b\x08garbage", IWR_EPARSE, 0, 0, "expected JSON array or hash"},
        {"{\"metric\":\"m\",\"timestamp\":1.5e9,\"value\":1}", IWR_EPARSE, 0, 0,
         "json object decode error"},
        {"{\"metric\":\"m\",\"timestamp\":\"1500000000\",\"value\":1}", IWR_EPARSE, 0, 0,
         "json object decode error"},
        {"{\"metric\":1,\"value\":1}", IWR_EPARSE, 0, 0, "json object decode error"},
        {"{\"metric\":\"m\",\"value\":1e999}", IWR_EPARSE, 0, 0, "json object decode error"},
        {"{\"metric\":\"m\",\"tags\":{\"a\":1},\"value\":1}", IWR_EPARSE, 0, 0,
         "json object decode error"},
        {"{\"metric\":\"m\",\"value\":1", IWR_EPARSE, 0, 0, "json object decode error"},
        {"[{\"metric\":\"m\",\"value\":1},2]", IWR_EPARSE, 0, 0, "json array decode error"},
        {"[{\"metric\":\"m\",\"value\":01}]", IWR_EPARSE, 0, 0, "json array decode error"},
    };
    for (size_t i = 0; i < N(cs); i++) {
        struct buf out;
        buf_init(&out);
        const char *why = NULL;
        size_t points = 9, dropped = 9;
        int rc = opentsdb_json(cs[i].body, strlen(cs[i].body), &out, &points, &dropped, &why);
        buf_append(&out, "", 1);
        int good = rc == cs[i].rc &&
                   (rc == 0 ? strcmp(out.data, cs[i].want) == 0 && points == cs[i].points &&
                                  dropped == cs[i].dropped
                            : out.len == 1 && why != NULL && strcmp(why, cs[i].want) == 0);
        if (!CHECK(good, "body %zu \"%.40s\"", i, cs[i].body))
            printf("#   rc %d (%s) points %zu dropped %zu out \"%s\"\n", rc, why ? why : "", points,
                   dropped, out.data);
        buf_deinit(&out);
    }
}

static void http_detect(void)
{
    CHECK(opentsdb_is_http("POST /api/put HTTP/1.1\r", 22), "a request line");
    CHECK(opentsdb_is_http("GET / HTTP/1.0", 14), "GET");
    CHECK(!opentsdb_is_http("put m 1500000000 1", 18), "a put line");
    CHECK(!opentsdb_is_http("put m HTTP/1.1 x", 16), "HTTP/ not last");
    CHECK(!opentsdb_is_http("version", 7), "version");
}

int main(void)
{
    lines();
    bodies();
    http_detect();
    return tap_done();
}
