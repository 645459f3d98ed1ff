/* The precision table; see precision.h. Pure: constant tables only, any thread. */
#include "common/precision.h"

#include "common/err.h"

#include <string.h>

static const struct {
    const char *name;
    const char *v1; /* what influxd 1.6.7 reads as this precision */
    int64_t ns;
} units[] = {
    [LP_NS] = {"ns", "ns", 1},
    [LP_US] = {"us", "u", 1000},
    [LP_MS] = {"ms", "ms", 1000000},
    [LP_S] = {"s", "s", 1000000000},
    [LP_M] = {"m", "m", 60 * (int64_t)1000000000},
    [LP_H] = {"h", "h", 3600 * (int64_t)1000000000},
};

#define UNITS (sizeof(units) / sizeof(units[0]))

int lp_parse_precision(const char *s, size_t len, int v2, enum lp_precision *out)
{
    static const struct {
        const char *name;
        enum lp_precision p;
        int v2;
    } tab[] = {
        {"", LP_NS, 1},   {"n", LP_NS, 0}, {"ns", LP_NS, 1}, {"u", LP_US, 0}, {"us", LP_US, 1},
        {"ms", LP_MS, 1}, {"s", LP_S, 1},  {"m", LP_M, 0},   {"h", LP_H, 0},
    };
    if (s == NULL && len != 0)
        return IWR_EPARSE;
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        if (strlen(tab[i].name) == len && (len == 0 || memcmp(tab[i].name, s, len) == 0) &&
            (!v2 || tab[i].v2)) {
            *out = tab[i].p;
            return 0;
        }
    }
    return IWR_EPARSE;
}

int64_t lp_precision_ns(enum lp_precision p)
{
    return (unsigned)p < UNITS ? units[p].ns : 1;
}

const char *lp_precision_name(enum lp_precision p)
{
    return (unsigned)p < UNITS ? units[p].name : "?";
}

const char *lp_precision_v1_name(unsigned p)
{
    return p < UNITS ? units[p].v1 : "ns";
}
