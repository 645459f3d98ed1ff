/* Tests of common/hist.c: which bucket an observation lands in (bounds are inclusive), and the
 * Prometheus text, byte for byte: cumulative le buckets, +Inf, _sum and _count, with and without
 * labels, and the spelling of sample values. */
#include "tests/unit/tap.h"

#include "common/hist.h"

#include <math.h>

static const double bounds[3] = {0.5, 1, 2.5};

#define TEXT_IS(name, b, want) text_is(name, b, want, __FILE__, __LINE__)
static int text_is(const char *name, const struct buf *b, const char *want, const char *file,
                   int line)
{
    int ok = b->len == strlen(want) && memcmp(b->data, want, b->len) == 0;
    if (!tap_check(ok, file, line, "%s", name))
        printf("#   got:\n%.*s#   want:\n%s", (int)b->len, b->data, want);
    return ok;
}

static void check_value(double v, const char *want)
{
    struct buf b;
    buf_init(&b);
    hist_append_value(&b, v);
    buf_append(&b, "", 1);
    CHECK_EQ_STR(b.data, want, "hist_append_value");
    buf_deinit(&b);
}

int main(void)
{
    struct hist h;
    hist_init(&h, bounds, 3);
    CHECK(h.count == 0 && h.sum == 0 && h.buckets[0] == 0 && h.buckets[3] == 0, "init is empty");
    struct buf b;
    buf_init(&b);
    hist_render(&b, "x_seconds", NULL, &h);
    TEXT_IS("an empty histogram", &b,
            "x_seconds_bucket{le=\"0.5\"} 0\n"
            "x_seconds_bucket{le=\"1\"} 0\n"
            "x_seconds_bucket{le=\"2.5\"} 0\n"
            "x_seconds_bucket{le=\"+Inf\"} 0\n"
            "x_seconds_sum 0\n"
            "x_seconds_count 0\n");

    const double obs[] = {0.1, 0.5, 0.75, 1, 2, 3, 100};
    for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
        hist_observe(&h, obs[i]);
    CHECK_EQ_INT(h.buckets[0], 2, "0.1 and 0.5 are in le=0.5 (bounds are inclusive)");
    CHECK_EQ_INT(h.buckets[1], 2, "0.75 and 1 are in le=1");
    CHECK_EQ_INT(h.buckets[2], 1, "2 is in le=2.5");
    CHECK_EQ_INT(h.buckets[3], 2, "3 and 100 are above the last bound");
    CHECK_EQ_INT(h.count, 7, "count");
    CHECK(fabs(h.sum - 107.35) < 1e-9, "sum");

    buf_clear(&b);
    hist_render(&b, "x_seconds", NULL, &h);
    TEXT_IS("cumulative buckets, +Inf is the count", &b,
            "x_seconds_bucket{le=\"0.5\"} 2\n"
            "x_seconds_bucket{le=\"1\"} 4\n"
            "x_seconds_bucket{le=\"2.5\"} 5\n"
            "x_seconds_bucket{le=\"+Inf\"} 7\n"
            "x_seconds_sum 107.35\n"
            "x_seconds_count 7\n");

    buf_clear(&b);
    hist_render(&b, "y", "backend=\"a\",code=\"204\"", &h);
    TEXT_IS("labels go before le and on _sum and _count", &b,
            "y_bucket{backend=\"a\",code=\"204\",le=\"0.5\"} 2\n"
            "y_bucket{backend=\"a\",code=\"204\",le=\"1\"} 4\n"
            "y_bucket{backend=\"a\",code=\"204\",le=\"2.5\"} 5\n"
            "y_bucket{backend=\"a\",code=\"204\",le=\"+Inf\"} 7\n"
            "y_sum{backend=\"a\",code=\"204\"} 107.35\n"
            "y_count{backend=\"a\",code=\"204\"} 7\n");

    buf_clear(&b);
    hist_render(&b, "y", "", &h);
    TEXT_IS("empty labels are no labels", &b,
            "y_bucket{le=\"0.5\"} 2\n"
            "y_bucket{le=\"1\"} 4\n"
            "y_bucket{le=\"2.5\"} 5\n"
            "y_bucket{le=\"+Inf\"} 7\n"
            "y_sum 107.35\n"
            "y_count 7\n");

    /* A copy taken while the owner was between its bucket and its count update. */
    struct hist torn = h;
    torn.count = 3;
    torn.sum = 4;
    buf_clear(&b);
    hist_render(&b, "t", NULL, &torn);
    TEXT_IS("the count is never below the finite buckets", &b,
            "t_bucket{le=\"0.5\"} 2\n"
            "t_bucket{le=\"1\"} 4\n"
            "t_bucket{le=\"2.5\"} 5\n"
            "t_bucket{le=\"+Inf\"} 5\n"
            "t_sum 4\n"
            "t_count 5\n");

    static const double small[2] = {1e-7, 0.0005};
    struct hist s;
    hist_init(&s, small, 2);
    hist_observe(&s, 0.00025);
    buf_clear(&b);
    hist_render(&b, "s", NULL, &s);
    TEXT_IS("bounds print with %g", &b,
            "s_bucket{le=\"1e-07\"} 0\n"
            "s_bucket{le=\"0.0005\"} 1\n"
            "s_bucket{le=\"+Inf\"} 1\n"
            "s_sum 0.00025\n"
            "s_count 1\n");

    check_value(0, "0");
    check_value(-3, "-3");
    check_value(12345678901234.0, "12345678901234");
    check_value(9007199254740992.0, "9.00719925474099e+15");
    check_value(0.1, "0.1");
    check_value(1.0 / 3, "0.333333333333333");
    check_value(NAN, "NaN");
    check_value(INFINITY, "+Inf");
    check_value(-INFINITY, "-Inf");
    buf_deinit(&b);
    return tap_done();
}
