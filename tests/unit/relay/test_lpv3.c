/* Table tests for relay/lpv3.c: write_lp's precision names, 3.x's auto precision (the limits of
 * Precision::guess_precision in influxdb3_types/src/write.rs, 3.x Core main as of 2026-12), and
 * the per-line verdicts and error objects a partial write answers with. */
#include "tests/unit/tap.h"

#include "common/buf.h"
#include "common/err.h"
#include "relay/lpv3.h"

#include <stdint.h>
#include <string.h>

static void test_parse_precision(void)
{
    static const struct {
        const char *s;
        int ok, is_auto;
        enum lp_precision p;
    } cases[] = {
        {"auto", 1, 1, LP_NS},       {"second", 1, 0, LP_S},   {"s", 1, 0, LP_S},
        {"millisecond", 1, 0, LP_MS}, {"ms", 1, 0, LP_MS},      {"microsecond", 1, 0, LP_US},
        {"us", 1, 0, LP_US},         {"u", 1, 0, LP_US},       {"nanosecond", 1, 0, LP_NS},
        {"ns", 1, 0, LP_NS},         {"n", 1, 0, LP_NS},       {"", 0, 0, LP_NS},
        {"Auto", 0, 0, LP_NS},       {"m", 0, 0, LP_NS},       {"h", 0, 0, LP_NS},
        {"seconds", 0, 0, LP_NS},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lpv3_precision pr = {7, LP_H};
        int rc = lpv3_parse_precision(cases[i].s, strlen(cases[i].s), &pr);
        if (cases[i].ok)
            CHECK(rc == 0 && pr.is_auto == cases[i].is_auto && pr.p == cases[i].p,
                  "precision '%s' is read", cases[i].s);
        else
            CHECK(rc == IWR_EPARSE && pr.is_auto == 7 && pr.p == LP_H,
                  "precision '%s' is refused, output untouched", cases[i].s);
    }
}

static void test_guess(void)
{
    static const struct {
        int64_t ts;
        enum lp_precision want;
    } cases[] = {
        {0, LP_S},
        {1708976567, LP_S},
        {4999999999, LP_S},
        {5000000000, LP_MS},
        {1708976567000, LP_MS},
        {4999999999999, LP_MS},
        {5000000000000, LP_US},
        {1708976567000000, LP_US},
        {4999999999999999, LP_US},
        {5000000000000000, LP_NS},
        {1708976567000000000, LP_NS},
        {-1708976567, LP_S},
        {-1708976567000, LP_MS},
        {-5000000000000000, LP_NS},
        {INT64_MIN, LP_NS},
        {INT64_MAX, LP_NS},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK(lpv3_guess_precision(cases[i].ts) == cases[i].want, "auto reads %lld as %s",
              (long long)cases[i].ts, lp_precision_name(cases[i].want));
}

struct ncase {
    const char *name;
    const char *body;
    const char *prec;
    const char *want_out;
    size_t points, rejected;
    const char *want_errors; /* errors_json, or NULL: not checked */
};

static const struct ncase ncases[] = {
    {"auto: each line's own unit", "a v=1 1708976567\nb v=2 1708976567000\nc v=3 1708976567000001\n"
     "d v=4 1708976567000000002\n", "auto",
     "a v=1 1708976567000000000\nb v=2 1708976567000000000\nc v=3 1708976567000001000\n"
     "d v=4 1708976567000000002\n", 4, 0, ""},
    {"fixed precision: no guessing", "a v=1 1708976567\n", "ns", "a v=1 1708976567\n", 1, 0, ""},
    {"seconds", "a v=1 2\n", "second", "a v=1 2000000000\n", 1, 0, ""},
    {"no timestamp, auto: the receive time whole", "a v=1\n", "auto",
     "a v=1 1700000000123456789\n", 1, 0, ""},
    {"no timestamp, seconds: truncated", "a v=1\n", "s", "a v=1 1700000000000000000\n", 1, 0, ""},
    {"bad line between good ones: numbered, truncated to 20 bytes",
     "a v=1 1\nthis_is_a_long_measurement_name\nb v=2 2\n", "ns", "a v=1 1\nb v=2 2\n", 2, 1,
     "{\"error_message\":\"unable to parse 'this_is_a_long_measurement_name': missing fields\","
     "\"line_number\":2,\"original_line\":\"this_is_a_long_measu\"}"},
    {"blank and comment lines count as lines", "\n# c\n  \nbad\n", "auto", "", 0, 1,
     "{\"error_message\":\"unable to parse 'bad': missing fields\",\"line_number\":4,"
     "\"original_line\":\"bad\"}"},
    {"CRLF: the line without its CR", "a v=1 1\r\nbad\r\n", "ns", "a v=1 1\n", 1, 1,
     "{\"error_message\":\"unable to parse 'bad': missing fields\",\"line_number\":2,"
     "\"original_line\":\"bad\"}"},
    {"a quoted newline does not end a line", "a s=\"x\ny\" 1\nbad\n", "ns", "a s=\"x\ny\" 1\n", 1,
     1,
     "{\"error_message\":\"unable to parse 'bad': missing fields\",\"line_number\":3,"
     "\"original_line\":\"bad\"}"},
    {"two bad lines", "x\ny\n", "ns", "", 0, 2, NULL},
    {"no final newline: the last line ends at the body's end", "bad\na v=1 1", "ns",
     "a v=1 1\n", 1, 1,
     "{\"error_message\":\"unable to parse 'bad': missing fields\",\"line_number\":1,"
     "\"original_line\":\"bad\"}"},
    {"no final newline on a bad last line", "a v=1 1\nbad", "ns", "a v=1 1\n", 1, 1,
     "{\"error_message\":\"unable to parse 'bad': missing fields\",\"line_number\":2,"
     "\"original_line\":\"bad\"}"},
    {"empty body", "", "auto", "", 0, 0, ""},
    {"utf-8 cut at a character boundary", "aaaaaaaaaaaaaaaaaaa\xc3\xa9 bad\n", "ns", "", 0, 1,
     NULL},
};

static void test_normalize(void)
{
    for (size_t i = 0; i < sizeof(ncases) / sizeof(ncases[0]); i++) {
        const struct ncase *k = &ncases[i];
        struct lpv3_precision pr;
        CHECK(lpv3_parse_precision(k->prec, strlen(k->prec), &pr) == 0, "%s: precision", k->name);
        struct buf out;
        buf_init(&out);
        struct lpv3_result res;
        lpv3_result_init(&res);
        lpv3_normalize(k->body, strlen(k->body), pr, 1700000000123456789, NULL, &out, &res);
        int out_ok = out.len == strlen(k->want_out) &&
                     (out.len == 0 || memcmp(out.data, k->want_out, out.len) == 0);
        if (!CHECK(out_ok, "%s: normalised body", k->name))
            printf("#   got '%.*s'\n", (int)out.len, out.data ? out.data : "");
        CHECK_EQ_INT(res.points, k->points, "points");
        CHECK_EQ_INT(res.rejected, k->rejected, "rejected");
        if (k->want_errors != NULL) {
            int e_ok = res.errors_json.len == strlen(k->want_errors) &&
                       (res.errors_json.len == 0 ||
                        memcmp(res.errors_json.data, k->want_errors, res.errors_json.len) == 0);
            if (!CHECK(e_ok, "%s: error objects", k->name))
                printf("#   got '%.*s'\n", (int)res.errors_json.len,
                       res.errors_json.data ? res.errors_json.data : "");
        }
        if (k->rejected > 0)
            CHECK(res.first_json.len > 0 && memchr(res.first_json.data, ',', res.first_json.len) &&
                      res.first_json.data[0] == '{' &&
                      res.first_json.data[res.first_json.len - 1] == '}',
                  "%s: the first error alone", k->name);
        buf_deinit(&out);
        lpv3_result_deinit(&res);
    }
}

static void test_utf8_cut(void)
{
    struct buf b;
    buf_init(&b);
    /* 19 ASCII bytes, then a 2-byte character straddling byte 20: cut before it. */
    const char line[] = "aaaaaaaaaaaaaaaaaaa\xc3\xa9zz";
    lpv3_append_line_error(&b, "m", 1, 1, line, sizeof(line) - 1);
    const char want[] = "{\"error_message\":\"m\",\"line_number\":1,"
                        "\"original_line\":\"aaaaaaaaaaaaaaaaaaa\"}";
    CHECK(b.len == sizeof(want) - 1 && memcmp(b.data, want, b.len) == 0,
          "original_line is cut back to a character boundary");
    buf_deinit(&b);
}

static void test_many_errors_bounded(void)
{
    struct buf body, out;
    buf_init(&body);
    buf_init(&out);
    for (int i = 0; i < LPV3_MAX_DESCRIBED + 50; i++)
        buf_append_str(&body, "bad\n");
    struct lpv3_result res;
    lpv3_result_init(&res);
    struct lpv3_precision pr = {1, LP_NS};
    lpv3_normalize(body.data, body.len, pr, 1, NULL, &out, &res);
    size_t objects = 0;
    for (size_t i = 0; i < res.errors_json.len; i++)
        objects += res.errors_json.data[i] == '{';
    CHECK_EQ_INT(res.rejected, LPV3_MAX_DESCRIBED + 50, "every refused line counted");
    CHECK_EQ_INT(objects, LPV3_MAX_DESCRIBED, "only the first LPV3_MAX_DESCRIBED described");
    lpv3_result_deinit(&res);
    buf_deinit(&body);
    buf_deinit(&out);
}

static void test_db_name(void)
{
    static const struct {
        const char *name;
        int ok;
    } cases[] = {
        {"db", 1},  {"my-db_2", 1}, {"db/rp", 1},  {"9db", 1},   {"", 0},    {"_db", 0},
        {"/rp", 0}, {"db/", 0},     {"a/b/c", 0},  {"d b", 0},   {"d.b", 0}, {"d\xc3\xa9", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK((lpv3_check_db_name(cases[i].name, strlen(cases[i].name)) == NULL) == cases[i].ok,
              "db name '%s' %s", cases[i].name, cases[i].ok ? "taken" : "refused");
    char longname[513];
    memset(longname, 'a', sizeof(longname));
    CHECK(lpv3_check_db_name(longname, 511) == NULL, "511 bytes taken");
    CHECK(lpv3_check_db_name(longname, 512) != NULL, "512 bytes refused");
}

int main(void)
{
    test_db_name();
    test_parse_precision();
    test_guess();
    test_normalize();
    test_utf8_cut();
    test_many_errors_bounded();
    return tap_done();
}
