/* Table tests for reading stored lines back (lp_line_next and friends in relay/lineproto.c):
 * where a line ends, its measurement, tags, field names as influxd names them (checked against
 * influxd 1.6.7's SHOW MEASUREMENTS and count(*) columns, see tests/integ/test_audit.py) and its
 * timestamp. */
#include "tests/unit/tap.h"

#include "common/buf.h"
#include "common/err.h"
#include "relay/lineproto.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct rcase {
    const char *name;
    const char *body;
    enum lp_precision p;
    /* What the lines read as, one "|"-joined description per line:
     * "measurement|tag1;tag2|field1;field2|ts", or "ERR" for a refused line. */
    const char *want[4];
};

static const struct rcase cases[] = {
    {"plain", "cpu,host=a v=1 5\n", LP_NS, {"cpu|host=a|v|5"}},
    {"two lines, no final newline", "a v=1 1\nb,t=x w=2i,z=3 2", LP_NS, {"a||v|1", "b|t=x|w;z|2"}},
    {"seconds", "a v=1 3\n", LP_S, {"a||v|3000000000"}},
    {"escaped comma and space in the measurement",
     "c\\,p\\ u,t=1 v=1 1\n",
     LP_NS,
     {"c,p u|t=1|v|1"}},
    {"measurement: \\= and \\\" unescaped too", "m\\=x\\\"y v=1 1\n", LP_NS, {"m=x\"y||v|1"}},
    {"tags as sent, escaped comma and space kept",
     "m,a=x\\,y,b\\ c=z v=1 1\n",
     LP_NS,
     {"m|a=x\\,y;b\\ c=z|v|1"}},
    {"field keys unescaped",
     "m a\\\"b=1,c\\=d=2,e\\,f=3,g\\ h=4,i\\\\j=5 1\n",
     LP_NS,
     {"m||a\"b;c=d;e,f;g h;i\\\\j|1"}},
    {"a quoted newline does not end the line",
     "m s=\"x\ny\",v=1 7\nn v=2 8\n",
     LP_NS,
     {"m||s;v|7", "n||v|8"}},
    {"commas and equals inside a quoted value", "m s=\"a,b=c\",v=1 7\n", LP_NS, {"m||s;v|7"}},
    {"escaped quote inside a quoted value", "m s=\"a\\\",b=c\",v=1 7\n", LP_NS, {"m||s;v|7"}},
    {"a field named time is dropped", "m time=1,v=2 9\n", LP_NS, {"m||v|9"}},
    {"the same field twice", "m v=1,v=2 9\n", LP_NS, {"m||v;v|9"}},
    {"unsigned fields read", "m v=1u 9\n", LP_NS, {"m||v|9"}},
    {"a refused line, then a good one", "m v= 1\nm v=1 2\n", LP_NS, {"ERR", "m||v|2"}},
    {"blank and comment lines skipped", "\n# c\nm v=1 2\n\n", LP_NS, {"m||v|2"}},
    {"CRLF", "m v=1 2\r\n", LP_NS, {"m||v|2"}},
    {"negative timestamp", "m v=1 -5\n", LP_NS, {"m||v|-5"}},
    {"timestamp overflows the precision", "m v=1 9223372036854775\n", LP_S, {"ERR"}},
    {"no timestamp", "m v=1\n", LP_NS, {"m||v|-"}},
};

static void describe(struct buf *d, const struct lp_line *ln)
{
    struct buf key;
    buf_init(&key);
    buf_clear(d);
    lp_unescape(d, ln->line, ln->measurement_len);
    buf_append(d, "|", 1);
    const char *tag;
    size_t pos = 0, len;
    for (int k = 0; lp_line_next_tag(ln, &pos, &tag, &len); k++) {
        if (k > 0)
            buf_append(d, ";", 1);
        buf_append(d, tag, len);
    }
    buf_append(d, "|", 1);
    pos = 0;
    for (int k = 0; lp_line_next_field(ln, &pos, &key); k++) {
        if (k > 0)
            buf_append(d, ";", 1);
        buf_append(d, key.data, key.len);
    }
    if (ln->has_ts)
        buf_printf(d, "|%lld", (long long)ln->ts_ns);
    else
        buf_append_str(d, "|-");
    buf_append(d, "", 1);
    buf_deinit(&key);
}

int main(void)
{
    struct buf d;
    buf_init(&d);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct rcase *c = &cases[i];
        size_t pos = 0, n = 0, len = strlen(c->body);
        struct lp_line ln;
        int rc;
        while ((rc = lp_line_next(c->body, len, &pos, c->p, &ln)) != 0 && n < 4) {
            const char *got = "ERR";
            if (rc == 1) {
                describe(&d, &ln);
                got = d.data;
            } else {
                CHECK_EQ_INT(rc, IWR_EPARSE, "a refused line is IWR_EPARSE");
            }
            char name[160];
            snprintf(name, sizeof(name), "%s: line %zu", c->name, n + 1);
            CHECK_EQ_STR(got, c->want[n] ? c->want[n] : "(no more lines)", name);
            n++;
        }
        size_t want_n = 0;
        while (want_n < 4 && c->want[want_n] != NULL)
            want_n++;
        char name[160];
        snprintf(name, sizeof(name), "%s: %zu lines, the body consumed", c->name, want_n);
        CHECK(n == want_n && pos >= len, "%s", name);
    }

    /* The spans point into the body, without the line's newline. */
    const char *body = "  cpu,t=1 v=1 5\nx v=2 6";
    size_t pos = 0;
    struct lp_line ln;
    CHECK_EQ_INT(lp_line_next(body, strlen(body), &pos, LP_NS, &ln), 1, "first line");
    CHECK(ln.line == body + 2 && ln.len == 13 && ln.key_len == 7 && ln.measurement_len == 3 &&
              ln.fields_start == 8 && ln.fields_end == 11,
          "spans of the first line (leading spaces skipped)");
    CHECK_EQ_INT(pos, 16, "pos past its newline");
    CHECK_EQ_INT(lp_line_next(body, strlen(body), &pos, LP_NS, &ln), 1, "second line");
    CHECK_EQ_INT(lp_line_next(body, strlen(body), &pos, LP_NS, &ln), 0, "then the end");
    CHECK_EQ_INT(lp_line_next(body, 0, &(size_t){0}, LP_NS, &ln), 0, "an empty body");

    /* Many fields and unsorted tags take parse_point's scratch arrays (freed per line). */
    struct buf big;
    buf_init(&big);
    buf_append_str(&big, "m");
    for (int t = 80; t > 0; t--)
        buf_printf(&big, ",t%02d=v", t);
    buf_append_str(&big, " ");
    for (int f = 0; f < 40; f++)
        buf_printf(&big, "%sf%02d=%d", f ? "," : "", f, f);
    buf_append_str(&big, " 1\n");
    pos = 0;
    CHECK_EQ_INT(lp_line_next(big.data, big.len, &pos, LP_NS, &ln), 1,
                 "80 unsorted tags, 40 fields");
    size_t tags = 0, fields = 0, tp = 0, fp = 0, tl;
    const char *tag;
    struct buf key;
    buf_init(&key);
    while (lp_line_next_tag(&ln, &tp, &tag, &tl))
        tags++;
    while (lp_line_next_field(&ln, &fp, &key))
        fields++;
    CHECK(tags == 80 && fields == 40, "all 80 tags and 40 fields read back (%zu, %zu)", tags,
          fields);
    buf_deinit(&key);
    buf_deinit(&big);
    buf_deinit(&d);
    return tap_done();
}
