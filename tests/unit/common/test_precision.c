/* Tests of common/precision.c: the one precision table. Each unit's name, the spelling sent to a
 * 1.x backend and the nanoseconds agree with each other (every name parses back to its unit),
 * and stored bytes outside the enum read as nanoseconds. */
#include "tests/unit/tap.h"

#include "common/err.h"
#include "common/precision.h"

int main(void)
{
    static const struct {
        enum lp_precision p;
        const char *name, *v1;
        int64_t ns;
    } want[] = {
        {LP_NS, "ns", "ns", 1},
        {LP_US, "us", "u", 1000},
        {LP_MS, "ms", "ms", 1000000},
        {LP_S, "s", "s", 1000000000},
        {LP_M, "m", "m", INT64_C(60000000000)},
        {LP_H, "h", "h", INT64_C(3600000000000)},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        enum lp_precision p = want[i].p;
        CHECK_EQ_INT(p, i, "the enum's values are the stored bytes, in order");
        CHECK_EQ_STR(lp_precision_name(p), want[i].name, "lp_precision_name");
        CHECK_EQ_STR(lp_precision_v1_name(p), want[i].v1, "lp_precision_v1_name");
        CHECK(lp_precision_ns(p) == want[i].ns, "lp_precision_ns(%s)", want[i].name);
        enum lp_precision back = LP_H + 1;
        int rc = lp_parse_precision(want[i].name, strlen(want[i].name), 0, &back);
        CHECK(rc == 0 && back == p, "the name %s parses back (1.x)", want[i].name);
        back = LP_H + 1;
        rc = lp_parse_precision(want[i].v1, strlen(want[i].v1), 0, &back);
        CHECK(rc == 0 && back == p, "the 1.x spelling %s parses back", want[i].v1);
    }
    CHECK_EQ_STR(lp_precision_v1_name(6), "ns", "a stored byte past the enum is sent as ns");
    CHECK_EQ_STR(lp_precision_v1_name(255), "ns", "byte 255 is sent as ns");
    CHECK(lp_precision_ns((enum lp_precision)6) == 1, "past the enum: 1 ns");
    CHECK_EQ_STR(lp_precision_name((enum lp_precision)6), "?", "past the enum has no name");
    enum lp_precision p = LP_S;
    CHECK_EQ_INT(lp_parse_precision("us", 2, 1, &p), 0, "v2 takes us");
    CHECK_EQ_INT(p, LP_US, "v2 us is microseconds");
    CHECK_EQ_INT(lp_parse_precision("u", 1, 1, &p), IWR_EPARSE, "v2 refuses u");
    CHECK_EQ_INT(p, LP_US, "a refused spelling leaves *out");
    CHECK_EQ_INT(lp_parse_precision(NULL, 1, 0, &p), IWR_EPARSE, "NULL with a length is refused");
    CHECK_EQ_INT(lp_parse_precision(NULL, 0, 0, &p), 0, "NULL, empty: the default");
    CHECK_EQ_INT(p, LP_NS, "the default is ns");
    return tap_done();
}
