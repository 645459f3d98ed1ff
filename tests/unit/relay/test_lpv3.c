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

/* The one pass over the body and its fallback to the line-by-line path: each case gives the
 * same result through lpv3_normalize, lpv3_normalize_borrow (after bytes 'out' already held) and
 * lpv3_normalize_by_line, and the one expected here. 'as_received': the borrowing call stores the
 * body itself, which only the one pass does. */
struct fcase {
    const char *name;
    const char *body;
    const char *prec;
    int allow_unsigned;
    const char *want_out;
    size_t points, rejected, stamped;
    int as_received;
    const char *want_first; /* first_json: what accept_partial=false answers with; "" if none */
    size_t described;       /* objects in errors_json: what accept_partial=true answers with */
};

#define NS "1708976567000000002"
#define EOBJ(msg, n, line)                                                                         \
    "{\"error_message\":\"unable to parse '" line "': " msg "\",\"line_number\":" #n               \
    ",\"original_line\":\"" line "\"}"

static const struct fcase fcases[] = {
    {"auto, every timestamp in ns: one pass, stored as received",
     "a v=1 " NS "\nb v=2 5000000000000000\nc v=3 -5000000000000000\n", "auto", 0,
     "a v=1 " NS "\nb v=2 5000000000000000\nc v=3 -5000000000000000\n", 3, 0, 0, 1, "", 0},
    {"auto, seconds", "a v=1 1708976567\n", "auto", 0, "a v=1 1708976567000000000\n", 1, 0, 0, 0,
     "", 0},
    {"auto, milliseconds", "a v=1 1708976567000\n", "auto", 0, "a v=1 1708976567000000000\n", 1, 0,
     0, 0, "", 0},
    {"auto, microseconds, the largest", "a v=1 4999999999999999\n", "auto", 0,
     "a v=1 4999999999999999000\n", 1, 0, 0, 0, "", 0},
    {"auto, negative microseconds", "a v=1 -4999999999999999\n", "auto", 0,
     "a v=1 -4999999999999999000\n", 1, 0, 0, 0, "", 0},
    {"auto, ns then s then ms then us", "a v=1 " NS "\nb v=2 3\nc v=3 6000000000\nd v=4 " NS "\n",
     "auto", 0, "a v=1 " NS "\nb v=2 3000000000\nc v=3 6000000000000000\nd v=4 " NS "\n", 4, 0, 0,
     0, "", 0},
    {"auto, a zero timestamp is seconds", "a v=1 " NS "\nb v=2 0\n", "auto", 0,
     "a v=1 " NS "\nb v=2 0\n", 2, 0, 0, 0, "", 0},
    {"auto, seconds and no timestamp: the receive time whole", "a v=1 3\nb v=2\n", "auto", 0,
     "a v=1 3000000000\nb v=2 1700000000123456789\n", 2, 0, 1, 0, "", 0},
    {"auto, no timestamp first, then seconds", "b v=2\na v=1 3\n", "auto", 0,
     "b v=2 1700000000123456789\na v=1 3000000000\n", 2, 0, 1, 0, "", 0},
    {"auto, seconds up to the largest, then ms", "a v=1 4999999999\nb v=2 -3\nc v=3 5000000000\n",
     "auto", 0, "a v=1 4999999999000000000\nb v=2 -3000000000\nc v=3 5000000000000000\n", 3, 0, 0,
     0, "", 0},
    {"auto, ms first, then s", "a v=1 5000000000\nb v=2 4999999999\n", "auto", 0,
     "a v=1 5000000000000000\nb v=2 4999999999000000000\n", 2, 0, 0, 0, "", 0},
    {"auto, every line ms", "a v=1 1708976567000\nb v=2 -1708976567001\n", "auto", 0,
     "a v=1 1708976567000000000\nb v=2 -1708976567001000000\n", 2, 0, 0, 0, "", 0},
    {"auto, ms after a comment line", "# 3\na v=1 1708976567000\n", "auto", 0,
     "a v=1 1708976567000000000\n", 1, 0, 0, 0, "", 0},
    {"auto, ns out of range, then seconds", "a v=1 9223372036854775807\nb v=2 1\n", "auto", 0,
     "b v=2 1000000000\n", 1, 1, 0, 0,
     "{\"error_message\":\"unable to parse 'a v=1 9223372036854775807': time outside range "
     "-9223372036854775806 - 9223372036854775806\",\"line_number\":1,"
     "\"original_line\":\"a v=1 92233720368547\"}",
     1},
    {"auto, ns and no timestamp: one pass, the receive time whole", "a v=1 " NS "\nb v=2\n", "auto",
     0, "a v=1 " NS "\nb v=2 1700000000123456789\n", 2, 0, 1, 0, "", 0},
    {"auto, no timestamp at all", "a v=1\nb v=2\n", "auto", 0,
     "a v=1 1700000000123456789\nb v=2 1700000000123456789\n", 2, 0, 2, 0, "", 0},
    {"seconds, small timestamps: one pass", "a v=1 2\nb v=2\n", "s", 0,
     "a v=1 2000000000\nb v=2 1700000000000000000\n", 2, 0, 1, 0, "", 0},
    {"a bad line in the middle", "a v=1 1\nb\nc v=3 3\n", "ns", 0, "a v=1 1\nc v=3 3\n", 2, 1, 0, 0,
     EOBJ("missing fields", 2, "b"), 1},
    {"bad lines in the middle, auto, seconds", "a v=1 1\nb\nc v=3 3\nd 4\n", "auto", 0,
     "a v=1 1000000000\nc v=3 3000000000\n", 2, 2, 0, 0, EOBJ("missing fields", 2, "b"), 2},
    {"a bad line first, ns after it", "b\na v=1 " NS "\n", "auto", 0, "a v=1 " NS "\n", 1, 1, 0, 0,
     EOBJ("missing fields", 1, "b"), 1},
    {"a bad line last without a newline", "a v=1 " NS "\nb", "ns", 0, "a v=1 " NS "\n", 1, 1, 0, 0,
     EOBJ("missing fields", 2, "b"), 1},
    {"every line bad", "b\nc\n", "ns", 0, "", 0, 2, 0, 0, EOBJ("missing fields", 1, "b"), 2},
    {"unsigned refused: lp_line_next takes it, the line is still refused",
     "a v=1 " NS "\nb v=1u " NS "\n", "auto", 0, "a v=1 " NS "\n", 1, 1, 0, 0,
     "{\"error_message\":\"unable to parse 'b v=1u " NS "': invalid number\",\"line_number\":2,"
     "\"original_line\":\"b v=1u 1708976567000\"}",
     1},
    {"unsigned allowed: one pass", "b v=1u " NS "\n", "auto", 1, "b v=1u " NS "\n", 1, 0, 0, 1, "",
     0},
    {"CRLF: one pass, rewritten", "a v=1 " NS "\r\nb v=2 " NS "\r\n", "auto", 0,
     "a v=1 " NS "\nb v=2 " NS "\n", 2, 0, 0, 0, "", 0},
    {"CRLF, auto, seconds", "a v=1 1\r\nb v=2 2\r\n", "auto", 0,
     "a v=1 1000000000\nb v=2 2000000000\n", 2, 0, 0, 0, "", 0},
    {"CRLF and a bad line", "a v=1 1\r\nb\r\nc v=3 3\r\n", "ns", 0, "a v=1 1\nc v=3 3\n", 2, 1, 0,
     0, EOBJ("missing fields", 2, "b"), 1},
    {"empty and comment lines: one pass", "\n\na v=1 " NS "\n\n# c\n  \nb v=2 " NS "\n\n", "auto",
     0, "a v=1 " NS "\nb v=2 " NS "\n", 2, 0, 0, 0, "", 0},
    {"empty lines count in the line number", "\n\na v=1 1\n\n# c\nb\n", "auto", 0,
     "a v=1 1000000000\n", 1, 1, 0, 0, EOBJ("missing fields", 6, "b"), 1},
    {"no trailing newline: one pass", "a v=1 " NS "\nb v=2 " NS, "auto", 0,
     "a v=1 " NS "\nb v=2 " NS "\n", 2, 0, 0, 0, "", 0},
    {"no trailing newline, auto, ms", "a v=1 " NS "\nb v=2 1708976567000", "auto", 0,
     "a v=1 " NS "\nb v=2 1708976567000000000\n", 2, 0, 0, 0, "", 0},
    {"only blank lines", "\n \n# c\n", "auto", 0, "", 0, 0, 0, 0, "", 0},
    {"a quoted newline in an ns line: one pass", "a s=\"x\ny\" " NS "\nb v=1 " NS "\n", "auto", 0,
     "a s=\"x\ny\" " NS "\nb v=1 " NS "\n", 2, 0, 0, 1, "", 0},
};

static void test_fallback(void)
{
    static const char held[] = "held v=1 1\n";
    for (size_t i = 0; i < sizeof(fcases) / sizeof(fcases[0]); i++) {
        const struct fcase *k = &fcases[i];
        struct lpv3_precision pr;
        CHECK(lpv3_parse_precision(k->prec, strlen(k->prec), &pr) == 0, "%s: precision", k->name);
        struct lp_options lo = {.allow_unsigned = k->allow_unsigned};
        size_t len = strlen(k->body);
        for (int path = 0; path < 3; path++) {
            static const char *const names[] = {"one pass", "borrowing", "line by line"};
            struct buf out;
            buf_init(&out);
            size_t skip = 0;
            struct lpv3_result res;
            lpv3_result_init(&res);
            if (path == 0) {
                lpv3_normalize(k->body, len, pr, 1700000000123456789, &lo, &out, &res);
            } else if (path == 1) {
                buf_append_str(&out, held);
                skip = out.len;
                lpv3_normalize_borrow(k->body, len, pr, 1700000000123456789, &lo, &out, &res);
                CHECK(res.as_received == k->as_received, "%s, %s: as_received %d", k->name,
                      names[path], k->as_received);
                CHECK(memcmp(out.data, held, skip) == 0, "%s, %s: what out held is kept", k->name,
                      names[path]);
                if (res.as_received) {
                    CHECK(out.len == skip, "%s, %s: nothing appended", k->name, names[path]);
                    buf_append(&out, k->body, len);
                }
            } else {
                lpv3_normalize_by_line(k->body, len, pr, 1700000000123456789, &lo, &out, &res);
            }
            int out_ok = out.len - skip == strlen(k->want_out) &&
                         memcmp(out.data ? out.data + skip : "", k->want_out, out.len - skip) == 0;
            if (!CHECK(out_ok, "%s, %s: stored bytes", k->name, names[path]))
                printf("#   got '%.*s'\n", (int)(out.len - skip), out.data ? out.data + skip : "");
            CHECK(res.points == k->points && res.rejected == k->rejected &&
                      res.stamped == k->stamped,
                  "%s, %s: counts (got %zu/%zu/%zu)", k->name, names[path], res.points,
                  res.rejected, res.stamped);
            int first_ok = res.first_json.len == strlen(k->want_first) &&
                           memcmp(res.first_json.data ? res.first_json.data : "", k->want_first,
                                  res.first_json.len) == 0;
            if (!CHECK(first_ok, "%s, %s: the first error (accept_partial=false)", k->name,
                       names[path]))
                printf("#   got '%.*s'\n", (int)res.first_json.len,
                       res.first_json.data ? res.first_json.data : "");
            size_t objects = 0;
            for (size_t j = 0; j < res.errors_json.len; j++)
                objects += res.errors_json.data[j] == '{';
            int list_ok = objects == k->described &&
                          (k->described == 0 || (res.errors_json.len >= res.first_json.len &&
                                                 memcmp(res.errors_json.data, res.first_json.data,
                                                        res.first_json.len) == 0));
            CHECK(list_ok, "%s, %s: %zu error objects, the first one first (accept_partial=true)",
                  k->name, names[path], k->described);
            buf_deinit(&out);
            lpv3_result_deinit(&res);
        }
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
    test_fallback();
    test_utf8_cut();
    test_many_errors_bounded();
    return tap_done();
}
